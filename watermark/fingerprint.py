"""A compact perceptual fingerprint: what the pictures looked like, second by second.

The mark says *which* identifier a video carries; the fingerprint says whether
the pictures are the ones that identifier was stamped on. Someone holding the
key (or a copying attack) can put a valid identifier onto other footage; the
fingerprint recorded at stamping then disagrees with the pictures.

Each frame's luma is reduced to a coarse grid of block means (8 x 8 = 64
numbers). The grids of one time period (a second by default) are averaged
and stored as 64 bytes. Block means survive what platforms do to a video
(re-encoding at a low bit rate, downscaling, mild colour changes), while two
different scenes give unrelated grids. Comparison uses the correlation of the
grids' spatial *detail*: the smooth vertical and horizontal gradients that
many scenes share (bright sky above, dark ground below) are removed first, so
unrelated outdoor scenes do not look alike.

Functions take arrays and return new arrays; nothing is kept between calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Grid of block means per frame (rows, columns).
GRID = (8, 8)
#: Seconds per fingerprint row.
PERIOD = 1.0
#: Correlation of detail above which a period counts as the same pictures.
MATCH_CORRELATION = 0.8
#: Share of compared periods that must match for the pictures to match.
MATCH_SHARE = 0.5
#: Bilinear samples per block side taken before averaging: exact block means of a
#: 1080p plane cost ~1.5 ms a frame, these ~0.2 ms, and differ by at most ~2 levels.
_SAMPLES = 32
#: Periods of shift tried either way, for copies whose clock starts elsewhere.
MAX_OFFSET = 2
#: Periods whose detail is weaker than this (flat pictures) are not compared.
_MIN_DETAIL = 1.0 / 255


def frame_signature(luma: np.ndarray, *, bit_depth: int = 8) -> np.ndarray:
    """The block means of one luma plane.

    Parameters
    ----------
    luma : numpy.ndarray, shape (H, W), uint8 or uint16
        A luma plane; not modified.
    bit_depth : int
        Bits per sample, so 8- and 10-bit pictures give the same values.

    Returns
    -------
    numpy.ndarray, shape (64,), float32
        Block means in [0, 1], row by row (of a 256 x 256 bilinear sampling
        when the plane is larger, which keeps the cost per frame small).

    Examples
    --------
    >>> frame_signature(np.full((72, 128), 255, np.uint8)).max()
    1.0
    """
    if luma.ndim != 2 or luma.shape[0] < GRID[0] or luma.shape[1] < GRID[1]:
        raise ValueError(f"luma must be a 2-D plane of at least {GRID[0]}x{GRID[1]} pixels, got {luma.shape}")
    lattice = (GRID[1] * _SAMPLES, GRID[0] * _SAMPLES)
    if luma.shape[1] > lattice[0] and luma.shape[0] > lattice[1]:
        luma = cv2.resize(luma, lattice, interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(luma, (GRID[1], GRID[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (small / float((1 << bit_depth) - 1)).ravel()


def pool(signatures: np.ndarray, times: np.ndarray, *, period: float = PERIOD) -> np.ndarray:
    """Average frame signatures per time period into a fingerprint.

    Parameters
    ----------
    signatures : numpy.ndarray, shape (N, 64), float
        :func:`frame_signature` of each frame.
    times : numpy.ndarray, shape (N,), float
        Presentation time of each frame in seconds.
    period : float
        Seconds per fingerprint row.

    Returns
    -------
    numpy.ndarray, shape (ceil(last time / period), 64), uint8
        One row per period, values scaled to 0-255; periods without frames
        are zero (and are skipped by :func:`compare`).
    """
    signatures = np.asarray(signatures, np.float32).reshape(-1, GRID[0] * GRID[1])
    times = np.asarray(times, np.float64)
    if len(signatures) != len(times):
        raise ValueError(f"{len(signatures)} signatures but {len(times)} times")
    if not len(times):
        return np.zeros((0, GRID[0] * GRID[1]), np.uint8)
    rows = np.floor(np.maximum(times, 0.0) / period).astype(np.int64)
    sums = np.zeros((rows.max() + 1, signatures.shape[1]), np.float64)
    np.add.at(sums, rows, signatures)
    counts = np.bincount(rows, minlength=len(sums))[:, None]
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return np.clip(np.rint(means * 255), 0, 255).astype(np.uint8)


def _detail(fingerprint: np.ndarray) -> np.ndarray:
    """Each row's grid minus its best-fitting plane (the shared gradients)."""
    rows, cols = GRID
    y, x = np.mgrid[0:rows, 0:cols]
    basis = np.stack([np.ones(rows * cols), y.ravel(), x.ravel()], axis=1).astype(np.float64)
    values = fingerprint.astype(np.float64).T / 255
    coefficients, *_ = np.linalg.lstsq(basis, values, rcond=None)
    return (values - basis @ coefficients).T


