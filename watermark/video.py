"""Streaming video I/O on PyAV: decode, hand luma to the mark, encode.

One frame at a time, so memory does not grow with the video's length. Frame
timestamps (variable frame rate included), every other stream the output
container can carry (audio, subtitles, data, attachments: copied packet for
packet, with their languages and dispositions), rotation, colour metadata and
container metadata pass through. By default the video is encoded as 8-bit
4:2:0 at an even size, which every browser and hardware decoder plays (an odd
width or height loses its last column or row); ``keep_format`` keeps the
source's pixel format instead. Output goes through :class:`outputs.Output`:
a temporary file beside the destination, renamed into place only when
complete, never over the input.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import numpy as np

import outputs
from watermark.errors import EncoderError, VideoError

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
#: Stream metadata the muxer writes itself (Matroska's statistics tags among them), compared lower-case.
_STREAM_MUXER_KEYS = {"encoder", "duration", "bps", "number_of_frames", "number_of_bytes", "_statistics_tags",
                      "_statistics_writing_app", "_statistics_writing_date_utc"}
#: The pixel format a browser plays: 8-bit 4:2:0.
PLAYABLE_FORMAT = "yuv420p"
#: CRF scales of the encoders aimark tunes, and the x264/x265 speed presets.
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63),
              "libsvtav1": (1, 63), "libaom-av1": (0, 63)}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow", "placebo")

_CODING = {1: "I", 2: "P", 3: "B"}  # av.video.frame.PictureType values

FrameTransform = Callable[["Picture"], None]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class EncoderSettings:
    """How the marked video is encoded; checked when made, before any decoding.

    The defaults (x264, CRF 18, preset medium) are visually transparent for
    most content; raise the CRF for smaller files. ``keep_format`` keeps the
    source's pixel format and size (10-bit, 4:4:4, odd sizes), which many
    players cannot show; by default the output is 8-bit 4:2:0 at an even size.

    Raises
    ------
    EncoderError
        An unknown codec or one that is not a video encoder, a CRF outside the
        codec's scale, an unknown x264/x265 preset.
    """

    codec: str | None = None  # None: the container's default
    crf: float = 18.0
    preset: str = "medium"
    options: dict[str, str] = field(default_factory=dict)
    keep_format: bool = False

    def __post_init__(self) -> None:
        if self.codec is not None:
            self.check(self.codec)
        elif not 0 <= self.crf <= max(high for _, high in CRF_RANGES.values()):
            raise EncoderError(f"CRF {self.crf:g} is outside every encoder's scale (0-63; 0-51 for libx264)")

    def check(self, codec: str) -> None:
        """Refuse settings ``codec`` cannot encode with."""
        try:
            found = av.Codec(codec, "w")
        except (av.error.FFmpegError, ValueError):
            raise EncoderError(f"unknown video encoder '{codec}'; use e.g. libx264, libx265, libvpx-vp9 or "
                               "libsvtav1 (`ffmpeg -encoders` lists this machine's)") from None
        if found.type != "video":
            raise EncoderError(f"'{codec}' encodes {found.type}, not video; use e.g. libx264")
        low, high = CRF_RANGES.get(codec, (0, 63))
        if not low <= self.crf <= high:
            raise EncoderError(f"CRF {self.crf:g} is outside {codec}'s scale {low}-{high} "
                               "(lower is better; 18 is visually transparent for libx264)")
        if codec in ("libx264", "libx265") and self.preset not in X264_PRESETS:
            raise EncoderError(f"preset '{self.preset}' is not one of {', '.join(X264_PRESETS)}")

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
        """Plain data for JSON; the path is ``file``, as every command names the file it read."""
        data = dict(self.__dict__)
        return {"file": data.pop("path"), **data}


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
    derived : dict
        What a frame transform measured on the picture, for the next ones of
        the chain to reuse (its motion: :class:`watermark.motion.MotionMeter`).
        A transform that draws on the picture clears it.
    """

    planes: list[np.ndarray]
    bit_depth: int
    time: float
    index: int
    coding: str = ""
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
    if path.stat().st_size == 0:
        raise VideoError(f"'{path}' is empty (0 bytes); give the complete video")
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


def _container_name(container: av.container.InputContainer, path: Path) -> str:
    """The container's usual name: FFmpeg names demuxers by families ('mov,mp4,m4a,3gp,3g2,mj2')."""
    names = container.format.name.split(",")
    if "mp4" in names:  # ISO BMFF: the major brand tells QuickTime from MP4
        return "mov" if container.metadata.get("major_brand", "").strip() == "qt" else "mp4"
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in names else names[0]


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's facts without decoding it."""
    with open_input(path) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = _frame_rate(stream)
        duration = _duration(container, stream)
        return VideoInfo(
            path=str(path), container=_container_name(container, Path(path)), codec=context.name,
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
                    copy_sink: Callable[[av.Packet], None] | None = None,
                    copied: list[av.stream.Stream] = ()) -> Iterator[av.VideoFrame]:
    """Decode the first video stream; hand the packets of the ``copied`` streams to ``copy_sink``."""
    video = container.streams.video[0]
    video.thread_type = "AUTO"
    streams = [video, *copied]
    seconds = 0.0
    try:
        for packet in container.demux(streams):
            if packet.stream.index != video.index:
                if packet.dts is not None:
                    copy_sink(packet)
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


