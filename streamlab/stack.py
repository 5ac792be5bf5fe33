"""Process supervision for the lab stack: start, wait until healthy, stop, report.

Each component runs as its own detached process (own session, so one can be killed in a lesson
and the terminal that started it can close). Files under the lab home (``.streamlab/``):

* ``run/<component>.json``   state: pid, process group, ports, start time, endpoints;
* ``logs/<component>.log``   stdout and stderr (the previous run's log is kept as ``.log.1``);
* ``data/<data_name>/``      the component's data.

Components are rows of :data:`COMPONENTS`; adding registry, ksql or lambda is one more row.

    >>> from streamlab import config, stack
    >>> lab = stack.Stack(config.load())            # doctest: +SKIP
    >>> lab.up(); print(lab.status()); lab.down()   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import enum
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

import streamlab
from streamlab.config import LOCALHOST, ConfigError, LabPaths, Settings, StreamlabError

log = logging.getLogger(__name__)

REALKAFKA_MODULE = "streamlab.realkafka"  # a module name so tests can stand in a fake
LOG_TAIL_LINES = 20

# Components started by this Python process (a notebook may call Stack.up()). They outlive their
# Popen on purpose; holding the objects lets them be reaped instead of garbage-collected running.
_launched: list[subprocess.Popen] = []


class StackError(StreamlabError):
    """A component failed to start or stop; the message says why and what to do."""


class State(enum.Enum):
    RUNNING = "running"
    UNHEALTHY = "unhealthy"  # process alive, health check failing
    CRASHED = "crashed"  # state file says running, process is gone
    STOPPED = "stopped"


@dataclass(frozen=True)
class LaunchContext:
    """What a component's command line is built from."""

    settings: Settings
    data_dir: Path
    ready_file: Path
    brokers: int


@dataclass(frozen=True)
class Component:
    """One row of the component table.

    Attributes:
        name: state, log and CLI name.
        profiles: the profiles this row serves.
        command: builds argv; the process must write ``ready_file`` (JSON with at least ``pid``,
            optionally ``bootstrap``, ``brokers``, ``http``, ``log``) once it serves, and stop
            cleanly on SIGTERM.
        ready_file: where that JSON appears.
        detaches: the command starts the component in the background, writes the ready file
            and exits 0 (like ``realkafka start``); the file is then the component's own and
            is read only after the command returns. Otherwise the command is the component.
        healthy: given the ready JSON, is the component answering?
        ports: the fixed ports it will bind, as (config name, port); 0 means OS-chosen.
        data_name: folder under ``data/`` (differs per profile when formats differ).
        start_timeout: seconds to wait for health.
        stop_timeout: seconds between SIGTERM and SIGKILL.
    """

    name: str
    profiles: tuple[str, ...]
    command: Callable[[LaunchContext], list[str]]
    ready_file: Callable[[LabPaths, Path], Path]
    healthy: Callable[[dict[str, Any]], bool]
    data_name: str = ""
    detaches: bool = False
    start_timeout: float = 30.0
    stop_timeout: float = 10.0
    ports: Callable[[LaunchContext], list[tuple[str, int]]] = lambda ctx: []
    multi_broker: bool = False
    preflight: Callable[[], None] = lambda: None
    after: tuple[str, ...] = ()  # components that must be healthy before this one starts

    @property
    def data_folder(self) -> str:
        return self.data_name or self.name


# --- component definitions ----------------------------------------------------------------------


# The broker properties ([broker] in config.toml) the emulated cluster has, as its flags.
EMULATED_BROKER_PROPERTIES = {
    "num.partitions": "--num-partitions",
    "group.initial.rebalance.delay.ms": "--group-initial-rebalance-delay-ms",
    "offsets.topic.num.partitions": "--offsets-topic-partitions",
    "transaction.state.log.num.partitions": "--transaction-topic-partitions",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": (
        "--transaction-abort-interval-ms"
    ),
    "log.cleaner.backoff.ms": "--log-cleaner-backoff-ms",
    "log.retention.check.interval.ms": "--log-retention-check-interval-ms",
    "log.initial.task.delay.ms": "--log-initial-task-delay-ms",
}


def _emulated_broker_flags(settings) -> list[str]:
    from streamlab.config import ConfigError, broker_properties

    flags = []
    for name, value in broker_properties(settings).items():
        flag = EMULATED_BROKER_PROPERTIES.get(name)
        if flag is None:
            known = ", ".join(EMULATED_BROKER_PROPERTIES)
            raise ConfigError(
                f"[broker] {name}: the emulated cluster has no such setting (it has: {known}); "
                "the jvm profile's Kafka takes any server.properties key"
            )
        flags += [flag, value]
    return flags


