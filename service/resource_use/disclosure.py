"""The small-number rule, applied once to the whole evaluation before any format sees it.

Primary rule: every value that rests on 1 to 4 patients or events is hidden, whatever
its name. A cohort (a municipality, a protocol) of 1 to 4 patients shows none of its
values (its patient-days, minutes and rates would give the count back); a figure whose
own count is 1 to 4 is hidden, and so are the plain numbers of a model whose count
(``events``, ``n``, ``ratio``) is 1 to 4.

Complementary rule: a total minus its other parts must not give a hidden value back
(13 − 9 = 4). The municipalities of a centre, and its protocols, add up to the centre;
where exactly one of them is hidden at a value that the centre shows, the smallest
value shown beside it is hidden too. Then no hidden cell can be found by subtraction
from the cells shown.

Hidden values are removed from the answer (``None``; a figure also loses its count and
is marked ``small``), and their places listed in ``Evaluation.suppressed``, so the API,
the CSV, the report and the console all show the same cells, and "<5" where one is hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from service.resource_use.evaluation_schemas import SMALL_BELOW, Evaluation, Figure, Figures

RULE = (
    "Every value resting on 1 to 4 patients or events is shown as <5. Where a total shows "
    "and exactly one of its parts (municipalities, protocols) is hidden, the smallest part "
    "shown beside it is hidden too, so that no hidden value can be found by subtraction."
)


@dataclass(frozen=True)
class Cell:
    cohort: str  # centre, municipality or protocol
    group: str
    path: str
    value: float | None
    hidden: bool

    @property
    def place(self) -> str:
        return f"{self.cohort}/{self.group}/{self.path}"


def disclose(evaluation: Evaluation) -> Evaluation:
    """The evaluation as it may be shown: hidden values removed, their places listed."""
    cells = list(_cells(evaluation))
    hidden = {c.place for c in cells if c.hidden}
    # Hiding a cell for one sum can expose a part of another: repeat until none does.
    while True:
        extra = _complementary(cells, hidden) | _within(cells, hidden)
        if extra <= hidden:
            break
        hidden |= extra
    masked = evaluation.model_copy(deep=True)
    for cohort, group, figures in _cohorts(masked):
        for name in type(figures).model_fields:
            _mask(figures, name, f"{cohort}/{group}/{name}", hidden)
    masked.suppressed = sorted(hidden)
    masked.disclosure_rule = RULE
    return masked


def _cohorts(evaluation: Evaluation) -> Iterator[tuple[str, str, Figures]]:
    yield "centre", evaluation.centre_id, evaluation.overall
    for key, figures in evaluation.by_municipality.items():
        yield "municipality", key, figures
    for key, figures in evaluation.by_protocol.items():
        yield "protocol", key, figures


def _cells(evaluation: Evaluation) -> Iterator[Cell]:
    for cohort, group, figures in _cohorts(evaluation):
        floor = figures.patients
        for path, value, hidden in _walk("", figures, floor):
            yield Cell(cohort, group, path, value, hidden)


def _small(figure: Figure | None) -> bool:
    return figure is not None and figure.count is not None and 0 < figure.count < SMALL_BELOW


def _walk(prefix: str, node: Any, base: Figure | None) -> Iterator[tuple[str, float | None, bool]]:
    """Leaves as (dotted path, value, hidden by the primary rule)."""
    if isinstance(node, Figure):
        yield prefix, node.value, _small(node) or _small(base)
    elif isinstance(node, BaseModel):
        own = _own_count(node)
        for name in type(node).model_fields:
            yield from _walk(
                _join(prefix, name), getattr(node, name), base if _small(base) else own or base
            )
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(_join(prefix, str(key)), value, base)
    elif isinstance(node, bool):
        return
    elif isinstance(node, int | float) or node is None:
        value = None if node is None else float(node)
        own_small = isinstance(node, int) and 0 < node < SMALL_BELOW
        yield prefix, value, _small(base) or own_small


def _own_count(node: BaseModel) -> Figure | None:
    """The count a model's plain numbers rest on, if it has one of its own."""
    for name in ("events", "n", "ratio", "patients"):
        own = getattr(node, name, None)
        if isinstance(own, Figure):
            return own
    by_action = getattr(node, "by_action", None)
    if isinstance(by_action, dict):
        return Figure.counted(sum(a.events.count or 0 for a in by_action.values()))
    return None


