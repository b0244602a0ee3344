"""Design study: a tile that moves by a keyed roll every segment, against the shipped still tile.

Issue 11's removal target fails because the tile is the same in every frame:
noise on its lattice (an estimate from other videos, or any random pattern
with the stated period) stays the same frame after frame, so it adds up in
the detector's fold exactly as the mark does. The candidate studied here
keeps the tile and its search and moves it, every ``--seconds`` of the
video, by a whole-cell cyclic roll chosen by a keyed hash of the key, the
segment's number and the sign layout (so that videos of one key do not share
the sequence and an estimate from them cannot follow it). The detector folds
each segment, rolls it back for each layout's sequence and adds; lattice
noise that does not follow the sequence now adds up only as the square root
of the number of segments, and so does content that stays still (a still
host correlates with a still tile the way a jam does).

What it measures, side by side, with the shipped mark (``still``) and rolls
every 1 and 2 seconds:

- bits: marked/plain video bitrate at x264 CRF 18 (the refresh of the whole
  pattern at each roll is what the study expects to cost);
- robustness: the exact identifier after the platform renditions, CRF 35,
  HEVC CRF 32, +20 brightness and x1.3 contrast;
- removal: the attack of ``security_attacks.py`` (estimates from three other
  marked videos, per segment for the rolled designs, and random lattice
  noise) subtracted at growing strength from two unseen 4-second segments,
  with its cost in PSNR-Y against the marked file.

The study's detector searches as the shipped one does (the same
key-independent scale peaks, both mirror images, every shift and layout,
the same bound) but only for videos that start where the marked one
started: an excerpt would need the segment phase and number searched too
(see docs/security.md). Nothing here changes the shipped mark.

    python benchmarks/study_rolled_tiles.py [--quick]
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from av.video.frame import VideoFrame

import attacks as attack_catalogue
import estimation
from clips import made_clips
from common import WORK_DIR, Run, load_clips, load_watermark, log, md_table, parser, stopwatch
from quality import psnr_y
from security_attacks import ATTACKER, REMOVAL_MARGIN_DB, cut
from videoio import decode, frame_rate, transcode_frames, video_bitrate

detect_module = importlib.import_module("watermark.detect")
embed_module = importlib.import_module("watermark.embed")
from watermark.motion import MotionTracker  # noqa: E402  (after the module handles above, for symmetry)
from watermark.pattern import LAYOUTS, TILE_CELLS, cell_size, layout_of  # noqa: E402
from watermark.video import EncoderSettings, Picture, read_pictures, transcode  # noqa: E402

#: Designs compared: seconds between rolls (None: the shipped still tile).
DESIGNS: dict[str, float | None] = {"still": None, "roll 1 s": 1.0, "roll 2 s": 2.0}
ATTACKS = ("platform_480p", "platform_360p", "h264_crf35", "h265_crf32", "brightness_plus20", "contrast_x1_3")
QUICK_ATTACKS = ("platform_360p", "h264_crf35")
#: Removal: the unseen victims and the attacker's training videos (4-second segments, as security_attacks.py).
UNSEEN = (("bbb", 0.0), ("kivy", 3.6))
TRAINING = (("bikes", 0.0), ("meca", 0.0), ("kivy", 0.0))
STRENGTHS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
SEGMENT_SECONDS, SEGMENT_HEIGHT = 4.0, 720


def roll(key: Any, number: int, segment: int) -> np.ndarray:
    """The whole-cell roll (x, y) of ``segment`` for sign layout ``number`` (none for the first)."""
    if segment == 0:
        return np.zeros(2)
    message = b"roll" + bytes([number]) + segment.to_bytes(4, "big")
    digest = hmac.new(key.secret, message, hashlib.sha256).digest()
    return np.array([digest[0] % TILE_CELLS, digest[1] % TILE_CELLS], float)


def marker(key: Any, identifier: int, seconds: float | None) -> Callable[[Picture], None]:
    """The shipped marker, its pattern moved by the segment's roll on top of the content's motion."""
    tracker, number = MotionTracker(), layout_of(key, identifier)

    def mark(picture: Picture) -> None:
        offset = tracker.update_picture(picture)
        if seconds is not None:
            offset = offset + roll(key, number, int(picture.time // seconds)) * cell_size(*picture.luma.shape)
        picture.luma[...] = embed_module.embed(picture.luma, key, identifier, bit_depth=picture.bit_depth,
                                               offset=(offset[0], offset[1]))

    return mark


def mark_file(src: Path, dst: Path, key: Any, identifier: int, seconds: float | None) -> None:
    transcode(src, dst, marker(key, identifier, seconds), settings=EncoderSettings(), overwrite=True)


@dataclass
class Reading:
    identifier: str | None
    score: float
    seconds: float


def _rolled_search(detector: Any, seconds: float) -> tuple[float, int | None, int]:
    """The shipped keyed search, each segment's fold rolled back by each layout's sequence before adding."""
    templates = detect_module._templates(detector.keys[0])
    scales = detect_module._scales(detector.scale_range)
    rows, columns, _, _ = detect_module._grid(detect_module.TILE)
    tile = detect_module.TILE
    segments = sorted(detector._spans)
    best: tuple[float, int, tuple[int, int], np.ndarray] = (-np.inf, 0, (0, 0), np.zeros(1))
    hypotheses = 0
    for view in [n for n, moved in enumerate(detector._moved) if moved or n == 0]:
        parts = [detector._spans[s].views[view] for s in segments]
        total: dict[Any, np.ndarray] = {}
        for part in parts:
            for wrap, image in part.items():
                total[wrap] = total[wrap] + image if wrap in total else image
        chosen = detect_module._comb_peaks(total, scales, detector.scale_peaks)
        hypotheses += 2 * len(chosen) * tile * tile * LAYOUTS
        for flipped in (False, True):
            for index in chosen:
                spectra = [detect_module._spectrum(part, scales[index], flipped) for part in parts]
                for number in range(LAYOUTS):
                    combined = 0
                    for segment, spectrum in zip(segments, spectra):
                        dx, dy = roll(detector.keys[0], number, int(segment * detector.span_seconds // seconds))
                        dx = -dx if flipped else dx
                        combined = combined + spectrum * np.exp(2j * np.pi * (rows * dy + columns * dx) / TILE_CELLS)
                    response, filtered = detect_module._filtered(combined)
                    numerator = np.fft.irfft2(filtered.astype(np.complex64) * templates.sync[number], s=(tile, tile))
                    power = np.fft.irfft2(np.fft.rfft2(response * response) * templates.sync_power, s=(tile, tile))
                    scores = numerator / np.sqrt(np.maximum(power, 1e-12))
                    peak = int(scores.argmax())
                    if scores.flat[peak] > best[0]:
                        best = (float(scores.flat[peak]), number, divmod(peak, tile), response)
    score, number, shift, response = best
    return score, templates.identifier(response, shift, number), hypotheses


def read(path: Path, key: Any, seconds: float | None) -> Reading:
    """The exact identifier the design's detector reads (None when not detected) and its score."""
    with stopwatch() as t:
        detector = detect_module.Detector(key, span_seconds=seconds or 1.0)
        for picture in read_pictures(path):
            detector.add_picture(picture)
        if seconds is None:
            found = detector.result()
            identifier, score = found.identifier, found.score
        else:
            score, value, hypotheses = _rolled_search(detector, seconds)
            _, detected = detect_module._verdict(score, hypotheses, value is not None, detect_module.MAX_FALSE_ALARM)
            identifier = f"{value:016x}" if detected and value is not None else None
    return Reading(identifier, round(score, 2), round(t["s"], 1))


