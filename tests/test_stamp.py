"""Stamping: one pass writes the mark, the notice, the AIGC label, the signed manifest and the record."""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_stamp_runs_without_the_verifier_and_the_http_client(tmp_path):
    """``aimark stamp``, run once per generated video, loads what it uses: not ``verify``'s verdicts,
    report fonts and batch workers, nor the resolvers' HTTP client when the repository is local
    (0.4 s of its 1.2 s start-up when it did)."""
    source = make_clip(tmp_path / "gen.mp4", width=160, height=96, frames=25)
    code = ("import sys; from aimark.cli import main; "
            f"main(['stamp', {str(source)!r}, {str(tmp_path / 'out.mp4')!r}, '--author', 'A', '--model', 'M', '-q']); "
            "print(' '.join(m for m in ('httpx', 'fastapi', 'fontTools', 'aimark.verify', 'aimark.verdict', "
            "'aimark.batch', 'aimark.report') if m in sys.modules))")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.splitlines()[-1].strip() == ""


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


def test_no_notice_overrides_the_profile_and_a_kept_4_4_4_format_refuses_the_notice(tmp_path):
    out = tmp_path / "stamped.mp4"
    cn = Settings(profile="cn")
    assert stamp(make_clip(tmp_path / "a.mp4", frames=10), out, author="A", model="M",
                 settings=cn, notice=False).notice is None
    kept = Settings(profile="cn", keep_format=True)
    with pytest.raises(StampError, match="8-bit 4:2:0"):
        stamp(make_clip(tmp_path / "b.mp4", frames=10, pix_fmt="yuv444p"), tmp_path / "b-out.mp4",
              author="A", model="M", settings=kept)
    with pytest.raises(StampError, match="odd size 480x271 is kept as 4:4:4"):
        stamp(make_clip(tmp_path / "c.mp4", frames=10, height=271, pix_fmt="yuv444p"), tmp_path / "c-out.mp4",
              author="A", model="M", settings=kept)
    assert not (tmp_path / "b-out.mp4").exists() and not list(tmp_path.glob(".*"))


def test_by_default_the_notice_is_drawn_on_odd_sized_and_4_4_4_video_made_playable(tmp_path):
    source = make_clip(tmp_path / "odd.mkv", frames=10, width=481, height=271, pix_fmt="yuv444p", codec="ffv1")
    result = stamp(source, tmp_path / "out.mp4", author="A", model="M", settings=Settings(profile="cn"))
    info = watermark.probe(result.path)
    assert result.notice == manifests.NOTICE_ZH and (info.width, info.height, info.pixel_format) == (480, 270,
                                                                                                  "yuv420p")


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
    ("[repository]\npath = 'a.sqlite'\nurl = 'postgresql://db/x'", "path or url, not both"),
    ("[verify]\nresolvers = 'https://x.example'", "verify.resolvers = 'https://x.example' should be a list of text"),
    ("[verify]\nsend_content = 'yes'", "verify.send_content = 'yes' should be true or false"),
    ("[verify]\ntimeout = 0", "resolver timeout 0 s is outside"),
    ("[verify]\nresolver = []", "unknown key(s) resolver in [verify]"),
])
def test_settings_mistakes_are_named(tmp_path, text, message):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Settings.load(path)


def test_settings_name_repositories_by_url_and_the_resolvers_to_ask(tmp_path):
    (tmp_path / "other.token").write_text("aimark_secret\n")
    path = tmp_path / "platform.toml"
    path.write_text("""
[repository]
url = "postgresql://aimark@db.internal/manifests"
token_file = "worker.token"

[verify]
resolvers = ["https://sbr.acme.example", "https://sbr.other.example"]
send_evidence = true
timeout = 3
trust_anchors = "roots.pem"

[verify.tokens]
"https://sbr.other.example" = "other.token"
""", encoding="utf-8")
    settings = Settings.load(path)
    assert settings.repository == "postgresql://aimark@db.internal/manifests"  # a URL, not a path
    assert settings.repository_token_file == tmp_path / "worker.token"
    assert settings.trust_anchors == tmp_path / "roots.pem"
    resolvers = settings.resolution()
    assert resolvers.urls == ("https://sbr.acme.example", "https://sbr.other.example")
    assert resolvers.send_evidence and not resolvers.send_content and resolvers.timeout == 3
    assert resolvers.tokens == {"https://sbr.other.example": "aimark_secret"}
    (tmp_path / "other.token").unlink()
    with pytest.raises(SettingsError, match="cannot read the token file"):
        settings.resolution()
    plain = Settings(resolvers=("http://sbr.other.example",), resolver_tokens={"http://sbr.other.example": path})
    with pytest.raises(SettingsError, match="a token is sent only over https"):
        plain.resolution()


