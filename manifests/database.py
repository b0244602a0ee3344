"""Where a repository's tables live: an SQLite file or a PostgreSQL server, behind one small interface.

The embedded SQLite file needs no setup and suits one machine; PostgreSQL lets
several service processes and stamping workers share one store. Both are
reached through :class:`Database`: statements are constant SQL written with
``?`` placeholders (never text built from values), run in a transaction, and
a unique key taken by another writer is a :class:`DuplicateError` raised by
the database itself, not found by a check before the insert.

Schemas are versioned per component (:class:`Migration`, :func:`migrate`):
the manifest repository is one component; the service's tokens, and later
indexes, are others, each owning its tables and adding versions without
touching the rest.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from manifests.errors import RepositoryError

#: URL schemes that name a PostgreSQL server.
POSTGRES_SCHEMES = ("postgresql", "postgres")

#: One statement run inside a transaction: SQL with ``?`` placeholders, and its values.
Execute = Callable[[str, Sequence[Any]], list[tuple]]


class DuplicateError(RepositoryError):
    """A row with the same unique key is stored already (enforced by the database)."""


def is_postgres_url(location: str | Path) -> bool:
    """Whether ``location`` names a PostgreSQL server (``postgresql://...``) rather than a file."""
    return isinstance(location, str) and urlsplit(location).scheme in POSTGRES_SCHEMES


def redacted(url: str) -> str:
    """``url`` without its password, for messages and reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class Database:
    """A connection (SQLite) or a pool of them (PostgreSQL), shared by the threads of one process."""

    #: ``"sqlite"`` or ``"postgresql"``: which statements of a :class:`Migration` apply.
    dialect: str
    #: Where the data lives, for messages (a path, or a URL without its password).
    location: str

    @contextmanager
    def transaction(self) -> Iterator[Execute]:
        """Run statements in one transaction: committed on exit, rolled back on an exception."""
        raise NotImplementedError

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        """One statement in its own transaction; the rows it returns."""
        with self.transaction() as execute:
            return execute(sql, parameters)

    def close(self) -> None:
        """Release the connections."""
        raise NotImplementedError


#: Seconds an SQLite connection waits for another writer before it gives up.
_SQLITE_TIMEOUT = 30.0


def _write_ahead(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting for other connections as writes do.

    SQLite answers the journal-mode change with 'database is locked' at once,
    without its busy timeout, while another connection holds the file: eight
    threads opening a new repository together failed in one round of six.
    """
    deadline = time.monotonic() + _SQLITE_TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


class SQLiteDatabase(Database):
    """One SQLite file in WAL mode, so several processes can share it (each write waits its turn)."""

    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if self.path.is_dir():
            raise RepositoryError(f"repository '{self.path}' is a folder; give a file such as "
                                  f"'{self.path / 'repository.sqlite'}'")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=_SQLITE_TIMEOUT, isolation_level=None,
                                       check_same_thread=False)
            _write_ahead(self._db)
        except (OSError, sqlite3.Error) as error:
            raise RepositoryError(f"cannot open the manifest repository '{self.path}' ({error}); "
                                  "check the path, or give another with --repository") from None
        self._lock = threading.Lock()  # one connection: the server's threads take turns

    @contextmanager
    def transaction(self) -> Iterator[Execute]:
        def execute(sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
            try:
                return self._db.execute(sql, tuple(parameters)).fetchall()
            except sqlite3.IntegrityError as error:
                raise DuplicateError(f"{error}") from None
            except sqlite3.Error as error:
                raise RepositoryError(f"the manifest repository '{self.path}' failed ({error})") from None

        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise RepositoryError(f"cannot use the manifest repository '{self.path}' ({error})") from None
            try:
                yield execute
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise RepositoryError(f"cannot write to the manifest repository '{self.path}' ({error})") from None

    def close(self) -> None:
        self._db.close()


class PostgresDatabase(Database):
    """A PostgreSQL server reached through a pool of connections (psycopg 3).

    Parameters
    ----------
    url : str
        ``postgresql://user@host:port/dbname`` (any libpq connection URL; a
        password is better kept in ``PGPASSWORD`` or ``~/.pgpass`` than in the URL).
    pool_size : int
        Connections kept open at most; each service thread holds one per statement.
    timeout : float
        Seconds to wait for the server, and for a free connection.
    """

    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 8, timeout: float = 10.0) -> None:
        import psycopg  # imported here: an SQLite-only user never loads libpq
        import psycopg_pool

        self._errors = psycopg.errors
        self._psycopg = psycopg
        self.location = redacted(url)
        try:  # one direct connection first, for libpq's own words when the server cannot be reached
            psycopg.connect(url, connect_timeout=max(1, round(timeout))).close()
        except psycopg.Error as error:
            raise RepositoryError(f"cannot connect to the PostgreSQL repository {self.location} "
                                  f"({' '.join(str(error).split())}); check the URL and that the server runs") from None
        self._pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=max(1, pool_size), timeout=timeout,
                                                 kwargs={"autocommit": True}, open=False)
        self._pool.open(wait=True, timeout=timeout)

    def _run(self, connection: Any, sql: str, parameters: Sequence[Any]) -> list[tuple]:
        try:
            cursor = connection.execute(sql.replace("?", "%s"), tuple(parameters))
        except self._errors.UniqueViolation as error:
            raise DuplicateError(f"{error.diag.message_detail or error}") from None
        return cursor.fetchall() if cursor.description is not None else []

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as connection:
                yield connection
        except self._psycopg.Error as error:
            raise RepositoryError(f"the PostgreSQL repository {self.location} failed "
                                  f"({' '.join(str(error).split())})") from None

    @contextmanager
    def transaction(self) -> Iterator[Execute]:
        with self._connection() as connection, connection.transaction():
            yield lambda sql, parameters=(): self._run(connection, sql, parameters)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        """One statement on a pooled connection in autocommit: one round trip, no BEGIN and COMMIT."""
        with self._connection() as connection:
            return self._run(connection, sql, parameters)

    def close(self) -> None:
        self._pool.close()


