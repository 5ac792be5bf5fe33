"""Background generators that outlive the notebook kernel which started them.

One small process, ``python -m streamlab.datagen serve --state FILE``, runs the generators listed
in a JSON state file and re-reads it every half second, like a Connect worker running Datagen
connectors. The Python API below only edits that file and makes sure a serve process runs; it
never talks to the generators directly, so a kernel restart loses nothing.

The state file (default ``.streamlab/data/datagen/tasks.json``)::

    {"version": 1,
     "bootstrap": "127.0.0.1:9092",          # optional; else --bootstrap, else the profile
     "tasks": {"stock_trades": {"generator": "stock_trades", "topic": "stocktrade",
                                "rate": "10/s", "seed": 0, "count": null,
                                "produced": 1234,  # acknowledged so far = next sequence index
                                "epoch": 0,  # +1 whenever the sequence starts over
                                "status": "running", "error": null, "updated": 1.7e9}},
     "serving": {"pid": 4242, "workers": ["stock_trades"]}}   # written by serve

Who writes what: the API writes a task's settings and sets status pending/stopped; serve writes
produced, status running/done/retrying/invalid, error and ``serving``. Every change is a
read-modify-write under an flock on ``FILE.lock`` followed by an atomic rename, so both sides can
edit at once. Serve holds an flock on ``FILE.serve.lock`` (holding its pid) while it runs: that,
not a pid file, is how anyone tells whether it is running, and it is released even on kill -9.

Delivery is at least once: progress is saved every half second, so after a crash (or when a
task's topic, seed, count or cluster changes) up to half a second of records may be produced
again. A rate change applies to the running generator without a restart.

For the stack supervisor: the serve process is an ordinary component. It writes ``--ready-file``
(JSON with ``pid``) once it holds its lock, stops cleanly on SIGTERM, and with
``--exit-when-idle`` (what :func:`ensure_serving` passes) exits once no task is active.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from streamlab.datagen.datasets import DatagenError, get
from streamlab.datagen.producer import check_topic
from streamlab.datagen.rate import parse_rate

ACTIVE = ("pending", "running", "retrying")  # task statuses that want a running generator
ALREADY_SERVING = 3  # the serve process's exit code when another one holds the state file

_spawned: list[subprocess.Popen] = []  # serve processes started here, reaped when they exit


# --- the state file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    state: Path

    @property
    def lock(self) -> Path:
        return self.state.with_name(self.state.name + ".lock")

    @property
    def instance(self) -> Path:
        return self.state.with_name(self.state.name + ".serve.lock")

    @property
    def ready(self) -> Path:
        return self.state.with_name(self.state.name + ".serve.json")

    @property
    def log(self) -> Path:
        return self.state.with_name(self.state.name + ".serve.log")


def default_state_file() -> Path:
    from streamlab.config import load

    return load().paths.data_dir("datagen") / "tasks.json"


def _paths(state: str | os.PathLike | None) -> Paths:
    return Paths(Path(state).resolve() if state else default_state_file())


def _empty() -> dict[str, Any]:
    return {"version": 1, "bootstrap": None, "tasks": {}}


def read_state(state: str | os.PathLike | None = None) -> dict[str, Any]:
    path = _paths(state).state
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return _empty()
    except (OSError, ValueError) as e:
        raise DatagenError(f"cannot read datagen state file {path}: {e}; fix or delete it") from e
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        raise DatagenError(f"datagen state file {path} has no 'tasks' object; fix or delete it")
    return {**_empty(), **data}


def _write_state(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)  # readers see the old or the new file, never half of one


@contextlib.contextmanager
def _locked(paths: Paths) -> Iterator[None]:
    paths.state.parent.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _edit(paths: Paths, change: Callable[[dict[str, Any]], Any]) -> Any:
    with _locked(paths):
        data = read_state(paths.state)
        result = change(data)
        _write_state(paths.state, data)
        return result


# --- the Python API -------------------------------------------------------------------------------


def start_background(
    name: str,
    topic: str | None = None,
    rate: str | float = "10/s",
    *,
    seed: int = 0,
    count: int | None = None,
    task: str | None = None,
    bootstrap: str | None = None,
    state: str | os.PathLike | None = None,
    from_start: bool = False,
) -> dict[str, Any]:
    """Run generator ``name`` in the background (a separate process) and return its task.

    Starting a task that exists updates it in place: a new rate applies at once, and with the
    same generator and seed the sequence continues where it stopped (``from_start=True`` begins
    again at record 0).

    Args:
        task: the task's name in the state file; default: the generator's name.
        bootstrap: the cluster to produce to; default: the active profile's.
        state: the state file; default ``.streamlab/data/datagen/tasks.json``.
    """
    ds = get(name)
    topic = check_topic(ds.topic if topic is None else topic)
    per_second = parse_rate(rate)
    rate = rate if isinstance(rate, str) else f"{per_second:g}/s"
    task = check_topic(task or ds.name)  # same alphabet as topic names keeps it file-safe
    for what, value in (("seed", seed), ("count", count)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise DatagenError(f"{what} must be an integer, got {value!r}")
    if count is not None and count < 0:
        raise DatagenError(f"count must be at least 0, got {count}")
    paths = _paths(state)

    def change(data: dict[str, Any]) -> dict[str, Any]:
        old = data["tasks"].get(task) or {}
        same_sequence = old.get("generator") == ds.name and old.get("seed") == seed
        restart = from_start or not same_sequence
        data["tasks"][task] = entry = {
            "generator": ds.name,
            "topic": topic,
            "rate": rate,
            "seed": seed,
            "count": count,
            "produced": 0 if restart else int(old.get("produced", 0)),
            # Bumped when the sequence starts over, so a running generator is replaced even if
            # nothing else changed.
            "epoch": int(old.get("epoch", 0)) + 1 if restart and old else int(old.get("epoch", 0)),
            "status": "pending",
            "error": None,
            "updated": time.time(),
        }
        if bootstrap is not None:
            data["bootstrap"] = bootstrap
        return {"name": task, **entry}

    entry = _edit(paths, change)
    ensure_serving(paths.state)
    return entry


def stop_background(
    name: str,
    *,
    state: str | os.PathLike | None = None,
    forget: bool = False,
    wait: bool = True,
    timeout: float = 30.0,
) -> bool:
    """Stop background task ``name``; False if there is no such task.

    The task stays in the state file as ``stopped`` (a later start continues its sequence)
    unless ``forget``. With ``wait``, return once its producer has flushed and closed.
    """
    paths = _paths(state)

    def change(data: dict[str, Any]) -> bool:
        tasks = data["tasks"]
        if name not in tasks:
            return False
        if forget:
            del tasks[name]
        else:
            tasks[name].update(status="stopped", updated=time.time())
        return True

    found = _edit(paths, change)
    if found and wait:
        deadline = time.monotonic() + timeout
        while serve_pid(paths.state) is not None:
            workers = read_state(paths.state).get("serving", {}).get("workers", [])
            if name not in workers:
                break
            if time.monotonic() > deadline:
                raise DatagenError(f"background task {name!r} did not stop within {timeout:g} s")
            time.sleep(0.1)
    return found


def list_background(state: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Every task in the state file, with ``serving``: the pid of the serve process or None."""
    paths = _paths(state)
    data = read_state(paths.state)
    pid = serve_pid(paths.state)
    return [{"name": name, **task, "serving": pid} for name, task in data["tasks"].items()]


