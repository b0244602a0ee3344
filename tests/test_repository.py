"""The manifest repository on SQLite and on a real PostgreSQL server, its migrations, the
embedded-store reader, and the CLI group."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import manifests
from _pipeline import home  # noqa: F401  (fixture)
from _postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)
from aimark.cli import main
from conftest import make_clip
from manifests.database import migrate, open_database, schema_versions
from manifests.repository import (MIGRATIONS, Record, RepositoryError, SQLiteRepository, default_path,
                                  embedded_store, manifest_label, open_repository, stored_claims)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def record(identifier: str, minutes: int = 0, **changes) -> Record:
    fields = dict(identifier=identifier, manifest_id=f"urn:c2pa:{identifier}", key_id="6f2a8d0889d41834",
                  registered=T0 + timedelta(minutes=minutes), author="Ada", model="VidGen", model_version="2.1",
                  organisation=None, created=T0, width=640, height=360, store=b"\x00jumb" * 10, fingerprint=bytes(range(64)))
    fields.update(changes)
    return Record(**fields)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    """The same repository tests on an SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "repo.sqlite")
    return request.getfixturevalue("postgres_url")


def test_records_are_stored_found_and_listed_newest_first(location):
    with open_repository(location) as repo:
        repo.add(record("00000000000000a1"))
        repo.add(record("00000000000000a2", minutes=5, organisation="ACME"))
    with open_repository(location) as repo:  # durable across connections
        assert repo.get("00000000000000a2") == record("00000000000000a2", minutes=5, organisation="ACME")
        assert repo.get("00000000000000ff") is None
        assert repo.find_manifest("urn:c2pa:00000000000000a1") == record("00000000000000a1")
        assert repo.find_manifest("urn:c2pa:nothing") is None
        assert [r.identifier for r in repo.records()] == ["00000000000000a2", "00000000000000a1"]
        assert [r.identifier for r in repo.records(limit=1)] == ["00000000000000a2"]


def test_an_identifier_is_registered_once(location):
    with open_repository(location) as repo:
        repo.add(record("00000000000000a1"))
        with pytest.raises(RepositoryError, match="identifier 00000000000000a1 is already registered"):
            repo.add(record("00000000000000a1", author="Mallory", manifest_id="urn:c2pa:other"))
        with pytest.raises(RepositoryError, match="manifest urn:c2pa:00000000000000a1 is already registered"):
            repo.add(record("00000000000000b2", manifest_id="urn:c2pa:00000000000000a1"))
        assert repo.get("00000000000000a1").author == "Ada" and repo.get("00000000000000b2") is None


def test_the_database_not_a_check_keeps_identifiers_unique_under_racing_writers(location):
    """Eight writers register the same identifier at once, each on its own connection: exactly one wins."""
    barrier, outcomes = threading.Barrier(8, timeout=60), []  # a writer that fails to open breaks it, not hangs

    def register(index: int) -> None:
        try:
            with open_repository(location) as repo:
                barrier.wait()
                try:
                    repo.add(record("00000000000000c1", author=f"writer {index}", manifest_id=f"urn:c2pa:{index}"))
                    outcomes.append("stored")
                except RepositoryError as error:
                    outcomes.append(str(error))
        except (RepositoryError, threading.BrokenBarrierError) as error:
            barrier.abort()
            outcomes.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("stored") == 1
    assert all("already registered" in outcome for outcome in outcomes if outcome != "stored")
    with open_repository(location) as repo:
        assert len(repo.records()) == 1


def test_a_new_file_opened_by_many_at_once_opens_for_every_one(tmp_path):
    """Parallel stamps with a new repository file: SQLite refuses the switch to WAL at once, without its busy
    timeout, while another connection holds the file (1 round in 6 failed before the open waited for it)."""
    failures = []

    def open_it(path) -> None:
        try:
            with open_repository(path) as repo:
                repo.records()
        except RepositoryError as error:
            failures.append(str(error))

    for round_ in range(30):
        threads = [threading.Thread(target=open_it, args=(tmp_path / f"new{round_}.sqlite",)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_schema_versions_are_recorded_and_a_newer_schema_is_refused(location):
    with open_repository(location) as repo:
        assert schema_versions(repo.database) == {"manifests": len(MIGRATIONS)}
        repo.database.execute("INSERT INTO aimark_schema (component, version, summary, applied) "
                              "VALUES ('manifests', 99, 'from the future', 'now')")
    with pytest.raises(RepositoryError, match="schema version 99, newer than this aimark knows"):
        open_repository(location)


def test_a_file_made_before_versioning_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:  # the schema aimark wrote before migrations existed
        old.executescript(MIGRATIONS[0].sqlite[0] + ";" + MIGRATIONS[0].sqlite[1])
        old.execute("INSERT INTO manifests VALUES ('00000000000000d1', 'urn:c2pa:d1', 'k', '2026-03-01T12:00:00+00:00',"
                    " 'Ada', 'VidGen', NULL, NULL, '2026-03-01T12:00:00+00:00', 640, 360, x'00', x'01')")
    with SQLiteRepository(path) as repo:
        assert repo.get("00000000000000d1").author == "Ada"
        assert schema_versions(repo.database)["manifests"] == len(MIGRATIONS)


def test_another_component_extends_the_same_database(location):
    """A later feature (the service's tokens, an index) adds its own versioned tables beside the manifests."""
    from manifests.database import Migration

    extra = [Migration(1, "notes", sqlite=("CREATE TABLE notes (id TEXT PRIMARY KEY)",),
                       postgresql=("CREATE TABLE notes (id TEXT PRIMARY KEY)",))]
    with open_repository(location) as repo:
        assert migrate(repo.database, "notes", extra) == 1
        assert migrate(repo.database, "notes", extra) == 1  # applied once
        assert schema_versions(repo.database) == {"manifests": len(MIGRATIONS), "notes": 1}


def test_an_unreachable_postgresql_server_is_one_clear_error(tmp_path):
    url = f"postgresql://aimark:secret@/nothing?host={tmp_path}"
    with pytest.raises(RepositoryError, match="cannot connect to the PostgreSQL repository") as error:
        open_database(url)
    assert "secret" not in str(error.value) and "aimark:***@" in str(error.value)


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


def test_cli_list_show_export(tmp_path, location):
    path = location
    with open_repository(location) as repo:
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


def test_a_service_url_is_not_a_repository_to_list(tmp_path):
    listed = CliRunner().invoke(main, ["repository", "list", "--repository", "https://sbr.acme.example"])
    assert listed.exit_code == 2 and "is a resolution service; look into its database" in listed.output


def test_repository_commands_have_help_with_an_example():
    group = main.get_command(None, "repository")
    assert {"list", "show", "export"} <= set(group.commands)
    for name, command in group.commands.items():
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
