"""Figures as they leave the centre: the small-number rule, number formats, and the CSV
export of the aggregate figures.

The rule itself lives in ``service.resource_use.disclosure`` and has been applied to
the figures before they reach this module: a hidden value is None (a figure's also
``small``) and is written "<5". Zero is written as zero: it tells no one anything about
a person.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from service.experience.schemas import ExperienceRead
from service.resource_use.charts import Value
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


def plain_number(value: float | None, lang: Lang, digits: int = 1) -> str:
    """A plain number of the figures: None only where the small-number rule hid it."""
    return SMALL if value is None else number(value, lang, digits)


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


def csv_text(evaluation: Evaluation, experience: ExperienceRead | None = None) -> str:
    """One row per figure and cohort: machine-readable numbers (decimal point, no
    grouping), "<5" where the small-number rule hides a value (``disclosure``), and
    what each value rests on; then what patients say (``experience``), per question,
    stage and answer, as the report shows it, and its own rule. The last row states the
    evaluation's rule."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    hidden = set(evaluation.suppressed)
    cohorts: list[tuple[str, str, BaseModel]] = [
        ("centre", evaluation.centre_id, evaluation.overall)
    ]
    cohorts += [("municipality", k, f) for k, f in evaluation.by_municipality.items()]
    cohorts += [("protocol", k, f) for k, f in evaluation.by_protocol.items()]
    for cohort, group, figures in cohorts:
        for name, value, based_on in _walk("", figures):
            if f"{cohort}/{group}/{name}" in hidden:
                value, based_on = SMALL, SMALL
            writer.writerow((cohort, group, name, value, based_on))
    # The prices the kroner rest on: a municipality's own, not about any patient.
    for municipality, model in evaluation.cost_models.items():
        writer.writerow(("cost_model", municipality, "valid_from", model.valid_from, ""))
        for name, price in model.prices.model_dump().items():
            writer.writerow(("cost_model", municipality, f"prices.{name}", _plain(price), ""))
    if experience is not None:
        for row in _experience_rows(experience):
            writer.writerow(row)
        writer.writerow(("experience", "", "disclosure", experience.disclosure_rule, ""))
    writer.writerow(("rule", "", "disclosure", evaluation.disclosure_rule, ""))
    return out.getvalue()


def _experience_rows(experience: ExperienceRead) -> Iterator[tuple[str, str, str, str, str]]:
    """("experience", "stage_<months>m", "<question>.respondents" or "<question>.<value>",
    the count or "<5", the respondents it rests on)."""
    for question in experience.questions:
        for stage in question.stages:
            group = f"stage_{stage.months_after_enrolment}m"
            respondents = SMALL if stage.respondents is None else str(stage.respondents)
            yield ("experience", group, f"{question.link_id}.respondents", respondents, "")
            for value, n in stage.counts.items():
                shown = SMALL if n is None else str(n)
                yield ("experience", group, f"{question.link_id}.{value}", shown, respondents)


def _walk(prefix: str, node: Any) -> Iterator[tuple[str, str, str]]:
    """Leaves of the figures as (dotted name, value, what it rests on)."""
    if isinstance(node, Figure):
        based_on = "" if node.count is None else str(node.count)
        yield prefix, _plain(node.value), based_on
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _walk(_join(prefix, name), getattr(node, name))
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(_join(prefix, str(key)), value)
    elif isinstance(node, bool | int):
        yield prefix, str(int(node)), ""
    else:
        yield prefix, _plain(node), ""


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
