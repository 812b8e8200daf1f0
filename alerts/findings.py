"""Building a Finding from the reading it is raised for.

One builder so that every rule marks late readings, orders reading_ids and writes both
languages the same way; a rule only says what it found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from alerts.model import Direction, Finding, Reading, Rule, Severity
from alerts.protocols import Protocol
from alerts.text import Lang, both, late_note, sentence


def is_late(protocol: Protocol, effective_at: datetime, received_at: datetime) -> bool:
    """Received more than the protocol's ``late_after_hours`` after it was taken."""
    return received_at - effective_at > timedelta(hours=protocol.late_after_hours)


def on_reading(
    anchor: Reading,
    protocol: Protocol,
    *,
    rule: Rule,
    severity: Severity,
    reason: Callable[[Lang], str],
    measurement: str | None,
    direction: Direction | None = None,
    evidence: Iterable[Reading] = (),
    value: float | None = None,
    threshold: float | None = None,
    critical: bool = False,
    technical: bool = False,
) -> Finding:
    """A finding anchored on `anchor`; `evidence` are the other readings it rests on.

    Late means received more than the protocol's late_after_hours after it was taken: the
    nurse must know the patient's state may have changed since.
    """
    delay = anchor.received_at - anchor.effective_at
    late = is_late(protocol, anchor.effective_at, anchor.received_at)

    def text(lang: Lang) -> str:
        body = sentence(reason(lang))
        return body + late_note(delay.total_seconds(), lang) if late else body

    reason_nb, reason_en = both(text)
    ids = [anchor.reading_id]
    newest_first = sorted(evidence, key=lambda r: r.effective_at, reverse=True)
    ids += [r.reading_id for r in newest_first if r.reading_id not in ids]
    return Finding(
        rule=rule,
        severity=severity,
        measurement=measurement,
        direction=direction,
        reading_ids=tuple(ids),
        reason_nb=reason_nb,
        reason_en=reason_en,
        value=value,
        threshold=threshold,
        late=late,
        technical=technical,
        critical=critical,
        device_id=anchor.device_id,
        effective_at=anchor.effective_at,
    )
