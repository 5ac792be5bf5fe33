"""Checks that this machine can run the lab: one [OK]/[WARN]/[FAIL] line per requirement.

``streamlab doctor`` prints them; lesson 00 calls :func:`run_checks` for the same lines.

    >>> from streamlab import config, doctor
    >>> for check in doctor.run_checks(config.load()):  # doctest: +SKIP
    ...     print(check.line())
    [OK]   Python 3.11.7
"""

from __future__ import annotations

import enum
import importlib
import importlib.metadata
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from streamlab import stack
from streamlab.config import ConfigError, Settings

MIN_PYTHON = (3, 11)
DISK_FAIL_BYTES = 200 * 1024**2
DISK_WARN_BYTES = 1024**3

# Import name -> distribution name; keep in step with [project] dependencies in pyproject.toml
# (a unit test compares them).
REQUIRED_MODULES = {
    "kio": "kio",
    "crc32c": "crc32c",
    "cramjam": "cramjam",
    "confluent_kafka": "confluent-kafka",
    "aiohttp": "aiohttp",
    "psutil": "psutil",
    "google.protobuf": "protobuf",
    "grpc_tools": "grpcio-tools",
    "jsonschema": "jsonschema",
    "boto3": "boto3",
    "moto": "moto",
    "flask": "flask",
    "flask_cors": "flask-cors",
    "awslambdaric": "awslambdaric",
    "lark": "lark",
    "rocksdict": "rocksdict",
}


class Level(enum.Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One requirement's outcome; ``fix`` says what to do when it is not OK."""

    level: Level
    what: str
    fix: str = ""

    def line(self) -> str:
        tag = f"[{self.level.value}]".ljust(7)
        return f"{tag}{self.what}" + (f" - {self.fix}" if self.fix else "")


def run_checks(settings: Settings) -> list[Check]:
    checks = [check_profile(settings), check_python(), *check_packages()]
    checks += check_ports(settings)
    checks.append(check_disk(settings.paths.home))
    if settings.profile.name == "jvm":
        checks.append(check_jvm())
    if settings.profile.name == "docker":
        checks += check_docker(settings)
    if settings.profile.name == "cloud":
        checks += check_cloud(settings)
    return checks


def check_profile(settings: Settings) -> Check:
    p = settings.profile
    if not p.available:
        return Check(Level.FAIL, f"profile {p.name!r} is not available yet", "use 'emulated'")
    return Check(Level.OK, f"profile {p.name!r}: {p.description}")


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    shown = ".".join(map(str, version))
    if version[:2] >= MIN_PYTHON:
        return Check(Level.OK, f"Python {shown}")
    need = ".".join(map(str, MIN_PYTHON))
    return Check(Level.FAIL, f"Python {shown}", f"install Python {need} or newer")


def check_packages() -> list[Check]:
    checks = []
    for module, dist in REQUIRED_MODULES.items():
        try:
            importlib.import_module(module)
        except Exception as e:  # a broken native extension raises more than ImportError
            fix = "run `pip install -e .` in the project folder (inside your venv)"
            checks.append(Check(Level.FAIL, f"package {dist} does not import ({e})", fix))
            continue
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        checks.append(Check(Level.OK, f"package {dist} {version}"))
    return checks


def check_ports(settings: Settings) -> list[Check]:
    ours = _ports_of_running_lab(settings)
    checks = []
    for comp in stack.components_for(settings.profile.name):
        ctx = stack.LaunchContext(settings, Path(), Path(), brokers=1)
        for name, port in comp.ports(ctx):
            if port == 0:
                checks.append(Check(Level.OK, f"port for {name}: chosen by the OS at start"))
            elif port in ours:
                checks.append(Check(Level.OK, f"port {port} ({name}) is used by this lab"))
            elif stack.port_free(port):
                checks.append(Check(Level.OK, f"port {port} ({name}) is free"))
            else:
                checks.append(
                    Check(
                        Level.FAIL,
                        f"port {port} ({name}) is in use by another program",
                        f"stop it, or set [ports] {name} in {settings.paths.home / 'config.toml'}",
                    )
                )
    return checks


def check_disk(home: Path) -> Check:
    folder = home
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    what = f"{free / 1024**3:.1f} GB free for {home}"
    if free < DISK_FAIL_BYTES:
        return Check(Level.FAIL, what, "free some disk space or set STREAMLAB_HOME elsewhere")
    if free < DISK_WARN_BYTES:
        return Check(Level.WARN, what, "topics and jars may fill it; free some space")
    return Check(Level.OK, what)


def check_jvm() -> Check:
    """Java and Maven as streamlab.realkafka will use them (PATH, not JAVA_HOME)."""
    from streamlab import realkafka  # imported only for the jvm profile

    ok, reason = realkafka.available()
    what = f"Java {realkafka.MIN_JAVA}+ and Maven (profile 'jvm')"
    return Check(Level.OK, f"{what}: {reason}") if ok else Check(Level.FAIL, what, reason)


def check_docker(settings: Settings, run=subprocess.run) -> list[Check]:
    """The Docker CLI, its daemon, Compose v2, and whether the compose stack answers."""
    compose = "docker compose -f setup/docker/compose.yaml up -d"
    if shutil.which("docker") is None:
        return [Check(Level.FAIL, "Docker (profile 'docker')", "install Docker Desktop or Engine")]
    checks = []
    for args, what, fix in (
        (["docker", "info", "--format", "{{.ServerVersion}}"], "Docker daemon",
         "start Docker (Docker Desktop, or `sudo systemctl start docker`)"),
        (["docker", "compose", "version", "--short"], "Docker Compose v2",
         "install the compose plugin (Docker Desktop has it)"),
    ):  # fmt: skip
        try:
            done = run(args, capture_output=True, text=True, timeout=15)
            ok, out = done.returncode == 0, (done.stdout or done.stderr).strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            ok, out = False, str(e)
        if ok:
            checks.append(Check(Level.OK, f"{what} {out.splitlines()[0] if out else ''}".strip()))
        else:
            checks.append(Check(Level.FAIL, f"{what}: {out.splitlines()[-1] if out else '?'}", fix))
    if all(c.level is Level.OK for c in checks):
        for name in ("kafka", "registry", "ksql"):
            port = settings.ports[name]
            if _answers(port):
                checks.append(Check(Level.OK, f"{name} answers on port {port} (compose stack)"))
            else:
                checks.append(
                    Check(Level.WARN, f"{name} does not answer on port {port}", f"run `{compose}`")
                )
    return checks


def check_cloud(settings: Settings) -> list[Check]:
    """The cloud profile's endpoints and keys are set (values are never shown)."""
    from streamlab import config

    checks = []
    try:
        config.bootstrap_servers(settings)
        config.kafka_credentials(settings)
        checks.append(Check(Level.OK, "Confluent Cloud Kafka endpoint and API key are set"))
    except ConfigError as e:
        checks.append(
            Check(
                Level.FAIL,
                "Confluent Cloud Kafka settings",
                f"{e}; or run `python -m setup.cloud up`",
            )
        )
    for key in ("registry_url", "ksql_url"):
        if settings.profile_value(key):
            checks.append(Check(Level.OK, f"{key} is set"))
        else:
            checks.append(Check(Level.FAIL, f"{key} is not set", "run `python -m setup.cloud up`"))
    return checks


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _ports_of_running_lab(settings: Settings) -> set[int]:
    lab = stack.Stack(settings)
    live = (stack.State.RUNNING, stack.State.UNHEALTHY)
    return {port for s in lab.status() if s.state in live for port in s.ports}
