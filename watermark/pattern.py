"""The keyed, periodic pattern and its geometry.

The mark is a tile of 32 x 32 cells, repeated over the picture. A cell is
1/96 of the picture's shorter side, so plain rescaling leaves the pattern
where the detector expects it, and a crop becomes a cyclic shift of the tile.
Each cell holds one chip, +1 or -1: a keyed 192 of the 1,024 cells synchronise,
the others carry the coded payload bits, each bit spread over two or three
keyed cells with keyed signs. The signs come from one of 64 keyed sign
layouts, chosen by a keyed hash of the identifier, so that marks of one key
share no chip an attacker could estimate from some videos and subtract from
another. The tile is
rendered band-limited (periodic sinc interpolation of the chips, without DC
and Nyquist terms), which puts its energy in the low-to-mid frequencies that
compression and downscaling keep, and without its lowest frequencies
(:data:`LOW_BAND`), which the detector's whitening removes with the picture's.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from watermark.keys import Key
from watermark.payload import CODED_BITS, encode

#: Cells along each side of the tile. A 64-cell tile (four times the chips) made jamming cost about 3 dB more
#: and read as well or better on 13 of 14 clips, but the key-independent choice of scale then ranked the
#: true scale of the 1080p pan cropped to 80 % fifteenth of its peaks, and that clip lost its three crop
#: reads (``docs/watermark.md``, the tile study): not shipped until that choice copes with 1.5 tiles.
TILE_CELLS = 32
CELLS_PER_SHORT_SIDE = 96
SYNC_CELLS = 192
#: Highest frequency kept, in cycles per tile (the tile's Nyquist is 16).
BAND = TILE_CELLS // 2 - 1
#: Frequencies at or under this radius, in cycles per tile, are left out of the band (DC always): the
#: detector's whitening keeps under a tenth of them, and on still content the picture's own noise there
#: is 5 to 10 times the other frequencies', so the mark's energy buys more evidence elsewhere
#: (``benchmarks/study_low_band.py``, two identifier sets: meca +0.5 z after the hard reads, bikes and
#: kivy +0.2, the others within 0.1, at the same PSNR-Y and bits; 6 cost three clips 0.2-0.3).
LOW_BAND = 4.0


def in_band(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Which frequencies (cycles per tile, broadcast) the pattern fills and the detector reads: up to
    :data:`BAND` in both directions, over :data:`LOW_BAND` in radius (never DC)."""
    return (np.abs(rows) <= BAND) & (np.abs(columns) <= BAND) & (np.hypot(rows, columns) > LOW_BAND)


#: Sign layouts per key. Which one a video uses follows from its identifier through the key
#: (:func:`layout_of`), so the videos of one key share no chip an attacker could estimate from
#: some of them and subtract from another; the detector tries them all.
LAYOUTS = 64


@dataclass(frozen=True)
class Layout:
    """Which cell does what, for one key and one of its :data:`LAYOUTS` sign layouts.

    The positions are the key's; the signs are the layout's.

    Attributes
    ----------
    sync_cells : numpy.ndarray of int, shape (SYNC_CELLS,)
        Flat indices (row * 32 + column) of the synchronisation cells.
    sync_signs : numpy.ndarray of float, shape (SYNC_CELLS,)
        Their chips, +1 or -1.
    payload_cells : numpy.ndarray of int, shape (832,)
        Flat indices of the payload cells.
    payload_signs : numpy.ndarray of float, shape (832,)
        Keyed signs that scramble each payload chip.
    payload_bits : numpy.ndarray of int, shape (832,)
        The coded bit (0..281) each payload cell carries.
    """

    sync_cells: np.ndarray
    sync_signs: np.ndarray
    payload_cells: np.ndarray
    payload_signs: np.ndarray
    payload_bits: np.ndarray


