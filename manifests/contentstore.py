"""Registered works' content fingerprints and their index postings, in SQL.

The search by picture (``watermark.contentindex``) files each segment of a
registered work under a few integer keys. This module keeps those postings
and the fingerprint bytes in two tables beside the manifest repository's,
without interpreting either: works are names and 63-bit numbers, keys are
integers, fingerprints are opaque bytes, as the identifier is for the
repository.

The statements are plain SQL that SQLite and PostgreSQL both run; only the
binary column type differs. :class:`DatabaseContentStore` keeps them in a
repository database (an SQLite file or a PostgreSQL server) as one more
migrated component (:data:`MIGRATIONS`); :class:`SQLiteContentStore` is the
embedded store.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from manifests.database import Component, DuplicateError, SQLiteDatabase, script_migration
from manifests.errors import ManifestError
from manifests.repository import default_path

#: Keys per lookup statement (SQLite allows 32,766 parameters; PostgreSQL more).
_CHUNK = 900


def schema(binary: str = "BLOB") -> str:
    """The tables' DDL; ``binary`` is the byte-string type (``BLOB`` in SQLite, ``BYTEA`` in PostgreSQL)."""
    return f"""
CREATE TABLE IF NOT EXISTS content_works (
    number      BIGINT PRIMARY KEY,
    work        TEXT NOT NULL UNIQUE,
    registered  TEXT NOT NULL,
    segments    INTEGER NOT NULL,
    fingerprint {binary} NOT NULL
);
CREATE TABLE IF NOT EXISTS content_postings (
    key     BIGINT NOT NULL,
    number  BIGINT NOT NULL REFERENCES content_works (number),
    segment INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS content_postings_key ON content_postings (key, number, segment);
CREATE INDEX IF NOT EXISTS content_postings_number ON content_postings (number);
"""


#: The statements, with ``{p}`` for the parameter marker (``?`` in sqlite3, ``%s`` in psycopg).
QUERIES = {
    "add_work": "INSERT INTO content_works (number, work, registered, segments, fingerprint) "
                "VALUES ({p}, {p}, {p}, {p}, {p})",
    "add_posting": "INSERT INTO content_postings (key, number, segment) VALUES ({p}, {p}, {p})",
    "find_work": "SELECT number, fingerprint FROM content_works WHERE work = {p}",
    "remove_postings": "DELETE FROM content_postings WHERE number = {p}",
    "remove_work": "DELETE FROM content_works WHERE number = {p}",
    "lookup": "SELECT key, number, segment FROM content_postings WHERE key IN ({keys})",
    "fingerprints": "SELECT number, work, fingerprint FROM content_works WHERE number IN ({numbers})",
    "counts": "SELECT COUNT(*), COALESCE(SUM(segments), 0) FROM content_works",
}


class ContentStoreError(ManifestError, ValueError):
    """The content store cannot be opened or written, or a work is already registered."""


def check_file(path: Path, what: str, error: type[ManifestError]) -> None:
    """Refuse a folder where an SQLite file is meant, naming ``what`` the file is, as one line."""
    if path.is_dir():
        raise error(f"{what} '{path}' is a folder; give a file such as '{path / 'repository.sqlite'}'")


#: The store's schema versions, a component of the repository database (``manifests.database``).
MIGRATIONS = (script_migration(1, "content fingerprints of registered works and their index postings", schema),)
_SQL = {name: text.replace("{p}", "?") for name, text in QUERIES.items()}  # Database takes '?' everywhere


class DatabaseContentStore(Component):
    """Works and postings in a repository database: an SQLite file or a PostgreSQL server.

    Opening brings the tables to the newest of :data:`MIGRATIONS` (component
    ``content_index``), beside the manifests' own.
    """

    component = "content_index"
    migrations = MIGRATIONS

    def add(self, number: int, work: str, fingerprint: bytes, keys: np.ndarray, segments: np.ndarray) -> None:
        registered = datetime.now(timezone.utc).isoformat(timespec="seconds")
        postings = list(zip(np.asarray(keys, np.int64).tolist(), [number] * len(keys),
                            np.asarray(segments, np.int64).tolist()))
        try:
            with self.database.transaction() as execute:
                execute(_SQL["add_work"], (number, work, registered, len(np.unique(segments)), fingerprint))
                for posting in postings:
                    execute(_SQL["add_posting"], posting)
        except DuplicateError:
            raise ContentStoreError(f"work '{work}' is already registered in '{self.location}' (or another "
                                    "work has its number); remove it first to replace it") from None

    def remove(self, work: str) -> bool:
        with self.database.transaction() as execute:
            rows = execute(_SQL["find_work"], (work,))
            if not rows:
                return False
            execute(_SQL["remove_postings"], (rows[0][0],))
            execute(_SQL["remove_work"], (rows[0][0],))
        return True

    def get(self, work: str) -> bytes | None:
        rows = self.database.execute(_SQL["find_work"], (work,))
        return bytes(rows[0][1]) if rows else None

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        wanted = np.unique(np.asarray(keys, np.int64)).tolist()
        rows: list[tuple] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            rows += self.database.execute(_SQL["lookup"].replace("{keys}", ", ".join("?" * len(chunk))), chunk)
        found = np.array(rows, np.int64).reshape(-1, 3)
        return found[:, 0], found[:, 1], found[:, 2]

    def fingerprints(self, numbers: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        found: dict[int, tuple[str, bytes]] = {}
        numbers = list(numbers)
        for start in range(0, len(numbers), _CHUNK):
            chunk = numbers[start:start + _CHUNK]
            statement = _SQL["fingerprints"].replace("{numbers}", ", ".join("?" * len(chunk)))
            for number, work, data in self.database.execute(statement, chunk):
                found[number] = (work, bytes(data))
        return found

    def counts(self) -> tuple[int, int]:
        works, segments = self.database.execute(_SQL["counts"])[0]
        return int(works), int(segments)


class SQLiteContentStore(DatabaseContentStore):
    """Works and postings in an SQLite file (by default the manifest repository's own).

    Parameters
    ----------
    path : path-like, optional
        The database file, created on first use; default the manifest
        repository (:func:`manifests.repository.default_path`), so the
        registry lives beside the manifests.

    Examples
    --------
    >>> from watermark.contentindex import ContentIndex  # doctest: +SKIP
    >>> index = ContentIndex(SQLiteContentStore("registry.sqlite"))  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        check_file(self.path, "content store", ContentStoreError)
        super().__init__(SQLiteDatabase(self.path), owned=True)
