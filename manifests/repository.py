"""The manifest repository: signed manifests kept by the watermark identifier they bind.

A re-encode or a platform upload strips the C2PA manifest from a video, but
the invisible watermark survives and carries the identifier. Keeping every
manifest store here, keyed by that identifier, lets a verifier find the
manifest again, as the C2PA soft-binding resolution API describes.

Storage sits behind :class:`ManifestRepository`: an SQLite file by default
(:class:`SQLiteRepository`), or a PostgreSQL server shared by several
stamping workers and services (:func:`open_repository` with a
``postgresql://`` URL), with versioned schemas (:data:`MIGRATIONS`). The
identifier and the fingerprint are opaque values here: this layer stores
them and never interprets them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import c2pa

from manifests.boxes import manifest_store_bytes
from manifests.credentials import aimark_home
from manifests.database import Database, DuplicateError, Migration, SQLiteDatabase, migrate, open_database
from manifests.description import check_identifier, identifier_from_binding
from manifests.errors import DescriptionError, RepositoryError
from manifests.labels import AigcLabel
from manifests.manifest import FINGERPRINT_ASSERTION, GENERATION_ASSERTION, WATERMARK_ALGORITHM
from manifests.reading import Claims, Disclosure, ValidationState, active_assertions, c2pa_context
# The one parser of claims, signatures and disclosure items, shared within the package:
from manifests.reading import _claims as claims_of
from manifests.reading import _disclosures as disclosures_of
from manifests.reading import _signature as signature_of

#: The repository file in aimark's data folder.
DEFAULT_NAME = "repository.sqlite"

_COLUMNS = ("identifier", "manifest_id", "key_id", "registered", "author", "model", "model_version",
            "organisation", "created", "width", "height", "store", "fingerprint")
_TABLE = """CREATE TABLE IF NOT EXISTS manifests (
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
    store         {binary} NOT NULL,
    fingerprint   {binary} NOT NULL
)"""
_INDEX = "CREATE INDEX IF NOT EXISTS manifests_registered ON manifests (registered)"
_UNIQUE_MANIFEST = "CREATE UNIQUE INDEX IF NOT EXISTS manifests_manifest_id ON manifests (manifest_id)"

#: The repository's schema versions. Version 1 is the table files made before versioning
#: already have (so opening one of them only records it); add versions at the end.
MIGRATIONS = (
    Migration(1, "manifests by watermark identifier",
              sqlite=(_TABLE.format(binary="BLOB"), _INDEX),
              postgresql=(_TABLE.format(binary="BYTEA"), _INDEX)),
    Migration(2, "one record per manifest label (lookup by manifestId)",
              sqlite=(_UNIQUE_MANIFEST,), postgresql=(_UNIQUE_MANIFEST,)),
)


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
    """What a manifest repository offers; :class:`DatabaseRepository` is the SQLite and PostgreSQL one."""

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


class DatabaseRepository:
    """Manifests in a database: an SQLite file or a PostgreSQL server (see :mod:`manifests.database`).

    Opening brings the schema to the newest version. The identifier is the
    table's primary key and the manifest label a unique key, so two writers
    registering the same identifier at once cannot both succeed.

    Parameters
    ----------
    database : Database
        From :func:`manifests.database.open_database`.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.location = database.location
        try:
            migrate(database, "manifests", MIGRATIONS)
        except BaseException:
            database.close()
            raise

    def add(self, record: Record) -> None:
        values = [getattr(record, name) for name in _COLUMNS]
        values[3], values[8] = record.registered.isoformat(), record.created.isoformat()
        try:
            self.database.execute(f"INSERT INTO manifests ({', '.join(_COLUMNS)}) "
                                  f"VALUES ({', '.join('?' * len(_COLUMNS))})", values)
        except DuplicateError:
            taken = self.get(record.identifier) is not None
            raise DuplicateError(f"identifier {record.identifier} is already registered in '{self.location}'; "
                                  "each video needs its own identifier" if taken else
                                  f"manifest {record.manifest_id} is already registered in '{self.location}'") from None

    def remove(self, identifier: str) -> None:
        """Forget ``identifier`` (a registration undone because its video could not be published)."""
        self.database.execute("DELETE FROM manifests WHERE identifier = ?", (identifier,))

    def get(self, identifier: str) -> Record | None:
        rows = self._query("WHERE identifier = ?", (identifier,))
        return rows[0] if rows else None

    def manifest_of(self, identifier: str) -> str | None:
        """The label of the manifest registered for ``identifier``, or None (a lookup that reads nothing else)."""
        rows = self.database.execute("SELECT manifest_id FROM manifests WHERE identifier = ?", (identifier,))
        return rows[0][0] if rows else None

    def find_manifest(self, manifest_id: str) -> Record | None:
        """The record whose active manifest has the label ``manifest_id``, or None."""
        rows = self._query("WHERE manifest_id = ?", (manifest_id,))
        return rows[0] if rows else None

    def records(self, *, limit: int | None = None) -> list[Record]:
        return self._query("ORDER BY registered DESC" + (" LIMIT ?" if limit else ""),
                           (limit,) if limit else ())

    def _query(self, clause: str, parameters: tuple) -> list[Record]:
        records = []
        for row in self.database.execute(f"SELECT {', '.join(_COLUMNS)} FROM manifests {clause}", parameters):
            data = dict(zip(_COLUMNS, row))
            data["registered"] = datetime.fromisoformat(data["registered"])
            data["created"] = datetime.fromisoformat(data["created"])
            data["store"], data["fingerprint"] = bytes(data["store"]), bytes(data["fingerprint"])
            records.append(Record(**data))
        return records

    def close(self) -> None:
        self.database.close()

    def __enter__(self) -> DatabaseRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SQLiteRepository(DatabaseRepository):
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
        super().__init__(SQLiteDatabase(self.path))


