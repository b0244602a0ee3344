"""Edits a copy of a work meets before it reaches a dataset: re-encoding, scaling, cropping, cutting, retiming."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np

RGB = Callable[[np.ndarray], np.ndarray]


def edit(src: Path, dst: Path, *, picture: RGB | None = None, window: tuple[float, float] | None = None,
         rate: int | None = None, crf: int = 23) -> Path:
    """Decode, cut ``window`` (re-timed from 0), resample to ``rate`` by timestamp, change pictures, encode H.264."""
    with av.open(str(src)) as source:
        stream = source.streams.video[0]
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in source.decode(stream)]
        source_rate = Fraction(stream.average_rate)
    start, end = window or (0.0, float("inf"))
    frames = [(t - start, rgb) for t, rgb in frames if start - 1e-6 <= t < end - 1e-6]
    if rate is not None:
        last, step = frames[-1][0], 1 / float(source_rate)
        ticks = np.arange(0, last + step - 1e-9, 1 / rate)
        times = np.array([t for t, _ in frames])
        frames = [(tick, frames[int(np.searchsorted(times, tick + 1e-9) - 1)][1]) for tick in ticks]
    pictures = [picture(rgb) if picture else rgb for _, rgb in frames]
    height, width = pictures[0].shape[:2]
    with av.open(str(dst), "w") as output:
        out = output.add_stream("libx264", rate=rate or source_rate, options={"crf": str(crf), "preset": "veryfast"})
        out.width, out.height, out.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
        for rgb in pictures:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:out.height, :out.width]), format="rgb24")
            output.mux(out.encode(frame))
        output.mux(out.encode())
    return dst


def scaled(height: int) -> RGB:
    return lambda rgb: cv2.resize(rgb, (round(rgb.shape[1] * height / rgb.shape[0] / 2) * 2, height),
                                  interpolation=cv2.INTER_AREA)


def centre_crop(rgb: np.ndarray, keep: float = 0.8) -> np.ndarray:
    h, w = rgb.shape[:2]
    ch, cw = int(h * keep) // 2 * 2, int(w * keep) // 2 * 2
    return rgb[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]
