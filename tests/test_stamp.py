"""Stamping: one pass writes the mark, the notice, the AIGC label, the signed manifest and the record."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import manifests
import watermark
from _pipeline import home  # noqa: F401  (fixture)
from aimark.cli import main
from aimark.errors import SettingsError, StampError
from aimark.settings import Settings
from aimark.stamp import Stamper, stamp
from conftest import lumas, make_clip
from manifests.repository import SQLiteRepository
from watermark import fingerprint


@pytest.fixture
def source(tmp_path):
    return make_clip(tmp_path / "gen.mp4", frames=50, audio=True)


def test_one_pass_writes_every_layer(tmp_path, source, home):
    out = tmp_path / "stamped.mp4"
    result = stamp(source, out, author="Ada Li", model="VidGen", model_version="2.1", prompt="a fox")
    assert result.frames == 50 and result.notice is None
    report = manifests.inspect_file(out)
    assert report.state is manifests.ValidationState.VALID
    claims = report.claims
    assert (claims.author, claims.model, claims.model_version) == ("Ada Li", "VidGen", "2.1")
    assert claims.watermark_identifier == claims.identifier == result.identifier
    assert claims.prompt_digest == manifests.prompt_digest("a fox")
    assert report.aigc.produce_id == result.identifier and report.aigc.content_producer == "Ada Li"
    detection = watermark.detect_file(out)
    assert detection.detected and detection.identifier == result.identifier
    with SQLiteRepository(home / "repository.sqlite") as repo:
        stored = repo.get(result.identifier)
    assert stored.manifest_id == result.manifest_id == manifests.reading.manifest_store(out)[0]["active_manifest"]
    assert stored.key_id == watermark.DEFAULT_KEY.key_id and stored.author == "Ada Li"
    recorded = np.frombuffer(stored.fingerprint, np.uint8).reshape(-1, 64)
    assert recorded.shape == (2, 64)
    pictures = list(watermark.video.read_pictures(out))
    observed = fingerprint.pool(np.array([fingerprint.frame_signature(p.luma) for p in pictures]),
                                np.array([p.time for p in pictures]))
    assert fingerprint.compare(recorded, observed).matching == 2


def test_the_notice_is_drawn_for_two_seconds_and_declared(tmp_path):
    source = make_clip(tmp_path / "gen.mp4", frames=75)
    out = tmp_path / "stamped.mp4"
    result = stamp(source, out, author="Ada", model="VidGen", settings=Settings(profile="cn", organisation="ACME"))
    assert result.notice == manifests.NOTICE_ZH and result.aigc.content_producer == "ACME"
    assert manifests.inspect_file(out).claims.visible_notice == manifests.NOTICE_ZH
    before, after = lumas(source), lumas(out)
    corner = (slice(8, 30), slice(8, 60))  # inside the notice box at the top left
    assert np.abs(after[10][corner].astype(int) - before[10][corner]).mean() > 20
    assert np.abs(after[60][corner].astype(int) - before[60][corner]).mean() < 3


def test_no_notice_overrides_the_profile_and_4_4_4_video_refuses_the_notice(tmp_path):
    out = tmp_path / "stamped.mp4"
    cn = Settings(profile="cn")
    assert stamp(make_clip(tmp_path / "a.mp4", frames=10), out, author="A", model="M",
                 settings=cn, notice=False).notice is None
    with pytest.raises(StampError, match="8-bit 4:2:0"):
        stamp(make_clip(tmp_path / "b.mp4", frames=10, pix_fmt="yuv444p"), tmp_path / "b-out.mp4",
              author="A", model="M", settings=cn)
    with pytest.raises(StampError, match="odd size 480x271 is encoded as 4:4:4"):
        stamp(make_clip(tmp_path / "c.mp4", frames=10, height=271, pix_fmt="yuv444p"), tmp_path / "c-out.mp4",
              author="A", model="M", settings=cn)
    assert not (tmp_path / "b-out.mp4").exists() and not list(tmp_path.glob(".*"))


def test_a_stamper_reuses_its_key_and_signer(tmp_path, source):
    key = watermark.Key.generate()
    with Stamper(Settings(), key=key) as stamper:
        first = stamper.stamp(source, tmp_path / "1.mp4", author="A", model="M")
        second = stamper.stamp(source, tmp_path / "2.mp4", author="B", model="M")
        assert first.identifier != second.identifier and first.key_id == second.key_id == key.key_id
        assert [r.author for r in stamper.repository.records()] == ["B", "A"]
    assert watermark.detect_file(tmp_path / "2.mp4", key).identifier == second.identifier


def test_refusals_come_before_any_work(tmp_path, source):
    with Stamper(Settings()) as stamper:
        done = stamper.stamp(source, tmp_path / "1.mp4", author="A", model="M", identifier="00c0ffee12345678")
        with pytest.raises(StampError, match="already registered"):
            stamper.stamp(source, tmp_path / "2.mp4", author="A", model="M", identifier="00c0ffee12345678")
        with pytest.raises(StampError, match="already carries Content Credentials"):
            stamper.stamp(done.path, tmp_path / "3.mp4", author="A", model="M")
        with pytest.raises(manifests.MediaError, match="embedded only in MP4"):
            stamper.stamp(source, tmp_path / "4.mkv", author="A", model="M")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".sqlite") == ["1.mp4", "aimark-home", "gen.mp4"]


def test_settings_file_supplies_the_provider_defaults(tmp_path, source):
    watermark.Key.generate().save(tmp_path / "provider.key")
    files = manifests.create_test_credentials(tmp_path / "certs", organisation="ACME")
    settings_file = tmp_path / "provider.toml"
    settings_file.write_text(f"""
