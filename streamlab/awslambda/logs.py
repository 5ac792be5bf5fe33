"""Function logs in CloudWatch form: one log group per function, one stream per environment.

What an environment writes (its stdout and stderr, line by line) and the platform lines Lambda adds
around each invocation::

    INIT_START Runtime Version: python:3.12.v1	Runtime Version ARN: arn:aws:lambda:...
    <module-level output>
    START RequestId: 8f50...  Version: $LATEST
    <handler output>
    END RequestId: 8f50...
    REPORT RequestId: 8f50...	Duration: 1.52 ms	Billed Duration: 106 ms	Memory Size: 128 MB	...

Every event goes to a :class:`LogSink`: the endpoint's sink puts them into moto's CloudWatch Logs
backend, so ``logs.filter_log_events(logGroupName="/aws/lambda/<fn>")`` reads them as on AWS.
:func:`read_logs` is the learner's helper and works the same against AWS.

Billed Duration includes the Init Duration on cold starts: AWS bills the init phase of on-demand
functions since August 2025.
"""

from __future__ import annotations

import collections
import hashlib
import math
import time
from collections.abc import Iterable
from typing import Any, Protocol

RUNTIME_VERSION = "python:{minor}.v1"
TAIL_BYTES = 4096  # LogType=Tail returns the last 4 KB of the invocation's log
KEEP_EVENTS = 20_000  # per stream, in memory, for the Tail header and the observability API


def group_name(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


# --- the platform lines ---------------------------------------------------------------------


def init_start_line(runtime: str, region: str) -> str:
    minor = runtime.removeprefix("python")
    version = RUNTIME_VERSION.format(minor=minor)
    arn = f"arn:aws:lambda:{region}::runtime:{hashlib.sha256(version.encode()).hexdigest()}"
    return f"INIT_START Runtime Version: {version}\tRuntime Version ARN: {arn}"


def start_line(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def billed_ms(duration_ms: float, init_ms: float | None = None) -> int:
    return math.ceil(duration_ms + (init_ms or 0.0))


def report_line(
    request_id: str,
    duration_ms: float,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms(duration_ms, init_ms)} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if status:
        parts.append(f"Status: {status}")
    if error_type:
        parts.append(f"Error Type: {error_type}")
    return "\t".join(parts)


def init_report_line(init_ms: float, phase: str, status: str, error_type: str | None) -> str:
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    return f"{line}\tError Type: {error_type}" if error_type else line


def timeout_line(timestamp: str, request_id: str, seconds: float) -> str:
    return f"{timestamp} {request_id} Task timed out after {seconds:.2f} seconds"


def exit_error_line(request_id: str, reason: str) -> str:
    return f"RequestId: {request_id} Error: Runtime exited with error: {reason}"


# --- where events go ----------------------------------------------------------------------


class LogSink(Protocol):
    def put(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        """Store events ``{"timestamp": ms, "message": str}`` (in order) in group/stream."""


class MemorySink:
    """Keeps everything in a dict; for tests of this module and for runs without moto."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)

    def put(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self.streams[(group, stream)].extend(events)


class LogStream:
    """One environment's stream: a bounded in-memory copy plus the sink."""

    def __init__(self, group: str, name: str, sink: LogSink) -> None:
        self.group = group
        self.name = name
        self.sink = sink
        self.events: collections.deque[tuple[int, str]] = collections.deque(maxlen=KEEP_EVENTS)
        self.written = 0  # events ever written; marks count from here

    def write(self, message: str, ts: float | None = None) -> None:
        self.write_many([message], ts)

    def write_many(self, messages: Iterable[str], ts: float | None = None) -> None:
        ms = int((ts if ts is not None else time.time()) * 1000)
        if self.events:  # CloudWatch wants non-decreasing timestamps within a stream
            ms = max(ms, self.events[-1][0])
        batch = [{"timestamp": ms, "message": m} for m in messages]
        if not batch:
            return
        for e in batch:
            self.events.append((e["timestamp"], e["message"]))
        self.written += len(batch)
        self.sink.put(self.group, self.name, batch)

    def mark(self) -> int:
        return self.written

    def text_since(self, mark: int) -> str:
        """The messages written since ``mark`` (one per line), as LogType=Tail shows them."""
        n = self.written - mark
        if n <= 0:
            return ""
        recent = list(self.events)[-n:]
        return "".join(m if m.endswith("\n") else m + "\n" for _, m in recent)


def tail(text: str, limit: int = TAIL_BYTES) -> bytes:
    data = text.encode()
    return data[-limit:]


# --- the learner's helper --------------------------------------------------------------------


def read_logs(
    function_name: str,
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    start_time: float | None = None,
    client: Any = None,
) -> list[str]:
    """Every log message of a function since ``start_time`` (epoch seconds), oldest first.

    Uses the CloudWatch Logs API, so it reads the emulator's logs (``endpoint_url`` or
    ``AWS_ENDPOINT_URL``) and AWS's alike::

        >>> from streamlab.awslambda.logs import read_logs
        >>> for line in read_logs("settle-trades"): print(line)   # doctest: +SKIP
    """
    if client is None:
        import boto3

        client = boto3.client("logs", endpoint_url=endpoint_url, region_name=region_name)
    kwargs: dict[str, Any] = {"logGroupName": group_name(function_name)}
    if start_time is not None:
        kwargs["startTime"] = int(start_time * 1000)
    events: list[dict[str, Any]] = []
    for page in client.get_paginator("filter_log_events").paginate(**kwargs):
        events.extend(page.get("events", []))
    events.sort(key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))
    return [e["message"].rstrip("\n") for e in events]
