"""One way to write an output file: never partial, never over the input, never clobbering.

An :class:`Output` checks its destination before any work (not a folder, in an
existing writable folder, not one of the inputs by file identity, not an
existing file unless replacing it was asked for), then hands out a temporary
file beside the destination. :meth:`Output.publish` flushes it to disk and
renames it into place; leaving the ``with`` block any other way (an error,
Ctrl-C, SIGTERM) removes it. Beside the destination, so that the rename stays
on one file system and is atomic.

Temporaries are hidden and end in ``.partial``, so no tool takes them for
videos; one left by a killed process (``kill -9``) is removed by the next
write to the same destination once its process is gone.
"""

from __future__ import annotations

import atexit
import errno
import glob
import os
import re
import secrets
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable

from outputs.errors import (OutputError, OutputExistsError, SameFileError, folder_missing, is_folder,
                            not_writable, write_failed)
from outputs.signals import terminate_gracefully

#: A leftover temporary older than this whose process is gone is removed.
STALE_SECONDS = 600
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.partial(\.[A-Za-z0-9]{1,5})?")
_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK)
_live: set[Path] = set()  # temporaries of this process, removed at exit whatever happens


@atexit.register
def _remove_live() -> None:
    for path in list(_live):
        path.unlink(missing_ok=True)


def is_temporary(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an :class:`Output`'s temporary file (finished or left over)."""
    return _TEMPORARY.fullmatch(Path(path).name) is not None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _sweep(destination: Path) -> None:
    """Remove temporaries for ``destination`` left by processes that no longer run."""
    pattern = f".{glob.escape(destination.name)}.*.partial*"
    for path in destination.parent.glob(pattern):
        match = _TEMPORARY.fullmatch(path.name)
        try:
            stale = time.time() - path.stat().st_mtime > STALE_SECONDS
        except OSError:
            continue
        if match and match["name"] == destination.name and stale and not _alive(int(match["pid"])):
            path.unlink(missing_ok=True)


class Output:
    """A file to write: checked now, written to a temporary, published by rename.

    Parameters
    ----------
    destination : path-like
        Where the file appears once complete.
    overwrite : bool
        Replace an existing file (``--force``); the inputs are never replaced.
    inputs : iterable of path-like
        Files the output is made from; refused as the destination by file
        identity (hard links and symbolic links included), not by name.
    mode : int
        Permission bits of the new file (before the umask); 0o600 for secrets.
    replaceable : bool
        False for files never to be replaced (keys): ``overwrite`` must be False too.

    Raises
    ------
    OutputError
        ``SameFileError``, ``OutputExistsError`` or ``OutputPathError``, before any work.

    Examples
    --------
    >>> with Output("report.html") as out:  # doctest: +SKIP
    ...     out.write_text(page)            # published when the block ends without error
    """

    def __init__(self, destination: str | os.PathLike[str], *, overwrite: bool = False,
                 inputs: Iterable[str | os.PathLike[str]] = (), mode: int = 0o666,
                 replaceable: bool = True) -> None:
        self.destination = Path(destination)
        self.overwrite = overwrite and replaceable
        self.replaceable = replaceable
        self.mode = mode
        self._inputs = [(Path(path), _identity(Path(path))) for path in inputs]
        self._temporaries: list[Path] = []
        self._exit = ExitStack()
        self.published = False
        self.temporary: Path | None = None
        self.check()

    def check(self) -> None:
        """Refuse a destination that is an input, a folder, in no folder, or exists (unless overwriting)."""
        target = _identity(self.destination)
        for path, identity in self._inputs:
            if target is not None and target == identity:
                raise SameFileError(self.destination, path)
        if self.destination.is_dir():
            raise is_folder(self.destination)
        if not self.destination.parent.is_dir():
            raise folder_missing(self.destination)
        if target is not None and not self.overwrite:
            raise OutputExistsError(self.destination, self.replaceable)

    def __enter__(self) -> Output:
        self._exit.enter_context(terminate_gracefully())
        try:
            _sweep(self.destination)
            self.temporary = self.scratch()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        try:
            if exc_type is None and not self.published:
                self.publish()
        finally:
            self.discard()
            self._exit.close()

    def scratch(self, suffix: str = "") -> Path:
        """Another temporary file beside the destination, removed on exit.

        For a stage of the work (e.g. the encoded video before signing);
        ``suffix`` (e.g. ``".mp4"``) is for tools that choose the format by name.
        """
        name = self.destination.name[:200]
        path = self.destination.with_name(f".{name}.{os.getpid()}-{secrets.token_hex(4)}.partial{suffix}")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self.mode))
        except OSError as error:
            raise write_failed(self.destination, error) from None
        self._temporaries.append(path)
        _live.add(path)
        return path

    def write_bytes(self, data: bytes) -> None:
        """Write ``data`` into the temporary file."""
        try:
            self.temporary.write_bytes(data)
        except OSError as error:
            raise write_failed(self.destination, error) from None

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        """Write ``text`` into the temporary file."""
        self.write_bytes(text.encode(encoding))

    def publish(self) -> Path:
        """Flush the temporary to disk and rename it to the destination, atomically.

        Without ``overwrite``, a file that appeared at the destination in the
        meantime is not replaced (the rename is a hard link, which fails if the
        name is taken).
        """
        if self.temporary is None:
            raise RuntimeError("Output.publish() outside its with block")
        try:
            _fsync(self.temporary)
            self.check()
            if self.overwrite:
                os.replace(self.temporary, self.destination)
            else:
                _link(self.temporary, self.destination)
            _fsync(self.destination.parent)
        except OutputError:
            raise
        except FileExistsError:
            raise OutputExistsError(self.destination, self.replaceable) from None
        except OSError as error:
            raise write_failed(self.destination, error) from None
        self.published = True
        return self.destination

    def discard(self) -> None:
        """Remove every temporary not published (also what leaving the block does)."""
        for path in self._temporaries:
            path.unlink(missing_ok=True)
            _live.discard(path)
        self._temporaries.clear()


def _link(temporary: Path, destination: Path) -> None:
    """Move without replacing: link then unlink; a plain rename where hard links are not supported."""
    try:
        os.link(temporary, destination)
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        if destination.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(destination)) from None
        os.rename(temporary, destination)
        return
    temporary.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(destination: str | os.PathLike[str], data: bytes, *, overwrite: bool = False,
                mode: int = 0o666, replaceable: bool = True) -> Path:
    """Write a whole file through an :class:`Output`; returns the destination."""
    with Output(destination, overwrite=overwrite, mode=mode, replaceable=replaceable) as out:
        out.write_bytes(data)
    return out.destination
