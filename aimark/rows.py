"""Scan rows on disk: Parquet, JSON Lines or CSV, chosen by the file's extension, written as they come.

Every format holds the same fields (:data:`FIELDS`): Parquet with typed
columns (lists and the notice as nested types), JSON Lines as objects, CSV
with lists and the notice as JSON text in their cells. Writers take one row
at a time and keep at most :data:`ROW_GROUP` rows in memory (Parquet's row
groups); JSON Lines and CSV rows reach the file as they are written.

Parquet needs pyarrow (``pip install 'aimark[parquet]'``), imported only
when a Parquet file is read or written.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import IO, Any, Iterator, Protocol

from aimark.errors import AimarkError

#: The fields of a row, in order, with the Arrow type of each ('list' of text; 'notice' the struct).
FIELDS: dict[str, str] = {
    "path": "string", "sha256": "string", "size_bytes": "int64", "duration": "float64", "width": "int32",
    "height": "int32", "codec": "string", "manifest_state": "string", "ai_generated": "bool",
    "ai_evidence": "list", "identifier": "string", "provider": "string", "model": "string",
    "model_version": "string", "author": "string", "created": "string", "ai_training": "string",
    "ai_generative_training": "string", "terms": "string", "rights_holder": "string",
    "rights_statement": "string", "rights_terms": "string", "notice": "notice", "decision": "string",
    "reasons": "list", "error": "string", "seconds": "float64",
}
#: The fields of the ``notice`` struct.
NOTICE_FIELDS: dict[str, str] = {
    "id": "string", "claimant": "string", "choice": "string", "terms": "string", "contact": "string",
    "work": "string", "query_span": "spans", "work_span": "spans", "score": "float64",
    "false_match_probability": "float64",
}
#: Row file extensions and their formats.
FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
#: Rows per Parquet row group: what a writer holds in memory at most.
ROW_GROUP = 512


class RowsError(AimarkError, ValueError):
    """A row file that cannot be used: unknown extension, missing pyarrow, unreadable or malformed."""


def row_format(path: str | os.PathLike[str]) -> str:
    """``parquet``, ``jsonl`` or ``csv``, from the extension.

    Raises
    ------
    RowsError
        For any other extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise RowsError(f"'{path}' has no row format this knows; name it .parquet, .jsonl or .csv")
    return FORMATS[suffix]


def pyarrow_modules() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, or a one-line way out when they are not installed."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise RowsError("Parquet needs pyarrow: pip install 'aimark[parquet]' (or use .jsonl or .csv)") from None
    return pyarrow, pyarrow.parquet


def arrow_schema() -> Any:
    """The Parquet schema of a row."""
    pa, _ = pyarrow_modules()

    def arrow(kind: str) -> Any:
        if kind == "list":
            return pa.list_(pa.string())
        if kind == "spans":
            return pa.list_(pa.float64())
        if kind == "notice":
            return pa.struct([(name, arrow(k)) for name, k in NOTICE_FIELDS.items()])
        return pa.bool_() if kind == "bool" else getattr(pa, kind)()

    return pa.schema([(name, arrow(kind)) for name, kind in FIELDS.items()])


class RowWriter(Protocol):
    """Takes rows one at a time; :meth:`close` finishes the file (Parquet writes its footer then)."""

    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonLinesWriter:
    """One JSON object per line, flushed per row."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, row: dict[str, Any]) -> None:
        self._stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


class CsvWriter:
    """A header, then one line per row; lists and the notice as JSON text."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._writer = csv.DictWriter(stream, fieldnames=list(FIELDS))
        self._writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({name: _cell(row.get(name)) for name in FIELDS})
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


class ParquetWriter:
    """Row groups of :data:`ROW_GROUP` rows; the file is complete (readable) once closed."""

    def __init__(self, path: Path) -> None:
        pa, pq = pyarrow_modules()
        self._pa = pa
        self._schema = arrow_schema()
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")
        self._pending: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self._pending.append(row)
        if len(self._pending) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(self._pa.Table.from_pylist(self._pending, schema=self._schema))
            self._pending = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def open_writer(path: Path, format_name: str) -> RowWriter:
    """A writer of ``format_name`` rows into the file at ``path`` (a temporary the caller publishes)."""
    if format_name == "parquet":
        return ParquetWriter(path)
    stream = open(path, "w", encoding="utf-8", newline="")
    return CsvWriter(stream) if format_name == "csv" else JsonLinesWriter(stream)


def _uncell(name: str, value: str) -> Any:
    """A CSV cell back as the row's value (CSV has only text)."""
    if value == "":
        return None
    kind = FIELDS.get(name)
    if kind in ("list", "notice"):
        return json.loads(value)
    if kind == "bool":
        return value == "True"
    if kind in ("int64", "int32"):
        return int(value)
    return float(value) if kind == "float64" else value


def read_rows(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The rows of a scan's output file, one at a time (memory does not grow with the file).

    A JSON Lines file cut short by a crash loses only its last, incomplete line.

    Raises
    ------
    RowsError
        If the file cannot be read or is not a scan's output.
    """
    format_name = row_format(path)
    try:
        if format_name == "parquet":
            _, pq = pyarrow_modules()
            for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=ROW_GROUP):
                yield from batch.to_pylist()
            return
        with open(path, encoding="utf-8", newline="") as stream:
            if format_name == "csv":
                for line in csv.DictReader(stream):
                    yield {name: _uncell(name, value) for name, value in line.items()}
                return
            for number, line in enumerate(stream, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        if line.endswith("\n"):
                            raise RowsError(f"line {number} of '{path}' is not JSON; is it a scan's output?") from None
    except OSError as error:
        raise RowsError(f"cannot read '{path}' ({error.strerror})") from None
    except (ValueError, KeyError) as error:
        if isinstance(error, RowsError):
            raise
        raise RowsError(f"'{path}' cannot be read as scan rows ({error})") from None
