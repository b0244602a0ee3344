"""Reports: the text report's timeline, and a self-contained HTML page checked in a real browser."""

from __future__ import annotations

import re
import subprocess
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

import manifests
from _pipeline import home  # noqa: F401  (fixture)
from aimark.cli import main
from aimark.report import font_face, html_report, text_report
from aimark.settings import Settings
from aimark.stamp import Stamper
from aimark.verify import verify
from conftest import make_clip, remux, require
from manifests.notice import DEFAULT_FONT


@pytest.fixture(scope="module")
def stamped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    settings = Settings(profile="cn", organisation="ACME", repository=folder / "repo.sqlite")
    with Stamper(settings, signer=manifests.Signer.development(folder / "home")) as stamper:
        return stamper.stamp(make_clip(folder / "gen.mp4", frames=75), folder / "stamped.mp4",
                             author="Ada <script>alert(1)</script>", model="VidGen", model_version="2.1").path


def test_text_report_names_verdict_layers_and_timeline(stamped):
    text = text_report(verify(stamped))
    assert "Verdict      Labelled AI-generated and intact" in text
    assert "Manifest     valid but untrusted (development credentials)" in text
    assert '"ContentProducer":"ACME"' in text
    assert re.search(r"Timeline     ███ +\(1 s per character", text)
    assert "\n             0 s 3 s\n" in text  # the axis never runs its labels together
    assert "The order of spans cannot be checked" in text and text.endswith("Exit status  0 (intact)")


def test_html_report_is_self_contained_and_escaped(stamped):
    page = html_report(verify(stamped, keyframes=True))
    assert page.startswith("<!DOCTYPE html>") and "Labelled AI-generated and intact" in page
    assert "<svg" in page and page.count("data:image/jpeg;base64,") == 4
    assert "AI生成" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert not re.search(r"(src|href)=\"(https?:|//)", page) and "<link" not in page
    for item in ("SHA-256", "trainedAlgorithmicMedia", "ContentProducer", "Disclosure items", "480x272"):
        assert item in page


def test_a_stripped_copy_shows_the_registered_claims(stamped, tmp_path):
    stripped = remux(stamped, tmp_path / "stripped.mp4")
    repository = stamped.parent / "repo.sqlite"
    check = verify(stripped, repository=repository, keyframes=True)
    assert "Registered   manifest claims Ada <script>alert(1)</script>, VidGen 2.1, ACME, notice AI生成" in \
        text_report(check)
    page = html_report(check)
    assert "Claims of the manifest registered for the watermark identifier" in page
    assert "where the declared notice" in page  # the notice declared at stamping is outlined


def test_without_key_frames_the_page_says_so(stamped):
    assert "No key frames kept." in html_report(verify(stamped))


def test_cli_writes_the_report_says_so_and_refuses_an_unwritable_path_first(stamped, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["verify", str(stamped), "--report", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").count("<figure>") == 4
    assert f"Wrote the report to {out}" in result.stderr
    started = time.perf_counter()
    failed = CliRunner().invoke(main, ["verify", str(stamped), "--report", str(tmp_path / "no" / "r.html")])
    assert failed.exit_code == 2 and failed.output.startswith("Error: output folder")
    assert time.perf_counter() - started < 1.0  # before the analysis, not after it
    again = CliRunner().invoke(main, ["verify", str(stamped), "--report", str(out), "--quiet"])
    assert again.exit_code == 2 and "already exists" in again.output


def _screenshot(page, width: int, height: int) -> np.ndarray:
    """``page`` as headless Chromium draws it (BGR)."""
    shot = page.with_suffix(".png")
    subprocess.run([require("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", f"--user-data-dir={page.parent / 'profile'}", f"--screenshot={shot}",
                    f"--window-size={width},{height}", page.as_uri()], check=True, capture_output=True, timeout=120)
    return cv2.imread(str(shot))


def test_report_renders_in_headless_chromium(stamped, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_report(verify(stamped, keyframes=True)), encoding="utf-8")
    image = _screenshot(page, 1200, 2400)
    assert image.shape[:2] == (2400, 1200)
    banner = image[30:120, 100:1000].reshape(-1, 3)
    green = np.all(np.abs(banner.astype(int) - (0x20, 0x5e, 0x1b)) < 12, axis=1)  # BGR of the 'intact' banner
    assert green.mean() > 0.5
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 500  # text, chart and pictures, not a blank page


def _ink(gray: np.ndarray) -> np.ndarray:
    """The dark pixels, cropped to their bounding box and scaled to 256 x 128."""
    rows, cols = np.nonzero(gray < 128)
    crop = (gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1] < 128).astype(np.uint8)
    return cv2.resize(crop, (256, 128), interpolation=cv2.INTER_NEAREST).astype(bool)


def test_chinese_text_is_drawn_with_the_embedded_font_not_as_boxes(tmp_path):
    """'AI生成' once showed as 'AI□□' on machines without a Chinese font: compare the glyphs' shapes."""
    text = "生成"
    page = tmp_path / "font.html"
    style = "body{margin:20px;background:#fff} p{font:160px/1 'aimark Notice Sans',sans-serif;margin:0}"
    page.write_text(f"<!DOCTYPE html><meta charset='utf-8'><style>{font_face(text)} {style}</style><p>{text}</p>",
                    encoding="utf-8")
    drawn = _ink(cv2.cvtColor(_screenshot(page, 500, 260), cv2.COLOR_BGR2GRAY))
    reference = Image.new("L", (500, 260), 255)
    ImageDraw.Draw(reference).text((20, 20), text, font=ImageFont.truetype(str(DEFAULT_FONT), 160), fill=0)
    expected = _ink(np.asarray(reference))
    overlap = (drawn & expected).sum() / (drawn | expected).sum()
    assert overlap > 0.6, overlap


def test_picture_row_groups_seconds_like_the_timeline():
    from aimark.report import _picture_bar
    assert _picture_bar([0.9, 0.9, 0.1, 0.9, None, None, 0.95], 2) == "█·-█"
