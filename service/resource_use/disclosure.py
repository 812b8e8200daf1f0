"""The one small-number rule for every figure that leaves the evaluation.

Stated to users (report and CSV say the same):

    A figure resting on 1 to 4 patients or events is hidden and written "<5", whatever
    its name: the count itself, and every value derived from it (patient-years from a
    patient count, minutes from few actions, a ratio whose numerator or denominator is
    1 to 4). Where a total is printed beside its parts, a total minus the printed parts
    must not give a hidden part back: if exactly one part of a group is hidden, the
    smallest other part that is not zero is hidden too (secondary suppression). Zero is
    printed as zero: it tells no one anything about a person.

Callers hand over a table of cells grouped by the total they add up to, and get back the
same table with ``hidden`` set; they print ``HIDDEN`` where it is set. Nothing here reads
a database or a clock, so every format (CSV, report, JSON, pages) applies the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

SMALL_BELOW = 5
HIDDEN = "<5"
RULE_ID = "primary-1-4-and-secondary-smallest-other"


@dataclass(frozen=True)
class Cell:
    """One printed figure.

    ``counts`` are the patient or event counts it rests on (a ratio gives numerator and
    denominator); ``group`` names the total this cell is a part of (cells of one group
    add up to a printed total), or is None when no total is printed beside it.
    """

    key: str
    counts: tuple[int, ...]
    group: str | None = None
    hidden: bool = False


def is_small(count: int) -> bool:
    """A count of 1 to 4 identifies people; zero does not."""
    return 0 < count < SMALL_BELOW


def rests_on_small(counts: Sequence[int]) -> bool:
    return any(is_small(c) for c in counts)


def suppress(table: Sequence[Cell]) -> list[Cell]:
    """The table with every cell hidden that the rule hides (primary, then secondary).

    Secondary: in a group with exactly one hidden part, the smallest other non-zero part
    (by its first count, ties by key for a stable answer) is hidden too, so the total
    minus the printed parts gives back only the sum of two hidden parts, never one.
    """
    cells = [replace(c, hidden=c.hidden or rests_on_small(c.counts)) for c in table]
    groups: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        if cell.group is not None:
            groups.setdefault(cell.group, []).append(i)
    for members in groups.values():
        hidden = [i for i in members if cells[i].hidden]
        if len(hidden) != 1:
            continue
        others = [
            i for i in members if not cells[i].hidden and cells[i].counts and cells[i].counts[0] > 0
        ]
        if not others:
            continue
        smallest = min(others, key=lambda i: (cells[i].counts[0], cells[i].key))
        cells[smallest] = replace(cells[smallest], hidden=True)
    return cells


def shown(value: str, cell: Cell) -> str:
    """What to print for a cell: its value, or ``HIDDEN``."""
    return HIDDEN if cell.hidden else value
