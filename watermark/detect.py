"""Blind detection: accumulate evidence over frames, find the tile, read the id.

Each frame is brought to a working resolution where a cell is three pixels
(the shorter side becomes 288 pixels), whitened (local high-pass, divided by
the local energy, clipped), and added to the running sum of its time span.
Static content aside, the pictures average out while the mark adds up. At the
end the sum is searched over scales (for crops and reframing) and horizontal
flips; for each, it is folded modulo the tile and correlated with the keyed
synchronisation chips by FFT, which tests every cyclic shift at once.

The embedder carries the pattern along with the content's motion
(:mod:`watermark.motion`), so each frame's evidence is first moved back by
the motion the detector measures on the pictures it receives. To keep the
evidence inside the frame, the motion is taken modulo one tile at the
nominal scale, and the whole tiles taken off (the frame's ``wrap``) are
kept: evidence of different wraps is summed apart and, at each scale
searched, shifted by what a whole tile is at that scale before it is
combined (exactly nothing for a video that was only rescaled).

The score of a hypothesis is ``z = sum(s_c * y_c) / sqrt(sum(y_c**2))`` over
the synchronisation cells ``c``, with ``y`` the matched-filter output and
``s_c`` the key's chips. For any video not marked with this key the chips are
independent of ``y``, so Hoeffding's inequality gives ``P(z >= t) <=
exp(-t**2 / 2)`` whatever the content. The payload chips are disjoint from
the synchronisation chips, and the list decoder accepts noise with
probability at most ``8 * 2**-24`` (see :mod:`watermark.payload`), so the
probability of a false detection is at most ``hypotheses * exp(-z**2 / 2) *
8 * 2**-24`` with an identifier, or without the CRC factor when the
identifier cannot be read. That is the number reported. A detection with an
identifier also needs the synchronisation alone to be significant (bound at
most ``MAX_SYNC_FALSE_ALARM`` without the CRC factor), so that no detection
rests on the CRC alone: content that happens to correlate with the key's
synchronisation chips cannot turn a lucky CRC into a mark.
"""

from __future__ import annotations

import math
import os
import time as clock
from dataclasses import asdict, dataclass, field
from typing import Iterable

import cv2
import numpy as np

from watermark.keys import DEFAULT_KEY, Key
from watermark.motion import MotionTracker
from watermark.pattern import BAND, CELLS_PER_SHORT_SIDE, TILE_CELLS, layout
from watermark.payload import CRC_PASS_PROBABILITY, decode_soft, format_identifier
from watermark.video import Picture, Progress, read_pictures

WORKING_CELL = 3
WORKING_SHORT_SIDE = CELLS_PER_SHORT_SIDE * WORKING_CELL
TILE = TILE_CELLS * WORKING_CELL
#: Default bound on the probability of a false detection per video.
MAX_FALSE_ALARM = 1e-6
#: Bound the synchronisation must reach on its own, whatever the CRC says.
MAX_SYNC_FALSE_ALARM = 1e-2
#: Scales searched: the pattern may appear this much smaller or larger.
SCALE_RANGE = (0.5, 3.0)
SCALE_STEP = 1.004
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
    height, width = luma.shape
    factor = WORKING_SHORT_SIDE / min(height, width)
    if factor < 1:
        small = cv2.resize(luma, (0, 0), fx=factor, fy=factor, interpolation=cv2.INTER_AREA).astype(np.float32)
    else:  # small pictures have three-pixel cells already (see pattern.cell_size)
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
    """One frame, whitened, weighted by its coding and moved back along the content's motion.

    Attributes
    ----------
    image : numpy.ndarray of float32
        At the working resolution (see :func:`whiten`).
    wrap : (int, int)
        Whole tiles (x, y) at the nominal scale taken off the motion to keep
        the image in the frame.
    time : float
        Presentation time in seconds.
    """

    image: np.ndarray
    wrap: Wrap
    time: float


