"""The mark on frame arrays: invisible enough, found, and never imagined."""

import importlib
import itertools
import math

import cv2
import numpy as np
import pytest

from conftest import textured_frames
from watermark import DEFAULT_KEY, Key, detect, embed, embed_frames
from watermark.pattern import LAYOUTS, LOW_BAND

IDENTIFIER = 0x0123456789ABCDEF
detection = importlib.import_module("watermark.detect")  # the module (``watermark.detect`` is also the function)


@pytest.fixture(scope="module")
def frames():
    return [np.ascontiguousarray(rgb[..., 1]) for rgb in textured_frames(480, 272, 20, seed=5)]


@pytest.fixture(scope="module")
def marked(frames):
    return list(embed_frames(frames, DEFAULT_KEY, IDENTIFIER))


def test_embed_keeps_shape_dtype_and_input(frames):
    original = frames[0].copy()
    out = embed(frames[0], DEFAULT_KEY, IDENTIFIER)
    assert out.shape == original.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(frames[0], original)


def test_mark_is_weak(frames, marked):
    """A clean pan over texture: the pattern follows it, so it gets a still picture's mark times
    :data:`watermark.mask.STILL_GAIN` (about 40.5 dB without the gain)."""
    error = np.mean([(m.astype(float) - f) ** 2 for m, f in zip(marked, frames)])
    assert 10 * np.log10(255**2 / error) > 38.5


def test_detects_identifier(marked):
    result = detect(marked, DEFAULT_KEY)
    assert result.detected
    assert result.identifier == f"{IDENTIFIER:016x}"
    assert result.false_alarm_probability < 1e-6
    assert result.frames_analyzed == len(marked)


def test_unmarked_is_not_detected(frames):
    result = detect(frames, DEFAULT_KEY)
    assert not result.detected and result.identifier is None


def test_other_key_does_not_detect(marked):
    result = detect(marked, Key.generate())
    assert not result.detected and result.identifier is None


@pytest.mark.parametrize("weights", [[1.0], [1, 1], [1, 1, 1], [3, 1, 1, 1], [2, 2, 1], [1] * 10])
def test_the_false_alarm_tail_holds_for_every_weighting_of_random_signs(weights):
    """Without the key's mark a score is a sum of random signs weighted by the evidence (unit norm): the tail the
    bound uses must hold for every weighting, including the few-term sums where its constant is exactly reached."""
    a = np.asarray(weights, float) / np.linalg.norm(weights)
    sums = np.array([a @ signs for signs in itertools.product((-1.0, 1.0), repeat=len(a))])
    for t in [*np.linspace(0.05, 3.2, 64), math.sqrt(2)]:
        exact = np.mean(sums >= t - 1e-9)
        assert exact <= math.exp(detection._log_tail(t)) + 1e-9, (t, exact)


def test_the_tail_is_tighter_than_hoeffding_where_detection_is_decided():
    for z in (6.0, 6.5, 7.0):
        assert math.exp(detection._log_tail(z)) < math.exp(-z * z / 2) / 4
    hypotheses = 2 * 30 * 2 * detection.TILE ** 2 * LAYOUTS  # two views, 30 scales, mirror images, shifts, layouts
    needed = detection.score_needed(hypotheses, detection.MAX_SYNC_FALSE_ALARM)
    assert needed < math.sqrt(2 * math.log(hypotheses / detection.MAX_SYNC_FALSE_ALARM)) - 0.2
    assert detection._false_alarm(needed, hypotheses, False) == pytest.approx(detection.MAX_SYNC_FALSE_ALARM, rel=1e-6)


def test_ten_bit_planes():
    rng = np.random.default_rng(0)
    planes = [(frame.astype(np.uint16) * 4 + rng.integers(0, 4, frame.shape)).astype(np.uint16)
              for frame in (rgb[..., 0] for rgb in textured_frames(480, 272, 10, seed=9))]
    marked = list(embed_frames(planes, DEFAULT_KEY, IDENTIFIER, bit_depth=10))
    assert max(int(m.max()) for m in marked) <= 1023
    assert detect(marked, DEFAULT_KEY, bit_depth=10).identifier == f"{IDENTIFIER:016x}"


def test_uint16_needs_bit_depth():
    with pytest.raises(ValueError, match="bit_depth"):
        embed(np.zeros((64, 64), np.uint16), DEFAULT_KEY, 1)


def test_mirrored_and_rescaled_frames(marked):
    import cv2
    flipped = [np.ascontiguousarray(m[:, ::-1]) for m in marked]
    result = detect(flipped, DEFAULT_KEY)
    assert result.identifier == f"{IDENTIFIER:016x}" and result.flipped
    h, w = marked[0].shape
    cropped = [cv2.resize(m[int(h * .15):int(h * .85), int(w * .15):int(w * .85)], (w, h)) for m in marked]
    result = detect(cropped, DEFAULT_KEY)
    assert result.identifier == f"{IDENTIFIER:016x}"
    assert result.scale == pytest.approx(1 / 0.7, rel=0.03)


def test_shared_evidence_gives_each_key_the_same_result(marked):
    from watermark import Detector, EvidenceStream, Picture
    other = Key.generate()
    alone = [detect(marked, key) for key in (DEFAULT_KEY, other)]
    together, stream = [Detector(DEFAULT_KEY), Detector(other)], EvidenceStream()
    for index, luma in enumerate(marked):
        evidence = stream.add(Picture([luma], 8, index / 25, index))
        for detector in together:
            detector.add_evidence(evidence)
    for single, shared in zip(alone, (d.result() for d in together)):
        assert (shared.identifier, shared.score, shared.detected) == (single.identifier, single.score, single.detected)