def _emulated_kafka_argv(ctx: LaunchContext) -> list[str]:
    ports = ctx.settings.ports
    return [
        sys.executable, "-m", "streamlab.kafka",
        "--data-dir", str(ctx.data_dir),
        "--host", LOCALHOST,
        "--port", str(ports["kafka"]),
        "--brokers", str(ctx.brokers),
        "--http-port", str(ports["console"]),
        "--ready-file", str(ctx.ready_file),
        *_emulated_broker_flags(ctx.settings),
    ]  # fmt: skip


def _realkafka_argv(ctx: LaunchContext) -> list[str]:
    from streamlab.config import broker_properties

    port = str(ctx.settings.ports["kafka"])
    overrides = [
        arg
        for name, value in broker_properties(ctx.settings).items()
        for arg in ("--override", f"{name}={value}")
    ]
    return [sys.executable, "-m", REALKAFKA_MODULE, "start", "--data-dir", str(ctx.data_dir),
            "--port", port, *overrides]  # fmt: skip


def _kafka_ports(ctx: LaunchContext) -> list[tuple[str, int]]:
    base = ctx.settings.ports["kafka"]
    return [("kafka", base + i if base else 0) for i in range(ctx.brokers)]


def _emulated_kafka_ports(ctx: LaunchContext) -> list[tuple[str, int]]:
    return [*_kafka_ports(ctx), ("console", ctx.settings.ports["console"])]


def _registry_argv(ctx: LaunchContext) -> list[str]:
    # Started after kafka, so the bootstrap is the one the running cluster really got.
    from streamlab.config import bootstrap_servers

    return [
        sys.executable, "-m", "streamlab.registry",
        "--bootstrap", bootstrap_servers(ctx.settings),
        "--host", LOCALHOST,
        "--port", str(ctx.settings.ports["registry"]),
        "--ready-file", str(ctx.ready_file),
    ]  # fmt: skip


def _aws_argv(ctx: LaunchContext) -> list[str]:
    return [
        sys.executable, "-m", "streamlab.awslambda",
        "--host", LOCALHOST,
        "--port", str(ctx.settings.ports["aws"]),
        "--data-dir", str(ctx.data_dir),
        "--ready-file", str(ctx.ready_file),
    ]  # fmt: skip


def _ksql_argv(ctx: LaunchContext) -> list[str]:
    from streamlab.config import bootstrap_servers

    registry = running_state(ctx.settings, "registry")
    argv = [
        sys.executable, "-m", "streamlab.ksql",
        "--bootstrap", bootstrap_servers(ctx.settings),
        "--host", LOCALHOST,
        "--port", str(ctx.settings.ports["ksql"]),
        "--data-dir", str(ctx.data_dir),
        "--ready-file", str(ctx.ready_file),
        # No record cache: the labs count one changelog/sink record per update, as ksqlDB's
        # tutorials do (ksqlDB's default, 10,000,000 bytes, keeps each key's last update per
        # 2 s commit interval).
        "--config", "ksql.streams.cache.max.bytes.buffering=0",
    ]  # fmt: skip
    if registry and registry.get("ready", {}).get("url"):
        argv += ["--registry-url", registry["ready"]["url"]]
    return argv


def _datagen_argv(ctx: LaunchContext) -> list[str]:
    # The lab's background generators: one server following data/datagen/tasks.json, which
    # streamlab.datagen.start_background() edits (so tasks outlive a notebook kernel).
    from streamlab.config import bootstrap_servers

    return [
        sys.executable, "-m", "streamlab.datagen", "serve",
        "--state", str(ctx.data_dir / "tasks.json"),
        "--bootstrap", bootstrap_servers(ctx.settings),
        "--ready-file", str(ctx.ready_file),
    ]  # fmt: skip


def pid_health(info: dict[str, Any]) -> bool:
    """The process that wrote the ready file is alive (for components without a port)."""
    try:
        return psutil.pid_exists(int(info["pid"]))
    except (KeyError, ValueError):
        return False


def _realkafka_preflight() -> None:
    if importlib.util.find_spec(REALKAFKA_MODULE) is None:
        raise StackError(
            f"profile 'jvm' needs {REALKAFKA_MODULE}, which this version of streamlab lacks; "
            "use the default profile 'emulated' for now"
        )


