"""The background server: ``python -m streamlab.datagen serve --state FILE``.

It runs the generators listed in the state file (see :mod:`streamlab.datagen.background` for the
file, the locks and who writes what), re-reading it every POLL seconds: new or resumed tasks
start, stopped or removed ones flush and end, a changed rate applies in place, and any other
change restarts that task's producer. A failed task (cluster down, topic missing) is retried
every RETRY_AFTER seconds, so a lesson can stop and start the broker under it.

As a stack component: ``--ready-file`` gets ``{"pid", "state", "started_at"}`` once the server
holds its lock; SIGTERM/SIGINT flush every producer, save progress and exit 0; exit code 3 means
another server already works on that state file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from streamlab.datagen.background import (
    ACTIVE,
    ALREADY_SERVING,
    _locked,
    _paths,
    _write_state,
    read_state,
    serve_pid,
)
from streamlab.datagen.datasets import DatagenError, get
from streamlab.datagen.producer import check_topic, client_config, run
from streamlab.datagen.rate import RateLimiter, parse_rate

log = logging.getLogger("streamlab.datagen.serve")

POLL = 0.5  # seconds between two reads of the state file
IDLE_EXIT = 3.0  # with --exit-when-idle: seconds without an active task before exiting
RETRY_AFTER = 5.0  # seconds before a failed generator is started again
STOP_JOIN = 10.0  # seconds to let each generator flush on shutdown


class Spec(NamedTuple):
    """What a running generator was started with; any change but the rate replaces it."""

    generator: Any
    topic: Any
    seed: Any
    count: Any
    bootstrap: str | None  # the state file's; None: --bootstrap or the profile
    epoch: Any  # bumped by the API when the sequence starts over


class _Worker:
    """One generator on its own thread, with its own producer."""

    def __init__(self, name: str, spec: Spec, start: int, config: Callable[[], dict]) -> None:
        generator, topic, seed, count = spec.generator, spec.topic, spec.seed, spec.count
        self.name, self.spec, self.produced = name, spec, start
        self.stop = threading.Event()
        self.limiter = RateLimiter(None)
        self.error: str | None = None
        self.finished = False
        self._args = (generator, topic, seed, None if count is None else count - start, config)
        self.thread = threading.Thread(target=self._run, name=f"datagen-{name}", daemon=True)

    def start(self, per_second: float | None) -> None:
        self.limiter.set_rate(per_second)
        self.thread.start()

    def _count(self) -> None:
        self.produced += 1

    def _run(self) -> None:
        generator, topic, seed, count, config = self._args
        try:
            run(generator, topic, count=count, config=config(), seed=seed, start=self.produced,
                stop=self.stop, on_delivered=self._count, limiter=self.limiter)  # fmt: skip
        except Exception as e:  # reported in the state file; serve retries
            self.error = str(e)
            log.error("task %s: %s", self.name, e)
        finally:
            self.finished = True


class Server:
    """The serve loop: reconcile running generators with the state file every POLL seconds."""

    def __init__(
        self,
        state: str | os.PathLike | None = None,
        bootstrap: str | None = None,
        ready_file: str | os.PathLike | None = None,
        exit_when_idle: bool = False,
    ) -> None:
        self.paths = _paths(state)
        self.bootstrap = bootstrap
        self.ready_file = Path(ready_file) if ready_file else self.paths.ready
        self.exit_when_idle = exit_when_idle
        self.workers: dict[str, _Worker] = {}
        self.stopping: list[_Worker] = []
        self.retry_at: dict[str, float] = {}
        self.idle_since: float | None = None
        self._instance = None

    def serve(self, stop: threading.Event) -> int:
        if not self._acquire():
            log.error("another serve process (pid %s) runs %s", serve_pid(self.paths.state),
                      self.paths.state)  # fmt: skip
            return ALREADY_SERVING
        log.info("serving %s (pid %d)", self.paths.state, os.getpid())
        ready = {"pid": os.getpid(), "state": str(self.paths.state), "started_at": time.time()}
        _write_state(self.ready_file, ready)
        try:
            while not stop.is_set():
                if self.tick():
                    break
                stop.wait(POLL)
        finally:
            self._shutdown()
        return 0

    def _acquire(self, patience: float = 1.0) -> bool:
        self.paths.state.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.paths.instance, "a+")  # noqa: SIM115 (held open: the lock lives with it)
        deadline = time.monotonic() + patience  # serve_pid() probes take the lock for an instant
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    f.close()
                    return False
                time.sleep(0.02)
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        self._instance = f
        return True

    def _release(self) -> None:
        if self._instance is not None:
            self._instance.truncate(0)
            self._instance.close()  # closing drops the flock
            self._instance = None

    def tick(self) -> bool:
        """One reconciliation; True when the process should exit (idle)."""
        with _locked(self.paths):
            try:
                data = read_state(self.paths.state)
            except DatagenError as e:
                log.error("%s", e)
                return False
            before = json.dumps(data, sort_keys=True)
            tasks = data["tasks"]
            for name, w in list(self.workers.items()):
                self._reconcile(name, w, tasks.get(name), data)
            alive = [w for w in self.stopping if w.thread.is_alive()]  # before the last count
            for w in self.stopping:  # stopped by the API: count what its last flush delivered
                task = tasks.get(w.name)
                if task and task.get("status") == "stopped" and self._spec(task, data) == w.spec:
                    task["produced"] = max(int(task.get("produced", 0)), w.produced)
            self.stopping = alive
            now = time.monotonic()
            for name, task in tasks.items():
                status = task.get("status")  # "pending": (re)started by the API, go at once
                wanted = status == "pending" or (
                    status in ACTIVE and now >= self.retry_at.get(name, 0)
                )
                if wanted and name not in self.workers:
                    self._start(name, task, data)
            active = [w.name for w in self.workers.values()] + [w.name for w in self.stopping]
            data["serving"] = {"pid": os.getpid(), "workers": sorted(set(active))}
            idle = not any(t.get("status") in ACTIVE for t in tasks.values()) and not active
            exiting = False
            if idle and self.exit_when_idle:
                self.idle_since = self.idle_since or now
                if now - self.idle_since >= IDLE_EXIT:
                    # Give up the lock while the state file is still locked: a concurrent
                    # start_background then either sees us running (its task was in the file we
                    # just read) or not running (and starts a new serve process).
                    data.pop("serving", None)
                    self._release()
                    exiting = True
            else:
                self.idle_since = None
            if json.dumps(data, sort_keys=True) != before:
                _write_state(self.paths.state, data)
        return exiting

    def _spec(self, task: dict[str, Any], data: dict[str, Any]) -> Spec:
        return Spec(task.get("generator"), task.get("topic"), task.get("seed", 0),
                    task.get("count"), data.get("bootstrap"), task.get("epoch", 0))  # fmt: skip

    def _reconcile(self, name: str, w: _Worker, task: dict | None, data: dict) -> None:
        if task is None or task.get("status") not in ACTIVE or self._spec(task, data) != w.spec:
            w.stop.set()
            self.stopping.append(w)
            del self.workers[name]
            if task is not None and self._spec(task, data) == w.spec:
                task["produced"] = w.produced  # stopped by the API: keep its progress
            return
        task["produced"] = w.produced
        if not w.finished:
            rate = _rate_or_none(task.get("rate"))
            if rate != w.limiter.per_second and rate is not False:
                w.limiter.set_rate(rate)
            task["status"], task["error"] = "running", None
            return
        del self.workers[name]
        if w.error is None:
            task["status"] = "done"
        else:
            task["status"], task["error"] = "retrying", w.error
            self.retry_at[name] = time.monotonic() + RETRY_AFTER

    def _start(self, name: str, task: dict[str, Any], data: dict[str, Any]) -> None:
        spec = self._spec(task, data)
        try:
            get(str(spec.generator))
            check_topic(spec.topic)
            per_second = parse_rate(task.get("rate"))
            produced = int(task.get("produced", 0))
            if not isinstance(spec.seed, int) or not isinstance(spec.count, int | None):
                raise DatagenError("seed and count must be integers")
        except (DatagenError, TypeError, ValueError) as e:
            task["status"], task["error"] = "invalid", str(e)
            return
        if spec.count is not None and produced >= spec.count:
            task["status"], task["error"] = "done", None
            return
        w = _Worker(name, spec, produced, lambda: client_config(spec.bootstrap or self.bootstrap))
        w.start(per_second)
        self.workers[name] = w
        task["status"], task["error"] = "running", None
        log.info("task %s: %s -> %s at %s from record %d", name, spec.generator, spec.topic,
                 task.get("rate"), produced)  # fmt: skip

    def _shutdown(self) -> None:
        workers = list(self.workers.values())
        for w in workers + self.stopping:
            w.stop.set()
        for w in workers + self.stopping:
            w.thread.join(STOP_JOIN)
        if self._instance is not None:  # still ours: save the final progress
            with _locked(self.paths), contextlib.suppress(DatagenError):
                data = read_state(self.paths.state)
                for w in workers + self.stopping:
                    task = data["tasks"].get(w.name)
                    if task is not None and self._spec(task, data) == w.spec:
                        task["produced"] = max(int(task.get("produced", 0)), w.produced)
                data.pop("serving", None)
                _write_state(self.paths.state, data)
            self._release()
        with contextlib.suppress(OSError):
            if json.loads(self.ready_file.read_text()).get("pid") == os.getpid():
                self.ready_file.unlink()
        log.info("stopped")


def _rate_or_none(rate: Any) -> float | bool | None:
    try:
        return parse_rate(rate)
    except DatagenError:
        return False  # keep the current pace; the task is fixed at its next restart


def serve(
    state: str | os.PathLike | None = None,
    bootstrap: str | None = None,
    ready_file: str | os.PathLike | None = None,
    exit_when_idle: bool = False,
) -> int:
    """Run the serve loop in this process until SIGTERM/SIGINT (or idle); the exit code."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return Server(state, bootstrap, ready_file, exit_when_idle).serve(stop)
