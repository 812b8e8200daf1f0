"""The evaluation as one self-contained HTML file: figures, charts as inline SVG, the
method and the caveats. No script, no external style sheet, font or image: it opens
offline, prints, and can be mailed to a municipality as it is.

Only aggregates reach this module (an ``Evaluation``), so no name, identity number or
patient id can end up in the file; every number passes the small-number rule of
``export``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from service.experience.schemas import ExperienceRead
from service.queue.schemas import Action
from service.resource_use import (
    report_before_after,
    report_experience,
    report_html,
    report_kroner,
    report_trend,
)
from service.resource_use.charts import Series, Value, bar_chart
from service.resource_use.evaluation_schemas import Evaluation, Figures
from service.resource_use.export import bar, count, number, plain_number, shown
from service.resource_use.figures import CONTACT_ACTIONS, SEVERITIES
from service.resource_use.report_method import METHOD, caveats
from service.resource_use.report_text import (
    ACTIONS,
    MEASURES,
    PROTOCOLS,
    Lang,
    label,
    word,
)
from service.resource_use.report_text import SEVERITIES as SEVERITY_WORDS
from service.resource_use.trend_schemas import Trend

RED, YELLOW, BLUE, GREY = "#c0392b", "#d4a017", "#2e6da4", "#8c8c8c"
CHART_IDS = (
    "chart-minutes",
    "chart-contacts",
    "chart-items",
    "chart-response",
    "chart-before-after",
    "chart-adherence",
)

_STYLE = """
body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; color: #222;
       line-height: 1.4; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25rem 0.75rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; break-inside: avoid; }