organisation = "ACME"
producer = "ACME-AI-001"

[watermark]
key = "provider.key"

[signing]
certificate = "{files.certificate}"
private_key = "certs/{files.private_key.name}"

[training_mining]
ai_training = "allowed"

[repository]
path = "repo.sqlite"
""", encoding="utf-8")
    settings = Settings.load(settings_file)
    assert settings.key == tmp_path / "provider.key" and settings.repository == tmp_path / "repo.sqlite"
    result = stamp(source, tmp_path / "out.mp4", author="Ada", model="VidGen", settings=settings)
    report = manifests.inspect_file(tmp_path / "out.mp4", trust_anchors=files.root)
    assert report.state is manifests.ValidationState.TRUSTED
    assert report.claims.organisation == "ACME" and report.claims.training_mining["ai_training"] == "allowed"
    assert report.aigc.content_producer == "ACME-AI-001"
    assert result.key_id == watermark.Key.load(tmp_path / "provider.key").key_id
    assert result.repository == str(tmp_path / "repo.sqlite")
    checked = CliRunner().invoke(main, ["verify", str(tmp_path / "out.mp4"), "--settings", str(settings_file),
                                        "--trust-anchors", str(files.root), "--json"])
    data = json.loads(checked.output)
    assert checked.exit_code == 0 and data["manifest"]["state"] == "trusted"
    assert data["watermark"]["key_id"] == result.key_id and data["record"]["identifier"] == result.identifier


@pytest.mark.parametrize("text, message", [
    ("organization = 'ACME'", "unknown key 'organization'"),
    ("[signing]\ncert = 'x.pem'", "unknown key(s) cert in [signing]"),
    ("profile = 'us'", "label profile 'us'"),
    ("[signing]\ncertificate = 'x.pem'", "together, or neither"),
    ("organisation = ", "not valid TOML"),
    ("[encoder]\ncrf = 'high'", "encoder.crf = 'high' should be a number"),
    ("[notice]\nshow = 1", "notice.show = 1 should be true or false"),
])
def test_settings_mistakes_are_named(tmp_path, text, message):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Settings.load(path)


def test_cli_stamp_json_and_settings_error(tmp_path, source):
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, ["stamp", str(source), str(out), "--author", "Ada", "--model", "VidGen",
                                       "--org", "ACME", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["aigc"]["ContentProducer"] == "ACME" and data["path"] == str(out)
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'red'", encoding="utf-8")
    failed = CliRunner().invoke(main, ["stamp", str(source), str(tmp_path / "o2.mp4"), "--author", "A",
                                       "--model", "M", "--settings", str(bad)])
    assert failed.exit_code == 2 and failed.output.startswith("Error: settings file")


def test_a_stamper_without_settings_reads_aimark_settings(tmp_path, monkeypatch):
    path = tmp_path / "env.toml"
    path.write_text('organisation = "FromEnv"\n[repository]\npath = "env.sqlite"\n', encoding="utf-8")
    monkeypatch.setenv("AIMARK_SETTINGS", str(path))
    with Stamper() as stamper:
        assert stamper.settings.organisation == "FromEnv"
        assert stamper.repository.location == str(tmp_path / "env.sqlite")
