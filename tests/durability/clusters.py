"""PostgreSQL clusters a test makes itself, on loopback ports of their own.

The machine's main cluster (5432) may not allow replication, and a test must not
change it: a replica drill initdbs a primary of its own, streams a standby from it
with ``pg_basebackup -R`` and stops both at the end. Run as root, the server
binaries run as the ``postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def server_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, or the one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def require_server_bin() -> Path:
    found = server_bin()
    if found is None:
        pytest.skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int

    def run(self, tool: str, *args: str) -> str:
        command = [*_as_server_user(), str(self.bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.data / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stderr}\n{tail}")
        return done.stdout

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql+asyncpg://{user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def psql(self, sql: str, database: str = "postgres") -> str:
        args = ("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database)
        return self.run("psql", *args, "-XAtqc", sql).strip()


def _settings(port: int, data: Path) -> str:
    return "\n".join(
        [
            "listen_addresses = '127.0.0.1'",
            f"port = {port}",
            f"unix_socket_directories = '{data}'",
            "wal_level = replica",
            "max_wal_senders = 4",
            "hot_standby = on",
            "fsync = off",
            "shared_buffers = 16MB",
            "",
        ]
    )


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    return folder


@contextlib.contextmanager
def primary_and_standby() -> Iterator[tuple[Cluster, Cluster]]:
    """A primary and a streaming standby of it, both running, stopped and removed after."""
    bin_dir = require_server_bin()
    root = Path(tempfile.mkdtemp(prefix="dho-replica-"))
    os.chmod(root, 0o711)  # noqa: S103 (the server user must reach its folders)
    started: list[Cluster] = []
    try:
        primary = Cluster(bin_dir, _folder(root, "primary"), free_port())
        primary.run(
            "initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(_settings(primary.port, primary.data))
        primary.start()
        started.append(primary)
        standby = Cluster(bin_dir, _folder(root, "standby"), free_port())
        primary.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast",
        )  # fmt: skip
        with (standby.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(_settings(standby.port, standby.data))
        standby.start()
        started.append(standby)
        yield primary, standby
    finally:
        for cluster in reversed(started):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def wait_for_replay(primary: Cluster, standby: Cluster, attempts: int = 600) -> None:
    """Until the standby has replayed everything the primary has written so far (a
    bounded wait for a state, not a timing assertion)."""
    target = primary.psql("SELECT pg_current_wal_lsn()")
    for _ in range(attempts):
        caught_up = standby.psql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
        if caught_up == "t":
            return
        time.sleep(0.05)
    raise AssertionError("the standby did not replay the primary's WAL")
