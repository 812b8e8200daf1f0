"""The lock of every transitive dependency follows pyproject.toml's exact pins.

`make install` and the Dockerfile install from requirements-dev.lock and
requirements.lock with ``--require-hashes``; a pin changed in pyproject.toml without
`make lock` would silently install the old version, so it fails here instead.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)$")
LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$", re.MULTILINE)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"pyproject.toml must pin exactly: {requirement!r}"
        found[canonical(match[1])] = match[3]
    return found


def locked(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    entries = re.split(r"\n(?=\S)", text)
    packages: dict[str, str] = {}
    for entry in entries:
        match = LOCKED.match(entry)
        if match is None:
            assert entry.startswith("#") or not entry.strip(), f"{name}: unexpected {entry[:60]!r}"
            continue
        assert "--hash=sha256:" in entry, f"{name}: {match[1]} has no hash"
        packages[canonical(match[1])] = match[2]
    return packages


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SERVICE = pins(PROJECT["dependencies"])
DEV = pins(PROJECT["optional-dependencies"]["dev"])


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [("requirements.lock", SERVICE), ("requirements-dev.lock", {**SERVICE, **DEV})],
)
def test_the_lock_holds_every_pin_of_pyproject_at_its_version(
    lock: str, wanted: dict[str, str]
) -> None:
    packages = locked(lock)
    differing = {n: (v, packages.get(n)) for n, v in wanted.items() if packages.get(n) != v}
    assert not differing, f"{lock} differs from pyproject.toml (run `make lock`): {differing}"


def test_the_dev_lock_installs_the_service_as_the_image_does() -> None:
    service, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    assert {n: dev.get(n) for n in service} == service
    tools = {"pytest", "hypothesis", "mypy", "ruff", "playwright", "schemathesis"}
    assert not tools & service.keys(), "a dev tool leaked into the service's lock"
