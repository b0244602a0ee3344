"""The transformations a marked video meets on its way, one function each.

Every attack reads ``src`` and writes ``dst`` (decoded and re-encoded with
PyAV; pictures changed with numpy and OpenCV) and returns a note, empty unless
the attack had to deviate for this clip (e.g. a downscale that would upscale a
small clip is a plain re-encode instead). Unless its description says
otherwise, an attacked output is H.264 CRF 23, preset medium, yuv420p, no
audio, at the source's frame rate.

``ATTACKS`` lists them in table order; ``TARGET`` attacks carry the issue's
>= 98 % exact-identifier requirement, ``STRETCH`` ones are reported either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import cv2
import numpy as np

from videoio import H264_CRF23, Encoder, RGBTransform, TimedFrame, decode, even, frame_rate, transcode_frames

TARGET = "target"
STRETCH = "stretch"


# --- the pipeline every attack goes through ----------------------------------


def transform_video(src: Path, dst: Path, *, transform: RGBTransform | None = None,
           encoder: Encoder = H264_CRF23, fps: float | None = None,
           window: tuple[float, float] | None = None) -> int:
    """Decode ``src``, optionally cut, retime and transform, encode to ``dst``;
    returns the number of frames written.

    Without a transform, decoded frames go to the encoder as they are (one
    colour conversion fewer, as a platform's transcoder would do).
    """
    rate = frame_rate(src)
    frames: Iterator[TimedFrame] = decode(src)
    if window is not None:
        frames = _cut(frames, *window)
    if fps is not None:
        frames = _retime(frames, fps, 1.0 / float(rate))
        rate = Fraction(fps).limit_denominator(1001)

    def pictures() -> Iterator[np.ndarray | av.VideoFrame]:
        for tf in frames:
            if transform is None:
                yield tf.frame
            else:
                yield transform(tf.frame.to_ndarray(format="rgb24"))

    return transcode_frames(pictures(), dst, encoder=encoder, rate=rate)


def _cut(frames: Iterator[TimedFrame], start: float, end: float) -> Iterator[TimedFrame]:
    """Frames whose time is in [start, end), re-timed from zero."""
    for tf in frames:
        if start - 1e-6 <= tf.time < end - 1e-6:
            yield TimedFrame(tf.time - start, tf.frame)
        elif tf.time >= end:
            break


def _retime(frames: Iterator[TimedFrame], fps: float, frame_period: float) -> Iterator[TimedFrame]:
    """Sample the clip at ``fps``: each output instant shows the latest input
    frame at or before it, so frames are dropped (lower rate) or repeated
    (higher rate) by timestamp, as a player or a platform resampler does."""
    k = 0
    shown: TimedFrame | None = None
    for tf in frames:
        while shown is not None and k / fps < tf.time - 1e-9:
            yield TimedFrame(k / fps, shown.frame)
            k += 1
        shown = tf
    if shown is not None:
        while k / fps < shown.time + frame_period - 1e-9:
            yield TimedFrame(k / fps, shown.frame)
            k += 1


def video_span(path: Path) -> float:
    """Duration of the video stream in seconds, from packet timestamps (no decode)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        lo, hi = math.inf, -math.inf
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base)
            lo, hi = min(lo, t), max(hi, t + float((packet.duration or 0) * packet.time_base))
    return max(0.0, hi - lo)


def _size(src: Path) -> tuple[int, int]:
    with av.open(str(src)) as container:
        ctx = container.streams.video[0].codec_context
        return ctx.width, ctx.height


