"""Perceptual masking: how much mark each part of the picture can hide.

Texture hides a low-frequency pattern; flat areas, gradients and the darkest
and brightest tones show it. The amplitude follows the local standard
deviation of luma (measured at a quarter of the resolution, over about two
cells), bounded below so that flat areas still carry a little of the mark and
above so that edges do not ring, and is lowered in dark and bright tones.

In a video (:class:`VideoMask`) the amplitude also follows time. Where the
content stays still, or moves as the pattern does (the motion
:mod:`watermark.motion` follows), the pattern costs bits only in intra
frames, so it gets more; where the content changes beyond that motion, a
pattern that stays behind is coded again in every predicted frame (and is
the 'dirty window' a viewer notices), so it gets half of that. At x264
CRF 18 (``benchmarks/quality.py``, against the picture mask alone): the
720p screen recording 3.09x the plain encode's bits -> 2.73x, the bikes
clip 1.95x -> 1.75x and 1.33x -> 1.24x at 1080p; PSNR-Y against the source
40.3 -> 41.1 dB (median of 14 clips).
"""

from __future__ import annotations

import cv2
import numpy as np

from watermark.pattern import CELLS_PER_SHORT_SIDE, cell_size

#: Amplitude per unit of local standard deviation, in 8-bit luma levels.
TEXTURE_GAIN = 0.22
#: Amplitude in flat areas and the cap in busy ones, in 8-bit luma levels.
FLOOR, CEILING = 0.7, 3.5
_REDUCTION = 4
_WINDOW = (5, 5)


def _tone_weight(mean: np.ndarray) -> np.ndarray:
    """Lower the mark in dark and bright tones, where steps show more."""
    dark = np.clip((mean - 16.0) / 48.0, 0.0, 1.0) * 0.55 + 0.45
    bright = np.clip((250.0 - mean) / 40.0, 0.0, 1.0) * 0.4 + 0.6
    return dark * bright


def amplitude(luma: np.ndarray, *, bit_depth: int = 8) -> np.ndarray:
    """Mark amplitude for each pixel of a luma plane.

    Parameters
    ----------
    luma : numpy.ndarray, shape (H, W), uint8 or uint16
        The picture's luma plane.
    bit_depth : int
        Bits per sample of ``luma`` (8 for uint8, e.g. 10 for uint16).

    Returns
    -------
    numpy.ndarray of float32, shape (H, W)
        Amplitude in the plane's own units (8-bit levels times 2**(bit_depth-8)).
    """
    return _full_size(_amplitude_of(_quarter(luma, bit_depth)), luma.shape, bit_depth)


