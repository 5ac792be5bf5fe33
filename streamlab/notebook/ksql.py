"""ksqlDB from a lab notebook: one client for the lab, a table view of any statement or query
(what ``%%ksql`` shows, but callable with names built in Python), and waiting for a persistent
query's output topic to fill."""

from __future__ import annotations

import time
from typing import Any

from streamlab.notebook.kafka import watermarks

EARLIEST = {"auto.offset.reset": "earliest"}


def ksql_client(timeout: float = 30.0):
    """A ``KsqlClient`` for the lab's ksqlDB (``streamlab.config.ksql_url()``)."""
    from streamlab.ksql.client import KsqlClient

    return KsqlClient(timeout=timeout)


def ksql_show(sql: str, limit: int = 20, earliest: bool = True, timeout: float = 10.0) -> Any:
    """Run ``sql`` as the ``%%ksql`` magic would and return what it displays: a table for a query
    or a SHOW/DESCRIBE, a status line otherwise (several statements: a list of them)."""
    from streamlab.ksql.magic import run_cell

    line = f"--limit {int(limit)} --timeout {float(timeout)}" + (" --earliest" if earliest else "")
    out = run_cell(line, sql)
    return out[0] if len(out) == 1 else out


def topic_count(topic: str) -> int:
    """How many records ``topic`` holds (high minus low watermark over its partitions)."""
    return sum(hi - lo for lo, hi in watermarks(topic).values())


def wait_for_count(topic: str, at_least: int, timeout: float = 20.0) -> int:
    """Wait until ``topic`` holds ``at_least`` records (a persistent query catching up), then
    wait until the count stops growing; return it. Returns whatever is there after ``timeout``."""
    deadline = time.monotonic() + timeout
    count = topic_count(topic)
    while count < at_least and time.monotonic() < deadline:
        time.sleep(0.25)
        count = topic_count(topic)
    while time.monotonic() < deadline:  # settled: the same count a little later
        time.sleep(0.5)
        later = topic_count(topic)
        if later == count:
            break
        count = later
    return count


def restart_ksql(hard: bool = True, timeout: float = 60.0) -> float:
    """Stop the lab's ksqlDB engine — ``kill -9`` when ``hard``, a clean SIGTERM otherwise — and
    start it again (``streamlab up`` starts only what is not running). Returns the seconds until
    it answered again. Make a new ``ksql_client()`` afterwards: the address may change."""
    import os
    import signal

    from streamlab import config, stack
    from streamlab.config import StreamlabError

    settings = config.load()
    state = stack.running_state(settings, "ksql")
    if state is None or not state.get("pid"):
        raise StreamlabError("ksqlDB is not running in this lab: start it with `streamlab up`")
    pid = int(state["pid"])
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL if hard else signal.SIGTERM)
    deadline = started + timeout
    while time.monotonic() < deadline and not _gone(pid):
        for launched in stack._launched:  # started by this kernel (an earlier restart): reap it
            launched.poll()
        time.sleep(0.1)
    port = settings.ports.get("ksql")
    while port and not stack.port_free(port) and time.monotonic() < deadline:
        time.sleep(0.05)  # the dead engine's listening socket closes a moment after it exits
    stack.Stack(settings).up()
    client = ksql_client()
    while time.monotonic() < deadline:
        try:
            client = ksql_client()
            client.info()
            break
        except OSError:
            time.sleep(0.2)
    return time.monotonic() - started


def _gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