# --- picture operations ---------------------------------------------------------


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    # INTER_AREA to shrink (what good downscalers approximate), bicubic to enlarge.
    shrinking = width * height < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def _center_crop(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    x, y = (w - width) // 2, (h - height) // 2
    return rgb[y:y + height, x:x + width]


def _height_scaler(src: Path, height: int) -> tuple[RGBTransform | None, str]:
    w, h = _size(src)
    if h <= height:
        return None, f"clip is {h} px high: no upscale, plain re-encode"
    width = even(w * height / h)
    return (lambda rgb: _resize(rgb, width, height)), ""


# --- the attacks ------------------------------------------------------------------


def h264_crf23(src: Path, dst: Path) -> str:
    """Re-encode with H.264 CRF 23, preset medium: the common platform setting."""
    transform_video(src, dst)
    return ""


def h264_crf28(src: Path, dst: Path) -> str:
    """Re-encode with H.264 CRF 28: a low-bitrate platform."""
    transform_video(src, dst, encoder=Encoder(crf=28))
    return ""


def h264_crf35(src: Path, dst: Path) -> str:
    """Re-encode with H.264 CRF 35: visibly degraded."""
    transform_video(src, dst, encoder=Encoder(crf=35))
    return ""


def h264_crf40(src: Path, dst: Path) -> str:
    """Re-encode with H.264 CRF 40: Video Seal's hardest published codec point."""
    transform_video(src, dst, encoder=Encoder(crf=40))
    return ""


def downscale_480p(src: Path, dst: Path) -> str:
    """Scale to 480 lines high (aspect kept, even width), INTER_AREA; never upscale."""
    transform, note = _height_scaler(src, 480)
    transform_video(src, dst, transform=transform)
    return note


def downscale_360p(src: Path, dst: Path) -> str:
    """Scale to 360 lines high (aspect kept, even width), INTER_AREA; never upscale."""
    transform, note = _height_scaler(src, 360)
    transform_video(src, dst, transform=transform)
    return note


def platform_480p(src: Path, dst: Path) -> str:
    """A platform rendition: 480 lines high (never up), H.264 CRF 30, preset veryfast."""
    transform, note = _height_scaler(src, 480)
    transform_video(src, dst, transform=transform, encoder=PLATFORM)
    return note


def platform_360p(src: Path, dst: Path) -> str:
    """A platform rendition: 360 lines high (never up), H.264 CRF 30, preset veryfast."""
    transform, note = _height_scaler(src, 360)
    transform_video(src, dst, transform=transform, encoder=PLATFORM)
    return note


def crop_center_80(src: Path, dst: Path) -> str:
    """Keep the centre 80 % of each side (64 % of the area); output at the cropped size."""
    w, h = _size(src)
    cw, ch = even(w * 0.8), even(h * 0.8)
    transform_video(src, dst, transform=lambda rgb: _center_crop(rgb, cw, ch))
    return ""


def crop_71_rescale(src: Path, dst: Path) -> str:
    """Keep the centre 71 % of each side (about half the area), scale back to the original size (bicubic)."""
    w, h = _size(src)
    cw, ch = even(w * 0.71), even(h * 0.71)
    transform_video(src, dst, transform=lambda rgb: _resize(_center_crop(rgb, cw, ch), w, h))
    return ""


def _excerpt(src: Path, dst: Path, seconds: float) -> str:
    span = video_span(src)
    if span <= seconds:
        transform_video(src, dst)
        return f"clip is {span:.1f} s: the excerpt is the whole clip"
    mid = span / 2
    transform_video(src, dst, window=(mid - seconds / 2, mid + seconds / 2))
    return ""


def excerpt_2s_middle(src: Path, dst: Path) -> str:
    """Cut the 2 seconds around the middle of the clip (timestamps [mid-1, mid+1))."""
    return _excerpt(src, dst, 2.0)


def excerpt_1s_middle(src: Path, dst: Path) -> str:
    """Cut the second around the middle of the clip (timestamps [mid-0.5, mid+0.5)): a 1-second clip."""
    return _excerpt(src, dst, 1.0)


def fps_24(src: Path, dst: Path) -> str:
    """Resample to 24 fps by timestamp (drop or repeat frames), encoded at 24 fps."""
    transform_video(src, dst, fps=24)
    return ""


def fps_15(src: Path, dst: Path) -> str:
    """Resample to 15 fps by timestamp (drop frames), encoded at 15 fps."""
    transform_video(src, dst, fps=15)
    return ""


def brightness_plus20(src: Path, dst: Path) -> str:
    """Add 20 levels to R, G and B (of 255), clipped."""
    transform_video(src, dst, transform=lambda rgb: cv2.add(rgb, np.full_like(rgb, 20)))
    return ""


def contrast_x1_3(src: Path, dst: Path) -> str:
    """Multiply contrast by 1.3 about mid-grey: ``(x - 128) * 1.3 + 128``, clipped."""
    transform_video(src, dst, transform=lambda rgb: cv2.convertScaleAbs(rgb, alpha=1.3, beta=128 - 1.3 * 128))
    return ""


def _saturate(rgb: np.ndarray, factor: float) -> np.ndarray:
    grey = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(rgb, factor, grey, 1.0 - factor, 0.0)


def saturation_x1_5(src: Path, dst: Path) -> str:
    """Multiply saturation by 1.5: blend away from the grey picture (as PIL's ImageEnhance.Color)."""
    transform_video(src, dst, transform=lambda rgb: _saturate(rgb, 1.5))
    return ""


def h265_crf28(src: Path, dst: Path) -> str:
    """Re-encode with H.265 (libx265) CRF 28, preset medium."""
    transform_video(src, dst, encoder=H265_CRF28)
    return ""


def h265_crf32(src: Path, dst: Path) -> str:
    """Re-encode with H.265 (libx265) CRF 32, preset medium."""
    transform_video(src, dst, encoder=H265_CRF32)
    return ""


def vp9_crf35(src: Path, dst: Path) -> str:
    """Re-encode with VP9 (libvpx-vp9) CRF 35, b:v 0 (constant quality), cpu-used 4, row-mt."""
    transform_video(src, dst, encoder=VP9_CRF35)
    return ""


def crf30_crop71_480p(src: Path, dst: Path) -> str:
    """Combination: keep the centre 71 % of each side, scale to 480 lines high (never up), H.264 CRF 30."""
    w, h = _size(src)
    cw, ch = even(w * 0.71), even(h * 0.71)
    note = ""
    if ch > 480:
        tw = even(cw * 480 / ch)
        transform: RGBTransform = lambda rgb: _resize(_center_crop(rgb, cw, ch), tw, 480)
    else:
        transform = lambda rgb: _center_crop(rgb, cw, ch)
        note = f"crop is {ch} px high: no upscale, crop + CRF 30 only"
    transform_video(src, dst, transform=transform, encoder=Encoder(crf=30))
    return note


def hflip(src: Path, dst: Path) -> str:
    """Mirror left-right."""
    transform_video(src, dst, transform=lambda rgb: np.ascontiguousarray(rgb[:, ::-1]))
    return ""


def _rotate_crop(src: Path, dst: Path, degrees: float) -> str:
    w, h = _size(src)
    theta = math.radians(degrees)
    c, s = math.cos(theta), math.sin(theta)
    zoom = 1.0 / min(w / (w * c + h * s), h / (w * s + h * c))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, zoom)
    transform_video(src, dst, transform=lambda rgb: cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR))
    return f"zoom x{zoom:.3f}"


