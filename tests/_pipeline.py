"""Helpers for the pipeline tests: a private aimark home per test, and the
changes a video meets after stamping (a remux that strips metadata, a
platform-style re-encode)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from watermark.video import Picture, read_pictures, transcode

C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


@dataclass(frozen=True)
class Stamped:
    """A video stamped by a test module's fixture: its source, the stamped file, and where its records are."""

    original: Path
    path: Path
    identifier: str
    repository: Path
    folder: Path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh aimark home (development identity, repository) for each test."""
    folder = tmp_path / "aimark-home"
    monkeypatch.setenv("AIMARK_HOME", str(folder))
    monkeypatch.delenv("AIMARK_SETTINGS", raising=False)
    return folder


def platform_reencode(src: Path, dst: Path, *, height: int = 360, bit_rate: int = 500_000,
                      cut: float = 0.0) -> Path:
    """What an upload platform does: downscale, low bit rate H.264, no audio, no metadata.

    ``cut`` drops the first seconds, and the copy's clock starts again at 0.
    """
    with av.open(str(src)) as source, av.open(str(dst), "w") as output:
        video = source.streams.video[0]
        width = round(video.codec_context.width * height / video.codec_context.height / 2) * 2
        stream = output.add_stream("libx264", rate=video.average_rate, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bit_rate
        stream.time_base = video.time_base
        first = None
        for frame in source.decode(video):
            if frame.time < cut:
                continue
            first = frame.pts if first is None else first
            scaled = frame.reformat(width=width, height=height, format="yuv420p")
            scaled.pts, scaled.time_base = frame.pts - first, frame.time_base
            output.mux(stream.encode(scaled))
        output.mux(stream.encode())
    return dst


def replace_span(marked: Path, original: Path, dst: Path, start: float, end: float, *,
                 mirrored: bool = False) -> Path:
    """``marked`` with the pictures from ``start`` to ``end`` seconds taken from ``original`` (unmarked).

    ``mirrored`` flips the replacement left to right: other pictures, not just the unmarked same ones.
    """
    originals = read_pictures(original)

    def swap(picture: Picture) -> None:
        source = next(originals)
        if start <= picture.time < end:
            for plane, replacement in zip(picture.planes, source.planes):
                plane[...] = replacement[:, ::-1] if mirrored else replacement

    transcode(marked, dst, swap)
    return dst


def append_manifest(path: Path, store: bytes) -> None:
    """Put a manifest store into ``path`` as a tamperer would: a C2PA ``uuid`` box at the end."""
    body = b"\0\0\0\0manifest\0" + bytes(8) + store
    box = struct.pack(">I4s", 8 + len(C2PA_UUID) + len(body), b"uuid") + C2PA_UUID + body
    with open(path, "ab") as stream:
        stream.write(box)


def reframe(src: Path, dst: Path, *, crop: tuple[int, int, int, int] | None = None, mirror: bool = False) -> Path:
    """A re-edited copy: cropped to ``(x, y, width, height)`` and/or mirrored left to right."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as output:
        video = source.streams.video[0]
        x, y, width, height = crop or (0, 0, video.codec_context.width, video.codec_context.height)
        stream = output.add_stream("libx264", rate=video.average_rate, options={"preset": "veryfast", "crf": "20"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in source.decode(video):
            rgb = frame.to_ndarray(format="rgb24")[y:y + height, x:x + width]
            picture = np.ascontiguousarray(rgb[:, ::-1] if mirror else rgb)
            output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        output.mux(stream.encode())
    return dst
