"""A content fingerprint that finds a registered video inside another one.

The mark says which identifier a video carries; this fingerprint says which
registered pictures a video shows, whatever its mark or manifest says, so that
a notice registry and a search by picture can find a work after re-encoding,
downscaling, a centre crop, an excerpt, a frame-rate change, brightness or
contrast changes, a caption or logo, and mirroring.

How it is built, and why:

- **Frames.** Each luma plane is resampled to a small square thumbnail
  (:data:`THUMB` pixels a side, about 0.4 ms for a 1080p frame), so the cost
  per frame is that of one resize, in the same decode as the mark's detector.
- **Segments.** Thumbnails are averaged over one-second segments by
  presentation time, so a frame-rate change (frames dropped or repeated)
  leaves the averages as they were, and an excerpt keeps whole segments.
- **A central window.** Features come from one region of the picture only
  (:data:`ANCHOR`: the middle half of the width, from a fifth to two thirds of
  the height), which the bands a crop removes, corner logos and the captions
  and name straps of the lower third do not reach. A copy cropped to a
  fraction ``c`` of each side shows that same region at known coordinates of
  its own picture: a query searches a few crops (:data:`SCALES`), the
  registered record keeps one window.
- **Features.** The window is divided into :data:`GRID` x :data:`GRID` area
  means; their 2-D DCT keeps the lowest 8 x 8 frequencies without the mean
  (63 numbers), weighted against the 1/f spectrum of natural pictures and
  scaled to unit length. Brightness and contrast changes move the mean and
  the length only; a mirror image flips the signs of the odd horizontal
  frequencies, so a query tests it for free.
- **Keys.** The signs of the lowest coefficients, cut into :data:`BANDS`
  bands, are the keys of an inverted index (see :mod:`watermark.contentindex`);
  a query also probes the keys with its least certain signs flipped.

Arrays in, arrays out; :class:`ContentSampler` collects one pass of frames.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import cv2
import numpy as np

from watermark.video import Progress, read_pictures

#: Seconds per segment.
PERIOD = 1.0
#: Starts of the query's segments, as fractions of a period (the record uses the first).
PHASES = (0.0, 0.5)
#: The window a record keeps: (top, left, bottom, right) as fractions of the picture's height and width.
ANCHOR = (0.2, 0.25, 0.65, 0.75)
#: Centre crops searched by a query (kept fraction of each side).
SCALES = (1.0, 0.92, 0.85, 0.78, 0.72, 0.66)
#: Thumbnail side in pixels.
THUMB = 96
#: Area means per window side.
GRID = 16
#: DCT frequencies kept per axis (the mean excluded): LOW * LOW - 1 features.
LOW = 8
DIMENSIONS = LOW * LOW - 1
#: Exponent of the weight (frequency ** WHITEN) that flattens the natural 1/f spectrum.
WHITEN = 1.0
#: Standard deviation of a window's area means (8-bit levels) below which it is flat.
FLAT_LEVELS = 1.5
#: Index bands and sign bits per band (interleaved over the lowest BANDS * BAND_BITS coefficients).
BANDS = 2
BAND_BITS = 24
#: Least certain signs a query flips per band (2 ** PROBE_BITS keys per band).
PROBE_BITS = 4
#: Correlation from which a segment counts as the same pictures (true matches measure 0.95-1.0,
#: unrelated segments at most 0.63 on the shared clips).
MATCH_CORRELATION = 0.8
#: Effective dimensions of the null model: unrelated segments' correlations have the spread of
#: random directions in 47 dimensions on the shared clips; 40 keeps the tail bound conservative.
NULL_DIMENSIONS = 40
#: Largest correlation credited, so that identical pictures do not give unbounded evidence.
_MAX_CREDITED = 0.99
#: False-match probability at or below which a match is reported as one.
MAX_FALSE_MATCH = 1e-6

_MAGIC = b"ACF1"
_HEADER = struct.Struct(">4sHH")  # magic, period in ms, features version
_VERSION = 1  # changes whenever the features change, so old records are refused, not misread
_QUANT = 256.0  # int8 steps per unit of a coefficient of a unit-length vector


def _frequency_order() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns) of the kept DCT coefficients, lowest total frequency first, and their weights."""
    pairs = sorted(((v, u) for v in range(LOW) for u in range(LOW) if u or v),
                   key=lambda p: (p[0] + p[1], p[1]))
    rows = np.array([p[0] for p in pairs])
    cols = np.array([p[1] for p in pairs])
    weights = np.hypot(rows, cols) ** WHITEN
    return rows, cols, weights.astype(np.float32)


