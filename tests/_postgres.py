"""A throwaway PostgreSQL server for the tests and the load benchmark: a cluster in a temporary
folder, reached through a unix socket there, with fsync off, stopped and deleted afterwards.

The binaries are the machine's (``/usr/lib/postgresql/*/bin``, installed by ``.ci/run`` when
absent). initdb refuses to run as root, so as root the cluster belongs to ``nobody``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest


def server_binaries() -> Path | None:
    """The newest PostgreSQL server's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class ThrowawayServer:
    """``with ThrowawayServer() as server: server.create_database()`` gives a fresh database URL."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="aimark-pg-"))
        self.data = self.folder / "data"
        self._account = pwd.getpwnam("nobody") if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        account = self._account

        def drop() -> None:
            if account is not None:
                os.setgid(account.pw_gid)
                os.setuid(account.pw_uid)

        environment = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "HOME": str(self.folder)}
        result = subprocess.run([str(self.binaries / args[0]), *args[1:]], preexec_fn=drop, env=environment,
                                capture_output=True, text=True, timeout=120)
        if result.returncode:
            log = self.folder / "server.log"
            raise RuntimeError(f"{args[0]} failed: {result.stderr or result.stdout}"
                               + (log.read_text(errors="replace")[-2000:] if log.exists() else ""))

    def __enter__(self) -> ThrowawayServer:
        if self._account is not None:
            os.chown(self.folder, self._account.pw_uid, self._account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "aimark", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = (f"-k {self.folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://aimark@/{database}?host={self.folder}"

    def create_database(self) -> str:
        """A new empty database on the server; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")  # a name made here, never a value from outside
        return self.url(name)

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayServer]:
    """A PostgreSQL server for the whole session (CI installs one: without it, CI fails, a developer skips)."""
    binaries = server_binaries()
    if binaries is None:
        message = "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with ThrowawayServer(binaries) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: ThrowawayServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database()