def layout_of(key: Key, identifier: int) -> int:
    """Which of the key's :data:`LAYOUTS` sign layouts carries ``identifier`` (a keyed hash of it)."""
    digest = hmac.new(key.secret, b"layout-of" + identifier.to_bytes(8, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % LAYOUTS


@lru_cache(maxsize=LAYOUTS * 4)
def layout(key: Key, number: int = 0) -> Layout:
    """The cell layout that ``key`` selects, with its sign layout ``number``."""
    if not 0 <= number < LAYOUTS:
        raise ValueError(f"layout number {number} is outside 0..{LAYOUTS - 1}")
    order = key.rng("layout").permutation(TILE_CELLS * TILE_CELLS)
    signs = key.rng(f"layout-signs-{number}").choice(np.array([-1.0, 1.0]), size=order.size)
    payload = order[SYNC_CELLS:]
    return Layout(
        sync_cells=order[:SYNC_CELLS],
        sync_signs=signs[:SYNC_CELLS],
        payload_cells=payload,
        payload_signs=signs[SYNC_CELLS:],
        payload_bits=np.arange(payload.size) % CODED_BITS,
    )


def chips(key: Key, identifier: int) -> np.ndarray:
    """The tile's chips for one key and identifier.

    Returns
    -------
    numpy.ndarray of float64, shape (32, 32)
        +1 or -1 per cell.
    """
    lay = layout(key, layout_of(key, identifier))
    symbols = 1.0 - 2.0 * encode(identifier)
    grid = np.empty(TILE_CELLS * TILE_CELLS)
    grid[lay.sync_cells] = lay.sync_signs
    grid[lay.payload_cells] = lay.payload_signs * symbols[lay.payload_bits]
    return grid.reshape(TILE_CELLS, TILE_CELLS)


#: Smallest cell, in pixels: finer patterns do not survive compression.
MIN_CELL = 3.0


def cell_size(height: int, width: int) -> float:
    """Size of one cell in pixels for a picture of this size.

    1/96 of the shorter side, but never under three pixels: pictures with a
    shorter side under 288 pixels get fewer, larger cells, which the detector
    finds as a larger scale.
    """
    return max(min(height, width) / CELLS_PER_SHORT_SIDE, MIN_CELL)


def _band_frequencies() -> np.ndarray:
    return np.arange(-BAND, BAND + 1)


def rendered(values: np.ndarray, height: int, width: int, *, margin: int = 0) -> np.ndarray:
    """Any tile of cell values (32 x 32), rendered as the pattern is: its band-limited Fourier series
    (without DC) evaluated at every pixel of a picture of ``height`` x ``width`` (plus ``margin`` rows
    and columns), the period being 32 cells of :func:`cell_size`; float32, not normalised."""
    coefficients = np.fft.fftshift(np.fft.fft2(values))
    centre = TILE_CELLS // 2
    kept = coefficients[centre - BAND:centre + BAND + 1, centre - BAND:centre + BAND + 1].copy()
    freqs = _band_frequencies()
    kept[~in_band(freqs[:, None], freqs[None, :])] = 0.0  # out of the band, DC too: the mark must not change brightness
    period = TILE_CELLS * cell_size(height, width)
    rows = np.exp(2j * np.pi * np.outer(np.arange(height + margin), freqs) / period)
    cols = np.exp(2j * np.pi * np.outer(freqs, np.arange(width + margin)) / period)
    return ((rows @ kept) @ cols).real.astype(np.float32)


@lru_cache(maxsize=8)
def render(key: Key, identifier: int, height: int, width: int, *, margin: int = 0) -> np.ndarray:
    """The pattern for a picture of ``height`` x ``width`` pixels.

    The tile's band-limited Fourier series is evaluated at every pixel, so
    the period (32 cells) need not be a whole number of pixels.

    Parameters
    ----------
    margin : int
        Extra rows and columns rendered beyond the picture (the same
        series continued), for :func:`moved`.

    Returns
    -------
    numpy.ndarray of float32, shape (height + margin, width + margin)
        Zero mean and unit root-mean-square over the picture, read-only (it is cached).
    """
    pattern = rendered(chips(key, identifier), height, width, margin=margin)
    pattern /= np.sqrt(np.mean(pattern[:height, :width].astype(np.float64) ** 2))
    pattern.setflags(write=False)
    return pattern


class MovingPattern:
    """The pattern of one key and identifier for pictures of one size, carried along with the content
    (see :mod:`watermark.motion`) picture after picture.

    The pattern is periodic, so only the offset modulo the period matters;
    it is resampled (bicubic: the pattern's highest frequency is under a
    sixth of a cycle per pixel, where bicubic interpolation is close to exact)
    from a rendering one period larger than the picture. The result is
    written into one buffer, which the next :meth:`at` overwrites: a video's
    marking pass allocates no picture-sized array per frame (at 1080p the
    allocations cost more than the arithmetic).

    Examples
    --------
    >>> pattern = MovingPattern(key, identifier, 720, 1280)      # doctest: +SKIP
    >>> for luma, offset in pictures:                            # doctest: +SKIP
    ...     values = pattern.at(offset)
    """

    def __init__(self, key: Key, identifier: int, height: int, width: int) -> None:
        self.shape = (height, width)
        self.period = TILE_CELLS * cell_size(height, width)
        self._canvas = render(key, identifier, height, width, margin=int(np.ceil(self.period)) + 3)
        self._buffer = np.empty(self.shape, np.float32)
        self._offset: tuple[float, float] | None = None

    def at(self, offset: tuple[float, float]) -> np.ndarray:
        """The pattern moved ``offset = (x, y)`` pixels: float32, shape (height, width), read-only, valid
        until the next call."""
        offset = (float(offset[0]), float(offset[1]))
        if offset != self._offset:  # a still stretch reuses the last
            self._offset = offset
            self._buffer.setflags(write=True)
            self._resample(offset)
            self._buffer.setflags(write=False)
        return self._buffer

    def _resample(self, offset: tuple[float, float]) -> None:
        height, width = self.shape
        start_x, start_y = (-offset[0]) % self.period, (-offset[1]) % self.period
        matrix = np.float32([[1, 0, start_x], [0, 1, start_y]])
        flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
        whole = round(self.period)
        if abs(self.period - whole) >= 1e-9 or whole > min(height, width):
            cv2.warpAffine(self._canvas, matrix, (width, height), dst=self._buffer, flags=flags)
            return
        # A period of whole pixels (a shorter side divisible by 3: 360, 720, 1080, 2160 lines):
        # resample one period and repeat it, a fifteenth of the work at 720p.
        tile = cv2.warpAffine(self._canvas, matrix, (whole, whole), flags=flags)
        for top in range(0, height, whole):
            for left in range(0, width, whole):
                block = self._buffer[top:top + whole, left:left + whole]
                block[...] = tile[:block.shape[0], :block.shape[1]]


@lru_cache(maxsize=4)
def moved(key: Key, identifier: int, height: int, width: int, offset: tuple[float, float]) -> np.ndarray:
    """The pattern carried ``offset = (x, y)`` pixels along with the content (:class:`MovingPattern`, for
    one picture).

    Returns
    -------
    numpy.ndarray of float32, shape (height, width)
        Read-only (it is cached).
    """
    return MovingPattern(key, identifier, height, width).at(offset)
