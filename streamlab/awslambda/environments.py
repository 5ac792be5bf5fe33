"""Execution environments: real processes running AWS's runtime client against our Runtime API.

An environment is awslambdaric (``python -S <runtime dir>/bootstrap.py <handler>``) started in the
function's unzipped code (``LAMBDA_TASK_ROOT``, first on ``sys.path``) with the variables AWS
sets, in its own process group. It imports only what AWS's Python runtime would give it: its own
code, awslambdaric and the SDK (:mod:`~streamlab.awslambda.runtime_dir`), the standard library;
not the lab's virtualenv, so a zip missing a dependency fails with ``Runtime.ImportModuleError``
as on AWS. Its life, as on AWS (research/lambda-kafka.md §3):

* **Init** runs once, when an invocation needs an environment (on-demand cold start): module-level
  code runs, and init ends when the runtime first calls ``/next``. Init is limited to
  ``init_timeout`` (10 s on AWS); if it fails or runs over, it is retried once inside the
  invocation ("suppressed init"), bounded by the function's timeout.
* **Invoke**: one event at a time. The invocation ends with ``/response`` or ``/error``; the
  function's timeout kills the process group and the caller gets ``Sandbox.Timedout``; a process
  that dies mid-invocation gives ``Runtime.ExitError``. A process over its MemorySize is killed
  like AWS does (``signal: killed``).
* **Freeze**: when the runtime calls ``/next`` with nothing to do, the whole process group gets
  SIGSTOP, so the function's background threads stop; SIGCONT thaws it for the next event.
* **Shutdown**: idle too long, the function updated, or the lab stopping: SIGKILL to the group
  (no grace: what a frozen environment did not send is lost, as on AWS).

Lifecycle states are declared in :data:`TRANSITIONS`; :meth:`ExecutionEnvironment.transition`
refuses any other move.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamlab.awslambda import logs as lg
from streamlab.awslambda.layers import mount, python_paths
from streamlab.awslambda.metrics import FunctionMetrics
from streamlab.awslambda.runtime_api import (
    MAX_RESPONSE,
    Event,
    RuntimeAPIError,
    RuntimeAPIServer,
    invalid_request_id,
    invalid_state,
)
from streamlab.awslambda.runtime_dir import runtime_dir
from streamlab.awslambda.utils import iso_millis, log_stream_name, trace_id

log = logging.getLogger(__name__)

INIT_TIMEOUT = 10.0  # seconds, on-demand init limit on AWS
MEMORY_CHECK_INTERVAL = 0.05  # seconds between RSS checks of a busy environment
FINISHING_WAIT = 0.5  # how long an invocation waits for an environment that has just answered

# Credentials an execution role would hand the function; moto accepts any.
ROLE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIASTREAMLABLAMBDA0",
    "AWS_SECRET_ACCESS_KEY": "streamlab-lambda-execution-role",
    "AWS_SESSION_TOKEN": "streamlab-lambda-session",
}


class EnvState(enum.Enum):
    NEW = "new"  # no process yet
    INITIALIZING = "initializing"  # process started, module-level code running
    BUSY = "busy"  # an invocation is running (or its runtime has not called /next yet)
    IDLE = "idle"  # runtime parked in /next, process group frozen
    SHUTDOWN = "shutdown"  # process killed; terminal


TRANSITIONS: dict[EnvState, frozenset[EnvState]] = {
    EnvState.NEW: frozenset({EnvState.INITIALIZING, EnvState.SHUTDOWN}),
    # INITIALIZING -> INITIALIZING: the suppressed init retried inside the invocation
    EnvState.INITIALIZING: frozenset({EnvState.INITIALIZING, EnvState.BUSY, EnvState.SHUTDOWN}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.SHUTDOWN}),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.SHUTDOWN}),
    EnvState.SHUTDOWN: frozenset(),
}


class LifecycleError(RuntimeError):
    pass


@dataclass(frozen=True)
class FunctionSpec:
    """What an environment needs to know about its function (a snapshot per revision)."""

    name: str
    arn: str
    runtime: str
    handler: str
    code_dir: str
    timeout: float
    memory_mb: int
    region: str
    revision: str
    variables: dict[str, str] = field(default_factory=dict)
    version: str = "$LATEST"
    log_group: str = ""
    log_format: str = "Text"
    application_log_level: str | None = None
    layer_zips: tuple[str, ...] = ()  # the function's layers, in its Layers order
    opt_dir: str = ""  # where they are merged (AWS's /opt)


@dataclass
class HostSettings:
    """What every environment shares: the interpreter, the endpoint, the limits."""

    endpoint_url: str
    runtime_api: RuntimeAPIServer
    log_sink: lg.LogSink
    python: str = sys.executable  # the lab's own: the runtime directory links its packages
    init_timeout: float = INIT_TIMEOUT
    enforce_memory: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    invoked_arn: str
    timeout: float
    client_context: str | None = None
    trace_id: str = field(default_factory=trace_id)
    started: float = 0.0  # monotonic, at START
    deadline_ms: int = 0


@dataclass
class InvocationResult:
    request_id: str
    payload: bytes
    content_type: str = "application/json"
    function_error: str | None = None  # X-Amz-Function-Error: "Unhandled" for every error
    error_type: str | None = None
    status: str = "success"  # success | error | timeout | crash | init_error
    log_text: str = ""
    duration_ms: float = 0.0
    init_ms: float | None = None
    cold: bool = False
    env_id: str = ""

    @property
    def ok(self) -> bool:
        return self.function_error is None


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it if the endpoint dies (even by kill -9), so no
    frozen environment outlives the lab."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _exit_reason(code: int) -> str:
    """Go's ``ExitError`` wording, which AWS shows: ``exit status 1``, ``signal: killed``."""
    if code >= 0:
        return f"exit status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"signal: {-code}"
    words = {
        "SIGKILL": "killed",
        "SIGSEGV": "segmentation fault",
        "SIGABRT": "aborted",
        "SIGTERM": "terminated",
        "SIGBUS": "bus error",
        "SIGFPE": "floating point exception",
        "SIGILL": "illegal instruction",
    }
    return f"signal: {words.get(name, name.lower())}"