_ROWS, _COLS, _WEIGHTS = _frequency_order()
#: Sign changes that mirror the window left to right (odd horizontal frequencies).
MIRROR = np.where(_COLS % 2 == 1, -1.0, 1.0).astype(np.float32)


def thumbnail(luma: np.ndarray, *, bit_depth: int = 8) -> np.ndarray:
    """One frame's luma, resampled to a :data:`THUMB` x :data:`THUMB` square in [0, 1].

    Parameters
    ----------
    luma : numpy.ndarray, shape (H, W), uint8 or uint16
        A luma plane (not modified).
    bit_depth : int
        Bits per sample, so 8- and 10-bit pictures give the same values.

    Returns
    -------
    numpy.ndarray, shape (THUMB, THUMB), float32

    Examples
    --------
    >>> float(thumbnail(np.full((1080, 1920), 255, np.uint8)).min())
    1.0
    """
    if luma.ndim != 2 or min(luma.shape) < 16:
        raise ValueError(f"luma must be a 2-D plane of at least 16x16 pixels, got {luma.shape}")
    # Bilinear sampling to 4x the thumbnail, then area means: 0.4 ms at 1080p, where an exact
    # area resize of the full plane costs 5 ms; the difference is far below what codecs change.
    if luma.shape[0] > 4 * THUMB and luma.shape[1] > 4 * THUMB:
        luma = cv2.resize(luma, (4 * THUMB, 4 * THUMB), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(luma, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)
    return small / float((1 << bit_depth) - 1)


Window = tuple[float, float, float, float]


def window_grid(picture: np.ndarray, window: Window, *, grid: int = GRID) -> np.ndarray:
    """Area means of a ``grid`` x ``grid`` division of a window of the picture.

    Exact for fractional window edges (the integral image is interpolated
    linearly, which is exact for pixels of constant value).

    Parameters
    ----------
    picture : numpy.ndarray, shape (H, W), float
    window : tuple of float
        (top, left, bottom, right) as fractions of the picture's height and width.
    grid : int

    Returns
    -------
    numpy.ndarray, shape (grid, grid), float32

    Examples
    --------
    >>> window_grid(np.arange(16, dtype=np.float32).reshape(4, 4), (0, 0, 1, 1), grid=2).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    top, left, bottom, right = window
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ValueError(f"window must be (top, left, bottom, right) within [0, 1], got {window}")
    h, w = picture.shape
    rows = h * (top + np.arange(grid + 1) * (bottom - top) / grid)
    cols = w * (left + np.arange(grid + 1) * (right - left) / grid)
    integral = np.zeros((h + 1, w + 1), np.float64)
    integral[1:, 1:] = np.cumsum(np.cumsum(picture, axis=0), axis=1)
    at_both = _interpolate(_interpolate(integral, rows, axis=0), cols, axis=1)
    sums = np.diff(np.diff(at_both, axis=0), axis=1)
    return (sums / np.outer(np.diff(rows), np.diff(cols))).astype(np.float32)


def cropped_window(scale: float, window: Window = ANCHOR) -> Window:
    """Where ``window`` of a picture lies in a centre crop that keeps ``scale`` of each side.

    Examples
    --------
    >>> [round(edge, 4) for edge in cropped_window(0.8, (0.2, 0.25, 0.6, 0.75))]
    [0.125, 0.1875, 0.625, 0.8125]
    """
    margin = (1 - scale) / 2
    top, left, bottom, right = ((edge - margin) / scale for edge in window)
    return (max(0.0, top), max(0.0, left), min(1.0, bottom), min(1.0, right))


def _interpolate(values: np.ndarray, at: np.ndarray, *, axis: int) -> np.ndarray:
    low = np.clip(np.floor(at).astype(int), 0, values.shape[axis] - 2)
    frac = (at - low).reshape([-1 if a == axis else 1 for a in range(values.ndim)])
    a, b = np.take(values, low, axis=axis), np.take(values, low + 1, axis=axis)
    return a + (b - a) * frac


def features(picture: np.ndarray, window: Window = ANCHOR) -> tuple[np.ndarray, bool]:
    """The unit-length feature vector of a window of a picture.

    Parameters
    ----------
    picture : numpy.ndarray, shape (H, W), float in [0, 1]
        A thumbnail or a segment's mean thumbnail.
    window : tuple of float
        (top, left, bottom, right) as fractions of the picture's height and width.

    Returns
    -------
    vector : numpy.ndarray, shape (DIMENSIONS,), float32
        Weighted low-frequency DCT coefficients of the window's area means,
        scaled to unit length (zeros when the window is flat).
    usable : bool
        False when the window is flat (nothing to recognise it by).

    Examples
    --------
    >>> v, usable = features(np.tile(np.linspace(0, 1, 96, dtype=np.float32), (96, 1)))
    >>> usable, round(float(np.linalg.norm(v)), 3)
    (True, 1.0)
    """
    cells = window_grid(picture, window)
    if float(cells.std()) * 255 < FLAT_LEVELS:
        return np.zeros(DIMENSIONS, np.float32), False
    coefficients = cv2.dct(cells)[_ROWS, _COLS] * _WEIGHTS
    norm = float(np.linalg.norm(coefficients))
    if norm == 0:
        return np.zeros(DIMENSIONS, np.float32), False
    return (coefficients / norm).astype(np.float32), True


# --- one pass of frames -------------------------------------------------------------------


@dataclass
class _Segments:
    """Mean thumbnails per segment for one phase, reduced to features as each segment closes."""

    offset: float
    windows: tuple[Window, ...]
    period: float
    vectors: list[np.ndarray] = field(default_factory=list)  # per segment: (windows, DIMENSIONS)
    usable: list[np.ndarray] = field(default_factory=list)  # per segment: (windows,)
    first: int | None = None  # index of the first segment (may be -1 for a later phase)
    current: int | None = None
    total: np.ndarray | None = None
    count: int = 0

    def add(self, thumb: np.ndarray, time: float) -> None:
        index = math.floor((time - self.offset) / self.period + 1e-9)
        if self.current is None:
            self.first = self.current = index
        elif index > self.current:
            self._close()
            while self.current + 1 < index:  # segments without frames
                self._empty()
            self.current = index
        if self.total is None:
            self.total = np.zeros_like(thumb, np.float64)
        self.total += thumb
        self.count += 1

    def _empty(self) -> None:
        self.vectors.append(np.zeros((len(self.windows), DIMENSIONS), np.float32))
        self.usable.append(np.zeros(len(self.windows), bool))
        self.current += 1

    def _close(self) -> None:
        mean = (self.total / max(self.count, 1)).astype(np.float32)
        pairs = [features(mean, w) for w in self.windows]
        self.vectors.append(np.stack([v for v, _ in pairs]))
        self.usable.append(np.array([u for _, u in pairs]))
        self.total, self.count = None, 0

    def finish(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(windows, T, DIMENSIONS) vectors, (windows, T) usable, and the first segment's start time."""
        if self.total is not None:
            self._close()
        if not self.vectors:
            return (np.zeros((len(self.windows), 0, DIMENSIONS), np.float32),
                    np.zeros((len(self.windows), 0), bool), 0.0)
        start = self.offset + (self.first or 0) * self.period
        return np.stack(self.vectors, axis=1), np.stack(self.usable, axis=1), start


class ContentSampler:
    """Collects the content fingerprint (and the query variants) of one pass of frames.

    Feed every decoded frame to :meth:`add`, in presentation order; then
    :meth:`fingerprint` gives what a registry keeps and :meth:`query` what a
    search compares. Memory holds one mean thumbnail per phase and the
    features of the segments closed so far (252 bytes a second per window).

    Examples
    --------
    >>> sampler = ContentSampler()
    >>> for i in range(50):
    ...     sampler.add(np.random.default_rng(i // 25).integers(0, 256, (72, 128), np.uint8), i / 25)
    >>> sampler.fingerprint().segments
    2
    """

    def __init__(self, *, period: float = PERIOD) -> None:
        windows = tuple(cropped_window(s) for s in SCALES)
        self.period = period
        self._phases = [_Segments(p * period, windows, period) for p in PHASES]
        self.frames = 0
        self._times: list[float] = []  # the last two presentation times, for the video's end

    def add(self, luma: np.ndarray, time: float, *, bit_depth: int = 8) -> None:
        """Add one frame: its luma plane (H, W) and presentation time in seconds."""
        self.add_thumbnail(thumbnail(luma, bit_depth=bit_depth), time)

    def add_thumbnail(self, thumb: np.ndarray, time: float) -> None:
        """Add one frame already reduced by :func:`thumbnail`."""
        for phase in self._phases:
            phase.add(thumb, time)
        self.frames += 1
        self._times = [*self._times[-1:], time]

    @property
    def end(self) -> float:
        """Time at which the last frame added ends (its start plus the frame interval before it)."""
        if not self._times:
            return 0.0
        return self._times[-1] + (self._times[-1] - self._times[0] if len(self._times) > 1 else 0.0)

    def query(self) -> Query:
        """Every phase, window and mirror a search tries."""
        finished = [phase.finish() for phase in self._phases]
        return Query(tuple(f[0] for f in finished), tuple(f[1] for f in finished),
                     tuple(f[2] for f in finished), SCALES, self.period, self.end)

    def fingerprint(self) -> Fingerprint:
        """What a registry keeps: phase 0, the :data:`ANCHOR` window."""
        vectors, usable, start = self._phases[0].finish()
        return Fingerprint.from_vectors(vectors[0], usable[0], period=self.period, start=start)


def sample(pictures: Iterable[tuple[np.ndarray, float]], *, bit_depth: int = 8) -> ContentSampler:
    """A :class:`ContentSampler` fed with (luma, time) pairs.

    Examples
    --------
    >>> frames = [(np.full((72, 128), i, np.uint8), i / 25) for i in range(25)]
    >>> sample(frames).frames
    25
    """
    sampler = ContentSampler()
    for luma, time in pictures:
        sampler.add(luma, time, bit_depth=bit_depth)
    return sampler


def sample_file(path: str | os.PathLike[str], *, progress: Progress | None = None) -> ContentSampler:
    """Decode a video once (streamed) and sample its content fingerprint.

    Raises
    ------
    watermark.VideoError
        If the video cannot be read.

    Examples
    --------
    >>> sampler = sample_file("work.mp4")  # doctest: +SKIP
    >>> sampler.fingerprint().to_bytes(), sampler.query()  # doctest: +SKIP
    """
    sampler = ContentSampler()
    for picture in read_pictures(path, progress=progress):
        sampler.add(picture.luma, picture.time, bit_depth=picture.bit_depth)
    return sampler


# --- what is kept and what is searched -----------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """A registered video's pictures: one feature vector per segment of its centre.

    Attributes
    ----------
    vectors : numpy.ndarray, shape (T, DIMENSIONS), float32
        Unit-length features per segment (zeros where ``usable`` is False).
    usable : numpy.ndarray, shape (T,), bool
        Segments with pictures that are not flat.
    period : float
        Seconds per segment.
    start : float
        Time of the first segment's start (0 for a record).
    """

    vectors: np.ndarray
    usable: np.ndarray
    period: float = PERIOD
    start: float = 0.0

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, usable: np.ndarray, *, period: float = PERIOD,
                     start: float = 0.0) -> Fingerprint:
        """A fingerprint quantised as it is stored, so a record compares the same before and after storage."""
        return cls.from_bytes(cls(np.asarray(vectors, np.float32), np.asarray(usable, bool), period, start).to_bytes())

    @property
    def segments(self) -> int:
        return len(self.vectors)

    @property
    def duration(self) -> float:
        return self.segments * self.period

    def to_bytes(self) -> bytes:
        """Compact storage: an 8-byte header, then 64 bytes per segment (63 int8 features and a flag).

        Examples
        --------
        >>> fp = Fingerprint(np.zeros((3, DIMENSIONS), np.float32), np.zeros(3, bool))
        >>> len(fp.to_bytes())
        200
        """
        quantised = np.clip(np.rint(self.vectors * _QUANT), -127, 127).astype(np.int8)
        rows = np.concatenate([quantised.view(np.uint8), self.usable.astype(np.uint8)[:, None]], axis=1)
        header = _HEADER.pack(_MAGIC, round(self.period * 1000), _VERSION)
        return header + rows.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        """Read :meth:`to_bytes`; raises ValueError for bytes that are not a fingerprint."""
        if len(data) < _HEADER.size or (len(data) - _HEADER.size) % (DIMENSIONS + 1):
            raise ValueError(f"{len(data)} bytes are not a content fingerprint")
        magic, period_ms, version = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _VERSION or not period_ms:
            raise ValueError("the bytes are not a content fingerprint of this version")
        rows = np.frombuffer(data, np.uint8, offset=_HEADER.size).reshape(-1, DIMENSIONS + 1)
        vectors = rows[:, :DIMENSIONS].view(np.int8).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        usable = rows[:, DIMENSIONS] == 1
        vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        return cls(vectors, usable & (norms[:, 0] > 0), period_ms / 1000, 0.0)


@dataclass(frozen=True)
class Query:
    """A video's pictures as a search compares them: every phase, crop window and mirror.

    Attributes
    ----------
    vectors : tuple of numpy.ndarray, one per phase, shape (len(scales), T, DIMENSIONS)
    usable : tuple of numpy.ndarray, one per phase, shape (len(scales), T)
    starts : tuple of float
        Time at which each phase's first segment starts.
    scales : tuple of float
        The crop (kept fraction of each side) each window stands for.
    period : float
    end : float or None
        Where the video's last frame ends, which bounds the spans found.
    """

    vectors: tuple[np.ndarray, ...]
    usable: tuple[np.ndarray, ...]
    starts: tuple[float, ...]
    scales: tuple[float, ...]
    period: float = PERIOD
    end: float | None = None

    def variants(self) -> Iterator[tuple[int, int, bool, np.ndarray, np.ndarray]]:
        """(phase, scale index, mirrored, vectors (T, D), usable (T,)) for every variant."""
        for p, (vectors, usable) in enumerate(zip(self.vectors, self.usable)):
            for s in range(len(self.scales)):
                for mirrored in (False, True):
                    yield p, s, mirrored, vectors[s] * MIRROR if mirrored else vectors[s], usable[s]

    @property
    def count(self) -> int:
        """Variants per segment."""
        return len(self.vectors) * len(self.scales) * 2


# --- index keys -----------------------------------------------------------------------------

#: Coefficients whose signs make each band: band b takes b, b + BANDS, b + 2 * BANDS, ...
_BAND_COEFFICIENTS = np.arange(BANDS * BAND_BITS).reshape(BAND_BITS, BANDS).T


def keys(vectors: np.ndarray) -> np.ndarray:
    """The index keys of segment feature vectors: one per band.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (T, DIMENSIONS)

    Returns
    -------
    numpy.ndarray, shape (T, BANDS), int64
        ``band << 32 | signs``, the signs of the band's coefficients as bits.

    Examples
    --------
    >>> keys(np.ones((1, DIMENSIONS), np.float32)).tolist() == [[2**24 - 1, (1 << 32) | (2**24 - 1)]]
    True
    """
    bits = np.asarray(vectors)[:, _BAND_COEFFICIENTS] > 0  # (T, BANDS, BAND_BITS)
    values = (bits.astype(np.int64) << np.arange(BAND_BITS)).sum(axis=2)
    return values | (np.arange(BANDS, dtype=np.int64) << 32)


def probe_keys(vectors: np.ndarray) -> np.ndarray:
    """Every key a query looks up: each band's key with its least certain signs flipped in all ways.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (T, DIMENSIONS)

    Returns
    -------
    numpy.ndarray, shape (T, BANDS, 2 ** PROBE_BITS), int64
        ``[..., 0]`` is :func:`keys`.
    """
    vectors = np.asarray(vectors)
    base = keys(vectors)
    weakest = np.argsort(np.abs(vectors[:, _BAND_COEFFICIENTS]), axis=2)[:, :, :PROBE_BITS]
    flips = np.zeros(base.shape + (1 << PROBE_BITS,), np.int64)
    for combination in range(1, 1 << PROBE_BITS):
        for bit in range(PROBE_BITS):
            if combination >> bit & 1:
                flips[..., combination] |= np.int64(1) << weakest[..., bit]
    return base[..., None] ^ flips


# --- comparison -----------------------------------------------------------------------------


def segment_evidence(correlation: np.ndarray | float) -> np.ndarray:
    """Evidence (nats) that a segment is the same pictures: -log of the null tail probability.

    Under the null (unrelated pictures) a segment's correlation behaves as the
    cosine between random directions in :data:`NULL_DIMENSIONS` dimensions,
    whose tail is about ``(1 - c**2) ** ((d - 1) / 2)``.

    Examples
    --------
    >>> round(float(segment_evidence(0.5)), 2)
    5.61
    """
    c = np.clip(np.asarray(correlation, np.float64), 0.0, _MAX_CREDITED)
    return -(NULL_DIMENSIONS - 1) / 2 * np.log1p(-c * c)


@dataclass(frozen=True)
class ContentMatch:
    """Where a registered work's pictures appear in a video, and how sure that is.

    Attributes
    ----------
    work : str or None
        The registered work (set by :class:`watermark.contentindex.ContentIndex`).
    false_match_probability : float
        Probability that unrelated pictures score this well anywhere in what
        was searched (every registered segment, query segment and variant);
        calibrated against the null model of :func:`segment_evidence`.
    similarity : float
        Mean correlation of the matched segments (1 for identical pictures).
    segments : int
        Matched segments.
    query_span, work_span : tuple of float
        (start, end) in seconds of the matched pictures in the video searched
        and in the registered work.
    scale : float
        The centre crop found (kept fraction of each side; 1 for none).
    mirrored : bool
        The video is the work flipped left to right.
    """

    work: str | None
    false_match_probability: float
    similarity: float
    segments: int
    query_span: tuple[float, float]
    work_span: tuple[float, float]
    scale: float
    mirrored: bool

    @property
    def matches(self) -> bool:
        """The false-match probability is at most :data:`MAX_FALSE_MATCH`."""
        return self.false_match_probability <= MAX_FALSE_MATCH

    @property
    def score(self) -> float:
        """-log10 of the false-match probability: 6 is one chance in a million."""
        return -math.log10(max(self.false_match_probability, 1e-300))

    def to_dict(self) -> dict:
        return {"work": self.work, "matches": self.matches, "score": round(self.score, 2),
                "false_match_probability": float(f"{self.false_match_probability:.3g}"),
                "similarity": round(self.similarity, 4), "segments": self.segments,
                "query_span": [round(t, 3) for t in self.query_span],
                "work_span": [round(t, 3) for t in self.work_span],
                "scale": self.scale, "mirrored": self.mirrored}


@dataclass(frozen=True)
class _Run:
    evidence: float
    first: int  # query segment
    last: int
    matched: int
    similarity: float


def _best_run(correlations: np.ndarray, comparable: np.ndarray, vectors: np.ndarray) -> _Run | None:
    """The contiguous query segments on one alignment that give the most evidence.

    A segment below :data:`MATCH_CORRELATION` ends a run; flat or unrecorded
    segments neither end nor extend one. A segment adds only the part of its
    evidence that earlier matched segments of the run do not already explain
    (a still picture is one piece of evidence, however long it lasts).
    """
    best: _Run | None = None
    start, evidence, matched, total, seen = 0, 0.0, 0, 0.0, []
    for j in range(len(correlations) + 1):
        if j < len(correlations) and not comparable[j]:
            continue
        if j == len(correlations) or correlations[j] < MATCH_CORRELATION:
            if matched and (best is None or evidence > best.evidence):
                best = _Run(evidence, start, last, matched, total / matched)
            start, evidence, matched, total, seen = j + 1, 0.0, 0, 0.0, []
            continue
        novelty = 1.0 - max((float(vectors[j] @ vectors[k]) ** 2 for k in seen), default=0.0)
        evidence += float(segment_evidence(correlations[j])) * max(novelty, 0.0)
        matched, total, last = matched + 1, total + float(correlations[j]), j
        seen.append(j)
    return best


def compare(reference: Fingerprint, query: Query, *, searched_segments: int | None = None,
            alignments: Iterable[tuple[int, int, bool, int]] | None = None) -> ContentMatch | None:
    """Find a registered fingerprint's pictures in a video, at the best crop, mirror and time offset.

    Parameters
    ----------
    reference : Fingerprint
        The registered work.
    query : Query
        The video searched (:meth:`ContentSampler.query`).
    searched_segments : int, optional
        Registered segments the search ran over, for the false-match
        probability (default: those of ``reference`` alone).
    alignments : iterable of (phase, scale index, mirrored, offset), optional
        Only these alignments (offset = reference segment - query segment),
        as an index proposes them; default: every one.

    Returns
    -------
    ContentMatch or None
        The best run of matching segments, or None when no segment matches.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frames = [(rng.integers(0, 256, (9, 16)).repeat(8, 0).repeat(8, 1).astype(np.uint8), t / 10)
    ...           for t in range(40) for _ in range(1)]
    >>> sampler = sample(frames)
    >>> compare(sampler.fingerprint(), sampler.query()).matches
    True
    """
    wanted: dict[tuple[int, int, bool], set[int]] | None = None
    if alignments is not None:
        wanted = {}
        for phase, scale, mirrored, offset in alignments:
            wanted.setdefault((phase, scale, mirrored), set()).add(offset)
    best: tuple[_Run, int, int, bool, int] | None = None
    for phase, scale, mirrored, vectors, usable in query.variants():
        if wanted is not None and (phase, scale, mirrored) not in wanted:
            continue
        table = reference.vectors @ vectors.T  # [reference segment, query segment]
        comparable = reference.usable[:, None] & usable[None, :]
        hits = np.nonzero(comparable & (table >= MATCH_CORRELATION))
        offsets = set((hits[0] - hits[1]).tolist())
        if wanted is not None:
            offsets &= wanted[phase, scale, mirrored]
        for offset in sorted(offsets):
            j = np.arange(max(0, -offset), min(len(usable), len(reference.usable) - offset))
            run = _best_run(table[j + offset, j], comparable[j + offset, j], vectors[j])
            if run is not None and (best is None or run.evidence > best[0].evidence):
                run = replace(run, first=int(j[run.first]), last=int(j[run.last]))
                best = (run, phase, scale, mirrored, offset)
    if best is None:
        return None
    run, phase, scale, mirrored, offset = best
    searched = searched_segments if searched_segments is not None else int(reference.usable.sum())
    tries = max(1, searched) * max(1, sum(int(u.sum()) for *_, u in query.variants()))
    probability = min(1.0, tries * math.exp(-run.evidence))
    start = max(0.0, query.starts[phase] + run.first * query.period)
    end = query.starts[phase] + (run.last + 1) * query.period
    if query.end is not None:
        end = max(start, min(end, query.end))
    shift = offset * reference.period - query.starts[phase]
    return ContentMatch(None, probability, run.similarity, run.matched, (start, end),
                        (max(0.0, start + shift), end + shift), query.scales[scale], mirrored)