def _output_format(frame: av.VideoFrame, codec: av.Codec, keep_format: bool) -> str:
    """The pixel format to encode: 8-bit 4:2:0, or with ``keep_format`` the input's when the encoder takes it."""
    supported = {fmt.name for fmt in codec.video_formats or ()}
    if not keep_format:
        if PLAYABLE_FORMAT in supported:
            return PLAYABLE_FORMAT
        raise EncoderError(f"the {codec.name} encoder cannot encode 8-bit 4:2:0 video, which browsers play; "
                           "use libx264, or keep the source format")
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


def output_container(dst: str | os.PathLike[str]) -> tuple[str, str]:
    """The muxer and default video codec for an output path, from its extension."""
    suffix = Path(dst).suffix.lower()
    if suffix not in CONTAINERS:
        raise VideoError(f"cannot write '{Path(dst).suffix or Path(dst).name}' files; the output must end in "
                         + ", ".join(CONTAINERS))
    return CONTAINERS[suffix]


def _even_size(frame: av.VideoFrame, keep_format: bool) -> tuple[int, int]:
    """The encoded size: the input's, less an odd last column or row unless the format is kept."""
    if keep_format:
        return frame.width, frame.height
    return frame.width - frame.width % 2, frame.height - frame.height % 2


def _cropped(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    """``frame`` without its last column and/or row (4:2:0 needs even sizes)."""
    cropped = av.VideoFrame(width, height, frame.format.name)
    for target, source in zip(_plane_views(cropped), _plane_views(frame)):
        target[...] = source[:target.shape[0], :target.shape[1]]
    for name in ("color_range", "colorspace"):
        setattr(cropped, name, getattr(frame, name))
    return cropped


class _Encoder:
    """The output video stream, set up from the first decoded frame."""

    def __init__(self, output: av.container.OutputContainer, source: av.VideoStream,
                 first: av.VideoFrame, settings: EncoderSettings, codec_name: str) -> None:
        self.pixel_format = _output_format(first, av.Codec(codec_name, "w"), settings.keep_format)
        self.size = _even_size(first, settings.keep_format)
        rate = _frame_rate(source)
        stream = output.add_stream(codec_name, rate=rate, options=settings.codec_options(codec_name))
        stream.width, stream.height = self.size
        stream.pix_fmt = self.pixel_format
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
        _copy_tags(source, stream)
        self.stream = stream
        self.output = output

    def conform(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame in the encoded pixel format and size."""
        if frame.format.name != self.pixel_format:
            frame = frame.reformat(format=self.pixel_format)
        if (frame.width, frame.height) != self.size:
            frame = _cropped(frame, *self.size)
        return frame

    def encode(self, frame: av.VideoFrame | None) -> None:
        for packet in self.stream.encode(frame):
            self.output.mux(packet)


def _copy_tags(source: av.stream.Stream, copy: av.stream.Stream) -> None:
    """Language, title and the other stream tags, and the dispositions (default, forced, ...)."""
    copy.metadata.update({key: value for key, value in source.metadata.items()
                          if key.lower() not in _STREAM_MUXER_KEYS})
    copy.disposition = source.disposition


def chain(*transforms: FrameTransform) -> FrameTransform:
    """One frame transform that applies ``transforms`` in order (the stamping frame loop, a checked marking)."""

    def apply(picture: Picture) -> None:
        for transform in transforms:
            transform(picture)

    return apply


def transcode(src: str | os.PathLike[str], dst: str | os.PathLike[str],
              transform: FrameTransform | None = None, *,
              settings: EncoderSettings = EncoderSettings(),
              metadata: dict[str, str] | None = None, mux_options: dict[str, str] | None = None,
              progress: Progress | None = None, overwrite: bool = True,
              finished: Callable[[], None] | None = None) -> int:
    """Decode ``src``, apply ``transform`` to each picture, encode to ``dst``.

    Parameters
    ----------
    src, dst : path
        Input video (any container FFmpeg reads) and output path (.mp4,
        .m4v, .mov, .mkv or .webm). ``dst`` appears only when complete, and
        is never ``src`` (by file identity).
    transform : callable, optional
        Called with each :class:`Picture`; it modifies the planes in place.
        None re-encodes unchanged (the baseline the mark is measured against).
    settings : EncoderSettings
        Video encoder, CRF, preset, and whether to keep the source's pixel format.
    metadata : dict, optional
        Container metadata to add to what the input carries.
    mux_options : dict, optional
        Options for the muxer (e.g. ``{"movflags": "use_metadata_tags"}``).
    progress : callable, optional
        Called with 1 after each frame.
    overwrite : bool
        Replace an existing ``dst`` (the command line asks for ``--force``).
    finished : callable, optional
        Called after the last frame is encoded, before ``dst`` is published:
        an exception there leaves no output (a check of what the pictures
        showed, such as :class:`watermark.remark.ExistingMarks`).

    Returns
    -------
    int
        Number of frames written.

    Warns
    -----
    DroppedStreamWarning
        For each stream of ``src`` the output cannot carry (e.g. SubRip
        subtitles in MP4: write .mkv to keep them).
    """
    src, dst = Path(src), Path(dst)
    container_format, default_codec = output_container(dst)
    codec_name = settings.codec or default_codec
    settings.check(codec_name)
    with outputs.Output(dst, overwrite=overwrite, inputs=[src]) as out:
        try:
            written = _transcode(src, dst, out.temporary, container_format, codec_name, transform, settings,
                                 metadata, mux_options, progress)
        except outputs.OutputError:
            raise
        except OSError as error:  # FFmpeg's write errors (disk full, I/O), e.g. while finishing the file
            raise outputs.write_failed(dst, error) from None
        if finished is not None:
            finished()
    return written


def _transcode(src: Path, dst: Path, temporary: Path, container_format: str, codec_name: str,
               transform: FrameTransform | None, settings: EncoderSettings, metadata: dict[str, str] | None,
               mux_options: dict[str, str] | None, progress: Progress | None) -> int:
    options = {"movflags": "+faststart"} if container_format in ("mp4", "mov") else {}
    options.update(mux_options or {})
    with open_input(src) as source:
        video = source.streams.video[0]
        clock = _Clock(video)
        try:
            output = av.open(str(temporary), mode="w", format=container_format, options=options)
        except av.error.FFmpegError as error:
            raise outputs.as_write_error(dst, error) or VideoError(
                f"cannot write '{dst}': {error.strerror or error}") from None
        with output:
            output.metadata.update({k: v for k, v in source.metadata.items() if k not in _MUXER_KEYS})
            output.metadata.update(metadata or {})
            kept = _kept_streams(source, output, src, dst)
            copies: dict[int, av.stream.Stream] = {}
            pending: list[av.Packet] = []  # packets that arrive before the streams are set up
            encoder: _Encoder | None = None

            def mux_copy(packet: av.Packet) -> None:
                if encoder is None:
                    pending.append(packet)
                else:
                    packet.stream = copies[packet.stream.index]
                    _mux(output, packet, dst)

            written = 0
            for frame in _decoded_frames(source, src, mux_copy, kept):
                if encoder is None:  # streams in the input's order: video, then the others
                    encoder = _Encoder(output, video, frame, settings, codec_name)
                    copies = {s.index: _copy_stream(output, s, dst) for s in kept}
                frame = encoder.conform(frame)
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
                    raise outputs.as_write_error(dst, error) or VideoError(
                        f"encoding '{dst}' failed: {error.strerror or error}") from None
                for packet in pending:
                    mux_copy(packet)
                pending.clear()
                written += 1
                if progress:
                    progress(1)
            _check_complete(src, video, written)
            try:
                encoder.encode(None)
            except av.error.FFmpegError as error:
                raise outputs.as_write_error(dst, error) or VideoError(
                    f"encoding '{dst}' failed: {error.strerror or error}") from None
    return written


class DroppedStreamWarning(UserWarning):
    """A stream of the input that the output container cannot carry was left out."""


_KINDS = {"audio": "audio", "subtitle": "subtitles", "data": "data", "attachment": "attachment",
          "video": "video"}


def _kept_streams(source: av.container.InputContainer, output: av.container.OutputContainer,
                  src: Path, dst: Path) -> list[av.stream.Stream]:
    """The input's other streams that the output container can carry; a warning names each one left out.

    Further video streams are left out too: they would carry pictures without the mark.
    """
    supported = output.supported_codecs
    kept = []
    for stream in source.streams:
        if stream.index == source.streams.video[0].index:
            continue
        name = stream.codec_context.name if stream.codec_context else "unknown"
        if stream.type == "video":
            why = "a second video stream would carry pictures without the mark"
        elif name not in supported:
            why = f"{dst.suffix} files cannot carry {name} {_KINDS.get(stream.type, stream.type)}" + (
                "; write .mkv to keep it" if dst.suffix.lower() != ".mkv" else "")
        else:
            kept.append(stream)
            continue
        warnings.warn(f"stream #{stream.index} of '{src}' is left out: {why}", DroppedStreamWarning, stacklevel=4)
    return kept


def _copy_stream(output: av.container.OutputContainer, stream: av.stream.Stream, dst: Path) -> av.stream.Stream:
    try:
        copy = output.add_stream_from_template(stream)
    except (av.error.FFmpegError, ValueError) as error:
        raise VideoError(f"cannot copy the {stream.codec_context.name} {stream.type} stream into "
                         f"'{dst.suffix}' ({error}); try an .mkv output") from None
    _copy_tags(stream, copy)
    return copy


def _mux(output: av.container.OutputContainer, packet: av.Packet, dst: Path) -> None:
    try:
        output.mux(packet)
    except av.error.FFmpegError as error:
        raise outputs.as_write_error(dst, error) or VideoError(
            f"cannot copy {packet.stream.codec_context.name} {packet.stream.type} into '{dst.suffix}' "
            f"({error.strerror or error}); try an .mkv output") from None
