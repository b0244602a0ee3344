"""The white-box attacker's signal tools: estimate a periodic mark, render it, add or subtract it.

The attacker of issue 11 knows the published code and design, never the
private key. What he reads in the code: the mark is added to luma, shaped by
a mask that follows the local contrast, and it is one tile of
``TILE_CELLS`` x ``TILE_CELLS`` cells repeated over the picture from its top
left corner, a cell being ``1/CELLS_PER_SHORT_SIDE`` of the shorter side
(never under ``MIN_CELL`` pixels), band-limited to ``BAND`` cycles per tile.
So he high-passes every frame of a marked video, averages over time (the
pictures move, the mark does not), folds the average by the tile period into
one tile, and averages tiles over videos (the synchronisation cells, shared
by every identifier of a key, add up; the payload cells of different
identifiers partly cancel). The tile, rendered at any picture size, is his
estimate of the pattern.

Nothing here uses a key. ``true_pattern`` (which does) serves only to report
how close an estimate came.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from videoio import decode, luma

try:  # the geometry as the code states it: what a white-box attacker reads
    from watermark.pattern import BAND, CELLS_PER_SHORT_SIDE, MIN_CELL, TILE_CELLS
    GEOMETRY_SOURCE = "watermark.pattern"
except ImportError:  # the design changed: fold by the period the first design published
    TILE_CELLS, CELLS_PER_SHORT_SIDE, MIN_CELL, BAND = 32, 96, 3.0, 15
    GEOMETRY_SOURCE = "the first design's published numbers (watermark.pattern no longer states them)"

#: Samples per cell of the folded tile.
BINS_PER_CELL = 4
BINS = TILE_CELLS * BINS_PER_CELL
#: The mask as the design states it: amplitude per unit of local standard deviation, floor and cap
#: (8-bit levels), measured over about two cells.
MASK_GAIN, MASK_FLOOR, MASK_CEILING = 0.22, 0.7, 3.5


def cell_px(height: int, width: int) -> float:
    """One cell in pixels for a picture of this size, as the design states."""
    return max(min(height, width) / CELLS_PER_SHORT_SIDE, MIN_CELL)


def _whiten(y: np.ndarray, cell: float) -> np.ndarray:
    """High-pass (half a cell) divided by the local energy (one cell), clipped: the detector's own recipe."""
    high = y - cv2.GaussianBlur(y, (0, 0), 0.5 * cell)
    energy = cv2.GaussianBlur(high * high, (0, 0), cell)
    return np.clip(high / np.sqrt(energy + 0.05), -3.0, 3.0)


def _band_limit(tile: np.ndarray) -> np.ndarray:
    """Keep the band the mark lives in (|k| <= BAND cycles per tile, no DC), unit RMS."""
    spectrum = np.fft.fft2(tile)
    k = np.abs(np.fft.fftfreq(BINS, 1 / BINS))
    spectrum[(k[:, None] > BAND) | (k[None, :] > BAND)] = 0
    spectrum[0, 0] = 0
    out = np.fft.ifft2(spectrum).real
    return out / max(float(np.sqrt(np.mean(out ** 2))), 1e-12)


def fold_video(path: Path) -> np.ndarray:
    """One marked video's tile estimate: whitened frames averaged over time, folded by the period."""
    return fold_segments(path, None)[0]


def fold_segments(path: Path, seconds: float | None) -> dict[int, np.ndarray]:
    """Tile estimates of each ``seconds`` of a marked video (segment number: tile; one segment when None)."""
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for tf in decode(path):
        y = luma(tf.frame).astype(np.float32)
        segment = 0 if seconds is None else int(tf.time // seconds)
        white = _whiten(y, cell_px(*y.shape))
        sums[segment] = sums[segment] + white if segment in sums else white
        counts[segment] = counts.get(segment, 0) + 1
    if not sums:
        raise ValueError(f"{path} has no frames")
    return {segment: _fold(total / counts[segment]) for segment, total in sums.items()}


def _fold(image: np.ndarray) -> np.ndarray:
    """An image averaged modulo the tile period into one band-limited tile."""
    height, width = image.shape
    period = TILE_CELLS * cell_px(height, width)
    rows = np.rint((np.arange(height) % period) / period * BINS).astype(int) % BINS
    cols = np.rint((np.arange(width) % period) / period * BINS).astype(int) % BINS
    index = (rows[:, None] * BINS + cols[None, :]).ravel()
    sums = np.bincount(index, weights=image.ravel(), minlength=BINS * BINS)
    counts = np.bincount(index, minlength=BINS * BINS)
    return _band_limit((sums / np.maximum(counts, 1)).reshape(BINS, BINS))


def average(tiles: list[np.ndarray]) -> np.ndarray:
    """The estimate from several videos: their tiles averaged (each video counts once)."""
    return _band_limit(np.mean(tiles, axis=0))


def render(tile: np.ndarray, height: int, width: int) -> np.ndarray:
    """The tile's band-limited Fourier series at every pixel of a picture this size, unit RMS (float32)."""
    centre = BINS // 2
    kept = np.fft.fftshift(np.fft.fft2(tile))[centre - BAND:centre + BAND + 1, centre - BAND:centre + BAND + 1]
    period = TILE_CELLS * cell_px(height, width)
    freqs = np.arange(-BAND, BAND + 1)
    rows = np.exp(2j * np.pi * np.outer(np.arange(height), freqs) / period)
    cols = np.exp(2j * np.pi * np.outer(freqs, np.arange(width)) / period)
    pattern = ((rows @ kept) @ cols).real
    return (pattern / max(float(np.sqrt(np.mean(pattern ** 2))), 1e-12)).astype(np.float32)


def mask(y: np.ndarray) -> np.ndarray:
    """The attacker's copy of the perceptual mask: local contrast over about two cells, floored and capped."""
    window = max(3, int(round(2 * cell_px(*y.shape))) | 1)
    mean = cv2.blur(y, (window, window))
    sigma = np.sqrt(np.maximum(cv2.blur(y * y, (window, window)) - mean * mean, 0.0))
    return np.clip(MASK_GAIN * sigma, MASK_FLOOR, MASK_CEILING)


def apply(y: np.ndarray, pattern: np.ndarray, strength: float) -> np.ndarray:
    """``y + strength * mask(y) * pattern`` (a negative strength subtracts), as uint8."""
    y = y.astype(np.float32)
    return np.clip(np.rint(y + strength * mask(y) * pattern), 0, 255).astype(np.uint8)


def true_pattern(wm: Any, key: Any, identifier: str, height: int, width: int) -> np.ndarray:
    """The pattern the embedder adds (for scoring estimates only: this uses the key).

    Read through the public API: ``watermark.embed`` on a flat 16-bit picture,
    where the mask is uniform and rounding negligible.
    """
    flat = np.full((height, width), 1 << 15, np.uint16)
    marked = wm.embed(flat, key, wm.parse_identifier(identifier), bit_depth=16).astype(np.float64) - (1 << 15)
    return (marked / max(float(np.sqrt(np.mean(marked ** 2))), 1e-12)).astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two zero-mean patterns."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
