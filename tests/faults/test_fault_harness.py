"""A short run of the fault harness (``tests.faults.harness``), on PostgreSQL: under load
through two API processes and two workers, with kill -9, a database restart, a slow
upload and a burst, nothing acknowledged is lost or doubled and nothing is a 500."""

from __future__ import annotations

import pytest

from tests.faults import harness
from tests.faults.cluster import server_bin

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


async def test_a_short_fault_run_loses_nothing_and_answers_no_500() -> None:
    if server_bin() is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    rows, recovery = await harness.run(seconds=30, gateways=4)
    harness.print_table(rows, recovery)
    failed = [(name, figure) for name, figure, ok in rows if not ok]
    assert failed == []
