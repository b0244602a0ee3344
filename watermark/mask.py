"""Perceptual masking: how much mark each part of the picture can hide.

Texture hides a low-frequency pattern; flat areas, gradients and the darkest
and brightest tones show it. The amplitude follows the local standard
deviation of luma (measured at a quarter of the resolution, over about two
cells), bounded below so that flat areas still carry a little of the mark and
above so that edges do not ring, and is lowered in dark and bright tones.
"""

from __future__ import annotations

import cv2
import numpy as np

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
    height, width = luma.shape
    scale = float(1 << (bit_depth - 8))
    small_size = (max(1, width // _REDUCTION), max(1, height // _REDUCTION))
    small = cv2.resize(luma, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    if scale != 1.0:
        small /= scale
    mean = cv2.blur(small, _WINDOW)
    variance = cv2.blur(small * small, _WINDOW) - mean * mean
    sigma = np.sqrt(np.maximum(variance, 0.0))
    amp = np.clip(TEXTURE_GAIN * sigma, FLOOR, CEILING) * _tone_weight(mean)
    if scale != 1.0:
        amp *= scale
    return cv2.resize(amp, (width, height), interpolation=cv2.INTER_LINEAR)
