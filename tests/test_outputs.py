"""The one output-writing path: never partial, never over an input, never clobbering, clean after signals.

The disk-full and read-only cases use a real small tmpfs (root only; CI runs
as root), so the failures come from the kernel through FFmpeg, c2pa-rs and
Python alike, not from a mock.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import outputs
from _pipeline import home  # noqa: F401  (fixture)
from aimark.cli import main
from conftest import make_clip
from manifests.repository import SQLiteRepository


#: The command line, in a process of its own.
AIMARK = [sys.executable, "-c", "from aimark.cli import main; main()"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture
def mount(tmp_path: Path):
    """Mount a tmpfs of a given size (bytes) under tmp_path; unmounted afterwards."""
    mounted: list[Path] = []

    def make(size: int, *, read_only: bool = False) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
        if done.returncode != 0:
            reason = f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); CI runs as root and can"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_an_existing_file_is_kept_unless_overwrite(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("mine")
    with pytest.raises(outputs.OutputExistsError, match="already exists.*--force"):
        outputs.write_bytes(target, b"new")
    assert target.read_text() == "mine" and _names(tmp_path) == ["report.html"]
    outputs.write_bytes(target, b"new", overwrite=True)
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("alias", ["hard link", "symbolic link", "other spelling"])
def test_the_input_is_refused_by_identity_whatever_the_path(tmp_path, alias):
    source = tmp_path / "in.mp4"
    source.write_bytes(b"original")
    other = tmp_path / "alias.mp4"
    if alias == "hard link":
        os.link(source, other)
    elif alias == "symbolic link":
        other.symlink_to(source)
    else:
        other = tmp_path / "." / ".." / tmp_path.name / "in.mp4"
    with pytest.raises(outputs.SameFileError, match="is the input"):
        outputs.Output(other, overwrite=True, inputs=[source])
    assert source.read_bytes() == b"original"


def test_paths_that_cannot_name_a_new_file(tmp_path):
    with pytest.raises(outputs.OutputPathError, match="does not exist; create it first"):
        outputs.Output(tmp_path / "missing" / "out.mp4")
    with pytest.raises(outputs.OutputPathError, match="is a folder"):
        outputs.Output(tmp_path)


def test_a_failure_inside_the_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with outputs.Output(tmp_path / "out.bin") as out:
            out.write_bytes(b"half")
            out.scratch(".mp4").write_bytes(b"stage")
            raise RuntimeError("boom")
    assert _names(tmp_path) == []


def test_a_file_that_appears_meanwhile_is_not_replaced(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(outputs.OutputExistsError):
        with outputs.Output(target) as out:
            out.write_bytes(b"ours")
            target.write_bytes(b"theirs")  # another process got there first
    assert target.read_bytes() == b"theirs" and _names(tmp_path) == ["out.bin"]


def test_leftovers_of_killed_processes_are_swept_and_never_taken_for_videos(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.mp4.{dead.pid}-0123abcd.partial.mp4"
    live = tmp_path / f".out.mp4.{os.getpid()}-4567cdef.partial"
    for path in (stale, live):
        path.write_bytes(b"x")
        os.utime(path, (time.time() - 2 * outputs.file.STALE_SECONDS,) * 2)
    assert outputs.is_temporary(stale) and outputs.is_temporary(live) and not outputs.is_temporary("out.mp4")
    outputs.write_bytes(tmp_path / "out.mp4", b"video")
    assert _names(tmp_path) == sorted([live.name, "out.mp4"])  # the running process keeps its own


@pytest.mark.parametrize("command", ["embed", "stamp"])
def test_sigterm_removes_the_partial_output(tmp_path, command):
    source = make_clip(tmp_path / "long.mp4", width=640, height=360, frames=250, audio=True)
    out = tmp_path / "out" / "marked.mp4"
    out.parent.mkdir()
    repository = tmp_path / "repo.sqlite"
    extra = ["--author", "A", "--model", "M", "--repository", str(repository)] if command == "stamp" else []
    process = subprocess.Popen(AIMARK + [command, str(source), str(out), "--quiet", *extra], stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.stat().st_size > 10_000 for p in out.parent.iterdir()):
        time.sleep(0.05)
    assert list(out.parent.iterdir()), "the encode never started"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == outputs.EXIT_TERMINATED, stderr.decode()
    assert b"Terminated." in stderr and b"Traceback" not in stderr
    assert _names(out.parent) == []
    if command == "stamp":
        with SQLiteRepository(repository) as repo:
            assert repo.records() == []


def _cli(*args: str):
    return CliRunner().invoke(main, [*args, "--quiet"])


@pytest.mark.parametrize("fill", [0.4, 1.5])
def test_disk_full_during_embed_and_stamp_leaves_nothing(tmp_path, mount, fill):
    source = make_clip(tmp_path / "gen.mp4", frames=75, audio=True)
    before = _digest(source)
    probe = _cli("embed", str(source), str(tmp_path / "probe.mp4"), "--id", "00c0ffee12345678")
    assert probe.exit_code == 0, probe.output
    size = (tmp_path / "probe.mp4").stat().st_size
    # 0.4: the encode itself runs out of space; 1.5: the encode fits, the stamp's signed copy does not
    disk = mount(int(size * fill))
    repository = tmp_path / "repo.sqlite"
    embedded = _cli("embed", str(source), str(disk / "marked.mp4"))
    stamped = _cli("stamp", str(source), str(disk / "stamped.mp4"), "--author", "Ada", "--model", "VidGen",
                   "--repository", str(repository))
    for result in (embedded, stamped) if fill < 1 else (stamped,):
        assert result.exit_code == 2, result.output
        assert result.output.startswith("Error: ") and "Traceback" not in result.output
        assert result.output.startswith("Error: no space left to write '" + str(disk)), result.output
    assert _names(disk) == ([] if fill < 1 else ["marked.mp4"])
    assert _digest(source) == before
    with SQLiteRepository(repository) as repo:
        assert repo.records() == []  # nothing registered for a video that was never published


def test_a_read_only_folder_is_named_as_such(tmp_path, mount):
    source = make_clip(tmp_path / "gen.mp4", frames=10, audio=True)
    folder = mount(1 << 20, read_only=True)
    result = _cli("embed", str(source), str(folder / "marked.mp4"))
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: cannot write into '{folder}' (Read-only file system)")
    assert "audio" not in result.output
