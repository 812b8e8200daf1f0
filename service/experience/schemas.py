"""The experience figures as the API answers them."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class StageDistribution(BaseModel):
    """The answers to one question at one stage: how many patients chose each value.

    ``counts`` maps the value ("1" to "5") to its patients; null where the small-number
    rule hides it. ``respondents`` is null when 1 to 4 patients answered (then every
    count is null too)."""

    stage: int
    months_after_enrolment: int
    respondents: int | None
    counts: dict[str, int | None]


class QuestionDistribution(BaseModel):
    link_id: str
    text_nb: str
    text_en: str
    # The scale's ends, as the form states them.
    low: int
    high: int
    stages: list[StageDistribution]


class ExperienceRead(BaseModel):
    centre_id: str
    period_from: date
    period_to: date
    generated_at: datetime
    questionnaire: str
    # A patient's latest answer in each stage counts once.
    questions: list[QuestionDistribution]
    suppressed: list[str]
    disclosure_rule: str
