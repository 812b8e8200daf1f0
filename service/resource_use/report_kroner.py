"""The report's kroner section: per municipality (with its model's prices beside each
line) and per protocol, the before/after difference per patient-year with the counts
each value rests on. No model: no kroner, and the section says so."""

from __future__ import annotations

from html import escape

from service.resource_use.evaluation_schemas import Evaluation, Figure, Kroner, PriceList
from service.resource_use.export import SMALL, number, plain_number
from service.resource_use.kroner import LINES, PRICE_OF
from service.resource_use.report_html import table
from service.resource_use.report_text import PROTOCOLS, Lang, label

WORDS: dict[str, tuple[str, str]] = {
    "kroner": ("Kroner per pasientår", "Kroner per patient-year"),
    "no_model": (
        "Ingen kostnadsmodell er satt for kommunene i perioden: rapporten viser ingen kronetall.",
        "No cost model is set for the municipalities in the period: the report shows no kroner.",
    ),
    "without": (
        "Uten kostnadsmodell (pasientene deres er ikke prissatt)",
        "Without a cost model (their patients are not priced)",
    ),
    "explain": (
        "Bruk før innskrivning (365 døgn) og i oppfølging i perioden, priset med kommunens "
        "kostnadsmodell, per pasientår. Forskjell = etter − før (negativ: en innsparing). "
        "n: hendelsene, oppholdene, tiltakene eller pasientene tallet bygger på. "
        "Tjenestens egne kostnader (sykepleiertid, driftskostnad) finnes bare etter.",
        "Use before enrolment (365 days) and in follow-up in the period, priced by the "
        "municipality's cost model, per patient-year. Difference = after − before (negative: "
        "a saving). n: the events, stays, actions or patients each value rests on. The "
        "service's own costs (nurse time, running cost) exist only after.",
    ),
    "line": ("Post", "Item"),
    "price": ("Pris (kr)", "Price (NOK)"),
    "before": ("Før (kr/pasientår)", "Before (NOK/patient-year)"),
    "after": ("Etter (kr/pasientår)", "After (NOK/patient-year)"),
    "difference": ("Forskjell", "Difference"),
    "total": ("Sum", "Total"),
    "municipality": ("Kommune", "Municipality"),
    "priced": ("pasienter prissatt", "patients priced"),
    "years": ("pasientår før / etter", "patient-years before / after"),
    "thin": (
        "For tynt til å lese: færre pasientår enn",
        "Too thin to read: fewer patient-years than",
    ),
    "interval": (
        "95 % intervall for forskjellen i sum (bootstrap over pasienter)",
        "95 % interval of the total's difference (bootstrap over patients)",
    ),
    "to": ("til", "to"),
    "model": ("Kostnadsmodell gyldig fra", "Cost model valid from"),
    "sources": ("Kilder", "Sources"),
    "each_own": (
        "Hver pasient er priset med sin kommunes modell.",
        "Each patient is priced by their municipality's model.",
    ),
}

LINE_WORDS: dict[str, tuple[str, str]] = {
    "hospital_admissions": ("Sykehusinnleggelser", "Hospital admissions"),
    "hospital_bed_days": ("Liggedøgn i sykehus", "Hospital bed days"),
    "emergency_primary_care_contacts": (
        "Legevaktkontakter (utenfor tjenesten)",
        "Legevakt contacts (outside the service)",
    ),
    "gp_consultations": (
        "Fastlegekonsultasjoner (utenfor tjenesten)",
        "GP consultations (outside the service)",
    ),
    "municipal_acute_bed_days": ("Døgn i KAD", "Municipal acute bed (KAD) days"),
    "home_care_hours": ("Hjemmetjenestetimer", "Home-care hours"),
    "nurse_time": ("Sykepleiertid i tjenesten", "The service's nurse time"),
    "running_cost": ("Tjenestens driftskostnad", "The service's running cost"),
}


SHARE_WORDS: dict[str, tuple[str, str]] = {
    "title": (
        "Kommunenes andel av tjenestens kostnader",
        "The municipalities' shares of the service's costs",
    ),
    "explain": (
        "Sykepleiertid og driftskostnad fordelt etter kommunenes andel av tjenestens aktive "
        "pasientdøgn i perioden.",
        "Nurse time and running cost split by each municipality's share of the service's "
        "active patient-days in the period.",
    ),
    "fraction": ("Andel aktive pasientdøgn", "Share of active patient-days"),
    "minutes": ("Sykepleierminutter", "Nurse minutes"),
    "nurse_kroner": ("Sykepleiertid (kr)", "Nurse time (NOK)"),
    "running": ("Driftskostnad (kr)", "Running cost (NOK)"),
    "whole": ("Hele tjenesten", "The whole service"),
}


