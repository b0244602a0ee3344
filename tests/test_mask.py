"""The mark's amplitude in a video: more where the content stays still, less where it moves."""

import cv2
import numpy as np
import pytest

from conftest import textured_frames
from watermark.mask import MOVING_SHARE, STILL_GAIN, VideoMask, amplitude, moving_share


@pytest.fixture(scope="module")
def background():
    return np.ascontiguousarray(textured_frames(640, 360, 1, seed=3)[0][..., 1])


def _with_square(background: np.ndarray, x: int) -> np.ndarray:
    """The background with a bright textured square whose left edge is at ``x``."""
    picture = background.copy()
    patch = cv2.resize(background[:60, :60], (120, 120)) // 2 + 100
    picture[120:240, x:x + 120] = patch
    return picture


def test_still_content_gets_the_still_gain(background):
    mask = VideoMask()
    for _ in range(3):
        amp = mask.amplitude(background, (0.0, 0.0))
    np.testing.assert_allclose(amp, STILL_GAIN * amplitude(background), rtol=1e-4, atol=1e-4)


def test_content_that_moves_gets_less_where_it_moves_only(background):
    mask = VideoMask()
    for step in range(4):
        picture = _with_square(background, 100 + 12 * step)
        amp = mask.amplitude(picture, (0.0, 0.0))
    reference = amplitude(picture)
    inside = (slice(150, 210), slice(180, 230))   # the square's texture, which moved
    outside = (slice(290, 350), slice(400, 600))  # background far from it, which did not
    assert np.median(amp[inside] / reference[inside]) < STILL_GAIN * (MOVING_SHARE + 0.1)
    assert np.median(amp[outside] / reference[outside]) == pytest.approx(STILL_GAIN, rel=1e-3)


def test_a_followed_pan_counts_as_still(background):
    """Content moving as the pattern does (the offset the tracker follows) costs no bits: full amplitude."""
    big = np.ascontiguousarray(textured_frames(700, 400, 1, seed=4)[0][..., 1])
    mask = VideoMask()
    for step in range(4):
        picture = np.ascontiguousarray(big[:360, 3 * step:3 * step + 640])
        amp = mask.amplitude(picture, (-3.0 * step, 0.0))
    inner = (slice(20, -20), slice(20, -20))
    assert np.median(amp[inner] / amplitude(picture)[inner]) == pytest.approx(STILL_GAIN, rel=1e-3)


def test_amplitude_comes_back_gradually_when_motion_stops(background):
    mask = VideoMask()
    mask.amplitude(_with_square(background, 100), (0.0, 0.0))
    mask.amplitude(_with_square(background, 130), (0.0, 0.0))
    region = (slice(150, 210), slice(150, 220))
    reference = amplitude(_with_square(background, 130))[region]
    shares = [float(np.median(mask.amplitude(_with_square(background, 130), (0.0, 0.0))[region] / reference))
              / STILL_GAIN for _ in range(12)]
    assert shares[0] < (1 + MOVING_SHARE) / 2 and all(b > a for a, b in zip(shares, shares[1:]))
    assert shares[-1] > 0.9


def test_small_pictures_keep_more_of_the_mark_where_content_moves():
    """Under 288 lines the cell stops shrinking, so the picture holds fewer cells and less evidence."""
    assert moving_share(360, 640) == moving_share(1080, 1920) == MOVING_SHARE
    assert MOVING_SHARE < moving_share(272, 480) < moving_share(240, 320) < moving_share(144, 176) < 1.0
