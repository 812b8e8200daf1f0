"""Technical findings about devices: they go to whoever keeps the equipment running.

A dead sensor that nobody notices for hours, and a device clock set to local time but sent as
UTC, are both classic failures of home monitoring; neither says anything about the patient,
so both are marked technical and kept out of the clinical traffic light.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts import findings
from alerts.model import Finding, Reading, Rule, Severity
from alerts.protocols import Protocol
from alerts.text import Lang, both, duration, hours


def wrong_clock(anchor: Reading, protocol: Protocol) -> Finding | None:
    """A reading taken "after" it was received can only come from a clock that is wrong."""
    ahead = anchor.effective_at - anchor.received_at
    if ahead <= timedelta(minutes=protocol.future_tolerance_minutes):
        return None
    seconds = ahead.total_seconds()

    def reason(lang: Lang) -> str:
        if lang == "nb":
            return (
                f"Målingen er tidsstemplet {duration(seconds, lang)} etter at den ble mottatt; "
                "klokken på måleren går trolig feil"
            )
        return (
            f"The reading is time-stamped {duration(seconds, lang)} after it was received; "
            "the device clock is probably wrong"
        )

    return findings.on_reading(
        anchor,
        protocol,
        rule=Rule.DEVICE_CLOCK,
        severity=Severity.YELLOW,
        reason=reason,
        measurement=anchor.measurement,
        value=round(seconds / 60, 1),
        threshold=protocol.future_tolerance_minutes,
        technical=True,
    )


def silent(
    device_id: str, last_seen_at: datetime, limit_hours: float, now: datetime
) -> Finding | None:
    """Silent for longer than the limit (exactly at the limit is not yet silent).

    effective_at is when the silence passed the limit, the same on every scan of the same
    silence, so the service can tell a known silence from a new one.
    """
    limit = timedelta(hours=limit_hours)
    quiet = now - last_seen_at
    if quiet <= limit:
        return None
    quiet_hours = quiet.total_seconds() / 3600

    def reason(lang: Lang) -> str:
        if lang == "nb":
            return (
                f"Måleren {device_id} har ikke sendt data på {hours(quiet_hours, lang)}; "
                f"grense {hours(limit_hours, lang)}"
            )
        return (
            f"Device {device_id} has sent nothing for {hours(quiet_hours, lang)}; "
            f"limit {hours(limit_hours, lang)}"
        )

    reason_nb, reason_en = both(reason)
    return Finding(
        rule=Rule.DEVICE_SILENT,
        severity=Severity.YELLOW,
        measurement=None,
        direction=None,
        reading_ids=(),
        reason_nb=reason_nb,
        reason_en=reason_en,
        value=round(quiet_hours, 1),
        threshold=limit_hours,
        technical=True,
        device_id=device_id,
        effective_at=last_seen_at + limit,
    )
