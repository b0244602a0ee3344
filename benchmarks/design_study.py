"""What the design studies share: each clip marked by each design, its cost against the plain encode, the
reads after some attacks, and the two tables that report them.

A study gives its designs' names, how a design marks a file and how it reads one; this module runs them
on the same clips, attacks and plain encode, and writes one row per clip and design: marked/plain
video bitrate at x264 CRF 18 medium, PSNR-Y of the marked encode against the plain one (the mark's own
cost), and the exact identifier with its score for each read.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Sequence

import attacks as attack_catalogue
from clips import made_clips
from common import WORK_DIR, Run, load_clips, load_watermark, log, md_table, parser, stopwatch
from quality import psnr_y
from videoio import video_bitrate

from watermark import detect_file  # noqa: E402
from watermark.embed import marker  # noqa: E402
from watermark.video import EncoderSettings, transcode  # noqa: E402

#: The read of the marked file itself, before any attack.
MARKED_FILE = "none"

#: ``mark(src, dst, identifier, design)`` writes ``dst``; ``read(path, design)`` returns the identifier
#: found (None when not detected) and the score.
Mark = Callable[[Path, Path, int, str], None]
Read = Callable[[Path, str], tuple[str | None, float]]


def detector_read(key: Any) -> Read:
    """The :data:`Read` of a study whose designs the shipped detector reads: ``detect_file`` with ``key``."""
    def read(path: Path, design: str) -> tuple[str | None, float]:
        found = detect_file(path, key)
        return found.identifier, found.score

    return read


def study_clips(name: str, quick: bool, quick_clips: Sequence[str]) -> tuple[Path, list[Any]]:
    """A study's work folder and clips: the five originals and the made pan and screen recording at 720p or
    less, or only ``quick_clips`` with ``quick``."""
    work = WORK_DIR / name
    work.mkdir(parents=True, exist_ok=True)
    clips = load_clips(quick=False, hd=False) + made_clips(quick=True)
    return work, [clip for clip in clips if not quick or clip.name in quick_clips]


def measure(clips: Sequence[Any], designs: Sequence[str], reads: Sequence[str], mark: Mark, read: Read,
            work: Path, first_identifier: int) -> list[dict[str, Any]]:
    """One row per clip and design; ``reads`` are attack names of ``attacks.py`` or :data:`MARKED_FILE`."""
    rows = []
    for number, clip in enumerate(clips):
        identifier = first_identifier + number
        plain = work / f"{clip.name}_plain.mp4"
        transcode(clip.path, plain, lambda picture: None, settings=EncoderSettings(), overwrite=True)
        for design in designs:
            marked = work / f"{clip.name}_marked.mp4"
            marked.unlink(missing_ok=True)
            with stopwatch() as t:
                mark(clip.path, marked, identifier, design)
            row: dict[str, Any] = {"clip": clip.name, "design": design, "mark_seconds": round(t["s"], 1),
                                   "bits_marked_over_plain": round(video_bitrate(marked) / video_bitrate(plain), 3),
                                   "psnr_y_vs_plain": psnr_y(marked, plain), "reads": {}}
            for attack in reads:
                attacked = marked if attack == MARKED_FILE else work / "attacked.mp4"
                if attack != MARKED_FILE:
                    getattr(attack_catalogue, attack)(marked, attacked)
                found, score = read(attacked, design)
                row["reads"][attack] = {"exact": found == f"{identifier:016x}", "score": round(score, 2)}
            rows.append(row)
            log(f"{clip.name} {design}: bits {row['bits_marked_over_plain']}, PSNR-Y {row['psnr_y_vs_plain']}, "
                + ", ".join(f"{a} {'ok' if r['exact'] else 'missed'} {r['score']}" for a, r in row["reads"].items()))
    return rows


def paired_changes(runs: dict[str, list[dict[str, Any]]], reference: str, design: str,
                   reads: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per clip, ``design`` against ``reference`` on each identifier set of ``runs`` (rows by set): the mean
    score change over ``reads`` for each set, and the mean changes of PSNR-Y and bits (a fraction) over the
    sets, with each set's pair of rows."""
    clips = list(dict.fromkeys(row["clip"] for rows in runs.values() for row in rows))
    changes = {}
    for clip in clips:
        pairs = [(next(r for r in rows if r["clip"] == clip and r["design"] == reference),
                  next(r for r in rows if r["clip"] == clip and r["design"] == design)) for rows in runs.values()]
        changes[clip] = {
            "pairs": pairs,
            "score": [statistics.mean(b["reads"][a]["score"] - a_row["reads"][a]["score"] for a in reads)
                      for a_row, b in pairs],
            "psnr": statistics.mean(b["psnr_y_vs_plain"] - a_row["psnr_y_vs_plain"] for a_row, b in pairs),
            "bits": statistics.mean(b["bits_marked_over_plain"] / a_row["bits_marked_over_plain"] - 1
                                    for a_row, b in pairs)}
    return changes


