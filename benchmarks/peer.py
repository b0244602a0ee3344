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

What marking costs, per system and clip ("Cost of marking"): the marked file
against the same frames encoded without a mark through the same system's own
code path and settings (aimark: ``watermark.transcode``, what ``embed_file``
encodes through; the peer: its decode/convert/encode loop without the mark),
so that only the mark is charged, not one system's video plumbing against
another's. The two encodes run one after another in this process (order
alternating per clip, after an untimed pair on the first clip); the table
gives video bitrate marked/plain, wall time marked/plain (CPU time beside)
and PSNR-Y of each against the source, per clip and as medians over clips.

Install (kept out of the main environment, which must keep the headless
OpenCV; the package's declared dependencies pull torch and the GUI OpenCV,
which dwtDct and dwtDctSvd do not use)::

    .venv/bin/pip install --no-deps --target benchmarks/work/peer-site \\
        invisible-watermark==0.2.0 PyWavelets Pillow

    python benchmarks/peer.py [--quick] [--seconds 2] [--peer-frames 12]
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import cv2
import numpy as np

import attacks as attack_catalogue
from clips import excerpt
from common import (EMBED_SETTINGS, WORK_DIR, Clip, Run, bit_accuracy, identifier_for, load_clips,
                    load_watermark, log, md_table, parser, stopwatch)
from quality import psnr_y
from robustness import Aimark, Reading, Record, System, marked_path, render, summary, sweep
from videoio import Encoder, decode, frame_rate, transcode_frames, video_bitrate

PEER_SITE = WORK_DIR / "peer-site"
PEER_METHODS = ("dwtDct", "dwtDctSvd")
#: The peer's own limit (it raises below this many pixels).
PEER_MIN_AREA = 256 * 256
PAYLOAD_BITS = 64
#: Originals kept besides the 1080p versions: the sizes generated video comes
#: in (720p and 1080p). The smaller originals are covered by robustness.py;
#: leaving them out keeps the three-system run near 25 minutes here.
PEER_ORIGINALS = ("bbb",)
#: The peer's marked encode: the settings of aimark's (x264 CRF 18, preset medium).
PEER_ENCODER = Encoder(**EMBED_SETTINGS)
#: Order of the plain and the marked encode, alternating per clip so that load from
#: other users of the machine falls on both sides of the speed ratios.
COST_ORDERS = (("plain", "marked"), ("marked", "plain"))


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
        self._reencode(src, dst, lambda bgr: encoder.encode(bgr, self.method))

    def plain(self, src: Path, dst: Path) -> None:
        """The same decode, colour conversions and encode without the mark: the peer's own baseline."""
        self._reencode(src, dst, lambda bgr: bgr)

    def _reencode(self, src: Path, dst: Path, picture: Callable[[np.ndarray], np.ndarray]) -> None:
        """Every frame as BGR (the peer's format) through ``picture``, encoded with :data:`PEER_ENCODER`."""
        pictures = (cv2.cvtColor(picture(tf.frame.to_ndarray(format="bgr24")), cv2.COLOR_BGR2RGB)
                    for tf in decode(src))
        transcode_frames(pictures, dst, rate=frame_rate(src), encoder=PEER_ENCODER)

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


class Costed(System, Protocol):
    """A system that can also encode a clip without its mark, through its own code path."""

    def plain(self, src: Path, dst: Path) -> None: ...


#: What each system's plain encode is (the markdown says it).
PLAIN_ENCODES = {"aimark": "`watermark.transcode` (no transform)",
                 **{m: "its PyAV loop without the mark" for m in PEER_METHODS}}
#: Per-clip figures whose median over the clips the cost table gives.
COST_MEDIANS = ("bits_ratio", "speed_ratio", "cpu_ratio", "plain_psnr_y", "marked_psnr_y")


