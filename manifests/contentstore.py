"""Registered works' content fingerprints and their index postings, in SQL.

The search by picture (``watermark.contentindex``) files each segment of a
registered work under a few integer keys. This module keeps those postings
and the fingerprint bytes in two tables beside the manifest repository's,
without interpreting either: works are names and 63-bit numbers, keys are
integers, fingerprints are opaque bytes, as the identifier is for the
repository.

The statements are plain SQL that SQLite and PostgreSQL both run; only the
binary column type and the parameter style differ, so :func:`schema` and
:data:`QUERIES` can become one more migration of a server repository.
:class:`SQLiteContentStore` is the embedded store.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

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


def open_sqlite(path: Path, script: str, what: str, error: type[ManifestError],
                hint: str = "check the path") -> sqlite3.Connection:
    """A connection to the SQLite file ``path`` in WAL mode (several processes share it), ``script`` run.

    Raises ``error`` naming ``what`` the file is, with ``hint`` as the way out.
    """
    if path.is_dir():
        raise error(f"{what} '{path}' is a folder; give a file such as '{path / 'repository.sqlite'}'")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, isolation_level=None)  # waits for another process's write
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(script)
    except (OSError, sqlite3.Error) as failure:
        raise error(f"cannot open the {what} '{path}' ({failure}); {hint}") from None
    return db


class SQLiteContentStore:
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
        self.location = str(self.path)
        self._db = open_sqlite(self.path, schema(), "content store", ContentStoreError)
        self._sql = {name: text.replace("{p}", "?") for name, text in QUERIES.items()}

    def add(self, number: int, work: str, fingerprint: bytes, keys: np.ndarray, segments: np.ndarray) -> None:
        registered = datetime.now(timezone.utc).isoformat(timespec="seconds")
        postings = list(zip(np.asarray(keys, np.int64).tolist(), [number] * len(keys),
                            np.asarray(segments, np.int64).tolist()))
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(self._sql["add_work"],
                             (number, work, registered, len(np.unique(segments)), fingerprint))
            self._db.executemany(self._sql["add_posting"], postings)
            self._db.execute("COMMIT")
        except sqlite3.IntegrityError:
            self._db.execute("ROLLBACK")
            raise ContentStoreError(f"work '{work}' is already registered in '{self.path}' (or another "
                                    "work has its number); remove it first to replace it") from None
        except sqlite3.Error as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise ContentStoreError(f"cannot write to the content store '{self.path}' ({error})") from None

    def remove(self, work: str) -> bool:
        row = self._one("find_work", (work,))
        if row is None:
            return False
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(self._sql["remove_postings"], (row[0],))
            self._db.execute(self._sql["remove_work"], (row[0],))
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise ContentStoreError(f"cannot write to the content store '{self.path}' ({error})") from None
        return True

    def get(self, work: str) -> bytes | None:
        row = self._one("find_work", (work,))
        return None if row is None else bytes(row[1])

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        wanted = np.unique(np.asarray(keys, np.int64)).tolist()
        rows: list[tuple[int, int, int]] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            rows += self._all(self._sql["lookup"].replace("{keys}", ", ".join("?" * len(chunk))), chunk)
        found = np.array(rows, np.int64).reshape(-1, 3)
        return found[:, 0], found[:, 1], found[:, 2]

    def fingerprints(self, numbers: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        found: dict[int, tuple[str, bytes]] = {}
        numbers = list(numbers)
        for start in range(0, len(numbers), _CHUNK):
            chunk = numbers[start:start + _CHUNK]
            for number, work, data in self._all(
                    self._sql["fingerprints"].replace("{numbers}", ", ".join("?" * len(chunk))), chunk):
                found[number] = (work, bytes(data))
        return found

    def counts(self) -> tuple[int, int]:
        works, segments = self._one("counts", ())
        return int(works), int(segments)

    def _one(self, name: str, parameters: tuple) -> tuple | None:
        rows = self._all(self._sql[name], parameters)
        return rows[0] if rows else None

    def _all(self, statement: str, parameters: Sequence) -> list[tuple]:
        try:
            return self._db.execute(statement, tuple(parameters)).fetchall()
        except sqlite3.Error as error:
            raise ContentStoreError(f"cannot read the content store '{self.path}' ({error})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteContentStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
