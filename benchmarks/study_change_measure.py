"""Design study: how the video mask measures change where the pattern follows a pan.

The video mask (``watermark.mask.VideoMask``) gives the full mark where the
content stays still or moves as the pattern does, and half of it where the
content changes beyond that motion. It measures change on a copy 180 lines
high, the previous copy moved by the step the pattern followed. On the made
pan, which the tracker follows to a hundredth of a pixel, that measure
counts 72 % of the picture as moving (the share of pixels below the full
mark, median over frames): a fraction-of-a-pixel shift smooths the moved
copy and not the other, and the reduced copies alias the foliage
differently at each position. The designs change only that measure
(``watermark.mask._change``); the pattern, the mask's gains and the
detector are the shipped ones, so the false-alarm bound is untouched:

- *half-way*: both copies moved half the step, in opposite directions,
  with the same interpolation (as ``watermark.motion`` measures motion);
- *half-way, smoothed*: the same, both copies first blurred by
  :data:`SMOOTHING` pixels, which takes what aliasing and interpolation
  leave under the threshold (the pan: 0.2 % moving); it also takes out
  grain and small texture changes where the pattern does not move (kivy
  84 % -> 58 %, bbb 44 % -> 22 %), so those clips get more mark too.

Per clip and design: marked/plain video bitrate at x264 CRF 18 medium,
PSNR-Y of the marked encode against the plain one, and the exact identifier
with its score for the marked file, x264 CRF 35, HEVC CRF 32 and the 480p
and 360p platform renditions. Nothing shipped changes.

    python benchmarks/study_change_measure.py [--quick]
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, ContextManager, Iterator, Sequence

import cv2
import numpy as np

from design_study import MARKED_FILE, embedder_study

import watermark.mask as mask_module  # noqa: E402

#: Blur (pixels of the 180-line change copy) applied to both copies before they are compared.
SMOOTHING = 1.0
READS = (MARKED_FILE, "h264_crf35", "h265_crf32", "platform_480p", "platform_360p")
QUICK_CLIPS = ("pan", "bbb", "kivy")
INTRO = ("Design study (issue 7): how the video mask measures change where the pattern follows a pan (see "
         "the script's docstring). Only the mask's change measure changes; the detector is the shipped one. "
         "Nothing shipped changes.")


def _half_way(smoothing: float) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def change(current: np.ndarray, previous: np.ndarray, step: np.ndarray) -> np.ndarray:
        size = current.shape[::-1]
        if smoothing:
            current, previous = (cv2.GaussianBlur(copy, (0, 0), smoothing) for copy in (current, previous))
        ahead, behind = (cv2.warpAffine(copy, np.float32([[1, 0, sign * step[0] / 2], [0, 1, sign * step[1] / 2]]),
                                        size, borderMode=cv2.BORDER_REPLICATE)
                         for copy, sign in ((current, -1), (previous, 1)))
        return cv2.GaussianBlur(cv2.absdiff(ahead, behind), (0, 0), mask_module._CHANGE_BLUR)
    return change


@contextmanager
def _measured_by(change: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None) -> Iterator[None]:
    """``watermark.mask`` measuring change with ``change`` (the shipped measure when None), restored on the way out."""
    saved = mask_module._change
    mask_module._change = change or saved
    try:
        yield
    finally:
        mask_module._change = saved


DESIGNS: dict[str, Callable[[], ContextManager[None]]] = {
    "shipped": lambda: _measured_by(None),
    "half-way": lambda: _measured_by(_half_way(0.0)),
    "half-way, smoothed": lambda: _measured_by(_half_way(SMOOTHING)),
}


def main(argv: Sequence[str] | None = None) -> None:
    embedder_study("study_change_measure", __doc__, DESIGNS, READS, QUICK_CLIPS, {"smoothing": SMOOTHING}, INTRO,
                   0x3790_0000_0000_0000, argv)

if __name__ == "__main__":
    main()
