"""The camera's motion: how far the picture's content has travelled since the first frame.

A pattern that stays still while the content pans is paid for in every
predicted frame: motion compensation can follow the content or the pattern,
not both (a slow 720p pan marked with a static pattern coded at 3x the
plain encode's bits at x264 CRF 18). So the embedder moves the pattern with
the content wherever the content moves as one piece, and the detector
estimates the same motion on the pictures it receives and moves its
evidence back. Neither side needs the other's numbers: both measure the
content, with the same estimator, and a constant difference between them
(a copy cut out of the middle of the video) is a shift the detector's
search absorbs.

The estimator: phase correlation on a small copy for the whole-pixel
displacement, then a symmetric Lucas-Kanade refinement at 360 lines (both
pictures shifted half-way with the same interpolation, so its smoothing
does not bias the estimate; on a synthetic pan it is within 0.02 px of the
truth). The motion is followed while one translation explains most of the
change from frame to frame (a saturating state, :data:`CENTRE` and
:data:`GAIN`, driven by the median of the last three frames): complex or
fast motion (people, bikes, scrolling text beside a still sidebar) leaves
the pattern where it is, as before. The two sides measure the same shifts
to a hundredth of a pixel, but not the same share explained (a re-encode
adds change that no translation explains), which is why the decision
saturates, why the detector decides with a lower centre, and why it also
searches the evidence not moved: decided frame by frame, it moved embedder
and detector apart by whole cells (a fast tilt at 272 lines after x264 CRF
35: 50 working pixels in a second, and the mark no longer read).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from watermark.video import Picture

#: Shorter side of the copy phase correlation runs on, and of the one the refinement runs on.
COARSE_SIDE, FINE_SIDE = 144, 360
#: Blur before the refinement (pixels at :data:`FINE_SIDE`): central differences are exact only for low frequencies.
_FINE_BLUR = 2.5
_COARSE_BLUR = 1.0
#: How the share of change one translation explains (the median of the last three frames) moves the
#: tracker towards following (above :data:`CENTRE`) or staying (below), :data:`GAIN` per unit of
#: share, the following weight kept between 0 and 1. Saturating keeps two estimators in step: a clean
#: pan is explained 0.99 on the source and 0.82 to 0.94 after a 360p re-encode at CRF 30, and both
#: sides follow it fully, where a per-frame ramp (0.8 to 0.9) had the re-encode 7 % behind after 6 s.
#: The embedder follows only clean motion (0.95): content explained 0.8 to 0.85 (the end of the bikes
#: clip) followed at a centre of 0.8 left the marked file's last second unread at its own alignment.
#: The gain makes the decision nearly all-or-nothing, so a clean pan is followed from its first frames.
CENTRE, GAIN = 0.95, 20.0
#: The centre a detector follows with: a re-encode explains less of the change than the source (0.05
#: to 0.1 less at x264 CRF 35 on a 272-line clip; the slow pan over sky and foliage, explained 0.99 at
#: the source, after the 480p platform rendition (x264 veryfast CRF 30): 0.90 median, 0.72 at the
#: tenth percentile, 0.61 at the least), so a detector that followed at the embedder's centre would fall
#: behind where the embedder followed: at 0.8 it stopped for a few frames of that rendition, and after
#: 2 s its travel was off by a fraction of a tile for the rest of the clip (spans 7.4, 6.3, then 0.7 to
#: 1.9; at 0.6: 7.0 to 7.6, read). Where it follows content the embedder left alone, the evidence not
#: moved, which the detector searches too, holds the mark.
DETECTOR_CENTRE = 0.6
#: Faster motion (share of the shorter side a frame) counts as not explained: a camera move an
#: encoder can follow is slower, and two estimators that disagree on a fast one drift apart fast.
#: Well above the slow pans that cost the most bits (0.3 %), so that a crop that enlarges the
#: picture by up to 2x does not move a followed pan past it.
MAX_SPEED = 0.05
#: A frame's own shift is applied only when one translation explains at least this much of its change
#: (a cut, a flash: the shift measured there means nothing), though the decision to follow, the median
#: of the last three frames' shares, rides over a single such frame (a caption appearing, a notice
#: ending): decided frame by frame, the two sides fell out of step on it.
_TRUSTED = 0.5
#: Median absolute change (8-bit levels, at :data:`FINE_SIDE`) below which a frame is taken as still.
_STILL = 0.5
#: The robust share's medians read every third pixel of every third line (a ninth of the pixels, some
#: 25,000 at :data:`FINE_SIDE`: the share within 0.002; the full medians were a third of the tracker's time).
_SAMPLE = 3
_ITERATIONS = 6
_CONVERGED = 0.005


def _shifted(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    return cv2.warpAffine(image, matrix, image.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _refine(previous: np.ndarray, current: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, float | None]:
    """Sub-pixel translation from ``previous`` to ``current`` near ``shift``, and the share of the change it
    explains (None when the picture hardly changed).

    The share is robust: one minus the squared ratio of the median absolute
    change left after the translation to the median absolute change before,
    so that a still overlay (a notice, a logo, a caption) over a pan, a few
    pixels that do not follow, leaves the pan explained (a mean-square share
    put a panning clip under a corner notice at 0.84 on one side and 0.96 on
    the other).
    """
    height, width = current.shape
    for iteration in range(_ITERATIONS):
        margin_x, margin_y = int(abs(shift[0]) / 2) + 3, int(abs(shift[1]) / 2) + 3
        if 2 * margin_x >= width - 8 or 2 * margin_y >= height - 8:
            return shift, 0.0
        if iteration == 0 and _change(previous, current, margin_x, margin_y) < _STILL:
            return shift, None  # tested first too: still frames (most of a screen recording's) skip the iterations
        inner = (slice(margin_y, height - margin_y), slice(margin_x, width - margin_x))
        a = _shifted(previous, shift / 2)[inner]  # views: OpenCV reads strided rows, no copy needed
        b = _shifted(current, -shift / 2)[inner]
        mean = cv2.add(a, b)  # twice the mean: the central differences at a quarter are the gradient
        gx = cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=1, scale=0.25).ravel()
        gy = cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=1, scale=0.25).ravel()
        error = cv2.subtract(b, a).ravel()
        normal = np.array([[np.vdot(gx, gx), np.vdot(gx, gy)], [np.vdot(gx, gy), np.vdot(gy, gy)]], np.float64)
        if np.linalg.det(normal) <= 1e-9 * max(np.trace(normal) ** 2, 1e-30):
            return shift, None  # no texture to measure motion on
        step = np.linalg.solve(normal, -np.array([np.vdot(gx, error), np.vdot(gy, error)], np.float64))
        shift = shift + step
        if np.max(np.abs(step)) < _CONVERGED:
            break
    before = _change(previous, current, margin_x, margin_y)  # inside the last iteration's margins, as ``after``
    if before < _STILL:
        return shift, None
    after = float(np.median(np.abs(error.reshape(a.shape)[::_SAMPLE, ::_SAMPLE])))  # left at the last alignment
    return shift, 1.0 - (after / before) ** 2


def _change(previous: np.ndarray, current: np.ndarray, margin_x: int, margin_y: int) -> float:
    """Median absolute change from ``previous`` to ``current``, unshifted, inside the margins (every third
    pixel of every third line)."""
    height, width = current.shape
    sample = (slice(margin_y, height - margin_y, _SAMPLE), slice(margin_x, width - margin_x, _SAMPLE))
    return float(np.median(np.abs(current[sample] - previous[sample])))


def _smaller(image: np.ndarray, side: int) -> np.ndarray:
    height, width = image.shape
    factor = side / min(height, width)
    if factor >= 1:
        return image
    return cv2.resize(image, (max(8, round(width * factor)), max(8, round(height * factor))),
                      interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Step:
    """A picture's motion since the previous picture of its video.

    Attributes
    ----------
    shift : numpy.ndarray
        ``(x, y)`` in the picture's own pixels, content moved right/down.
    explained : float or None
        The share of the change one translation explains (0 for motion too
        fast to follow); None for a first picture, a still one, or one
        without texture to measure on.
    """

    shift: np.ndarray
    explained: float | None


_NONE = Step(np.zeros(2), None)
#: The key of a picture's measurement in ``Picture.derived``.
_MEASURED = "motion"


@dataclass(frozen=True)
class _Measured:
    """What a picture's motion was measured with, kept on it for the next meter that reads it."""

    coarse: np.ndarray
    fine: np.ndarray
    step: Step