def tables(rows: Sequence[dict[str, Any]], designs: Sequence[str], reads: Sequence[str], intro: str) -> str:
    """The summary per design (bits median and worst, clips within 1.25x, PSNR-Y median and worst, exact
    reads) and the table per clip, under ``intro``."""
    clips = list(dict.fromkeys(row["clip"] for row in rows))
    summary = []
    for design in designs:
        mine = [row for row in rows if row["design"] == design]
        bits = [row["bits_marked_over_plain"] for row in mine]
        worst = max(mine, key=lambda row: row["bits_marked_over_plain"])
        exact = [row["reads"][a]["exact"] for row in mine for a in reads]
        summary.append([design, f"{statistics.median(bits):.3f}", f"{worst['bits_marked_over_plain']:.3f} "
                        f"({worst['clip']})", f"{sum(b <= 1.25 for b in bits)}/{len(bits)}",
                        f"{statistics.median(row['psnr_y_vs_plain'] for row in mine):.2f}",
                        f"{min(row['psnr_y_vs_plain'] for row in mine):.2f}", f"{sum(exact)}/{len(exact)}"])
    names = ["marked file" if a == MARKED_FILE else a for a in reads]
    per_clip = [[clip, design, f"{row['bits_marked_over_plain']:.3f}", f"{row['psnr_y_vs_plain']:.2f}",
                 *[f"{'✓' if row['reads'][a]['exact'] else '✗'} {row['reads'][a]['score']}" for a in reads]]
                for clip in clips for design in designs
                for row in [next(r for r in rows if r["clip"] == clip and r["design"] == design)]]
    return "\n".join([
        intro, "", "## Summary", "",
        md_table(["design", "bits median", "bits worst", "clips ≤ 1.25", "PSNR-Y vs plain (median)",
                  "PSNR-Y vs plain (worst)", f"exact reads ({', '.join(names)})"], summary),
        "", "## Per clip", "",
        "Marked/plain video bitrate (x264 CRF 18 medium), PSNR-Y of the marked encode against the plain one, "
        "and the score (z) read; ✓ exact identifier.", "",
        md_table(["clip", "design", "bits", "PSNR-Y", *names], per_clip)])


def embedder_study(name: str, doc: str, designs: Mapping[str, Callable[[], ContextManager[None]]],
                   reads: Sequence[str], quick_clips: Sequence[str], settings: dict[str, Any], intro: str,
                   first_identifier: int, argv: Sequence[str] | None) -> None:
    """Run a study whose designs change only the embedder: each design is a context manager, made fresh per
    video, under which the shipped marker marks (the public test key, the shipped detector reads)."""
    args = parser(doc.splitlines()[0]).parse_args(argv)
    wm = load_watermark()
    key = wm.Key(bytes(range(32)))
    work, clips = study_clips(name, args.quick, quick_clips)
    run = Run(name, args, {"designs": tuple(designs), "reads": tuple(reads), **settings}, wm)

    def mark(src: Path, dst: Path, identifier: int, design: str) -> None:
        with designs[design]():
            transcode(src, dst, marker(key, identifier), settings=EncoderSettings(), overwrite=True)

    rows = measure(clips, tuple(designs), reads, mark, detector_read(key), work, first_identifier)
    run.write({"rows": rows}, tables(rows, tuple(designs), reads, intro))
