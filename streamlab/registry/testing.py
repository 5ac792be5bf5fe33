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
import urllib.request

from streamlab.service import ServiceProcess


class RegistryProcess(ServiceProcess):
    module = "streamlab.registry"
    label = "registry"
    log_name = "registry.log"
    start_timeout = 60.0

    def __init__(
        self,
        work_dir: str,
        bootstrap: str,
        basic_auth: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        super().__init__(work_dir)
        self.bootstrap = bootstrap
        self.basic_auth = basic_auth
        self.extra_args = extra_args
        self._port = 0  # OS-chosen the first time, then kept across restarts

    def args(self) -> list[str]:
        args = ["--bootstrap", self.bootstrap, "--port", str(self._port), *self.extra_args]
        if self.basic_auth is not None:
            os.makedirs(self.work_dir, exist_ok=True)
            users = os.path.join(self.work_dir, "basic-auth.json")
            with open(users, "w") as f:
                json.dump(self.basic_auth, f)
            args += ["--basic-auth", users]
        return args

    def on_ready(self) -> None:
        self._port = self.ready["port"]

    @property
    def url(self) -> str:
        return self.ready["url"]

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.load(resp)