class MotionMeter:
    """Measures each picture's motion since the previous one, once per picture.

    Every meter of a video must see every picture, in display order. A
    picture measured by one meter carries the measurement
    (``picture.derived``), and another meter of the same pass reads it
    instead of measuring again: the marking pass's check for an existing
    mark and the marker then pay for one measurement (it was a fifth of
    ``aimark embed``'s time). A transform that draws on the picture between
    them clears the measurement (``picture.derived``), and the marker then
    measures what it marks: a still overlay (a visible notice) pulls the
    least-squares shift towards zero, on the detector's side too, and the
    two sides must measure alike (measured on the raw pictures, a panning
    clip under the cn profile's notice lost its mark after the first second).
    A meter's previous picture is whichever it last read, measured or reused.
    """

    def __init__(self) -> None:
        self._coarse: np.ndarray | None = None
        self._fine: np.ndarray | None = None
        self._window: np.ndarray | None = None

    def measure(self, luma: np.ndarray, *, bit_depth: int = 8) -> Step:
        """The motion of ``luma`` (H x W) since the previous plane given; a plane of another size than
        the previous one (a new stream) starts again."""
        return self._measured(luma, bit_depth).step

    def measure_picture(self, picture: Picture) -> Step:
        """:meth:`measure` for a picture, reusing another meter's measurement of it."""
        measured = picture.derived.get(_MEASURED)
        if measured is None:
            measured = picture.derived[_MEASURED] = self._measured(picture.luma, picture.bit_depth)
        else:
            self._coarse, self._fine = measured.coarse, measured.fine
        return measured.step

    def _measured(self, luma: np.ndarray, bit_depth: int) -> _Measured:
        fine = _smaller(luma, FINE_SIDE).astype(np.float32)
        if bit_depth != 8:
            fine *= 1.0 / (1 << (bit_depth - 8))
        coarse = cv2.GaussianBlur(_smaller(fine, COARSE_SIDE), (0, 0), _COARSE_BLUR)
        fine_factor, coarse_factor = fine.shape[0] / luma.shape[0], coarse.shape[0] / luma.shape[0]
        fine = cv2.GaussianBlur(fine, (0, 0), _FINE_BLUR)
        previous_coarse, previous_fine = self._coarse, self._fine
        self._coarse, self._fine = coarse, fine
        if previous_fine is None or previous_fine.shape != fine.shape or previous_coarse.shape != coarse.shape:
            return _Measured(coarse, fine, _NONE)
        if self._window is None or self._window.shape != coarse.shape:
            self._window = cv2.createHanningWindow(coarse.shape[::-1], cv2.CV_32F)
        (dx, dy), _ = cv2.phaseCorrelate(previous_coarse, coarse, self._window)
        shift, explained = _refine(previous_fine, fine, np.array([dx, dy]) * (fine_factor / coarse_factor))
        if explained is not None and np.hypot(*shift) > MAX_SPEED * min(fine.shape):
            explained = 0.0
        return _Measured(coarse, fine, Step(shift / fine_factor, explained))


