"""The outbox of documents for the patient's record, and each centre's receiver.

Why an outbox: the document must reach the record if and only if the item was resolved.
Writing a row in the resolve's own transaction makes the two one fact; the worker then
delivers it as often as it takes, and the receiver recognises a resend by the Bundle's
identifier (``bundle_identifier``), so a lost answer never becomes a second note.

The row keeps the document as it was at the resolve (the findings, readings and words
of that moment: a later retraction or a renamed patient must not rewrite a note already
made), but without the national identity number: the Patient entry carries our id only,
and the sender adds the identity number from the patient table (decrypted) just before
sending. The outbox therefore holds no identity number in clear, as the patient table
does not either.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, TypeGuard

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlmodel import Field, SQLModel

from service.db_types import JSONType, UTCDateTime
from service.models_base import new_id, utcnow


class JournalState(StrEnum):
    # Waiting for its first try, or for its next after a failed one (``next_attempt_at``).
    pending = "pending"
    # Claimed by a worker until ``next_attempt_at`` (the lease): a worker that died in
    # the middle of a send leaves it here, and another takes it over when the lease ends.
    sending = "sending"
    sent = "sent"
    # The last try failed for a reason that may pass (5xx, timeout, connection): retried
    # automatically at ``next_attempt_at``.
    failed = "failed"
    # Dead letter: no more automatic tries (the receiver refused it with a 4xx, it did
    # not validate, or it failed DHO_JOURNAL_MAX_ATTEMPTS times). An admin retries or
    # cancels it; until then the patient's later messages wait behind it.
    dead = "dead"
    cancelled = "cancelled"


# States that hold back a patient's later messages: their order in the record is kept.
UNSENT = (
    JournalState.pending.value,
    JournalState.sending.value,
    JournalState.failed.value,
    JournalState.dead.value,
)


class JournalKind(StrEnum):
    """What a message is about; a centre chooses which kinds its record wants
    (``JournalConfig.kinds``), in the same words."""

    item_resolved = "item_resolved"
    # The pathway (issue 15): a short note each.
    follow_up_started = "follow_up_started"
    follow_up_paused = "follow_up_paused"
    follow_up_resumed = "follow_up_resumed"
    follow_up_ended = "follow_up_ended"
    care_plan_changed = "care_plan_changed"


ALL_KINDS = [kind.value for kind in JournalKind]


class JournalItems(StrEnum):
    """Which resolved items a centre's record wants: some EPJs take only red ones."""

    all = "all"
    clinical = "clinical"  # every item but the technical ones (no care plan, silent device)
    red = "red"


class JournalMessage(SQLModel, table=True):
    __tablename__ = "journal_message"
    __table_args__ = (
        sa.UniqueConstraint("bundle_identifier"),
        # The worker's claim: due messages first.
        sa.Index(None, "state", "next_attempt_at"),
        # Per-patient order: "is an older message of this patient unsent?"
        sa.Index(None, "patient_id", "created_at"),
        sa.Index(None, "item_id"),
        sa.Index(None, "centre_id", "state"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    centre_id: str = Field(foreign_key="centre.id", max_length=64)
    patient_id: str = Field(foreign_key="patient.id", max_length=36)
    item_id: str | None = Field(default=None, foreign_key="triage_item.id", max_length=36)
    kind: str = Field(max_length=32)
    state: str = Field(default=JournalState.pending.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # What the receiver said of the last failed try (its OperationOutcome's diagnostics
    # and expressions, or the kind of network failure): for the operator.
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    last_status: int | None = None
    # ``urn:uuid:...``: Bundle.identifier, the idempotency key the receiver sees.
    bundle_identifier: str = Field(max_length=64)
    # The document Bundle without the identity number (see the module's docstring).
    document: dict[str, Any] = Field(sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class JournalConfig(SQLModel, table=True):
    """A centre's receiver: where its documents go, how the service proves who it is
    (OAuth2 client credentials with ``private_key_jwt``, HelseID's way), and what is
    journalled (``kinds``, and of resolved items ``items``). No row, or ``enabled``
    false: nothing is journalled."""

    __tablename__ = "journal_config"

    centre_id: str = Field(foreign_key="centre.id", primary_key=True, max_length=64)
    enabled: bool = False
    items: str = Field(default=JournalItems.all.value, max_length=16)
    # Which kinds of message (``JournalKind`` values) are journalled; ``items`` further
    # narrows which resolved items are. Every kind by default.
    kinds: list[str] = Field(default_factory=lambda: list(ALL_KINDS), sa_type=JSONType)
    # Where the document Bundle is POSTed (a FHIR endpoint, e.g. https://epj/fhir/Bundle).
    receiver_url: str = Field(max_length=500)
    # OAuth2: without a token URL the receiver is called without a token (a test
    # receiver, a receiver behind mutual TLS).
    token_url: str | None = Field(default=None, max_length=500)
    client_id: str | None = Field(default=None, max_length=200)
    # A PEM file the worker can read (a mounted secret); the key never enters the database.
    private_key_path: str | None = Field(default=None, max_length=500)
    scope: str | None = Field(default=None, max_length=500)
    timeout_seconds: float = 10.0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str | None = Field(default=None, max_length=200)


def journals(config: Row[Any] | None, kind: JournalKind) -> TypeGuard[Row[Any]]:
    """Whether a centre's receiver (``config``, its journal_config row) takes ``kind``."""
    return config is not None and bool(config.enabled) and kind.value in config.kinds
