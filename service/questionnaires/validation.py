"""A QuestionnaireResponse checked against its form: every required item answered, each
answer of the item's type, a choice among the item's options, a number within its range.

Pure: the form and the clock are arguments. Every refusal is a 422 whose expression names
the element, so a tablet can point at the question; diagnostics never echo an answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import orjson

from service.fhirkit.outcome import FhirError
from service.fhirkit.times import InvalidTime, parse_effective
from service.questionnaires.forms import Form, Forms

ROOT = "QuestionnaireResponse"
_VALUE_OF_TYPE = {
    "boolean": "valueBoolean",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "choice": "valueCoding",
    "string": "valueString",
}
_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"


@dataclass(frozen=True)
class CheckedResponse:
    form: Form
    subject: str
    authored_at: datetime
    answers: dict[str, Any]
    score: int | None
    dedup_key: str


def check(
    resource: dict[str, Any], forms: Forms, *, now: datetime, future: timedelta, zone: ZoneInfo
) -> CheckedResponse:
    """``resource`` has passed the structural (R4B) validation."""
    if resource.get("status") != "completed":
        _refuse("only a completed form is received", "status")
    form = forms.by_canonical(str(resource.get("questionnaire") or ""))
    if form is None:
        _refuse("questionnaire names no form this service offers", "questionnaire")
    subject = (resource.get("subject") or {}).get("reference")
    if not isinstance(subject, str):
        _refuse("subject must reference the patient who answered", "subject")
    try:
        authored_at = parse_effective(resource.get("authored"), zone).at
    except InvalidTime as error:
        raise FhirError.one(422, "value", str(error), f"{ROOT}.authored") from None
    if authored_at > now + future:
        _refuse("authored is in the future", "authored")
    answers = _answers(resource.get("item") or [], form)
    score = None
    if form.score_measurement is not None:
        score = sum(v for v in answers.values() if type(v) is int)
    return CheckedResponse(
        form, subject, authored_at, answers, score, _dedup_key(resource, form, authored_at, answers)
    )


def _answers(items: list[dict[str, Any]], form: Form) -> dict[str, Any]:
    questions = {q["linkId"]: q for q in form.resource["item"]}
    answers: dict[str, Any] = {}
    for index, item in enumerate(items):
        where = f"item[{index}]"
        link = item.get("linkId")
        if not isinstance(link, str) or link not in questions:
            _refuse("linkId names no question of this form", f"{where}.linkId")
        if link in answers:
            _refuse("a question is answered once", f"{where}.linkId")
        if item.get("item"):
            _refuse("the forms have no nested questions", f"{where}.item")
        given = item.get("answer") or []
        if len(given) > 1:
            _refuse("a question takes one answer", f"{where}.answer")
        if given:
            answers[link] = _value(given[0], questions[link], f"{where}.answer[0]")
    for link, question in questions.items():
        if question.get("required") and link not in answers:
            raise FhirError.one(
                422,
                "required",
                "a required question is not answered",
                f"{ROOT}.item.where(linkId='{link}')",
            )
    return answers


def _value(answer: dict[str, Any], question: dict[str, Any], where: str) -> Any:
    element = _VALUE_OF_TYPE[question["type"]]
    present = [key for key in answer if key.startswith("value")]
    if present != [element]:
        _refuse(f"this question is answered with {element}", where)
    value = answer[element]
    if not _of_type(value, question["type"]):
        _refuse(f"this question is answered with {element}", f"{where}.{element}")
    if question["type"] == "choice":
        allowed = {o["valueCoding"]["code"] for o in question["answerOption"]}
        if not isinstance(value, dict) or value.get("code") not in allowed:
            _refuse("the answer is not one of the question's options", f"{where}.{element}")
        return value["code"]
    if question["type"] in ("integer", "decimal"):
        for extension in question.get("extension", []):
            bound = extension.get("valueInteger", extension.get("valueDecimal"))
            low = extension["url"] == _MIN and value < bound
            if low or (extension["url"] == _MAX and value > bound):
                _refuse("the answer is outside the question's range", f"{where}.{element}")
    return value


def _of_type(value: Any, kind: str) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return type(value) is int
    if kind == "decimal":
        return type(value) in (int, float)
    return True


def _dedup_key(
    resource: dict[str, Any], form: Form, authored_at: datetime, answers: dict[str, Any]
) -> str:
    """The identifier when the sender gives one; else the content (form, time, answers),
    so a resend without an identifier is still stored once."""
    identifier = resource.get("identifier") or {}
    if identifier.get("value"):
        basis: Any = ["identifier", identifier.get("system"), identifier["value"]]
    else:
        basis = ["content", form.canonical, authored_at.isoformat(), answers]
    return hashlib.sha256(orjson.dumps(basis, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _refuse(diagnostics: str, element: str) -> NoReturn:
    raise FhirError.one(422, "value", diagnostics, f"{ROOT}.{element}")
