"""Blind detection: accumulate evidence over frames, find the tile, read the id.

Each frame is brought to a working resolution where a cell is three pixels
(the shorter side becomes 288 pixels), whitened (local high-pass, divided by
the local energy, clipped), and added to the running sum of its time span.
Static content aside, the pictures average out while the mark adds up.

The embedder carries the pattern along with the content's motion
(:mod:`watermark.motion`), so each frame's evidence is also moved back by
the motion the detector measures on the pictures it receives. To keep the
evidence inside the frame, the motion is taken modulo one tile at the
nominal scale, and the whole tiles taken off (the frame's ``wrap``) are
kept: evidence of different wraps is summed apart and, at each scale
searched, shifted by what a whole tile is at that scale before it is
combined (exactly nothing for a video that was only rescaled). The evidence
not moved is kept too, and searched as a second view when the content moved:
the two sides decide to follow the motion each on its own pictures, and
where they decided differently, the mark may be where it was.

The search has two stages. The first is key-independent: at each of 450
scales (0.5x to 3x: crops, reframing, small pictures) the evidence is folded
modulo the tile, and the scales where the fold gathers more in-band energy
than the pictures hold (a pattern repeating with the tile adds up; pictures
do not) are kept, the six highest peaks with two neighbours each. The second
is keyed: at those scales, for both mirror images, the fold is correlated by
FFT with the synchronisation chips of each of the key's 64 sign layouts
(:data:`watermark.pattern.LAYOUTS`), which tests every cyclic shift at once.

The score of a hypothesis is ``z = sum(s_c * y_c) / sqrt(sum(y_c**2))`` over
the synchronisation cells ``c``, with ``y`` the matched-filter output and
``s_c`` the layout's chips. For any video not marked with this key the chips
are independent of ``y`` and of the scales the first stage chose (which
never saw the key): given the evidence, ``z`` is a sum of random signs with
weights of unit norm, whatever the content. For such sums Hoeffding's
inequality gives ``P(z >= t) <= exp(-t**2 / 2)``, and Bentkus and
Dzindzalieta's (Bernoulli 21(2), 2015) ``P(z >= t) <= c P(N(0, 1) >= t)``,
``c = 1 / (4 P(N(0, 1) >= sqrt 2)) ~ 3.18`` the smallest constant for which
it holds; the smaller of the two bounds each hypothesis tried (the second
is five times tighter at the scores that decide, 6 to 7). The
payload chips are disjoint from the synchronisation chips; the list decoder
accepts noise with probability at most ``8 * 2**-24`` (see
:mod:`watermark.payload`), and the identifier it returns must be one that
the layout found carries (probability 1/64 for noise). So the probability of
a false detection is at most ``hypotheses * tail(z) * 8 * 2**-24 / 64``
with an identifier, or without the last two factors when the
identifier cannot be read, ``hypotheses`` counting what the second stage
tried (views x scales x mirror images x 96 x 96 x 64: every cyclic shift of
the tile at the working resolution). That is the number reported. A
detection with an identifier also needs the synchronisation alone to be
significant (bound at most ``MAX_SYNC_FALSE_ALARM`` without those factors),
so that no detection rests on the CRC alone: content that happens to
correlate with the key's synchronisation chips cannot turn a lucky CRC into
a mark.
"""

from __future__ import annotations

import math
import os
import time as clock
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

import watermark.pattern as pattern
from watermark.keys import DEFAULT_KEY, Key
from watermark.motion import DETECTOR_CENTRE, MotionTracker
from watermark.pattern import BAND, LAYOUTS, TILE_CELLS, cell_size, in_band, layout, layout_of
from watermark.payload import CRC_PASS_PROBABILITY, decode_soft, format_identifier
from watermark.video import Picture, Progress, read_pictures

#: Pixels a cell spans at the working resolution.
WORKING_CELL = 3
TILE = TILE_CELLS * WORKING_CELL
ALL_CELLS = np.arange(TILE_CELLS * TILE_CELLS)
#: Default bound on the probability of a false detection per video.
MAX_FALSE_ALARM = 1e-6
#: Bound the synchronisation must reach on its own, whatever the CRC says.
MAX_SYNC_FALSE_ALARM = 1e-2
#: Scales searched: the pattern may appear this much smaller or larger.
SCALE_RANGE = (0.5, 3.0)
SCALE_STEP = 1.004
#: Scales the keyed search tries: the highest peaks of the key-independent comb statistic, each with
#: its neighbours (see :func:`_comb_peaks`).
SCALE_PEAKS = 6
_PEAK_WIDTH = 2
_DETREND = 12
_HIGHPASS_SIGMA = 1.5
_ENERGY_SIGMA = 3.0
_CLIP = 3.0
#: Energy floor (squared 8-bit levels): low, so flat areas, where smooth
#: generated video keeps most of its mark, still count.
_ENERGY_FLOOR = 0.05
_ASSUMED_RATE = 25.0
#: Evidence weight by how the source coded a frame. An intra frame is coded
#: from the marked picture itself, at the lowest quantiser; predicted and
#: bidirectional frames mostly copy their references along the content's
#: motion, so after a low-bit-rate re-encode of moving content their mark has
#: been dragged away from where it was embedded (a slow pan at 360p: the one
#: intra frame reads at z 7.4, all 150 frames with intra weighted 4 at 4.4).
CODING_WEIGHTS = {"I": 32.0, "P": 2.0, "B": 1.0}


