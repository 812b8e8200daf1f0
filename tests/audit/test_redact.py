"""Search parameters keep what was asked, never an identity number."""

from __future__ import annotations

import pytest

from service.audit.redact import redact_query, scrub
from service.patients.identity_number import FNR_SYSTEM

NUMBER = "15076500565"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("identifier", f"{FNR_SYSTEM}|{NUMBER}")], f"identifier={FNR_SYSTEM}|[redacted]"),
        ([("identifier", NUMBER)], "identifier=[redacted]"),
        ([("subject:identifier", f"x|{NUMBER}")], "subject:identifier=x|[redacted]"),
        ([("identifier", f"{NUMBER}|x")], "identifier=[redacted]"),
        ([("patient", NUMBER)], "patient=[redacted]"),
        ([("patient", "Patient/150765 00565")], "patient=Patient/[redacted]"),
        ([("code", "8867-4"), ("_count", "5")], "code=8867-4&_count=5"),
        ([], None),
    ],
)
def test_identity_numbers_are_redacted(params: list[tuple[str, str]], expected: str) -> None:
    assert redact_query(params) == expected


def test_our_ids_are_kept_even_when_they_hold_long_runs_of_digits() -> None:
    patient_id = "0b5c7a2e-1f3d-4e5a-9b8c-a12345678901"
    assert scrub(patient_id) == patient_id
    assert scrub(f"Patient/{patient_id}") == f"Patient/{patient_id}"
    assert redact_query([("patient", patient_id)]) == f"patient={patient_id}"


def test_longer_numbers_are_not_identity_numbers() -> None:
    assert scrub("123456789012") == "123456789012"