def _complementary(cells: list[Cell], hidden_places: set[str]) -> set[str]:
    """Places to hide so that no hidden part is the total minus the parts shown."""
    totals = {c.path: c for c in cells if c.cohort == "centre"}
    parts: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for cell in cells:
        if cell.cohort != "centre":
            parts[(cell.cohort, cell.path)].append(cell)
    extra: set[str] = set()
    for (_, path), members in parts.items():
        total = totals.get(path)
        if total is None:
            continue
        extra |= _one_hidden(total, members, hidden_places)
    return extra


def _within(cells: list[Cell], hidden_places: set[str]) -> set[str]:
    """The same within one cohort's figure whose parts add up to a total: the kroner
    lines of a side add up to the side's total, and a line's difference is its after
    minus its before (shown beside one side shown, it gives the other back: hidden)."""
    by_place = {c.place: c for c in cells}
    extra: set[str] = set()
    for cell in cells:
        prefix, _, side = cell.path.rpartition(".")
        if prefix.startswith("kroner.") and side == "difference":
            extra |= _difference(cell, by_place, hidden_places)
        if prefix != "kroner.total":
            continue
        members = [
            c
            for c in cells
            if (c.cohort, c.group) == (cell.cohort, cell.group)
            and c.path.startswith("kroner.lines.")
            and c.path.endswith(f".{side}")
        ]
        extra |= _one_hidden(by_place[cell.place], members, hidden_places)
    return extra


def _difference(cell: Cell, by_place: dict[str, Cell], hidden_places: set[str]) -> set[str]:
    """A kroner difference shown where exactly one of its two sides is hidden."""
    if cell.place in hidden_places or cell.value is None:
        return set()
    base = cell.place.rpartition(".")[0]
    sides = [by_place.get(f"{base}.{name}") for name in ("before", "after")]
    hidden = [s for s in sides if s is not None and s.place in hidden_places]
    return {cell.place} if len(hidden) == 1 else set()


def _one_hidden(total: Cell, members: list[Cell], hidden_places: set[str]) -> set[str]:
    """Where the total shows and exactly one part is hidden, the smallest part shown
    beside it (or, with none, the total: it is the hidden part itself)."""
    if total.place in hidden_places or total.value is None:
        return set()
    hidden = [m for m in members if m.place in hidden_places and m.value is not None]
    shown = [m for m in members if m.place not in hidden_places and m.value is not None]
    if len(hidden) != 1:
        return set()
    if shown:
        return {min(shown, key=lambda m: (abs(m.value or 0.0), m.group, m.path)).place}
    return {total.place}


# The complementary step for other tables of the same figures (``trend``).
one_hidden = _one_hidden


def _mask(node: Any, name: str, place: str, hidden: set[str]) -> None:
    """Remove every hidden value at or below ``place`` (the attribute ``name`` of ``node``)."""
    value = node[name] if isinstance(node, dict) else getattr(node, name)
    if isinstance(value, Figure):
        if place in hidden:
            # Its own kind (a rate's interval goes with it).
            _set(node, name, type(value)(value=None, count=None, small=True))
    elif isinstance(value, BaseModel):
        for field in type(value).model_fields:
            _mask(value, field, f"{place}.{field}", hidden)
    elif isinstance(value, dict):
        for key in list(value):
            _mask(value, key, f"{place}.{key}", hidden)
    elif place in hidden and not isinstance(value, bool):
        _set(node, name, None)


def _set(node: Any, name: str, value: Any) -> None:
    if isinstance(node, dict):
        node[name] = value
    else:
        object.__setattr__(node, name, value)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
