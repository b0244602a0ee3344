"""Embedding: add the keyed pattern to luma, shaped by the perceptual mask.

In a video the pattern travels with the content wherever the content moves
as one piece (:mod:`watermark.motion`), so that motion compensation predicts
it with the content instead of coding it again in every frame, and where the
content moves otherwise, the pattern is weaker (:class:`watermark.mask.VideoMask`).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from watermark.keys import DEFAULT_KEY, Key
from watermark.mask import VideoMask, amplitude
from watermark.motion import MotionTracker
from watermark.pattern import MovingPattern, moved
from watermark.payload import format_identifier, parse_identifier
from watermark.remark import refusing_marked
from watermark.video import EncoderSettings, FrameTransform, Picture, Progress, transcode

_DEPTHS = {np.dtype(np.uint8): 8, np.dtype(np.uint16): None}


def _bit_depth(luma: np.ndarray, bit_depth: int | None) -> int:
    if luma.ndim != 2:
        raise ValueError(f"luma must be a 2-D plane, got shape {luma.shape}")
    if luma.dtype not in _DEPTHS:
        raise ValueError(f"luma must be uint8 or uint16, got {luma.dtype}")
    if bit_depth is None:
        bit_depth = _DEPTHS[luma.dtype]
        if bit_depth is None:
            raise ValueError("uint16 luma needs bit_depth (e.g. 10)")
    if not 8 <= bit_depth <= 8 * luma.dtype.itemsize:
        raise ValueError(f"bit_depth {bit_depth} does not fit {luma.dtype}")
    return bit_depth


def embed(luma: np.ndarray, key: Key, identifier: int, *, strength: float = 1.0,
          bit_depth: int | None = None, offset: tuple[float, float] = (0.0, 0.0),
          mask: np.ndarray | None = None) -> np.ndarray:
    """Mark one luma plane.

    Parameters
    ----------
    luma : numpy.ndarray, shape (H, W), uint8 or uint16
        The picture's luma (Y) plane. Not modified.
    key : Key
        The secret key (or :data:`watermark.DEFAULT_KEY`).
    identifier : int
        The 64-bit identifier to carry.
    strength : float
        Multiplies the perceptual amplitude; 1.0 is the tuned default.
    bit_depth : int, optional
        Bits per sample; required for uint16 planes (e.g. 10).
    offset : (float, float)
        How far, in pixels (x, y), the content has travelled since the
        video's first frame (:class:`watermark.motion.MotionTracker`); the
        pattern travels with it.
    mask : numpy.ndarray of float32, shape (H, W), optional
        The amplitude per pixel, in the plane's units; :func:`watermark.mask.amplitude`
        of ``luma`` when omitted (a video's pictures get :class:`watermark.mask.VideoMask`'s).

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``luma``
        The marked plane.

    Examples
    --------
    >>> import numpy as np
    >>> from watermark import DEFAULT_KEY
    >>> frame = np.random.default_rng(0).integers(0, 256, (360, 640), dtype=np.uint8)
    >>> embed(frame, DEFAULT_KEY, 0xC0FFEE).shape
    (360, 640)
    """
    depth = _bit_depth(luma, bit_depth)
    pattern = moved(key, identifier, *luma.shape, offset=(float(offset[0]), float(offset[1])))
    if mask is None:
        mask = amplitude(luma, bit_depth=depth)
    return _added(luma, cv2.multiply(mask, pattern, scale=strength), depth, np.empty_like(luma))


def _added(luma: np.ndarray, delta: np.ndarray, bit_depth: int, out: np.ndarray) -> np.ndarray:
    """``luma + delta`` rounded and clipped to the plane's range, written to ``out`` (which may be ``luma``)."""
    if luma.dtype == np.uint8:
        return cv2.add(luma, delta, dst=out, dtype=cv2.CV_8U)
    cv2.add(luma, delta, dst=out, dtype=cv2.CV_16U)
    return np.minimum(out, (1 << bit_depth) - 1, out=out)


