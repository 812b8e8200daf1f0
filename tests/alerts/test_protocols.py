import copy
import json
from importlib import resources
from typing import Any

import pytest

from alerts import Band, ProtocolError, Severity, available_protocols, load_protocol
from alerts.protocols import ADVICE_KEYS, parse_protocol

PROTOCOLS = ("copd", "diabetes", "heart_failure", "hypertension")


def raw(code: str) -> dict[str, Any]:
    text = resources.files("alerts.protocols").joinpath(f"{code}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_the_four_protocols_are_available() -> None:
    assert available_protocols() == PROTOCOLS


@pytest.mark.parametrize("code", PROTOCOLS)
def test_each_protocol_loads_and_documents_its_sources(code: str) -> None:
    protocol = load_protocol(code)
    assert protocol.code == code
    assert protocol.name.nb
    assert protocol.name.en
    assert "review" in protocol.source
    assert set(protocol.advice) == set(ADVICE_KEYS)
    assert protocol.advice["yellow"].nb == "Oppfølgingstjenesten ringer deg i dag."
    assert protocol.advice["yellow"].en == "The follow-up centre will call you today."
    assert "113" in protocol.advice["critical"].nb
    assert "113" in protocol.advice["critical"].en
    assert protocol.late_after_hours == 6
    assert protocol.expected, "every protocol expects at least one measurement"
    for measurement, spec in raw(code)["measurements"].items():
        assert "note" in spec or measurement in ("diastolic", "heart_rate"), measurement


@pytest.mark.parametrize("code", PROTOCOLS)
def test_default_bands_sit_inside_the_safety_limits(code: str) -> None:
    protocol = load_protocol(code)
    for measurement, band in protocol.bands.items():
        safety = protocol.safety_limits.get(measurement)
        if safety is not None:
            assert band.tightened(safety) == band, measurement


@pytest.mark.parametrize(
    ("code", "measurement", "band"),
    [
        ("copd", "spo2", Band(red_low=85, yellow_low=88)),
        ("copd", "cat_score", Band(yellow_high=20)),
        ("hypertension", "systolic", Band(90, 100, 159, 180)),
        ("hypertension", "diastolic", Band(None, None, 99, 110)),
        ("diabetes", "glucose", Band(3.0, 4.0, 15.0, 20.0)),
        ("heart_failure", "spo2", Band(red_low=91, yellow_low=94)),
    ],
)
def test_clinical_defaults(code: str, measurement: str, band: Band) -> None:
    assert load_protocol(code).bands[measurement] == band


def test_copd_uses_news2_scale_2_and_heart_failure_the_weight_rule() -> None:
    copd = load_protocol("copd")
    assert (copd.news2.enabled, copd.news2.spo2_scale) == (True, 2)
    assert copd.safety_limits["spo2"] == Band(red_low=83)
    assert copd.weight_gain is None
    heart_failure = load_protocol("heart_failure")
    assert heart_failure.weight_gain is not None
    assert (heart_failure.weight_gain.kg, heart_failure.weight_gain.days) == (2.0, 3)
    assert heart_failure.weight_gain.severity is Severity.YELLOW
    assert not load_protocol("hypertension").news2.enabled


def test_unknown_protocol_is_refused_by_name() -> None:
    with pytest.raises(ProtocolError, match="unknown protocol 'asthma'"):
        load_protocol("asthma")
    with pytest.raises(ProtocolError, match="unknown protocol"):
        load_protocol("../copd")


def broken(path: str, value: object) -> dict[str, Any]:
    data = copy.deepcopy(raw("copd"))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("code", DELETE, "code"),
        ("source", "", "source"),
        ("name.nb", 3, "name.nb"),
        ("late_after_hours", "6", "late_after_hours"),
        ("late_after_hours", True, "late_after_hours"),
        ("measurements.spo2.band.red_low", 95, "spo2.band"),
        ("measurements.spo2.band.purple", 1, "unknown limits"),
        ("measurements.spo2.safety", {"red_low": 83, "yellow_low": 90}, "only hold red"),
        ("measurements.spo2.safety", {"red_low": 87}, "looser than its safety"),
        ("measurements.spo2.schedule.every_hours", 0, "spo2.schedule"),
        ("news2.spo2_scale", 3, "spo2_scale"),
        ("news2.enabled", "yes", "news2.enabled"),
        ("trends.spo2_drop.severity", "orange", "not a severity"),
        ("advice.critical", DELETE, "advice needs"),
        ("consecutive_required.threshold.high", 0, "at least 1"),
        ("measurements", [], "measurements"),
    ],
)
def test_malformed_protocols_fail_loudly(path: str, value: object, message: str) -> None:
    if path == "consecutive_required.threshold.high":
        data = copy.deepcopy(raw("copd"))
        data["consecutive_required"]["threshold.high"] = value
    else:
        data = broken(path, value)
    with pytest.raises(ProtocolError, match=message):
        parse_protocol(data)


def test_notes_are_for_reviewers_and_ignored() -> None:
    data = raw("copd")
    data["measurements"]["spo2"]["band"]["note"] = "why these numbers"
    assert parse_protocol(data).bands["spo2"] == Band(red_low=85, yellow_low=88)


def test_parse_protocol_refuses_non_objects() -> None:
    with pytest.raises(ProtocolError, match="expected an object"):
        parse_protocol([])
