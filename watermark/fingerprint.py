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
#: Median correlation below which pictures are called different, not merely unmatched:
#: unrelated clips sit near 0 (at most 0.51 in any second on the shared real clips), while
#: a cropped or reframed copy of the same pictures stays around 0.6-0.8.
DIFFERENT_CORRELATION = 0.5
#: Comparable periods two fingerprints must overlap by (fewer for shorter videos).
MIN_OVERLAP = 3
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


def mirrored(signatures: np.ndarray) -> np.ndarray:
    """Frame signatures (or a fingerprint) of the same pictures flipped left to right.

    For a video the detector found mirrored, so that it is compared with the
    record the right way round.

    Examples
    --------
    >>> grid = np.arange(64, dtype=np.float32)
    >>> mirrored(grid[None])[0, :8].tolist()
    [7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    """
    rows, cols = GRID
    return np.ascontiguousarray(np.asarray(signatures).reshape(-1, rows, cols)[:, :, ::-1].reshape(-1, rows * cols))


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
    """How well observed pictures match a recorded fingerprint, at the best alignment.

    Attributes
    ----------
    matches : bool
        At least :data:`MATCH_SHARE` of the compared periods match.
    correlations : list of float or None
        Per period of the observed video, the correlation of detail with the
        recorded period it lines up with (None where either side is flat or
        outside the record).
    compared : int
        Periods with a correlation.
    matching : int
        Periods whose correlation is at least :data:`MATCH_CORRELATION`.
    offset : float
        Seconds into the recorded video at which the observed one starts
        (positive for a copy with its beginning cut off).
    period : float
        Seconds per period.
    start : float
        Observed time at which the first period begins (0, or a fraction of
        a period before 0 when the copy was cut between periods).
    """

    matches: bool
    correlations: list[float | None]
    compared: int
    matching: int
    offset: float
    period: float
    start: float = 0.0

    @property
    def different(self) -> bool:
        """The pictures are other pictures: no match, and even the median period is unlike the record.

        Neither ``matches`` nor ``different`` means the pictures resemble the
        record without matching it (cropped, reframed or heavily edited).
        """
        values = [c for c in self.correlations if c is not None]
        return bool(values) and not self.matches and float(np.median(values)) < DIFFERENT_CORRELATION

    def differing(self) -> list[tuple[float, float]]:
        """Time spans (seconds, of the observed video) whose pictures differ from the record.

        Neighbouring periods are merged; flat or unrecorded periods are not counted.

        Examples
        --------
        >>> FingerprintMatch(True, [0.99, 0.1, 0.2, None, 0.95], 4, 2, 0.0, 1.0).differing()
        [(1.0, 3.0)]
        """
        spans: list[tuple[float, float]] = []
        for index, value in enumerate(self.correlations):
            if value is None or value >= MATCH_CORRELATION:
                continue
            begin = max(0.0, self.start + index * self.period)
            end = self.start + (index + 1) * self.period
            if spans and abs(spans[-1][1] - begin) < 1e-9:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((begin, end))
        return spans

    def to_dict(self) -> dict:
        return {"matches": self.matches, "different": self.different, "compared": self.compared,
                "matching": self.matching,
                "offset": round(self.offset, 3), "period": self.period, "start": self.start,
                "differing": [list(s) for s in self.differing()],
                "correlations": [None if c is None else round(c, 3) for c in self.correlations]}


def _unit_detail(fingerprint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's detail scaled to unit length, and whether the row has detail enough to compare."""
    detail = _detail(fingerprint)
    norms = np.linalg.norm(detail, axis=1)
    usable = norms >= _MIN_DETAIL * np.sqrt(detail.shape[1])
    return detail / np.where(usable, norms, 1.0)[:, None], usable


def compare(reference: np.ndarray, observed: np.ndarray, *, period: float = PERIOD,
            start: float = 0.0) -> FingerprintMatch:
    """Compare a recorded fingerprint with one computed from a video, at the best whole-period shift.

    Every shift that overlaps at least half of the observed comparable
    periods, and at least :data:`MIN_OVERLAP` (or all, for shorter videos),
    is tried, so a copy cut at the start or the end still lines up; the shift
    with the most matching periods wins, then the one with the highest mean
    correlation.

    Parameters
    ----------
    reference, observed : numpy.ndarray, shape (T, 64), uint8
        Fingerprints from :func:`pool` (the recorded one, and the video's).
    period : float
        Seconds per row.
    start : float
        Observed time at which ``observed``'s first row begins (see :func:`match`).

    Returns
    -------
    FingerprintMatch
        ``matches`` is False when nothing could be compared.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fp = rng.integers(0, 256, (5, 64), dtype=np.uint8)
    >>> compare(fp, fp[2:]).offset
    2.0
    """
    a, usable_a = _unit_detail(reference)
    b, usable_b = _unit_detail(observed)
    table = a @ b.T  # table[i, j]: recorded period i against observed period j
    comparable = usable_a[:, None] & usable_b[None, :]
    # A cut copy lies inside the record: it overlaps most of it. Requiring half of the copy keeps
    # a few chance look-alike periods at the edges from passing for a match.
    needed = max(min(MIN_OVERLAP, int(usable_b.sum())), -(-int(usable_b.sum()) // 2))
    best: FingerprintMatch | None = None
    for shift in range(-len(observed) + 1, len(reference)):
        rows = np.arange(len(observed))
        refs = rows + shift
        inside = (refs >= 0) & (refs < len(reference))
        ok = np.zeros(len(observed), bool)
        ok[inside] = comparable[refs[inside], rows[inside]]
        if ok.sum() < max(needed, 1):
            continue
        values = np.where(ok, table[np.clip(refs, 0, len(reference) - 1), rows], np.nan)
        matching = int(np.sum(values[ok] >= MATCH_CORRELATION))
        result = FingerprintMatch(matching >= MATCH_SHARE * ok.sum(),
                                  [None if np.isnan(v) else float(v) for v in values], int(ok.sum()),
                                  matching, shift * period - start, period, start)
        if best is None or _rank(result) > _rank(best):
            best = result
    return best or FingerprintMatch(False, [None] * len(observed), 0, 0, 0.0, period, start)


def match(reference: np.ndarray, signatures: np.ndarray, times: np.ndarray, *, period: float = PERIOD,
          phases: int = 4) -> FingerprintMatch:
    """Align a video's frames with a recorded fingerprint to a fraction of a period, and compare.

    A copy cut at an arbitrary time has its periods straddling the recorded
    ones; pooling its frames at ``phases`` sub-period offsets and keeping the
    best comparison lines them up again.

    Parameters
    ----------
    reference : numpy.ndarray, shape (T, 64), uint8
        The recorded fingerprint.
    signatures : numpy.ndarray, shape (N, 64)
        :func:`frame_signature` of each frame of the video.
    times : numpy.ndarray, shape (N,)
        Presentation times in seconds.
    period : float
        Seconds per row of ``reference``.
    phases : int
        Sub-period alignments tried.

    Returns
    -------
    FingerprintMatch
    """
    times = np.asarray(times, np.float64)
    results = []
    for phase in range(phases):
        lead = phase * period / phases  # frames this early join the first period
        results.append(compare(reference, pool(signatures, times + lead, period=period), period=period,
                               start=-lead))
    return max(results, key=_rank)


def _rank(result: FingerprintMatch) -> tuple[int, float]:
    """Most matching periods first, then the highest mean correlation."""
    values = [c for c in result.correlations if c is not None]
    return result.matching, float(np.mean(values)) if values else -1.0
