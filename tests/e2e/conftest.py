"""A real `dho serve` process for end-to-end tests, on the session's database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Database


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    database: Database, var_dir: Path, log_path: Path, *, workers: int = 2
) -> Iterator[str]:
    """``dho serve`` on a free port until the block ends; answers its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "DHO_DATABASE_URL": database.url,
        "DHO_VAR_DIR": str(var_dir),
        "DHO_LOG_LEVEL": "INFO",
        # Jobs run when a test runs them; a server's own would act on other tests' rows.
        "DHO_JOBS_IN_PROCESS": "false",
    }
    dho = Path(sys.executable).with_name("dho")
    command = [str(dho), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def server(database: Database, var_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log_path = tmp_path / "server.log"
    with running_server(database, var_dir, log_path) as base:
        yield base, log_path


@pytest.fixture(scope="module")
def page_server(
    database: Database, var_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """``dho serve --workers 2`` for a module of browser tests, and its log: on the
    PostgreSQL leg only (several server processes share the database)."""
    if database.kind != "postgres":
        pytest.skip("the browser tests run on the PostgreSQL leg (several server processes)")
    log = tmp_path_factory.mktemp("page-server") / "server.log"
    with running_server(database, var_dir, log, workers=2) as url:
        yield url, log


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Any]:
    """Debian's chromium under Playwright, one per module."""
    from playwright.async_api import async_playwright

    from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.e2e.browser import screenshots_dir

    return screenshots_dir(tmp_path_factory.getbasetemp())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Where the console's screenshots of this run are (not committed)."""
    from tests.e2e.browser import chosen_dir

    folder = chosen_dir()
    if folder is not None:
        terminalreporter.section("console screenshots")
        terminalreporter.line(f"screenshots of every console page: {folder}")
