"""Figures as they leave the centre: the small-number rule, number formats, and the CSV
export of the aggregate figures.

The rule, applied here and nowhere else: a count from 1 to 4, and any value computed
from such a count (a rate, a median, the minutes of four calls), is written "<5". Zero
is written as zero: it tells no one anything about a person.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from service.resource_use.charts import Value
from service.resource_use.disclosure import Cell, suppress
from service.resource_use.evaluation_schemas import SMALL_BELOW, Evaluation, Figure
from service.resource_use.report_text import Lang

SMALL = "<5"
CSV_COLUMNS = ("cohort", "group", "figure", "value", "based_on")


def number(value: float | None, lang: Lang, digits: int = 1) -> str:
    """``1 234,5`` in Bokmål, ``1,234.5`` in English; a missing value is a dash."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    if lang == "nb":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text


def shown(figure: Figure, lang: Lang, digits: int = 1) -> str:
    if figure.small:
        return SMALL
    return number(figure.value, lang, digits)


def count(figure: Figure, lang: Lang) -> str:
    return shown(figure, lang, 0)


def small_int(value: int) -> str:
    return SMALL if 0 < value < SMALL_BELOW else str(value)


def bar(figure: Figure, lang: Lang, digits: int = 1) -> Value:
    """A chart bar that hides what the rule hides: no length, only "<5"."""
    if figure.small or figure.value is None:
        return Value(None, shown(figure, lang, digits))
    return Value(figure.value, shown(figure, lang, digits))


def csv_text(evaluation: Evaluation) -> str:
    """One row per figure and cohort: machine-readable numbers (decimal point, no
    grouping), "<5" where the rule applies, and what each value rests on."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    cohorts: list[tuple[str, str, BaseModel]] = [
        ("centre", evaluation.centre_id, evaluation.overall)
    ]
    cohorts += [("municipality", k, f) for k, f in evaluation.by_municipality.items()]
    cohorts += [("protocol", k, f) for k, f in evaluation.by_protocol.items()]
    hidden = _hidden_cohorts(cohorts)
    for cohort, group, figures in cohorts:
        # Every value of a cohort rests on its patients: with 1 to 4 of them, none is shown
        # (their patient-years, minutes and rates would give the hidden count back); a
        # cohort hidden so the centre total cannot give a hidden one back likewise.
        floor = getattr(figures, "patients", None)
        if (cohort, group) in hidden and isinstance(floor, Figure):
            floor = Figure(value=floor.value, count=floor.count, small=True)
        for name, value, based_on in _walk("", figures, floor):
            writer.writerow((cohort, group, name, value, based_on))
    return out.getvalue()


def _hidden_cohorts(cohorts: list[tuple[str, str, BaseModel]]) -> set[tuple[str, str]]:
    """Cohorts the shared rule (``disclosure.suppress``) hides: municipalities and
    protocols are each parts of the centre, so one hidden part takes a second with it."""
    cells = [
        Cell(f"{cohort}\x00{group}", (patients.count,), group=cohort)
        for cohort, group, figures in cohorts
        if cohort != "centre" and isinstance(patients := getattr(figures, "patients", None), Figure)
    ]
    return {tuple(c.key.split("\x00", 1)) for c in suppress(cells) if c.hidden}  # type: ignore[misc]


def _walk(prefix: str, node: Any, base: Figure | None) -> Iterator[tuple[str, str, str]]:
    """Leaves of the figures as (dotted name, value, based on). A value is hidden when
    it, or any count it rests on (the cohort's patients, the ``events``, ``n`` or
    ``ratio`` of its model, the actions behind logged minutes), is 1 to 4."""
    if isinstance(node, Figure):
        hidden = node.small or (base is not None and base.small)
        yield prefix, SMALL if hidden else _plain(node.value), SMALL if hidden else str(node.count)
    elif isinstance(node, BaseModel):
        own = _own_count(node)
        if base is not None and base.small:
            own = base
        for name in type(node).model_fields:
            yield from _walk(_join(prefix, name), getattr(node, name), own or base)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(_join(prefix, str(key)), value, base)
    elif base is not None and base.small:
        yield prefix, SMALL, SMALL
    elif isinstance(node, bool | int):
        yield prefix, small_int(int(node)), ""
    else:
        yield prefix, _plain(node), str(base.count) if base is not None else ""


def _own_count(node: BaseModel) -> Figure | None:
    """The count a model's bare numbers rest on, if it has one of its own."""
    for name in ("events", "n", "ratio"):
        own = getattr(node, name, None)
        if isinstance(own, Figure):
            return own
    by_action = getattr(node, "by_action", None)
    if isinstance(by_action, dict):
        return Figure.counted(sum(a.events.count for a in by_action.values()))
    return None


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
