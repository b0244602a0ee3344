"""Bearer tokens for the resolution service: ``store`` to register manifests, ``fetch`` to read them.

A token is shown once, when it is made; the database keeps only its SHA-256
digest (a token is 256 random bits, so a fast digest is as good as a slow
one, and a stolen table gives nothing to replay). Tokens live in the
repository's own database, so every service process sharing a PostgreSQL
server accepts the same ones.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from aimark.errors import AimarkError
from manifests.database import Database, DuplicateError, Migration, migrate

#: Scopes a token can carry: ``store`` for stamping workers (the SBR API's ``store:manifests`` and
#: ``store:bindings``; it may read too), ``fetch`` for readers when anonymous reads are off (``fetch:manifests``).
SCOPES = ("store", "fetch")
#: What a token looks like: a fixed prefix (so secret scanners and people recognise it), then 43 base64url characters.
PREFIX = "aimark_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

MIGRATIONS = (
    Migration(1, "bearer tokens, stored as SHA-256 digests",
              sqlite=("CREATE TABLE IF NOT EXISTS service_tokens (name TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE, "
                      "scopes TEXT NOT NULL, created TEXT NOT NULL)",),
              postgresql=("CREATE TABLE IF NOT EXISTS service_tokens (name TEXT PRIMARY KEY, "
                          "digest TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, created TEXT NOT NULL)",)),
)


class TokenError(AimarkError, ValueError):
    """A token name or scope that cannot be used, or a name already taken."""


@dataclass(frozen=True)
class TokenInfo:
    """A token as the service knows it: never the token itself."""

    name: str
    scopes: tuple[str, ...]
    created: datetime

    def to_dict(self) -> dict:
        return {"name": self.name, "scopes": list(self.scopes), "created": self.created.isoformat()}


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """The tokens of one service database (its ``service`` tables are created on first use)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        migrate(database, "service", MIGRATIONS)

    def create(self, name: str, scopes: Iterable[str]) -> str:
        """Make a token named ``name`` with ``scopes``; return it (the only time it is seen).

        Raises
        ------
        TokenError
            A bad name, an unknown or missing scope, or a name already in use.
        """
        if not _NAME.fullmatch(name or ""):
            raise TokenError(f"token name {name!r} must be 1-64 letters, digits, '.', '_' or '-', e.g. worker-1")
        chosen = tuple(dict.fromkeys(scopes))
        unknown = [scope for scope in chosen if scope not in SCOPES]
        if unknown or not chosen:
            raise TokenError(f"scope {', '.join(unknown) or '(none)'} is not one of {', '.join(SCOPES)}; "
                             "give --scope store for a stamping worker, --scope fetch for a reader")
        token = PREFIX + secrets.token_urlsafe(32)
        try:
            self.database.execute("INSERT INTO service_tokens (name, digest, scopes, created) VALUES (?, ?, ?, ?)",
                                  (name, digest(token), " ".join(chosen), datetime.now(timezone.utc).isoformat()))
        except DuplicateError:
            raise TokenError(f"a token named {name!r} exists already; revoke it first or choose another name") from None
        return token

    def scopes(self, token: str) -> tuple[str, ...] | None:
        """The scopes of ``token``, or None when it is not a token of this service."""
        if not token.startswith(PREFIX):
            return None
        rows = self.database.execute("SELECT scopes FROM service_tokens WHERE digest = ?", (digest(token),))
        return tuple(rows[0][0].split()) if rows else None

    def tokens(self) -> list[TokenInfo]:
        """Every token, by name."""
        rows = self.database.execute("SELECT name, scopes, created FROM service_tokens ORDER BY name")
        return [TokenInfo(name, tuple(scopes.split()), datetime.fromisoformat(created))
                for name, scopes, created in rows]

    def revoke(self, name: str) -> None:
        """Delete the token named ``name``; its holder is refused from the next request on."""
        if not self.database.execute("DELETE FROM service_tokens WHERE name = ? RETURNING name", (name,)):
            raise TokenError(f"no token named {name!r}; see `aimark tokens list`")
