"""What the journal's operator API sends and takes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.journal.models import JournalItems, JournalKind

HttpUrl = Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s]+$")]


class JournalMessageRead(BaseModel):
    """One message of the outbox, without its document (a clinical note)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    centre_id: str
    patient_id: str
    item_id: str | None
    kind: str
    state: str
    attempts: int
    next_attempt_at: datetime
    # The receiver's OperationOutcome (diagnostics and expressions), or what failed.
    last_error: str | None
    last_status: int | None
    bundle_identifier: str
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class JournalPage(BaseModel):
    items: list[JournalMessageRead]
    truncated: bool


class ItemJournal(BaseModel):
    """The journal state of a queue item, shown with the item."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    state: str
    last_error: str | None
    sent_at: datetime | None


class JournalConfigWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    # Which kinds of note the record wants: resolved items and the pathway (start,
    # pause, resume and end of follow-up, care-plan changes). Every kind by default.
    kinds: list[JournalKind] = Field(
        default_factory=lambda: list(JournalKind), min_length=1, max_length=20
    )
    # Of the resolved items (kind ``item_resolved``), which: all, clinical, or red only.
    items: JournalItems = JournalItems.all
    receiver_url: HttpUrl
    token_url: HttpUrl | None = None
    client_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    private_key_path: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    scope: Annotated[str, Field(max_length=500)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0

    @field_validator("kinds")
    @classmethod
    def _each_once_in_catalogue_order(cls, kinds: list[JournalKind]) -> list[JournalKind]:
        return [kind for kind in JournalKind if kind in kinds]


class JournalConfigRead(JournalConfigWrite):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    centre_id: str
    updated_at: datetime
    updated_by: str | None
