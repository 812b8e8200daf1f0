"""The export checks its own output before anyone may download it.

1. k-anonymity again, from the written ``patients.csv`` alone: the class sizes over
   every column it has (but the pseudonym, and the attributes the study's reviewer
   declared non-identifying) must all be at least k. This checks the writer, not the
   plan: a column or a value the plan did not count shows here.
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
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from service.patients.identity_number import is_valid

_ALNUM_RUN = re.compile(r"[^\W_]+")
MIN_SERIAL_LENGTH = 5
BLOCK_BYTES = 1 << 22

# The scan works on bytes, a block at a time, with C-speed steps only: every byte that
# cannot be part of a word becomes a space (``bytes.translate``), the block is split,
# and the set of its distinct words is intersected with the needles. Bytes of 0x80 and
# above (UTF-8 letters such as ø and å) count as word bytes. Serials may also hold
# '-', '_' and '.', so they are matched against a second split that keeps those.
_WORD_BYTES = bytes(
    c if (chr(c).isascii() and chr(c).isalnum()) or c >= 0x80 else 32 for c in range(256)
)
_SERIAL_BYTES = bytes(
    c if (chr(c).isascii() and (chr(c).isalnum() or chr(c) in "-_.")) or c >= 0x80 else 32
    for c in range(256)
)


class CheckFailed(Exception):
    """A post-write check found something; the message carries no personal data."""


def _spellings(word: str) -> set[bytes]:
    """A word as the scan may meet it after ASCII lower-casing: from any usual casing
    (``bytes.lower`` leaves Ø as Ø, so the Unicode casings are kept too)."""
    return {w.encode().lower() for w in (word, word.lower(), word.upper(), word.title())}


@dataclass(frozen=True)
class Needles:
    """What must not appear: name words and full names, and serials, as the scan's
    lower-cased bytes."""

    name_words: frozenset[bytes]
    full_names: frozenset[tuple[bytes, bytes]]
    serials: frozenset[bytes]
    # Serials with '-', '_' or '.', each with the set of its word parts.
    compound_serials: tuple[tuple[bytes, frozenset[bytes]], ...]

    @classmethod
    def build(
        cls,
        names: Iterable[tuple[str, str]],
        serials: Iterable[str],
        vocabulary: Iterable[str],
    ) -> Needles:
        own = {s for text in vocabulary for w in words_of(text) for s in _spellings(w)}
        words: set[bytes] = set()
        pairs: set[tuple[bytes, bytes]] = set()
        for given, family in names:
            given_words = words_of(given)
            family_words = words_of(family)
            for word in (*given_words, *family_words):
                if len(word) >= 2:
                    words |= _spellings(word) - own
            if given_words and family_words:
                pairs |= {
                    (g, f) for g in _spellings(given_words[-1]) for f in _spellings(family_words[0])
                }
        found = {s.strip() for s in serials if len(s.strip()) >= MIN_SERIAL_LENGTH}
        spelt = {x for s in found for x in _spellings(s)}
        plain = {s for s in spelt if not s.translate(_WORD_BYTES).count(b" ")}
        return cls(
            frozenset(words),
            frozenset(pairs),
            frozenset(plain),
            tuple((s, frozenset(s.translate(_WORD_BYTES).split())) for s in sorted(spelt - plain)),
        )


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _ALNUM_RUN.findall(text) if not any(c.isdigit() for c in w)]


def scan_text(text: str, needles: Needles) -> str | None:
    """The kind of the first hit in ``text``, or None."""
    return scan_bytes(text.encode(), needles)


def scan_bytes(block: bytes, needles: Needles) -> str | None:
    lowered = block.lower()
    words = set(lowered.translate(_WORD_BYTES).split())
    # Non-ASCII punctuation («», ’, a no-break space, a dash) sits inside such a word:
    # the few words with bytes above 0x7f are split again, as text, on Unicode word
    # boundaries (and lower-cased as Unicode).
    if wide := [w for w in words if not w.isascii()]:
        words |= {
            token.lower().encode()
            for w in wide
            for token in _ALNUM_RUN.findall(w.decode("utf-8", "replace"))
        }
    for word in words:
        if len(word) == 11 and word.isdigit() and is_valid(word.decode()):
            return "an identity number"
    if words & needles.name_words:
        return "a patient's name"
    if any(g in words and f in words for g, f in needles.full_names) and _adjacent(
        lowered, words, needles
    ):
        return "a patient's name"
    if words & needles.serials:
        return "a device serial"
    # A serial with '-', '_' or '.' in it is looked for whole only in a block that holds
    # all its parts: the second split is rarely needed.
    compound = [s for s, parts in needles.compound_serials if parts <= words]
    tokens = lowered.translate(_SERIAL_BYTES).split() if compound else []
    if compound and {t.strip(b"-_.") for t in tokens} & set(compound):
        return "a device serial"
    return None


def _adjacent(lowered: bytes, words: set[bytes], needles: Needles) -> bool:
    """A given name followed by the family name (both words of our own vocabulary, or
    the single-word check would have found them)."""
    separated = lowered.translate(_WORD_BYTES).split()
    pairs = {(g, f) for g, f in needles.full_names if g in words and f in words}
    return any((a, b) in pairs for a, b in itertools.pairwise(separated))


def _text_blocks(path: Path) -> Iterator[bytes]:
    """Blocks of whole lines, so no word is cut in two."""
    with path.open("rb") as handle:
        while lines := handle.readlines(BLOCK_BYTES):
            yield b"".join(lines)


def _parquet_blocks(path: Path) -> Iterator[bytes]:
    """Every value of every column, as Arrow's own CSV writer prints it (C++, so a
    ten-million-row table scans in seconds), a row group at a time."""
    with pq.ParquetFile(path) as parquet:
        yield "\n".join(parquet.schema_arrow.names).encode()
        # A row group at a time (the writers' 10,000 rows): iter_batches reads ahead and
        # held a third of a gigabyte for a million-row table.
        for group in range(parquet.num_row_groups):
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(parquet.read_row_group(group), sink)
            yield sink.getvalue().to_pybytes()


def scan_file(path: Path, needles: Needles) -> str | None:
    blocks = _parquet_blocks(path) if path.suffix == ".parquet" else _text_blocks(path)
    for block in blocks:
        if (hit := scan_bytes(block, needles)) is not None:
            return hit
    return None


PSEUDONYM_COLUMN = "patient"


def class_sizes(patients_csv: Path, non_identifying: frozenset[str]) -> Counter[tuple[str, ...]]:
    """Class sizes over the columns the file really has: all but the pseudonym and the
    declared non-identifying attributes."""
    with patients_csv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        counted = [
            name
            for name in reader.fieldnames or ()
            if name != PSEUDONYM_COLUMN and name not in non_identifying
        ]
        return Counter(tuple(row[name] for name in counted) for row in reader)


def verify(
    directory: Path,
    names: Iterable[str],
    needles: Needles,
    non_identifying: frozenset[str],
    k: int,
) -> int | None:
    """Raise ``CheckFailed`` on any hit; answers the smallest class found in the file."""
    sizes = class_sizes(directory / "patients.csv", non_identifying)
    smallest = min(sizes.values(), default=None)
    if smallest is not None and smallest < k:
        raise CheckFailed(
            f"the written patient table has a class of {smallest} patients, fewer than k={k}"
        )
    for name in names:
        if (hit := scan_file(directory / name, needles)) is not None:
            raise CheckFailed(f"{hit} was found in {name}")
    return smallest
