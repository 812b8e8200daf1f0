"""What the study API takes and gives, and the Bulk Data manifest's shape.

A study as read never carries its key: the key exists only sealed in the database and
opened in the process that runs an export.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.research.dictionary import DEFAULT_VARIABLES, PATIENT_VARIABLES, VARIABLES
from service.research.models import TimeMode, TimePrecision

Subject = Annotated[str, Field(min_length=1, max_length=200)]
CentreId = Annotated[str, Field(min_length=1, max_length=64)]
Protocol = Annotated[str, Field(min_length=1, max_length=32)]


class ValueLimit(BaseModel):
    """Values below ``low`` are written as ``low``, above ``high`` as ``high``."""

    model_config = ConfigDict(extra="forbid")

    low: float | None = Field(default=None, allow_inf_nan=False)
    high: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _a_limit_in_order(self) -> ValueLimit:
        if self.low is None and self.high is None:
            raise ValueError("give low, high or both")
        if self.low is not None and self.high is not None and self.high <= self.low:
            raise ValueError("high must be above low")
        return self


class NonIdentifying(BaseModel):
    """A released patient attribute the study's reviewer judged not to identify anyone,
    and why: it then does not count for k. The justification goes into every export's
    de-identification report."""

    model_config = ConfigDict(extra="forbid")

    variable: str = Field(description=f"one of {', '.join(PATIENT_VARIABLES)}")
    justification: str = Field(min_length=20, max_length=2000)

    @field_validator("variable")
    @classmethod
    def _a_patient_variable(cls, value: str) -> str:
        if value not in PATIENT_VARIABLES:
            raise ValueError(f"not a patient attribute: give one of {', '.join(PATIENT_VARIABLES)}")
        return value

    @field_validator("justification")
    @classmethod
    def _written(cls, value: str) -> str:
        if len(value.split()) < 3:
            raise ValueError("say in words why the attribute identifies no one")
        return value


class StudyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    approval_reference: str = Field(
        min_length=1, max_length=64, description="REK number or the equivalent approval"
    )
    purpose: str = Field(min_length=1, max_length=4000)
    period_start: date = Field(description="first day of the data window")
    period_end: date = Field(description="last day of the data window")
    expires_at: AwareDatetime = Field(description="after this, nothing is exported")
    researchers: list[Subject] = Field(min_length=1, max_length=100)
    centres: list[CentreId] = Field(min_length=1, max_length=100)
    protocols: list[Protocol] = Field(default_factory=list, description="empty: any protocol")
    enrolled_from: date | None = None
    enrolled_until: date | None = None
    variables: list[str] | None = Field(
        default=None,
        max_length=len(VARIABLES),
        description=(
            "what may leave: patient attributes, whole tables, or columns as "
            f"'<table>.<column>'; default: {', '.join(DEFAULT_VARIABLES)}. "
            f"All: {', '.join(VARIABLES)}"
        ),
    )
    value_limits: dict[str, ValueLimit] = Field(
        default_factory=dict,
        max_length=20,
        description="top- and bottom-coding per measurement key, in its canonical unit",
    )
    k: int = Field(
        default=5, ge=1, le=100, description="1: no k-anonymity (documented in the report)"
    )
    max_suppressed_share: float = Field(default=0.05, ge=0, le=0.5)
    time_mode: TimeMode = TimeMode.shift
    time_precision: TimePrecision = TimePrecision.hour
    max_offset_days: int = Field(default=180, ge=1, le=3650)
    non_identifying: list[NonIdentifying] = Field(
        default_factory=list,
        max_length=len(PATIENT_VARIABLES),
        description=(
            "released patient attributes the reviewer judged non-identifying, each with "
            "the written justification; every other released patient attribute counts for k"
        ),
    )

    @field_validator("variables")
    @classmethod
    def _known_variables(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - set(VARIABLES))
        if unknown:
            raise ValueError(f"unknown variables: {', '.join(unknown)}")
        return value

    @model_validator(mode="after")
    def _periods_in_order(self) -> StudyCreate:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        if self.enrolled_from and self.enrolled_until and self.enrolled_until < self.enrolled_from:
            raise ValueError("enrolled_until is before enrolled_from")
        return self

    @field_validator("non_identifying")
    @classmethod
    def _declared_once_and_released(
        cls, value: list[NonIdentifying], info: ValidationInfo
    ) -> list[NonIdentifying]:
        declared = [n.variable for n in value]
        if len(set(declared)) != len(declared):
            raise ValueError("each variable once")
        chosen = info.data.get("variables")
        released = set(chosen if chosen is not None else DEFAULT_VARIABLES)
        if missing := sorted(set(declared) - released):
            raise ValueError(f"not released by the study: {', '.join(missing)}")
        return value


class StudyRead(BaseModel):
    id: str
    title: str
    approval_reference: str
    purpose: str
    period_start: date
    period_end: date
    expires_at: datetime
    researchers: list[str]
    centres: list[str]
    protocols: list[str]
    enrolled_from: date | None
    enrolled_until: date | None
    variables: list[str]
    k: int
    max_suppressed_share: float
    time_mode: str
    time_precision: str
    max_offset_days: int
    value_limits: dict[str, ValueLimit]
    non_identifying: list[NonIdentifying]
    created_by: str
    created_at: datetime
    export_url: str = Field(description="the Bulk Data kick-off, relative to the server")


class StudyList(BaseModel):
    studies: list[StudyRead]


class ManifestFile(BaseModel):
    type: str
    url: str
    count: int | None = None
    extension: dict[str, Any] | None = None


class Manifest(BaseModel):
    """The Bulk Data completion manifest; ``extension.files`` lists every file
    (tables, dictionary, report too) with its SHA-256."""

    transactionTime: str
    request: str
    requiresAccessToken: bool
    output: list[ManifestFile]
    error: list[ManifestFile]
    extension: dict[str, Any] | None = None
