"""Debian's chromium under Playwright, axe-core in the page, and the screenshots folder.

Never ``playwright install``: there is no browser download here. ``make chromium``
installs Debian's package, launched by its path with the switches a sandboxed CI
machine needs.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
SERIOUS = ("serious", "critical")

_axe = Axe()
_folder: list[Path] = []


def screenshots_dir(base: Path) -> Path:
    """``$DHO_SCREENSHOTS_DIR/<run>`` if set, else the pytest run's own temporary folder;
    the path is printed at the end of the run (``tests/e2e/conftest.py``)."""
    if not _folder:
        run = datetime.now(UTC).strftime("console-%Y%m%dT%H%M%SZ")
        root = os.environ.get("DHO_SCREENSHOTS_DIR")
        folder = (Path(root) / run) if root else (base / run)
        folder.mkdir(parents=True, exist_ok=True)
        _folder.append(folder)
    return _folder[0]


def chosen_dir() -> Path | None:
    return _folder[0] if _folder else None


async def serious_violations(page: Any) -> list[str]:
    results = await _axe.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]


async def look(page: Any, folder: Path, name: str) -> None:
    """A screenshot of the whole page for a reviewer, and axe's verdict on it."""
    safe = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    await page.screenshot(path=str(folder / f"{safe}.png"), full_page=True)
    found = await serious_violations(page)
    assert found == [], f"{name}: {found}"