def test_one_detector_of_several_keys_reads_each_as_alone(marked):
    """The search shares what no key changes; each key's answer must be what it finds on its own."""
    from watermark import Detector
    other = Key.generate()
    alone = [detect(marked, key) for key in (other, DEFAULT_KEY)]
    both = Detector([other, DEFAULT_KEY])
    for index, luma in enumerate(marked):
        both.add(luma, time=index / 25)
    results = both.results()
    assert [r.key_id for r in results] == [other.key_id, DEFAULT_KEY.key_id]
    for single, shared in zip(alone, results):
        assert (shared.identifier, shared.score, shared.detected, shared.hypotheses) == (
            single.identifier, single.score, single.detected, single.hypotheses)
    assert not results[0].detected and results[1].identifier == f"{IDENTIFIER:016x}"
    assert both.result().key_id == other.key_id  # result(): the first key's


def test_the_pattern_travels_with_the_content(frames, marked):
    """A pan moves the pattern along with the picture (3 px left, 2 px up a frame in these frames),
    so that motion compensation predicts the mark instead of coding it again."""
    mark = [m.astype(np.float32) - f for m, f in zip(marked, frames)]
    following = np.corrcoef(mark[5][:-2, :-3].ravel(), mark[4][2:, 3:].ravel())[0, 1]
    staying = np.corrcoef(mark[5].ravel(), mark[4].ravel())[0, 1]
    assert following > 0.9 > 0.5 > staying


def test_a_long_pan_cropped_and_rescaled_is_read():
    """A pan longer than a tile (the evidence taken modulo a tile at the nominal scale), then a crop and a
    rescale (a tile at another scale): the wraps are brought together at the scale the search finds."""
    frames = [np.ascontiguousarray(rgb[..., 1]) for rgb in textured_frames(480, 272, 70, seed=12)]
    marked = list(embed_frames(frames, DEFAULT_KEY, IDENTIFIER))
    h, w = marked[0].shape
    cropped = [cv2.resize(m[int(h * .1):int(h * .9), int(w * .1):int(w * .9)], (w, h)) for m in marked]
    result = detect(cropped, DEFAULT_KEY)
    assert result.identifier == f"{IDENTIFIER:016x}"
    assert result.scale == pytest.approx(1 / 0.8, rel=0.03)


def test_a_mark_that_stayed_while_the_content_moved_is_found(frames):
    """Each frame marked on its own (``embed``: the pattern does not follow the pan) is found too: the
    detector also searches the evidence where it is, not only moved back along the content's motion."""
    still = [embed(frame, DEFAULT_KEY, IDENTIFIER) for frame in frames]
    result = detect(still, DEFAULT_KEY)
    assert result.identifier == f"{IDENTIFIER:016x}"


def test_identifiers_of_one_key_use_different_sign_layouts():
    """Marks of one key share no chip an estimate from other videos could remove: the identifier picks
    one of 64 keyed sign layouts."""
    from watermark.pattern import chips, layout_of
    numbers = {layout_of(DEFAULT_KEY, identifier) for identifier in range(2000)}
    assert len(numbers) == LAYOUTS
    a, b = (next(i for i in range(2000) if layout_of(DEFAULT_KEY, i) == n) for n in (0, 1))
    agreement = np.mean(chips(DEFAULT_KEY, a) == chips(DEFAULT_KEY, b))
    assert 0.4 < agreement < 0.6


@pytest.mark.parametrize("low", [0.0, LOW_BAND])
def test_the_pattern_fills_the_band_the_detector_reads_and_nothing_else(frames, monkeypatch, low):
    """One definition of the band (``pattern.in_band``) for the embedder and the detector: a pattern with
    its lowest frequencies left out (``LOW_BAND``) has no energy there, keeps it everywhere else in the
    band, and is still read by a detector that leaves out the same frequencies."""
    pattern = importlib.import_module("watermark.pattern")
    monkeypatch.setattr(pattern, "LOW_BAND", low)
    for cache in (pattern.render, detection._grid, detection._templates):
        cache.cache_clear()
    try:
        period = round(pattern.TILE_CELLS * pattern.cell_size(360, 640))  # 360 lines: a cell of 3.75 pixels
        tile = pattern.render(DEFAULT_KEY, IDENTIFIER, 360, 640)[:period, :period]
        power = np.abs(np.fft.fft2(tile)) ** 2
        k = np.fft.fftfreq(period, 1 / period)
        inside = pattern.in_band(k[:, None], k[None, :])
        assert power[~inside].sum() < 1e-6 * power.sum()
        assert np.all(power[inside] > 0)
        if low:
            assert not inside[np.hypot(k[:, None], k[None, :]) <= low].any()
        rows, columns, band, _ = detection._grid(detection.TILE)
        assert np.array_equal(band > 0, pattern.in_band(rows, columns))
        result = detect(list(embed_frames(frames, DEFAULT_KEY, IDENTIFIER)), DEFAULT_KEY)
        assert result.identifier == f"{IDENTIFIER:016x}"
    finally:
        monkeypatch.undo()
        for cache in (pattern.render, detection._grid, detection._templates):
            cache.cache_clear()
