"""A Questionnaire drawn as one question per screen, and the answers typed into it
turned into the QuestionnaireResponse the API receives.

Everything a screen shows comes from the form's own data (texts and their English
translations, options, ranges, which questions are required); what is accepted is
decided by ``service.questionnaires.validation`` when the response is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.questionnaires.forms import Form, translated
from service.tablet.readings import Problem, parse_number

_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
IDENTIFIER_SYSTEM = "https://fhir.dho.example/identifier/tablet-form"
# An integer question with at most this many steps is a row of buttons, not a text box.
MAX_BUTTONS = 11


@dataclass(frozen=True)
class Option:
    code: str
    system: str
    text: dict[str, str]


@dataclass(frozen=True)
class Question:
    link: str
    kind: str
    text: dict[str, str]
    required: bool
    options: tuple[Option, ...]
    low: float | None
    high: float | None

    @property
    def field(self) -> str:
        return f"a.{self.link}"

    @property
    def as_buttons(self) -> bool:
        """Yes/no, a choice, or a small scale: a tap, never typing."""
        if self.kind in ("boolean", "choice"):
            return True
        return (
            self.kind == "integer"
            and self.low is not None
            and self.high is not None
            and self.high - self.low < MAX_BUTTONS
        )

    @property
    def steps(self) -> list[int]:
        return list(range(int(self.low or 0), int(self.high or 0) + 1))


def _bound(item: dict[str, Any], url: str) -> float | None:
    for extension in item.get("extension", []):
        if extension.get("url") == url:
            value = extension.get("valueInteger", extension.get("valueDecimal"))
            return float(value) if value is not None else None
    return None


def questions(form: Form) -> list[Question]:
    return [
        Question(
            link=item["linkId"],
            kind=item["type"],
            text=translated(item, "text"),
            required=bool(item.get("required")),
            options=tuple(
                Option(
                    o["valueCoding"]["code"],
                    o["valueCoding"]["system"],
                    translated(o["valueCoding"], "display"),
                )
                for o in item.get("answerOption", [])
            ),
            low=_bound(item, _MIN),
            high=_bound(item, _MAX),
        )
        for item in form.resource["item"]
    ]


def read_answers(
    asked: list[Question], typed: dict[str, str]
) -> tuple[dict[str, Any], list[Problem]]:
    """The answers as FHIR values, or what to tell the patient about each unreadable or
    missing one. Ranges and options are checked again by the service."""
    answers: dict[str, Any] = {}
    problems: list[Problem] = []
    for question in asked:
        text = typed.get(question.link, "").strip()
        if not text:
            if question.required:
                problems.append(Problem(question.field, "me.form.error.required", {}))
            continue
        value = _value(question, text)
        if value is None:
            problems.append(Problem(question.field, "me.form.error.not_number", {}))
            continue
        answers[question.link] = value
    return answers, problems


def _value(question: Question, text: str) -> Any:
    if question.kind == "boolean":
        return {"yes": True, "no": False}.get(text)
    if question.kind == "choice":
        for option in question.options:
            if option.code == text:
                return {"system": option.system, "code": option.code}
        return None
    number = parse_number(text)
    if number is None:
        return None
    if question.kind == "integer":
        return int(number) if number == int(number) else None
    return number


_VALUE = {
    "boolean": "valueBoolean",
    "choice": "valueCoding",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "string": "valueString",
}


def response(
    form: Form,
    asked: list[Question],
    answers: dict[str, Any],
    patient_id: str,
    key: str,
    authored_at: datetime,
) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": IDENTIFIER_SYSTEM, "value": key},
        "questionnaire": form.canonical,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "author": {"reference": f"Patient/{patient_id}"},
        "authored": authored_at.isoformat(),
        "item": [
            {"linkId": q.link, "answer": [{_VALUE[q.kind]: answers[q.link]}]}
            for q in asked
            if q.link in answers
        ],
    }


def problem_of_refusal(asked: list[Question], sent_links: list[str], expression: str) -> Problem:
    """The service's refusal located at the question it names: ``item[2]...`` is the
    third answer sent; ``item.where(linkId='x')`` names it."""
    link = None
    if "linkId='" in expression:
        link = expression.split("linkId='", 1)[1].split("'", 1)[0]
    elif ".item[" in expression:
        index = int(expression.split(".item[", 1)[1].split("]", 1)[0])
        link = sent_links[index] if index < len(sent_links) else None
    question = next((q for q in asked if q.link == link), None)
    if question is None:
        return Problem("form", "me.form.error.refused", {})
    if question.low is not None and question.high is not None:
        return Problem(
            question.field, "me.form.error.range", {"low": question.low, "high": question.high}
        )
    return Problem(question.field, "me.form.error.required", {})
