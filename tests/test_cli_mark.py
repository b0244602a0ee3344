"""The command line for the mark: the contract, and bad input as one line with exit 2."""

from __future__ import annotations

import importlib
import json
import stat
import subprocess
import sys

import av
import numpy as np
import pytest
from click.testing import CliRunner

from aimark.cli import COMMAND_MODULES, main
from conftest import make_clip, remux


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_keygen_embed_detect(clip, tmp_path):
    key = tmp_path / "provider.key"
    assert run("keygen", key).exit_code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    out = tmp_path / "marked.mp4"
    result = run("embed", clip, out, "--key", key, "--id", "00C0FFEE12345678", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "00c0ffee12345678"
    result = run("detect", out, "--key", key, "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["detected"] is True and report["identifier"] == "00c0ffee12345678"
    assert report["false_alarm_probability"] <= 1e-6
    assert report["frames"] == 50 and report["file"] == str(out)
    assert report["spans"] and all(span["marked"] for span in report["spans"])


def test_embed_without_id_prints_a_random_one_and_default_key_detects_it(clip, tmp_path):
    out = tmp_path / "marked.mp4"
    first = run("embed", clip, out).stdout.strip()
    assert len(first) == 16 and int(first, 16) >= 0
    text = run("detect", out).stdout
    assert "detected with the public default key" in text and first in text


def test_unmarked_video_exits_zero_and_says_not_detected(clip, tmp_path):
    result = run("detect", clip, "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["detected"] is False and report["identifier"] is None


def test_keygen_refuses_to_overwrite(tmp_path):
    key = tmp_path / "k.key"
    key.write_text("keep me")
    result = run("keygen", key)
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert key.read_text() == "keep me"


def _truncated(tmp_path):
    whole = make_clip(tmp_path / "whole.mp4", frames=50)
    faststart = remux(whole, tmp_path / "faststart.mp4", options={"movflags": "faststart"})
    cut = tmp_path / "truncated.mp4"
    cut.write_bytes(faststart.read_bytes()[: faststart.stat().st_size // 2])
    return cut


def _zero_frames(tmp_path):
    """A video stream with no frames (only the sound track has packets)."""
    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as output:
        video = output.add_stream("ffv1", rate=25)
        video.width, video.height = 64, 64
        _write_silence(output)
    return path


def _write_silence(output):
    sound = output.add_stream("aac", rate=48000)
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    frame.sample_rate = 48000
    for packet in [*sound.encode(frame), *sound.encode()]:
        output.mux(packet)


def _audio_only(tmp_path):
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w") as output:
        _write_silence(output)
    return path


BAD_INPUTS = {
    "missing file": (lambda tmp: tmp / "nope.mp4", "does not exist"),
    "zero bytes": (lambda tmp: (tmp / "empty.mp4").write_bytes(b"") or tmp / "empty.mp4", "is empty (0 bytes)"),
    "not a video": (lambda tmp: (tmp / "notes.mp4").write_text("hello") and tmp / "notes.mp4", "not a video"),
    "truncated": (_truncated, "truncated"),
    "zero frames": (_zero_frames, "no frames"),
    "audio only": (_audio_only, "no video stream"),
    "huge resolution": (lambda tmp: make_clip(tmp / "huge.mkv", width=8200, height=16, frames=2, codec="ffv1"),
                        "8192"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, case):
    make, message = BAD_INPUTS[case]
    source = make(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = {p.name for p in tmp_path.iterdir()}
    for args in (["embed", source, out_dir / "marked.mp4"], ["detect", source]):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
        assert "Traceback" not in result.output
    assert list(out_dir.iterdir()) == []
    assert {p.name for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("args, message", [
    (["embed", "{clip}", "{tmp}/out.avi"], "cannot write '.avi'"),
    (["embed", "{clip}", "{clip}"], "is the input"),
    (["embed", "{clip}", "{tmp}/out.mp4", "--id", "xyz"], "not 16 hexadecimal digits"),
    (["embed", "{clip}", "{tmp}/out.mp4", "--key", "{tmp}/bad.key"], "not an aimark key file"),
    (["detect", "{clip}", "--key", "{tmp}/missing.key"], "does not exist"),
    (["embed", "{clip}", "{tmp}/no/such/dir/out.mp4"], "does not exist"),
    (["embed", "{clip}", "{tmp}/out.mp4", "--codec", "nonexist"], "unknown video encoder 'nonexist'"),
    (["embed", "{clip}", "{tmp}/out.mp4", "--crf", "99"], "CRF 99 is outside"),
    (["embed", "{clip}", "{tmp}/out.mp4", "--preset", "warp"], "preset 'warp' is not one of"),
])
def test_bad_settings(clip, tmp_path, args, message):
    (tmp_path / "bad.key").write_text("garbage")
    size = clip.stat().st_size
    result = run(*[a.format(clip=clip, tmp=tmp_path) for a in args])
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "out.avi").exists()
    assert clip.stat().st_size == size


def test_every_command_has_help_with_an_example():
    names = main.list_commands(None)
    assert {"embed", "detect", "stamp", "verify", "serve", "scan", "notice"} <= set(names)
    for name in names:
        assert "Example" in (main.get_command(None, name).help or ""), name


def test_every_command_module_s_commands_are_listed():
    """The lazy group loads a command from the module it names: a command added to a module's
    COMMANDS but not named there would be unreachable."""
    for module in set(COMMAND_MODULES.values()):
        for command in importlib.import_module(f"aimark.cli.{module}").COMMANDS:
            assert COMMAND_MODULES.get(command.name) == module, command.name


def test_embed_starts_without_the_provenance_layer_and_the_service():
    """``aimark embed`` pays only for what it uses: loading the signal layer, not C2PA, the
    HTTP client, the service or the report (1.5 s of start-up per call when it did)."""
    code = ("import sys; from aimark.cli import main; main.get_command(None, 'embed'); "
            "print(' '.join(m for m in ('c2pa', 'manifests.signing', 'httpx', 'fastapi', 'fontTools', "
            "'aimark.verify') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == ""


def test_embed_json_names_its_output_and_detect_draws_the_verify_timeline(tmp_path):
    source = make_clip(tmp_path / "gen.mp4", frames=53)  # 2.12 s: the last span holds 3 frames
    out = tmp_path / "marked.mp4"
    result = json.loads(run("embed", source, out, "--json", "--quiet").stdout)
    assert result["output"] == str(out) and result["frames"] == 53 and len(result["identifier"]) == 16
    text = run("detect", out).stdout
    assert "Timeline (1 s per character; █ marked  ▒ weak  · unmarked  ? too short to tell): ██?" in text


def test_keygen_json(tmp_path):
    result = run("keygen", tmp_path / "k.key", "--json")
    data = json.loads(result.stdout)
    assert data["output"] == str(tmp_path / "k.key") and len(data["key_id"]) == 16
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