class MotionTracker:
    """Where the content of each new frame has moved since the first, as one translation.

    The embedder follows with ``centre`` :data:`CENTRE`, a detector with
    :data:`DETECTOR_CENTRE`.

    Examples
    --------
    >>> tracker = MotionTracker()                      # doctest: +SKIP
    >>> for luma in frames:                            # doctest: +SKIP
    ...     dx, dy = tracker.update(luma)              # pixels of this plane, content moved right/down
    """

    def __init__(self, centre: float = CENTRE) -> None:
        self.centre = centre
        self.offset = np.zeros(2)
        self.following = 0.0
        self._recent: tuple[float, ...] = ()
        self._meter = MotionMeter()

    def update(self, luma: np.ndarray, *, bit_depth: int = 8) -> np.ndarray:
        """Add a frame (H x W luma); returns the content's travel ``(x, y)`` in this plane's pixels.

        A frame of another size than the previous one (a new stream) starts
        again from where the travel stands.
        """
        return self._follow(self._meter.measure(luma, bit_depth=bit_depth))

    def update_picture(self, picture: Picture) -> np.ndarray:
        """:meth:`update` for a picture of a transform chain, sharing its measurement (:class:`MotionMeter`)."""
        return self._follow(self._meter.measure_picture(picture))

    def _follow(self, step: Step) -> np.ndarray:
        if step.explained is None:
            return self.offset.copy()
        self._recent = (*self._recent[-2:], step.explained)
        self.following = float(np.clip(self.following + GAIN * (np.median(self._recent) - self.centre), 0.0, 1.0))
        if step.explained >= _TRUSTED:
            self.offset = self.offset + self.following * step.shift
        return self.offset.copy()
