"""Verifying many files: one process per core, results in the order the files were given.

A platform or a dataset builder checks folders of videos. Each file is
verified in a worker process (decoding and detection are CPU-bound), and a
file that cannot be read becomes an error entry instead of stopping the run.
The workers end with the run whatever ends it: Ctrl-C or SIGTERM to the
command terminates them, and on Linux they also die with it if it is killed.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import manifests
import outputs
import watermark
from aimark.errors import AimarkError
from aimark.resolution import Resolvers
from aimark.verify import _registry as opened_registry  # the one check of a registry path
from aimark.verify import _repository as opened_repository  # the one check of a repository path
from aimark.verify import verify

#: File endings taken from a folder.
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts"})


@dataclass(frozen=True)
class BatchItem:
    """One file's outcome: the verification as plain data, or why it could not be verified."""

    path: str
    result: dict[str, Any] | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return self.result if self.result is not None else {"file": self.path, "error": self.error}


#: Order of exit statuses from worst to best: unreadable, tampered, stripped, unlabelled, intact.
SEVERITY = (2, 4, 3, 5, 0)


def worst_status(statuses: Iterable[int]) -> int:
    """The most severe of the files' exit statuses (see :data:`SEVERITY`); 0 for none."""
    return min(statuses, key=SEVERITY.index, default=0)


def _is_video(path: Path) -> bool:
    """A video file to take from a folder: a video ending, not hidden, not a partial output."""
    return (path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")
            and not outputs.is_temporary(path) and path.is_file())


def expand(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files to verify: the files given, and the videos inside the folders given (recursively, sorted).

    Hidden files and the temporaries of unfinished outputs are left out of folders.
    """
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if _is_video(p))
        else:
            files.append(item)
    return files


def _start_worker() -> None:
    """In each worker: Ctrl-C is the parent's to handle, and the worker dies with the parent (Linux)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _verify_one(job: tuple[Path, tuple[str, ...], str | None, str | None, Resolvers | None, str | None]
                ) -> BatchItem:
    path, key_paths, trust_anchors, repository, resolvers, notices = job
    try:
        keys = [watermark.Key.load(key) for key in key_paths]
        result = verify(path, keys=keys, trust_anchors=trust_anchors, repository=repository, resolvers=resolvers,
                        notices=notices)
    except (watermark.WatermarkError, manifests.ManifestError, AimarkError) as error:
        return BatchItem(str(path), None, str(error))
    return BatchItem(str(path), result.to_dict(), None)


def verify_many(paths: Iterable[Path], *, key_paths: Iterable[str] = (), trust_anchors: str | None = None,
                repository: str | os.PathLike[str] | None = None, workers: int | None = None,
                resolvers: Resolvers | None = None, notices: str | os.PathLike[str] | None = None
                ) -> Iterator[BatchItem]:
    """Verify files in parallel, yielding each outcome in input order.

    Parameters
    ----------
    paths : iterable of Path
        Files to verify (see :func:`expand` for folders).
    key_paths : iterable of str
        Watermark key files, loaded in each worker (the public key is always tried).
    trust_anchors, repository, resolvers, notices
        As for :func:`aimark.verify.verify`.
    workers : int, optional
        Worker processes; default: the number of cores (never more than the files).

    Examples
    --------
    >>> for item in verify_many(expand(["uploads/"]), key_paths=["provider.key"]):  # doctest: +SKIP
    ...     print(item.to_dict()["verdict"])
    """
    paths = list(paths)
    count = max(1, min(workers or os.cpu_count() or 1, len(paths)))
    keys, repo = tuple(key_paths), str(repository) if repository is not None else None
    registry = str(notices) if notices is not None else None
    with opened_repository(repo), opened_registry(registry):  # a wrong path fails once, before any worker starts
        pass
    pool = multiprocessing.Pool(count, initializer=_start_worker)
    try:
        yield from pool.imap(_verify_one, [(path, keys, trust_anchors, repo, resolvers, registry) for path in paths])
        pool.close()
    finally:  # also when the caller stops early, on Ctrl-C or SIGTERM: no worker outlives the run
        pool.terminate()
        pool.join()
