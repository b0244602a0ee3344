"""The manifest repository: signed manifests kept by the watermark identifier they bind.

A re-encode or a platform upload strips the C2PA manifest from a video, but
the invisible watermark survives and carries the identifier. Keeping every
manifest store here, keyed by that identifier, lets a verifier find the
manifest again, as the C2PA soft-binding resolution API describes.

Storage sits behind :class:`ManifestRepository`, so a server database can
replace the embedded SQLite file (:class:`SQLiteRepository`) without changing
its callers. The identifier and the fingerprint are opaque values here: this
layer stores them and never interprets them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import c2pa

from manifests.boxes import manifest_store_bytes
from manifests.credentials import aimark_home
from manifests.description import check_identifier
from manifests.errors import ManifestError
from manifests.labels import AigcLabel
from manifests.reading import Claims, Disclosure, ValidationState, c2pa_context
# The one parser of claims, signatures and disclosure items, shared within the package:
from manifests.reading import _claims as claims_of
from manifests.reading import _disclosures as disclosures_of
from manifests.reading import _signature as signature_of

#: The repository file in aimark's data folder.
DEFAULT_NAME = "repository.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    identifier    TEXT PRIMARY KEY,
    manifest_id   TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    registered    TEXT NOT NULL,
    author        TEXT NOT NULL,
    model         TEXT NOT NULL,
    model_version TEXT,
    organisation  TEXT,
    created       TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    store         BLOB NOT NULL,
    fingerprint   BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS manifests_registered ON manifests (registered);
"""
_COLUMNS = ("identifier", "manifest_id", "key_id", "registered", "author", "model", "model_version",
            "organisation", "created", "width", "height", "store", "fingerprint")


class RepositoryError(ManifestError):
    """The repository cannot be opened, or a record clashes with one stored."""


@dataclass(frozen=True)
class Record:
    """One registered manifest.

    Attributes
    ----------
    identifier : str
        The watermark identifier the manifest's soft binding names (16 hex digits).
    manifest_id : str
        The active manifest's label (``urn:c2pa:...``).
    key_id : str
        Identifier of the watermark key that carries ``identifier``.
    registered : datetime
        When the record was stored (UTC).
    author, model, model_version, organisation : str
        Who made the video and with what, as the manifest states it.
    created : datetime
        When the video was generated, as the manifest states it.
    width, height : int
        Picture size of the stamped video, so a verifier can tell a reframed
        copy (other aspect ratio) from other pictures.
    store : bytes
        The signed C2PA manifest store (JUMBF), as embedded in the video.
    fingerprint : bytes
        A compact perceptual fingerprint of the pictures, opaque to this layer.
    """

    identifier: str
    manifest_id: str
    key_id: str
    registered: datetime
    author: str
    model: str
    model_version: str | None
    organisation: str | None
    created: datetime
    width: int
    height: int
    store: bytes
    fingerprint: bytes

    def __post_init__(self) -> None:
        check_identifier(self.identifier)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON; the byte fields as their size and SHA-256."""
        data = {name: getattr(self, name) for name in _COLUMNS[:-2]}
        data["registered"] = self.registered.isoformat()
        data["created"] = self.created.isoformat()
        data["store_bytes"] = len(self.store)
        data["store_sha256"] = hashlib.sha256(self.store).hexdigest()
        data["fingerprint_bytes"] = len(self.fingerprint)
        return data


class ManifestRepository(Protocol):
    """What a manifest repository offers; :class:`SQLiteRepository` is the embedded one."""

    #: Where the records live, for messages and reports (a path or a URL).
    location: str

    def add(self, record: Record) -> None:
        """Store ``record``; raise :class:`RepositoryError` if its identifier is taken."""

    def remove(self, identifier: str) -> None:
        """Forget ``identifier`` (a registration undone because its video could not be published)."""

    def get(self, identifier: str) -> Record | None:
        """The record for ``identifier``, or None."""

    def records(self, *, limit: int | None = None) -> list[Record]:
        """Records, newest first."""

    def close(self) -> None:
        """Release the storage."""


def default_path() -> Path:
    """``<aimark home>/repository.sqlite`` (see :func:`manifests.aimark_home`)."""
    return aimark_home() / DEFAULT_NAME


class SQLiteRepository:
    """Manifests in one SQLite file: the default, for one machine or a small service.

    Parameters
    ----------
    path : path-like, optional
        The database file, created on first use. Default: :func:`default_path`.

    Examples
    --------
    >>> with SQLiteRepository("repo.sqlite") as repository:  # doctest: +SKIP
    ...     record = repository.get("00c0ffee12345678")
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.location = str(self.path)
        if self.path.is_dir():
            raise RepositoryError(f"repository '{self.path}' is a folder; give a file such as "
                                  f"'{self.path / DEFAULT_NAME}'")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Several stamping processes may share the file: wait for each other's writes.
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise RepositoryError(f"cannot open the manifest repository '{self.path}' ({error}); "
                                  "check the path, or give another with --repository") from None

    def add(self, record: Record) -> None:
        values = [getattr(record, name) for name in _COLUMNS]
        values[3], values[8] = record.registered.isoformat(), record.created.isoformat()
        try:
            self._db.execute(f"INSERT INTO manifests ({', '.join(_COLUMNS)}) "
                             f"VALUES ({', '.join('?' * len(_COLUMNS))})", values)
        except sqlite3.IntegrityError:
            raise RepositoryError(f"identifier {record.identifier} is already registered in "
                                  f"'{self.path}'; each video needs its own identifier") from None
        except sqlite3.Error as error:
            raise RepositoryError(f"cannot write to the manifest repository '{self.path}' ({error})") from None

    def remove(self, identifier: str) -> None:
        try:
            self._db.execute("DELETE FROM manifests WHERE identifier = ?", (identifier,))
        except sqlite3.Error as error:
            raise RepositoryError(f"cannot write to the manifest repository '{self.path}' ({error})") from None

    def get(self, identifier: str) -> Record | None:
        row = self._query("WHERE identifier = ?", (identifier,))
        return row[0] if row else None

    def records(self, *, limit: int | None = None) -> list[Record]:
        return self._query("ORDER BY registered DESC" + (" LIMIT ?" if limit else ""),
                           (limit,) if limit else ())

    def _query(self, clause: str, parameters: tuple) -> list[Record]:
        try:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM manifests {clause}", parameters).fetchall()
        except sqlite3.Error as error:
            raise RepositoryError(f"cannot read the manifest repository '{self.path}' ({error})") from None
        records = []
        for row in rows:
            data = dict(zip(_COLUMNS, row))
            data["registered"] = datetime.fromisoformat(data["registered"])
            data["created"] = datetime.fromisoformat(data["created"])
            records.append(Record(**data))
        return records

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def embedded_store(path: str | os.PathLike[str]) -> bytes | None:
    """The C2PA manifest store embedded in an MP4 or MOV file, as bytes, or None.

    Reads the top-level ``uuid`` box C2PA defines for ISO BMFF files and
    returns its manifest store (JUMBF), the bytes a repository keeps and a
    sidecar ``.c2pa`` file holds.

    Raises
    ------
    MediaError
        If the file cannot be read or its boxes are damaged.
    """
    return manifest_store_bytes(path)


