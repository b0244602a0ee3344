"""Uploads for ``/matches/byContent``: streamed to a private temporary file, bounded, and always deleted.

The body is written to disk as it arrives (memory does not grow with its
size) and refused past the size limit; only containers recognised by their
first bytes are decoded, so a playlist or a concat script that would make
FFmpeg open other files or URLs never reaches the decoder; decoding stops at
a time limit; and at most a few uploads are analysed at once.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Iterable

import watermark
from aimark.errors import AimarkError
from watermark.video import read_pictures


class UploadError(AimarkError):
    """An upload the service will not analyse; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sniff_container(head: bytes) -> str | None:
    """The file suffix for a video container recognised from its first bytes, or None.

    ISO BMFF (MP4, MOV: a box type at offset 4), Matroska/WebM (EBML magic)
    and MPEG transport streams (sync bytes every 188 bytes).
    """
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"uuid", b"pnot"):
        return ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".mkv"
    if len(head) >= 377 and head[0] == head[188] == head[376] == 0x47:
        return ".ts"
    return None


@asynccontextmanager
async def received(chunks: AsyncIterator[bytes], *, limit: int, folder: Path | None = None) -> AsyncIterator[Path]:
    """Write an upload's chunks to a temporary file named for its container; delete it on exit.

    Raises
    ------
    UploadError
        413 past ``limit`` bytes, 400 for an empty body, 415 for a body that is not a known video container.
    """
    directory = Path(tempfile.mkdtemp(prefix="aimark-upload-", dir=folder))  # mode 0700: this process only
    part = directory / "upload.part"
    try:
        size, head = 0, b""
        with open(part, "wb") as stream:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadError(413, f"the upload is larger than the service's limit of {limit:,} bytes")
                if len(head) < 512:
                    head += chunk[:512 - len(head)]
                stream.write(chunk)
        if size == 0:
            raise UploadError(400, "the request has no body; send the video's bytes")
        suffix = sniff_container(head)
        if suffix is None:
            raise UploadError(415, "the body is not a video container this service reads (MP4, MOV, Matroska, "
                                   "WebM or MPEG-TS)")
        video = part.rename(directory / f"upload{suffix}")
        yield video
    finally:
        for leftover in directory.iterdir():
            leftover.unlink(missing_ok=True)
        directory.rmdir()


def detect_upload(path: Path, keys: Iterable[watermark.Key], *, max_seconds: float) -> list[watermark.Detection]:
    """Every key's detection in the uploaded video, decoding it once, within ``max_seconds``.

    Raises
    ------
    UploadError
        413 when decoding takes longer than allowed, 400 when the video cannot be decoded.
    """
    detector = watermark.Detector(list(keys))
    deadline = time.monotonic() + max_seconds
    try:
        for picture in read_pictures(path):
            detector.add_picture(picture)
            if time.monotonic() > deadline:
                raise UploadError(413, f"the video takes longer than the service's decoding limit of "
                                       f"{max_seconds:g} s; send a shorter excerpt")
    except watermark.WatermarkError as error:
        raise UploadError(400, "the upload cannot be decoded: "
                          + str(error).replace(f"'{path}'", "the upload").replace(str(path), "the upload")) from None
    return detector.results()

