"""Design study: how much of the mark's bits its amplitude decides, and what each saving costs in reads.

The mark costs bits in predicted frames wherever its amplitude changes from
frame to frame or its still pattern lies under moving content
(``docs/watermark.md``). Each design changes only the embedder's amplitude
(``watermark.mask``); the pattern and the detector are the shipped ones, so
the false-alarm bound is untouched:

- *flat floor faded*: the floor (the little mark a flat area keeps) fades
  out where the picture is exactly flat (local deviation under
  :data:`FLAT_LEVELS` at the mask's quarter resolution), as made pictures
  (screen recordings, titles, flat graphics) are and natural ones are not;
- *moving share 0.25* and *0*: less or nothing where the content moves
  beyond the motion the pattern follows (shipped: 0.5);
- *held amplitude*: each pixel of the quarter-resolution amplitude keeps its
  value until the new one falls under :data:`HOLD` [0] or rises over
  :data:`HOLD` [1] times it, so that most of it stays the same from frame to
  frame;
- *first frame's texture* (a probe, not a design: it cannot follow new
  content, and leaves a strong mark where texture has moved away), alone and
  with nothing where the content moves: what an amplitude that never changes
  could save at most.

Per clip and design: marked/plain video bitrate at x264 CRF 18 medium,
PSNR-Y of the marked encode against the plain one, and the exact identifier
with its score for the marked file, x264 CRF 35, HEVC CRF 32 and the 480p
platform rendition. Nothing shipped changes.

    python benchmarks/study_amplitude.py [--quick]
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, ContextManager, Iterator, Sequence

import numpy as np

from design_study import MARKED_FILE, embedder_study

import watermark.mask as mask_module  # noqa: E402

#: Local deviation (8-bit levels, at the mask's quarter resolution) under which a picture counts as exactly
#: flat: film grain or sensor noise in natural flat areas, averaged over 4 x 4 pixels, stays above it.
FLAT_LEVELS = 0.25
#: The held amplitude is replaced when the new one is under the first or over the second times it.
HOLD = (0.85, 1.25)
READS = (MARKED_FILE, "h264_crf35", "h265_crf32", "platform_480p")
QUICK_CLIPS = ("bikes", "screen", "bbb")
INTRO = ("Design study (issue 7): how much of the mark's bits its amplitude decides (see the script's "
         "docstring). Only the embedder's amplitude changes; the detector is the shipped one. Nothing shipped "
         "changes.")


@contextmanager
def _patched(**values: object) -> Iterator[None]:
    """``watermark.mask`` with some of its names replaced, restored on the way out."""
    saved = {name: getattr(mask_module, name) for name in values}
    for name, value in values.items():
        setattr(mask_module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(mask_module, name, value)


def _flat_faded(amplitude_of: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    def faded(small: np.ndarray) -> np.ndarray:
        mean = mask_module.cv2.blur(small, mask_module._WINDOW)
        sigma = np.sqrt(np.maximum(mask_module.cv2.blur(small * small, mask_module._WINDOW) - mean * mean, 0.0))
        return amplitude_of(small) * np.minimum(sigma / FLAT_LEVELS, 1.0)
    return faded


def _first_frame(amplitude_of: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    first: np.ndarray | None = None

    def frozen(small: np.ndarray) -> np.ndarray:
        nonlocal first
        if first is None or first.shape != small.shape:
            first = amplitude_of(small)
        return first
    return frozen


def _held(full_size: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    held: np.ndarray | None = None

    def holding(reduced: np.ndarray, shape: tuple[int, int], bit_depth: int, out: np.ndarray | None = None):
        nonlocal held
        if held is not None and held.shape == reduced.shape:
            keep = (reduced >= HOLD[0] * held) & (reduced <= HOLD[1] * held)
            reduced = np.where(keep, held, reduced).astype(np.float32)
        held = reduced
        return full_size(reduced, shape, bit_depth, out)
    return holding


#: Each design's amplitude, made fresh for one video (the held and first-frame ones keep state per video).
DESIGNS: dict[str, Callable[[], ContextManager[None]]] = {
    "shipped": lambda: _patched(),
    "flat floor faded": lambda: _patched(_amplitude_of=_flat_faded(mask_module._amplitude_of)),
    "moving share 0.25": lambda: _patched(MOVING_SHARE=0.25),
    "moving share 0": lambda: _patched(MOVING_SHARE=0.0),
    "held amplitude": lambda: _patched(_full_size=_held(mask_module._full_size)),
    "first frame's texture (probe)": lambda: _patched(_amplitude_of=_first_frame(mask_module._amplitude_of)),
    "first frame's texture, share 0 (probe)": lambda: _patched(
        _amplitude_of=_first_frame(mask_module._amplitude_of), MOVING_SHARE=0.0),
}


def main(argv: Sequence[str] | None = None) -> None:
    embedder_study("study_amplitude", __doc__, DESIGNS, READS, QUICK_CLIPS,
                   {"flat_levels": FLAT_LEVELS, "hold": HOLD}, INTRO, 0x3770_0000_0000_0000, argv)

if __name__ == "__main__":
    main()
