"""Protocols as data: one JSON file per condition, read from the package.

The numbers are clinical decisions, so they live where a nurse or a physician can review
them with their sources beside them ("source" and "note" fields), not in code. The loader is
strict: a protocol that does not parse must stop the service at start, not mis-triage later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from alerts.careplan import Schedule
from alerts.model import Band, LocalText, Severity

ADVICE_KEYS = ("green", "yellow", "red", "critical")


class ProtocolError(ValueError):
    """A protocol file is missing, malformed or clinically inconsistent."""


@dataclass(frozen=True, slots=True)
class News2Settings:
    enabled: bool
    spo2_scale: int
    window_minutes: float


@dataclass(frozen=True, slots=True)
class WeightGain:
    kg: float
    days: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class Spo2Drop:
    points: float
    severity: Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class Protocol:
    """Population defaults for one condition; a CarePlan personalises them."""

    code: str
    name: LocalText
    source: str
    bands: Mapping[str, Band]
    safety_limits: Mapping[str, Band]
    expected: Mapping[str, Schedule]
    consecutive_required: Mapping[str, int]
    news2: News2Settings
    weight_gain: WeightGain | None
    spo2_drop: Spo2Drop | None
    # Keys: green, yellow, red, critical (a red safety limit crossed: "call 113").
    advice: Mapping[str, LocalText]
    late_after_hours: float
    future_tolerance_minutes: float
    device_silence_hours: float


def available_protocols() -> tuple[str, ...]:
    return _codes()


@cache
def load_protocol(code: str) -> Protocol:
    """Cached: protocols are read once per process and never change while it runs."""
    if code not in _codes():
        raise ProtocolError(f"unknown protocol {code!r}; known: {', '.join(_codes())}")
    text = resources.files(__name__).joinpath(f"{code}.json").read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{code}.json is not valid JSON: {exc}") from exc
    protocol = parse_protocol(raw)
    if protocol.code != code:
        raise ProtocolError(f"{code}.json declares code {protocol.code!r}")
    return protocol


@cache
def _codes() -> tuple[str, ...]:
    names = (entry.name for entry in resources.files(__name__).iterdir())
    return tuple(sorted(n.removesuffix(".json") for n in names if n.endswith(".json")))


def parse_protocol(data: object) -> Protocol:
    """A Protocol from parsed JSON; raises ProtocolError naming the field that is wrong."""
    raw = _obj(data, "protocol")
    code = _str(raw.get("code"), "code")
    bands: dict[str, Band] = {}
    safety: dict[str, Band] = {}
    expected: dict[str, Schedule] = {}
    for key, entry in _obj(raw.get("measurements"), "measurements").items():
        spec = _obj(entry, key)
        if "band" in spec:
            bands[key] = _band(spec["band"], f"{key}.band")
        if "safety" in spec:
            safety[key] = _band(spec["safety"], f"{key}.safety")
            if safety[key].yellow_low is not None or safety[key].yellow_high is not None:
                raise ProtocolError(f"{code}: {key}.safety may only hold red limits")
        if "schedule" in spec:
            expected[key] = _schedule(spec["schedule"], f"{key}.schedule")
        if key in bands and key in safety and bands[key].tightened(safety[key]) != bands[key]:
            raise ProtocolError(f"{code}: default band for {key} is looser than its safety limit")
    news2 = _obj(raw.get("news2"), "news2")
    trends = _obj(raw.get("trends"), "trends")
    advice = _obj(raw.get("advice"), "advice")
    if sorted(advice) != sorted(ADVICE_KEYS):
        raise ProtocolError(f"{code}: advice needs exactly {', '.join(ADVICE_KEYS)}")
    consecutive = {
        k: int(_num(v, f"consecutive_required.{k}"))
        for k, v in _obj(raw.get("consecutive_required"), "consecutive_required").items()
    }
    if any(n < 1 for n in consecutive.values()):
        raise ProtocolError(f"{code}: consecutive_required counts must be at least 1")
    scale = int(_num(news2.get("spo2_scale"), "news2.spo2_scale"))
    if scale not in (1, 2):
        raise ProtocolError(f"{code}: news2.spo2_scale must be 1 or 2")
    return Protocol(
        code=code,
        name=_text(raw.get("name"), "name"),
        source=_str(raw.get("source"), "source"),
        bands=bands,
        safety_limits=safety,
        expected=expected,
        consecutive_required=consecutive,
        news2=News2Settings(
            enabled=_bool(news2.get("enabled"), "news2.enabled"),
            spo2_scale=scale,
            window_minutes=_num(news2.get("window_minutes"), "news2.window_minutes"),
        ),
        weight_gain=_weight_gain(trends.get("weight_gain")),
        spo2_drop=_spo2_drop(trends.get("spo2_drop")),
        advice={k: _text(v, f"advice.{k}") for k, v in advice.items()},
        late_after_hours=_num(raw.get("late_after_hours"), "late_after_hours"),
        future_tolerance_minutes=_num(
            raw.get("future_tolerance_minutes"), "future_tolerance_minutes"
        ),
        device_silence_hours=_num(raw.get("device_silence_hours"), "device_silence_hours"),
    )


def _weight_gain(raw: object) -> WeightGain | None:
    if raw is None:
        return None
    spec = _obj(raw, "trends.weight_gain")
    return WeightGain(
        kg=_num(spec.get("kg"), "trends.weight_gain.kg"),
        days=_num(spec.get("days"), "trends.weight_gain.days"),
        severity=_severity(spec.get("severity"), "trends.weight_gain.severity"),
    )


def _spo2_drop(raw: object) -> Spo2Drop | None:
    if raw is None:
        return None
    spec = _obj(raw, "trends.spo2_drop")
    return Spo2Drop(
        points=_num(spec.get("points"), "trends.spo2_drop.points"),
        severity=_severity(spec.get("severity"), "trends.spo2_drop.severity"),
    )


def _band(raw: object, where: str) -> Band:
    spec = _obj(raw, where)
    limits = ("red_low", "yellow_low", "yellow_high", "red_high")
    unknown = set(spec) - set(limits)
    if unknown:
        raise ProtocolError(f"{where}: unknown limits {sorted(unknown)}")
    values = [None if spec.get(k) is None else _num(spec[k], f"{where}.{k}") for k in limits]
    try:
        return Band(*values)
    except ValueError as exc:
        raise ProtocolError(f"{where}: {exc}") from exc


def _schedule(raw: object, where: str) -> Schedule:
    spec = _obj(raw, where)
    try:
        return Schedule(
            every_hours=_num(spec.get("every_hours"), f"{where}.every_hours"),
            window_hours=_num(spec.get("window_hours", 0), f"{where}.window_hours"),
            grace_hours=_num(spec.get("grace_hours", 0), f"{where}.grace_hours"),
        )
    except ValueError as exc:
        raise ProtocolError(f"{where}: {exc}") from exc


def _severity(raw: object, where: str) -> Severity:
    try:
        return Severity(_str(raw, where))
    except ValueError as exc:
        raise ProtocolError(f"{where}: {raw!r} is not a severity") from exc


def _text(raw: object, where: str) -> LocalText:
    spec = _obj(raw, where)
    return LocalText(nb=_str(spec.get("nb"), f"{where}.nb"), en=_str(spec.get("en"), f"{where}.en"))


def _obj(raw: object, where: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise ProtocolError(f"{where}: expected an object")
    # "note" documents the numbers for reviewers; the rules never read it.
    return {str(k): v for k, v in raw.items() if k != "note"}


def _num(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ProtocolError(f"{where}: expected a number, got {raw!r}")
    return float(raw)


def _str(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise ProtocolError(f"{where}: expected a non-empty string")
    return raw


def _bool(raw: object, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ProtocolError(f"{where}: expected true or false")
    return raw
