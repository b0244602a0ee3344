"""The visible notice ('AI生成' / 'AI-generated'): a frame transform for the stamping pass.

GB 45438-2025 asks for a clear notice on the opening of a generated video,
shown for at least 2 seconds; the standard sets 5% of the picture's shorter
side as the text size for images, used here for video too. The notice is
white text with a dark outline on a translucent dark box, so it stays legible
on bright and dark pictures alike. It is drawn with a bundled subset of Noto
Sans CJK SC (SIL Open Font License; Latin, and the 3,755 common Chinese
characters of GB 2312 level 1), so it looks the same on every machine.

The overlay is rendered once per picture size and blended into each frame;
frames are never modified in place.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from manifests.errors import DescriptionError

#: The notice in Chinese, as the Measures' examples write it.
NOTICE_ZH = "AI生成"
#: The notice in English.
NOTICE_EN = "AI-generated"

#: Where the notice can sit.
POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom", "center")

#: The font bundled with aimark.
DEFAULT_FONT = Path(__file__).with_name("fonts") / "AimarkNoticeSans-Bold.otf"

_MIN_TEXT_PIXELS = 12  # below this even 5% of a tiny picture is unreadable
_BOX_ALPHA = 0.55


@dataclass(frozen=True)
class Overlay:
    """A rendered notice for one picture size.

    Attributes
    ----------
    rgba : numpy.ndarray
        ``(h, w, 4)`` uint8, straight (not premultiplied) alpha.
    x, y : int
        Top-left corner of the overlay in the picture, in pixels.
    text_height : int
        Height of the text's ink in pixels (what the 5% rule measures).
    """

    rgba: np.ndarray
    x: int
    y: int
    text_height: int


@dataclass(frozen=True)
class Notice:
    """A visible 'AI-generated' notice and when and where it shows.

    Parameters
    ----------
    text : str
        ``NOTICE_ZH`` ('AI生成', default), ``NOTICE_EN`` or custom text.
    position : str
        One of :data:`POSITIONS`. Default: top-left.
    start : float
        Second at which the notice appears. Default: 0.
    duration : float
        Seconds it stays; default 2.0, the minimum GB 45438-2025 sets.
    height : float
        Text height as a fraction of the picture's shorter side; default 0.05.
    font : path-like, optional
        TrueType/OpenType font for text the bundled one lacks.

    Raises
    ------
    DescriptionError
        Empty text, unknown position, negative times, height outside (0, 0.5],
        unreadable font, or characters the font cannot draw.

    Examples
    --------
    >>> notice = Notice(NOTICE_EN, position="bottom-right", duration=3)
    >>> frame = np.zeros((720, 1280, 3), np.uint8)
    >>> notice.apply(frame, time=0.5).max() > 0
    True
    """

    text: str = NOTICE_ZH
    position: str = "top-left"
    start: float = 0.0
    duration: float = 2.0
    height: float = 0.05
    font: str | Path | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise DescriptionError("the notice text is empty; use e.g. 'AI生成' or 'AI-generated'")
        if self.position not in POSITIONS:
            raise DescriptionError(f"notice position {self.position!r} is not one of {', '.join(POSITIONS)}")
        if self.start < 0 or self.duration <= 0:
            raise DescriptionError(f"notice start {self.start} s and duration {self.duration} s: "
                                   "the start must be 0 or more and the duration more than 0")
        if not 0 < self.height <= 0.5:
            raise DescriptionError(f"notice height {self.height} is not a fraction in (0, 0.5]; "
                                   "0.05 is 5% of the shorter side")
        _check_glyphs(self.text, _font_path(self.font))

    def shows_at(self, time: float) -> bool:
        """Whether the notice is on screen at ``time`` seconds."""
        return self.start <= time < self.start + self.duration

    def overlay(self, width: int, height: int) -> Overlay:
        """The notice rendered for a ``width`` x ``height`` picture (cached per size)."""
        return _render(self, width, height)

    def apply(self, frame: np.ndarray, time: float) -> np.ndarray:
        """Blend the notice into an RGB frame if it shows at ``time``.

        Parameters
        ----------
        frame : numpy.ndarray
            ``(H, W, 3)`` uint8 RGB picture; not modified.
        time : float
            Presentation time of the frame in seconds.

        Returns
        -------
        numpy.ndarray
            A new ``(H, W, 3)`` uint8 frame (``frame`` itself when the notice is off).
        """
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise DescriptionError(f"frame of shape {frame.shape} and dtype {frame.dtype}: "
                                   "give an (H, W, 3) uint8 RGB picture")
        if not self.shows_at(time):
            return frame
        over = self.overlay(frame.shape[1], frame.shape[0])
        out = frame.copy()
        h, w = over.rgba.shape[:2]
        region = out[over.y:over.y + h, over.x:over.x + w].astype(np.float32)
        alpha = over.rgba[..., 3:4].astype(np.float32) / 255
        region = region * (1 - alpha) + over.rgba[..., :3].astype(np.float32) * alpha
        out[over.y:over.y + h, over.x:over.x + w] = np.rint(region).astype(np.uint8)
        return out

    def apply_yuv420p(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], time: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Blend the notice into the planes of a ``yuv420p`` frame (BT.601 limited range).

        For pipelines that work on Y, U and V planes and avoid RGB round trips.

        Parameters
        ----------
        planes : tuple of numpy.ndarray
            Y ``(H, W)``, U and V ``(ceil(H/2), ceil(W/2))``, uint8; not modified.
        time : float
            Presentation time of the frame in seconds.

        Returns
        -------
        tuple of numpy.ndarray
            New Y, U and V planes (the inputs themselves when the notice is off).
        """
        y_plane, u_plane, v_plane = planes
        if not self.shows_at(time):
            return planes
        over = self.overlay(y_plane.shape[1], y_plane.shape[0])
        rgb = over.rgba[..., :3].astype(np.float32)
        alpha = over.rgba[..., 3].astype(np.float32) / 255
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        luma = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
        cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
        cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
        out_y = _blend(y_plane, luma, alpha, over.x, over.y)
        # Chroma is subsampled 2x2: blend at half resolution from an even corner.
        x0, y0 = over.x - over.x % 2, over.y - over.y % 2
        pad = ((over.y - y0, 0), (over.x - x0, 0))
        half = [_halve(np.pad(channel, pad)) for channel in (cb, cr, alpha)]
        out_u = _blend(u_plane, half[0], half[2], x0 // 2, y0 // 2)
        out_v = _blend(v_plane, half[1], half[2], x0 // 2, y0 // 2)
        return out_y, out_u, out_v


def _blend(plane: np.ndarray, values: np.ndarray, alpha: np.ndarray, x: int, y: int) -> np.ndarray:
    out = plane.copy()
    h = min(values.shape[0], plane.shape[0] - y)
    w = min(values.shape[1], plane.shape[1] - x)
    region = out[y:y + h, x:x + w].astype(np.float32)
    a = alpha[:h, :w]
    out[y:y + h, x:x + w] = np.clip(np.rint(region * (1 - a) + values[:h, :w] * a), 0, 255).astype(np.uint8)
    return out


def _halve(channel: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block (odd sizes padded by edge repetition)."""
    h, w = channel.shape
    padded = np.pad(channel, ((0, h % 2), (0, w % 2)), mode="edge")
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).mean(axis=(1, 3))


def _font_path(font: str | Path | None) -> Path:
    path = Path(font) if font is not None else DEFAULT_FONT
    if not path.is_file():
        raise DescriptionError(f"notice font '{path}' does not exist; give a .ttf or .otf file")
    return path


@functools.lru_cache(maxsize=32)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        raise DescriptionError(f"notice font '{path}' is not a readable TrueType/OpenType font") from None


def _check_glyphs(text: str, path: Path) -> None:
    """Refuse characters the font lacks, which would render as empty boxes.

    Pillow has no glyph lookup, but a missing character is drawn as the
    font's .notdef glyph, the same one an unassigned code point gets.
    """
    font = _font(path, 32)

    def drawn(ch: str) -> bytes:
        image = Image.new("L", (64, 64))
        ImageDraw.Draw(image).text((8, 8), ch, font=font, fill=255)
        return image.tobytes()

    notdef = drawn("\U0010fffd")
    missing = sorted({ch for ch in text if not ch.isspace() and drawn(ch) == notdef})
    if missing:
        raise DescriptionError(
            f"the notice font '{path.name}' cannot draw {''.join(missing)!r}; "
            "give a font that covers them (Notice(font=...)) or change the text")


@functools.lru_cache(maxsize=16)
def _render(notice: Notice, width: int, height: int) -> Overlay:
    target = max(_MIN_TEXT_PIXELS, math.ceil(notice.height * min(width, height)))
    path = _font_path(notice.font)
    probe = _font(path, 100).getbbox(notice.text)
    size = max(1, math.ceil(target * 100 / max(1, probe[3] - probe[1])))
    font = _font(path, size)
    while (box := font.getbbox(notice.text))[3] - box[1] < target:  # rounding left it short
        size += 1
        font = _font(path, size)
    stroke = max(1, round(size / 14))
    pad = max(2, round(size * 0.3))
    left, top, right, bottom = font.getbbox(notice.text, stroke_width=stroke)
    w = min(width, right - left + 2 * pad)
    h = min(height, bottom - top + 2 * pad)
    image = Image.new("RGBA", (w, h), (0, 0, 0, round(255 * _BOX_ALPHA)))
    ImageDraw.Draw(image).text((pad - left, pad - top), notice.text, font=font, fill=(255, 255, 255, 255),
                               stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
    margin = round(0.03 * min(width, height))
    horizontal = {"left": margin, "right": width - w - margin}
    vertical = {"top": margin, "bottom": height - h - margin}
    parts = notice.position.split("-")
    x = next((horizontal[p] for p in parts if p in horizontal), (width - w) // 2)
    y = next((vertical[p] for p in parts if p in vertical), (height - h) // 2)
    return Overlay(np.asarray(image), max(0, x), max(0, y), box[3] - box[1])
