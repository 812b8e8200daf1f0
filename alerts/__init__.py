"""The triage core of digital home follow-up: plain data in, findings out.

No database, web framework or clock: the service passes a care plan, the readings and "now",
and stores what comes back. That keeps every rule cheap to test by tables and lets a care
plan be previewed by replaying old readings through the same code.
"""

from alerts.baseline import propose_bands
from alerts.careplan import CarePlan, PlanStatus, Schedule
from alerts.engine import evaluate, needs_history, patient_advice
from alerts.missing import Gap, gaps, scan_missing
from alerts.model import Band, Direction, Finding, Judgement, LocalText, Reading, Rule, Severity
from alerts.news2 import News2, news2_score
from alerts.protocols import Protocol, ProtocolError, available_protocols, load_protocol
from alerts.replay import replay
from alerts.unjudged import NotJudged, not_judged_advice, reason_for_status

__all__ = [
    "Band",
    "CarePlan",
    "Direction",
    "Finding",
    "Gap",
    "Judgement",
    "LocalText",
    "News2",
    "NotJudged",
    "PlanStatus",
    "Protocol",
    "ProtocolError",
    "Reading",
    "Rule",
    "Schedule",
    "Severity",
    "available_protocols",
    "evaluate",
    "gaps",
    "load_protocol",
    "needs_history",
    "news2_score",
    "not_judged_advice",
    "patient_advice",
    "propose_bands",
    "reason_for_status",
    "replay",
    "scan_missing",
]
