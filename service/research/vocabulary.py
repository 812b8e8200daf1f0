"""The words an export writes of its own accord: column names, FHIR element names,
codes, units, the dictionary's and the report's text.

The post-write name scan (``service.research.checks``) cannot tell the name "Per" from
the word "per" in the dictionary, so words of this vocabulary are not counted as name
hits. The vocabulary is built from the same definitions and mappers that write the
files (run on placeholder rows), so it holds exactly what the export can write by
itself and nothing taken from the data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import orjson

from alerts.model import Rule
from alerts.protocols import available_protocols
from service.fhirkit.catalogue import Catalogue
from service.queue.schemas import Action, EscalationTarget, Outcome
from service.research import dictionary, fhir_parts, kanon, records, report
from service.research.dates import TimeShift
from service.research.limits import ValueLimits
from service.research.pseudonyms import Pseudonyms
from service.resource_use.models import ExternalKind

_SEXES = ("male", "female", "other", "unknown")
_STATES = ("open", "claimed", "snoozed", "resolved", "active", "paused", "ended")
_WORDS = ("red", "yellow", "green", "high", "low", "final", "nurse_action", "external")


def _placeholder_rows() -> list[Any]:
    at = datetime(2000, 1, 1, tzinfo=UTC)
    common = {"id": "x", "item_id": "x", "effective_at": at, "severity": "red"}
    return [
        SimpleNamespace(
            **common,
            observation_id="x",
            rule="x",
            measurement="x",
            direction="high",
            reading_ids=["x"],
            value=1.0,
            threshold=1.0,
            late=True,
            technical=True,
            critical=True,
            snoozed=True,
        ),
        SimpleNamespace(
            **common,
            state="resolved",
            back_in_range=True,
            technical=True,
            critical=True,
            opened_at=at,
            claimed_at=at,
            resolved_at=at,
            outcome="x",
            actions=["x"],
            minutes=1.0,
            escalation="x",
        ),
        SimpleNamespace(id="x", item_id="x", action="x", minutes=1.0, occurred_at=at),
        SimpleNamespace(id="x", kind="x", started_at=at, ended_at=at, hours_per_week=1.0),
    ]


def _mapped_words(catalogue: Catalogue) -> list[str]:
    person = records.Person("x", "x", TimeShift(1), datetime(2000, 1, 1, tzinfo=UTC))
    every = frozenset(dictionary.VARIABLES)
    mapper = records.Mapper(Pseudonyms(bytes(32)), catalogue, ValueLimits({}), every)
    values: dict[str, str | None] = {q: "x" for q in kanon.QUASI_IDENTIFIERS}
    documents = [records.patient(person, values, every)]
    kinds = ("findings", "items", "nurse_actions", "external")
    for kind, source in zip(kinds, _placeholder_rows(), strict=True):
        documents.append(mapper.release(kind, mapper.row(kind, source, person), person))
    return [orjson.dumps(pair, default=str).decode() for pair in documents]


@lru_cache(maxsize=1)
def _static() -> tuple[str, ...]:
    every = frozenset(dictionary.VARIABLES)
    texts: list[str] = [" ".join(row) for row in dictionary.dictionary_rows(every)]
    texts += [" ".join(dictionary.DICTIONARY_HEADER), *dictionary.VARIABLES]
    texts += [level.name for level in kanon.LADDER]
    texts += list(report.FIXED_TEXTS)
    for enum in (Rule, Action, Outcome, EscalationTarget, ExternalKind):
        texts += [member.value for member in enum]
    texts += [*available_protocols(), *_SEXES, *_STATES, *_WORDS]
    texts += [fhir_parts.EXT, records.CATEGORY, fhir_parts.ACT_CODE]
    return tuple(texts)


def vocabulary(catalogue: Catalogue, report: dict[str, Any]) -> list[str]:
    """The fixed words, the catalogue's, and the report's keys (its values are counts,
    settings and constant reasons, which the scan still reads)."""
    texts = [*_static(), *_mapped_words(catalogue)]
    for measurement in catalogue.measurements:
        texts += [measurement.key, measurement.category, measurement.unit or ""]
        texts += [system for system, _ in measurement.codings]
    texts += _keys(report)
    return texts


def _keys(document: Any) -> list[str]:
    if isinstance(document, dict):
        return [k for key, value in document.items() for k in (str(key), *_keys(value))]
    if isinstance(document, list):
        return [k for value in document for k in _keys(value)]
    return []
