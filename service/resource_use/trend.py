"""The evaluation's main figures month by month, so a leader sees the curve after
start-up rather than one number.

Each month is the evaluation of that month alone (``evaluation.evaluate``, the same
code and the same rows as ``/api/evaluation`` for the month), and the total is the
evaluation of the months together. No figure is computed a second way here: the main
figures are picked from those evaluations (the nurses' contacts summed over the
contact actions). They are evaluated without the bootstrap intervals, which a line of
monthly values does not draw and which cost the most.

Small numbers. Each month starts from its own evaluation's disclosure (values resting
on 1 to 4 patients or events hidden, and the cohorts of a month guarded against
subtraction from the centre). Then the months of a cohort are guarded against the
period's total: where exactly one month of a figure is hidden and the total shows, the
smallest month shown beside it is hidden too, since the total minus the other months
would give it back (rates too: their denominators, the patient-days, are shown). Both
rules repeat over every cohort until neither hides anything more.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.errors import ApiError
from service.resource_use import disclosure, evaluation
from service.resource_use.evaluation_schemas import SMALL_BELOW, Evaluation, Figure, Figures
from service.resource_use.figures import CONTACT_ACTIONS
from service.resource_use.trend_schemas import Trend, TrendMonth

MAX_MONTHS = 36
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
TOTAL = "total"
RULE = (
    "Each month as the evaluation of that month alone: every value resting on 1 to 4 "
    "patients or events is hidden (<5), and the cohorts of a month are guarded against "
    "subtraction from the centre. Where the period's total shows and exactly one month of "
    "a figure is hidden, the smallest month shown beside it is hidden too, so that no "
    "hidden month can be found as the total minus the other months."
)


def _contacts(figures: Figures) -> Figure:
    counts = [figures.contacts[a.value].count or 0 for a in CONTACT_ACTIONS]
    return Figure.counted(sum(counts))


def _rate(figure: Figure) -> Figure:
    return Figure(value=figure.value, count=figure.count, small=figure.small)


# Main figure -> (how it is picked from a month's figures, the places in ``Figures``
# it rests on: a month's disclosure hiding any of them hides it).
MAIN: dict[str, tuple[Callable[[Figures], Figure], tuple[str, ...]]] = {
    "patients": (lambda f: f.patients, ("patients",)),
    "newly_enrolled": (lambda f: f.newly_enrolled, ("newly_enrolled",)),
    "active_patient_days": (
        lambda f: Figure.of(f.patient_days.active, f.patients.count or 0),
        ("patients", "patient_days.active"),
    ),
    "adherence": (lambda f: f.adherence.ratio, ("adherence.ratio",)),
    "red_items_per_patient_week": (
        lambda f: f.items.per_patient_week["red"],
        ("items.per_patient_week.red",),
    ),
    "yellow_items_per_patient_week": (
        lambda f: f.items.per_patient_week["yellow"],
        ("items.per_patient_week.yellow",),
    ),
    "technical_items": (lambda f: f.items.technical, ("items.technical",)),
    "nurse_minutes_per_patient_month": (
        lambda f: f.nurse_time.per_patient_month,
        ("nurse_time.per_patient_month",),
    ),
    "nurse_contacts": (_contacts, tuple(f"contacts.{a.value}" for a in CONTACT_ACTIONS)),
    "admissions_per_patient_year": (
        lambda f: _rate(f.before_after.measures["admissions"].after),
        ("before_after.measures.admissions.after",),
    ),
    "bed_days_per_patient_year": (
        lambda f: _rate(f.before_after.measures["bed_days"].after),
        ("before_after.measures.bed_days.after",),
    ),
}
DENOMINATORS = {
    "active_patient_days": "days in active follow-up in the month",
    "adherence": "readings expected in whole schedule periods of active days",
    "red_items_per_patient_week": "active patient-weeks (7 active patient-days)",
    "yellow_items_per_patient_week": "active patient-weeks (7 active patient-days)",
    "technical_items": "a count: items opened in the month",
    "nurse_minutes_per_patient_month": "patient-months (30 follow-up days, active and paused)",
    "nurse_contacts": "a count: the nurses' logged contacts in the month",
    "admissions_per_patient_year": "patient-years (365 follow-up days) in the month",
    "bed_days_per_patient_year": "patient-years (365 follow-up days) in the month",
}
HIDDEN = Figure(value=None, count=None, small=True)


def parse_month(text: str, name: str) -> date:
    found = MONTH.match(text)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise ApiError(f"{name}: a month as YYYY-MM")
    year = int(found.group(1))
    if not evaluation.EARLIEST.year <= year <= evaluation.LATEST.year:
        raise ApiError(
            f"{name}: a month between {evaluation.EARLIEST.year} and {evaluation.LATEST.year}"
        )
    return date(year, int(found.group(2)), 1)


def months_between(first: date, last: date) -> list[tuple[date, date]]:
    """Each month's first and last local date, ``first`` to ``last`` included."""
    months = []
    current = first
    while current <= last:
        following = date(current.year + current.month // 12, current.month % 12 + 1, 1)
        months.append((current, following - timedelta(days=1)))
        current = following
    return months


async def trend(
    conn: AsyncConnection,
    principal: Principal,
    centre_id: str,
    month_from: str,
    month_to: str,
    zone: ZoneInfo,
    now: datetime,
    *,
    municipality: str | None = None,
    protocol: str | None = None,
    exact: bool = False,
    min_patient_years: float = 1.0,
) -> Trend:
    first, last = parse_month(month_from, "from"), parse_month(month_to, "to")
    if last < first:
        raise ApiError("to: before from")
    months = months_between(first, last)
    if len(months) > MAX_MONTHS:
        raise ApiError(f"to: a trend is at most {MAX_MONTHS} months")
    if municipality is not None and protocol is not None:
        raise ApiError("municipality and protocol: give one of them, not both")
    cohort, group = (
        ("municipality", municipality)
        if municipality is not None
        else ("protocol", protocol)
        if protocol is not None
        else ("centre", centre_id)
    )

    async def evaluate(a: date, b: date) -> Evaluation:
        return await evaluation.evaluate(
            conn,
            principal,
            centre_id,
            a,
            b,
            zone,
            now,
            exact=True,
            min_patient_years=min_patient_years,
            intervals_too=False,
        )

    columns = {f"{a.year:04d}-{a.month:02d}": await evaluate(a, b) for a, b in months}
    columns[TOTAL] = await evaluate(months[0][0], months[-1][1])
    hidden = set() if exact else _hidden(columns)
    whole = columns[TOTAL]

    def shown(column: str) -> dict[str, Figure]:
        figures = _figures_of(columns[column], cohort, group)
        return {
            name: HIDDEN if f"{cohort}/{group}/{column}|{name}" in hidden else figure
            for name, figure in figures.items()
        }

    mine = sorted(
        p.split("/", 2)[2].replace("|", "/") for p in hidden if p.startswith(f"{cohort}/{group}/")
    )
    return Trend(
        centre_id=whole.centre_id,
        centre_name=whole.centre_name,
        cohort=cohort,
        group=group,
        month_from=month_from,
        month_to=month_to,
        timezone=zone.key,
        generated_at=now,
        figure_names=list(MAIN),
        denominators=DENOMINATORS,
        months=[
            TrendMonth(month=column, period_from=a, period_to=b, figures=shown(column))
            for column, (a, b) in zip(columns, months, strict=False)
        ],
        total=shown(TOTAL),
        suppressed=mine,
        disclosure_rule="" if exact else RULE,
    )


def _figures_of(computed: Evaluation, cohort: str, group: str) -> dict[str, Figure]:
    """The main figures of one cohort (a cohort without patients: zeros and nothing)."""
    figures = _cohort(computed, cohort, group)
    if figures is None:
        return {name: Figure.of(None, 0) for name in MAIN}
    return {name: pick(figures) for name, (pick, _) in MAIN.items()}


def _cohort(computed: Evaluation, cohort: str, group: str) -> Figures | None:
    if cohort == "centre":
        return computed.overall
    if cohort == "municipality":
        return computed.by_municipality.get(group)
    return computed.by_protocol.get(group)


def _groups(computed: Evaluation) -> Iterator[tuple[str, str, Figures]]:
    yield "centre", computed.centre_id, computed.overall
    for key, figures in computed.by_municipality.items():
        yield "municipality", key, figures
    for key, figures in computed.by_protocol.items():
        yield "protocol", key, figures


def _hidden(columns: dict[str, Evaluation]) -> set[str]:
    """Places ("cohort/group/column|figure") to hide, in every cohort at once."""
    cells: list[disclosure.Cell] = []
    for column, computed in columns.items():
        published = set(disclosure.disclose(computed).suppressed)
        for cohort, group, figures in _groups(computed):
            for name, (pick, sources) in MAIN.items():
                figure = pick(figures)
                small = figure.count is not None and 0 < figure.count < SMALL_BELOW
                by_month = any(f"{cohort}/{group}/{s}" in published for s in sources)
                cells.append(
                    disclosure.Cell(
                        cohort, group, f"{column}|{name}", figure.value, small or by_month
                    )
                )
    hidden = {c.place for c in cells if c.hidden}
    while True:
        extra = _across_months(cells, hidden) | _across_cohorts(cells, hidden)
        if extra <= hidden:
            return hidden
        hidden |= extra


def _across_months(cells: list[disclosure.Cell], hidden: set[str]) -> set[str]:
    """A cohort's months of a figure against the period's total."""
    totals: dict[tuple[str, str, str], disclosure.Cell] = {}
    parts: dict[tuple[str, str, str], list[disclosure.Cell]] = {}
    for cell in cells:
        column, _, name = cell.path.partition("|")
        key = (cell.cohort, cell.group, name)
        if column == TOTAL:
            totals[key] = cell
        else:
            parts.setdefault(key, []).append(cell)
    extra: set[str] = set()
    for key, members in parts.items():
        if key in totals:
            extra |= disclosure.one_hidden(totals[key], members, hidden)
    return extra


def _across_cohorts(cells: list[disclosure.Cell], hidden: set[str]) -> set[str]:
    """A month's municipalities, and its protocols, against the centre's month."""
    totals = {c.path: c for c in cells if c.cohort == "centre"}
    parts: dict[tuple[str, str], list[disclosure.Cell]] = {}
    for cell in cells:
        if cell.cohort != "centre":
            parts.setdefault((cell.cohort, cell.path), []).append(cell)
    extra: set[str] = set()
    for (_, path), members in parts.items():
        if path in totals:
            extra |= disclosure.one_hidden(totals[path], members, hidden)
    return extra
