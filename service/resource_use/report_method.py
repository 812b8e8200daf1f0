"""How each figure is computed, and what to keep in mind reading them: the report's
method and caveat sections, in Bokmål and English. The rules themselves live in
``figures`` and ``periods``; this says the same in words a municipality can check."""

from __future__ import annotations

from service.resource_use.evaluation_schemas import Figures
from service.resource_use.report_text import Lang

METHOD: list[tuple[str, str]] = [
    (
        "Perioden er lokale kalenderdøgn (Europe/Oslo) fra og med første til og med siste "
        "dato. Døgn som ennå ikke er kommet, telles ikke.",
        "The period is local calendar days (Europe/Oslo), first and last date included. "
        "Days still to come are not counted.",
    ),
    (
        "Pasienter i oppfølging: innskrevne pasienter som var aktive eller pauserte en del "
        "av perioden. Pasientdøgn er tiden i oppfølging i perioden, delt på aktiv og pause "
        "etter statushistorikken (pause, gjenopptak, avslutning).",
        "Patients in follow-up: enrolled patients who were active or paused for part of the "
        "period. Patient-days are the time in follow-up in the period, split into active "
        "and paused by the status history (pause, resume, end).",
    ),
    (
        "Måleetterlevelse: for hver pasient med behandlingsplan deles hver aktiv strekning "
        "i hele planperioder (for eksempel døgn) for hver måling planen venter (protokollens "
        "plan justert av pasientens plan, slik den var ved periodens slutt). En periode "
        "regnes som mottatt når den har minst én måling. Etterlevelse = mottatt / forventet. "
        "Pauser og tiden før første behandlingsplan venter ingen målinger.",
        "Adherence: for each patient with a care plan, each active stretch is cut into "
        "whole schedule periods (for instance days) for every measurement the plan expects "
        "(the protocol's schedule as adjusted by the patient's plan at the period's end). A "
        "period counts as received when it holds at least one reading. Adherence = received "
        "/ expected. Pauses and the time before the first care plan expect nothing.",
    ),
    (
        "Saker: saker i køen opprettet i perioden, etter endelig alvorlighet, per 7 aktive "
        "pasientdøgn. Tid til plukket og lukket: minutter fra saken fikk sin alvorlighet til "
        "den (siste gang) ble plukket og til den ble lukket; median og 90-persentil "
        "(nærmeste rang), røde og gule hver for seg.",
        "Items: queue items opened in the period, by final severity, per 7 active "
        "patient-days. Time to claim and resolve: minutes from when the item reached its "
        "severity to its (last) claim and to its resolve; median and 90th percentile "
        "(nearest rank), red and yellow apart.",
    ),
    (
        "Sykepleiertid: loggførte tiltak i perioden, siste versjon av hver rettelse, "
        "tilbaketrukne utelatt. Når en sak lukkes, logges ett tiltak per valgt tiltakstype, "
        "og sakens minutter deles likt mellom dem. Per pasientmåned = minutter / "
        "(pasientdøgn / 30). Kontakter er antall loggførte telefonsamtaler, videokonsultasjoner, "
        "sikre meldinger, hjemmebesøk og kontakter med fastlege.",
        "Nurse time: logged actions in the period, the latest version of each correction, "
        "retracted ones left out. Resolving an item logs one action per action type ticked, "
        "the item's minutes split evenly between them. Per patient-month = minutes / "
        "(patient-days / 30). Contacts are the number of logged phone calls, video "
        "consultations, secure messages, home visits and contacts with the GP.",
    ),
    (
        "Før og etter: for hver pasient de 365 døgnene før innskrivning mot pasientens døgn i "
        "oppfølging i perioden. Hendelser utenfor tjenesten (meldt av administrator eller et "
        "fagsystem) telles etter starttidspunkt, per pasientår (365 døgn). Liggedøgn er "
        "midnetter fra innleggelse til utskrivning, regnet med innleggelsen. "
        "Hjemmetjenestetimer er ukentlige nivåer som gjelder til neste melding eller slutt, "
        "per pasientår av tiden en melding dekker.",
        "Before and after: for each patient, the 365 days before enrolment against the "
        "patient's days in follow-up in the period. Events outside the service (reported by "
        "an admin or a system) are counted by their start, per patient-year (365 days). Bed "
        "days are midnights from admission to discharge, counted with the admission. "
        "Home-care hours are weekly levels holding until the next report or their end, per "
        "patient-year of the time a report covers.",
    ),
    (
        "Kommune er pasientens bostedskommune; pasientgruppe er protokollen i pasientens "
        "behandlingsplan ved periodens slutt.",
        "Municipality is the patient's municipality of residence; the cohort is the protocol "
        "of the patient's care plan at the period's end.",
    ),
]


def caveats(figures: Figures, lang: Lang) -> list[str]:
    """What the reader must know about these particular figures."""
    before_after = figures.before_after
    reported = before_after.patients_with_reports
    shown_reported = "<5" if reported.small else str(reported.count)
    items = [
        (
            "Tall fra 1 til 4 vises som «<5», og det samme gjelder rater og tider som bygger på "
            "så få. Skjules én kommune eller protokoll, skjules også den minste av de andre, "
            "så totalen minus de viste ikke gir det skjulte tallet. "
            "Med få pasienter er alle rater usikre.",
            "Counts from 1 to 4 are shown as '<5', and so are rates and times resting on so "
            "few. Where one municipality or protocol is hidden, the smallest other is hidden "
            "too, so the total minus those shown does not give the hidden one back. "
            "With few patients every rate is uncertain.",
        ),
        (
            f"Bare meldte hendelser utenfor tjenesten telles: {shown_reported} av pasientene har "
            f"noen melding. Manglende meldinger ser ut som ingen bruk, særlig før "
            f"innskrivning, som må meldes i ettertid.",
            f"Only reported events outside the service count: {shown_reported} of the "
            f"patients have any report. Missing reports look like no use, in particular before "
            f"enrolment, which must be reported afterwards.",
        ),
        (
            "Uten kontrollgruppe er forskjeller før og etter ikke effekter av tjenesten: "
            "pasienter skrives ofte inn etter en innleggelse, og tallene faller da ofte av seg "
            "selv (regresjon mot gjennomsnittet).",
            "Without a control group, before-and-after differences are not effects of the "
            "service: patients are often enrolled after an admission, after which figures "
            "often fall by themselves (regression to the mean).",
        ),
    ]
    if before_after.stays_without_discharge:
        count = before_after.stays_without_discharge
        shown = "<5" if count < 5 else str(count)
        items.append(
            (
                f"{shown} sykehusopphold er meldt uten utskrivning og er ikke med i liggedøgn.",
                f"{shown} hospital stays were reported without a discharge and are not in "
                "the bed days.",
            )
        )
    if figures.adherence.patients_without_plan.count:
        items.append(
            (
                "Pasienter uten behandlingsplan er ikke med i måleetterlevelsen.",
                "Patients without a care plan are not in the adherence figure.",
            )
        )
    return [nb if lang == "nb" else en for nb, en in items]
