"""Revision 0013 turns each device's one bound patient into a loan: a device bound on
first sight keeps its readings, also those taken before the binding."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from service.migrate import upgrade

_ROWS = [
    "INSERT INTO centre (id, name, municipalities, created_at) "
    "VALUES ('c1', 'C', '[\"1804\"]', '2026-01-01 00:00:00.000000')",
    "INSERT INTO patient (id, centre_id, identity_hash, identity_system, identity_ciphertext, "
    "identity_key_id, given_name, family_name, birth_date, sex, municipality, status, "
    "enrolled_at, version_id, created_at) VALUES ('p1', 'c1', 'h', 's', 'x', 'k', 'A', 'B', "
    "'1940-01-01', 'female', '1804', 'active', '2026-01-01 00:00:00.000000', 1, "
    "'2026-01-01 00:00:00.000000')",
    "INSERT INTO device (id, centre_id, patient_id, identifier_system, identifier_value, "
    "assigned_from, clock_doubtful, resource, created_at) VALUES ('d1', 'c1', 'p1', 'urn:s', "
    "'serial', '2026-01-05 08:00:00.000000', 0, '{}', '2026-01-05 08:00:00.000000')",
    "INSERT INTO device (id, centre_id, identifier_system, identifier_value, clock_doubtful, "
    "resource, created_at) VALUES ('d2', 'c1', 'urn:s', 'other', 0, '{}', "
    "'2026-01-05 08:00:00.000000')",
    "INSERT INTO observation (id, centre_id, patient_id, device_id, measurement, code, status, "
    "effective_at, effective_original, time_doubtful, received_at, dedup_key, resource, "
    "version_id) VALUES ('o1', 'c1', 'p1', 'd1', 'heart_rate', '8867-4', 'final', "
    "'2026-01-04 07:00:00.000000', '2026-01-04T07:00:00+00:00', 0, "
    "'2026-01-05 08:00:00.000000', 'k', '{}', 1)",
]


async def test_bound_devices_become_first_use_loans(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'loans.sqlite3'}"
    await asyncio.to_thread(upgrade, url, "0007")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'loans.sqlite3'}")
    with engine.begin() as conn:
        for statement in _ROWS:
            conn.execute(sa.text(statement))
    await asyncio.to_thread(upgrade, url)
    with engine.connect() as conn:
        loans = conn.execute(
            sa.text("SELECT device_id, patient_id, lent_at, returned_at, lent_by FROM device_loan")
        ).all()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("device")}
    engine.dispose()
    # The reading from before the binding is covered: the loan starts at it.
    assert [(d, p, r, b) for d, p, _, r, b in loans] == [("d1", "p1", None, "first-use")]
    lent_at = datetime.fromisoformat(loans[0][2]).replace(tzinfo=UTC)
    assert lent_at == datetime(2026, 1, 4, 7, tzinfo=UTC)
    assert "patient_id" not in columns
