"""What an operator would check in docker/ before trusting it, checked on every test run.

There is no Docker engine in CI, so the compose file and the Dockerfile are read as data: the
checks below are the ones a reviewer would otherwise do by eye, and forget on the next edit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker" / "compose.yaml"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

APP_SERVICES = ("migrate", "api", "worker")
LONG_RUNNING = ("db", "api", "worker", "db-replica", "journal-receiver")
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL", re.IGNORECASE)
# `${VAR:?message}`: compose refuses to start when VAR is unset or empty.
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}")


# --- reading the files -------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for instruction, args in self.instructions if instruction == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions with line continuations joined and comments dropped; enough for our file."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            parts = args.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args[m[1] or m[2]], parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages:
            assert keyword == "ARG", f"only ARG may come before the first FROM, not {keyword}"
            arg_name, _, default = args.partition("=")
            global_args[arg_name] = default
        else:
            stages[-1].instructions.append((keyword, args))
    return Dockerfile(global_args=global_args, stages=stages)


def env_pairs(args: str) -> list[tuple[str, str]]:
    """`ENV A=1 B=2`, or the legacy `ENV A 1`."""
    tokens = shlex.split(args)
    if tokens and "=" not in tokens[0]:
        return [(tokens[0], " ".join(tokens[1:]))]
    return [(name, value) for name, _, value in (token.partition("=") for token in tokens)]


def copy_sources(args: str) -> list[str]:
    """Source paths of a COPY/ADD from the build context; empty for `COPY --from=...`."""
    tokens = json.loads(args) if args.startswith("[") else shlex.split(args)
    if any(token.startswith("--from") for token in tokens):
        return []
    paths = [token for token in tokens if not token.startswith("--")]
    return paths[:-1]


def exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"use the exec (JSON) form so signals reach the process: {args}"
    value = json.loads(args)
    assert isinstance(value, list)
    return [str(item) for item in value]


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final_stage(dockerfile: Dockerfile) -> Stage:
    return dockerfile.stages[-1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    assert isinstance(command, list), "write commands as lists: no shell, no word-splitting"
    return [str(part) for part in command]


def healthcheck_python(test: list[str]) -> str:
    assert test[:3] == ["CMD", "python", "-c"], test
    return test[3]


def uses_our_image(service: dict[str, Any]) -> bool:
    build = service.get("build")
    return isinstance(build, dict) and build.get("dockerfile") == "docker/Dockerfile"


# --- compose -----------------------------------------------------------------------------------


def test_services_are_the_expected_ones(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"db", "migrate", "api", "worker", "db-replica", "journal-receiver"}
    assert services["db-replica"]["profiles"] == ["replica"], "the replica is optional"
    assert services["journal-receiver"]["profiles"] == ["journal"], "the receiver is optional"
    for name in APP_SERVICES:
        assert uses_our_image(services[name]), f"{name} must run the image built from docker/"
        assert services[name]["build"]["context"] == "..", "the build context is the repo root"


def test_the_journal_receiver_runs_the_tests_receiver_in_our_image(
    services: dict[str, dict[str, Any]],
) -> None:
    """The stand-in record runs tests/journal/receiver.py, mounted read-only, with the
    image's Python: only what the image installs may be imported there, no DHO setting
    (nor secret) reaches it, and its healthcheck asks its own port."""
    receiver = services["journal-receiver"]
    assert uses_our_image(receiver)
    assert receiver["entrypoint"] == ["python", "-m", "uvicorn"]
    command = command_of(receiver)
    module, _, attribute = command[0].partition(":")
    app_dir = command[command.index("--app-dir") + 1]
    port = command[command.index("--port") + 1]
    [mount] = [v for v in receiver["volumes"] if v.split(":")[1].startswith(app_dir)]
    source, target, mode = mount.split(":")
    assert (target, mode) == (f"{app_dir}/{module}.py", "ro")
    path = (COMPOSE_FILE.parent / source).resolve()
    assert path == REPO_ROOT / "tests" / "journal" / "receiver.py"
    code = path.read_text()
    assert f"\n{attribute} = " in code or f"\nasync def {attribute}(" in code
    assert not [v for v in receiver["environment"] if v.startswith("DHO_")]
    assert f"http://127.0.0.1:{port}/_stats" in healthcheck_python(receiver["healthcheck"]["test"])
    assert any(str(p).endswith(f":{port}") for p in receiver["ports"])
    locked = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (REPO_ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith(" ")
    }
    imported = set(re.findall(r"^(?:from|import) ([a-z_]+)", code, re.MULTILINE))
    distributions = {"fhir": "fhir-resources"}
    outside = {
        name
        for name in imported - set(sys.stdlib_module_names) - {"__future__"}
        if distributions.get(name, name) not in locked
    }
    assert not outside, f"the image does not install {sorted(outside)}"


def test_database_is_postgres_16(services: dict[str, dict[str, Any]]) -> None:
    image = services["db"]["image"]
    assert re.fullmatch(r"postgres:16([.\-@].*)?", image), image
    volumes = services["db"]["volumes"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in volumes), "data must outlive it"
    source = next(v for v in volumes if v.endswith(":/var/lib/postgresql/data")).split(":")[0]
    assert "/" not in source, "use a named volume, not a bind mount"
    assert "ports" not in services["db"], "the database must not be published on the host"


def test_compose_runs_the_tested_topology(services: dict[str, dict[str, Any]]) -> None:
    """Two API processes and two workers on one PostgreSQL, as the fault harness runs them;
    the service's own role in DHO_DATABASE_URL, the owner's only for `dho migrate`."""
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "://dho_service:" in services["api"]["environment"]["DHO_DATABASE_URL"]
    migrate = services["migrate"]["environment"]
    assert "://dho:" in migrate["DHO_MIGRATE_DATABASE_URL"]
    assert "/health/ready" in healthcheck_python(services["api"]["healthcheck"]["test"])


def test_api_serves_on_8000_with_two_workers(services: dict[str, dict[str, Any]]) -> None:
    api = services["api"]
    command = command_of(api)
    assert command[0] == "serve"
    assert command[command.index("--workers") + 1] == "2"
    assert command[command.index("--port") + 1] == "8000"
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - inside the container
    assert any(str(port).endswith(":8000") for port in api["ports"])


def test_worker_and_migrate_run_their_subcommands(services: dict[str, dict[str, Any]]) -> None:
    assert command_of(services["worker"])[0] == "worker"
    assert command_of(services["migrate"]) == ["migrate"]
    # A failed migration must stay failed (and keep api/worker down), not retry forever.
    assert services["migrate"]["restart"] == "no"


def test_long_running_services_restart(services: dict[str, dict[str, Any]]) -> None:
    for name in LONG_RUNNING:
        assert services[name]["restart"] in {"unless-stopped", "always", "on-failure"}, name


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} declares no healthcheck"
        check = service["healthcheck"]
        if name in LONG_RUNNING:
            assert not check.get("disable"), f"{name} runs for ever; its health must be known"
            assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
            for setting in ("interval", "timeout", "retries"):
                assert check.get(setting), f"{name}: healthcheck {setting} is not set"
        else:
            # One-shot: the image's HTTP HEALTHCHECK would report it unhealthy while it works.
            assert check.get("disable") is True, name


def test_database_healthcheck_uses_pg_isready(services: dict[str, dict[str, Any]]) -> None:
    test = services["db"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(test)


def test_api_healthcheck_asks_the_health_endpoint(services: dict[str, dict[str, Any]]) -> None:
    code = healthcheck_python(services["api"]["healthcheck"]["test"])
    compile(code, "<api healthcheck>", "exec")
    assert "http://127.0.0.1:8000/health" in code


def test_healthcheck_code_survives_compose_interpolation(
    services: dict[str, dict[str, Any]],
) -> None:
    # Compose substitutes $VAR everywhere, including inside these strings.
    for name in ("api", "worker"):
        assert "$" not in healthcheck_python(services[name]["healthcheck"]["test"]), name


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_waits_for_database_and_migration(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["db"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_migrate_waits_for_a_healthy_database(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_containers_are_hardened(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("read_only") is True, f"{name}: root file system should be read-only"
        assert "/tmp" in service.get("tmpfs", []), f"{name}: needs a writable /tmp"  # noqa: S108
        assert not service.get("privileged"), name
    for name in APP_SERVICES:
        assert services[name].get("cap_drop") == ["ALL"], name
        assert services[name].get("user") in (None, "10001", "10001:10001"), name


def test_app_configuration_is_production(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["DHO_ENVIRONMENT"] == "production", name
        assert environment["DHO_DATABASE_URL"].startswith("postgresql+asyncpg://"), name
        assert "@db:5432/" in environment["DHO_DATABASE_URL"], name


def test_compose_secrets_come_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        environment = service.get("environment", {})
        assert isinstance(environment, dict), f"{name}: write environment as a mapping"
        for variable, value in environment.items():
            if SECRET_NAME.search(variable):
                assert REQUIRED_VARIABLE.fullmatch(str(value)), (
                    f"{name}: {variable} must be `${{VAR:?message}}`, not a literal or a default"
                )
            credentials = re.match(r"[a-z+]+://[^:/@]+:([^@]*)@", str(value))
            if credentials:
                assert REQUIRED_VARIABLE.fullmatch(credentials[1]), (
                    f"{name}: the password in {variable} must come from a required variable"
                )


def test_compose_names_only_settings_the_service_knows(
    services: dict[str, dict[str, Any]],
) -> None:
    try:
        from service.settings import Settings
    except ImportError as error:  # pragma: no cover - depends on what exists yet
        pytest.skip(f"service.settings is not importable yet: {error}")
    known = {f"DHO_{name.upper()}" for name in Settings.model_fields}
    for name in APP_SERVICES:
        unknown = {v for v in services[name]["environment"] if v.startswith("DHO_")} - known
        assert not unknown, f"{name} sets variables no setting reads: {sorted(unknown)}"


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_python_311_slim(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2
    for stage in dockerfile.stages:
        assert stage.base.split("@")[0] == "python:3.11-slim", stage.base
    # The venv's interpreter is a symlink into the base image: both must be the same image.
    assert len({stage.base for stage in dockerfile.stages}) == 1


def test_final_stage_runs_as_a_fixed_non_root_user(final_stage: Stage) -> None:
    users = final_stage.all("USER")
    assert users, "the final stage has no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "use a fixed numeric uid, so file ownership does not depend on /etc"
    assert int(user) >= 1000


def test_final_stage_has_a_python_healthcheck(final_stage: Stage) -> None:
    checks = final_stage.all("HEALTHCHECK")
    assert len(checks) == 1
    command = exec_form(checks[0][checks[0].index("CMD") + len("CMD") :].strip())
    assert command[:2] == ["python", "-c"], "slim images have no curl"
    compile(command[2], "<image healthcheck>", "exec")
    assert "http://127.0.0.1:8000/health" in command[2]


def test_final_stage_entrypoint_and_command(final_stage: Stage) -> None:
    assert exec_form(final_stage.all("ENTRYPOINT")[-1]) == ["dho"]
    command = exec_form(final_stage.all("CMD")[-1])
    assert command == ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]  # noqa: S104
    assert "8000" in final_stage.all("EXPOSE")


def test_final_stage_python_environment(final_stage: Stage) -> None:
    env = dict(pair for args in final_stage.all("ENV") for pair in env_pairs(args))
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"


def test_final_stage_has_no_build_tools(final_stage: Stage) -> None:
    for args in final_stage.all("RUN") + final_stage.all("ADD"):
        for tool in ("apt-get install", "apk add", "pip install", "gcc", "build-essential"):
            assert tool not in args, f"the runtime stage installs {tool!r}"
    for args in final_stage.all("COPY"):
        assert copy_sources(args) == [], "the runtime stage copies only from the build stage"


def test_dockerfile_has_no_secret_looking_values(dockerfile: Dockerfile) -> None:
    pairs = list(dockerfile.global_args.items())
    for stage in dockerfile.stages:
        for args in stage.all("ENV"):
            pairs.extend(env_pairs(args))
        for args in stage.all("ARG"):
            name, _, default = args.partition("=")
            pairs.append((name, default))
    for name, value in pairs:
        if SECRET_NAME.search(name):
            assert not value or value.startswith("$"), f"{name} has a literal value in the image"


def test_every_copied_path_exists(dockerfile: Dockerfile) -> None:
    sources = [
        source
        for stage in dockerfile.stages
        for args in stage.all("COPY") + stage.all("ADD")
        for source in copy_sources(args)
    ]
    assert sources, "the Dockerfile copies nothing from the repository"
    missing = [source for source in sources if not (REPO_ROOT / source).exists()]
    assert not missing, f"COPY sources missing from the repository: {missing}"


def test_dockerfile_copies_only_what_the_service_needs(dockerfile: Dockerfile) -> None:
    sources = {
        source.rstrip("/")
        for stage in dockerfile.stages
        for args in stage.all("COPY")
        for source in copy_sources(args)
    }
    assert sources == {
        "requirements.lock",
        "pyproject.toml",
        "README.md",
        "service",
        "alerts",
        "fhir",
        "migrations",
    }


# --- .dockerignore -----------------------------------------------------------------------------


def _dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:[^/]*/)*", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((include, re.compile(regex)))
    return rules


def sent_to_docker(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    sent = True
    for include, regex in _dockerignore_rules():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            sent = include
    return sent


def test_dockerignore_lets_the_copied_paths_through(dockerfile: Dockerfile) -> None:
    for stage in dockerfile.stages:
        for args in stage.all("COPY"):
            for source in copy_sources(args):
                assert sent_to_docker(source), f".dockerignore hides {source}"
    assert sent_to_docker("service/patients/identity_number.py")
    assert sent_to_docker("fhir/catalogue.json")
    assert sent_to_docker("migrations/versions/0001_initial.py")


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "docker/.env",
        "service/.env",
        "var/dho.sqlite3",
        "var/dev-data-key",
        ".venv/bin/python",
        ".git/config",
        "tests/test_docker.py",
        "service/__pycache__/cli.cpython-311.pyc",
        "dho.egg-info/PKG-INFO",
    ],
)
def test_dockerignore_keeps_secrets_and_clutter_out(path: str) -> None:
    assert not sent_to_docker(path)


# --- the dho CLI knows what compose asks of it ---------------------------------------------------


def _build_parser() -> argparse.ArgumentParser:
    if not (REPO_ROOT / "service" / "cli.py").exists():
        pytest.skip("service/cli.py does not exist yet")
    try:
        from service.cli import build_parser
    except ImportError as error:
        pytest.skip(f"service.cli.build_parser is not importable yet: {error}")
    parser = build_parser()
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def test_every_command_is_one_the_cli_knows(
    services: dict[str, dict[str, Any]], final_stage: Stage
) -> None:
    parser = _build_parser()
    subcommands: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subcommands.update(action.choices)
    commands = {name: command_of(services[name]) for name in APP_SERVICES}
    commands["Dockerfile CMD"] = exec_form(final_stage.all("CMD")[-1])
    for where, command in commands.items():
        assert command[0] in subcommands, f"{where}: `dho {command[0]}` is not a subcommand"
        try:
            parser.parse_args(command)
        except SystemExit:
            pytest.fail(f"{where}: `dho {' '.join(command)}` is rejected by the CLI")


# --- the worker healthcheck, run for real -------------------------------------------------------

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/cmdline").exists(), reason="the worker healthcheck reads Linux /proc"
)


def _run_worker_check(services: dict[str, dict[str, Any]]) -> int:
    code = healthcheck_python(services["worker"]["healthcheck"]["test"])
    return subprocess.run([sys.executable, "-c", code], timeout=30, check=False).returncode


def _fake_worker() -> subprocess.Popen[bytes]:
    # Same argument shape as in the container: python /opt/venv/bin/dho worker.
    sleeper = "import time; time.sleep(60)"
    return subprocess.Popen([sys.executable, "-c", sleeper, "/opt/venv/bin/dho", "worker"])


def _another_worker_runs() -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"worker" in args:
            return True
    return False


@needs_proc
def test_worker_healthcheck_passes_while_a_worker_runs(
    services: dict[str, dict[str, Any]],
) -> None:
    worker = _fake_worker()
    try:
        assert _run_worker_check(services) == 0
    finally:
        worker.kill()
        worker.wait()


@needs_proc
def test_worker_healthcheck_fails_without_a_worker(services: dict[str, dict[str, Any]]) -> None:
    # The check must not count itself, although its own code mentions the worker.
    if _run_worker_check(services) != 0:
        return
    if _another_worker_runs():
        pytest.skip("a real `dho worker` is running on this machine")
    pytest.fail("the worker healthcheck passes with no worker running")


@needs_proc
def test_worker_healthcheck_fails_for_a_dead_worker(services: dict[str, dict[str, Any]]) -> None:
    worker = _fake_worker()
    try:
        worker.kill()
        # Not reaped yet: it stays a zombie, as a crashed child of a hung init would.
        stat = Path(f"/proc/{worker.pid}/stat")
        deadline = time.monotonic() + 10
        while stat.read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
            assert time.monotonic() < deadline, "the fake worker did not die"
            time.sleep(0.01)
        if _run_worker_check(services) == 0 and not _another_worker_runs():
            pytest.fail("the worker healthcheck counts a zombie as a running worker")
    finally:
        worker.wait()
