"""Verifying many files: one process per core, results in the order the files were given.

A platform or a dataset builder checks folders of videos. Each file is
verified in a worker process (decoding and detection are CPU-bound), and a
file that cannot be read becomes an error entry instead of stopping the run.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import manifests
import watermark
from aimark.errors import AimarkError
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


def expand(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files to verify: the files given, and the videos inside the folders given (recursively, sorted)."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        else:
            files.append(item)
    return files


def _verify_one(path: Path, key_paths: tuple[str, ...], trust_anchors: str | None,
                repository: str | None) -> BatchItem:
    try:
        keys = [watermark.Key.load(key) for key in key_paths]
        result = verify(path, keys=keys, trust_anchors=trust_anchors, repository=repository)
    except (watermark.WatermarkError, manifests.ManifestError, AimarkError) as error:
        return BatchItem(str(path), None, str(error))
    return BatchItem(str(path), result.to_dict(), None)


def verify_many(paths: Iterable[Path], *, key_paths: Iterable[str] = (), trust_anchors: str | None = None,
                repository: str | os.PathLike[str] | None = None, workers: int | None = None) -> Iterator[BatchItem]:
    """Verify files in parallel, yielding each outcome in input order.

    Parameters
    ----------
    paths : iterable of Path
        Files to verify (see :func:`expand` for folders).
    key_paths : iterable of str
        Watermark key files, loaded in each worker (the public key is always tried).
    trust_anchors, repository
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
    with ProcessPoolExecutor(max_workers=count) as pool:
        yield from pool.map(_verify_one, paths, [keys] * len(paths), [trust_anchors] * len(paths),
                            [repo] * len(paths))