def shares(evaluation: Evaluation, lang: Lang) -> str:
    """Each municipality's share of an inter-municipal centre's nurse time and cost."""
    if len(evaluation.by_municipality) < 2:
        return ""
    cohorts = [
        (_word("municipality", lang) + " " + m, f) for m, f in evaluation.by_municipality.items()
    ]
    cohorts.append((label(SHARE_WORDS, "whole", lang), evaluation.overall))
    head = [_word("municipality", lang)] + [
        label(SHARE_WORDS, k, lang) for k in ("fraction", "minutes", "nurse_kroner", "running")
    ]
    rows = []
    for name, figures in cohorts:
        share = figures.share
        if share is None:
            continue
        fraction = share.active_days_fraction
        percent = SMALL if fraction.small else f"{number((fraction.value or 0) * 100, lang, 1)} %"
        rows.append(
            [
                name,
                percent,
                plain_number(share.nurse_minutes, lang, 0),
                _plain_kroner(share.nurse_kroner, fraction.small, lang),
                _plain_kroner(share.running_cost_kroner, fraction.small, lang),
            ]
        )
    return (
        f"<h2>{escape(label(SHARE_WORDS, 'title', lang))}</h2>"
        f'<p class="note">{escape(label(SHARE_WORDS, "explain", lang))}</p>'
        f"{table(head, rows)}"
    )


def _plain_kroner(value: float | None, hidden: bool, lang: Lang) -> str:
    if hidden:
        return SMALL
    return "–" if value is None else number(value, lang, 0)


def _word(key: str, lang: Lang) -> str:
    return label(WORDS, key, lang)


def section(evaluation: Evaluation, lang: Lang) -> str:
    parts = [f"<h2>{escape(_word('kroner', lang))}</h2>"]
    if not evaluation.cost_models:
        parts.append(f"<p>{escape(_word('no_model', lang))}</p>")
        return "\n".join(parts)
    parts.append(f'<p class="note">{escape(_word("explain", lang))}</p>')
    if evaluation.municipalities_without_cost_model:
        names = ", ".join(evaluation.municipalities_without_cost_model)
        parts.append(f"<p>{escape(_word('without', lang))}: {escape(names)}</p>")
    minimum = evaluation.min_patient_years
    if evaluation.overall.kroner is not None:
        title = f"{evaluation.centre_name}. {_word('each_own', lang)}"
        parts.append(_table(title, evaluation.overall.kroner, None, lang, minimum))
    for municipality, figures in evaluation.by_municipality.items():
        model = evaluation.cost_models.get(municipality)
        if model is None or figures.kroner is None:
            continue
        title = f"{_word('municipality', lang)} {municipality}"
        parts.append(_table(title, figures.kroner, model, lang, minimum))
    for protocol, figures in evaluation.by_protocol.items():
        if figures.kroner is not None:
            title = f"{label(PROTOCOLS, protocol, lang)}. {_word('each_own', lang)}"
            parts.append(_table(title, figures.kroner, None, lang, minimum))
    return "\n".join(parts)


def _table(title: str, kroner: Kroner, model: PriceList | None, lang: Lang, minimum: float) -> str:
    head = [_word("line", lang)]
    head += [_word("price", lang)] if model else []
    head += [_word(k, lang) for k in ("before", "after", "difference")]
    rows: list[list[str]] = []
    for name in LINES:
        line = kroner.lines[name]
        row = [label(LINE_WORDS, name, lang)]
        if model:
            row.append(number(getattr(model.prices, PRICE_OF[name]), lang, 0))
        row += [_with_n(line.before, lang), _with_n(line.after, lang), _kr(line.difference, lang)]
        rows.append(row)
    total = kroner.total
    rows.append(
        [_word("total", lang)]
        + ([""] if model else [])
        + [_with_n(total.before, lang), _with_n(total.after, lang), _kr(total.difference, lang)]
    )
    patients = SMALL if kroner.patients.small else number(kroner.patients.value, lang, 0)
    years = (
        f"{plain_number(kroner.before_patient_years, lang, 2)} / "
        f"{plain_number(kroner.after_patient_years, lang, 2)}"
    )
    notes = [f"{patients} {_word('priced', lang)}; {_word('years', lang)}: {years}"]
    if not total.difference.small and None not in (kroner.difference_low, kroner.difference_high):
        low = number(kroner.difference_low, lang, 0)
        high = number(kroner.difference_high, lang, 0)
        notes.append(f"{_word('interval', lang)}: {low} {_word('to', lang)} {high} kr")
    if kroner.too_thin:
        notes.append(f"{_word('thin', lang)} {number(minimum, lang, 1)}")
    if model:
        notes.append(f"{_word('model', lang)} {model.valid_from.isoformat()}")
        if model.sources:
            notes.append(f"{_word('sources', lang)}: {model.sources}")
    note = "".join(f"<br>{escape(n)}" for n in notes)
    return f'<h3>{escape(title)}</h3>{table(head, rows)}<p class="note">{note[4:]}</p>'


def _kr(figure: Figure, lang: Lang) -> str:
    if figure.small:
        return SMALL
    return number(figure.value, lang, 0)


def _with_n(figure: Figure, lang: Lang) -> str:
    if figure.small:
        return SMALL
    return f"{number(figure.value, lang, 0)} (n = {figure.count})"
