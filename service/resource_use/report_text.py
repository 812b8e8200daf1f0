"""The words of the evaluation report, in Norwegian Bokmål and English.

Bokmål is the default: the report goes to Norwegian municipalities. Labels are keyed by
the codes the API uses, so a new action or event kind without words fails the tests,
not a printed report.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["nb", "en"]

ACTIONS: dict[str, tuple[str, str]] = {
    "reviewed_readings": ("Gjennomgang av målinger", "Reviewed readings"),
    "phone_call": ("Telefonsamtale", "Phone call"),
    "video_consultation": ("Videokonsultasjon", "Video consultation"),
    "secure_message": ("Sikker melding", "Secure message"),
    "home_visit": ("Hjemmebesøk", "Home visit"),
    "advice_to_patient": ("Råd til pasienten", "Advice to patient"),
    "contact_with_gp": ("Sykepleiers kontakt med fastlege", "Nurse's contact with the GP"),
    "referral_emergency": ("Henvist til akutthjelp/sykehus", "Referral to emergency care"),
    "medication_change_advised": ("Råd om endret medisinering", "Medication change advised"),
    "technical_support": ("Utstyr og teknisk hjelp", "Equipment and technical support"),
    "no_action_needed": ("Ingen tiltak nødvendig", "No action needed"),
}

MEASURES: dict[str, tuple[str, str]] = {
    "admissions": ("Sykehusinnleggelser", "Hospital admissions"),
    "bed_days": ("Liggedøgn i sykehus", "Hospital bed days"),
    "emergency_contacts": (
        "Legevaktkontakter (utenfor tjenesten)",
        "Legevakt contacts (outside the service)",
    ),
    "gp_contacts": ("Fastlegekontakter (utenfor tjenesten)", "GP contacts (outside the service)"),
    "municipal_acute_bed_stays": ("Opphold i KAD", "Municipal acute bed (KAD) stays"),
    "short_term_stays": ("Korttidsopphold", "Short-term stays"),
    "home_care_hours": ("Hjemmetjenestetimer", "Home-care hours"),
}

SEVERITIES: dict[str, tuple[str, str]] = {"red": ("Rød", "Red"), "yellow": ("Gul", "Yellow")}

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Gevinstrealisering: digital hjemmeoppfølging", "Benefits: digital home follow-up"),
    "period": ("Periode", "Period"),
    "generated": ("Laget", "Generated"),
    "summary": ("Hovedtall", "Key figures"),
    "patients": ("Pasienter i oppfølging", "Patients in follow-up"),
    "newly_enrolled": ("Nye pasienter i perioden", "Newly enrolled in the period"),
    "active_days": ("Aktive pasientdøgn", "Active patient-days"),
    "paused_days": ("Pauserte pasientdøgn", "Paused patient-days"),
    "adherence": (
        "Måleetterlevelse (mottatt / forventet)",
        "Measurement adherence (received / expected)",
    ),
    "items_week": (
        "Kliniske saker per aktiv pasientuke (tekniske saker telles for seg)",
        "Clinical items per active patient-week (technical items counted apart)",
    ),
    "minutes_month": (
        "Sykepleierminutter per pasientmåned (30 døgn i oppfølging, aktive og pauserte)",
        "Nurse minutes per patient-month (30 follow-up days, active and paused)",
    ),
    "minutes_by_action": ("Sykepleiertid etter tiltak", "Nurse time by action"),
    "contacts": (
        "Sykepleiernes kontakter, loggført av tjenesten (antall i perioden)",
        "The nurses' contacts, logged by the service (number in the period)",
    ),
    "count": ("Antall", "Count"),
    "response": ("Tid til plukket og lukket (minutter)", "Time to claim and resolve (minutes)"),
    "claim": ("til plukket", "to claim"),
    "resolve": ("til lukket", "to resolve"),
    "median": ("median", "median"),
    "p90": ("90-persentil", "90th percentile"),
    "before_after": (
        "Før og etter oppstart (per pasientår)",
        "Before and after enrolment (per patient-year)",
    ),
    "own_scale": ("Hver rad har sin egen skala.", "Each row has a scale of its own."),
    "before": ("Før", "Before"),
    "after": ("Etter", "After"),
    "by_municipality": ("Per kommune", "By municipality"),
    "by_protocol": ("Per pasientgruppe (protokoll)", "By cohort (protocol)"),
    "cohort": ("Gruppe", "Cohort"),
    "none": ("Uten behandlingsplan", "No care plan"),
    "method": ("Metode", "Method"),
    "caveats": ("Forbehold", "Caveats"),
    "small": (
        "«<5»: tallet, eller det tallet bygger på, er mellom 1 og 4 og vises ikke.",
        "'<5': the number, or the count it rests on, is 1 to 4 and is not shown.",
    ),
    "per_month": ("per pasientmåned", "per patient-month"),
    "per_week": ("per pasientuke", "per patient-week"),
    "per_year": ("per pasientår", "per patient-year"),
    "percent": ("prosent", "per cent"),
    "none_shown": ("Ingen tall å vise", "Nothing to show"),
    "protocol_adherence": (
        "Måleetterlevelse per pasientgruppe",
        "Measurement adherence by cohort",
    ),
}

PROTOCOLS: dict[str, tuple[str, str]] = {
    "copd": ("KOLS", "COPD"),
    "heart_failure": ("Hjertesvikt", "Heart failure"),
    "hypertension": ("Høyt blodtrykk", "Hypertension"),
    "diabetes": ("Diabetes", "Diabetes"),
    "none": ("Uten behandlingsplan", "No care plan"),
}


def word(key: str, lang: Lang) -> str:
    return _pick(WORDS[key], lang)


def label(table: dict[str, tuple[str, str]], key: str, lang: Lang) -> str:
    """A code's words; a code without any (a protocol added later) shows as itself."""
    return _pick(table[key], lang) if key in table else key


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "nb" else pair[1]