def open_database(location: str | Path) -> Database:
    """The database at ``location``: a ``postgresql://`` URL, or the path of an SQLite file."""
    return PostgresDatabase(str(location)) if is_postgres_url(location) else SQLiteDatabase(location)


@dataclass(frozen=True)
class Migration:
    """One version of a component's schema: the statements that bring the previous version to it.

    Attributes
    ----------
    version : int
        1, 2, 3...: applied in order, each once.
    summary : str
        What the version adds, recorded in the schema table.
    sqlite, postgresql : tuple of str
        The statements for each database (types differ: ``BLOB`` and ``BYTEA``).
    """

    version: int
    summary: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


_SCHEMA_TABLE = ("CREATE TABLE IF NOT EXISTS aimark_schema (component TEXT NOT NULL, version INTEGER NOT NULL, "
                 "summary TEXT NOT NULL, applied TEXT NOT NULL, PRIMARY KEY (component, version))")
_COMPONENT = re.compile(r"[a-z][a-z0-9_]{0,62}")


def migrate(database: Database, component: str, migrations: Sequence[Migration]) -> int:
    """Bring ``component``'s tables to the newest of ``migrations``; return the version now in place.

    Safe when several processes start at once: on PostgreSQL the migration
    holds an advisory lock, on SQLite an immediate (write) transaction.

    Raises
    ------
    RepositoryError
        If the database holds a newer version than ``migrations`` know (an
        older aimark opening a newer repository).
    """
    if not _COMPONENT.fullmatch(component):
        raise ValueError(f"component name {component!r} must be lower-case letters, digits and '_'")
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise ValueError(f"migrations of {component!r} must be numbered 1, 2, 3... in order, not {versions}")
    with database.transaction() as execute:
        if database.dialect == "postgresql":
            execute("SELECT pg_advisory_xact_lock(hashtext('aimark_schema'))", ())
        execute(_SCHEMA_TABLE, ())
        rows = execute("SELECT MAX(version) FROM aimark_schema WHERE component = ?", (component,))
        current = rows[0][0] or 0
        if current > len(migrations):
            raise RepositoryError(f"the {component} tables in {database.location} are at schema version {current}, "
                                  f"newer than this aimark knows ({len(migrations)}); upgrade aimark")
        for migration in migrations[current:]:
            for statement in getattr(migration, database.dialect):
                execute(statement, ())
            execute("INSERT INTO aimark_schema (component, version, summary, applied) VALUES (?, ?, ?, ?)",
                    (component, migration.version, migration.summary, datetime.now(timezone.utc).isoformat()))
    return len(migrations)


def schema_versions(database: Database) -> dict[str, int]:
    """The schema version of every component in ``database``."""
    rows = database.execute("SELECT component, MAX(version) FROM aimark_schema GROUP BY component")
    return {component: version for component, version in rows}


def script_migration(version: int, summary: str, script: Callable[[str], str]) -> Migration:
    """A :class:`Migration` from one DDL script written for either database: ``script(binary)`` gives its
    text with the byte-string type (``BLOB`` in SQLite, ``BYTEA`` in PostgreSQL), statements ending in ';'."""
    def statements(binary: str) -> tuple[str, ...]:
        return tuple(s.strip() for s in script(binary).split(";") if s.strip())

    return Migration(version, summary, sqlite=statements("BLOB"), postgresql=statements("BYTEA"))


class Component:
    """A store whose tables are one migrated component of a repository database.

    Subclasses name their ``component`` and ``migrations``; opening brings the
    tables to the newest version, beside the other components' tables.

    Parameters
    ----------
    database : Database
    owned : bool
        Close the database with the store.
    """

    component: str
    migrations: Sequence[Migration]

    def __init__(self, database: Database, *, owned: bool = False) -> None:
        self.database = database
        self.location = database.location
        self._owned = owned
        migrate(database, self.component, self.migrations)

    def close(self) -> None:
        if self._owned:
            self.database.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