# A proxy from HTTP_PROXY must never sit between us and a local health endpoint.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_health(info: dict[str, Any]) -> bool:
    """GET /health on the ready file's ``http`` port answers {"status": "ok"}."""
    try:
        url = f"http://{LOCALHOST}:{info['http']}/health"
        with _NO_PROXY.open(url, timeout=1) as reply:
            return json.load(reply).get("status") == "ok"
    except (OSError, ValueError, KeyError):
        return False


def url_health(info: dict[str, Any], path: str = "") -> bool:
    """GET on the ready file's ``url`` (+ ``path``) answers 200."""
    try:
        with _NO_PROXY.open(str(info["url"]).rstrip("/") + path, timeout=1) as reply:
            return reply.status == 200
    except (OSError, ValueError, KeyError):
        return False


def tcp_health(info: dict[str, Any]) -> bool:
    """The first bootstrap address accepts a TCP connection."""
    host, _, port = str(info.get("bootstrap", "")).split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or LOCALHOST, int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False


COMPONENTS: tuple[Component, ...] = (
    Component(
        "kafka",
        profiles=("emulated",),
        command=_emulated_kafka_argv,
        ready_file=lambda paths, data: paths.run / "kafka.ready.json",
        healthy=http_health,
        ports=_emulated_kafka_ports,
        multi_broker=True,
    ),
    Component(
        "kafka",
        profiles=("jvm",),
        command=_realkafka_argv,
        # streamlab.realkafka's contract: it writes <data-dir>/realkafka.json {pid, bootstrap}.
        ready_file=lambda paths, data: data / "realkafka.json",
        detaches=True,
        healthy=tcp_health,
        ports=_kafka_ports,
        data_name="kafka-jvm",  # real Kafka's log dirs must not mix with the emulator's
        start_timeout=300.0,  # the first start may download jars from Maven Central
        stop_timeout=30.0,  # a controlled shutdown of a KRaft node takes a few seconds
        preflight=_realkafka_preflight,
    ),
    Component(
        "registry",
        profiles=("emulated", "jvm"),
        command=_registry_argv,
        ready_file=lambda paths, data: paths.run / "registry.ready.json",
        healthy=url_health,
        ports=lambda ctx: [("registry", ctx.settings.ports["registry"])],
        after=("kafka",),  # stores schemas in a Kafka topic
    ),
    Component(
        "aws",  # one AWS endpoint: our Lambda, and moto for Secrets Manager, IAM, Logs, S3
        profiles=("emulated", "jvm", "docker"),  # docker: Kafka & co. run in setup/docker
        command=_aws_argv,
        ready_file=lambda paths, data: paths.run / "aws.ready.json",
        healthy=lambda info: url_health(info, "/_streamlab/health"),
        ports=lambda ctx: [("aws", ctx.settings.ports["aws"])],
    ),
    Component(
        "ksql",  # after kafka and the registry: it is a client of both
        profiles=("emulated", "jvm"),
        command=_ksql_argv,
        ready_file=lambda paths, data: paths.run / "ksql.ready.json",
        # /info, not /healthcheck: the latter always answers 200 after a Kafka round trip
        healthy=lambda info: url_health(info, "/info"),
        ports=lambda ctx: [("ksql", ctx.settings.ports["ksql"])],
        after=("kafka", "registry"),
    ),
    Component(
        "datagen",
        profiles=("emulated", "jvm", "docker"),
        command=_datagen_argv,
        ready_file=lambda paths, data: paths.run / "datagen.ready.json",
        healthy=pid_health,
        after=("kafka",),
    ),
)


def components_for(profile: str) -> list[Component]:
    return [c for c in COMPONENTS if profile in c.profiles]


# --- reports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    state: State
    pid: int | None = None
    ports: tuple[int, ...] = ()
    uptime: float | None = None
    rss: int | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    profile: str | None = None


@dataclass(frozen=True)
class StopResult:
    name: str
    pid: int | None
    was_running: bool
    killed: bool = False  # needed SIGKILL


# --- the supervisor -----------------------------------------------------------------------------


