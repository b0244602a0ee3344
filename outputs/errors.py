"""Errors of writing an output file: one type per cause, each with one message.

Each also derives from the builtin a caller would expect (as PyAV's errors
do), so ``except FileExistsError`` or ``except OSError`` keeps working.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class OutputError(Exception):
    """An output file cannot be written where asked; nothing was written."""


class OutputExistsError(OutputError, FileExistsError):
    """The output exists and replacing it was not asked for."""

    def __init__(self, destination: Path, replaceable: bool = True) -> None:
        super().__init__(f"'{destination}' already exists; give another name"
                         + (", or replace it with --force (overwrite=True in Python)" if replaceable else
                            " (this kind of file is never replaced)"))


class SameFileError(OutputError, ValueError):
    """The output is one of the inputs (same file, whatever the path says)."""

    def __init__(self, destination: Path, source: Path) -> None:
        super().__init__(f"output '{destination}' is the input '{source}' (the same file); "
                         "write to a new file so the input stays as it is")


class OutputPathError(OutputError, ValueError):
    """The output path cannot name a new file: a folder, a missing folder, an unwritable one."""


class WriteError(OutputError, OSError):
    """Writing failed part-way (disk full, I/O error); the partial file was removed."""


def folder_missing(destination: Path) -> OutputPathError:
    return OutputPathError(f"output folder '{destination.parent}' does not exist; create it first")


def is_folder(destination: Path) -> OutputPathError:
    return OutputPathError(f"output '{destination}' is a folder; give a file name")


def not_writable(destination: Path, error: OSError) -> OutputPathError:
    return OutputPathError(f"cannot write into '{destination.parent}' ({error.strerror}); "
                           "choose a writable folder")


def write_failed(destination: Path, error: OSError) -> OutputError:
    """The one message for a failed write, naming the cause (disk full is the common one)."""
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return not_writable(destination, error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        failure = WriteError(f"no space left to write '{destination}' ({os.strerror(error.errno)}); "
                             "free some space or write elsewhere")
    else:
        failure = WriteError(f"writing '{destination}' failed ({error.strerror or error}); nothing was written")
    failure.errno = error.errno
    return failure


#: errno values that mean the output could not be written, whoever was writing it.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EACCES, errno.EPERM,
                          errno.EROFS})


def as_write_error(destination: Path, error: BaseException) -> OutputError | None:
    """The output's error when ``error`` (e.g. a library's OSError subclass) is a failed write, else None."""
    if isinstance(error, OSError) and error.errno in WRITE_ERRNOS:
        return write_failed(destination, error)
    return None
