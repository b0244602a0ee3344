"""Rights holders' notices: 'do not train on my work' (opt-out) or 'train on it under my licence'.

A notice names its claimant, the choice, the terms and a contact; the work
itself is never kept, only what recognises it: its SHA-256 and its content
fingerprint, which the search by picture files under the notice's id
(``watermark.contentindex`` with :class:`~manifests.contentstore.SQLiteContentStore`,
by default in the same file). This module keeps the notices; pairing them
with the fingerprints is the pipeline's (``aimark.notices``), since this
layer does not know the signal.

The statements are plain SQL that SQLite and PostgreSQL both run:
:class:`DatabaseNoticeStore` keeps them in a repository database as one more
migrated component (:data:`MIGRATIONS`), beside the manifests' tables.
"""

from __future__ import annotations

import enum
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from manifests.contentstore import check_file
from manifests.database import Component, DuplicateError, SQLiteDatabase, script_migration
from manifests.description import check_url
from manifests.errors import DescriptionError, ManifestError
from manifests.repository import default_path

_ID = re.compile(r"notice-[0-9a-f]{12}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_COLUMNS = ("id", "claimant", "choice", "terms", "contact", "work", "sha256", "duration", "registered")


class NoticeError(ManifestError, ValueError):
    """A notice that cannot be filed as given, one that is not registered, or a registry that cannot be used."""


class Choice(str, enum.Enum):
    """What the rights holder says about training on the work."""

    OPT_OUT = "opt-out"   # do not use: exclude or remove it from datasets
    LICENSE = "license"   # use it under the licence terms given


def new_notice_id() -> str:
    """A fresh notice id, ``notice-`` and 12 hex digits.

    Examples
    --------
    >>> new_notice_id().startswith("notice-")
    True
    """
    return "notice-" + secrets.token_hex(6)


def check_notice_id(notice_id: str) -> str:
    """Return ``notice_id`` if it is spelled as :func:`new_notice_id` makes them, else raise."""
    if not isinstance(notice_id, str) or not _ID.fullmatch(notice_id):
        raise NoticeError(f"{notice_id!r} is not a notice id (notice- and 12 hex digits); "
                          "see `aimark notice list`")
    return notice_id


@dataclass(frozen=True)
class RightsNotice:
    """One rights holder's notice about one work.

    Attributes
    ----------
    id : str
        ``notice-`` and 12 hex digits.
    claimant : str
        Who gives notice: the rights holder or their agent.
    choice : Choice
        Opt out, or license.
    terms : str, optional
        URL of the licence terms (required for a licence) or of the reservation.
    contact : str, optional
        E-mail address for questions about the notice.
    work : str
        The work's file name as filed (the video itself is not kept).
    sha256 : str
        SHA-256 of the work's file, for an exact copy.
    duration : float
        Seconds of video in the work.
    registered : datetime
        When the notice was filed (UTC).
    """

    id: str
    claimant: str
    choice: Choice
    terms: str | None
    contact: str | None
    work: str
    sha256: str
    duration: float
    registered: datetime

    def __post_init__(self) -> None:
        check_notice_id(self.id)
        if not str(self.claimant or "").strip():
            raise NoticeError("the claimant is empty; name the rights holder (--claimant)")
        try:
            object.__setattr__(self, "choice", Choice(self.choice))
        except ValueError:
            raise NoticeError(f"choice {self.choice!r} is not one of "
                              f"{', '.join(c.value for c in Choice)}") from None
        if self.choice is Choice.LICENSE and not self.terms:
            raise NoticeError("a license notice needs the licence terms: give their URL (--terms)")
        if self.terms is not None:
            try:
                check_url(self.terms, "terms URL")
            except DescriptionError as error:
                raise NoticeError(str(error)) from None
        if self.contact is not None and not _EMAIL.fullmatch(self.contact):
            raise NoticeError(f"contact {self.contact!r} is not an e-mail address; give e.g. rights@example.com")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {"id": self.id, "claimant": self.claimant, "choice": self.choice.value, "terms": self.terms,
                "contact": self.contact, "work": self.work, "sha256": self.sha256,
                "duration": round(self.duration, 3), "registered": self.registered.isoformat()}


class NoticeStore(Protocol):
    """Where notices are kept; :class:`SQLiteNoticeStore` is the embedded one."""

    location: str

    def add(self, notice: RightsNotice) -> None:
        """Store ``notice``; raise :class:`NoticeError` if its id is taken."""

    def get(self, notice_id: str) -> RightsNotice | None:
        """The notice with this id, or None."""

    def remove(self, notice_id: str) -> bool:
        """Forget a notice; False if it was not there."""

    def notices(self, *, limit: int | None = None) -> list[RightsNotice]:
        """Notices, newest first."""

    def close(self) -> None:
        """Release the storage."""


def schema() -> str:
    """The notices table's DDL (the same text for SQLite and PostgreSQL)."""
    return """
CREATE TABLE IF NOT EXISTS rights_notices (
    id         TEXT PRIMARY KEY,
    claimant   TEXT NOT NULL,
    choice     TEXT NOT NULL,
    terms      TEXT,
    contact    TEXT,
    work       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    duration   DOUBLE PRECISION NOT NULL,
    registered TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rights_notices_registered ON rights_notices (registered);
"""


_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM rights_notices"
#: The statements, with ``{p}`` for the parameter marker (``?`` in sqlite3, ``%s`` in psycopg).
QUERIES = {
    "add": f"INSERT INTO rights_notices ({', '.join(_COLUMNS)}) VALUES ({', '.join(['{p}'] * len(_COLUMNS))})",
    "get": _SELECT + " WHERE id = {p}",
    "remove": "DELETE FROM rights_notices WHERE id = {p}",
    "list": _SELECT + " ORDER BY registered DESC, id",
    "list_limit": _SELECT + " ORDER BY registered DESC, id LIMIT {p}",
}


def _notice(row: tuple) -> RightsNotice:
    data = dict(zip(_COLUMNS, row))
    data["registered"] = datetime.fromisoformat(data["registered"])
    return RightsNotice(**data)


#: The notices' schema versions, a component of the repository database (``manifests.database``).
MIGRATIONS = (script_migration(1, "rights holders' notices", lambda binary: schema()),)
_SQL = {name: text.replace("{p}", "?") for name, text in QUERIES.items()}  # Database takes '?' everywhere


class DatabaseNoticeStore(Component):
    """Notices in a repository database (an SQLite file or a PostgreSQL server), component ``notices``."""

    component = "notices"
    migrations = MIGRATIONS

    def add(self, notice: RightsNotice) -> None:
        values = [getattr(notice, name) for name in _COLUMNS]
        values[2], values[8] = notice.choice.value, notice.registered.isoformat()
        try:
            self.database.execute(_SQL["add"], values)
        except DuplicateError:
            raise NoticeError(f"notice {notice.id} is already registered in '{self.location}'") from None

    def get(self, notice_id: str) -> RightsNotice | None:
        rows = self.database.execute(_SQL["get"], (notice_id,))
        return _notice(rows[0]) if rows else None

    def remove(self, notice_id: str) -> bool:
        with self.database.transaction() as execute:
            found = bool(execute(_SQL["get"], (notice_id,)))
            execute(_SQL["remove"], (notice_id,))
        return found

    def notices(self, *, limit: int | None = None) -> list[RightsNotice]:
        rows = self.database.execute(_SQL["list_limit"], (limit,)) if limit else self.database.execute(_SQL["list"])
        return [_notice(row) for row in rows]


class SQLiteNoticeStore(DatabaseNoticeStore):
    """Notices in an SQLite file: by default the manifest repository's, so they live beside the manifests."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        check_file(self.path, "notice registry", NoticeError)
        super().__init__(SQLiteDatabase(self.path), owned=True)
