"""The pure parts: the k-anonymity ladder, the output scan, the time shift, the keys."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from service.patients.identity_number import generate_identity_number
from service.patients.identity_vault import IdentityVault
from service.research import checks, kanon
from service.research.dates import TimeShift, draw_offset_days
from service.research.pseudonyms import Pseudonyms, StudyKeyring


def _subject(i: int, age: int, sex: str = "female", protocol: str = "copd") -> kanon.Subject:
    return kanon.Subject(f"p{i}", age, sex, "1804", protocol, date(2026, 2, 1))


def test_age_bands_top_code_at_90() -> None:
    assert kanon.age_band(74, 5, 90) == "70-74"
    assert kanon.age_band(97, 5, 90) == "90+"
    assert kanon.age_band(85, 20, 80) == "80+"
    assert kanon.region_of("1856") == "18"
    assert kanon.enrolment_period(date(2026, 8, 30), "quarter") == "2026-Q3"


def test_the_ladder_generalises_before_it_suppresses() -> None:
    # Ages 70-79 in 5-year bands make classes of 3; 10-year bands one class of 6.
    subjects = [_subject(i, 70 + i) for i in range(3)] + [_subject(i, 72 + i) for i in range(3, 6)]
    release = kanon.anonymise(subjects, kanon.QUASI_IDENTIFIERS, k=5, max_suppressed_share=0.0)
    assert release.level.age_width == 10
    assert release.suppressed == ()
    assert release.smallest_class == 6


def test_suppression_within_the_share_and_refusal_beyond_it() -> None:
    subjects = [_subject(i, 72) for i in range(9)] + [_subject(9, 97, protocol="diabetes")]
    release = kanon.anonymise(subjects, kanon.QUASI_IDENTIFIERS, k=5, max_suppressed_share=0.1)
    assert release.suppressed == ("p9",)
    with pytest.raises(kanon.AnonymityNotReached, match="1 of 10 patients"):
        kanon.anonymise(subjects, kanon.QUASI_IDENTIFIERS, k=5, max_suppressed_share=0.05)


def _needles() -> checks.Needles:
    return checks.Needles.build(
        [("Per Ola", "Nordmann"), ("Kari", "Øvergård")],
        ["SN-4711-XZ"],
        ["per patient", "the value"],
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f'{{"id": "{generate_identity_number(date(1950, 5, 17), 120)}"}}', "an identity number"),
        ("a,b,Nordmann,c", "a patient's name"),
        ('{"x": "ola"}', "a patient's name"),
        ("serial sn-4711-xz here", "a device serial"),
        ("one reading per patient", None),  # "per" is our word as well as a name
        ("9f2c" + generate_identity_number(date(1950, 5, 17), 120) + "ab", None),  # in a hex run
        ("72.12345678901", None),
        ("«Kari» rang", "a patient's name"),  # non-ASCII punctuation around a name
        ("NORDMANN\u2019s", "a patient's name"),
        ("nr.\u00a0" + generate_identity_number(date(1950, 5, 17), 120), "an identity number"),
        ("device SN-4711-XZ.", "a device serial"),  # a full stop after a serial
        ("øystein nordmannsen", None),  # a longer word is not the name
    ],
)
def test_the_scan_finds_numbers_names_and_serials(text: str, found: str | None) -> None:
    assert checks.scan_text(text, _needles()) == found


def test_offsets_are_never_zero_and_shifts_keep_the_time_of_day() -> None:
    assert all(draw_offset_days(1) in (-1, 1) for _ in range(200))
    shift = TimeShift(-40)
    moment = datetime(2026, 3, 29, 7, 42, 13, tzinfo=UTC)
    assert shift.fhir(moment) == "2026-02-17T07:00:00Z"
    assert TimeShift(3, "day").fhir(moment) == "2026-04-01"


def test_study_keys_are_bound_to_their_study_and_pseudonyms_to_their_key() -> None:
    keyring = StudyKeyring.from_vault(IdentityVault(bytes(range(32)), "k1"))
    key = keyring.new_key()
    sealed = keyring.seal("study-a", key)
    assert keyring.open("study-a", sealed, "k1") == key
    with pytest.raises(InvalidTag):
        keyring.open("study-b", sealed, "k1")
    one, other = Pseudonyms(key), Pseudonyms(keyring.new_key())
    assert one.patient("p1") == one.patient("p1") != other.patient("p1")
    assert one.patient("p1") != one.of("Observation", "p1")


def test_a_study_key_still_opens_after_a_data_key_rotation() -> None:
    old = IdentityVault(bytes(range(32)), "k1")
    sealed = StudyKeyring.from_vault(old).seal("study-a", bytes(32))
    rotated = StudyKeyring.from_vault(IdentityVault(bytes(32), "k2", {"k1": old.key}))
    assert rotated.open("study-a", sealed, "k1") == bytes(32)
    with pytest.raises(KeyError):
        StudyKeyring.from_vault(IdentityVault(bytes(32), "k2")).open("study-a", sealed, "k1")


def test_the_written_check_counts_every_column_of_the_patient_file(tmp_path: Path) -> None:
    """Not a list of quasi-identifiers kept elsewhere: what the file holds. A status
    column makes the one paused patient a class of her own."""
    rows = ['"p1","female","paused"'] + [f'"p{i}","female","active"' for i in range(2, 7)]
    (tmp_path / "patients.csv").write_text('"patient","sex","status"\n' + "\n".join(rows) + "\n")
    needles = _needles()
    with pytest.raises(checks.CheckFailed, match="a class of 1 patients, fewer than k=5"):
        checks.verify(tmp_path, [], needles, frozenset(), 5)
    assert checks.verify(tmp_path, [], needles, frozenset({"status"}), 5) == 6


def test_joined_releases_are_judged_on_the_union_of_their_attributes() -> None:
    by_sex = {f"p{i}": ("female" if i < 5 else "male",) for i in range(10)}
    by_age = {f"p{i}": ("70-74" if i in (0, 1, 2, 5, 6) else "75-79",) for i in range(10)}
    assert kanon.smallest_joined_class(by_sex, [by_age]) == (2, 10)
    assert kanon.smallest_joined_class(by_sex, [by_sex]) == (5, 10)
    assert kanon.smallest_joined_class(by_sex, [{"someone else": ("x",)}]) is None
