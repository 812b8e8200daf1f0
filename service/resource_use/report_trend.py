"""The report's monthly lines: each main figure of ``trend`` as a line chart with the
same numbers in a table beside it, a gap where a month is hidden (small numbers)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from service.resource_use.charts import Value
from service.resource_use.evaluation_schemas import Figure
from service.resource_use.export import SMALL, number
from service.resource_use.line_chart import line_chart
from service.resource_use.report_html import table
from service.resource_use.report_text import Lang, label
from service.resource_use.trend_schemas import Trend

# Figure -> (words, digits; -1: a share printed as per cent).
FIGURES: dict[str, tuple[tuple[str, str], int]] = {
    "patients": (("Pasienter i oppfølging", "Patients in follow-up"), 0),
    "newly_enrolled": (("Nye pasienter", "Newly enrolled"), 0),
    "active_patient_days": (("Aktive pasientdøgn", "Active patient-days"), 0),
    "adherence": (("Måleetterlevelse", "Measurement adherence"), -1),
    "red_items_per_patient_week": (
        ("Røde kliniske saker per aktiv pasientuke", "Red clinical items per active patient-week"),
        2,
    ),
    "yellow_items_per_patient_week": (
        (
            "Gule kliniske saker per aktiv pasientuke",
            "Yellow clinical items per active patient-week",
        ),
        2,
    ),
    "technical_items": (("Tekniske saker (antall)", "Technical items (count)"), 0),
    "nurse_minutes_per_patient_month": (
        ("Sykepleierminutter per pasientmåned", "Nurse minutes per patient-month"),
        1,
    ),
    "nurse_contacts": (
        ("Sykepleiernes kontakter (antall)", "The nurses' contacts (count)"),
        0,
    ),
    "admissions_per_patient_year": (
        (
            "Sykehusinnleggelser per pasientår i oppfølging",
            "Admissions per patient-year in follow-up",
        ),
        2,
    ),
    "bed_days_per_patient_year": (
        ("Liggedøgn per pasientår i oppfølging", "Bed days per patient-year in follow-up"),
        2,
    ),
}
# The line charts' ids, one per main figure.
CHART_IDS = tuple(f"trend-{name}" for name in FIGURES)
WORDS: dict[str, tuple[str, str]] = {
    "title": ("Utvikling måned for måned", "Month by month"),
    "explain": (
        "Hver måned er evalueringen av den måneden alene. Et brudd i linjen er en måned som "
        "ikke vises («<5»): tallet hviler på 1 til 4 pasienter eller hendelser, eller ville "
        "gitt et skjult tall tilbake som summen for perioden minus de andre månedene.",
        "Each month is the evaluation of that month alone. A break in a line is a month not "
        "shown ('<5'): it rests on 1 to 4 patients or events, or would give a hidden value "
        "back as the period's total minus the other months.",
    ),
    "month": ("Måned", "Month"),
    "value": ("Verdi", "Value"),
    "total": ("Hele perioden", "The whole period"),
    "describe": ("Linje per måned fra", "A line per month from"),
    "to": ("til", "to"),
    "hidden": ("måneder skjult", "months hidden"),
    "cohort": ("Gruppe", "Cohort"),
}


def section(trend: Trend, lang: Lang) -> str:
    parts = [
        f"<h2>{escape(label(WORDS, 'title', lang))}</h2>",
        f'<p class="note">{escape(label(WORDS, "explain", lang))}</p>',
    ]
    for name in trend.figure_names:
        words, digits = FIGURES.get(name, ((name, name), 2))
        title = label({name: words}, name, lang)
        values = [(m.month, _value(m.figures[name], digits, lang)) for m in trend.months]
        hidden = sum(v.number is None and v.text == SMALL for _, v in values)
        description = (
            f"{title}. {label(WORDS, 'describe', lang)} {trend.month_from} "
            f"{label(WORDS, 'to', lang)} {trend.month_to}: "
            + "; ".join(f"{month} {v.text}" for month, v in values)
            + (f" ({hidden} {label(WORDS, 'hidden', lang)})" if hidden else "")
        )
        svg = line_chart(f"trend-{name}", title, description, values, _axis(lang))
        rows = [[month, v.text] for month, v in values]
        rows.append([label(WORDS, "total", lang), _value(trend.total[name], digits, lang).text])
        head = [label(WORDS, "month", lang), label(WORDS, "value", lang)]
        parts.append(
            f"<figure><figcaption>{escape(title)}</figcaption>"
            f'<div class="trend">{svg}{table(head, rows)}</div></figure>'
        )
    return "\n".join(parts)


def _axis(lang: Lang) -> Callable[[float], str]:
    return lambda n: number(n, lang, 0 if abs(n) >= 10 or n == 0 else 1)


def _value(figure: Figure, digits: int, lang: Lang) -> Value:
    """A month's point: no number where the rule hides it, or where there is none."""
    if figure.small or figure.value is None:
        return Value(None, SMALL if figure.small else "–")
    if digits < 0:
        return Value(figure.value * 100, f"{number(figure.value * 100, lang, 0)} %")
    return Value(figure.value, number(figure.value, lang, digits))
