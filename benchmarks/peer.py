"""The peer: invisible-watermark's dwtDct (shipped by Stable Diffusion) and
dwtDctSvd, applied per frame, against the same attacks as aimark.

Image watermarks have no notion of video, so the peer is used as a video
provider would use it: every frame of the clip is marked (BGR, 64-bit payload
= the same identifier aimark carries) and re-encoded with the same settings as
aimark's marked files (x264 CRF 18, preset medium); to read, up to
``--peer-frames`` frames spread evenly over the attacked video are decoded and
the 64 bits are combined by majority vote. Clips: the five 1080p versions and
the 720p original (``--all-clips`` adds the small originals). The peer has no 'no mark' answer:
it always returns 64 bits, so the table reports exact-identifier recovery and
bit accuracy of the voted bits.

The peer is slow (about 0.15 s per 1080p frame to mark with dwtDct, 0.4 s with
dwtDctSvd), so every system here, aimark included, works on the first
``--seconds`` (default 2) of each clip: the same frames for all. The peer
refuses pictures under 256x256 pixels of area (the 176x144 carphone clip):
those cells are n/a.

Install (kept out of the main environment, which must keep the headless
OpenCV; the package's declared dependencies pull torch and the GUI OpenCV,
which dwtDct and dwtDctSvd do not use)::

    .venv/bin/pip install --no-deps --target benchmarks/work/peer-site \\
        invisible-watermark==0.2.0 PyWavelets Pillow

    python benchmarks/peer.py [--quick] [--seconds 2] [--peer-frames 12]
"""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

import attacks as attack_catalogue
from clips import excerpt
from common import (EMBED_SETTINGS, WORK_DIR, Clip, Run, bit_accuracy, load_clips, load_watermark,
                    log, md_table, parser, stopwatch)
from robustness import Aimark, Reading, Record, render, summary, sweep
from videoio import Encoder, decode, frame_rate, transcode_frames

PEER_SITE = WORK_DIR / "peer-site"
PEER_METHODS = ("dwtDct", "dwtDctSvd")
#: The peer's own limit (it raises below this many pixels).
PEER_MIN_AREA = 256 * 256
PAYLOAD_BITS = 64
#: Originals kept besides the 1080p versions: the sizes generated video comes
#: in (720p and 1080p). The smaller originals are covered by robustness.py;
#: leaving them out keeps the three-system run near 25 minutes here.
PEER_ORIGINALS = ("bbb",)


def import_peer() -> Any:
    """``imwatermark``, from the side install in ``benchmarks/work/peer-site``.

    The package imports its rivaGan module (and so torch) at import time even
    though dwtDct/dwtDctSvd never touch it; a placeholder ``torch`` module
    satisfies that import without installing torch. rivaGan is not measured.
    """
    if not (PEER_SITE / "imwatermark").is_dir():
        sys.exit("benchmarks: the peer is not installed. Run:\n"
                 "  .venv/bin/pip install --no-deps --target benchmarks/work/peer-site "
                 "invisible-watermark==0.2.0 PyWavelets Pillow")
    # Appended, not prepended: numpy and OpenCV must stay the main environment's.
    sys.path.append(str(PEER_SITE))
    sys.modules.setdefault("torch", types.ModuleType("torch"))
    import imwatermark

    return imwatermark


def to_bits(identifier: str) -> np.ndarray:
    """16 hex digits -> 64 bits, most significant first."""
    return np.unpackbits(np.frombuffer(bytes.fromhex(identifier), dtype=np.uint8))


