"""A PostgreSQL cluster of the test's own, on loopback and its own port, that the test
may stop, restart and kill without touching anyone else's database.

Made with the server's own tools (``initdb``, ``pg_ctl``) found under
``/usr/lib/postgresql/*/bin``. PostgreSQL refuses to run as root: as root, the tools
run as the ``postgres`` system user, in a directory that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def server_bin() -> Path | None:
    """The newest installed server's binaries, or None where there is no server."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """``start``, ``restart``, ``stop``: each waits until the server has done it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="dho-cluster-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._ctl("start", "-l", str(self.log), "-o", self._options())

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast", "-l", str(self.log), "-o", self._options())

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def remove(self) -> None:
        subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate"],
            capture_output=True,
            check=False,
            **self._user(),
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def _options(self) -> str:
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
            " -c fsync=off -c max_connections=200"
        )

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", args[0], "-D", str(self.data), "-w", "-t", "60", *args[1:])

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / tool), *args], check=True, capture_output=True, **self._user()
        )

    def _user(self) -> dict[str, str]:
        return {"user": "postgres", "group": "postgres"} if self._as_root else {}
