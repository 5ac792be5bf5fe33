"""Start an emulated cluster as a real child process on free ports (tests, benchmarks, lessons).

Tests never collide with a running lab: every ClusterProcess gets OS-chosen ports and its own
data dir, so ``streamlab up`` in one terminal and the test suite in another both work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request


class ClusterProcess:
    def __init__(
        self,
        data_dir: str,
        brokers: int = 1,
        sasl_users: dict[str, str] | None = None,
        auto_create: bool = True,
        num_partitions: int = 1,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.brokers = brokers
        self.sasl_users = sasl_users
        self.auto_create = auto_create
        self.num_partitions = num_partitions
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.ready: dict = {}
        self._ports: tuple[int, int] | None = None  # (first broker port, http port) to reuse

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> ClusterProcess:
        os.makedirs(self.data_dir, exist_ok=True)
        ready_file = os.path.join(self.data_dir, "ready.json")
        if os.path.exists(ready_file):
            os.unlink(ready_file)
        port, http_port = self._ports or (0, 0)
        args = [
            sys.executable,
            "-m",
            "streamlab.kafka",
            "--data-dir",
            self.data_dir,
            "--port",
            str(port),
            "--http-port",
            str(http_port),
            "--brokers",
            str(self.brokers),
            "--ready-file",
            ready_file,
            "--num-partitions",
            str(self.num_partitions),
            *self.extra_args,
        ]
        if self.sasl_users is not None:
            users_file = os.path.join(self.data_dir, "sasl-users.json")
            with open(users_file, "w") as f:
                json.dump(self.sasl_users, f)
            args += ["--sasl-users", users_file]
        if not self.auto_create:
            args.append("--no-auto-create")
        self.log_path = os.path.join(self.data_dir, "broker.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"broker not ready after {timeout}s:\n{self.tail()}")
            time.sleep(0.02)
        with open(ready_file) as f:
            self.ready = json.load(f)
        ports = sorted(int(p) for p in self.ready["brokers"].values())
        if self.brokers == 1 or ports == list(range(ports[0], ports[0] + len(ports))):
            self._ports = (ports[0], self.ready["http"])
        return self

    def stop(self, timeout: float = 10.0) -> None:
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

    def restart(self, timeout: float = 20.0, hard: bool = False) -> ClusterProcess:
        self.kill() if hard else self.stop()
        return self.start(timeout)

    def __enter__(self) -> ClusterProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses and helpers ----------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return self.ready["bootstrap"]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ready['http']}"

    def broker_ports(self) -> dict[int, int]:
        return {int(k): v for k, v in self.ready["brokers"].items()}

    def api(self, path: str, method: str = "GET") -> dict:
        req = urllib.request.Request(self.http_url + path, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
