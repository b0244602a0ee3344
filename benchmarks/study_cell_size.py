"""Design study: how large the pattern's cells should be (its frequency), against bits and robustness.

The pattern's cell is 1/96 of the picture's shorter side, never under 3
pixels (``watermark.pattern.cell_size``), and the tile is 32 cells. The cell
sets the pattern's frequencies: smaller cells put more tiles in the picture
(the detector's fold averages more of the host away) but in higher
frequencies, which a re-encoder at low quality quantises away and which a
moving picture's residual costs more bits for; larger cells the reverse.
Both constants date from the first design and were never measured against
the platform renditions and the bits target. This study does, for:

- the number of cells across the shorter side: 64, 96 (shipped) and 128;
- the smallest cell, which decides small pictures (under 288 lines the
  shipped cell stops at 3 pixels: the 640x272 bikes clip, 1.75x the plain
  encode's bits, and the 176x144 carphone clip): 3 (shipped), 4 and 5 pixels.

Each design is the shipped embedder and detector with those constants
changed for both (:func:`cells`); nothing else differs, and nothing shipped
changes. Per clip and design: marked/plain video bitrate at x264 CRF 18
medium, PSNR-Y of the marked encode against the plain one, and the exact
identifier with its score after the marked file itself, the 360p and 480p
platform renditions (x264 veryfast CRF 30), x264 CRF 35, HEVC CRF 32 and a
crop to the centre 80 % (which the detector must find at another scale).

    python benchmarks/study_cell_size.py [--quick]
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from common import Run, load_watermark, parser
from design_study import MARKED_FILE, measure, study_clips, tables

import watermark.mask as mask_module  # noqa: E402
import watermark.pattern as pattern_module  # noqa: E402
from watermark import detect_file  # noqa: E402
from watermark.embed import marker  # noqa: E402
from watermark.video import EncoderSettings, transcode  # noqa: E402

#: (name, cells across the shorter side, smallest cell in pixels).
DESIGNS: tuple[tuple[str, int, float], ...] = (
    ("96 cells, 3 px (shipped)", 96, 3.0), ("64 cells", 64, 3.0), ("128 cells", 128, 3.0),
    ("96 cells, 4 px", 96, 4.0), ("96 cells, 5 px", 96, 5.0))
ATTACKS = (MARKED_FILE, "platform_360p", "platform_480p", "h264_crf35", "h265_crf32", "crop_center_80")
QUICK_CLIPS = ("bikes", "pan", "meca")
INTRO = ("Design study (issue 7): the pattern's cell size, as cells across the shorter side and the smallest "
         "cell in pixels, changed in both the embedder and the detector (see the script's docstring). Nothing "
         "shipped changes.")


@contextmanager
def cells(per_short_side: int, smallest: float) -> Iterator[None]:
    """The shipped embedder and detector with another cell: the pattern, the mask's share of cells held and
    the detector's working resolution all follow ``pattern.cell_size``; the rendered patterns cached for
    the shipped cell are dropped on the way in and out."""
    saved = pattern_module.CELLS_PER_SHORT_SIDE, pattern_module.MIN_CELL
    pattern_module.render.cache_clear()
    pattern_module.moved.cache_clear()
    pattern_module.CELLS_PER_SHORT_SIDE = mask_module.CELLS_PER_SHORT_SIDE = per_short_side
    pattern_module.MIN_CELL = smallest
    try:
        yield
    finally:
        pattern_module.CELLS_PER_SHORT_SIDE = mask_module.CELLS_PER_SHORT_SIDE = saved[0]
        pattern_module.MIN_CELL = saved[1]
        pattern_module.render.cache_clear()
        pattern_module.moved.cache_clear()


def main(argv: Sequence[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    wm = load_watermark()
    key = wm.Key(bytes(range(32)))
    work, clips = study_clips("study_cell_size", args.quick, QUICK_CLIPS)
    run = Run("study_cell_size", args, {"designs": DESIGNS, "attacks": ATTACKS}, wm)
    names = [name for name, _, _ in DESIGNS]
    constants = {name: (per_short_side, smallest) for name, per_short_side, smallest in DESIGNS}

    def mark(src: Path, dst: Path, identifier: int, design: str) -> None:
        with cells(*constants[design]):
            transcode(src, dst, marker(key, identifier), settings=EncoderSettings(), overwrite=True)

    def read(path: Path, design: str) -> tuple[str | None, float]:
        with cells(*constants[design]):
            found = detect_file(path, key)
        return found.identifier, found.score

    rows: list[dict[str, Any]] = measure(clips, names, ATTACKS, mark, read, work, 0xCE11_0000_0000_0000)
    sizes = {clip.name: (clip.height, clip.width) for clip in clips}
    for row in rows:
        with cells(*constants[row["design"]]):
            row["cell_px"] = round(pattern_module.cell_size(*sizes[row["clip"]]), 2)
    run.write({"rows": rows}, tables(rows, names, ATTACKS, INTRO))


if __name__ == "__main__":
    main()