def bits_and_robustness(clips: Sequence[Any], key: Any, attacks: Sequence[str], work: Path) -> list[dict[str, Any]]:
    rows = []
    for number, clip in enumerate(clips):
        identifier = 0x5EED0000_00000000 + number
        plain = work / f"{clip.name}_plain.mp4"
        transcode(clip.path, plain, lambda picture: None, settings=EncoderSettings(), overwrite=True)
        for design, seconds in DESIGNS.items():
            marked = work / f"{clip.name}_{design.replace(' ', '')}.mp4"
            mark_file(clip.path, marked, key, identifier, seconds)
            row: dict[str, Any] = {"clip": clip.name, "design": design,
                                   "bits_marked_over_plain": round(video_bitrate(marked) / video_bitrate(plain), 3),
                                   "reads": {}}
            for attack in attacks:
                attacked = work / "attacked.mp4"
                getattr(attack_catalogue, attack)(marked, attacked)
                found = read(attacked, key, seconds)
                row["reads"][attack] = {"exact": found.identifier == f"{identifier:016x}", "score": found.score,
                                        "detect_seconds": found.seconds}
            rows.append(row)
            log(f"{clip.name} {design}: bits {row['bits_marked_over_plain']}, "
                + ", ".join(f"{a} {r['exact']} {r['score']}" for a, r in row["reads"].items()))
    return rows


