"""Streaming video I/O on PyAV: decode, hand luma to the mark, encode.

One frame at a time, so memory does not grow with the video's length. Frame
timestamps (variable frame rate included), audio streams (copied packet for
packet, not re-encoded), rotation, colour metadata and container metadata
pass through. Output is written to a temporary file beside the destination
and renamed into place only when complete.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np

from watermark.errors import VideoError

#: Output containers by file extension, with the default video codec of each.
CONTAINERS = {
    ".mp4": ("mp4", "libx264"),
    ".m4v": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".webm": ("webm", "libvpx-vp9"),
}
#: Largest picture handled, in pixels per side and in total (8K UHD fits).
MAX_SIDE, MAX_PIXELS = 8192, 8192 * 4608
#: Container metadata the muxer writes itself.
_MUXER_KEYS = {"encoder", "major_brand", "minor_version", "compatible_brands"}

_CODING = {1: "I", 2: "P", 3: "B"}  # av.video.frame.PictureType values

FrameTransform = Callable[["Picture"], None]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class EncoderSettings:
    """How the marked video is encoded.

    The defaults (x264, CRF 18, preset medium) are visually transparent for
    most content; raise the CRF for smaller files.
    """

    codec: str | None = None  # None: the container's default
    crf: float = 18.0
    preset: str = "medium"
    options: dict[str, str] = field(default_factory=dict)

    def codec_options(self, codec: str) -> dict[str, str]:
        options = {"crf": f"{self.crf:g}"}
        if codec in ("libx264", "libx265"):
            options["preset"] = self.preset
        elif codec == "libvpx-vp9":
            options.update({"b": "0", "row-mt": "1"})
        elif codec == "libsvtav1":
            options["preset"] = "8"
        options.update(self.options)
        return options


@dataclass(frozen=True)
class VideoInfo:
    """Facts about an input video, read before decoding."""

    path: str
    container: str
    codec: str
    width: int
    height: int
    pixel_format: str
    frame_rate: float
    duration: float
    frames: int
    audio_streams: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Picture:
    """One decoded picture, as numpy views of its planes.

    Attributes
    ----------
    planes : list of numpy.ndarray
        Y, U, V (and alpha) planes, uint8 or uint16; writing to them changes
        the frame that will be encoded.
    bit_depth : int
    time : float
        Presentation time in seconds.
    index : int
        Position in decoding order of output frames, from 0.
    coding : str
        How the source coded it: 'I', 'P', 'B', or '' when unknown.
    """

    planes: list[np.ndarray]
    bit_depth: int
    time: float
    index: int
    coding: str = ""

    @property
    def luma(self) -> np.ndarray:
        return self.planes[0]


def _plane_views(frame: av.VideoFrame) -> list[np.ndarray]:
    dtype = np.dtype("<u2") if frame.format.components[0].bits > 8 else np.dtype(np.uint8)
    views = []
    for plane in frame.planes:
        data = np.frombuffer(plane, dtype=dtype)
        views.append(data.reshape(plane.height, plane.line_size // dtype.itemsize)[:, :plane.width])
    return views


def _is_planar_yuv(fmt: av.VideoFormat) -> bool:
    components = fmt.components
    return (fmt.is_planar and not fmt.is_rgb and components[0].is_luma
            and not fmt.name.endswith("be") and components[0].bits <= 16
            and fmt.name not in ("gray", "gray10le", "gray12le", "gray16le"))


def _check_size(path: Path, width: int, height: int) -> None:
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise VideoError(f"'{path}' is {width}x{height}; aimark handles pictures up to "
                         f"{MAX_SIDE} pixels a side and {MAX_PIXELS // 1_000_000} megapixels (8K); scale it down first")
    if min(width, height) < 16:
        raise VideoError(f"'{path}' is {width}x{height}; a picture needs at least 16 pixels a side to carry a mark")


@contextmanager
def open_input(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """Open a video for reading, turning PyAV's errors into one-line messages."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"input '{path}' does not exist")
    if path.is_dir():
        raise VideoError(f"input '{path}' is a folder, not a video file")
    try:
        container = av.open(str(path), mode="r")
    except av.error.PermissionError:
        raise VideoError(f"cannot read '{path}': permission denied") from None
    except av.error.EOFError:
        raise VideoError(f"'{path}' is empty or cut short before its first frame") from None
    except (av.error.InvalidDataError, UnicodeDecodeError):
        raise VideoError(f"'{path}' is not a video file that can be read (unknown or damaged format)") from None
    except av.error.FFmpegError as error:
        raise VideoError(f"cannot open '{path}': {error.strerror or error}") from None
    try:
        if not container.streams.video:
            kinds = sorted({stream.type for stream in container.streams}) or ["no streams"]
            raise VideoError(f"'{path}' has no video stream (it holds {', '.join(kinds)})")
        stream = container.streams.video[0]
        if stream.codec_context.width and stream.codec_context.height:
            _check_size(path, stream.codec_context.width, stream.codec_context.height)
        yield container
    finally:
        container.close()


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _frame_rate(stream: av.VideoStream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate else Fraction(25)


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's facts without decoding it."""
    with open_input(path) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = _frame_rate(stream)
        duration = _duration(container, stream)
        return VideoInfo(
            path=str(path), container=container.format.name, codec=context.name,
            width=context.width, height=context.height,
            pixel_format=context.format.name if context.format else "unknown",
            frame_rate=float(rate), duration=duration,
            frames=stream.frames or int(round(duration * rate)),
            audio_streams=len(container.streams.audio),
        )


class _Clock:
    """Presentation times, filling in frames that arrive without one."""

    def __init__(self, stream: av.VideoStream) -> None:
        self.time_base = stream.time_base or Fraction(1, 90000)
        self.step = max(1, round(1 / (_frame_rate(stream) * self.time_base)))
        self.last: int | None = None

    def stamp(self, frame: av.VideoFrame) -> int:
        pts = frame.pts
        if pts is None or (self.last is not None and pts <= self.last):
            pts = 0 if self.last is None else self.last + self.step
        self.last = pts
        return pts


def _decoded_frames(container: av.container.InputContainer, path: Path,
                    audio_sink: Callable[[av.Packet], None] | None = None) -> Iterator[av.VideoFrame]:
    """Decode the first video stream; hand audio packets to ``audio_sink``."""
    video = container.streams.video[0]
    video.thread_type = "AUTO"
    streams = [video] + (list(container.streams.audio) if audio_sink else [])
    seconds = 0.0
    try:
        for packet in container.demux(streams):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    audio_sink(packet)
                continue
            for frame in packet.decode():
                if frame.time is not None:
                    seconds = frame.time
                yield frame
    except av.error.FFmpegError as error:
        raise VideoError(f"'{path}' is damaged: decoding failed near {seconds:.2f} s "
                         f"({error.strerror or error})") from None


def _check_complete(path: Path, stream: av.VideoStream, decoded: int) -> None:
    if decoded == 0:
        raise VideoError(f"'{path}' has a video stream but no frames that decode")
    if stream.frames and decoded < 0.95 * stream.frames - 1:
        raise VideoError(f"'{path}' is truncated or damaged: {decoded} of {stream.frames} frames decode")


def read_pictures(path: str | os.PathLike[str], *, progress: Progress | None = None) -> Iterator[Picture]:
    """Decode a video's pictures one at a time, as planar YUV plane views.

    Pictures in other formats (RGB, palette, big-endian, grey) are converted
    to YUV 4:4:4 at their bit depth. The views are valid until the next
    picture is requested.
    """
    path = Path(path)
    with open_input(path) as container:
        stream = container.streams.video[0]
        clock = _Clock(stream)
        index = 0
        for frame in _decoded_frames(container, path):
            coding = _CODING.get(int(frame.pict_type), "")
            frame = _as_planar_yuv(frame)
            yield Picture(_plane_views(frame), frame.format.components[0].bits,
                          float(clock.stamp(frame) * clock.time_base), index, coding)
            index += 1
            if progress:
                progress(1)
        _check_complete(path, stream, index)


def _as_planar_yuv(frame: av.VideoFrame) -> av.VideoFrame:
    if _is_planar_yuv(frame.format):
        return frame
    deep = max(component.bits for component in frame.format.components) > 8
    return frame.reformat(format="yuv444p16le" if deep else "yuv444p")


def _output_format(frame: av.VideoFrame, codec: av.Codec) -> str:
    """The pixel format to encode: the input's when the encoder can take it."""
    supported = {fmt.name for fmt in codec.video_formats or ()}
    name = frame.format.name
    odd = frame.width % 2 or frame.height % 2
    subsampled = any(c.width != frame.width or c.height != frame.height for c in frame.planes[1:2])
    if name in supported and _is_planar_yuv(frame.format) and not (odd and subsampled):
        return name
    deep = frame.format.components[0].bits > 8
    wanted = ["yuv444p10le", "yuv420p10le"] if deep else []
    wanted += ["yuv444p", "yuv420p"] if odd or not subsampled else ["yuv420p", "yuv444p"]
    for candidate in wanted:
        if candidate in supported and not (odd and candidate.startswith("yuv420")):
            return candidate
    raise VideoError(f"the {codec.name} encoder cannot encode a {frame.width}x{frame.height} "
                     f"{name} picture; try --codec libx264")


def _output_path(src: Path, dst: Path) -> tuple[str, str]:
    suffix = dst.suffix.lower()
    if suffix not in CONTAINERS:
        raise VideoError(f"cannot write '{dst.suffix or dst.name}' files; the output must end in "
                         + ", ".join(CONTAINERS))
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise VideoError(f"output '{dst}' is the input; write to a new file")
    if dst.is_dir():
        raise VideoError(f"output '{dst}' is a folder; give a file name")
    if not dst.parent.exists():
        raise VideoError(f"output folder '{dst.parent}' does not exist")
    return CONTAINERS[suffix]


@contextmanager
def atomic_output(dst: Path) -> Iterator[Path]:
    """A temporary path beside ``dst`` that replaces it only on success."""
    temporary = dst.with_name(f".{dst.stem}.partial-{secrets.token_hex(4)}{dst.suffix}")
    try:
        yield temporary
        os.replace(temporary, dst)
    except PermissionError as error:
        raise VideoError(f"cannot write '{dst}': permission denied") from error
    finally:
        if temporary.exists():
            temporary.unlink()


class _Encoder:
    """The output video stream, set up from the first decoded frame."""

    def __init__(self, output: av.container.OutputContainer, source: av.VideoStream,
                 first: av.VideoFrame, settings: EncoderSettings, codec_name: str) -> None:
        try:
            codec = av.Codec(codec_name, "w")
        except av.error.FFmpegError:
            raise VideoError(f"unknown video encoder '{codec_name}'") from None
        self.pixel_format = _output_format(first, codec)
        rate = _frame_rate(source)
        stream = output.add_stream(codec_name, rate=rate, options=settings.codec_options(codec_name))
        stream.width, stream.height, stream.pix_fmt = first.width, first.height, self.pixel_format
        stream.time_base = source.time_base or Fraction(1, 90000)
        stream.codec_context.time_base = stream.time_base
        stream.thread_type = "AUTO"
        for name in ("color_range", "color_primaries", "color_trc", "colorspace"):
            value = getattr(first, name, None)
            if value:
                setattr(stream.codec_context, name, value)
        if source.sample_aspect_ratio:
            stream.codec_context.sample_aspect_ratio = source.sample_aspect_ratio
        if first.rotation:
            stream.set_display_rotation(first.rotation)
        if source.metadata.get("language"):
            stream.metadata["language"] = source.metadata["language"]
        self.stream = stream
        self.output = output

    def encode(self, frame: av.VideoFrame | None) -> None:
        for packet in self.stream.encode(frame):
            self.output.mux(packet)


def transcode(src: str | os.PathLike[str], dst: str | os.PathLike[str],
              transform: FrameTransform | None = None, *,
              settings: EncoderSettings = EncoderSettings(),
              metadata: dict[str, str] | None = None, mux_options: dict[str, str] | None = None,
              progress: Progress | None = None) -> int:
    """Decode ``src``, apply ``transform`` to each picture, encode to ``dst``.

    Parameters
    ----------
    src, dst : path
        Input video (any container FFmpeg reads) and output path (.mp4,
        .m4v, .mov, .mkv or .webm). ``dst`` appears only when complete.
    transform : callable, optional
        Called with each :class:`Picture`; it modifies the planes in place.
        None re-encodes unchanged (the baseline the mark is measured against).
    settings : EncoderSettings
        Video encoder, CRF and preset.
    metadata : dict, optional
        Container metadata to add to what the input carries.
    mux_options : dict, optional
        Options for the muxer (e.g. ``{"movflags": "use_metadata_tags"}``).
    progress : callable, optional
        Called with 1 after each frame.

    Returns
    -------
    int
        Number of frames written.
    """
    src, dst = Path(src), Path(dst)
    container_format, default_codec = _output_path(src, dst)
    codec_name = settings.codec or default_codec
    options = {"movflags": "+faststart"} if container_format in ("mp4", "mov") else {}
    options.update(mux_options or {})
    with open_input(src) as source, atomic_output(dst) as temporary:
        video = source.streams.video[0]
        clock = _Clock(video)
        try:
            output = av.open(str(temporary), mode="w", format=container_format, options=options)
        except av.error.FFmpegError as error:
            raise VideoError(f"cannot write '{dst}': {error.strerror or error}") from None
        with output:
            output.metadata.update({k: v for k, v in source.metadata.items() if k not in _MUXER_KEYS})
            output.metadata.update(metadata or {})
            audio: dict[int, av.AudioStream] = {}
            pending: list[av.Packet] = []  # audio that arrives before the streams are set up
            encoder: _Encoder | None = None

            def mux_audio(packet: av.Packet) -> None:
                if encoder is None:
                    pending.append(packet)
                else:
                    packet.stream = audio[packet.stream.index]
                    _mux(output, packet, dst)

            written = 0
            for frame in _decoded_frames(source, src, mux_audio):
                if encoder is None:  # streams in the input's order: video, then audio
                    encoder = _Encoder(output, video, frame, settings, codec_name)
                    audio = {s.index: _copy_stream(output, s, dst) for s in source.streams.audio}
                if frame.format.name != encoder.pixel_format:
                    frame = frame.reformat(format=encoder.pixel_format)
                frame.make_writable()  # decoded buffers may be the decoder's references
                frame.pts = clock.stamp(frame)
                frame.time_base = clock.time_base
                frame.pict_type = av.video.frame.PictureType.NONE
                if transform is not None:
                    transform(Picture(_plane_views(frame), frame.format.components[0].bits,
                                      float(frame.pts * clock.time_base), written))
                try:
                    encoder.encode(frame)
                except av.error.FFmpegError as error:
                    raise VideoError(f"encoding '{dst}' failed: {error.strerror or error}") from None
                for packet in pending:
                    mux_audio(packet)
                pending.clear()
                written += 1
                if progress:
                    progress(1)
            _check_complete(src, video, written)
            encoder.encode(None)
    return written


def _copy_stream(output: av.container.OutputContainer, stream: av.AudioStream, dst: Path) -> av.AudioStream:
    try:
        return output.add_stream_from_template(stream)
    except (av.error.FFmpegError, ValueError) as error:
        raise VideoError(f"cannot copy the {stream.codec_context.name} audio into '{dst.suffix}': {error}; "
                         "try an .mkv output") from None


def _mux(output: av.container.OutputContainer, packet: av.Packet, dst: Path) -> None:
    try:
        output.mux(packet)
    except av.error.FFmpegError as error:
        raise VideoError(f"cannot copy {packet.stream.codec_context.name} audio into "
                         f"'{dst.suffix}' ({error.strerror or error}); try an .mkv output") from None
