"""What the nurse's queue sends and takes.

A queue row carries what a nurse needs to decide without another call: who, how old,
which protocol, the deviating values against their limits, the recent trend of those
measurements, and how long the patient has waited.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.journal.schemas import ItemJournal


class Action(StrEnum):
    """What a nurse did; the resource-use log counts these (see the evaluation)."""

    reviewed_readings = "reviewed_readings"
    phone_call = "phone_call"
    video_consultation = "video_consultation"
    secure_message = "secure_message"
    home_visit = "home_visit"
    advice_to_patient = "advice_to_patient"
    contact_with_gp = "contact_with_gp"
    referral_emergency = "referral_emergency"
    medication_change_advised = "medication_change_advised"
    technical_support = "technical_support"
    no_action_needed = "no_action_needed"


class Outcome(StrEnum):
    handled_by_centre = "handled_by_centre"
    no_action_needed = "no_action_needed"
    referred_to_gp = "referred_to_gp"
    referred_to_emergency = "referred_to_emergency"
    admitted_to_hospital = "admitted_to_hospital"
    measurement_error = "measurement_error"
    technical_issue = "technical_issue"
    patient_unreachable = "patient_unreachable"


class EscalationTarget(StrEnum):
    physician = "physician"
    gp = "gp"
    emergency = "emergency"
    team_leader = "team_leader"


class FindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule: str
    severity: str
    measurement: str | None
    direction: str | None
    value: float | None
    threshold: float | None
    reason_nb: str
    reason_en: str
    late: bool
    technical: bool
    critical: bool
    snoozed: bool
    effective_at: datetime
    observation_id: str | None
    # Set when the reading it rested on was retracted: shown as history, no longer evidence.
    withdrawn_at: datetime | None = None


class TrendPoint(BaseModel):
    effective_at: datetime
    value: float


class QueueRow(BaseModel):
    id: str
    centre_id: str
    patient_id: str
    patient_name: str
    age: int
    sex: str
    municipality: str
    protocol: str | None
    severity: str
    critical: bool
    technical: bool
    state: str
    back_in_range: bool
    opened_at: datetime
    waiting_since: datetime
    waiting_minutes: int
    claimed_by: str | None
    claimed_at: datetime | None
    snoozed_until: datetime | None
    escalated_at: datetime | None
    escalation: str | None
    resolved_at: datetime | None
    outcome: str | None
    findings: list[FindingRead]
    # The last readings of each measurement the item is about, oldest first.
    trends: dict[str, list[TrendPoint]]
    # The patient's messages no nurse has read yet: "message waiting", not a colour.
    messages_waiting: int = 0
    # A resolved item's note for the patient's record: pending, sent, failed (and why).
    journal: ItemJournal | None = None


class QueuePage(BaseModel):
    items: list[QueueRow]
    # More items matched than the limit allowed; narrow the filters.
    truncated: bool


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    centre_id: str
    item_id: str
    patient_id: str
    kind: str
    severity: str
    actor: str | None
    at: datetime


Note = Annotated[str, Field(max_length=4000)]


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    actions: list[Action] = Field(default_factory=list, max_length=20)
    note: Note | None = None
    # Minutes spent; by default the time from claim to resolve.
    minutes: Annotated[float, Field(ge=0, le=24 * 60)] | None = None


class SnoozeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: AwareDatetime
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class EscalateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: EscalationTarget
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class ItemEventRead(EventRead):
    """An event of the item's history with what the nurse gave with it (an escalation's
    target and reason). The live stream sends ``EventRead``: no words of the nurse's there."""

    detail: dict[str, Any] | None = None


class QueuePolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    centre_id: str
    red_claim_minutes: int
    red_resolve_minutes: int


class QueuePolicyWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    red_claim_minutes: Annotated[int, Field(ge=1, le=24 * 60)]
    red_resolve_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)]
