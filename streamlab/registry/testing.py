"""Start a Schema Registry as a real child process on a free port (tests, lessons, benchmarks).

Like :class:`streamlab.kafka.testing.ClusterProcess`: OS-chosen port (kept across restarts, so
clients configured with ``.url`` keep working), its own log file, ``stop()`` (SIGTERM),
``kill()`` (kill -9) and ``restart()``::

    with ClusterProcess(tmp / "kafka") as kafka, RegistryProcess(tmp / "sr", kafka.bootstrap) as sr:
        client = SchemaRegistryClient({"url": sr.url})
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request


class RegistryProcess:
    def __init__(
        self,
        work_dir: str,
        bootstrap: str,
        basic_auth: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.work_dir = os.path.abspath(work_dir)
        self.bootstrap = bootstrap
        self.basic_auth = basic_auth
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.ready: dict = {}
        self._port = 0
        self.log_path = os.path.join(self.work_dir, "registry.log")

    def start(self, timeout: float = 60.0) -> RegistryProcess:
        os.makedirs(self.work_dir, exist_ok=True)
        ready_file = os.path.join(self.work_dir, "ready.json")
        if os.path.exists(ready_file):
            os.unlink(ready_file)
        args = [
            sys.executable,
            "-m",
            "streamlab.registry",
            "--bootstrap",
            self.bootstrap,
            "--port",
            str(self._port),
            "--ready-file",
            ready_file,
            *self.extra_args,
        ]
        if self.basic_auth is not None:
            users = os.path.join(self.work_dir, "basic-auth.json")
            with open(users, "w") as f:
                json.dump(self.basic_auth, f)
            args += ["--basic-auth", users]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"registry exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"registry not ready after {timeout}s:\n{self.tail()}")
            time.sleep(0.02)
        with open(ready_file) as f:
            self.ready = json.load(f)
        self._port = self.ready["port"]
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
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, timeout: float = 60.0, hard: bool = False) -> RegistryProcess:
        self.kill() if hard else self.stop()
        return self.start(timeout)

    def __enter__(self) -> RegistryProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.ready["url"]

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.load(resp)

    def tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
