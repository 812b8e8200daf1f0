"""Findings, the one open item per patient they gather into, and what happens to it.

Every table carries the centre and the patient: the tenancy key of every query, and
the distribution key on the day one PostgreSQL is not enough.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db_types import JSONType, UTCDateTime
from service.models_base import new_id, utcnow

# Service levels when a centre has set none: a red is claimed within 15 minutes (the
# issue's default) and resolved within two hours of its claim.
DEFAULT_RED_CLAIM_MINUTES = 15
DEFAULT_RED_RESOLVE_MINUTES = 120


# The outcome of an item closed because every finding it held was withdrawn (their
# readings were retracted): no nurse handled it, and no figure counts it.
WITHDRAWN = "withdrawn"


class ItemState(StrEnum):
    open = "open"
    claimed = "claimed"
    snoozed = "snoozed"
    resolved = "resolved"


class Finding(SQLModel, table=True):
    """One finding of ``alerts/``, stored as evidence, never changed afterwards.

    ``anchor`` makes a rule fire once per reading: the reading's id, or for findings
    without a reading (a missing reading, a silent device) the gap they describe.
    """

    __tablename__ = "finding"
    __table_args__ = (
        sa.UniqueConstraint("patient_id", "rule", "anchor"),
        sa.Index(None, "patient_id", "effective_at"),
        # The item's findings (the queue page, the back-in-range check on every in-band
        # reading) and a reading's findings (its verdict on a read): without these each
        # was a sequential scan of every finding (42 ms at 86,000 findings, issue 18).
        sa.Index(None, "item_id"),
        sa.Index(None, "observation_id"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    item_id: str | None = Field(default=None, foreign_key="triage_item.id", max_length=36)
    observation_id: str | None = Field(default=None, foreign_key="observation.id", max_length=36)
    anchor: str = Field(max_length=160)
    rule: str = Field(max_length=48)
    severity: str = Field(max_length=8)
    measurement: str | None = Field(default=None, max_length=64)
    direction: str | None = Field(default=None, max_length=8)
    reading_ids: list[str] = Field(default_factory=list, sa_type=JSONType)
    reason_nb: str = Field(sa_type=sa.Text)
    reason_en: str = Field(sa_type=sa.Text)
    value: float | None = None
    threshold: float | None = None
    late: bool = False
    technical: bool = False
    critical: bool = False
    # Muted by a nurse's snooze (yellow of the same rule and direction): kept as
    # evidence, but it raised nothing.
    snoozed: bool = False
    device_id: str | None = Field(default=None, max_length=36)
    effective_at: datetime = Field(sa_type=UTCDateTime)
    care_plan_version: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Withdrawn because a reading it rested on was retracted (entered-in-error): kept as
    # history, no longer evidence (service/queue/retraction.py).
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_for: str | None = Field(default=None, max_length=36)


class TriageItem(SQLModel, table=True):
    """What the nurse works: at most one unresolved item per patient (a partial unique
    index, so two concurrent readings cannot open two)."""

    __tablename__ = "triage_item"
    __table_args__ = (
        sa.Index(
            "uq_triage_item_patient_unresolved",
            "patient_id",
            unique=True,
            sqlite_where=sa.text("state != 'resolved'"),
            postgresql_where=sa.text("state != 'resolved'"),
        ),
        sa.Index(None, "centre_id", "state", "severity"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    severity: str = Field(max_length=8)
    critical: bool = False
    technical: bool = False
    state: str = Field(default=ItemState.open, max_length=16)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When the item reached its present severity: a red raised on a waiting yellow
    # item waits as a red from that moment.
    waiting_since: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    back_in_range: bool = False
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalation: str | None = Field(default=None, max_length=32)
    resolved_by: str | None = Field(default=None, max_length=200)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=32)
    actions: list[str] | None = Field(default=None, sa_type=JSONType)
    minutes: float | None = None
    # The nurse's words: clinical free text, never exported.
    note: str | None = Field(default=None, sa_type=sa.Text)
    version: int = 1


class Snooze(SQLModel, table=True):
    """A nurse's "I know, leave it until then" for one rule, measurement and direction;
    a red finding always breaks through."""

    __tablename__ = "snooze"
    __table_args__ = (sa.Index(None, "patient_id", "until"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    item_id: str = Field(foreign_key="triage_item.id", max_length=36)
    rule: str = Field(max_length=48)
    measurement: str | None = Field(default=None, max_length=64)
    direction: str | None = Field(default=None, max_length=8)
    until: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(sa_type=sa.Text)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TriageEvent(SQLModel, table=True):
    """What happened to an item, numbered per centre in commit order: the SSE stream
    and its ``Last-Event-ID`` resume read this table, so no event is lost between
    processes or across a reconnect."""

    __tablename__ = "triage_event"
    __table_args__ = (sa.UniqueConstraint("centre_id", "seq"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    seq: int
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    item_id: str = Field(foreign_key="triage_item.id", max_length=36)
    kind: str = Field(max_length=16)
    severity: str = Field(max_length=8)
    actor: str | None = Field(default=None, max_length=200)
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class QueuePolicy(SQLModel, table=True):
    """Per centre: the SLA of its queue, and the counter that numbers its events.

    Taking the next number locks this row until commit, so events of one centre are
    committed in the order of their numbers and a reader never skips one.
    """

    __tablename__ = "queue_policy"

    centre_id: str = Field(foreign_key="centre.id", primary_key=True, max_length=64)
    red_claim_minutes: int = DEFAULT_RED_CLAIM_MINUTES
    red_resolve_minutes: int = DEFAULT_RED_RESOLVE_MINUTES
    last_event_seq: int = 0
