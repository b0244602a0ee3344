"""Reports: the text report's timeline, and a self-contained HTML page checked in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import manifests
from _pipeline import home  # noqa: F401  (fixture)
from aimark.cli import main
from aimark.report import html_report, text_report
from aimark.settings import Settings
from aimark.stamp import Stamper
from aimark.verify import verify
from conftest import make_clip, remux


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


def test_cli_writes_the_report_and_refuses_an_unwritable_path(stamped, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["verify", str(stamped), "--report", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").count("<figure>") == 4
    failed = CliRunner().invoke(main, ["verify", str(stamped), "--report", str(tmp_path / "no" / "r.html")])
    assert failed.exit_code == 2 and failed.output.startswith("Error: cannot write the report")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(stamped, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_report(verify(stamped, keyframes=True)), encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,2400",
                    page.as_uri()], check=True, capture_output=True, timeout=120)
    image = cv2.imread(str(shot))
    assert image.shape[:2] == (2400, 1200)
    banner = image[30:120, 100:1000].reshape(-1, 3)
    green = np.all(np.abs(banner.astype(int) - (0x20, 0x5e, 0x1b)) < 12, axis=1)  # BGR of the 'intact' banner
    assert green.mean() > 0.5
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 500  # text, chart and pictures, not a blank page


def test_picture_row_groups_seconds_like_the_timeline():
    from aimark.report import _picture_bar
    assert _picture_bar([0.9, 0.9, 0.1, 0.9, None, None, 0.95], 2) == "█·-█"
