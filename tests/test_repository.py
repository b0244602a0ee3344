"""The manifest repository: SQLite storage, the embedded-store reader, and the CLI group."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import manifests
from _pipeline import home  # noqa: F401  (fixture)
from aimark.cli import main
from conftest import make_clip
from manifests.repository import (Record, RepositoryError, SQLiteRepository, default_path, embedded_store,
                                  manifest_label, stored_claims)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def record(identifier: str, minutes: int = 0, **changes) -> Record:
    fields = dict(identifier=identifier, manifest_id=f"urn:c2pa:{identifier}", key_id="6f2a8d0889d41834",
                  registered=T0 + timedelta(minutes=minutes), author="Ada", model="VidGen", model_version="2.1",
                  organisation=None, created=T0, width=640, height=360, store=b"\x00jumb" * 10, fingerprint=bytes(range(64)))
    fields.update(changes)
    return Record(**fields)


def test_records_are_stored_found_and_listed_newest_first(tmp_path):
    path = tmp_path / "repo.sqlite"
    with SQLiteRepository(path) as repo:
        repo.add(record("00000000000000a1"))
        repo.add(record("00000000000000a2", minutes=5, organisation="ACME"))
    with SQLiteRepository(path) as repo:  # durable across connections
        assert repo.get("00000000000000a2") == record("00000000000000a2", minutes=5, organisation="ACME")
        assert repo.get("00000000000000ff") is None
        assert [r.identifier for r in repo.records()] == ["00000000000000a2", "00000000000000a1"]
        assert [r.identifier for r in repo.records(limit=1)] == ["00000000000000a2"]


def test_an_identifier_is_registered_once(tmp_path):
    with SQLiteRepository(tmp_path / "repo.sqlite") as repo:
        repo.add(record("00000000000000a1"))
        with pytest.raises(RepositoryError, match="already registered"):
            repo.add(record("00000000000000a1", author="Mallory"))
        assert repo.get("00000000000000a1").author == "Ada"


def test_bad_identifiers_and_paths_are_refused(tmp_path):
    with pytest.raises(manifests.DescriptionError, match="16 lowercase hex"):
        record("C0FFEE")
    with pytest.raises(RepositoryError, match="is a folder"):
        SQLiteRepository(tmp_path)


def test_default_location_is_the_aimark_home(home):
    assert default_path() == home / "repository.sqlite"
    with SQLiteRepository() as repo:
        assert repo.location == str(home / "repository.sqlite")


def test_to_dict_summarises_the_bytes():
    data = record("00000000000000a1").to_dict()
    assert data["store_bytes"] == 50 and len(data["store_sha256"]) == 64 and data["fingerprint_bytes"] == 64
    assert data["created"] == "2026-03-01T12:00:00+00:00"
    json.dumps(data)


def test_embedded_store_is_the_signed_manifest(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=10)
    assert embedded_store(clip) is None
    signed = tmp_path / "signed.mp4"
    manifests.sign_file(clip, signed, manifests.GenerationDescription(author="Ada", model="VidGen"))
    store = embedded_store(signed)
    assert store[4:8] == b"jumb"
    report = manifests.reading.manifest_store(signed)[0]
    assert manifest_label(store) == report["active_manifest"]
    with pytest.raises(RepositoryError, match="not a C2PA manifest store"):
        manifest_label(b"not a store")
    claims = stored_claims(store)
    assert (claims.author, claims.model, claims.ai_generated) == ("Ada", "VidGen", True)


def test_cli_list_show_export(tmp_path):
    path = tmp_path / "repo.sqlite"
    with SQLiteRepository(path) as repo:
        repo.add(record("00000000000000a1"))
    runner = CliRunner()
    listed = runner.invoke(main, ["repository", "list", "--repository", str(path)])
    assert listed.exit_code == 0 and "00000000000000a1  2026-03-01 12:00:00  Ada  VidGen 2.1" in listed.output
    shown = runner.invoke(main, ["repository", "show", "00000000000000A1", "--repository", str(path), "--json"])
    assert json.loads(shown.output)["manifest_id"] == "urn:c2pa:00000000000000a1"
    out = tmp_path / "m.c2pa"
    exported = runner.invoke(main, ["repository", "export", "00000000000000a1", str(out), "--repository", str(path)])
    assert exported.exit_code == 0 and out.read_bytes() == b"\x00jumb" * 10
    out.write_bytes(b"mine")
    kept = runner.invoke(main, ["repository", "export", "00000000000000a1", str(out), "--repository", str(path)])
    assert kept.exit_code == 2 and "already exists" in kept.output and out.read_bytes() == b"mine"
    forced = runner.invoke(main, ["repository", "export", "00000000000000a1", str(out), "--repository", str(path),
                                  "--force", "--json"])
    assert json.loads(forced.output) == {"output": str(out), "identifier": "00000000000000a1",
                                         "manifest_id": "urn:c2pa:00000000000000a1", "size_bytes": 50}
    missing = runner.invoke(main, ["repository", "show", "00000000000000ff", "--repository", str(path)])
    assert missing.exit_code == 2 and missing.output.startswith("Error: identifier 00000000000000ff is not in")


def test_repository_commands_have_help_with_an_example():
    for name, command in main.commands["repository"].commands.items():
        assert "Example" in (command.help or ""), name


def test_the_documented_names_resolve():
    """The docs call aimark.verify.verify, aimark.stamp.stamp and manifests.embedded_store."""
    import aimark
    import aimark.stamp
    import aimark.verify
    import manifests

    assert callable(aimark.verify.verify) and callable(aimark.stamp.stamp)
    assert manifests.embedded_store is embedded_store and callable(manifests.stored_claims)
    assert {"Settings", "Stamper", "StampResult", "Verification"} <= set(aimark.__all__)


def test_a_removed_record_frees_its_identifier(tmp_path):
    with SQLiteRepository(tmp_path / "r.sqlite") as repo:
        repo.add(record("00c0ffee12345678"))
        repo.remove("00c0ffee12345678")
        assert repo.get("00c0ffee12345678") is None
        repo.add(record("00c0ffee12345678"))
