"""ISO BMFF (MP4, MOV) top-level boxes: the one reader of a file's box structure.

A file is a sequence of boxes, each a 32-bit size (or 1 and a 64-bit size
after the type, or 0 for 'to the end of the file') and a four-letter type.
Walking them without decoding says cheaply whether the file is complete (a
truncated file has a box that runs past its end, or no ``moov``), and finds
the ``uuid`` box C2PA puts its manifest store in.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from manifests.errors import MediaError

# The uuid box that holds a C2PA manifest store in MP4 and MOV (C2PA 2.x, A.5).
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
# A box type is four printable characters ('ftyp', 'moov', 'uuid', '\xa9too' aside, which only nests).
_BOX_TYPE = re.compile(rb"[\x20-\x7e]{4}")


@dataclass(frozen=True)
class Box:
    """One top-level box: its type, where it starts, its whole size and its header's size, in bytes."""

    kind: bytes
    offset: int
    size: int
    header: int


def _truncated(path: str | os.PathLike[str], detail: str) -> MediaError:
    return MediaError(f"'{path}' is truncated or damaged ({detail}); re-export the complete video")


def boxes(stream: BinaryIO, length: int, path: str | os.PathLike[str] = "the file") -> Iterator[Box]:
    """The top-level boxes of an ISO BMFF stream of ``length`` bytes.

    Raises
    ------
    MediaError
        A box whose size is smaller than its header or runs past the end.
    """
    offset = 0
    while offset < length:
        stream.seek(offset)
        header = stream.read(8)
        if len(header) < 8:  # a few stray bytes after the last box: players ignore them too
            return
        size, kind = struct.unpack(">I4s", header)
        used = 8
        if size == 1:
            large = stream.read(8)
            if len(large) < 8:
                raise _truncated(path, f"the {kind!r} box's 64-bit size is cut off")
            size, used = struct.unpack(">Q", large)[0], 16
        elif size == 0:  # runs to the end of the file
            size = length - offset
        if size < used:
            raise _truncated(path, f"the {kind!r} box at byte {offset} claims {size} bytes")
        if offset + size > length:
            raise _truncated(path, f"the {kind.decode('latin-1')!r} box needs {size:,} bytes, "
                                   f"{length - offset:,} remain")
        yield Box(kind, offset, size, used)
        offset += size


def check_structure(path: str | os.PathLike[str]) -> None:
    """Refuse an MP4 or MOV file that is empty, cut short, or has no movie header (``moov``).

    Raises
    ------
    MediaError
        Naming what is missing.
    """
    try:
        length = os.path.getsize(path)
        if length == 0:
            raise MediaError(f"'{path}' is empty (0 bytes); give the complete video")
        with open(path, "rb") as stream:
            if not _BOX_TYPE.fullmatch(stream.read(8)[4:8]):
                raise MediaError(f"'{path}' is not MP4 or MOV (it does not start with an ISO BMFF box); "
                                 "Content Credentials can be embedded only in MP4 and MOV")
            kinds = {box.kind for box in boxes(stream, length, path)}
    except OSError as error:
        raise MediaError(f"cannot read '{path}' ({error.strerror}); check the path") from None
    if b"moov" not in kinds:
        raise _truncated(path, "no movie header ('moov' box)")


def manifest_store_bytes(path: str | os.PathLike[str]) -> bytes | None:
    """The C2PA manifest store (JUMBF) in a file's top-level ``uuid`` box, or None.

    Raises
    ------
    MediaError
        If the file cannot be read or its boxes are damaged.
    """
    path = Path(path)
    try:
        length = path.stat().st_size
        with open(path, "rb") as stream:
            for box in boxes(stream, length, path):
                if box.kind != b"uuid" or box.size < box.header + 16:
                    continue
                stream.seek(box.offset + box.header)
                if stream.read(16) != C2PA_UUID:
                    continue
                body = stream.read(box.size - box.header - 16)
                end = body.find(b"\0", 4)  # version and flags, then the purpose string
                if end > 0 and body[4:end] == b"manifest" and len(body) > end + 9:
                    return body[end + 1 + 8:]  # after the 64-bit merkle offset
    except OSError as error:
        raise MediaError(f"cannot read '{path}' ({error.strerror}); check the path") from None
    return None