@dataclass(frozen=True)
class EmbedResult:
    """What :func:`embed_file` wrote."""

    identifier: str
    key_id: str
    frames: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def marker(key: Key, identifier: int | str, *, strength: float = 1.0) -> FrameTransform:
    """A frame transform for :func:`watermark.video.transcode` that marks luma.

    Lets a pipeline mark in the same pass as its other frame work. It
    follows the content's motion from frame to frame (and lowers the mark
    where the content moves otherwise), so use one marker per video, with
    the pictures in display order.
    """
    value = parse_identifier(identifier) if isinstance(identifier, str) else identifier
    tracker, video_mask = MotionTracker(), VideoMask()
    pattern: MovingPattern | None = None
    delta = np.empty(0, np.float32)

    def mark(picture: Picture) -> None:
        nonlocal pattern, delta
        luma = picture.luma
        if pattern is None or pattern.shape != luma.shape:  # the first picture, or a new stream
            pattern, delta = MovingPattern(key, value, *luma.shape), np.empty(luma.shape, np.float32)
        offset = tracker.update_picture(picture)
        video_mask.amplitude(luma, offset, bit_depth=picture.bit_depth, out=delta)
        cv2.multiply(delta, pattern.at(offset), dst=delta, scale=strength)
        _added(luma, delta, picture.bit_depth, out=luma)  # in place: no picture-sized array a frame

    return mark


def embed_frames(frames: Iterable[np.ndarray], key: Key, identifier: int | str, *, strength: float = 1.0,
                 bit_depth: int | None = None) -> Iterator[np.ndarray]:
    """Mark a video given as luma planes, in display order (arrays in, arrays out).

    Unlike calling :func:`embed` on each plane, the pattern travels with the
    content's motion and is lowered where the content moves otherwise, as
    :func:`embed_file` makes it, which is what the detector expects of a video.

    Examples
    --------
    >>> import numpy as np
    >>> from watermark import DEFAULT_KEY, detect
    >>> rng = np.random.default_rng(0)
    >>> clip = [rng.integers(0, 256, (360, 640), dtype=np.uint8) for _ in range(5)]
    >>> detect(embed_frames(clip, DEFAULT_KEY, 0xC0FFEE), DEFAULT_KEY).identifier
    '0000000000c0ffee'
    """
    mark = marker(key, identifier, strength=strength)
    for index, luma in enumerate(frames):
        picture = Picture([luma.copy()], _bit_depth(luma, bit_depth), index / 25.0, index)
        mark(picture)
        yield picture.luma


def embed_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], key: Key = DEFAULT_KEY,
               identifier: int | str | None = None, *, strength: float = 1.0,
               codec: str | None = None, crf: float = 18.0, preset: str = "medium", keep_format: bool = False,
               progress: Progress | None = None, overwrite: bool = True, force: bool = False) -> EmbedResult:
    """Mark every frame of a video file in one decode/encode pass.

    A video that already carries a mark (of ``key`` or of the public key) is
    refused, unless ``force``: the first seconds are searched in the same
    pass, before anything is published (:class:`watermark.remark.ExistingMarks`).

    Parameters
    ----------
    src, dst : path
        Input video and output path (.mp4, .m4v, .mov, .mkv or .webm).
    key : Key
        Secret key; the public :data:`DEFAULT_KEY` when omitted.
    identifier : int or str, optional
        64-bit identifier (int or 16 hex digits); random when omitted.
    strength : float
        Multiplies the perceptual amplitude.
    codec, crf, preset, keep_format
        Encoder settings (see :class:`watermark.video.EncoderSettings`).
    progress : callable, optional
        Called with 1 after each frame.
    overwrite : bool
        Replace an existing ``dst`` (never ``src``).
    force : bool
        Mark even a video that already carries a mark.

    Returns
    -------
    EmbedResult

    Raises
    ------
    watermark.remark.MarkedError
        ``src`` already carries a mark and ``force`` is False; nothing is written.

    Examples
    --------
    >>> embed_file("clip.mp4", "marked.mp4", identifier="00c0ffee12345678")  # doctest: +SKIP
    EmbedResult(identifier='00c0ffee12345678', ...)
    """
    if identifier is None:
        identifier = secrets.randbits(64)
    value = parse_identifier(identifier) if isinstance(identifier, str) else identifier
    settings = EncoderSettings(codec=codec, crf=crf, preset=preset, keep_format=keep_format)
    started = time.perf_counter()
    transform, finished = refusing_marked(marker(key, value, strength=strength), [key], src, force=force)
    frames = transcode(src, dst, transform, settings=settings, progress=progress, overwrite=overwrite,
                       finished=finished)
    return EmbedResult(format_identifier(value), key.key_id, frames, time.perf_counter() - started)