def from_bits(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


class ImWatermark:
    """invisible-watermark's per-frame method as a video system."""

    def __init__(self, imwatermark: Any, method: str, peer_frames: int) -> None:
        self.iw = imwatermark
        self.method = method
        self.name = method
        self.peer_frames = peer_frames

    def mark(self, src: Path, dst: Path, identifier: str) -> None:
        encoder = self.iw.WatermarkEncoder()
        encoder.set_watermark("bits", to_bits(identifier).tolist())

        def pictures():
            for tf in decode(src):
                bgr = tf.frame.to_ndarray(format="bgr24")
                yield cv2.cvtColor(encoder.encode(bgr, self.method), cv2.COLOR_BGR2RGB)

        transcode_frames(pictures(), dst, rate=frame_rate(src),
                         encoder=Encoder(codec=EMBED_SETTINGS["codec"], crf=EMBED_SETTINGS["crf"],
                                         preset=EMBED_SETTINGS["preset"]))

    def read(self, path: Path, identifier: str) -> Reading:
        with stopwatch() as t:
            frames = [tf.frame for tf in decode(path)]
            picks = np.unique(np.linspace(0, len(frames) - 1, min(self.peer_frames, len(frames))).round()
                              .astype(int)) if frames else []
            decoder = self.iw.WatermarkDecoder("bits", PAYLOAD_BITS)
            votes, used = np.zeros(PAYLOAD_BITS), 0
            for i in picks:
                bgr = frames[i].to_ndarray(format="bgr24")
                if bgr.shape[0] * bgr.shape[1] < PEER_MIN_AREA:
                    continue
                votes += np.asarray(decoder.decode(bgr, self.method), dtype=float)
                used += 1
        if not used:
            return Reading(False, None, frames=0, seconds=t["s"],
                           extra={"reason": "pictures below the peer's 256x256 minimum"})
        found = from_bits(votes * 2 > used)  # ties vote 0
        return Reading(detected=False, identifier=found, bit_accuracy=bit_accuracy(found, identifier),
                       frames=used, seconds=t["s"])


def side_by_side(records: Sequence[Record], systems: Sequence[str],
                 attacks: Sequence[attack_catalogue.Attack]) -> str:
    """One row per attack: exact-ID rate and mean bit accuracy per system."""
    per = {s: {row["attack"]: row for row in summary([r for r in records if r.system == s], attacks)}
           for s in systems}
    names = list(per[systems[0]])
    groups = {a.name: a.group for a in attacks}
    rows = []
    for name in names:
        row: list[Any] = [name, groups.get(name, "")]
        for s in systems:
            x = per[s].get(name)
            row += ["n/a", "n/a"] if x is None else [f"{x['exact']}/{x['clips']}",
                                                     f"{x['mean_bit_accuracy']:.3f}"]
        rows.append(row)
    headers = ["attack", "group"]
    for s in systems:
        headers += [f"{s} exact ID", f"{s} bit acc."]
    return md_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--attacks", help="comma-separated attack names (default: all)")
    p.add_argument("--seconds", type=float, default=2.0, help="frames used: the first N seconds")
    p.add_argument("--all-clips", action="store_true",
                   help="also the originals below 720p (about 40 %% more time)")
    p.add_argument("--peer-frames", type=int, default=12, help="frames the peer decodes per video")
    args = p.parse_args(argv)
    iw = import_peer()
    wm = load_watermark()
    clips = [excerpt(c, args.seconds) for c in load_clips(quick=args.quick)
             if c.is_hd or c.name in PEER_ORIGINALS or args.all_clips]
    attacks = attack_catalogue.select(args.attacks, quick=args.quick)
    ours = Aimark(wm)
    peers = [ImWatermark(iw, m, args.peer_frames) for m in PEER_METHODS]
    run = Run("peer", args, {
        "seconds_per_clip": args.seconds, "peer_frames_decoded": args.peer_frames,
        "payload_bits": PAYLOAD_BITS, "marked_encode": EMBED_SETTINGS,
        "peer": "invisible-watermark 0.2.0, default scales, bits payload, BGR frames",
        "vote": "per-bit majority over the decoded frames, ties -> 0",
        "aimark_key": ours.key.key_id, "clips": [c.describe() for c in clips],
        "attacks": [a.name for a in attacks],
    }, watermark=wm)
    work = WORK_DIR / "peer"
    shutil.rmtree(work, ignore_errors=True)

    records: list[Record] = []
    timings: dict[str, float] = {}
    for system in [ours, *peers]:
        usable = clips if system is ours else [c for c in clips if c.width * c.height >= PEER_MIN_AREA]
        with stopwatch() as t:
            records += sweep(system, usable, attacks, work)
        timings[system.name] = t["s"]
        log(f"{system.name}: done in {t['s']:.0f} s")

    systems = [s.name for s in (ours, *peers)]
    md = [
        f"Same clips cut to their first {args.seconds:g} s (x264 CRF 16), same attacks, same "
        f"marked-encode settings (x264 CRF {EMBED_SETTINGS['crf']}, preset {EMBED_SETTINGS['preset']}) "
        f"for every system; clips: {', '.join(c.name for c in clips)}. aimark reads with `detect_file`; the peer decodes up to "
        f"{args.peer_frames} frames spread over each video and votes per bit. Bit accuracy for "
        "aimark counts 0.5 where it reports no identifier. The peer cannot mark the 176x144 "
        "carphone clip (n/a), so its rates have one clip fewer.",
        "",
        side_by_side(records, systems, attacks),
        "",
    ]
    for s in systems:
        md += [f"## {s}", "", render([r for r in records if r.system == s], clips, attacks), ""]
    md.append("Time per system (mark + attacks + reads): "
              + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ".")
    run.write({"summary": {s: summary([r for r in records if r.system == s], attacks) for s in systems},
               "records": [r.to_dict() for r in records], "seconds": timings}, "\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
