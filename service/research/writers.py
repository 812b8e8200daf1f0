"""Streaming writers: NDJSON for FHIR, CSV and Parquet for the same rows as tables.

Rows arrive a page at a time: NDJSON lines go straight to the file, table rows are
buffered to one row group (``ROW_GROUP`` rows) and then written to CSV and Parquet.
Memory is bounded by a page and a row group, whatever the export's size. Digests are
taken after the files are closed, by reading them back in blocks.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
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


class NdjsonWriter:
    def __init__(self, directory: Path, resource_type: str) -> None:
        self.file = WrittenFile(f"{resource_type}.ndjson", resource_type, "ndjson", 0)
        self._handle: IO[bytes] = (directory / self.file.name).open("wb")
        self._count = 0

    def add(self, resource: dict[str, Any]) -> None:
        self._handle.write(orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE))
        self._count += 1

    def close(self) -> WrittenFile:
        self._handle.close()
        return WrittenFile(self.file.name, self.file.type, "ndjson", self._count)


class TableWriter:
    """One table as CSV and as Parquet, column order and types from the dictionary.

    Rows are buffered to a row group and then written by Arrow to both files (C++,
    not a Python call per cell). In the CSV, strings are quoted, times are written
    as ``2026-03-01T07:00:00Z``, booleans as ``true``/``false`` and nulls as nothing.
    """

    def __init__(self, directory: Path, table: str, columns: tuple[Column, ...]) -> None:
        self.table = table
        self._names = [c.name for c in columns]
        self._times = [c.name for c in columns if c.type == "datetime"]
        self._schema = pa.schema([(c.name, _ARROW_TYPES[c.type]) for c in columns])
        csv_schema = pa.schema(
            [(f.name, pa.string() if f.name in self._times else f.type) for f in self._schema]
        )
        self._parquet = pq.ParquetWriter(directory / f"{table}.parquet", self._schema)
        self._csv = pa_csv.CSVWriter(
            directory / f"{table}.csv",
            csv_schema,
            write_options=pa_csv.WriteOptions(quoting_style="needed"),
        )
        self._buffer: list[dict[str, Any]] = []
        self._count = 0

    def add(self, row: dict[str, Any]) -> None:
        """A row with every column of the table (``None`` where empty)."""
        self._buffer.append(row)
        if len(self._buffer) >= ROW_GROUP:
            self._flush()

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def _flush(self) -> None:
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        self._count += len(rows)
        table = pa.table(
            {name: [row[name] for row in rows] for name in self._names}, schema=self._schema
        )
        self._parquet.write_table(table)
        for name in self._times:
            index = table.schema.get_field_index(name)
            text = pc.strftime(table[name], format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(index, name, text)
        self._csv.write_table(table)

    def close(self) -> list[WrittenFile]:
        self._flush()
        self._parquet.close()
        self._csv.close()
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
        ndjson, table = self.ndjson, self.table
        for resource, row in records:
            ndjson[resource["resourceType"]].add(resource)
            table.add(row)

    def close(self) -> list[WrittenFile]:
        return [w.close() for w in self.ndjson.values()] + self.table.close()


def write_csv(path: Path, header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