def _quarter(luma: np.ndarray, bit_depth: int) -> np.ndarray:
    """The copy the amplitude is measured on: a quarter of the resolution (it varies over about two cells)."""
    height, width = luma.shape
    return _smaller(luma, (max(1, width // _REDUCTION), max(1, height // _REDUCTION)), bit_depth)


def _smaller(luma: np.ndarray, size: tuple[int, int], bit_depth: int) -> np.ndarray:
    """A copy of ``size`` (width, height), averaged over areas, in 8-bit levels."""
    small = cv2.resize(luma, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    if bit_depth != 8:
        small /= float(1 << (bit_depth - 8))
    return small


def _amplitude_of(small: np.ndarray) -> np.ndarray:
    """The amplitude in 8-bit levels on :func:`_quarter`'s copy."""
    mean = cv2.blur(small, _WINDOW)
    variance = cv2.blur(small * small, _WINDOW) - mean * mean
    sigma = np.sqrt(np.maximum(variance, 0.0))
    return np.clip(TEXTURE_GAIN * sigma, FLOOR, CEILING) * _tone_weight(mean)


def _full_size(reduced: np.ndarray, shape: tuple[int, int], bit_depth: int,
               out: np.ndarray | None = None) -> np.ndarray:
    if bit_depth != 8:
        reduced = reduced * float(1 << (bit_depth - 8))
    return cv2.resize(reduced, (shape[1], shape[0]), dst=out, interpolation=cv2.INTER_LINEAR)


#: In a video: the gain where the content stays still (or moves as the pattern does), and the share of it
#: left where the content changes beyond that. Tried on 7 clips x 4 hard attacks (the platform renditions,
#: CRF 35, HEVC CRF 32): 1.2 and 0.5 kept every read of the still mask (gain 1) and added meca's 360p
#: rendition; 1.4 and 0.3 saved a little more on the bikes clip (1.63x the plain encode's bits against
#: 1.69x) but cost meca and the screen recording 1 dB of PSNR-Y; 1 and 0.3 lost the bikes clip's CRF 35 read.
STILL_GAIN, MOVING_SHARE = 1.2, 0.5
#: The share is for pictures that hold the design's cells (96 across the shorter side). The mark's evidence
#: per frame grows with the cells a picture holds, and under 288 lines the cell stops shrinking at 3
#: pixels, so a smaller picture holds fewer and has less margin to give away: there the share rises
#: towards 1 with the cells missing (the 176x144 carphone clip, a quarter of the cells, lost its reads
#: after x264 CRF 23, a downscale, +20 brightness and VP9 at 0.5; it gets 0.875).


def moving_share(height: int, width: int) -> float:
    """The share of the still amplitude left where the content moves, for a picture of this size."""
    held = (min(height, width) / cell_size(height, width) / CELLS_PER_SHORT_SIDE) ** 2  # share of the design's cells
    return 1.0 - (1.0 - MOVING_SHARE) * min(1.0, held)


#: Where change is measured: shorter side of the copy, blur (pixels there), and the mean absolute change
#: (8-bit levels, after the blur) counted as moving: well above film grain, which the copy averages away.
_CHANGE_SIDE, _CHANGE_BLUR, _CHANGE_LEVELS = 180, 2.0, 3.0
#: Share of the way back to the full amplitude a still area goes each frame: the amplitude drops at once
#: where something moves in, and comes back over about ten frames, not in one step the encoder would code.
_RECOVERY = 0.2


class VideoMask:
    """The amplitude of each picture of a video, in display order: :func:`amplitude`, raised where the content
    stays still and lowered where it changes beyond the motion the pattern follows.

    Examples
    --------
    >>> mask = VideoMask()                                        # doctest: +SKIP
    >>> for luma, offset in pictures:                             # doctest: +SKIP
    ...     amp = mask.amplitude(luma, offset)
    """

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._offset = np.zeros(2)
        self._still: np.ndarray | None = None

    def amplitude(self, luma: np.ndarray, offset: tuple[float, float] | np.ndarray, *,
                  bit_depth: int = 8, out: np.ndarray | None = None) -> np.ndarray:
        """The amplitude for ``luma``, whose content has travelled ``offset`` (x, y) pixels since the first
        picture (the pattern's offset, :class:`watermark.motion.MotionTracker`); same units as
        :func:`amplitude`, written to ``out`` (float32, the shape of ``luma``) when given."""
        height, width = luma.shape
        quarter = _quarter(luma, bit_depth)
        ratio = _CHANGE_SIDE / min(height, width)
        size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
        # at 720p the change copy is the quarter copy: made once
        small = quarter if quarter.shape[::-1] == size else _smaller(luma, size, bit_depth)
        still = cv2.resize(self._stillness(small, ratio, np.asarray(offset, dtype=np.float64), luma.shape),
                           quarter.shape[::-1], interpolation=cv2.INTER_LINEAR)
        return _full_size(_amplitude_of(quarter) * (STILL_GAIN * still), luma.shape, bit_depth, out)

    def _stillness(self, small: np.ndarray, ratio: float, offset: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Per pixel of the change copy ``small`` (``ratio`` times the picture's ``shape``): 1 where the
        content stayed still, :func:`moving_share` where it moved."""
        if self._previous is None or self._previous.shape != small.shape:
            self._still = np.ones_like(small)
        else:
            change = _change(small, self._previous, (offset - self._offset) * ratio)
            share = moving_share(*shape)
            target = cv2.GaussianBlur(np.where(change > _CHANGE_LEVELS, share, 1.0).astype(np.float32),
                                      (0, 0), _CHANGE_BLUR)
            recovered = self._still + (target - self._still) * _RECOVERY
            self._still = np.where(target < self._still, target, recovered).astype(np.float32)
        self._previous, self._offset = small, offset.copy()
        return self._still


def _change(current: np.ndarray, previous: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Absolute change from ``previous`` to ``current`` (change copies) beyond the content's ``step`` (x, y)."""
    moved = cv2.warpAffine(previous, np.float32([[1, 0, step[0]], [0, 1, step[1]]]), current.shape[::-1],
                           borderMode=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(cv2.absdiff(current, moved), (0, 0), _CHANGE_BLUR)
