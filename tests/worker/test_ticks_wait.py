"""The worker's wait lands in the next tick, however long the last one took: waiting a
whole interval after a slow tick used to skip a boundary, and with it a tick no replica
ran (an SLA check lost)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.worker.ticks import seconds_to_next_tick, tick_of


@pytest.mark.parametrize("seconds_into_tick", [0.0, 0.4, 30.0, 59.0, 59.95])
def test_the_wait_ends_in_the_very_next_tick(seconds_into_tick: float) -> None:
    start = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    now = start + timedelta(seconds=seconds_into_tick)
    woken = now + timedelta(seconds=seconds_to_next_tick(now, 60))
    assert tick_of(woken, 60) == tick_of(now, 60) + 60


def test_a_slow_tick_no_longer_skips_the_next() -> None:
    """Run at 59.9 s into a tick: a wait of the whole interval woke in the tick after next."""
    now = datetime(2026, 12, 5, 3, 0, 59, 900000, tzinfo=UTC)
    whole_interval = now + timedelta(seconds=60 + 0.5)
    assert tick_of(whole_interval, 60) == tick_of(now, 60) + 120  # the old way: one lost
    woken = now + timedelta(seconds=seconds_to_next_tick(now, 60))
    assert tick_of(woken, 60) == tick_of(now, 60) + 60
