"""Design study: the pattern's band without its lowest frequencies, in the embedder and the detector.

The pattern fills every frequency of the tile up to 15 cycles a tile in
both directions (``watermark.pattern.BAND``), the lowest included. The
detector whitens each picture (a high-pass of 1.5 working pixels, then
division by the local energy) before it folds, which keeps under a tenth of
a frequency of 4 cycles a tile or less: there the mark's energy buys little
evidence, while the picture's own low frequencies, strongest on still and
panning content where the pattern moves with the picture, add their noise
to the cells' readings in every frame. Measured on the shared clips' marked
files and their attacks (the fold's spectrum at the true alignment,
correlated with the chips ring by ring), the signal-to-noise ratio of the
rings up to 4 cycles a tile was a tenth to a third of the others', and on
meca after the 360p platform rendition the noise there was 5 to 10 times
the other rings'. Those rings hold 6 % of the band's coefficients.

Each design leaves out the frequencies at or under a radius
(``watermark.pattern.LOW_BAND``, in cycles a tile) from the pattern (whose
energy, normalised, goes to the other frequencies: the same picture cost)
and from the detector's band (its matched filter and its key-independent
scale search alike), so the false-alarm bound holds as it is. Per clip,
design and identifier set: marked/plain video bitrate at x264 CRF 18
medium, PSNR-Y of the marked encode against the plain one, and the exact
identifier with its score for the marked file, the 360p and 480p platform
renditions, x264 CRF 35 and HEVC CRF 32. The study changes nothing shipped;
its reference ('shipped (DC only)') is the band before 4 was shipped after
it (33c18d6).

    python benchmarks/study_low_band.py [--quick]
"""

from __future__ import annotations

import importlib
import statistics
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from common import Run, load_watermark, md_table, parser
from design_study import MARKED_FILE, detector_read, measure, paired_changes, study_clips, tables

import watermark.pattern as pattern_module  # noqa: E402
from watermark.embed import marker  # noqa: E402
from watermark.video import EncoderSettings, transcode  # noqa: E402

detect_module = importlib.import_module("watermark.detect")  # the module: the package's ``detect`` is its function

#: (name, lowest radius left out, in cycles a tile; 0: only DC, as shipped).
DESIGNS: tuple[tuple[str, float], ...] = (("shipped (DC only)", 0.0), ("up to 3 left out", 3.0),
                                          ("up to 4 left out", 4.0), ("up to 6 left out", 6.0))
READS = (MARKED_FILE, "platform_360p", "platform_480p", "h264_crf35", "h265_crf32")
#: The first identifier of each set (clip number added).
IDENTIFIER_SETS = (0x1550_0000_0000_0000, 0x2660_0000_0000_0000)
QUICK_CLIPS = ("meca", "pan", "screen")
INTRO = ("Design study (issue 7): the pattern's band without its lowest frequencies, left out of the embedder's "
         "pattern and the detector's band alike (see the script's docstring). Nothing shipped changes.")


@contextmanager
def low_band(radius: float) -> Iterator[None]:
    """The shipped embedder and detector with the band's frequencies up to ``radius`` left out; the cached
    renderings, grids and templates are dropped on the way in and out."""
    saved = pattern_module.LOW_BAND

    def clear() -> None:
        pattern_module.render.cache_clear()
        detect_module._grid.cache_clear()
        detect_module._templates.cache_clear()

    pattern_module.LOW_BAND = radius
    clear()
    try:
        yield
    finally:
        pattern_module.LOW_BAND = saved
        clear()


def change_table(runs: dict[str, list[dict[str, Any]]], names: Sequence[str]) -> str:
    """Per design, over every set: exact reads after the attacks, and per clip the mean score change against
    the first design (over the attacks and sets) with the mean changes of PSNR-Y and bits."""
    reference = names[0]
    attacks = [a for a in READS if a != MARKED_FILE]
    rows = [row for set_rows in runs.values() for row in set_rows]
    header = ["design", "exact reads after the attacks", *dict.fromkeys(row["clip"] for row in rows)]
    body = []
    for name in names:
        mine = [row for row in rows if row["design"] == name]
        cells = [name, f"{sum(row['reads'][a]['exact'] for row in mine for a in attacks)}/{len(mine) * len(attacks)}"]
        for change in paired_changes(runs, reference, name, attacks).values():
            cells.append(f"{statistics.mean(change['score']):+.2f} z, {change['psnr']:+.2f} dB, "
                         f"{100 * change['bits']:+.1f} %")
        body.append(cells)
    return "\n".join([
        "## Summary over the identifier sets", "",
        f"Exact reads after {', '.join(attacks)} over {len(runs)} sets of identifiers; per clip, the mean change "
        f"against `{reference}` of the score after those attacks, of PSNR-Y against the plain encode and of "
        "the bits (marked/plain, x264 CRF 18).", "",
        md_table(header, body)])


def main(argv: Sequence[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    wm = load_watermark()
    key = wm.Key(bytes(range(32)))
    work, clips = study_clips("study_low_band", args.quick, QUICK_CLIPS)
    run = Run("study_low_band", args, {"designs": DESIGNS, "reads": READS,
                                       "identifier_sets": [f"{i:016x}" for i in IDENTIFIER_SETS]}, wm)
    radii = dict(DESIGNS)
    names = list(radii)
    read = detector_read(key)

    def mark(src: Path, dst: Path, identifier: int, design: str) -> None:
        with low_band(radii[design]):
            transcode(src, dst, marker(key, identifier), settings=EncoderSettings(), overwrite=True)

    def read_design(path: Path, design: str) -> tuple[str | None, float]:
        with low_band(radii[design]):
            return read(path, design)

    runs = {f"{first:016x}": measure(clips, names, READS, mark, read_design, work, first)
            for first in IDENTIFIER_SETS}
    sections = [change_table(runs, names)]
    for number, (first, rows) in enumerate(runs.items(), 1):
        sections += ["", f"# Identifier set {number} ({first})", "",
                     tables(rows, names, READS, f"Identifiers from {first}, one per clip.")]
    run.write({"sets": runs}, "\n".join([INTRO, "", *sections]))


if __name__ == "__main__":
    main()
