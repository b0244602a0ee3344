"""Design study: can a quick self-check of the first seconds choose the mark's strength per video?

Issue 7 suggests it ("a simulated low-resolution low-bitrate read of a few
frames can set the strength per video"), and the operating curve
(``study_operating_curve.py``) says what it could buy: the clips' margins
after the platform renditions differ twice over, so a strength that keeps
the weakest clip's reads is more than the strongest need, and each 0.3 of
strength is about 2 dB of PSNR-Y. A chooser is only as good as its
prediction, and a prediction that is too hopeful lowers the mark where it
was needed. This study measures the prediction against the truth:

- the truth: ``watermark.embed_file`` at strength 0.5, 0.7, 1.0 and 1.4 (the
  shipped mark, :class:`watermark.mask.VideoMask`), then the 360p and 480p
  platform renditions of ``attacks.py`` (x264 veryfast CRF 30) of the whole
  marked file, read by ``detect_file``;
- the self-check: the first :data:`SECONDS` of the clip's luma marked in
  memory (``watermark.embed_frames``, the same strength and identifier),
  scaled to 360 lines (never up), encoded with x264 veryfast CRF 30 (grey
  chroma), read by ``detect_file``: what an embedder could run before
  choosing, without a second pass over the video.

It reports, per clip and strength, both reads side by side, and in summary
how often they agree, how often the self-check is too hopeful (reads where
the truth does not: a chooser would under-mark), and the strength each
would choose (the lowest whose reads hold a score of :data:`MARGIN`) with
the bits and PSNR-Y that strength costs. Nothing shipped changes.

    python benchmarks/study_self_check.py [--quick]
"""

from __future__ import annotations

import statistics
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import av
import cv2
import numpy as np

from attacks import PLATFORM
from common import Run, load_watermark, log, md_table, parser, stopwatch
from design_study import detector_read, measure, study_clips, tables
from videoio import even, transcode_frames

from watermark import detect_file, embed_file, embed_frames  # noqa: E402
from watermark.video import read_pictures  # noqa: E402

STRENGTHS = (0.5, 0.7, 1.0, 1.4)
ATTACKS = ("platform_360p", "platform_480p")
#: Seconds of the clip's start the self-check marks and reads.
SECONDS = 2.0
#: Lines of the self-check's rendition, encoded as ``attacks.py``'s platform renditions (:data:`attacks.PLATFORM`).
SIMULATED_HEIGHT = 360
#: Score a chooser asks of a read before it settles on a strength (the detector needs about 6.5).
MARGIN = 7.0
QUICK_CLIPS = ("bikes", "meca", "screen")
INTRO = ("Design study (issue 7): a self-check of the first seconds (marked in memory, a simulated 360p platform "
         "rendition) against the real renditions of the whole marked file, at four strengths (see the script's "
         "docstring). Nothing shipped changes.")


def design(strength: float) -> str:
    return f"x{strength:.1f}"


def first_luma(path: Path, seconds: float) -> list[np.ndarray]:
    """The luma planes of the clip's first ``seconds``."""
    planes = []
    for picture in read_pictures(path):
        if picture.time >= seconds and planes:
            break
        planes.append(picture.luma.copy())
    return planes