def serve_pid(state: str | os.PathLike | None = None) -> int | None:
    """The pid of the serve process working on this state file, or None if none runs."""
    paths = _paths(state)
    try:
        f = open(paths.instance)  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        return None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = f.read().strip()
            return int(text) if text.isdigit() else -1  # -1: starting, pid not written yet
        fcntl.flock(f, fcntl.LOCK_UN)
        return None


def ensure_serving(
    state: str | os.PathLike | None = None, bootstrap: str | None = None, timeout: float = 15.0
) -> int:
    """Start a serve process for the state file unless one runs; return its pid.

    The process gets its own session, so it survives the Python process (or notebook kernel)
    that started it, and exits by itself once no task is active.
    """
    paths = _paths(state)
    _spawned[:] = [p for p in _spawned if p.poll() is None]
    pid = serve_pid(paths.state)
    if pid is not None and pid > 0:
        return pid
    proc = None
    if pid is None:
        paths.state.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "streamlab.datagen", "serve", "--state", str(paths.state),
                "--exit-when-idle"]  # fmt: skip
        if bootstrap:
            argv += ["--bootstrap", bootstrap]
        with open(paths.log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a kernel restart signals its process group, not ours
            )
        _spawned.append(proc)
    deadline = time.monotonic() + timeout
    while True:
        pid = serve_pid(paths.state)
        if pid is not None and pid > 0:
            return pid
        # Another serve process won the lock: wait for its pid instead.
        if proc is not None and proc.poll() not in (None, ALREADY_SERVING):
            raise DatagenError(
                f"the datagen serve process exited with code {proc.returncode}; "
                f"see {paths.log}:\n{_tail(paths.log)}"
            )
        if time.monotonic() > deadline:
            raise DatagenError(f"the datagen serve process did not start; see {paths.log}")
        time.sleep(0.05)


def stop_serving(state: str | os.PathLike | None = None, timeout: float = 15.0) -> int | None:
    """SIGTERM the serve process (it flushes and exits); return its pid, None if none ran."""
    paths = _paths(state)
    pid = serve_pid(paths.state)
    if pid is None or pid < 0:
        return None
    try:
        proc = psutil.Process(pid)
        if "streamlab.datagen" not in " ".join(proc.cmdline()):
            raise DatagenError(f"pid {pid} in {paths.instance} is not a datagen serve process")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        proc.kill()
    _spawned[:] = [p for p in _spawned if p.poll() is None]
    return pid


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(True)[-lines:])
    except OSError:
        return ""
