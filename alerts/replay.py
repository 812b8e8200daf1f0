"""Replay: judge a stretch of old readings as if they had arrived one by one.

What a care-plan preview needs: the same rules as live triage, in the order the readings
were received, each judged with what had been received before it. Pure like the rest of
the package, so a 30-day replay costs milliseconds and touches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from alerts.careplan import CarePlan
from alerts.engine import evaluate
from alerts.model import Finding, Reading

# Evidence a rule may look back on: the longest trend (weight over days) with room.
HISTORY = timedelta(days=8)


def replay(
    plan: CarePlan, readings: Sequence[Reading], history: timedelta = HISTORY
) -> list[Finding]:
    """Every finding the readings would have raised under `plan`, in arrival order.

    Readings sharing a reading_id (a blood-pressure panel) arrive together, as the
    Observation they came in. Each is judged with the readings received in the
    `history` before it, as live triage sees the patient's recent readings.
    """
    arrivals: dict[str, list[Reading]] = {}
    for reading in sorted(readings, key=lambda r: (r.received_at, r.reading_id)):
        arrivals.setdefault(reading.reading_id, []).append(reading)
    seen: list[Reading] = []
    oldest = 0
    fired: set[tuple[str, str]] = set()
    found: list[Finding] = []
    for batch in arrivals.values():
        now = max(r.received_at for r in batch)
        while oldest < len(seen) and seen[oldest].received_at < now - history:
            oldest += 1
        new = evaluate(plan, batch, seen[oldest:], now, fired)
        fired.update(f.fired_key for f in new if f.fired_key is not None)
        found += new
        seen += batch
    return found