def self_check(planes: Sequence[np.ndarray], key: Any, identifier: int, strength: float) -> tuple[bool, float]:
    """Mark ``planes`` in memory, render them as the 360p platform would (grey chroma), read them back:
    whether the exact identifier came back, and the score."""
    marked = list(embed_frames(planes, key, identifier, strength=strength))
    height, width = marked[0].shape
    if height > SIMULATED_HEIGHT:
        size = (even(width * SIMULATED_HEIGHT / height), SIMULATED_HEIGHT)
        marked = [cv2.resize(plane, size, interpolation=cv2.INTER_AREA) for plane in marked]
    height, width = (side - side % 2 for side in marked[0].shape)
    grey = np.full((height // 4, width), 128, np.uint8)  # both chroma planes, as yuv420p rows
    frames = (av.VideoFrame.from_ndarray(np.concatenate([plane[:height, :width], grey, grey]), format="yuv420p")
              for plane in marked)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "check.mp4"
        transcode_frames(frames, path, encoder=PLATFORM, rate=Fraction(25))
        found = detect_file(path, key)
    return found.identifier == f"{identifier:016x}", float(found.score)


def chosen(rows: Sequence[dict[str, Any]], holds: Any) -> dict[str, Any] | None:
    """The row of the lowest strength whose reads ``holds`` accepts (None: no strength does)."""
    for row in sorted(rows, key=lambda r: r["strength"]):
        if holds(row):
            return row
    return None


def summary(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], list[list[Any]]]:
    """Agreement of the self-check with the 360p truth, and each clip's strength as truth and self-check choose."""
    agree = sum(r["self_check"]["exact"] == r["reads"]["platform_360p"]["exact"] for r in rows)
    hopeful = [r for r in rows if r["self_check"]["exact"] and not r["reads"]["platform_360p"]["exact"]]
    errors = [r["self_check"]["score"] - r["reads"]["platform_360p"]["score"] for r in rows]

    def truth(row: dict[str, Any]) -> bool:
        return all(read["exact"] and read["score"] >= MARGIN for read in row["reads"].values())

    def check(row: dict[str, Any]) -> bool:
        return row["self_check"]["exact"] and row["self_check"]["score"] >= MARGIN

    table = []
    for clip in dict.fromkeys(r["clip"] for r in rows):
        mine = [r for r in rows if r["clip"] == clip]
        default = next(r for r in mine if r["strength"] == 1.0)
        cells = [clip]
        for rule in (truth, check):
            row = chosen(mine, rule)
            cells += (["none"] * 3 if row is None else
                      [design(row["strength"]), row["bits_marked_over_plain"], row["psnr_y_vs_plain"]])
        picked = chosen(mine, check)
        cells += [default["bits_marked_over_plain"], default["psnr_y_vs_plain"],
                  "-" if picked is None else " ".join(("✓" if read["exact"] else "✗") + f" {read['score']}"
                                                       for read in picked["reads"].values())]
        table.append(cells)
    return {"cells": len(rows), "agree": agree, "too_hopeful": len(hopeful),
            "too_hopeful_cells": [f"{r['clip']} {design(r['strength'])}" for r in hopeful],
            "score_error_median": round(statistics.median(errors), 2),
            "score_error_range": [round(min(errors), 2), round(max(errors), 2)]}, table


def main(argv: Sequence[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    wm = load_watermark()
    key = wm.Key(bytes(range(32)))
    work, clips = study_clips("study_self_check", args.quick, QUICK_CLIPS)
    run = Run("study_self_check", args, {"strengths": STRENGTHS, "attacks": ATTACKS, "seconds": SECONDS,
                                         "simulated": {"height": SIMULATED_HEIGHT, "encoder": PLATFORM.describe()},
                                         "margin": MARGIN}, wm)
    names = [design(s) for s in STRENGTHS]
    first_identifier = 0x5E1F_0000_0000_0000

    rows = measure(clips, names, ATTACKS, lambda src, dst, identifier, name: embed_file(
        src, dst, key, identifier, strength=float(name[1:]), force=True), detector_read(key), work, first_identifier)
    for number, clip in enumerate(clips):  # measure() gives clip n the identifier first_identifier + n
        planes = first_luma(clip.path, SECONDS)
        for row in (r for r in rows if r["clip"] == clip.name):
            row["strength"] = float(row["design"][1:])
            with stopwatch() as t:
                exact, score = self_check(planes, key, first_identifier + number, row["strength"])
            row["self_check"] = {"exact": exact, "score": round(score, 2), "seconds": round(t["s"], 1)}
            log(f"{clip.name} {row['design']}: self-check {'ok' if exact else 'missed'} {score:.2f}, "
                f"360p {row['reads']['platform_360p']}")
    stats, choices = summary(rows)
    side_by_side = md_table(
        ["clip", "strength", "self-check (first 2 s, simulated 360p)", "360p rendition of the file",
         "480p rendition of the file"],
        [[r["clip"], r["design"], ("✓ " if r["self_check"]["exact"] else "✗ ") + str(r["self_check"]["score"]),
          *[("✓ " if r["reads"][a]["exact"] else "✗ ") + str(r["reads"][a]["score"]) for a in ATTACKS]]
         for r in rows])
    md = [
        "## Summary", "",
        f"The self-check agrees with the 360p rendition of the whole file on {stats['agree']} of {stats['cells']} "
        f"(clip, strength) cells; it is **too hopeful on {stats['too_hopeful']}** (reads where the file's rendition "
        f"does not: {', '.join(stats['too_hopeful_cells']) or 'none'}). Its score minus the file's: median "
        f"{stats['score_error_median']:+.2f}, from {stats['score_error_range'][0]:+.2f} to "
        f"{stats['score_error_range'][1]:+.2f}.", "",
        f"Strength chosen (the lowest whose reads all hold a score of {MARGIN}): by the truth (both renditions of "
        "the file) and by the self-check, with the bits (marked/plain, x264 CRF 18) and PSNR-Y against the plain "
        "encode each costs; then the default (x1.0), and the reads of the file at the self-check's choice.", "",
        md_table(["clip", "truth", "bits", "PSNR-Y", "self-check", "bits", "PSNR-Y", "x1.0 bits", "x1.0 PSNR-Y",
                  "file's reads at the self-check's choice"], choices), "",
        "## Side by side", "", side_by_side, "",
        tables(rows, names, ATTACKS, INTRO),
    ]
    run.write({"rows": rows, "summary": stats, "choices": choices}, "\n".join(md))


if __name__ == "__main__":
    main()
