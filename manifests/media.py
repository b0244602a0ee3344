"""Which video files can carry a manifest, and whether a file really is one.

c2pa-rs embeds manifests in ISO BMFF (MP4, MOV, M4V) but not in WebM or
Matroska; and it signs a truncated file without complaint, so a decode check
with PyAV (FFmpeg) comes first: a manifest must never vouch for a broken file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import av

from manifests.boxes import check_structure
from manifests.errors import MediaError

#: File extensions that can be signed, and their MIME types as c2pa-rs names them.
SUPPORTED_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
}

#: The FFmpeg muxer that writes each supported MIME type.
MUXERS: dict[str, str] = {"video/mp4": "mp4", "video/quicktime": "mov"}

_SUPPORTED_NAMES = "MP4 (.mp4, .m4v) and MOV (.mov)"


@dataclass(frozen=True)
class VideoInfo:
    """What the decode check learnt about a video.

    Attributes
    ----------
    mime_type : str
        ``video/mp4`` or ``video/quicktime``.
    width, height : int
        Picture size in pixels.
    frames : int
        Number of video frames that decoded (that are in the file, when its encoder counted them).
    duration : float
        Length of the video stream in seconds.
    """

    mime_type: str
    width: int
    height: int
    frames: int
    duration: float


def sha256_file(path: str | os.PathLike[str]) -> str:
    """A file's SHA-256 as 64 hex digits, read in 1 MiB chunks (memory does not grow with the file).

    Raises ``OSError`` as ``open`` does; callers name the file in their own words.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def media_type(path: str | os.PathLike[str], role: str = "input") -> str:
    """The MIME type a file is signed as, from its extension.

    Parameters
    ----------
    path : path-like
    role : str
        ``"input"`` or ``"output"``: what the refusal suggests (convert the
        input, or name the output differently).

    Raises
    ------
    MediaError
        For any container other than MP4 or MOV, naming the supported ones.

    Examples
    --------
    >>> media_type("clip.MOV")
    'video/quicktime'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_TYPES:
        return SUPPORTED_TYPES[suffix]
    kind = f"a {suffix} file" if suffix else "a file without an extension"
    if role == "output":
        raise MediaError(f"output '{path}' is {kind}; Content Credentials can be embedded only in "
                         f"{_SUPPORTED_NAMES}: name it e.g. '{path.with_suffix('.mp4')}'")
    raise MediaError(f"'{path}' is {kind}; Content Credentials can be embedded only in {_SUPPORTED_NAMES}: "
                     f"convert it first, e.g. ffmpeg -i '{path}' -c:v libx264 -c:a aac "
                     f"'{path.with_suffix('.mp4')}'")


def check_video(path: str | os.PathLike[str], *, encoded_frames: int | None = None) -> VideoInfo:
    """Refuse files that are not complete, decodable MP4 or MOV videos.

    Every video frame is decoded (about 0.2 s for 10 s of 720p here), because
    a truncated or damaged file can still open and still sign.

    A caller that has just encoded the file itself (``aimark stamp`` signs
    its own encoder's output) says how many frames it encoded: the packets
    are then counted, not decoded, and none may be missing. Decoding
    them would check the encoder's pictures against themselves, and took as
    long as a third of the encode (0.6 s of a 6-second 720p stamp, 1.3 s at
    1080p); a file cut short still fails.

    Parameters
    ----------
    path : path-like
        The video to check.
    encoded_frames : int, optional
        How many video frames the caller encoded into ``path``.

    Returns
    -------
    VideoInfo
        Type, size, frame count and duration of the video.

    Raises
    ------
    MediaError
        Missing file, unsupported container, no video stream, decode error,
        or fewer frames than the container declares or the caller encoded (truncated).
    """
    mime = media_type(path)
    if not Path(path).is_file():
        raise MediaError(f"'{path}' does not exist or is not a file; check the path")
    check_structure(path)
    try:
        with av.open(os.fspath(path)) as container:
            if "mp4" not in container.format.name and "mov" not in container.format.name:
                raise MediaError(
                    f"'{path}' holds {container.format.long_name}, not MP4 or MOV; "
                    f"Content Credentials can be embedded only in {_SUPPORTED_NAMES}")
            if not container.streams.video:
                raise MediaError(f"'{path}' has no video stream; give a video file")
            stream = container.streams.video[0]
            if encoded_frames is None:
                stream.thread_type = "AUTO"  # decode on all cores: this check is most of the signing time
                frames = sum(1 for _ in container.decode(stream))
            else:
                frames = sum(1 for packet in container.demux(stream) if packet.size)  # the flush packet is empty
            width, height = stream.codec_context.width, stream.codec_context.height
            duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
            declared = stream.frames
    except av.FFmpegError as error:
        raise MediaError(
            f"'{path}' is corrupt or truncated ({error.strerror or error}); "
            "re-export the video and sign the complete file") from None
    expected = encoded_frames if encoded_frames is not None else declared
    if frames == 0 or (expected and frames < expected):
        raise MediaError(
            f"'{path}' is truncated: {frames} of {expected} video frames "
            f"{'decode' if encoded_frames is None else 'are in the file'}; "
            "re-export the video and sign the complete file")
    return VideoInfo(mime, width, height, frames, duration)
