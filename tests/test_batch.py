"""Batch verification: folders and several files, one line per file, in input order."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from _pipeline import home  # noqa: F401  (fixture)
from aimark.batch import expand, verify_many, worst_status
from aimark.cli import main
from aimark.settings import Settings
from aimark.stamp import stamp
from conftest import make_clip, remux

AIMARK = [sys.executable, "-c", "from aimark.cli import main; main()"]


def test_folders_expand_to_their_videos(tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for name in ("b.mp4", "a.MOV", "notes.txt", "sub/c.mkv"):
        (tmp_path / "in" / name).write_bytes(b"")
    assert [p.name for p in expand([tmp_path / "in", tmp_path / "x.mp4"])] == ["a.MOV", "b.mp4", "c.mkv", "x.mp4"]


def test_json_lines_in_input_order_with_errors_as_lines(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    source = make_clip(tmp_path / "gen.mp4", frames=25)
    stamped = stamp(source, folder / "a_stamped.mp4", author="Ada", model="VidGen").path
    remux(stamped, folder / "b_stripped.mp4")
    (folder / "c_broken.mp4").write_bytes(b"not a video")
    human = make_clip(tmp_path / "human.mp4", frames=25, seed=1)  # never stamped (gen.mp4 is found by picture)
    result = CliRunner().invoke(main, ["verify", str(folder), str(human), "--json-lines"])
    assert result.exit_code == 2, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line.get("verdict") for line in lines] == ["labelled", "recovered", None, "unlabelled"]
    assert lines[1]["author"] == "Ada" and "not a video file" in lines[2]["error"]
    assert lines[3]["file"] == str(human)


def test_many_files_as_text_and_one_worker(tmp_path):
    source = make_clip(tmp_path / "gen.mp4", frames=25)
    items = list(verify_many([source, source], workers=1))
    assert [item.to_dict()["verdict"] for item in items] == ["unlabelled", "unlabelled"]
    text = CliRunner().invoke(main, ["verify", str(source), str(source)])
    assert text.exit_code == 0 and text.output.splitlines()[0] == f"unlabelled      {source}"
    refused = CliRunner().invoke(main, ["verify", str(source), str(source), "--report", str(tmp_path / "r.html")])
    assert refused.exit_code == 2 and "--json-lines for many" in refused.output


def test_a_wrong_repository_fails_once_before_any_file(tmp_path):
    source = make_clip(tmp_path / "gen.mp4", frames=10)
    result = CliRunner().invoke(main, ["verify", str(source), str(source), "--repository",
                                       str(tmp_path / "missing.sqlite")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: manifest repository '{tmp_path / 'missing.sqlite'}' does not exist; give the file `aimark stamp` "
        "registers in, or a postgresql:// URL"]


def test_a_folder_without_videos_is_a_usage_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    result = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert result.exit_code == 2 and "no videos in" in result.output


def test_hidden_files_and_partial_outputs_are_not_videos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.mp4", ".hidden.mp4", ".b.mp4.4242-0123abcd.partial", ".b.mp4.4242-0123abcd.partial.mp4",
                 ".X.partial-1a2b3c4d.mp4"):
        (folder / name).write_bytes(b"")
    assert [p.name for p in expand([folder])] == ["a.mp4"]


def test_every_verdict_is_separated_from_its_file(tmp_path):
    """The longest verdict, 'watermark-only', once ran into the path ('watermark-onlyk9/term/e.mp4')."""
    source = make_clip(tmp_path / "gen.mp4", frames=25)
    elsewhere = stamp(source, tmp_path / "s.mp4", author="A", model="M",
                      settings=Settings(repository=tmp_path / "other.sqlite")).path
    (tmp_path / "k9").mkdir()
    only = remux(elsewhere, tmp_path / "k9" / "e.mp4")  # stripped, and unknown to the default repository
    result = CliRunner().invoke(main, ["verify", str(only), str(source)])
    lines = result.output.splitlines()
    assert lines[0].startswith("watermark-only  ") and lines[0].split()[1] == str(only), result.output


@pytest.mark.parametrize("statuses, worst", [([0, 5, 3], 3), ([0, 4, 3, 2], 2), ([5, 0], 5), ([], 0)])
def test_the_worst_status_orders_tampered_before_stripped_before_unlabelled(statuses, worst):
    assert worst_status(statuses) == worst


def test_exit_worst_reflects_the_worst_verdict(tmp_path):
    source = make_clip(tmp_path / "gen.mp4", frames=25)
    stamped = stamp(source, tmp_path / "s.mp4", author="Ada", model="VidGen").path
    human = make_clip(tmp_path / "human.mp4", frames=25, seed=1)  # never stamped (gen.mp4 is found by picture)
    plain = CliRunner().invoke(main, ["verify", str(stamped), str(human)])
    worst = CliRunner().invoke(main, ["verify", str(stamped), str(human), "--exit-worst"])
    assert plain.exit_code == 0 and worst.exit_code == 5


def test_lines_are_not_glued_to_the_progress_bar_on_a_terminal(tmp_path):
    source = make_clip(tmp_path / "gen.mp4", frames=25)
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the terminal
        os.execv(sys.executable, [*AIMARK, "verify", str(source), str(source), str(source)])
    screen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.waitpid(pid, 0)
    # What each terminal row shows: the text after its last carriage return (the terminal ends lines in \r\n).
    rows = [row.rsplit(b"\r", 1)[-1].replace(b"\x1b[K", b"") for row in screen.split(b"\r\n")]
    shown = [row.decode() for row in rows if str(source).encode() in row]
    assert len(shown) == 3 and all(row.startswith("unlabelled ") for row in shown), screen


def test_sigterm_ends_batch_verify_and_its_workers(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    for index in range(4):
        make_clip(folder / f"{index}.mp4", width=640, height=360, frames=200, seed=index)
    process = subprocess.Popen([*AIMARK, "verify", str(folder), "--quiet"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)

    def children() -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == process.pid:
                found.append(int(stat.parent.name))
        return found

    deadline = time.time() + 60
    while time.time() < deadline and len(children()) < 2:
        time.sleep(0.1)
    workers = children()
    assert workers, "no worker processes started"
    time.sleep(1.0)  # the workers are busy decoding
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 143
    time.sleep(0.5)
    alive = [pid for pid in workers if os.path.exists(f"/proc/{pid}") and
             "Z" not in open(f"/proc/{pid}/stat").read().split()[2]]
    assert alive == []
