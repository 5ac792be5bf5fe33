"""The contract every streamlab service process keeps, and a launcher for it.

A service (``python -m streamlab.kafka``, ``streamlab.registry``, ``streamlab.awslambda``) takes
``--ready-file PATH`` and writes it atomically, as JSON with at least ``pid``, once it serves; it
stops cleanly on SIGTERM. ``ServiceProcess`` starts one as a child process on free ports for
tests, benchmarks and lessons; the stack supervisor (``streamlab.stack``) uses the same contract.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Self


def write_ready_file(path: str | None, info: dict[str, Any]) -> None:
    """Write ``info`` to ``path`` atomically (a reader never sees half a file)."""
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.replace(tmp, path)


class ServiceProcess:
    """One service as a child process. Subclasses give ``module`` and ``args()``."""

    module = ""  # e.g. "streamlab.registry"
    label = "service"  # how errors name it
    log_name = "service.log"
    start_timeout = 30.0

    def __init__(self, work_dir: str) -> None:
        self.work_dir = os.path.abspath(work_dir)
        self.log_path = os.path.join(self.work_dir, self.log_name)
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}

    def args(self) -> list[str]:
        """Command-line arguments after ``python -m <module>``, without --ready-file."""
        raise NotImplementedError

    def on_ready(self) -> None:
        """Called once the ready file is read (e.g. to keep the ports for a restart)."""

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> Self:
        timeout = self.start_timeout if timeout is None else timeout
        os.makedirs(self.work_dir, exist_ok=True)
        ready_file = os.path.join(self.work_dir, "ready.json")
        if os.path.exists(ready_file):
            os.unlink(ready_file)
        argv = [sys.executable, "-m", self.module, *self.args(), "--ready-file", ready_file]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready_file):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.label} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"{self.label} not ready after {timeout}s:\n{self.tail()}")
            time.sleep(0.02)
        with open(ready_file) as f:
            self.ready = json.load(f)
        self.on_ready()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, timeout: float | None = None, hard: bool = False) -> Self:
        self.kill() if hard else self.stop()
        return self.start(timeout)

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