def open_repository(location: str | os.PathLike[str] | None = None) -> DatabaseRepository:
    """The repository at ``location``: a ``postgresql://`` URL, or an SQLite file (default: :func:`default_path`).

    Examples
    --------
    >>> open_repository("postgresql://aimark@db.internal/manifests")  # doctest: +SKIP
    >>> open_repository("/var/lib/acme/manifests.sqlite")  # doctest: +SKIP
    """
    if location is None:
        return SQLiteRepository()
    return DatabaseRepository(open_database(location if isinstance(location, str) else Path(location)))


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


def soft_bindings(store: bytes) -> list[tuple[str, str]]:
    """Every soft binding the store's active manifest declares, as ``(alg, value)`` pairs.

    A verifier that found the manifest through a soft binding must see the
    algorithm and value it looked up in *all* of them (C2PA 2.2, 18.10.5.1).

    Raises
    ------
    RepositoryError
        If ``store`` is not a C2PA manifest store.
    """
    found = []
    for assertion in active_assertions(_read_store(store)):
        label = assertion.get("label", "")
        if label == "c2pa.soft-binding" or label.startswith("c2pa.soft-binding__"):
            data = assertion.get("data") if isinstance(assertion.get("data"), dict) else {}
            blocks = [b for b in data.get("blocks") or [] if isinstance(b, dict)] if isinstance(
                data.get("blocks"), list) else []
            for block in blocks or [{}]:
                found.append((str(data.get("alg")), str(block.get("value"))))
    return found


def record_from_store(store: bytes, *, registered: datetime) -> Record:
    """The repository record a manifest store made by ``aimark stamp`` describes.

    Everything the record holds is read from the signed manifest (claims,
    soft binding, watermark key, fingerprint and picture size), so a record
    registered through a service is the same as one written by the stamper,
    and nothing in it rests on what a client said besides the store.

    Raises
    ------
    RepositoryError
        If ``store`` is not a manifest store, or lacks aimark's soft binding or fingerprint.
    """
    data = _read_store(store)
    assertions = {a.get("label"): a.get("data") or {} for a in active_assertions(data)}
    bindings = [value for alg, value in soft_bindings(store) if alg == WATERMARK_ALGORITHM]
    fingerprint = assertions.get(FINGERPRINT_ASSERTION) or {}
    key_id = ((assertions.get(GENERATION_ASSERTION) or {}).get("watermark") or {}).get("key_id")
    claims = claims_of(data)
    missing = [name for name, value in (("a soft binding of " + WATERMARK_ALGORITHM, bindings),
                                        ("a picture fingerprint", fingerprint), ("the watermark key", key_id),
                                        ("a creation time", claims.created)) if not value]
    if missing:
        raise RepositoryError(f"the manifest store lacks {', '.join(missing)}; register manifests made by "
                              "`aimark stamp`")
    try:
        identifier = identifier_from_binding(bindings[0])
        return Record(identifier=identifier, manifest_id=data["active_manifest"], key_id=str(key_id),
                      registered=registered, author=claims.author or "", model=claims.model or "",
                      model_version=claims.model_version, organisation=claims.organisation,
                      created=datetime.fromisoformat(claims.created), width=int(fingerprint["width"]),
                      height=int(fingerprint["height"]), store=store,
                      fingerprint=base64.b64decode(str(fingerprint["value"]), validate=True))
    except (DescriptionError, KeyError, TypeError, ValueError, binascii.Error) as error:
        raise RepositoryError(f"the manifest store's aimark assertions cannot be read ({error})") from None


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
