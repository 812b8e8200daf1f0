"""SIGTERM (or Ctrl-C) drains ``dho worker``: no new tick or export starts, the one under
way may finish within the grace period, and what is still running then is cancelled.

A cancelled tick's transaction rolls back with its claim (``ticks.run_tick``), and an
export's heartbeat stops: another worker takes both over, so nothing is lost, and
nothing was half done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable

log = logging.getLogger("dho.worker")


async def on_signal(work: Awaitable[object], stop: asyncio.Event, grace_seconds: float) -> None:
    """Run ``work`` until it ends; on SIGTERM or SIGINT set ``stop`` and give it
    ``grace_seconds`` to end by itself before it is cancelled."""
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            log.info("draining", extra={"event": "shutdown"})
            done, _ = await asyncio.wait({task}, timeout=grace_seconds)
            if not done:
                log.warning("grace period over: cancelling", extra={"event": "shutdown"})
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        stopping.cancel()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(number)
