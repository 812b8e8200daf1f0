"""What a patient is told when nobody judges a reading.

A reading that no rule looks at must never be answered with a colour: "green, carry on"
to a paused patient with a glucose of 1.6 reassures someone nobody watches. The answer
says instead why the reading is not assessed, and that the self-care plan and the
emergency numbers still stand. The texts are protocol-independent on purpose: a patient
without a care plan has no protocol to take advice from.
"""

from __future__ import annotations

from enum import StrEnum

from alerts.model import LocalText


class NotJudged(StrEnum):
    """Why a stored measurement got no verdict."""

    PAUSED = "paused"
    ENDED = "ended"
    NO_CARE_PLAN = "no_care_plan"
    HISTORY = "history"


_STANDS_NB = (
    "Egenbehandlingsplanen din gjelder fortsatt. Blir du dårligere, ring legevakten på "
    "116 117, eller 113 hvis det haster."
)
_STANDS_EN = (
    "Your self-care plan still applies. If you get worse, call the out-of-hours service "
    "(legevakt) on 116 117, or 113 in an emergency."
)

_ADVICE: dict[NotJudged, LocalText] = {
    NotJudged.PAUSED: LocalText(
        nb="Oppfølgingen din er satt på pause. Målingen er lagret, men ingen i "
        "oppfølgingstjenesten vurderer den nå. " + _STANDS_NB,
        en="Your follow-up is paused. The reading is saved, but nobody at the follow-up "
        "centre is assessing it now. " + _STANDS_EN,
    ),
    NotJudged.ENDED: LocalText(
        nb="Oppfølgingen din er avsluttet. Målingen vurderes ikke av oppfølgingstjenesten. "
        + _STANDS_NB,
        en="Your follow-up has ended. The follow-up centre does not assess this reading. "
        + _STANDS_EN,
    ),
    NotJudged.NO_CARE_PLAN: LocalText(
        nb="Målingen er lagret, men oppfølgingsplanen din er ikke satt opp ennå, så den "
        "vurderes ikke nå. " + _STANDS_NB,
        en="The reading is saved, but your follow-up plan is not set up yet, so it is not "
        "assessed now. " + _STANDS_EN,
    ),
    NotJudged.HISTORY: LocalText(
        nb="Målingen er lagret som tidligere historikk og vurderes ikke som ny. " + _STANDS_NB,
        en="The reading is saved as earlier history and is not assessed as new. " + _STANDS_EN,
    ),
}


def not_judged_advice(reason: NotJudged) -> LocalText:
    return _ADVICE[reason]


def reason_for_status(status: str) -> NotJudged | None:
    """A plan that is not active judges nothing: the reason, or None when it judges."""
    if status == "paused":
        return NotJudged.PAUSED
    if status == "ended":
        return NotJudged.ENDED
    return None
