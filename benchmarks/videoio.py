"""Video in and out for the benchmarks, on PyAV alone.

Kept apart from ``watermark/`` on purpose: the benchmark must not measure the
product with the product's own I/O, so attacks, clip preparation and quality
measurements decode and encode here, independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import numpy as np
from av.video.frame import PictureType, VideoFrame

from common import Clip

#: A frame transform on packed RGB pictures, (H, W, 3) uint8 in and out.
RGBTransform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Encoder:
    """Output settings of an encode; ``describe()`` is what tables print."""

    codec: str = "libx264"
    crf: int = 23
    preset: str | None = "medium"
    extra: dict[str, str] = field(default_factory=dict)
    bit_rate: int | None = None

    @property
    def suffix(self) -> str:
        return ".webm" if self.codec.startswith("libvpx") else ".mp4"

    def describe(self) -> str:
        name = {"libx264": "H.264", "libx265": "H.265", "libvpx-vp9": "VP9"}.get(self.codec, self.codec)
        parts = [f"{name} CRF {self.crf}"]
        if self.preset:
            parts.append(f"preset {self.preset}")
        if self.bit_rate is not None:
            parts.append(f"b:v {self.bit_rate}")
        parts += [f"{k} {v}" for k, v in self.extra.items() if k != "x265-params"]
        return ", ".join(parts)

    def options(self) -> dict[str, str]:
        opts = {"crf": str(self.crf), **self.extra}
        if self.preset and self.codec in ("libx264", "libx265"):
            opts["preset"] = self.preset
        return opts


#: The issue's default for attacked outputs.
H264_CRF23 = Encoder()
#: The 1080p clips are prepared near-transparently.
H264_CRF16 = Encoder(crf=16)


def probe(path: Path, *, name: str) -> Clip:
    """Facts about a clip; counts frames by decoding when the header does not say."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        frames = stream.frames
        duration = float(container.duration / av.time_base) if container.duration else 0.0
        has_audio = bool(container.streams.audio)
        width, height = stream.codec_context.width, stream.codec_context.height
        if not frames:
            frames = sum(1 for _ in container.decode(stream))
    return Clip(name=name, path=path, width=width, height=height, fps=float(rate),
                frames=frames, duration=duration or frames / float(rate), has_audio=has_audio)


@dataclass
class TimedFrame:
    """A decoded frame and its presentation time in seconds from the first frame."""

    time: float
    frame: VideoFrame


def decode(path: Path, *, max_seconds: float | None = None) -> Iterator[TimedFrame]:
    """Decoded frames in presentation order, timed from the first one."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        first: float | None = None
        for index, frame in enumerate(container.decode(stream)):
            t = float(frame.time) if frame.time is not None else index / rate
            if first is None:
                first = t
            t -= first
            if max_seconds is not None and t >= max_seconds - 1e-6:
                break
            yield TimedFrame(t, frame)


def video_bitrate(path: Path) -> float:
    """Bits per second of the video stream alone: its packets' bytes over its frames' duration.

    Audio and container overhead are left out, so a marked and a plain
    encode of the same clip compare on the pictures only.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        sizes = [packet.size for packet in container.demux(stream) if packet.size]
    return 8.0 * sum(sizes) / (len(sizes) / rate) if sizes else 0.0


def frame_rate(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return Fraction(stream.average_rate or stream.guessed_rate or 25)


#: 8-bit planar formats whose first plane is the luma to measure, untouched.
_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray"}


def luma(frame: VideoFrame) -> np.ndarray:
    """The 8-bit Y plane of any decoded frame, (H, W) uint8, without padding.

    Read from the plane itself (no conversion, so values are exact, and odd
    sizes such as 720x405 work); other formats are converted to yuv420p first.
    """
    if frame.format.name not in _PLANAR_8BIT:
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].copy()


def read_luma(path: Path, *, max_seconds: float | None = None) -> np.ndarray:
    """All luma planes of a clip, (N, H, W) uint8."""
    return np.stack([luma(tf.frame) for tf in decode(path, max_seconds=max_seconds)])


def read_rgb(path: Path, *, max_seconds: float | None = None) -> list[np.ndarray]:
    """Decoded pictures as packed RGB, a list of (H, W, 3) uint8."""
    return [tf.frame.to_ndarray(format="rgb24") for tf in decode(path, max_seconds=max_seconds)]


class Writer:
    """An encoder to one file, sized on the first frame; flushes on exit.

    Frames are numbered at a constant rate (``rate``); the attacks that change
    timing choose which pictures to send, the writer only stamps them.
    """

    def __init__(self, path: Path, encoder: Encoder, rate: Fraction) -> None:
        self.path = path
        self.encoder = encoder
        self.rate = Fraction(rate).limit_denominator(100000)
        self._container = av.open(str(path), mode="w")
        self._stream: av.VideoStream | None = None
        # Frames are stamped in this fixed base: the stream's own time_base is
        # replaced by the muxer's once the header is written.
        self._time_base = 1 / self.rate
        self.frames = 0

    def _open_stream(self, width: int, height: int) -> av.VideoStream:
        stream = self._container.add_stream(self.encoder.codec, rate=self.rate,
                                            options=self.encoder.options())
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = self._time_base
        stream.thread_type = "AUTO"
        if self.encoder.bit_rate is not None:
            stream.bit_rate = self.encoder.bit_rate
        return stream

    def write(self, picture: np.ndarray | VideoFrame) -> None:
        """Encode one picture: an RGB array or a decoded frame (re-encode path).

        yuv420p needs even sizes; an odd row or column (the 720x405 clip) is
        cropped off, as a platform's transcoder must do one way or another.
        """
        if isinstance(picture, VideoFrame) and (picture.width % 2 or picture.height % 2):
            picture = picture.to_ndarray(format="rgb24")
        if isinstance(picture, np.ndarray):
            h, w = picture.shape[:2]
            picture = picture[: h - h % 2, : w - w % 2]
            frame = VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
        else:
            frame = picture
        if self._stream is None:
            self._stream = self._open_stream(frame.width, frame.height)
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != (
                self._stream.width, self._stream.height):
            frame = frame.reformat(width=self._stream.width, height=self._stream.height,
                                   format="yuv420p")
        # A decoded frame keeps its picture type; passing it on would make x264
        # copy the source's GOP (see the notes' pitfalls), so let the encoder decide.
        frame.pict_type = PictureType.NONE
        frame.pts = self.frames
        frame.time_base = self._time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def even(x: float) -> int:
    """The nearest even integer >= 2: yuv420p needs even sizes."""
    return max(2, int(round(x / 2.0)) * 2)


def transcode_frames(pictures: Iterable[np.ndarray | VideoFrame], dst: Path, *,
                     encoder: Encoder, rate: Fraction) -> int:
    """Encode a stream of pictures to ``dst``; returns the frame count."""
    with Writer(dst, encoder, rate) as writer:
        for picture in pictures:
            writer.write(picture)
        return writer.frames