def _subtract(src: Path, dst: Path, tile_at: Callable[[float], np.ndarray], strength: float) -> None:
    rendered: dict[int, np.ndarray] = {}

    def pictures():
        for timed in decode(src):
            yuv = timed.frame.to_ndarray(format="yuv420p").copy()
            height = yuv.shape[0] * 2 // 3
            tile = tile_at(timed.time)
            if id(tile) not in rendered:
                rendered[id(tile)] = estimation.render(tile, height, yuv.shape[1])
            yuv[:height] = estimation.apply(yuv[:height], rendered[id(tile)], -strength)
            yield VideoFrame.from_ndarray(np.ascontiguousarray(yuv), format="yuv420p")

    transcode_frames(pictures(), dst, encoder=ATTACKER, rate=frame_rate(src))


def removal(key: Any, work: Path, strengths: Sequence[float]) -> list[dict[str, Any]]:
    segments = work.parent / "security_attacks_segments"
    segments.mkdir(parents=True, exist_ok=True)
    random_tile = estimation.average([np.random.default_rng(5).standard_normal((estimation.BINS,) * 2)])
    rows = []
    for design, seconds in DESIGNS.items():
        tiles = []
        for number, (name, start) in enumerate(TRAINING):
            marked = work / f"train_{name}@{start:g}_{design.replace(' ', '')}.mp4"
            mark_file(cut(name, start, SEGMENT_SECONDS, SEGMENT_HEIGHT, segments), marked, key, 0x7A1_0000 + number,
                      seconds)
            tiles.append(estimation.fold_segments(marked, seconds))
        estimate = {segment: estimation.average([t[segment] for t in tiles if segment in t])
                    for segment in set().union(*tiles)}
        last = max(estimate)
        jams: dict[str, Callable[[float], np.ndarray]] = {
            "estimate from 3 videos": lambda time: estimate[min(last, 0 if seconds is None else int(time // seconds))],
            "random lattice noise": lambda time: random_tile,
        }
        for number, (name, start) in enumerate(UNSEEN):
            source = cut(name, start, SEGMENT_SECONDS, SEGMENT_HEIGHT, segments)
            identifier = 0x0B5E_0000_0000_0000 + number
            marked = work / f"unseen_{name}@{start:g}_{design.replace(' ', '')}.mp4"
            mark_file(source, marked, key, identifier, seconds)
            marked_psnr = psnr_y(marked, source)
            for jam, tile_at in jams.items():
                for strength in strengths:
                    out = work / "removed.mp4"
                    _subtract(marked, out, tile_at, strength)
                    found = read(out, key, seconds)
                    cost = psnr_y(out, marked)
                    exact = found.identifier == f"{identifier:016x}"
                    rows.append({"design": design, "video": f"{name}@{start:g}", "jam": jam, "strength": strength,
                                 "exact": exact, "score": found.score, "psnr_y_vs_marked": cost,
                                 "limit_db": round(marked_psnr - REMOVAL_MARGIN_DB, 2)})
                    log(f"removal {design} {name}@{start:g} {jam} x{strength}: exact {exact}, z {found.score}, "
                        f"{cost} dB")
                    if not exact:
                        break
    return rows


def _removal_cost(rows: Sequence[dict[str, Any]], design: str, video: str, jam: str) -> str:
    """The cheapest strength that removed the mark, as 'dB below the marked file (strength)'."""
    for row in rows:
        if (row["design"], row["video"], row["jam"]) == (design, video, jam) and not row["exact"]:
            below = row["limit_db"] + REMOVAL_MARGIN_DB - row["psnr_y_vs_marked"]
            return f"{below:.1f} dB (x{row['strength']:g}){' ✓' if below >= REMOVAL_MARGIN_DB else ' ✗'}"
    return "not removed"


def markdown(results: dict[str, Any]) -> str:
    rows, removals, attacks = results["bits_and_robustness"], results["removal"], results["attacks"]
    clips = list(dict.fromkeys(row["clip"] for row in rows))
    lines = [
        "Design study (issue 11): the shipped still tile against the same tile rolled by a keyed whole-cell "
        "shift every 1 or 2 s (layout-keyed sequence; the detector rolls each segment back before adding). "
        "Nothing shipped changes; see the script's docstring and docs/security.md.",
        "",
        "## Summary",
        "",
    ]
    summary = []
    for design in DESIGNS:
        mine = [row for row in rows if row["design"] == design]
        bits = [row["bits_marked_over_plain"] for row in mine]
        reads = [r["exact"] for row in mine for r in row["reads"].values()]
        costs = [f"{n}@{s:g}, {jam.split()[0]}: {_removal_cost(removals, design, f'{n}@{s:g}', jam)}"
                 for n, s in UNSEEN for jam in ("estimate from 3 videos", "random lattice noise")]
        summary.append([design, f"{statistics.median(bits):.3f}", f"{max(bits):.3f}",
                        f"{sum(reads)}/{len(reads)}", "; ".join(costs)])
    lines.append(md_table(["design", "bits median", "bits worst", "exact reads after attacks",
                           "removal: cheapest cost below the marked file (target ≥ 8 dB)"], summary))
    lines += ["", "## Bits and robustness per clip", "",
              "Marked/plain video bitrate (x264 CRF 18 preset medium) and the score (z) after each attack; ✓ exact "
              "identifier.", ""]
    table = []
    for clip in clips:
        for design in DESIGNS:
            row = next(r for r in rows if r["clip"] == clip and r["design"] == design)
            table.append([clip, design, f"{row['bits_marked_over_plain']:.3f}",
                          *[f"{'✓' if row['reads'][a]['exact'] else '✗'} {row['reads'][a]['score']}" for a in attacks]])
    lines.append(md_table(["clip", "design", "bits", *attacks], table))
    lines += ["", "## Removal", "",
              "Subtracted as `strength x mask x estimate` (security_attacks.py's attacker; per segment for the rolled "
              "designs), then x264 CRF 18; stops at the first strength that removes the mark.", ""]
    lines.append(md_table(["design", "video", "jam", "strength", "exact id", "z", "PSNR-Y vs marked", "limit"],
                          [[r["design"], r["video"], r["jam"], r["strength"], "yes" if r["exact"] else "**no**",
                            r["score"], r["psnr_y_vs_marked"], r["limit_db"]] for r in removals]))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    wm = load_watermark()
    key = wm.Key(bytes(range(32)))
    work = WORK_DIR / "study_rolled_tiles"
    work.mkdir(parents=True, exist_ok=True)
    clips = load_clips(quick=args.quick, hd=False) + made_clips(quick=True)
    attacks = QUICK_ATTACKS if args.quick else ATTACKS
    run = Run("study_rolled_tiles", args, {"designs": DESIGNS, "attacks": attacks, "strengths": STRENGTHS}, wm)
    results = {"attacks": attacks,
               "bits_and_robustness": bits_and_robustness(clips, key, attacks, work),
               "removal": removal(key, work, STRENGTHS[:3] if args.quick else STRENGTHS)}
    run.write(results, markdown(results))


if __name__ == "__main__":
    main()