class EvidenceStream:
    """Turns a video's pictures, in display order, into :class:`FrameEvidence`.

    The same for every key, so detecting several keys needs it once a frame
    (one stream per video: it follows the motion from frame to frame).
    """

    def __init__(self) -> None:
        self._tracker = MotionTracker()

    def add(self, picture: Picture) -> FrameEvidence:
        white = whiten(picture.luma, bit_depth=picture.bit_depth)
        weight = CODING_WEIGHTS.get(picture.coding, 1.0)
        if weight != 1.0:
            white *= weight
        travel = self._tracker.update(picture.luma, bit_depth=picture.bit_depth) * (white.shape[0] / picture.luma.shape[0])
        wrap = np.round(travel / TILE)
        rest = travel - wrap * TILE
        if rest.any():
            matrix = np.float32([[1, 0, rest[0]], [0, 1, rest[1]]])
            white = cv2.warpAffine(white, matrix, white.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        return FrameEvidence(white, (int(wrap[0]), int(wrap[1])), picture.time)


def _fold(image: np.ndarray) -> np.ndarray:
    """Sum an image modulo the tile."""
    height, width = image.shape
    padded = np.zeros((-(-height // TILE) * TILE, -(-width // TILE) * TILE), np.float32)
    padded[:height, :width] = image
    return padded.reshape(padded.shape[0] // TILE, TILE, padded.shape[1] // TILE, TILE).sum(axis=(0, 2))


def _scales(scale_range: tuple[float, float]) -> np.ndarray:
    low, high = scale_range
    count = int(math.ceil(math.log(high / low) / math.log(SCALE_STEP))) + 1
    return low * SCALE_STEP ** np.arange(count)


def _rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """Resample so that a pattern ``scale`` times too large has its nominal size."""
    method = cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (0, 0), fx=1 / scale, fy=1 / scale, interpolation=method)


_FREQ_Y = np.fft.fftfreq(TILE, 1 / TILE)[:, None]
_FREQ_X = np.fft.rfftfreq(TILE, 1 / TILE)[None, :]


def _spectrum(groups: dict[Wrap, np.ndarray], scale: float, flipped: bool) -> np.ndarray:
    """Spectrum of the folded evidence at one scale and mirroring, wrap groups brought together.

    A group of wrap ``k`` holds the evidence ``k`` nominal tiles off; at
    ``scale`` that is ``k / scale`` tiles, so its fold is shifted back by
    the fraction (a phase ramp: sub-pixel and exact for a cyclic shift).
    """
    total = None
    for (wrap_x, wrap_y), image in groups.items():
        if flipped:
            image, wrap_x = image[:, ::-1], -wrap_x
        spectrum = np.fft.rfft2(_fold(_rescale(image, scale)))
        if wrap_x or wrap_y:
            spectrum = spectrum * np.exp(2j * np.pi * (_FREQ_Y * wrap_y + _FREQ_X * wrap_x) / scale)
        total = spectrum if total is None else total + spectrum
    return total


class _Templates:
    """The key's synchronisation chips, in the Fourier domain of the tile."""

    def __init__(self, key: Key) -> None:
        lay = layout(key)
        self.layout = lay
        rows, cols = np.divmod(lay.sync_cells, TILE_CELLS)
        impulses = np.zeros((TILE, TILE))
        impulses[rows * WORKING_CELL, cols * WORKING_CELL] = lay.sync_signs
        self.sync = np.conj(np.fft.rfft2(impulses))
        self.sync_power = np.conj(np.fft.rfft2(np.abs(impulses)))
        ky = np.abs(np.fft.fftfreq(TILE, 1 / TILE))[:, None]
        kx = np.fft.rfftfreq(TILE, 1 / TILE)[None, :]
        self.band = ((ky <= BAND) & (kx <= BAND)).astype(float)
        self.band[0, 0] = 0.0

    def filtered(self, spectrum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Matched-filter output and its spectrum, from the folded evidence's spectrum."""
        spectrum = spectrum * self.band
        return np.fft.irfft2(spectrum, s=(TILE, TILE)), spectrum

    def scores(self, spectrum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """z for every cyclic shift, and the matched-filter output."""
        response, spectrum = self.filtered(spectrum)
        numerator = np.fft.irfft2(spectrum * self.sync, s=(TILE, TILE))
        power = np.fft.irfft2(np.fft.rfft2(response * response) * self.sync_power, s=(TILE, TILE))
        return numerator / np.sqrt(np.maximum(power, 1e-12)), response

    def cell_values(self, response: np.ndarray, shift: tuple[int, int], cells: np.ndarray) -> np.ndarray:
        rows, cols = np.divmod(cells, TILE_CELLS)
        return response[(rows * WORKING_CELL + shift[0]) % TILE, (cols * WORKING_CELL + shift[1]) % TILE]

    def score_at(self, spectrum: np.ndarray, shift: tuple[int, int]) -> float:
        response, _ = self.filtered(spectrum)
        values = self.cell_values(response, shift, self.layout.sync_cells)
        return float(values @ self.layout.sync_signs / max(np.linalg.norm(values), 1e-12))

    def identifier(self, response: np.ndarray, shift: tuple[int, int]) -> int | None:
        lay = self.layout
        values = self.cell_values(response, shift, lay.payload_cells) * lay.payload_signs
        soft = np.bincount(lay.payload_bits, weights=values, minlength=lay.payload_bits.max() + 1)
        return decode_soft(soft)


@dataclass(frozen=True)
class Span:
    """Evidence for one stretch of time, at the alignment found for the video."""

    start: float
    end: float
    frames: int
    score: float
    marked: bool


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
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """Plain data for JSON (``identifier``, and ``frames`` for the frames analysed, as every command names them)."""
        data = asdict(self)
        data["frames"] = data.pop("frames_analyzed")
        return {"detected": data.pop("detected"), "identifier": data.pop("identifier"), **data}


def _false_alarm(score: float, hypotheses: int, with_identifier: bool) -> float:
    log_p = math.log(hypotheses) - score * score / 2
    if with_identifier:
        log_p += math.log(CRC_PASS_PROBABILITY)
    return math.exp(min(0.0, log_p))


class Detector:
    """Streaming detector: feed frames with :meth:`add`, then call :meth:`result`.

    Memory stays bounded however long the video: evidence is kept per time
    span, and when there would be more than ``max_spans`` spans, neighbours
    merge and the span length doubles.

    ``scale_range`` bounds the scales searched (how much larger the pattern
    appears than where it was embedded). The default covers crops and
    reframing; a caller that knows the pictures were not reframed (a source
    about to be marked) searches near 1 and pays a fraction of the search,
    with a bound that counts only the hypotheses searched.

    Examples
    --------
    >>> detector = Detector(key)                      # doctest: +SKIP
    >>> for luma, t in frames:                        # doctest: +SKIP
    ...     detector.add(luma, time=t)
    >>> detector.result().identifier                  # doctest: +SKIP
    """

    def __init__(self, key: Key, *, span_seconds: float = 1.0, max_spans: int = 32,
                 max_false_alarm: float = MAX_FALSE_ALARM,
                 scale_range: tuple[float, float] = SCALE_RANGE) -> None:
        self.key = key
        self.scale_range = scale_range
        self.span_seconds = span_seconds
        self.max_spans = max_spans
        self.max_false_alarm = max_false_alarm
        self._spans: dict[int, _SpanSum] = {}
        self._shape: tuple[int, int] | None = None
        self._frames = 0
        self._stream: EvidenceStream | None = None
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
        image is not modified or kept.
        """
        image = evidence.image
        if self._shape is None:
            self._shape = image.shape
        elif image.shape != self._shape:
            image = cv2.resize(image, self._shape[::-1], interpolation=cv2.INTER_LINEAR)
        index = int(evidence.time // self.span_seconds)
        span = self._spans.setdefault(index, _SpanSum(first=evidence.time, last=evidence.time))
        span.add(image, evidence.wrap, evidence.time)
        self._frames += 1
        if len(self._spans) > self.max_spans:
            self._merge_spans()

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
        """Search every alignment and report the best one."""
        templates = _Templates(self.key)
        scales = _scales(self.scale_range)
        hypotheses = 2 * len(scales) * TILE * TILE
        if not self._spans:
            return Detection(False, None, 1.0, 0, 0.0, 1.0, False, hypotheses, self.key.key_id,
                             seconds=clock.perf_counter() - self._started)
        groups: dict[Wrap, np.ndarray] = {}
        for span in self._spans.values():
            for wrap, image in span.images.items():
                groups[wrap] = groups[wrap] + image if wrap in groups else image
        best = (-np.inf, 1.0, False, (0, 0), None)
        for flipped in (False, True):
            for scale in scales:
                scores, response = templates.scores(_spectrum(groups, scale, flipped))
                shift = np.unravel_index(int(np.argmax(scores)), scores.shape)
                if scores[shift] > best[0]:
                    best = (float(scores[shift]), float(scale), flipped, shift, response)
        score, scale, flipped, shift, response = best
        identifier = templates.identifier(response, shift)
        probability = _false_alarm(score, hypotheses, identifier is not None)
        sync_alone = _false_alarm(score, hypotheses, False)
        detected = probability <= self.max_false_alarm and sync_alone <= max(MAX_SYNC_FALSE_ALARM, self.max_false_alarm)
        spans = self._span_scores(templates, scale, flipped, shift, detected)
        return Detection(
            detected=detected,
            identifier=format_identifier(identifier) if detected and identifier is not None else None,
            false_alarm_probability=probability,
            frames_analyzed=self._frames,
            score=score,
            scale=scale,
            flipped=flipped,
            hypotheses=hypotheses,
            key_id=self.key.key_id,
            spans=spans,
            seconds=clock.perf_counter() - self._started,
        )

    def _span_scores(self, templates: _Templates, scale: float, flipped: bool,
                     shift: tuple[int, int], detected: bool) -> list[Span]:
        """Score each span at the video's alignment (one hypothesis per span)."""
        threshold = math.sqrt(2 * math.log(len(self._spans) / self.max_false_alarm))
        spans = []
        for index in sorted(self._spans):
            span = self._spans[index]
            score = templates.score_at(_spectrum(span.images, scale, flipped), shift)
            spans.append(Span(start=index * self.span_seconds, end=(index + 1) * self.span_seconds,
                              frames=span.frames, score=score, marked=detected and score >= threshold))
        return spans


@dataclass
class _SpanSum:
    """The evidence of one time span, summed per wrap."""

    first: float
    last: float
    frames: int = 0
    images: dict[Wrap, np.ndarray] = field(default_factory=dict)

    def add(self, image: np.ndarray, wrap: Wrap, time: float) -> None:
        if wrap in self.images:
            self.images[wrap] += image
        else:
            self.images[wrap] = image.copy()
        self.frames += 1
        self.last = max(self.last, time)

    def merge(self, other: "_SpanSum") -> None:
        for wrap, image in other.images.items():
            self.images[wrap] = self.images[wrap] + image if wrap in self.images else image
        self.frames += other.frames
        self.last = other.last


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
