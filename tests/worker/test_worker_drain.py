"""SIGTERM drains ``dho worker``: it stops starting ticks, lets the one under way end,
and exits cleanly within the grace period (issue #17, "Shutdown and back-pressure").

On a database of its own: the worker's jobs scan every centre, and must not act on
other tests' rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from service.migrate import upgrade


def test_sigterm_ends_the_worker_cleanly(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.sqlite3'}"
    upgrade(url)
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DHO_DATABASE_URL": url,
        "DHO_VAR_DIR": str(tmp_path / "var"),
        "DHO_SHUTDOWN_GRACE_SECONDS": "30",
    }
    dho = Path(sys.executable).with_name("dho")
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [str(dho), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "jobs started" not in log_path.read_text():
            assert worker.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "the worker never started its jobs"
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    text = log_path.read_text()
    assert code == 0, text[-2000:]
    assert "draining" in text
    assert "grace period over" not in text
    assert "Traceback" not in text
