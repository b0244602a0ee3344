"""What a scan reads: video files, folders of them, and list files naming them.

A SOURCE is a video file, a folder (its videos, recursively, in name order;
hidden files and unfinished outputs left out, as ``aimark verify`` does), or
a list file: ``.txt`` (one path a line; blank lines and ``#`` comments
skipped), ``.csv``, ``.jsonl`` or ``.parquet`` with a ``path`` column.
Relative paths in a list are relative to the list's folder. Paths are given
one at a time, so a list of a million files is never held in memory.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from aimark.batch import expand
from aimark.rows import ROW_GROUP, RowsError, pyarrow_modules

#: List file extensions.
LIST_SUFFIXES = (".txt", ".csv", ".jsonl", ".parquet")


def is_list(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a list file (by extension) rather than a video or a folder."""
    return Path(path).suffix.lower() in LIST_SUFFIXES and not Path(path).is_dir()


def check_sources(sources: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse a missing list file or folder before any work (a missing video is that file's error row)."""
    for source in map(Path, sources):
        if is_list(source) and not source.is_file():
            raise RowsError(f"list file '{source}' does not exist")
        if source.suffix.lower() == ".parquet":
            pyarrow_modules()


def paths(sources: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Every video path the sources name, in order, one at a time."""
    for source in map(Path, sources):
        if source.is_dir():
            yield from (str(path) for path in expand([source]))
        elif is_list(source):
            yield from _listed(source)
        else:
            yield str(source)


def _resolved(listed: str, base: Path) -> str:
    path = Path(listed.strip()).expanduser()
    return str(path if path.is_absolute() else base / path)


def _listed(source: Path) -> Iterator[str]:
    base, suffix = source.parent, source.suffix.lower()
    try:
        if suffix == ".parquet":
            _, pq = pyarrow_modules()
            table = pq.ParquetFile(str(source))
            if "path" not in table.schema_arrow.names:
                raise RowsError(f"list file '{source}' has no 'path' column (columns: "
                                f"{', '.join(table.schema_arrow.names)})")
            for batch in table.iter_batches(batch_size=ROW_GROUP * 8, columns=["path"]):
                yield from (_resolved(p, base) for p in batch.column(0).to_pylist() if p)
            return
        with open(source, encoding="utf-8", newline="") as stream:
            if suffix == ".txt":
                yield from (_resolved(line, base) for line in stream if line.strip() and not line.lstrip().startswith("#"))
            elif suffix == ".csv":
                reader = csv.DictReader(stream)
                if "path" not in (reader.fieldnames or []):
                    raise RowsError(f"list file '{source}' has no 'path' column (header: "
                                    f"{', '.join(reader.fieldnames or []) or 'none'})")
                yield from (_resolved(row["path"], base) for row in reader if row["path"])
            else:
                for number, line in enumerate(stream, 1):
                    if not line.strip():
                        continue
                    entry = json.loads(line)
                    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                        raise RowsError(f"line {number} of list file '{source}' has no \"path\" text")
                    yield _resolved(entry["path"], base)
    except RowsError:
        raise
    except OSError as error:
        raise RowsError(f"cannot read list file '{source}' ({error.strerror})") from None
    except (ValueError, csv.Error) as error:  # undecodable text, bad JSON, not Parquet (pyarrow's ArrowInvalid)
        raise RowsError(f"list file '{source}' cannot be read as {suffix[1:]} ({' '.join(str(error).split())})"
                        ) from None