#: how long a freeze waits for SIGSTOP to take effect (seconds)
FREEZE_WAIT = 0.5


def _stopped(pid: int) -> bool:
    """Whether the process is stopped (by a signal), or gone or dying, from /proc; True where
    there is no /proc (nothing to wait for)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("T", "t", "Z", "X")


def _proc_status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rss_kb(pid: int) -> int | None:
    kb = _proc_status_kb(pid, "VmRSS")
    if kb is None:
        try:
            import psutil

            kb = psutil.Process(pid).memory_info().rss // 1024
        except Exception:
            return None
    return kb


class ExecutionEnvironment:
    """One environment: its process (re-spawned only by a suppressed init), its Runtime API
    listener and its log stream."""

    def __init__(
        self,
        spec: FunctionSpec,
        host: HostSettings,
        on_idle: Callable[[ExecutionEnvironment], None],
        on_gone: Callable[[ExecutionEnvironment], None],
    ) -> None:
        self.spec = spec
        self.host = host
        self.on_idle = on_idle
        self.on_gone = on_gone
        self.id = os.urandom(4).hex()
        self.state = EnvState.NEW
        self.log = lg.LogStream(spec.log_group, log_stream_name(spec.version), host.log_sink)
        self.proc: asyncio.subprocess.Process | None = None
        self.port: int | None = None
        self.created = time.time()
        self.last_used = time.monotonic()
        self.invocations = 0
        self.frozen = False
        self.retire = False  # shut down instead of going idle (function updated)
        self.init_ms: float | None = None
        self.max_rss_kb = 0
        self.current: Invocation | None = None
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[Event] | None = None  # the runtime parked in /next
        self._init_done: asyncio.Future[None] | None = None
        self._init_error: tuple[bytes, str | None] | None = None
        self._outcome: asyncio.Future[tuple[str, bytes, str, str | None, float]] | None = None
        self._exit: asyncio.Future[int] | None = None
        self._out_fd: int | None = None
        self._partial = b""

    def __repr__(self) -> str:
        return f"<env {self.id} {self.spec.name} {self.state.value} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def finishing(self) -> bool:
        """Answered its invocation, not yet back in /next (so not yet reusable)."""
        return (
            self.state is EnvState.BUSY
            and not self.retire
            and self._outcome is not None
            and self._outcome.done()
        )

    def transition(self, new: EnvState) -> None:
        if new not in TRANSITIONS[self.state]:
            raise LifecycleError(
                f"environment {self.id}: {self.state.value} -> {new.value} is not allowed "
                f"(allowed: {sorted(s.value for s in TRANSITIONS[self.state])})"
            )
        log.debug("env %s (%s): %s -> %s", self.id, self.spec.name, self.state.value, new.value)
        self.state = new

    def describe(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "FunctionName": self.spec.name,
            "State": self.state.value,
            "Frozen": self.frozen,
            "Pid": self.pid,
            "RuntimeApiPort": self.port,
            "LogGroupName": self.log.group,
            "LogStreamName": self.log.name,
            "Invocations": self.invocations,
            "InitDurationMs": self.init_ms,
            "MaxMemoryUsedMB": -(-self.max_rss_kb // 1024),
            "Created": self.created,
            "IdleSeconds": round(time.monotonic() - self.last_used, 3)
            if self.state is EnvState.IDLE
            else 0.0,
            "Revision": self.spec.revision,
        }

    # --- the process ------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        s = self.spec
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_ENDPOINT_URL": self.host.endpoint_url,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            **self.host.extra_env,
            **s.variables,
            # reserved: the function cannot override these (CreateFunction rejects them)
            "_HANDLER": s.handler,
            "AWS_REGION": s.region,
            "AWS_DEFAULT_REGION": s.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{s.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": s.name,
            "AWS_LAMBDA_FUNCTION_VERSION": s.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(s.memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log.group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log.name,
            "AWS_LAMBDA_RUNTIME_API": f"{self.host.runtime_api.host}:{self.port}",
            "LAMBDA_TASK_ROOT": s.code_dir,
            "LAMBDA_RUNTIME_DIR": runtime_dir(),
            # the function's own PYTHONPATH (unreserved on AWS), the lab's hooks, the layers
            # (after the task root, before the runtime, as AWS orders them), the runtime
            "PYTHONPATH": os.pathsep.join(
                p
                for p in (
                    s.variables.get("PYTHONPATH"),
                    self.host.extra_env.get("PYTHONPATH"),
                    *(python_paths(s.opt_dir) if s.opt_dir else ()),
                    runtime_dir(),
                )
                if p
            ),
            # no shared config files: the function sees only its environment, as on AWS
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **ROLE_CREDENTIALS,
        }
        if "LD_LIBRARY_PATH" in os.environ:
            env.setdefault("LD_LIBRARY_PATH", os.environ["LD_LIBRARY_PATH"])
        if s.log_format == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            if s.application_log_level:
                env["AWS_LAMBDA_LOG_LEVEL"] = s.application_log_level
        return env

    async def _spawn(self) -> None:
        if self.port is None:
            self.port = await self.host.runtime_api.listen(self)
        if self.spec.opt_dir:  # the layers are extracted when the first environment needs them
            await asyncio.to_thread(mount, self.spec.layer_zips, self.spec.opt_dir)
        rfd, wfd = os.pipe()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.host.python,
                "-S",  # no site: the lab's virtualenv stays out of the function's sys.path
                os.path.join(runtime_dir(), "bootstrap.py"),
                self.spec.handler,
                cwd=self.spec.code_dir,
                env=self._environment(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=wfd,
                stderr=wfd,
                start_new_session=True,  # its own process group: freeze and kill it whole
                preexec_fn=_die_with_parent,
            )
        except BaseException:
            os.close(rfd)
            raise
        finally:
            os.close(wfd)
        self.frozen = False
        self._close_output()
        self._out_fd = rfd
        self._partial = b""
        os.set_blocking(rfd, False)
        self._loop.add_reader(rfd, self._on_output)
        self._exit = self._loop.create_future()
        self._loop.create_task(self._watch(self.proc, self._exit))

    async def _watch(self, proc: asyncio.subprocess.Process, fut: asyncio.Future[int]) -> None:
        code = await proc.wait()
        if not fut.done():
            fut.set_result(code)
        answered = self.current is None or (self._outcome is not None and self._outcome.done())
        if proc is self.proc and self.state in (EnvState.IDLE, EnvState.BUSY) and answered:
            # died outside an invocation (or after answering): the environment is gone
            self._loop.create_task(self.shutdown("process exited"))

    def _on_output(self) -> None:
        self._read_output()

    def _read_output(self) -> None:
        fd = self._out_fd
        if fd is None:
            return
        chunks = []
        eof = False
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                eof = True
                break
            if not data:
                eof = True
                break
            chunks.append(data)
        if chunks:
            buf = self._partial + b"".join(chunks)
            *lines, self._partial = buf.split(b"\n")
            if lines:
                self.log.write_many(line.decode("utf-8", "replace") for line in lines)
        if eof:
            self._close_output()

    def _close_output(self) -> None:
        fd, self._out_fd = self._out_fd, None
        if fd is None:
            return
        with contextlib.suppress(Exception):
            self._loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(fd)
        if self._partial:
            self.log.write(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def _drain(self) -> None:
        """Read what the process has written so far, so it lands before the next platform line."""
        self._read_output()
        if self._partial:
            self.log.write(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def _freeze(self) -> None:
        self._signal(signal.SIGSTOP)
        # SIGSTOP takes effect when the kernel next schedules the process: under load that can
        # be a few ms after kill() returns. "Frozen" is reported once it has (Linux: /proc).
        if self.proc is not None and self.proc.returncode is None:
            deadline = time.monotonic() + FREEZE_WAIT
            while not _stopped(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.001)
        self.frozen = True

    def _thaw(self) -> None:
        self._signal(signal.SIGCONT)
        self.frozen = False

    async def _kill(self) -> None:
        self._signal(signal.SIGKILL)
        self.frozen = False
        if self._exit is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exit), 5.0)

    def _sample_memory(self) -> int | None:
        """Peak RSS so far (VmHWM) and current RSS, in kB; None when the process is gone."""
        if self.proc is None or self.proc.returncode is not None:
            return None
        hwm = _proc_status_kb(self.proc.pid, "VmHWM")
        rss = _rss_kb(self.proc.pid)
        peak = max(hwm or 0, rss or 0)
        self.max_rss_kb = max(self.max_rss_kb, peak)
        return rss

    def _max_memory_mb(self) -> int:
        self._sample_memory()
        used = -(-self.max_rss_kb // 1024)
        return min(used, self.spec.memory_mb) if self.host.enforce_memory else used

    # --- the runtime's side (called by the Runtime API server) -------------------------------

    async def next_event(self) -> Event:
        if self._waiter is not None and not self._waiter.done():
            raise invalid_state("Ready", "Ready", "the runtime is already waiting for an event")
        if self.state is EnvState.BUSY and (self._outcome is None or not self._outcome.done()):
            raise invalid_state("Running", "Ready")
        if self.state in (EnvState.SHUTDOWN, EnvState.NEW):
            raise invalid_state(self.state.value.capitalize(), "Ready")
        waiter: asyncio.Future[Event] = self._loop.create_future()
        self._waiter = waiter
        if self.state is EnvState.INITIALIZING:
            if self._init_done is not None and not self._init_done.done():
                self._init_done.set_result(None)
        elif self.state is EnvState.BUSY:
            self.current = None
            self.last_used = time.monotonic()
            if self.retire:
                self._loop.create_task(self.shutdown("function updated"))
            else:
                self.transition(EnvState.IDLE)
                self._freeze()
                self.on_idle(self)
        return await waiter

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        self._check_request(request_id)
        assert self._outcome is not None
        now = time.monotonic()
        if len(body) > MAX_RESPONSE:
            message = (
                f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload "
                f"size ({MAX_RESPONSE} bytes)."
            )
            self._outcome.set_result(
                (
                    "error",
                    _error_payload("Function.ResponseSizeTooLarge", message),
                    "application/json",
                    "Function.ResponseSizeTooLarge",
                    now,
                )
            )
            raise RuntimeAPIError(
                413,
                "RequestEntityTooLarge",
                f"Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes).",
            )
        self._outcome.set_result(("ok", body, content_type, None, now))

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self._check_request(request_id)
        assert self._outcome is not None
        if not error_type:
            with contextlib.suppress(Exception):
                error_type = json.loads(body).get("errorType")
        self._outcome.set_result(
            ("error", body, "application/json", error_type or "Unhandled", time.monotonic())
        )

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        if self.state is not EnvState.INITIALIZING:
            raise invalid_state(_rapid_name(self.state), "InitError")
        if not error_type:
            with contextlib.suppress(Exception):
                error_type = json.loads(body).get("errorType")
        self._init_error = (body, error_type or "Runtime.Unknown")
        if self._init_done is not None and not self._init_done.done():
            self._init_done.set_exception(_InitFailed())

    def _check_request(self, request_id: str) -> None:
        if self.state is not EnvState.BUSY or self.current is None:
            raise invalid_state(_rapid_name(self.state), "InvocationResponse")
        if request_id != self.current.request_id or self._outcome is None or self._outcome.done():
            raise invalid_request_id()

    # --- the platform's side ------------------------------------------------------------------

    async def _init_phase(self, limit: float) -> str:
        """Start the runtime and wait until it calls /next: "ok", "error" or "timeout"."""
        self._init_error = None
        self._init_done = self._loop.create_future()
        t0 = time.monotonic()
        await self._spawn()
        assert self._exit is not None
        done, _ = await asyncio.wait(
            {self._init_done, self._exit}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
        )
        self.init_ms = (time.monotonic() - t0) * 1000
        self._sample_memory()
        if self.state is EnvState.SHUTDOWN or self._init_done.cancelled():
            return "gone"  # shut down meanwhile (function deleted, lab stopping)
        if self._init_done.done() and self._init_done.exception() is None:
            self._drain()
            return "ok"
        if not self._init_done.done():
            self._init_done.cancel()
        else:
            self._init_done.exception()  # retrieved
        await self._kill()
        self._drain()
        if not done:
            self.init_ms = limit * 1000
            return "timeout"
        return "error"

    def _init_failure(self) -> tuple[bytes, str]:
        if self._init_error is not None:
            body, etype = self._init_error
            return body, etype or "Runtime.Unknown"
        code = self._exit.result() if self._exit is not None and self._exit.done() else -9
        msg = f"RequestId: {self.current.request_id if self.current else ''} Error: " + (
            f"Runtime exited with error: {_exit_reason(code)}"
        )
        return _error_payload("Runtime.ExitError", msg), "Runtime.ExitError"

    def _start(self, inv: Invocation) -> None:
        """The invoke phase begins: START line, the clock, the deadline."""
        self._drain()
        inv.started = time.monotonic()
        inv.deadline_ms = int((time.time() + inv.timeout) * 1000)
        self.log.write(lg.start_line(inv.request_id, self.spec.version))

    def _hand_over(self, inv: Invocation) -> None:
        """Give the event to the runtime parked in /next (thawing it first)."""
        assert self._waiter is not None and not self._waiter.done()
        self._outcome = self._loop.create_future()
        if self.frozen:
            self._thaw()
        waiter, self._waiter = self._waiter, None
        waiter.set_result(
            Event(
                request_id=inv.request_id,
                payload=inv.payload,
                deadline_ms=inv.deadline_ms,
                invoked_function_arn=inv.invoked_arn,
                trace_id=inv.trace_id,
                client_context=inv.client_context,
            )
        )

    async def invoke(self, inv: Invocation) -> InvocationResult:
        """Run one invocation here (cold-starting first if needed). Never raises for function
        failures: they come back as an error result and, when AWS would reset, the environment
        shuts down."""
        if self.state not in (EnvState.NEW, EnvState.IDLE):
            raise LifecycleError(f"environment {self.id} cannot take an invocation: {self.state}")
        mark = self.log.mark()
        self.current = inv
        self.invocations += 1
        cold = self.state is EnvState.NEW
        init_ms: float | None = None
        if cold:
            self.transition(EnvState.INITIALIZING)
            self.log.write(lg.init_start_line(self.spec.runtime, self.spec.region))
            status = await self._init_phase(self.host.init_timeout)
            if status == "gone":
                return self._gone(inv, mark)
            if status == "ok":
                init_ms = self.init_ms
                self.transition(EnvState.BUSY)
                self._start(inv)
            else:
                _, etype = self._init_failure() if status == "error" else (b"", None)
                self.log.write(lg.init_report_line(self.init_ms or 0.0, "init", status, etype))
                # suppressed init: Lambda retries init inside the invocation, under its timeout
                self._start(inv)
                self.transition(EnvState.INITIALIZING)
                retry = await self._init_phase(max(0.0, inv.timeout))
                if retry == "gone":
                    return self._gone(inv, mark)
                if retry == "timeout":
                    return await self._timed_out(inv, mark, cold)
                if retry == "error":
                    return await self._init_failed(inv, mark)
                self.transition(EnvState.BUSY)
        else:
            self.transition(EnvState.BUSY)
            self._start(inv)
        self._hand_over(inv)
        return await self._await_outcome(inv, mark, cold, init_ms)

    def _gone(self, inv: Invocation, mark: int) -> InvocationResult:
        message = lg.exit_error_line(inv.request_id, _exit_reason(-signal.SIGKILL))
        return InvocationResult(
            request_id=inv.request_id,
            payload=_error_payload("Runtime.ExitError", message),
            function_error="Unhandled",
            error_type="Runtime.ExitError",
            status="crash",
            log_text=self.log.text_since(mark),
            cold=True,
            env_id=self.id,
        )

    async def _await_outcome(
        self, inv: Invocation, mark: int, cold: bool, init_ms: float | None
    ) -> InvocationResult:
        assert self._outcome is not None and self._exit is not None
        deadline = inv.started + inv.timeout
        limit_kb = self.spec.memory_mb * 1024
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return await self._timed_out(inv, mark, cold)
            wait = min(remaining, MEMORY_CHECK_INTERVAL) if self.host.enforce_memory else remaining
            await asyncio.wait(
                {self._outcome, self._exit}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            if self._outcome.done():
                break
            if self._exit.done():
                return await self._crashed(inv, mark, cold, init_ms, self._exit.result())
            if self.host.enforce_memory:
                rss = self._sample_memory()
                if rss is not None and rss > limit_kb:
                    await self._kill()
                    return await self._crashed(inv, mark, cold, init_ms, -signal.SIGKILL)
        kind, body, content_type, error_type, finished = self._outcome.result()
        duration = (finished - inv.started) * 1000
        self._drain()
        self.log.write(lg.end_line(inv.request_id))
        self.log.write(
            lg.report_line(
                inv.request_id, duration, self.spec.memory_mb, self._max_memory_mb(), init_ms
            )
        )
        return InvocationResult(
            request_id=inv.request_id,
            payload=body,
            content_type=content_type,
            function_error="Unhandled" if kind == "error" else None,
            error_type=error_type,
            status="success" if kind == "ok" else "error",
            log_text=self.log.text_since(mark),
            duration_ms=duration,
            init_ms=init_ms,
            cold=cold,
            env_id=self.id,
        )

    async def _timed_out(self, inv: Invocation, mark: int, cold: bool) -> InvocationResult:
        max_mb = self._max_memory_mb()
        await self._kill()
        self._drain()
        self.log.write(lg.timeout_line(iso_millis(time.time()), inv.request_id, inv.timeout))
        self.log.write(lg.end_line(inv.request_id))
        self.log.write(
            lg.report_line(
                inv.request_id, inv.timeout * 1000, self.spec.memory_mb, max_mb, None, "timeout"
            )
        )
        payload = _error_payload(
            "Sandbox.Timedout",
            f"RequestId: {inv.request_id} Error: Task timed out after {inv.timeout:.2f} seconds",
        )
        result = InvocationResult(
            request_id=inv.request_id,
            payload=payload,
            function_error="Unhandled",
            error_type="Sandbox.Timedout",
            status="timeout",
            log_text=self.log.text_since(mark),
            duration_ms=inv.timeout * 1000,
            cold=cold,
            env_id=self.id,
        )
        await self.shutdown("timed out")
        return result

    async def _crashed(
        self, inv: Invocation, mark: int, cold: bool, init_ms: float | None, code: int
    ) -> InvocationResult:
        duration = (time.monotonic() - inv.started) * 1000
        max_mb = -(-self.max_rss_kb // 1024)
        if self.host.enforce_memory:
            max_mb = min(max_mb, self.spec.memory_mb)
        self._drain()
        message = lg.exit_error_line(inv.request_id, _exit_reason(code))
        self.log.write(message)
        self.log.write(lg.end_line(inv.request_id))
        self.log.write(
            lg.report_line(
                inv.request_id,
                duration,
                self.spec.memory_mb,
                max_mb,
                init_ms,
                "error",
                "Runtime.ExitError",
            )
        )
        result = InvocationResult(
            request_id=inv.request_id,
            payload=_error_payload("Runtime.ExitError", message),
            function_error="Unhandled",
            error_type="Runtime.ExitError",
            status="crash",
            log_text=self.log.text_since(mark),
            duration_ms=duration,
            init_ms=init_ms,
            cold=cold,
            env_id=self.id,
        )
        await self.shutdown("runtime exited")
        return result

    async def _init_failed(self, inv: Invocation, mark: int) -> InvocationResult:
        body, etype = self._init_failure()
        duration = (time.monotonic() - inv.started) * 1000
        self.log.write(lg.init_report_line(self.init_ms or 0.0, "invoke", "error", etype))
        self.log.write(lg.end_line(inv.request_id))
        self.log.write(
            lg.report_line(
                inv.request_id,
                duration,
                self.spec.memory_mb,
                self._max_memory_mb(),
                None,
                "error",
                etype,
            )
        )
        result = InvocationResult(
            request_id=inv.request_id,
            payload=body,
            function_error="Unhandled",
            error_type=etype,
            status="init_error",
            log_text=self.log.text_since(mark),
            duration_ms=duration,
            cold=True,
            env_id=self.id,
        )
        await self.shutdown("init failed")
        return result

    async def shutdown(self, reason: str = "") -> None:
        if self.state is EnvState.SHUTDOWN:
            return
        log.debug("env %s (%s): shutdown (%s)", self.id, self.spec.name, reason)
        self.transition(EnvState.SHUTDOWN)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
        if self._init_done is not None and not self._init_done.done():
            self._init_done.cancel()
        await self._kill()
        self._drain()
        self._close_output()
        if self.port is not None:
            await self.host.runtime_api.release(self.port)
        self.on_gone(self)


class _InitFailed(Exception):
    """The runtime reported /init/error."""


def _rapid_name(state: EnvState) -> str:
    return {
        EnvState.NEW: "Started",
        EnvState.INITIALIZING: "Started",
        EnvState.BUSY: "Running",
        EnvState.IDLE: "Ready",
        EnvState.SHUTDOWN: "Shutdown",
    }[state]


# --- the environments of one function -------------------------------------------------------


class Throttled(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConcurrencyLimiter:
    """Account concurrency (default 1,000 on AWS) and per-function reserved concurrency."""

    def __init__(self, account_limit: int = 1000) -> None:
        self.account_limit = account_limit
        self.reserved: dict[str, int] = {}
        self.in_use: collections.Counter[str] = collections.Counter()

    def unreserved_limit(self) -> int:
        return self.account_limit - sum(self.reserved.values())

    def try_acquire(self, function: str) -> str | None:
        """None when granted, else the throttle reason."""
        if function in self.reserved:
            if self.in_use[function] >= self.reserved[function]:
                return "ReservedFunctionConcurrentInvocationLimitExceeded"
        else:
            unreserved_use = sum(n for f, n in self.in_use.items() if f not in self.reserved)
            if unreserved_use >= self.unreserved_limit():
                return "ConcurrentInvocationLimitExceeded"
        self.in_use[function] += 1
        return None

    def release(self, function: str) -> None:
        self.in_use[function] -= 1
        if self.in_use[function] <= 0:
            del self.in_use[function]


class EnvironmentPool:
    """The environments of one function: reuse a frozen one, else start one, else throttle."""

    def __init__(
        self,
        function: str,
        host: HostSettings,
        limiter: ConcurrencyLimiter,
        metrics: FunctionMetrics,
    ) -> None:
        self.function = function
        self.host = host
        self.limiter = limiter
        self.metrics = metrics
        self.envs: dict[str, ExecutionEnvironment] = {}
        self._idle: list[ExecutionEnvironment] = []  # most recently used last
        self._in_use: set[str] = set()
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def _try_acquire(self, spec: FunctionSpec, patient: bool) -> ExecutionEnvironment | str | None:
        """An environment, a throttle reason, or None: wait, one is about to become idle."""
        while self._idle:
            env = self._idle.pop()
            if env.state is EnvState.IDLE and env.spec.revision == spec.revision:
                reason = self.limiter.try_acquire(self.function)
                if reason is not None:
                    self._idle.append(env)
                    return reason
                self._mark_busy(env)
                return env
            if env.state is EnvState.IDLE:  # an older revision: recycle it
                asyncio.get_running_loop().create_task(env.shutdown("function updated"))
        if patient and any(
            e.finishing and e.spec.revision == spec.revision for e in self.envs.values()
        ):
            # it has answered and is about to call /next: AWS reuses it rather than cold-start
            return None
        reason = self.limiter.try_acquire(self.function)
        if reason is not None:
            return reason
        env = ExecutionEnvironment(spec, self.host, self._on_idle, self._on_gone)
        self.envs[env.id] = env
        self._mark_busy(env)
        return env

    def _mark_busy(self, env: ExecutionEnvironment) -> None:
        self._in_use.add(env.id)
        self.metrics.busy(+1)

    def _mark_free(self, env: ExecutionEnvironment) -> None:
        if env.id in self._in_use:
            self._in_use.discard(env.id)
            self.limiter.release(self.function)
            self.metrics.busy(-1)
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(None)
                break

    async def acquire(self, spec: FunctionSpec, wait: bool = False) -> ExecutionEnvironment:
        """An environment reserved for one invocation. ``wait=False`` raises :class:`Throttled`
        at the concurrency limit (synchronous invoke); ``wait=True`` queues (async invoke,
        event source mappings)."""
        patient_until = time.monotonic() + FINISHING_WAIT
        while True:
            got = self._try_acquire(spec, patient=time.monotonic() < patient_until)
            if isinstance(got, ExecutionEnvironment):
                return got
            if got is not None and not wait:
                raise Throttled(got)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            timeout = FINISHING_WAIT if got is None else 1.0  # re-check now and then
            try:
                await asyncio.wait_for(fut, timeout)
            except TimeoutError:
                pass

    def _on_idle(self, env: ExecutionEnvironment) -> None:
        self._idle.append(env)
        self._mark_free(env)

    def _on_gone(self, env: ExecutionEnvironment) -> None:
        self.envs.pop(env.id, None)
        with contextlib.suppress(ValueError):
            self._idle.remove(env)
        self._mark_free(env)

    async def recycle(self, reason: str = "function updated") -> None:
        """Shut down idle environments now; busy ones after their invocation."""
        tasks = []
        for env in list(self.envs.values()):
            env.retire = True
            if env.state is EnvState.IDLE:
                tasks.append(env.shutdown(reason))
        await asyncio.gather(*tasks)

    async def reap_idle(self, max_idle: float) -> None:
        now = time.monotonic()
        old = [e for e in self._idle if e.state is EnvState.IDLE and now - e.last_used >= max_idle]
        await asyncio.gather(*(e.shutdown("idle") for e in old))

    async def close(self) -> None:
        await asyncio.gather(*(e.shutdown("closing") for e in list(self.envs.values())))
