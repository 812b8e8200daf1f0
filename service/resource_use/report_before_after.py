"""The report's before/after table: each rate with its 95 % interval, its denominator
stated on its row, a mark where it is too thin to read, and the 30-day readmissions.
Contacts outside the service (GP, legevakt: reported from elsewhere) are named so they
cannot be mistaken for the nurse's own contacts, which are counted apart."""

from __future__ import annotations

from html import escape

from service.resource_use.evaluation_schemas import Figure, Figures, Rate, Readmission
from service.resource_use.export import SMALL, number
from service.resource_use.report_html import table
from service.resource_use.report_text import Lang, label

WORDS: dict[str, tuple[str, str]] = {
    "title": (
        "Før og etter oppstart, med 95 % intervaller",
        "Before and after enrolment, with 95 % intervals",
    ),
    "measure": ("Mål", "Measure"),
    "denominator": ("Nevner", "Denominator"),
    "before": ("Før", "Before"),
    "after": ("Etter", "After"),
    "thin": ("for tynt til å lese", "too thin to read"),
    "note": (
        "Intervallene er 95 % bootstrap-intervaller over pasienter (500 trekninger, fast "
        "frø). «For tynt til å lese»: tallet bygger på færre pasientår enn",
        "The intervals are 95 % bootstrap intervals over patients (500 draws, a fixed "
        "seed). 'Too thin to read': the rate rests on fewer patient-years than",
    ),
    "readmissions": ("Reinnleggelser innen 30 dager", "Readmissions within 30 days"),
    "discharges": ("utskrivninger fulgt i 30 dager", "discharges followed for 30 days"),
}

MEASURES: dict[str, tuple[str, str]] = {
    "admissions": ("Sykehusinnleggelser", "Hospital admissions"),
    "bed_days": ("Liggedøgn i sykehus", "Hospital bed days"),
    "emergency_contacts": (
        "Legevaktkontakter (utenfor tjenesten, meldt)",
        "Legevakt contacts (outside the service, reported)",
    ),
    "gp_contacts": (
        "Fastlegekontakter (utenfor tjenesten, meldt)",
        "GP contacts (outside the service, reported)",
    ),
    "municipal_acute_bed_stays": ("Opphold i KAD", "Municipal acute bed (KAD) stays"),
    "short_term_stays": ("Korttidsopphold", "Short-term stays"),
    "home_care_hours": ("Hjemmetjenestetimer", "Home-care hours"),
}

# One denominator per kind of figure, stated beside it.
PER_PATIENT_YEAR = (
    "per pasientår: 365 døgn før innskrivning / døgn i oppfølging i perioden",
    "per patient-year: 365 days before enrolment / follow-up days in the period",
)
PER_COVERED_YEAR = (
    "per pasientår som en melding om hjemmetjenester dekker",
    "per patient-year covered by a home-care report",
)
PER_DISCHARGE = ("andel av utskrivninger", "share of discharges")


def section(figures: Figures, lang: Lang, minimum: float) -> str:
    measures = figures.before_after.measures
    head = [label(WORDS, k, lang) for k in ("measure", "denominator", "before", "after")]
    rows = []
    for name, comparison in measures.items():
        denominator = PER_COVERED_YEAR if name == "home_care_hours" else PER_PATIENT_YEAR
        rows.append(
            [
                label(MEASURES, name, lang),
                label({"d": denominator}, "d", lang),
                _rate(comparison.before, lang),
                _rate(comparison.after, lang),
            ]
        )
    found = figures.before_after.readmissions_30_days
    rows.append(
        [
            label(WORDS, "readmissions", lang),
            label({"d": PER_DISCHARGE}, "d", lang),
            _readmission(found.before, lang),
            _readmission(found.after, lang),
        ]
    )
    return (
        f"<h2>{escape(label(WORDS, 'title', lang))}</h2>"
        f"{table(head, rows, words=2)}"
        f'<p class="note">{escape(label(WORDS, "note", lang))} '
        f"{escape(number(minimum, lang, 1))}.</p>"
    )


def _rate(rate: Rate, lang: Lang) -> str:
    if rate.small:
        return SMALL
    text = number(rate.value, lang, 2)
    if rate.low is not None and rate.high is not None:
        text += f" ({number(rate.low, lang, 2)}–{number(rate.high, lang, 2)})"
    if rate.thin:
        text += f"; {label(WORDS, 'thin', lang)}"
    return text


def _readmission(found: Readmission, lang: Lang) -> str:
    share = found.share
    if share.small or found.discharges.small or found.readmitted.small:
        return f"{SMALL} / {_count(found.discharges)} {label(WORDS, 'discharges', lang)}"
    percent = "–" if share.value is None else f"{number(share.value * 100, lang, 0)} %"
    return f"{percent} ({_count(found.readmitted)} / {_count(found.discharges)})"


def _count(figure: Figure) -> str:
    return SMALL if figure.small or figure.value is None else str(int(figure.value))
