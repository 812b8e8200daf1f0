"""The home screen as the tablet reads it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class TaskRead(BaseModel):
    """A measurement or form the care plan asks for today."""

    measurement: str
    # A form delivers it; ``form`` names the Questionnaire to answer.
    is_form: bool
    form: str | None
    title_nb: str
    title_en: str
    done: bool
    last_at: datetime | None


class AdviceRead(BaseModel):
    """The latest verdict on the patient's readings and answers, in their words."""

    measurement: str
    at: datetime
    # green, yellow or red; None when nothing judged it (paused, no plan yet).
    colour: str | None
    critical: bool
    advice_nb: str
    advice_en: str


class ReadingRead(BaseModel):
    """A reading in the canonical unit, with what the device sent kept beside it."""

    id: str
    measurement: str
    value: float | None
    unit: str | None
    original_value: float | None
    original_unit: str | None
    components: list[dict[str, object]] | None
    effective_at: datetime


class HomeRead(BaseModel):
    patient_id: str
    # The patient's day, in their centre's time zone.
    today: date
    time_zone: str
    follow_up: str
    tasks: list[TaskRead]
    advice: AdviceRead | None
    unread_messages: int
    # The soonest contact the centre has planned (a call, a video call, a visit), if any.
    next_contact: datetime | None = None
    next_contact_kind: str | None = None
    recent_readings: list[ReadingRead]