def whiten(luma: np.ndarray, *, bit_depth: int = 8) -> np.ndarray:
    """Bring a luma plane to the working resolution and whiten it.

    Parameters
    ----------
    luma : numpy.ndarray, shape (H, W), uint8 or uint16
        A luma plane.
    bit_depth : int
        Bits per sample.

    Returns
    -------
    numpy.ndarray of float32
        Shorter side 288 pixels (or the input's, if shorter), locally
        zero-mean and unit-energy.
    """
    factor = WORKING_CELL / cell_size(*luma.shape)
    if factor < 1:
        small = cv2.resize(luma, (0, 0), fx=factor, fy=factor, interpolation=cv2.INTER_AREA).astype(np.float32)
    else:  # the smallest cells (pattern.MIN_CELL) are working cells already
        small = luma.astype(np.float32)
    if bit_depth != 8:
        small *= 1.0 / (1 << (bit_depth - 8))
    high = small - cv2.GaussianBlur(small, (0, 0), _HIGHPASS_SIGMA)
    energy = cv2.GaussianBlur(high * high, (0, 0), _ENERGY_SIGMA)
    white = high / np.sqrt(energy + _ENERGY_FLOOR)
    return np.clip(white, -_CLIP, _CLIP, out=white)


Wrap = tuple[int, int]


@dataclass(frozen=True)
class FrameEvidence:
    """One frame, whitened and weighted by its coding, in the views the detector searches.

    Attributes
    ----------
    views : tuple of (numpy.ndarray, (int, int))
        The frame's whitened image (float32, at the working resolution, see
        :func:`whiten`) where it is, and moved back along the content's
        motion as the detector measured it, each with its wrap: the whole
        tiles (x, y) at the nominal scale taken off the motion to keep the
        image in the frame. When the detector has not followed any motion,
        the moved image is the same array as the first.
    time : float
        Presentation time in seconds.
    """

    views: tuple[tuple[np.ndarray, Wrap], ...]
    time: float


