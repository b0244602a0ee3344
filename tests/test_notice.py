"""The visible notice: size, timing, placement, legibility, fonts and the yuv420p path."""

from __future__ import annotations

import numpy as np
import pytest

from manifests import NOTICE_EN, NOTICE_ZH, DescriptionError, Notice
from manifests.notice import DEFAULT_FONT


def luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB pixels."""
    c = rgb.astype(np.float64) / 255
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * c[..., 0] + 0.7152 * c[..., 1] + 0.0722 * c[..., 2]


@pytest.mark.parametrize("text", [NOTICE_ZH, NOTICE_EN])
@pytest.mark.parametrize("width, height", [(1920, 1080), (1280, 720), (720, 1280), (176, 144)])
def test_text_is_at_least_5_percent_of_the_shorter_side(text, width, height):
    overlay = Notice(text).overlay(width, height)
    assert overlay.text_height >= 0.05 * min(width, height)
    # Measure the ink itself: rows where the white text is drawn.
    ink_rows = np.flatnonzero((overlay.rgba[..., :3].min(axis=2) > 200).any(axis=1))
    assert ink_rows[-1] - ink_rows[0] + 1 >= 0.05 * min(width, height) - 2
    assert overlay.rgba.shape[0] <= height and overlay.rgba.shape[1] <= width


def test_shows_on_the_opening_two_seconds_by_default():
    notice = Notice()
    assert notice.shows_at(0.0) and notice.shows_at(1.96)
    assert not notice.shows_at(2.0)
    later = Notice(start=5, duration=3)
    assert not later.shows_at(4.9) and later.shows_at(5) and not later.shows_at(8)


def test_frames_are_not_modified_in_place():
    frame = np.full((360, 640, 3), 90, np.uint8)
    marked = Notice().apply(frame, time=0.5)
    assert (frame == 90).all()
    assert (marked != frame).any()
    assert Notice().apply(frame, time=3.0) is frame


@pytest.mark.parametrize("background", [0, 128, 255])
def test_legible_on_dark_mid_and_light_pictures(background):
    frame = np.full((720, 1280, 3), background, np.uint8)
    notice = Notice(NOTICE_ZH)
    over = notice.overlay(1280, 720)
    region = notice.apply(frame, 0.0)[over.y:over.y + over.rgba.shape[0], over.x:over.x + over.rgba.shape[1]]
    text = over.rgba[..., 3] == 255
    text &= over.rgba[..., :3].min(axis=2) == 255  # white glyph interiors
    box = over.rgba[..., 3] < 255  # translucent box around the text
    fg, bg = np.median(luminance(region[text])), np.median(luminance(region[box]))
    assert (fg + 0.05) / (bg + 0.05) >= 4.5  # WCAG AA contrast for normal text


@pytest.mark.parametrize("position, quadrant", [
    ("top-left", (0, 0)), ("top-right", (0, 1)), ("bottom-left", (1, 0)), ("bottom-right", (1, 1))])
def test_position_is_configurable(position, quadrant):
    over = Notice(NOTICE_EN, position=position).overlay(1280, 720)
    centre_y = over.y + over.rgba.shape[0] / 2
    centre_x = over.x + over.rgba.shape[1] / 2
    assert (int(centre_y >= 360), int(centre_x >= 640)) == quadrant


def test_custom_text_and_font():
    notice = Notice("由人工智能生成", font=DEFAULT_FONT, height=0.08)
    assert notice.overlay(1280, 720).text_height >= 0.08 * 720


def test_characters_the_font_lacks_are_refused():
    with pytest.raises(DescriptionError, match="cannot draw"):
        Notice("AI生成 \u9f98")  # a rare character outside GB 2312 level 1


@pytest.mark.parametrize("settings, message", [
    ({"text": "  "}, "empty"),
    ({"position": "middle"}, "position"),
    ({"duration": 0}, "duration"),
    ({"start": -1}, "start"),
    ({"height": 0.9}, "height"),
    ({"font": "/no/such/font.ttf"}, "does not exist"),
])
def test_bad_settings_name_the_problem(settings, message):
    with pytest.raises(DescriptionError, match=message):
        Notice(**settings)


def test_yuv420p_path_matches_the_rgb_path():
    rng = np.random.default_rng(1)
    height, width = 144, 176
    rgb = np.repeat(np.repeat(rng.integers(40, 200, (height // 2, width // 2, 3), dtype=np.uint8), 2, 0), 2, 1)
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = np.rint(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255).astype(np.uint8)
    u = np.rint(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255)[::2, ::2].astype(np.uint8)
    v = np.rint(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255)[::2, ::2].astype(np.uint8)
    notice = Notice(NOTICE_EN, position="bottom-right")
    out_y, out_u, out_v = notice.apply_yuv420p((y, u, v), 0.0)
    expected = notice.apply(rgb, 0.0).astype(np.float64)
    expected_y = 16 + (65.481 * expected[..., 0] + 128.553 * expected[..., 1] + 24.966 * expected[..., 2]) / 255
    assert np.abs(out_y - expected_y).mean() < 1.0
    assert (out_y != y).any() and (out_u != u).any()
    assert out_u.shape == u.shape and out_v.shape == v.shape
    assert notice.apply_yuv420p((y, u, v), 5.0)[0] is y