class Stack:
    """Start, stop and inspect the components of one profile under one lab home."""

    def __init__(self, settings: Settings, components: list[Component] | None = None):
        self.settings = settings
        self.paths = settings.paths
        self.components = (
            components_for(settings.profile.name) if components is None else components
        )

    def up(self, brokers: int | None = None) -> list[str]:
        """Start every component that is not running; return when all are healthy.

        Args:
            brokers: Kafka brokers to run (default 1); asking a running lab for another
                number is an error rather than a silent restart.

        Returns:
            The names of the components started (empty when all were running).
        """
        self.settings.profile.require_available()
        if not self.components:
            raise ConfigError(f"profile {self.settings.profile.name!r} runs nothing locally")
        self._refuse_other_profile()
        pending = []
        for comp in self.components:
            state = read_state(self.paths, comp.name)
            if state and _alive(state):
                if comp.multi_broker and brokers and brokers != state.get("brokers"):
                    raise StackError(
                        f"{comp.name} already runs with {state.get('brokers')} broker(s); "
                        f"run `streamlab down` first to start {brokers}"
                    )
                continue
            pending.append(comp)
        # Start in waves: everything whose dependencies are up starts at once (each start is
        # its own process and waits for its own health), so `up` takes the longest chain, not
        # the sum. A failure stops before the next wave; what started keeps running, as before.
        started: list[str] = []
        while pending:
            waiting = {c.name for c in pending}
            wave = [c for c in pending if not waiting & set(c.after)] or pending[:1]
            with ThreadPoolExecutor(max_workers=len(wave)) as pool:
                futures = [(c, pool.submit(self._start, c, brokers or 1)) for c in wave]
            errors = []
            for comp, future in futures:
                if future.exception() is None:
                    started.append(comp.name)
                else:
                    errors.append(future.exception())
            if errors:
                raise errors[0]
            pending = [c for c in pending if c not in wave]
        return started

    def down(self, timeout: float | None = None) -> list[StopResult]:
        """Stop every component (reverse order); stopping a stopped lab is fine.

        Args:
            timeout: seconds from SIGTERM to SIGKILL; default: each component's own.
        """
        return [self._stop(comp, timeout) for comp in reversed(self._known_components())]

    def log_files(self, name: str) -> list[Path]:
        """The component's output, plus the log a detached component names in its ready file."""
        files = [self.paths.log_file(name)]
        state = read_state(self.paths, name) or {}
        own = state.get("ready", {}).get("log")
        if own and Path(own) not in files:
            files.append(Path(own))
        return files

    def status(self) -> list[ComponentStatus]:
        return [self._status(comp) for comp in self._known_components()]

    def running_profile(self) -> str | None:
        for name in dict.fromkeys(c.name for c in COMPONENTS):
            state = read_state(self.paths, name)
            if state and _alive(state):
                return state.get("profile")
        return None

    # -- start --

    def _start(self, comp: Component, brokers: int) -> None:
        if brokers > 1 and comp.name == "kafka" and not comp.multi_broker:
            raise ConfigError(
                f"--brokers {brokers} needs the emulated profile; "
                f"profile {self.settings.profile.name!r} runs one broker"
            )
        comp.preflight()
        self._clear(comp)  # a stale state file from a dead process counts as stopped
        data_dir = self.paths.data_dir(comp.data_folder)
        ready_file = comp.ready_file(self.paths, data_dir)
        for folder in (self.paths.run, self.paths.logs, data_dir):
            folder.mkdir(parents=True, exist_ok=True)
        if not comp.detaches:
            ready_file.unlink(missing_ok=True)  # never trust a ready file from an earlier run
        ctx = LaunchContext(self.settings, data_dir, ready_file, brokers)
        self._check_ports_free(comp, ctx)
        argv = comp.command(ctx)
        log_path = _rotate(self.paths.log_file(comp.name))
        log.debug("starting %r: %s", comp.name, " ".join(argv))
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the terminal; one group to signal
                cwd=self.paths.home,
                env=_child_env(),
            )
        started = time.time()
        try:
            info = self._wait_healthy(comp, proc, ready_file, log_path)
        except BaseException:  # also Ctrl-C: never leave a half-started process behind
            self._abandon(comp, proc, ready_file)
            raise
        _launched.append(proc)
        try:
            main = psutil.Process(int(info["pid"]))
            create_time = main.create_time()
        except psutil.Error:
            raise self._start_failed(comp, "its process exited", log_path) from None
        state = {
            "component": comp.name,
            "profile": self.settings.profile.name,
            "pid": main.pid,
            "create_time": create_time,
            "pgid": proc.pid,  # the launcher leads the session; its group holds the children
            "started_at": started,
            "brokers": brokers,
            "bootstrap": info.get("bootstrap"),
            "ports": _ports_of(info),
            "endpoints": _endpoints_of(info),
            "ready": info,
            "data_dir": str(data_dir),
            "ready_file": str(ready_file),
            "log": str(log_path),
            "argv": argv,
        }
        _write_json(self.paths.state_file(comp.name), state)

    def _wait_healthy(
        self, comp: Component, proc: subprocess.Popen, ready_file: Path, log_path: Path
    ) -> dict[str, Any]:
        deadline = time.monotonic() + comp.start_timeout
        delay = 0.02
        while True:
            code = proc.poll()
            info = _read_json(ready_file) if _fresh(comp, code) else None
            pid = int(info["pid"]) if info and info.get("pid") else None
            if code is not None and pid is None:
                why = f"it exited with code {code}"
                if code == 0 and comp.detaches:
                    why += f" without writing {ready_file}"
                raise self._start_failed(comp, why, log_path)
            if pid is not None:
                if _gone(pid):
                    raise self._start_failed(comp, "its process exited", log_path)
                if comp.healthy(info):
                    return info
            if time.monotonic() > deadline:
                raise self._start_failed(
                    comp, f"it was not healthy after {comp.start_timeout:.0f} s", log_path
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def _abandon(self, comp: Component, proc: subprocess.Popen, ready_file: Path) -> None:
        code = proc.poll()
        procs = _verified(proc.pid) if code is None else []
        info = (_read_json(ready_file) if _fresh(comp, code) else None) or {}
        if info.get("pid") and not _gone(int(info["pid"])):
            procs += _verified(int(info["pid"]))
        _terminate(procs, proc.pid, timeout=5)
        proc.wait()
        if not comp.detaches:
            ready_file.unlink(missing_ok=True)

    def _start_failed(self, comp: Component, why: str, log_path: Path) -> StackError:
        tail = tail_lines(log_path, LOG_TAIL_LINES)
        shown = "\n".join(f"    {line}" for line in tail) or "    (the log is empty)"
        return StackError(
            f"{comp.name} did not start: {why}. Last lines of {log_path}:\n{shown}\n"
            f"Fix what the log says, run `streamlab doctor`, then `streamlab up` again."
        )

    def _check_ports_free(self, comp: Component, ctx: LaunchContext) -> None:
        # A clear message now beats a bind error in the component's log later.
        for name, port in comp.ports(ctx):
            if port and not port_free(port):
                raise StackError(
                    f"port {port} ({name}) is already in use by another program"
                    f"{_owner_hint(port)}; stop it, or set [ports] {name} in "
                    f"{self.paths.home / 'config.toml'}"
                )

    def _refuse_other_profile(self) -> None:
        running = self.running_profile()
        if running and running != self.settings.profile.name:
            raise StackError(
                f"the lab is running profile {running!r}; run `streamlab down` before "
                f"starting profile {self.settings.profile.name!r}"
            )

    # -- stop and status --

    def _stop(self, comp: Component, timeout: float | None) -> StopResult:
        state = read_state(self.paths, comp.name)
        if state is None:
            return StopResult(comp.name, None, was_running=False)
        procs = _verified_from_state(state)
        wait = comp.stop_timeout if timeout is None else timeout
        killed = _terminate(procs, state.get("pgid"), wait) if procs else False
        _launched[:] = [p for p in _launched if p.poll() is None]
        self._clear(comp)
        return StopResult(comp.name, state.get("pid"), was_running=bool(procs), killed=killed)

    def _clear(self, comp: Component) -> None:
        state = read_state(self.paths, comp.name)
        if state and state.get("ready_file") and not comp.detaches:
            Path(state["ready_file"]).unlink(missing_ok=True)
        self.paths.state_file(comp.name).unlink(missing_ok=True)

    def _status(self, comp: Component) -> ComponentStatus:
        state = read_state(self.paths, comp.name)
        if state is None:
            return ComponentStatus(comp.name, State.STOPPED)
        base = {
            "pid": state.get("pid"),
            "ports": tuple(state.get("ports", ())),
            "endpoints": state.get("endpoints", {}),
            "profile": state.get("profile"),
        }
        if not _alive(state):
            return ComponentStatus(comp.name, State.CRASHED, **base)
        healthy = comp.healthy(state.get("ready", {}))
        return ComponentStatus(
            comp.name,
            State.RUNNING if healthy else State.UNHEALTHY,
            uptime=time.time() - state["started_at"],
            rss=_rss(state["pid"]),
            **base,
        )

    def _known_components(self) -> list[Component]:
        # After `up --profile jvm`, `down`/`status` must act on jvm even if the default differs.
        running = self.running_profile()
        if running and running != self.settings.profile.name:
            return components_for(running)
        return self.components


# --- module-level helpers -----------------------------------------------------------------------


def running_state(settings: Settings, name: str) -> dict[str, Any] | None:
    """The state of component ``name`` if it runs for the active profile, else None."""
    state = read_state(settings.paths, name)
    if state and state.get("profile") == settings.profile.name and _alive(state):
        return state
    return None


def read_state(paths: LabPaths, name: str) -> dict[str, Any] | None:
    return _read_json(paths.state_file(name))


def port_free(port: int, host: str = LOCALHOST) -> bool:
    with socket.socket() as s:
        # Without SO_REUSEADDR a port in TIME_WAIT would look taken although a server can bind it.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def tail_lines(path: Path, n: int) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-n:] if n > 0 else []


def _fresh(comp: Component, code: int | None) -> bool:
    """Can the ready file be trusted yet? A detaching launcher writes it, then exits 0; before
    that it may hold an earlier run's content. Our own ready files were deleted before start."""
    return code == 0 if comp.detaches else code is None


def _alive(state: dict[str, Any]) -> bool:
    return bool(_verified_from_state(state))


def _verified_from_state(state: dict[str, Any]) -> list[psutil.Process]:
    """The recorded process if it still runs; a reused pid (other start time) does not count."""
    try:
        proc = psutil.Process(int(state["pid"]))
        if abs(proc.create_time() - float(state["create_time"])) > 1.0 or _gone(proc.pid):
            return []
        return [proc]
    except (KeyError, TypeError, ValueError, psutil.Error):
        return []


def _verified(pid: int) -> list[psutil.Process]:
    try:
        return [psutil.Process(pid)]
    except psutil.Error:
        return []


def _gone(pid: int) -> bool:
    """True when the process does not exist or has exited (a zombie awaiting its parent)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _terminate(procs: list[psutil.Process], pgid: int | None, timeout: float) -> bool:
    """SIGTERM the processes and their group, SIGKILL what is left after ``timeout``.

    Returns True when SIGKILL was needed.
    """
    # Signal the group only while one of our verified processes is still in it, so a group id
    # reused by an unrelated program is never hit.
    group = pgid if pgid and any(_pgid(p) == pgid for p in procs) else None
    members = list(procs)
    if group:
        members += [p for p in psutil.process_iter() if _pgid(p) == group and p not in members]
    _signal(members, group, signal.SIGTERM)
    _, alive = psutil.wait_procs(members, timeout=timeout)
    if not alive:
        return False
    _signal(alive, group, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)
    return True


def _signal(procs: list[psutil.Process], group: int | None, sig: signal.Signals) -> None:
    if group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.send_signal(sig)


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except OSError:
        return None


def _rss(pid: int) -> int | None:
    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
    except psutil.Error:
        return None


def _ports_of(info: dict[str, Any]) -> list[int]:
    ports = [int(p) for p in info.get("brokers", {}).values()]
    if not ports and info.get("bootstrap"):
        ports = [int(a.rpartition(":")[2]) for a in str(info["bootstrap"]).split(",")]
    if info.get("http"):
        ports.append(int(info["http"]))
    if info.get("port"):
        ports.append(int(info["port"]))
    return ports


def _endpoints_of(info: dict[str, Any]) -> dict[str, str]:
    endpoints = {}
    if info.get("bootstrap"):
        endpoints["bootstrap"] = str(info["bootstrap"])
    if info.get("http"):
        endpoints["observability"] = f"http://{LOCALHOST}:{info['http']}"
    if info.get("url"):
        endpoints["url"] = str(info["url"])
    return endpoints


def _owner_hint(port: int) -> str:
    try:
        for conn in psutil.net_connections("inet"):
            listening = conn.status == psutil.CONN_LISTEN and conn.laddr
            if listening and conn.laddr.port == port and conn.pid:
                return f" ({psutil.Process(conn.pid).name()}, pid {conn.pid})"
    except (psutil.Error, OSError):
        pass  # other users' sockets are not visible everywhere; the hint is optional
    return ""


def _child_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # log lines reach the file before a crash
    # Run the same streamlab the supervisor runs, even from a checkout that is not installed.
    root = str(Path(streamlab.__file__).resolve().parent.parent)
    if Path(root).name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _rotate(log_path: Path) -> Path:
    if log_path.exists():
        log_path.replace(log_path.with_suffix(".log.1"))
    return log_path


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)  # readers never see half a file
