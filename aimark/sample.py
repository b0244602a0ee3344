"""A generated sample clip, so the quick start needs no video of one's own.

A slow pan and zoom across a procedurally textured landscape with a moving
bright disc, flat sky and a dark corner (the areas where a mark would show
first), with a quiet tone as its sound track.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

import outputs

WIDTH, HEIGHT, RATE = 1280, 720, 25
_SAMPLE_RATE = 48000


def _landscape(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textured scene twice the frame size: sky gradient, hills, foliage."""
    rows = np.linspace(0.0, 1.0, height)[:, None]
    sky = np.stack([150 + 80 * rows, 180 + 50 * rows, 235 - 10 * rows], axis=-1) * np.ones((1, width, 1))
    noise = sum(cv2.resize(rng.standard_normal((height // s, width // s)).astype(np.float32), (width, height),
                           interpolation=cv2.INTER_CUBIC) * (s / 32) for s in (4, 8, 16, 32))
    horizon = (0.45 + 0.08 * np.sin(np.linspace(0, 9, width)))[None, :] * height
    ground = np.arange(height)[:, None] > horizon
    foliage = np.stack([50 + 30 * noise, 110 + 45 * noise, 40 + 20 * noise], axis=-1)
    scene = np.where(ground[..., None], foliage, sky)
    scene[int(height * 0.8):, : width // 6] *= 0.15  # a dark corner
    return np.clip(scene, 0, 255).astype(np.uint8)


def write_sample(path: Path, *, seconds: float = 5.0, seed: int = 7, overwrite: bool = True) -> None:
    """Write the sample clip (H.264 + AAC in MP4) to ``path``."""
    rng = np.random.default_rng(seed)
    scene = _landscape(rng, HEIGHT * 2, WIDTH * 2)
    frames = int(round(seconds * RATE))
    with outputs.Output(path, overwrite=overwrite) as out, \
            av.open(str(out.temporary), "w", format="mp4") as output:
        video = output.add_stream("libx264", rate=RATE, options={"crf": "16", "preset": "fast"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = output.add_stream("aac", rate=_SAMPLE_RATE)
        audio.layout = "mono"
        for index in range(frames):
            progress = index / max(1, frames - 1)
            zoom = 1.6 - 0.3 * progress
            x0 = int(progress * (scene.shape[1] - WIDTH * zoom))
            crop = scene[HEIGHT // 3: HEIGHT // 3 + int(HEIGHT * zoom), x0: x0 + int(WIDTH * zoom)]
            picture = cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
            centre = (int(WIDTH * (0.2 + 0.6 * progress)), int(HEIGHT * 0.25))
            cv2.circle(picture, centre, 40, (255, 240, 200), -1, lineType=cv2.LINE_AA)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            for packet in video.encode(frame):
                output.mux(packet)
        for packet in video.encode():
            output.mux(packet)
        _write_tone(output, audio, seconds)


def _write_tone(output: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    chunk = 1024
    total = int(seconds * _SAMPLE_RATE)
    for start in range(0, total, chunk):
        t = (np.arange(start, min(start + chunk, total)) / _SAMPLE_RATE).astype(np.float32)
        samples = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = _SAMPLE_RATE
        frame.pts = start
        frame.time_base = Fraction(1, _SAMPLE_RATE)
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode():
        output.mux(packet)
