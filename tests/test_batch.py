"""Batch verification: folders and several files, one line per file, in input order."""

from __future__ import annotations

import json

from click.testing import CliRunner

from _pipeline import home  # noqa: F401  (fixture)
from aimark.batch import expand, verify_many
from aimark.cli import main
from aimark.stamp import stamp
from conftest import make_clip, remux


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
    result = CliRunner().invoke(main, ["verify", str(folder), str(source), "--json-lines"])
    assert result.exit_code == 2, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line.get("verdict") for line in lines] == ["labelled", "recovered", None, "unlabelled"]
    assert lines[1]["author"] == "Ada" and "not a video file" in lines[2]["error"]
    assert lines[3]["file"] == str(source)


def test_many_files_as_text_and_one_worker(tmp_path):
    source = make_clip(tmp_path / "gen.mp4", frames=25)
    items = list(verify_many([source, source], workers=1))
    assert [item.to_dict()["verdict"] for item in items] == ["unlabelled", "unlabelled"]
    text = CliRunner().invoke(main, ["verify", str(source), str(source)])
    assert text.exit_code == 0 and text.output.splitlines()[0] == f"unlabelled   {source}"
    refused = CliRunner().invoke(main, ["verify", str(source), str(source), "--report", str(tmp_path / "r.html")])
    assert refused.exit_code == 2 and "--json-lines for many" in refused.output


def test_a_folder_without_videos_is_a_usage_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    result = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert result.exit_code == 2 and "no videos in" in result.output
