"""Shared fixtures: small clips made in the test from a seeded generator, and
the real clips from ../shared/data/videos when they are there."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import os
import shutil

import av
import cv2
import numpy as np
import pytest

REAL_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


def textured_frames(width: int, height: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """RGB frames panning across a seeded random texture (natural-ish 1/f content)."""
    rng = np.random.default_rng(seed)
    big_h, big_w = height + count * 2 + 8, width + count * 3 + 8
    texture = sum(cv2.resize(rng.standard_normal((max(2, big_h // s), max(2, big_w // s))).astype(np.float32),
                             (big_w, big_h), interpolation=cv2.INTER_CUBIC) * s for s in (2, 4, 8, 16))
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    rgb = np.stack([texture * 200 + 30, texture * 160 + 50, 220 - texture * 150], axis=-1).astype(np.uint8)
    return [np.ascontiguousarray(rgb[i * 2:i * 2 + height, i * 3:i * 3 + width]) for i in range(count)]


def make_clip(path: Path, *, width: int = 480, height: int = 272, frames: int = 50, rate: int = 25,
              codec: str = "libx264", pix_fmt: str = "yuv420p", audio: bool = False,
              pts: Sequence[int] | None = None, time_base: Fraction | None = None,
              rotation: int = 0, crf: int = 12, seed: int = 0,
              container_format: str | None = None, faststart: bool = False) -> Path:
    """Write a small test clip; ``pts`` (in ``time_base``) makes it variable-rate.

    With ``faststart`` the MP4 index comes before the media data, so a
    truncated copy still opens and only decoding finds the damage.
    """
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format=container_format, options=options) as output:
        stream = output.add_stream(codec, rate=rate, options={"crf": str(crf)} if codec.startswith("libx26") else {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = output.add_stream("aac", rate=48000)
            sound.layout = "mono"
        for index, rgb in enumerate(textured_frames(width, height, frames, seed)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts = pts[index] if pts is not None else index
            if time_base is not None:
                frame.time_base = time_base
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
        if sound is not None:
            samples = int(48000 * frames / rate)
            for start in range(0, samples, 1024):
                n = min(1024, samples - start)
                tone = (0.2 * np.sin(2 * np.pi * 330 * (start + np.arange(n)) / 48000)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 48000, start, Fraction(1, 48000)
                for packet in sound.encode(chunk):
                    output.mux(packet)
            for packet in sound.encode():
                output.mux(packet)
    return path


def remux(src: Path, dst: Path, *, options: dict[str, str] | None = None,
          metadata: dict[str, str] | None = None) -> Path:
    """Copy the video and audio streams into a new file (no re-encode).

    The file-level metadata (manifest, AIGC label) is lost unless given again.
    """
    with av.open(str(src)) as source, av.open(str(dst), "w", options=options or {}) as output:
        output.metadata.update(metadata or {})
        streams = {s.index: output.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
        for packet in source.demux(*[source.streams[i] for i in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
    return dst


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-second 480x272 clip with an AAC sound track."""
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", audio=True)


def require(tool: str) -> str:
    """The path of a command-line tool the test needs (FFmpeg, Chromium), or skip, except in CI.

    CI installs them (.ci/run), so there a missing tool is a failure, never a silent skip.
    """
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is not installed (apt-get install {'ffmpeg' if tool.startswith('ff') else tool})"
        if os.environ.get("CI"):
            pytest.fail(reason + "; .ci/run installs it")
        pytest.skip(reason)
    return path


def real_clip(name: str) -> Path:
    """A real clip from ../shared/data/videos, or skip with the reason."""
    path = REAL_CLIPS / name
    if not path.exists():
        pytest.skip(f"real clip {path} is absent (../shared/data/videos is not beside the project)")
    return path


def lumas(path: Path) -> list[np.ndarray]:
    """All luma planes of a video."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]