figcaption { font-weight: bold; margin-bottom: 0.25rem; }
.note { color: #555; font-size: 0.9rem; }
.trend { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } }
"""


def render(
    evaluation: Evaluation,
    lang: Lang = "nb",
    *,
    trend: Trend | None = None,
    experience: ExperienceRead | None = None,
) -> str:
    """The report; ``trend`` (the months the period touches) adds the monthly lines,
    ``experience`` what patients say (without it the section says there are no answers)."""
    figures = evaluation.overall
    period = f"{evaluation.period_from.isoformat()} – {evaluation.period_to.isoformat()}"
    body = [
        f"<h1>{escape(word('title', lang))}</h1>",
        f"<p><strong>{escape(evaluation.centre_name)}</strong><br>"
        f"{escape(word('period', lang))}: {escape(period)}<br>"
        f"{escape(word('generated', lang))}: "
        f"{escape(evaluation.generated_at.strftime('%Y-%m-%d %H:%M UTC'))}</p>",
        f'<p class="note">{escape(word("small", lang))}</p>',
        _summary(figures, lang),
        _charts(evaluation, lang),
        report_trend.section(trend, lang) if trend is not None else "",
        _cohort_table("by_municipality", evaluation.by_municipality, lang, {}),
        _cohort_table("by_protocol", evaluation.by_protocol, lang, PROTOCOLS),
        report_before_after.section(figures, lang, evaluation.min_patient_years),
        report_kroner.section(evaluation, lang),
        report_kroner.shares(evaluation, lang),
        report_experience.section(experience, lang),
        f"<h2>{escape(word('method', lang))}</h2>",
        "<ul>" + "".join(f"<li>{escape(_pick(m, lang))}</li>" for m in METHOD) + "</ul>",
        f"<h2>{escape(word('caveats', lang))}</h2>",
        "<ul>" + "".join(f"<li>{escape(c)}</li>" for c in caveats(figures, lang)) + "</ul>",
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(word('title', lang))}: {escape(evaluation.centre_name)}</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _summary(figures: Figures, lang: Lang) -> str:
    items, adherence = figures.items, figures.adherence.ratio
    rows = [
        (word("patients", lang), count(figures.patients, lang)),
        (word("newly_enrolled", lang), count(figures.newly_enrolled, lang)),
        (word("active_days", lang), plain_number(figures.patient_days.active, lang)),
        (word("paused_days", lang), plain_number(figures.patient_days.paused, lang)),
        (word("adherence", lang), _percent(adherence.value, adherence.small, lang)),
        *(
            (
                f"{word('items_week', lang)}: {label(SEVERITY_WORDS, s, lang)}",
                shown(items.per_patient_week[s], lang, 2),
            )
            for s in SEVERITIES
        ),
        (word("minutes_month", lang), shown(figures.nurse_time.per_patient_month, lang)),
    ]
    return f"<h2>{escape(word('summary', lang))}</h2>" + _table(rows)


def _percent(value: float | None, small: bool, lang: Lang) -> str:
    if small:
        return "<5"
    return "–" if value is None else f"{number(value * 100, lang)} %"


def _charts(evaluation: Evaluation, lang: Lang) -> str:
    figures = evaluation.overall
    nurse = figures.nurse_time.by_action
    before_after = figures.before_after.measures
    items = figures.items
    one = [Series(word("per_month", lang), BLUE)]
    charts = [
        bar_chart(
            CHART_IDS[0],
            f"{word('minutes_by_action', lang)} ({word('per_month', lang)})",
            [
                (label(ACTIONS, a.value, lang), [bar(nurse[a.value].per_patient_month, lang)])
                for a in Action
            ],
            one,
        ),
        bar_chart(
            CHART_IDS[1],
            word("contacts", lang),
            [
                (label(ACTIONS, a.value, lang), [bar(figures.contacts[a.value], lang, 0)])
                for a in CONTACT_ACTIONS
            ],
            [Series(word("count", lang), BLUE)],
        ),
        bar_chart(
            CHART_IDS[2],
            word("items_week", lang),
            [
                (label(SEVERITY_WORDS, s, lang), [bar(items.per_patient_week[s], lang, 2)])
                for s in SEVERITIES
            ],
            [Series(word("per_week", lang), GREY)],
        ),
        bar_chart(
            CHART_IDS[3],
            word("response", lang),
            _response_rows(figures, lang),
            [Series(word("median", lang), BLUE), Series(word("p90", lang), GREY)],
        ),
        bar_chart(
            CHART_IDS[4],
            word("before_after", lang),
            [
                (label(MEASURES, m, lang), [bar(c.before, lang), bar(c.after, lang)])
                for m, c in before_after.items()
            ],
            [Series(word("before", lang), GREY), Series(word("after", lang), BLUE)],
            scale_per_row=True,
        ),
        bar_chart(
            CHART_IDS[5],
            word("protocol_adherence", lang),
            [
                (label(PROTOCOLS, key, lang), [_percent_bar(f, lang)])
                for key, f in evaluation.by_protocol.items()
            ],
            [Series(word("percent", lang), BLUE)],
        ),
    ]
    captions = [
        word("minutes_by_action", lang),
        word("contacts", lang),
        word("items_week", lang),
        word("response", lang),
        f"{word('before_after', lang)}. {word('own_scale', lang)}",
        word("protocol_adherence", lang),
    ]
    return "\n".join(
        f"<figure><figcaption>{escape(caption)}</figcaption>{svg}</figure>"
        for caption, svg in zip(captions, charts, strict=True)
    )


def _response_rows(figures: Figures, lang: Lang) -> list[tuple[str, Sequence[Value]]]:
    rows: list[tuple[str, Sequence[Value]]] = []
    for what, table in (
        ("claim", figures.items.time_to_claim_minutes),
        ("resolve", figures.items.time_to_resolve_minutes),
    ):
        for severity in SEVERITIES:
            spread = table[severity]
            values = [
                Value(None, "<5") if spread.n.small else Value(v, number(v, lang))
                for v in (spread.median, spread.p90)
            ]
            rows.append((f"{label(SEVERITY_WORDS, severity, lang)} {word(what, lang)}", values))
    return rows


def _percent_bar(figures: Figures, lang: Lang) -> Value:
    ratio = figures.adherence.ratio
    if ratio.small or ratio.value is None:
        return Value(None, _percent(ratio.value, ratio.small, lang))
    return Value(ratio.value * 100, _percent(ratio.value, False, lang))


def _cohort_table(
    title: str,
    cohorts: Mapping[str, Figures],
    lang: Lang,
    names: Mapping[str, tuple[str, str]],
) -> str:
    head = [
        word("cohort", lang),
        word("patients", lang),
        word("active_days", lang),
        word("adherence", lang),
        *(f"{word('items_week', lang)}: {label(SEVERITY_WORDS, s, lang)}" for s in SEVERITIES),
        word("minutes_month", lang),
    ]
    rows = [
        [
            label(dict(names), key, lang),
            count(f.patients, lang),
            plain_number(f.patient_days.active, lang),
            _percent(f.adherence.ratio.value, f.adherence.ratio.small, lang),
            *(shown(f.items.per_patient_week[s], lang, 2) for s in SEVERITIES),
            shown(f.nurse_time.per_patient_month, lang),
        ]
        for key, f in cohorts.items()
    ]
    return f"<h2>{escape(word(title, lang))}</h2>{report_html.table(head, rows)}"


def _table(rows: Sequence[tuple[str, str]]) -> str:
    lines = "".join(
        f'<tr><th scope="row">{escape(name)}</th><td class="n">{escape(value)}</td></tr>'
        for name, value in rows
    )
    return f"<table><tbody>{lines}</tbody></table>"


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "nb" else pair[1]
