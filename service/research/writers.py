"""Streaming writers: NDJSON for FHIR, CSV and Parquet for the same rows as tables.

Rows arrive a page at a time and leave at once: NDJSON and CSV lines go straight to
the file, Parquet rows are buffered to one row group (``ROW_GROUP`` rows) and then
written. Memory is bounded by a page and a row group, whatever the export's size.
Digests are taken after the files are closed, by reading them back in blocks.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from service.research.dictionary import Column

ROW_GROUP = 10_000

MEDIA_TYPES = {
    ".ndjson": "application/fhir+ndjson",
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
}

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.float64(),
    "boolean": pa.bool_(),
    "datetime": pa.timestamp("s", tz="UTC"),
}


@dataclass(frozen=True)
class WrittenFile:
    name: str
    type: str  # a FHIR resource type, or the table's name
    format: str  # ndjson, csv, parquet, json
    count: int

    def describe(self, directory: Path) -> dict[str, Any]:
        path = directory / self.name
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "count": self.count,
            "bytes": path.stat().st_size,
            "sha256": sha256_of(path),
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return csv_time(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


@lru_cache(maxsize=4096)
def csv_time(value: datetime) -> str:
    """Cached: at the usual hour precision a patient's readings share few distinct times."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _csv_cell(column_type: str) -> Callable[[Any], Any]:
    """The CSV writer of one column's values, chosen once per column, not per cell."""
    if column_type == "datetime":
        return lambda v: "" if v is None else csv_time(v)
    if column_type == "boolean":
        return lambda v: "" if v is None else ("true" if v else "false")
    return lambda v: "" if v is None else v


class NdjsonWriter:
    def __init__(self, directory: Path, resource_type: str) -> None:
        self.file = WrittenFile(f"{resource_type}.ndjson", resource_type, "ndjson", 0)
        self._handle: IO[bytes] = (directory / self.file.name).open("wb")
        self._count = 0

    def write(self, resources: Iterable[dict[str, Any]]) -> None:
        for resource in resources:
            self._handle.write(orjson.dumps(resource))
            self._handle.write(b"\n")
            self._count += 1

    def close(self) -> WrittenFile:
        self._handle.close()
        return WrittenFile(self.file.name, self.file.type, "ndjson", self._count)


class TableWriter:
    """One table as CSV and as Parquet, column order and types from the dictionary."""

    def __init__(self, directory: Path, table: str, columns: tuple[Column, ...]) -> None:
        self.table = table
        self._names = [c.name for c in columns]
        self._cells = [(c.name, _csv_cell(c.type)) for c in columns]
        self._csv_handle = (directory / f"{table}.csv").open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._csv_handle, lineterminator="\n")
        self._csv.writerow(self._names)
        self._schema = pa.schema([(c.name, _ARROW_TYPES[c.type]) for c in columns])
        self._parquet = pq.ParquetWriter(directory / f"{table}.parquet", self._schema)
        self._buffer: list[dict[str, Any]] = []
        self._count = 0

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        cells, writerow = self._cells, self._csv.writerow
        for row in rows:
            writerow([cell(row.get(name)) for name, cell in cells])
            self._buffer.append(row)
            self._count += 1
            if len(self._buffer) >= ROW_GROUP:
                self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        columns = {name: [row.get(name) for row in self._buffer] for name in self._names}
        self._parquet.write_table(pa.table(columns, schema=self._schema))
        self._buffer = []

    def close(self) -> list[WrittenFile]:
        self._flush()
        self._parquet.close()
        self._csv_handle.close()
        return [
            WrittenFile(f"{self.table}.csv", self.table, "csv", self._count),
            WrittenFile(f"{self.table}.parquet", self.table, "parquet", self._count),
        ]


class Sink:
    """A FHIR resource type and its table, written together row by row."""

    def __init__(
        self, directory: Path, resource_types: tuple[str, ...], table: str, cols: tuple[Column, ...]
    ) -> None:
        self.ndjson = {t: NdjsonWriter(directory, t) for t in resource_types}
        self.table = TableWriter(directory, table, cols)

    def write(self, records: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        for resource, row in records:
            self.ndjson[resource["resourceType"]].write((resource,))
            self.table.write((row,))

    def close(self) -> list[WrittenFile]:
        return [w.close() for w in self.ndjson.values()] + self.table.close()


def write_csv(path: Path, header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