@dataclass(frozen=True)
class FingerprintMatch:
    """How well observed pictures match a recorded fingerprint.

    Attributes
    ----------
    matches : bool
        At least :data:`MATCH_SHARE` of the compared periods match.
    correlations : list of float or None
        Per period of the observed video, the correlation of detail with the
        recorded period it lines up with (None where either side is flat or
        missing).
    compared : int
        Periods with a correlation.
    matching : int
        Periods whose correlation is at least :data:`MATCH_CORRELATION`.
    offset : int
        Periods by which the observed video is shifted against the record
        (positive: it starts later in the recorded video).
    period : float
        Seconds per period.
    """

    matches: bool
    correlations: list[float | None]
    compared: int
    matching: int
    offset: int
    period: float

    def differing(self) -> list[tuple[float, float]]:
        """Time spans (seconds, of the observed video) whose pictures differ from the record.

        Neighbouring periods are merged; flat or unrecorded periods are not counted.

        Examples
        --------
        >>> FingerprintMatch(True, [0.99, 0.1, 0.2, None, 0.95], 4, 2, 0, 1.0).differing()
        [(1.0, 3.0)]
        """
        spans: list[tuple[float, float]] = []
        for index, value in enumerate(self.correlations):
            if value is None or value >= MATCH_CORRELATION:
                continue
            start, end = index * self.period, (index + 1) * self.period
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def to_dict(self) -> dict:
        return {"matches": self.matches, "compared": self.compared, "matching": self.matching,
                "offset": self.offset, "period": self.period, "differing": [list(s) for s in self.differing()],
                "correlations": [None if c is None else round(c, 3) for c in self.correlations]}


def _correlations(reference: np.ndarray, observed: np.ndarray, offset: int) -> list[float | None]:
    """Per observed period, the correlation of detail with reference period ``index + offset``."""
    a, b = _detail(reference), _detail(observed)
    norm_a, norm_b = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    threshold = _MIN_DETAIL * np.sqrt(a.shape[1])
    values: list[float | None] = []
    for row in range(len(observed)):
        ref = row + offset
        if not 0 <= ref < len(reference) or norm_a[ref] < threshold or norm_b[row] < threshold:
            values.append(None)
        else:
            values.append(float(a[ref] @ b[row] / (norm_a[ref] * norm_b[row])))
    return values


def compare(reference: np.ndarray, observed: np.ndarray, *, period: float = PERIOD) -> FingerprintMatch:
    """Compare a recorded fingerprint with one computed from a video, period by period.

    Shifts of up to :data:`MAX_OFFSET` periods either way are tried and the
    one with the most matching periods is kept, so a copy whose clock starts
    a little later or earlier still lines up.

    Parameters
    ----------
    reference, observed : numpy.ndarray, shape (T, 64), uint8
        Fingerprints from :func:`pool` (the recorded one, and the video's).
    period : float
        Seconds per row, for the result.

    Returns
    -------
    FingerprintMatch
        ``matches`` is False when nothing could be compared.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fp = rng.integers(0, 256, (5, 64), dtype=np.uint8)
    >>> compare(fp, fp).matches
    True
    """
    best: FingerprintMatch | None = None
    for offset in sorted(range(-MAX_OFFSET, MAX_OFFSET + 1), key=abs):
        correlations = _correlations(reference, observed, offset) if len(reference) else [None] * len(observed)
        values = [c for c in correlations if c is not None]
        matching = sum(c >= MATCH_CORRELATION for c in values)
        result = FingerprintMatch(matches=bool(values) and matching >= MATCH_SHARE * len(values),
                                  correlations=correlations, compared=len(values), matching=matching,
                                  offset=offset, period=period)
        if best is None or result.matching > best.matching:
            best = result
    return best