def _read_store(store: bytes) -> dict[str, Any]:
    """The manifest store's JSON, read without the video (so its content hash is not checked)."""
    try:
        with c2pa.Reader("application/c2pa", io.BytesIO(store), context=c2pa_context()) as reader:
            data = json.loads(reader.json())
    except (c2pa.C2paError, ValueError) as error:
        raise RepositoryError(f"the bytes given are not a C2PA manifest store ({error})") from None
    if data.get("active_manifest") not in (data.get("manifests") or {}):
        raise RepositoryError("the manifest store names no active manifest")
    return data


def manifest_label(store: bytes) -> str:
    """The active manifest's label (``urn:c2pa:...``) of a manifest store.

    Raises
    ------
    RepositoryError
        If ``store`` is not a C2PA manifest store.
    """
    return _read_store(store)["active_manifest"]


def stored_claims(store: bytes) -> Claims:
    """What a registered manifest store claims, for a video whose own manifest was stripped.

    Read as :func:`manifests.inspect_file` reads an embedded manifest, but
    without the video: the claims are those signed at stamping, and whether
    they belong to a given video is for the watermark and the fingerprint to say.

    Raises
    ------
    RepositoryError
        If ``store`` is not a C2PA manifest store.
    """
    return claims_of(_read_store(store))


def stored_disclosures(store: bytes, aigc: AigcLabel | None) -> tuple[Disclosure, ...]:
    """The disclosure items of a registered manifest store, for a file whose own manifest was stripped.

    The manifest items are read from the store as signed at stamping (as for
    a valid manifest); the AIGC items from ``aigc``, the label the file
    itself carries (None when it was stripped too).

    Raises
    ------
    RepositoryError
        If ``store`` is not a C2PA manifest store.
    """
    data = _read_store(store)
    signer = signature_of(data["manifests"][data["active_manifest"]])
    return disclosures_of(ValidationState.VALID, claims_of(data), aigc, signer)