def rotate2_crop(src: Path, dst: Path) -> str:
    """Rotate 2 degrees about the centre and zoom in just enough to crop the black corners (output at the original size)."""
    return _rotate_crop(src, dst, 2.0)


def rotate5_crop(src: Path, dst: Path) -> str:
    """Rotate 5 degrees about the centre and zoom in just enough to crop the black corners (output at the original size)."""
    return _rotate_crop(src, dst, 5.0)


def rotate5_black(src: Path, dst: Path) -> str:
    """Rotate 5 degrees about the centre, same frame size, black corners kept."""
    w, h = _size(src)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 5, 1.0)
    transform_video(src, dst, transform=lambda rgb: cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR))
    return ""


def reframe_9x16(src: Path, dst: Path) -> str:
    """Reframe to portrait: centre crop to 9:16 at full height (as for phone feeds)."""
    w, h = _size(src)
    cw = even(h * 9 / 16)
    if cw >= w:
        transform_video(src, dst)
        return "clip is already 9:16 or narrower: plain re-encode"
    transform_video(src, dst, transform=lambda rgb: _center_crop(rgb, cw, h))
    return f"{cw}x{h} kept of {w}x{h} ({cw / w:.0%} of the width)"


def _caption(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    # A white caption bar 60 % wide and 1/6 high (10 % of the frame) low in
    # the picture, plus a small logo box top-right, as a re-uploader adds them.
    out = rgb.copy()
    bw, bh = int(w * 0.6), int(h / 6)
    x0, y0 = (w - bw) // 2, int(h * 0.78) - bh // 2
    out[y0:y0 + bh, x0:x0 + bw] = 255
    scale = bh / 60.0
    cv2.putText(out, "Watch till the end!", (x0 + int(bw * 0.05), y0 + int(bh * 0.68)),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(1, int(scale * 2)), cv2.LINE_AA)
    return out


def caption_box(src: Path, dst: Path) -> str:
    """Burn in a caption: a white box with black text covering 10 % of the frame (60 % wide, 1/6 high, lower third)."""
    transform_video(src, dst, transform=_caption)
    return ""


#: VP9 speed settings: the encoder's default (cpu-used 0/1) runs at about one
#: 1080p frame per second here; platforms use the fast modes too.
VP9_CRF35 = Encoder(codec="libvpx-vp9", crf=35, preset=None, bit_rate=0,
                    extra={"cpu-used": "4", "row-mt": "1", "deadline": "good"})
H265_CRF28 = Encoder(codec="libx265", crf=28, extra={"x265-params": "log-level=error"})
H265_CRF32 = Encoder(codec="libx265", crf=32, extra={"x265-params": "log-level=error"})
#: What a video platform's lower renditions are encoded with.
PLATFORM = Encoder(crf=30, preset="veryfast")


@dataclass(frozen=True)
class Attack:
    """A named attack: the function, its group and the output it produces."""

    name: str
    func: Callable[[Path, Path], str]
    group: str
    output: Encoder = H264_CRF23

    @property
    def description(self) -> str:
        return (self.func.__doc__ or "").strip().splitlines()[0]


ATTACKS: tuple[Attack, ...] = (
    Attack("h264_crf23", h264_crf23, TARGET),
    Attack("h264_crf28", h264_crf28, TARGET, Encoder(crf=28)),
    Attack("h264_crf35", h264_crf35, TARGET, Encoder(crf=35)),
    Attack("downscale_480p", downscale_480p, TARGET),
    Attack("downscale_360p", downscale_360p, TARGET),
    Attack("crop_center_80", crop_center_80, TARGET),
    Attack("crop_71_rescale", crop_71_rescale, TARGET),
    Attack("excerpt_2s_middle", excerpt_2s_middle, TARGET),
    Attack("fps_24", fps_24, TARGET),
    Attack("fps_15", fps_15, TARGET),
    Attack("brightness_plus20", brightness_plus20, TARGET),
    Attack("contrast_x1_3", contrast_x1_3, TARGET),
    Attack("saturation_x1_5", saturation_x1_5, TARGET),
    Attack("h265_crf28", h265_crf28, TARGET, H265_CRF28),
    Attack("vp9_crf35", vp9_crf35, TARGET, VP9_CRF35),
    Attack("crf30_crop71_480p", crf30_crop71_480p, TARGET, Encoder(crf=30)),
    Attack("platform_480p", platform_480p, TARGET, PLATFORM),
    Attack("platform_360p", platform_360p, TARGET, PLATFORM),
    Attack("h265_crf32", h265_crf32, TARGET, H265_CRF32),
    Attack("h264_crf40", h264_crf40, STRETCH, Encoder(crf=40)),
    Attack("hflip", hflip, STRETCH),
    Attack("rotate2_crop", rotate2_crop, STRETCH),
    Attack("rotate5_crop", rotate5_crop, STRETCH),
    Attack("rotate5_black", rotate5_black, STRETCH),
    Attack("reframe_9x16", reframe_9x16, STRETCH),
    Attack("caption_box", caption_box, STRETCH),
    Attack("excerpt_1s_middle", excerpt_1s_middle, STRETCH),
)

#: The few attacks of a ``--quick`` run: codec, scale, crop, time and the combination.
QUICK_ATTACKS = ("h264_crf28", "downscale_360p", "crop_center_80", "excerpt_2s_middle",
                 "fps_15", "crf30_crop71_480p")


def select(names: str | None, *, quick: bool) -> list[Attack]:
    """Attacks by comma-separated name (``--attacks``), the quick set, or all."""
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        known = {a.name: a for a in ATTACKS}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise SystemExit(f"unknown attack(s) {unknown}; known: {', '.join(known)}")
        return [known[n] for n in wanted]
    if quick:
        return [a for a in ATTACKS if a.name in QUICK_ATTACKS]
    return list(ATTACKS)