def cost(system: Costed, clip: Clip, work: Path, order: Sequence[str]) -> dict[str, Any]:
    """Plain and marked encode of one clip, one after another in ``order``: bitrate, wall and CPU
    seconds, PSNR-Y against the source. The marked file stays where :func:`sweep` reads it."""
    paths = {"marked": marked_path(work, system.name, clip)}
    paths["plain"] = paths["marked"].with_name("plain.mp4")
    paths["marked"].parent.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = {"system": system.name, "clip": clip.name, "order": list(order)}
    for step in order:
        cpu = time.process_time()  # the whole process: x264's and the decoder's threads too
        with stopwatch() as t:
            if step == "plain":
                system.plain(clip.path, paths[step])
            else:
                system.mark(clip.path, paths[step], identifier_for(clip.name))
        row[f"{step}_s"], row[f"{step}_cpu_s"] = t["s"], time.process_time() - cpu
    for step, path in paths.items():
        row[f"{step}_kbps"] = video_bitrate(path) / 1000
        row[f"{step}_psnr_y"] = psnr_y(clip.path, path)
    row["bits_ratio"] = row["marked_kbps"] / row["plain_kbps"]
    row["speed_ratio"] = row["marked_s"] / row["plain_s"]
    row["cpu_ratio"] = row["marked_cpu_s"] / row["plain_cpu_s"]
    row["load"] = os.getloadavg()[0]
    log(f"{system.name} {clip.name}: plain {row['plain_s']:.1f} s, marked {row['marked_s']:.1f} s "
        f"({row['speed_ratio']:.2f}x); bits {row['bits_ratio']:.3f}; PSNR-Y plain {row['plain_psnr_y']:.2f}, "
        f"marked {row['marked_psnr_y']:.2f} dB; load {row['load']:.1f}")
    return row


def warm_up(system: Costed, clip: Clip, work: Path) -> None:
    """An untimed plain and marked encode: the first in the process pays one-off costs (lazy imports,
    first allocations) that no measured clip should carry."""
    folder = work / "warm-up" / system.name
    folder.mkdir(parents=True, exist_ok=True)
    system.plain(clip.path, folder / "plain.mp4")
    system.mark(clip.path, folder / "marked.mp4", identifier_for("warm-up"))


