"""The export checks its own output before anyone may download it.

1. k-anonymity again, from the written ``patients.csv`` alone: the class sizes over
   the released quasi-identifier columns must all be at least k. This checks the
   writer, not the plan: a bug that wrote a value the plan did not release shows here.
2. Every written file (CSV and NDJSON as text, Parquet value by value) is scanned for
   - identity numbers: an 11-digit run standing alone (not inside a longer run of
     letters and digits, as hex pseudonyms are) with valid check digits;
   - names of the study's patients: a word equal to a given or family name of one of
     them, or a given name followed by the family name. Words of the export's own
     vocabulary (column names, codes, the dictionary's text) cannot be told apart from
     a name such as "Per" or "May", and are not counted as name hits;
   - device serials of those patients: a token equal to one (serials shorter than
     five characters are too short to tell apart from values and are left out).
   Output values are codes, numbers, pseudonyms and times, so a hit means a leak; the
   export then fails, its files are deleted, and the error says which check in words
   without the value found.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from service.patients.identity_number import is_valid

_ALNUM_RUN = re.compile(r"[^\W_]+")
_SERIAL_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]*[A-Za-z0-9]")
MIN_SERIAL_LENGTH = 5


class CheckFailed(Exception):
    """A post-write check found something; the message carries no personal data."""


@dataclass(frozen=True)
class Needles:
    """What must not appear: lower-cased name words and full names, and serials."""

    name_words: frozenset[str]
    full_names: frozenset[tuple[str, str]]
    serials: frozenset[str]
    vocabulary: frozenset[str]

    @classmethod
    def build(
        cls,
        names: Iterable[tuple[str, str]],
        serials: Iterable[str],
        vocabulary: Iterable[str],
    ) -> Needles:
        words: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for given, family in names:
            given_words = words_of(given)
            family_words = words_of(family)
            words.update(w for w in (*given_words, *family_words) if len(w) >= 2)
            if given_words and family_words:
                pairs.add((given_words[-1], family_words[0]))
        return cls(
            frozenset(words),
            frozenset(pairs),
            frozenset(s.strip().lower() for s in serials if len(s.strip()) >= MIN_SERIAL_LENGTH),
            frozenset(w for text in vocabulary for w in words_of(text)),
        )


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _ALNUM_RUN.findall(text) if not any(c.isdigit() for c in w)]


def scan_text(text: str, needles: Needles) -> str | None:
    """The kind of the first hit in ``text``, or None."""
    previous = ""
    for token in _ALNUM_RUN.findall(text):
        if token.isdigit():
            if len(token) == 11 and token.isascii() and is_valid(token):
                return "an identity number"
            previous = ""
            continue
        if any(c.isdigit() for c in token):
            previous = ""
            continue
        word = token.lower()
        if word in needles.name_words and word not in needles.vocabulary:
            return "a patient's name"
        if (previous, word) in needles.full_names:
            return "a patient's name"
        previous = word
    if needles.serials:
        for token in _SERIAL_TOKEN.findall(text):
            if token.lower() in needles.serials:
                return "a device serial"
    return None


def _text_blocks(path: Path) -> Iterator[str]:
    with path.open("r", encoding="utf-8") as handle:
        while lines := handle.readlines(1 << 20):
            yield "".join(lines)


def _parquet_blocks(path: Path) -> Iterator[str]:
    parquet = pq.ParquetFile(path)
    yield "\n".join(parquet.schema_arrow.names)
    for batch in parquet.iter_batches(batch_size=10_000):
        for column in batch.columns:
            yield "\n".join("" if v is None else str(v) for v in column.to_pylist())


def scan_file(path: Path, needles: Needles) -> str | None:
    blocks = _parquet_blocks(path) if path.suffix == ".parquet" else _text_blocks(path)
    for block in blocks:
        if (hit := scan_text(block, needles)) is not None:
            return hit
    return None


def class_sizes(patients_csv: Path, quasi_identifiers: tuple[str, ...]) -> Counter[tuple[str, ...]]:
    with patients_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return Counter(tuple(row[name] for name in quasi_identifiers) for row in reader)


def verify(
    directory: Path,
    names: Iterable[str],
    needles: Needles,
    quasi_identifiers: tuple[str, ...],
    k: int,
) -> int | None:
    """Raise ``CheckFailed`` on any hit; answers the smallest class found in the file."""
    sizes = class_sizes(directory / "patients.csv", quasi_identifiers)
    smallest = min(sizes.values(), default=None)
    if smallest is not None and smallest < k:
        raise CheckFailed(
            f"the written patient table has a class of {smallest} patients, fewer than k={k}"
        )
    for name in names:
        if (hit := scan_file(directory / name, needles)) is not None:
            raise CheckFailed(f"{hit} was found in {name}")
    return smallest