class EvidenceStream:
    """Turns a video's pictures, in display order, into :class:`FrameEvidence`.

    The same for every key, so detecting several keys needs it once a frame
    (one stream per video: it follows the motion from frame to frame).
    """

    def __init__(self) -> None:
        self._tracker = MotionTracker(DETECTOR_CENTRE)

    def add(self, picture: Picture) -> FrameEvidence:
        white = whiten(picture.luma, bit_depth=picture.bit_depth)
        weight = CODING_WEIGHTS.get(picture.coding, 1.0)
        if weight != 1.0:
            white *= weight
        travel = self._tracker.update_picture(picture) * (white.shape[0] / picture.luma.shape[0])
        wrap = np.round(travel / TILE)
        rest = travel - wrap * TILE
        moved = white
        if rest.any():
            matrix = np.float32([[1, 0, rest[0]], [0, 1, rest[1]]])
            moved = cv2.warpAffine(white, matrix, white.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        return FrameEvidence(((white, (0, 0)), (moved, (int(wrap[0]), int(wrap[1])))), picture.time)


def _fold(image: np.ndarray, tile: int = TILE) -> np.ndarray:
    """Sum an image modulo the tile (``tile`` pixels)."""
    height, width = image.shape
    padded = np.zeros((-(-height // tile) * tile, -(-width // tile) * tile), np.float32)
    padded[:height, :width] = image
    return padded.reshape(padded.shape[0] // tile, tile, padded.shape[1] // tile, tile).sum(axis=(0, 2))


def _scales(scale_range: tuple[float, float]) -> np.ndarray:
    low, high = scale_range
    count = int(math.ceil(math.log(high / low) / math.log(SCALE_STEP))) + 1
    return low * SCALE_STEP ** np.arange(count)


def _rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """Resample so that a pattern ``scale`` times too large has its nominal size."""
    method = cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (0, 0), fx=1 / scale, fy=1 / scale, interpolation=method)


@lru_cache(maxsize=2)
def _grid(tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For a fold of ``tile`` pixels: its frequencies (cycles a tile, rows and rfft columns), the band
    the pattern fills (no DC), and the weight of each rfft column (two coefficients but the first)."""
    rows, columns = np.fft.fftfreq(tile, 1 / tile)[:, None], np.fft.rfftfreq(tile, 1 / tile)[None, :]
    band = in_band(rows, columns).astype(float)
    return rows, columns, band, np.where(columns == 0, 1.0, 2.0)


def _spectrum(groups: dict[Wrap, np.ndarray], scale: float, flipped: bool, tile: int = TILE) -> np.ndarray:
    """Spectrum of the folded evidence at one scale and mirroring, wrap groups brought together.

    A group of wrap ``k`` holds the evidence ``k`` nominal tiles off; at
    ``scale`` that is ``k / scale`` tiles, so its fold is shifted back by
    the fraction (a phase ramp: sub-pixel and exact for a cyclic shift).
    """
    total = None
    for (wrap_x, wrap_y), image in groups.items():
        if flipped:
            image, wrap_x = image[:, ::-1], -wrap_x
        spectrum = np.fft.rfft2(_fold(_rescale(image, scale), tile))
        if wrap_x or wrap_y:
            rows, columns, _, _ = _grid(tile)
            spectrum = spectrum * np.exp(2j * np.pi * (rows * wrap_y + columns * wrap_x) / scale)
        total = spectrum if total is None else total + spectrum
    return total


def _filtered(spectrum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matched-filter output (the band the pattern fills) and its spectrum, from the folded evidence's spectrum:
    the same for every key."""
    spectrum = spectrum * _grid(TILE)[2]
    return np.fft.irfft2(spectrum, s=(TILE, TILE)), spectrum


class _Templates:
    """The key's synchronisation chips of every sign layout, in the Fourier domain of the tile."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.layouts = [layout(key, number) for number in range(LAYOUTS)]
        cells = self.layouts[0].sync_cells  # the positions are the key's, the signs each layout's
        rows, cols = np.divmod(cells, TILE_CELLS)
        impulses = np.zeros((LAYOUTS, TILE, TILE))
        impulses[:, rows * WORKING_CELL, cols * WORKING_CELL] = [lay.sync_signs for lay in self.layouts]
        # single precision (twice as fast), and only the rfft columns the band fills: the evidence's spectrum
        # is zero beyond them, so the inverse transform of the rows need not visit the rest
        self.sync = np.conj(np.fft.rfft2(impulses)[..., :BAND + 1]).astype(np.complex64)
        self.sync_power = np.conj(np.fft.rfft2(np.abs(impulses[0])))
        self.sync_signs = np.stack([lay.sync_signs for lay in self.layouts])

    def scores(self, response: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
        """z for every sign layout and cyclic shift (layouts x TILE x TILE, float32), from :func:`_filtered`'s
        output."""
        product = spectrum[:, :BAND + 1].astype(np.complex64)[None] * self.sync
        numerators = np.fft.irfft(np.fft.ifft(product, axis=-2), n=TILE, axis=-1)
        power = np.fft.irfft2(np.fft.rfft2(response * response) * self.sync_power, s=(TILE, TILE))
        numerators *= (1.0 / np.sqrt(np.maximum(power, 1e-12))).astype(np.float32)
        return numerators

    @staticmethod
    def cell_values(response: np.ndarray, shift: tuple[int, int], cells: np.ndarray = ALL_CELLS) -> np.ndarray:
        rows, cols = np.divmod(cells, TILE_CELLS)
        return response[(rows * WORKING_CELL + shift[0]) % TILE, (cols * WORKING_CELL + shift[1]) % TILE]

    def scores_of(self, values: np.ndarray) -> np.ndarray:
        """z of every sign layout, from cell values (every cell, last axis) at one alignment: the layouts share
        the synchronisation cells' positions, not their signs."""
        sync = values[..., self.layouts[0].sync_cells]
        norms = np.maximum(np.linalg.norm(sync, axis=-1, keepdims=True), 1e-12)
        return (sync @ self.sync_signs.T) / norms

    def identifier(self, response: np.ndarray, shift: tuple[int, int], number: int) -> int | None:
        """The identifier the payload of sign layout ``number`` decodes to, if it is one that layout carries."""
        return self.decode(self.cell_values(response, shift), number)

    def decode(self, values: np.ndarray, number: int) -> int | None:
        """:meth:`identifier` from the values of every cell at the alignment."""
        lay = self.layouts[number]
        soft = np.bincount(lay.payload_bits, weights=values[lay.payload_cells] * lay.payload_signs,
                           minlength=lay.payload_bits.max() + 1)
        identifier = decode_soft(soft)
        return identifier if identifier is not None and layout_of(self.key, identifier) == number else None


@lru_cache(maxsize=8)
def _templates(key: Key) -> _Templates:
    return _Templates(key)


def _comb_peaks(groups: dict[Wrap, np.ndarray], scales: np.ndarray, peaks: int) -> np.ndarray:
    """Indices of the scales at which the evidence is periodic with the tile: where a pattern adds up.

    Key-independent, so the keyed search runs at these scales only and its
    false-alarm bound counts only the hypotheses tried there: the choice of
    scales cannot favour any key's chips. Folding pictures that do not
    repeat with the tile keeps their in-band energy (the tiles add
    incoherently); a pattern that repeats adds up, so the fold holds more
    than the pictures (Parseval, on the evidence's own spectrum, read once).
    The ratio is compared with its median over nearby scales, and the
    ``peaks`` highest local maxima are kept with their neighbours. Computed
    at half the working resolution (the band is under a third of the half
    tile's Nyquist), a quarter of the cost.
    """
    tile = TILE // 2
    groups = {wrap: cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
              for wrap, image in groups.items()}
    _, _, band, weight = _grid(tile)
    total = sum(groups.values())
    power = np.abs(np.fft.rfft2(total)) ** 2 * np.where(np.arange(total.shape[1] // 2 + 1) == 0, 1.0, 2.0)[None, :]
    power[0, 0] = 0.0
    rows, columns = np.abs(np.fft.fftfreq(total.shape[0]))[:, None], np.fft.rfftfreq(total.shape[1])[None, :]
    outer = _cumulative(power, np.maximum(rows, columns), total.size)
    inner = _cumulative(power, np.hypot(rows, columns), total.size)
    ratios = []
    for scale in scales:
        folded = np.sum(np.abs(_spectrum(groups, scale, False, tile)) ** 2 * band * weight) / (tile * tile)
        pictures = (outer(BAND / (tile * scale)) - inner(pattern.LOW_BAND / (tile * scale))) / (scale * scale)
        ratios.append(folded / max(pictures, 1e-30))
    ratio = np.array(ratios)
    count = len(ratio)
    lift = ratio / np.maximum([np.median(ratio[max(0, i - _DETREND):i + _DETREND + 1]) for i in range(count)], 1e-30)
    maxima = [i for i in range(count) if lift[i] >= lift[max(0, i - 1)] and lift[i] >= lift[min(count - 1, i + 1)]]
    chosen = sorted(maxima, key=lambda i: -lift[i])[:peaks]
    return np.unique([j for i in chosen for j in range(max(0, i - _PEAK_WIDTH), min(count, i + _PEAK_WIDTH + 1))])


def _cumulative(power: np.ndarray, radius: np.ndarray, size: int) -> Callable[[float], float]:
    """The power (over ``size``) of the frequencies at or within a radius, as a function of the radius."""
    order = np.argsort(radius, axis=None)
    radii, cumulative = radius.ravel()[order], np.cumsum(power.ravel()[order]) / size

    def within(limit: float) -> float:
        inside = np.searchsorted(radii, limit, side="right")
        return float(cumulative[inside - 1]) if inside else 0.0

    return within


#: A hypothesis the keyed search kept: (score, scale, mirrored, shift, matched-filter response).
_Alignment = tuple[float, float, bool, tuple[int, int], np.ndarray]


@dataclass(frozen=True)
class Span:
    """Evidence for one stretch of time, at the alignment found for the video: the score of the identifier
    whose mark reads best there (of those the video carries), and that identifier when the span is marked."""

    start: float
    end: float
    frames: int
    score: float
    marked: bool
    identifier: str | None = None


@dataclass(frozen=True)
class Mark:
    """One identifier a video's mark carries, the stretch of time its evidence was found over, and the bound
    on the probability that a video without it would show it there."""

    identifier: str
    key_id: str
    score: float
    start: float
    end: float
    false_alarm_probability: float


@dataclass(frozen=True)
class Detection:
    """What the detector found in a video.

    Attributes
    ----------
    detected : bool
        The mark is present: ``false_alarm_probability <= max_false_alarm``.
    identifier : str or None
        The 64-bit identifier as 16 lowercase hex digits, when it decoded.
    false_alarm_probability : float
        Upper bound on the probability that a video without this key's mark
        scores this high, over every hypothesis searched.
    frames_analyzed : int
    score : float
        The synchronisation z-score of the best hypothesis.
    scale : float
        How much larger the pattern appears than where it was embedded.
    flipped : bool
        Whether the video appears mirrored left to right.
    hypotheses : int
        Number of alignments searched (scales x flips x shifts).
    spans : list of Span
    others : list of Mark
        Further identifiers of the same key at the video's alignment, each
        over the stretch of time where its evidence is strongest: a splice
        of marked videos, or marked copies mixed together (see
        :meth:`Detector.results`).
    seconds : float
        Time taken by the analysis.
    """

    detected: bool
    identifier: str | None
    false_alarm_probability: float
    frames_analyzed: int
    score: float
    scale: float
    flipped: bool
    hypotheses: int
    key_id: str
    spans: list[Span] = field(default_factory=list)
    others: list[Mark] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def marks(self) -> list[Mark]:
        """Every identifier found, this detection's first (over the spans that read it), then :attr:`others`."""
        if self.identifier is None:
            return []
        own = [span for span in self.spans if span.identifier == self.identifier] or self.spans
        start, end = (own[0].start, own[-1].end) if own else (0.0, 0.0)
        return [Mark(self.identifier, self.key_id, self.score, start, end, self.false_alarm_probability),
                *self.others]

    def to_dict(self) -> dict:
        """Plain data for JSON (``identifier``, and ``frames`` for the frames analysed, as every command names them)."""
        data = asdict(self)
        data["frames"] = data.pop("frames_analyzed")
        return {"detected": data.pop("detected"), "identifier": data.pop("identifier"), **data}


#: The smallest ``c`` with ``P(sum a_i e_i >= t) <= c P(N(0, 1) >= t)`` for random signs ``e_i`` and
#: ``sum a_i**2 <= 1`` (Bentkus and Dzindzalieta 2015): ``1 / (4 P(N(0, 1) >= sqrt 2))``, 3.178.
_SIGN_SUM_CONSTANT = 1.0 / (2.0 * math.erfc(1.0))


def _log_tail(score: float) -> float:
    """Log of a bound on ``P(z >= score)`` for one hypothesis of a video without the key's mark (module docstring):
    the smaller of Hoeffding's and Bentkus and Dzindzalieta's, never above 0."""
    if score <= 0:
        return 0.0
    gaussian = 0.5 * math.erfc(score / math.sqrt(2.0))
    if gaussian > 0:
        log_gaussian = math.log(gaussian)
    else:  # beyond double precision (z > 37): Mills' ratio, P(N >= t) <= pdf(t) / t
        log_gaussian = -score * score / 2 - math.log(score * math.sqrt(2 * math.pi))
    return min(0.0, -score * score / 2, math.log(_SIGN_SUM_CONSTANT) + log_gaussian)


def score_needed(hypotheses: float, probability: float) -> float:
    """The synchronisation score at which ``hypotheses`` searched have a false-alarm bound of ``probability``
    (without the identifier's factors): the smallest ``z`` with ``hypotheses * tail(z) <= probability``."""
    target = math.log(probability) - math.log(hypotheses)
    low, high = 0.0, math.sqrt(2 * max(-target, 0.0)) + 1e-9  # Hoeffding's score: the tail is at most its bound
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if _log_tail(middle) <= target else (middle, high)
    return high


def _false_alarm(score: float, hypotheses: int, with_identifier: bool) -> float:
    log_p = math.log(hypotheses) + _log_tail(score)
    if with_identifier:  # the CRC passed, and the identifier is one the sign layout found carries
        log_p += math.log(CRC_PASS_PROBABILITY / LAYOUTS)
    return math.exp(min(0.0, log_p))


def _verdict(score: float, hypotheses: int, with_identifier: bool, max_false_alarm: float) -> tuple[float, bool]:
    """The false-alarm bound of the best hypothesis, and whether it is a detection: the bound at most
    ``max_false_alarm`` and the synchronisation significant on its own (:data:`MAX_SYNC_FALSE_ALARM`)."""
    probability = _false_alarm(score, hypotheses, with_identifier)
    sync_alone = _false_alarm(score, hypotheses, False)
    return probability, probability <= max_false_alarm and sync_alone <= max(MAX_SYNC_FALSE_ALARM, max_false_alarm)


class Detector:
    """Streaming detector: feed frames with :meth:`add`, then call :meth:`result`.

    Memory stays bounded however long the video: evidence is kept per time
    span, and when there would be more than ``max_spans`` spans, neighbours
    merge and the span length doubles.

    Given several keys, it gathers the evidence once and shares every step of
    the search that no key changes (the scale statistic, the folded
    spectra and the matched filter): each further key adds only its
    correlation with the chips, and :meth:`results` reads every key. The
    evidence is the same for every key, so a caller may narrow ``keys``
    between two reads (to stop searching keys it has settled after the
    first seconds, say).

    ``scale_range`` bounds the scales searched (how much larger the pattern
    appears than where it was embedded). The default covers crops and
    reframing; a caller that knows the pictures were not reframed (a source
    about to be marked) searches near 1 and pays a fraction of the search,
    with a bound that counts only the hypotheses searched. ``scale_peaks``
    is how many peaks of the key-independent statistic the keyed search
    tries (:func:`_comb_peaks`). ``mirrored=False`` leaves mirror images
    out, for the same kind of caller: half the search.

    Examples
    --------
    >>> detector = Detector(key)                      # doctest: +SKIP
    >>> for luma, t in frames:                        # doctest: +SKIP
    ...     detector.add(luma, time=t)
    >>> detector.result().identifier                  # doctest: +SKIP
    >>> provider, public = Detector([key, DEFAULT_KEY]).results()  # doctest: +SKIP
    """

    def __init__(self, key: Key | Sequence[Key], *, span_seconds: float = 1.0, max_spans: int = 32,
                 max_false_alarm: float = MAX_FALSE_ALARM,
                 scale_range: tuple[float, float] = SCALE_RANGE, scale_peaks: int = SCALE_PEAKS,
                 mirrored: bool = True) -> None:
        self.keys: tuple[Key, ...] = (key,) if isinstance(key, Key) else tuple(key)
        if not self.keys:
            raise ValueError("a Detector needs at least one key")
        self.scale_range = scale_range
        self.scale_peaks = scale_peaks
        self.flips = (False, True) if mirrored else (False,)
        self.span_seconds = span_seconds
        self.max_spans = max_spans
        self.max_false_alarm = max_false_alarm
        self._spans: dict[int, _SpanSum] = {}
        self._shape: tuple[int, int] | None = None
        self._frames = 0
        self._stream: EvidenceStream | None = None
        self._moved: list[bool] = []
        self._started = clock.perf_counter()

    def add(self, luma: np.ndarray, *, time: float | None = None, bit_depth: int = 8) -> None:
        """Add one frame's luma plane, in display order (``time`` in seconds; 25 fps assumed if None)."""
        if time is None:
            time = self._frames / _ASSUMED_RATE
        self.add_picture(Picture([luma], bit_depth, time, self._frames))

    def add_picture(self, picture: Picture) -> None:
        """Add a decoded :class:`~watermark.video.Picture`, in display order."""
        if self._stream is None:
            self._stream = EvidenceStream()
        self.add_evidence(self._stream.add(picture))

    def add_evidence(self, evidence: FrameEvidence) -> None:
        """Add a frame's :class:`FrameEvidence` (from an :class:`EvidenceStream`).

        Lets a caller that detects several keys whiten each frame once; the
        images are not modified or kept.
        """
        views = evidence.views
        still = views[0][0]
        if self._shape is None:
            self._shape = still.shape
            self._moved = [False] * len(views)
        elif still.shape != self._shape:
            views = tuple((cv2.resize(image, self._shape[::-1], interpolation=cv2.INTER_LINEAR), wrap)
                          for image, wrap in views)
        for number, (image, _) in enumerate(evidence.views):
            self._moved[number] = self._moved[number] or image is not still
        index = int(evidence.time // self.span_seconds)
        span = self._spans.get(index)
        if span is None:
            span = self._spans[index] = _SpanSum([{} for _ in views])
        span.add(views)
        self._frames += 1
        if len(self._spans) > self.max_spans:
            self._merge_spans()

    def add_sums(self, views: Sequence[dict[Wrap, np.ndarray]]) -> None:
        """Add a video's evidence already summed per view and wrap (as a resolver receives it).

        ``views[0]`` is the still view (its one wrap is (0, 0)); an empty
        moving view is one whose follower never moved, and is not searched.
        """
        still = views[0][(0, 0)]
        if self._shape is None:
            self._shape = still.shape
            self._moved = [False] * len(views)
        received = [{wrap: image.astype(np.float32, copy=True) for wrap, image in view.items()} for view in views]
        self._spans.setdefault(0, _SpanSum([{} for _ in views])).merge(_SpanSum(received, frames=1))
        for number, view in enumerate(views):
            self._moved[number] = self._moved[number] or (number > 0 and bool(view))
        self._frames += 1

    def _merge_spans(self) -> None:
        self.span_seconds *= 2
        merged: dict[int, _SpanSum] = {}
        for index in sorted(self._spans):
            span = self._spans[index]
            target = merged.get(index // 2)
            if target is None:
                merged[index // 2] = span
            else:
                target.merge(span)
        self._spans = merged

    def result(self) -> Detection:
        """What the first key found (the only one, for a detector of one key): :meth:`results` reads them all."""
        return self.results()[0]

    def results(self) -> list[Detection]:
        """Search the alignments and report the best one for each key, in the order the keys were given.

        Two views of the evidence are searched when the content moved: moved
        back along the motion the detector measured (where the embedder put
        the mark, when both measured alike) and still (where a mark that
        did not follow the content is). In each, the scales searched with
        the key are the peaks of a key-independent statistic
        (:func:`_comb_peaks`); at each, both mirror images (unless the
        detector was made with ``mirrored=False``), every cyclic shift and
        every sign layout are tried, and the bound counts exactly
        those hypotheses (the same for every key).
        """
        templates = [_templates(key) for key in self.keys]
        if not self._spans:
            return [Detection(False, None, 1.0, 0, 0.0, 1.0, False, 0, key.key_id,
                              seconds=clock.perf_counter() - self._started) for key in self.keys]
        scales = _scales(self.scale_range)
        hypotheses = 0
        views = [number for number, moved in enumerate(self._moved) if moved or number == 0]
        # Per key, per view and sign layout: the best (score, scale, mirrored, shift) found, and its response.
        found: list[dict[tuple[int, int], _Alignment]] = [{} for _ in self.keys]
        for view in views:
            groups: dict[Wrap, np.ndarray] = {}
            for span in self._spans.values():
                for wrap, image in span.views[view].items():
                    groups[wrap] = groups[wrap] + image if wrap in groups else image
            chosen = _comb_peaks(groups, scales, self.scale_peaks)
            hypotheses += len(self.flips) * len(chosen) * TILE * TILE * LAYOUTS
            for flipped in self.flips:
                for index in chosen:
                    response, spectrum = _filtered(_spectrum(groups, scales[index], flipped))
                    for alignments, template in zip(found, templates):
                        scores = template.scores(response, spectrum)
                        peaks = scores.reshape(LAYOUTS, -1).argmax(axis=1)
                        for number in range(LAYOUTS):
                            value = float(scores[number].flat[peaks[number]])
                            if value > alignments.get((view, number), (-np.inf,))[0]:
                                row, column = divmod(int(peaks[number]), TILE)
                                alignments[(view, number)] = (value, float(scales[index]), flipped, (row, column),
                                                              response)
        return [self._detection(template, alignments, hypotheses, views)
                for template, alignments in zip(templates, found)]

    def _detection(self, templates: _Templates, alignments: dict[tuple[int, int], _Alignment], hypotheses: int,
                   views: list[int]) -> Detection:
        """One key's verdict from the best alignment its search found."""
        (view, number), (score, scale, flipped, shift, response) = max(alignments.items(), key=lambda a: a[1][0])
        identifier = templates.identifier(response, shift, number)
        probability, detected = _verdict(score, hypotheses, identifier is not None, self.max_false_alarm)
        values = self._span_values(templates, {v: alignments[(v, number)][1:4] for v in views})
        others = self._others(templates, values, number, identifier) if detected and identifier is not None else []
        layouts = [number] + [layout_of(templates.key, int(mark.identifier, 16)) for mark in others]
        # per span and identifier found: the score of its sign layout, in the better view
        scores = templates.scores_of(values)[..., layouts].max(axis=1)
        threshold = score_needed(values.shape[0] * values.shape[1] * len(layouts), self.max_false_alarm)
        others = [self._extent(mark, scores[:, column], threshold) for column, mark in enumerate(others, start=1)]
        names = [format_identifier(identifier) if identifier is not None else None] + [m.identifier for m in others]
        return Detection(
            detected=detected,
            identifier=format_identifier(identifier) if detected and identifier is not None else None,
            false_alarm_probability=probability,
            frames_analyzed=self._frames,
            score=score,
            scale=scale,
            flipped=flipped,
            hypotheses=hypotheses,
            key_id=templates.key.key_id,
            spans=self._span_scores(scores, threshold, names, detected),
            others=others,
            seconds=clock.perf_counter() - self._started,
        )

    def _span_values(self, templates: _Templates,
                     alignments: dict[int, tuple[float, bool, tuple[int, int]]]) -> np.ndarray:
        """Every cell's matched-filter value, per span (in time order) and view, at the video's alignment in that
        view: shape (spans, views, cells). The embedder may have followed the content's motion in one stretch
        and not in another, where the detector decided otherwise, so each stretch may read in either view."""
        return np.array([[templates.cell_values(_filtered(_spectrum(self._spans[index].views[view], scale, flipped))[0],
                                                shift) for view, (scale, flipped, shift) in alignments.items()]
                         for index in sorted(self._spans)])

    def _span_scores(self, scores: np.ndarray, threshold: float, identifiers: list[str | None],
                     detected: bool) -> list[Span]:
        """Each span with the identifier that reads best there (``scores``: spans x identifiers), marked at
        ``threshold`` (one hypothesis per span, view and identifier)."""
        spans = []
        for (index, span), row in zip(sorted(self._spans.items()), scores):
            best = int(row.argmax())
            marked = detected and row[best] >= threshold
            spans.append(Span(start=index * self.span_seconds, end=(index + 1) * self.span_seconds,
                              frames=span.frames, score=float(row[best]), marked=marked,
                              identifier=identifiers[best] if marked else None))
        return spans

    def _extent(self, mark: Mark, scores: np.ndarray, threshold: float) -> Mark:
        """``mark`` over the first to the last span its own score marks (two copies mixed: every span), or over
        the run it was found on when no single span is strong enough."""
        marked = [index for index, score in zip(sorted(self._spans), scores) if score >= threshold]
        if not marked:
            return mark
        return replace(mark, start=marked[0] * self.span_seconds, end=(marked[-1] + 1) * self.span_seconds)

    def _others(self, templates: _Templates, values: np.ndarray, number: int, identifier: int) -> list[Mark]:
        """Identifiers of the other sign layouts that a stretch of the video carries, at its alignment.

        A splice of two marked videos, or two marked copies averaged, holds
        two identifiers of one key, each (nearly always) with its own sign
        layout. Every run of consecutive spans, in each view, is scored
        with each other layout's chips (the sums of the spans' values: the
        matched filter is linear), and the best run of each layout is
        decoded. The bound counts those hypotheses (runs x views x 63
        layouts), and a mark needs the same two tests as the video's own:
        the synchronisation significant alone, and the bound with the
        identifier at most ``max_false_alarm``. Two identifiers of one
        sign layout (1 in 64) read as one.
        """
        count = values.shape[0]
        totals = np.concatenate([np.zeros_like(values[:1]), np.cumsum(values, axis=0)])
        first, last = np.triu_indices(count)
        runs = totals[last + 1] - totals[first]  # runs x views x cells
        scores = templates.scores_of(runs)  # runs x views x layouts
        hypotheses = len(first) * values.shape[1] * (LAYOUTS - 1)
        times = sorted(self._spans)
        marks = []
        for other in range(LAYOUTS):
            if other == number:
                continue
            run, view = np.unravel_index(int(scores[..., other].argmax()), scores.shape[:2])
            score = float(scores[run, view, other])
            if not _verdict(score, hypotheses, True, self.max_false_alarm)[1]:
                continue  # not a detection even if it decoded: spare the decoder
            found = templates.decode(runs[run, view], other)
            probability, detected = _verdict(score, hypotheses, found is not None, self.max_false_alarm)
            if detected and found is not None and found != identifier:
                marks.append(Mark(format_identifier(found), templates.key.key_id, score,
                                  times[first[run]] * self.span_seconds, (times[last[run]] + 1) * self.span_seconds,
                                  probability))
        return sorted(marks, key=lambda mark: (mark.start, -mark.score))


@dataclass
class _SpanSum:
    """The evidence of one time span: per view, summed per wrap."""

    views: list[dict[Wrap, np.ndarray]]
    frames: int = 0

    def add(self, views: Sequence[tuple[np.ndarray, Wrap]]) -> None:
        for sums, (image, wrap) in zip(self.views, views):
            if wrap in sums:
                sums[wrap] += image
            else:
                sums[wrap] = image.copy()
        self.frames += 1

    def merge(self, other: "_SpanSum") -> None:
        for sums, others in zip(self.views, other.views):
            for wrap, image in others.items():
                sums[wrap] = sums[wrap] + image if wrap in sums else image
        self.frames += other.frames


def detect(frames: Iterable[np.ndarray], key: Key, *, bit_depth: int = 8,
           frame_rate: float = _ASSUMED_RATE, max_false_alarm: float = MAX_FALSE_ALARM) -> Detection:
    """Detect the mark in a sequence of luma planes.

    Parameters
    ----------
    frames : iterable of numpy.ndarray, shape (H, W), uint8 or uint16
        Luma planes in display order.
    key : Key
        The key the mark was made with.
    bit_depth : int
        Bits per sample of the planes.
    frame_rate : float
        Frames per second, used to cut the evidence into time spans.
    max_false_alarm : float
        Report ``detected`` only when the false-alarm bound is at most this.

    Returns
    -------
    Detection

    Examples
    --------
    >>> import numpy as np
    >>> from watermark import DEFAULT_KEY, embed
    >>> rng = np.random.default_rng(0)
    >>> clip = [embed(rng.integers(0, 256, (360, 640), dtype=np.uint8), DEFAULT_KEY, 0xC0FFEE) for _ in range(5)]
    >>> detect(clip, DEFAULT_KEY).identifier
    '0000000000c0ffee'
    """
    detector = Detector(key, max_false_alarm=max_false_alarm)
    for index, luma in enumerate(frames):
        detector.add(luma, time=index / frame_rate, bit_depth=bit_depth)
    return detector.result()


def detect_file(path: str | os.PathLike[str], key: Key = DEFAULT_KEY, *,
                max_false_alarm: float = MAX_FALSE_ALARM, progress: Progress | None = None) -> Detection:
    """Detect the mark in a video file, streaming its frames.

    Parameters
    ----------
    path : path
        Any video FFmpeg reads.
    key : Key
        The key to look for; the public :data:`DEFAULT_KEY` when omitted.
    max_false_alarm : float
        Report ``detected`` only when the false-alarm bound is at most this.
    progress : callable, optional
        Called with 1 after each frame.

    Returns
    -------
    Detection

    Examples
    --------
    >>> detect_file("marked.mp4").identifier  # doctest: +SKIP
    '00c0ffee12345678'
    """
    detector = Detector(key, max_false_alarm=max_false_alarm)
    for picture in read_pictures(path, progress=progress):
        detector.add_picture(picture)
    return detector.result()