def test_cli_stamp_json_and_settings_error(tmp_path, source):
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, ["stamp", str(source), str(out), "--author", "Ada", "--model", "VidGen",
                                       "--org", "ACME", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["aigc"]["ContentProducer"] == "ACME" and data["output"] == str(out)
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


def _cli_stamp(source, out, *args):
    return CliRunner().invoke(main, ["stamp", str(source), str(out), "--author", "A", "--model", "M", "--quiet",
                                     *args])


@pytest.mark.parametrize("spelling", ["same", "absolute", "hard link"])
def test_stamp_refuses_to_write_over_its_input(tmp_path, source, spelling):
    original = source.read_bytes()
    target = {"same": source, "absolute": source.resolve(), "hard link": tmp_path / "link.mp4"}[spelling]
    if spelling == "hard link":
        target.hardlink_to(source)
    result = _cli_stamp(source, target, "--force")
    assert result.exit_code == 2 and "is the input" in result.output, result.output
    assert source.read_bytes() == original


@pytest.mark.parametrize("command, options", [("stamp", ["--author", "A", "--model", "M", "--quiet"]),
                                              ("embed", ["--quiet"]), ("sign", ["--author", "A", "--model", "M"])])
def test_an_existing_output_is_kept_unless_force(tmp_path, source, command, options):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    args = [command, str(source), str(out), *options]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "already exists" in refused.output and "--force" in refused.output
    assert out.read_bytes() == b"precious"
    replaced = CliRunner().invoke(main, args + ["--force"])
    assert replaced.exit_code == 0, replaced.output
    assert watermark.probe(out).frames == 50


def test_an_identifier_taken_while_encoding_leaves_no_file_and_no_record(tmp_path, source):
    """Two stamps of the same --id at once: the one that registers second publishes nothing."""
    identifier = "00000000deadbeef"
    with Stamper(Settings(repository=tmp_path / "repo.sqlite")) as stamper:
        stamper.stamp(source, tmp_path / "rival.mp4", author="R", model="M", identifier=identifier)
        rival = stamper.repository.get(identifier)
        stamper.repository.remove(identifier)  # the rival has not registered when the loser starts ...

        def rival_registers(_: int) -> None:  # ... and registers while the loser encodes
            if stamper.repository.get(identifier) is None:
                stamper.repository.add(rival)

        with pytest.raises(StampError, match="already registered"):
            stamper.stamp(source, tmp_path / "loser.mp4", author="L", model="M", identifier=identifier,
                          progress=rival_registers)
        assert stamper.repository.get(identifier).author == "R"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("repo.sqlite")) == [
        "aimark-home", "gen.mp4", "rival.mp4"]


def test_a_failed_publication_undoes_the_registration(tmp_path, source, monkeypatch):
    import outputs

    def disk_gone(self):
        raise outputs.write_failed(self.destination, OSError(28, "No space left on device"))

    with Stamper(Settings(repository=tmp_path / "repo.sqlite")) as stamper:
        monkeypatch.setattr(outputs.Output, "publish", disk_gone)  # the rename, after registering
        with pytest.raises(outputs.WriteError, match="no space left"):
            stamper.stamp(source, tmp_path / "out.mp4", author="A", model="M", identifier="00000000000000aa")
        assert stamper.repository.get("00000000000000aa") is None
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".out*"))


def test_an_unreachable_time_stamp_authority_fails_before_any_work(tmp_path, source):
    repository = tmp_path / "never.sqlite"
    result = _cli_stamp(source, tmp_path / "out.mp4", "--tsa", "http://127.0.0.1:9/", "--repository",
                        str(repository))
    assert result.exit_code == 2
    assert result.output.startswith("Error: time-stamp authority 'http://127.0.0.1:9/' cannot be reached")
    assert not repository.exists() and not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("args, message", [
    (["--codec", "nonexist"], "Error: unknown video encoder 'nonexist'"),
    (["--crf", "99"], "Error: CRF 99 is outside"),
    (["--created", "2099-01-01T00:00:00"], "Error: creation time 2099-01-01T00:00:00+00:00 is in the future"),
    (["--id", "XYZ"], "is not 16 hexadecimal digits"),
])
def test_stamp_options_are_checked_before_any_work(tmp_path, source, args, message):
    repository = tmp_path / "never.sqlite"
    result = _cli_stamp(source, tmp_path / "out.mp4", "--repository", str(repository), *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.mp4").exists()


def test_an_output_c2pa_cannot_carry_fails_before_the_repository_is_made(tmp_path, source, home):
    result = _cli_stamp(source, tmp_path / "out.mkv")
    assert result.exit_code == 2 and "Content Credentials can be embedded only in" in result.output
    assert not (home / "repository.sqlite").exists()


def test_a_settings_file_with_an_unknown_codec_is_one_line(tmp_path, source):
    settings = tmp_path / "s.toml"
    settings.write_text('[encoder]\ncodec = "nonexist"\n', encoding="utf-8")
    result = _cli_stamp(source, tmp_path / "out.mp4", "--settings", str(settings))
    assert result.exit_code == 2 and result.output.startswith("Error: unknown video encoder 'nonexist'")


def test_stamp_takes_codec_and_upper_case_identifiers(tmp_path, source):
    result = _cli_stamp(source, tmp_path / "out.mp4", "--codec", "libx265", "--id", "00C0FFEE12345678", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["identifier"] == "00c0ffee12345678"
    assert watermark.probe(tmp_path / "out.mp4").codec == "hevc"