def cost_summary(rows: Sequence[dict[str, Any]], systems: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per system: the median over its clips of each ratio and PSNR-Y, and the ratios' ranges."""
    out = {}
    for s in systems:
        mine = [r for r in rows if r["system"] == s]
        out[s] = {"clips": len(mine), **{k: statistics.median(r[k] for r in mine) for k in COST_MEDIANS},
                  **{f"{k}_range": [min(r[k] for r in mine), max(r[k] for r in mine)]
                     for k in ("bits_ratio", "speed_ratio")}}
    return out


def cost_tables(rows: Sequence[dict[str, Any]], medians: dict[str, dict[str, Any]]) -> str:
    """The cost of marking: medians per system, then every system and clip."""
    def spread(m: dict[str, Any], key: str) -> str:
        low, high = m[f"{key}_range"]
        return f"{m[key]:.3f} ({low:.2f}–{high:.2f})"

    head = md_table(["system", "plain encode", "clips", "bits marked/plain (range)",
                     "wall time marked/plain (range)", "CPU time marked/plain", "PSNR-Y marked",
                     "PSNR-Y plain"],
                    [[s, PLAIN_ENCODES[s], m["clips"], spread(m, "bits_ratio"), spread(m, "speed_ratio"),
                      f"{m['cpu_ratio']:.2f}", f"{m['marked_psnr_y']:.2f}", f"{m['plain_psnr_y']:.2f}"]
                     for s, m in medians.items()])
    per_clip = md_table(["system", "clip", "plain kbit/s", "marked kbit/s", "bits ratio", "plain s", "marked s",
                         "wall ratio (CPU)", "PSNR-Y plain", "PSNR-Y marked"],
                        [[r["system"], r["clip"], f"{r['plain_kbps']:.0f}", f"{r['marked_kbps']:.0f}",
                          f"{r['bits_ratio']:.3f}", f"{r['plain_s']:.1f}", f"{r['marked_s']:.1f}",
                          f"{r['speed_ratio']:.2f} ({r['cpu_ratio']:.2f})", f"{r['plain_psnr_y']:.2f}",
                          f"{r['marked_psnr_y']:.2f}"] for r in rows])
    return head + "\n\n" + per_clip


def cost_notes(medians: dict[str, dict[str, Any]]) -> list[str]:
    """What the PSNR-Y columns do not show by themselves."""
    ours, peer = medians["aimark"]["plain_psnr_y"], medians[PEER_METHODS[0]]["plain_psnr_y"]
    return [f"- The plain encodes differ: aimark's `watermark.transcode` {ours:.2f} dB PSNR-Y, the peer's loop "
            f"{peer:.2f} dB (medians). The peer's loop, through PyAV's 8-bit BGR/RGB conversions, loses "
            f"{ours - peer:.1f} dB before any mark, which its marked/plain columns do not show.",
            "- invisible-watermark 0.2.0's dwtDct and dwtDctSvd change only the U plane of their YUV (they "
            "skip Y, scale 0, and never reach V), so PSNR-Y sees their mark only through rounding; aimark's "
            "mark is in luma. The peer's picture cost is in chroma, which no column here measures."]


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
        "cost_plain": {**PLAIN_ENCODES, "order": "alternating per clip: plain first on even clips"},
        "aimark_key": ours.key.key_id, "clips": [c.describe() for c in clips],
        "attacks": [a.name for a in attacks],
    }, watermark=wm)
    work = WORK_DIR / "peer"
    shutil.rmtree(work, ignore_errors=True)

    records: list[Record] = []
    costs: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    for system in [ours, *peers]:
        usable = clips if system is ours else [c for c in clips if c.width * c.height >= PEER_MIN_AREA]
        with stopwatch() as t:
            warm_up(system, usable[0], work)
            costs += [cost(system, c, work, COST_ORDERS[i % len(COST_ORDERS)]) for i, c in enumerate(usable)]
            records += sweep(system, usable, attacks, work, premarked=True)
        timings[system.name] = t["s"]
        log(f"{system.name}: done in {t['s']:.0f} s")

    systems = [s.name for s in (ours, *peers)]
    small = [c.name for c in clips if c.width * c.height < PEER_MIN_AREA]
    medians = cost_summary(costs, systems)
    md = [
        f"Same clips cut to their first {args.seconds:g} s (x264 CRF 16), same attacks, same "
        f"marked-encode settings (x264 CRF {EMBED_SETTINGS['crf']}, preset {EMBED_SETTINGS['preset']}) "
        f"for every system; clips: {', '.join(c.name for c in clips)}. aimark reads with `detect_file`; the peer decodes up to "
        f"{args.peer_frames} frames spread over each video and votes per bit. Bit accuracy for "
        "aimark counts 0.5 where it reports no identifier."
        + (f" The peer cannot mark pictures under 256x256 pixels of area ({', '.join(small)}: n/a), "
           "so its rates have fewer clips." if small else ""),
        "",
        side_by_side(records, systems, attacks),
        "",
        "## Cost of marking",
        "",
        "Each system's marked file against the same frames encoded without a mark through that system's own "
        f"code path at the same settings (x264 CRF {EMBED_SETTINGS['crf']}, preset {EMBED_SETTINGS['preset']}): "
        "for aimark `watermark.transcode`, which `embed_file` encodes through; for the peer, its loop (PyAV "
        "decode to BGR, RGB to x264) without the mark. So each system is charged for its mark only; the ffmpeg "
        "command line as the plain side would also charge each system's Python video plumbing "
        "(`benchmarks/speed.py` measures aimark's against it).",
        "",
        "- **bits**: video bitrate (video packets only), marked/plain.",
        "- **wall time**: marking / plain encode, one after another in this process (no start-up; the order "
        "alternates per clip, after an untimed plain + mark of the first clip); aimark's includes "
        "`embed_file`'s check for an existing mark. The process's CPU time (all threads) is beside it.",
        "- **PSNR-Y**: mean per-frame luma PSNR against the excerpt both encodes were made from.",
        "",
        "Medians over the clips, ranges in brackets. The machine is shared: times are only compared with "
        "their neighbour, one pair per clip, so one clip's time ratio is noisy (load average per clip in "
        "the JSON).",
        "",
        cost_tables(costs, medians),
        "",
        *cost_notes(medians),
        "",
    ]
    for s in systems:
        md += [f"## {s}", "", render([r for r in records if r.system == s], clips, attacks), ""]
    md.append("Time per system (warm-up, plain encode + mark, attacks, reads): "
              + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ".")
    run.write({"summary": {s: summary([r for r in records if r.system == s], attacks) for s in systems},
               "cost": {"summary": medians, "clips": costs},
               "records": [r.to_dict() for r in records], "seconds": timings}, "\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
