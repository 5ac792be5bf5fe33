"""Start the ksql server as a child process on a free port (tests, lessons, benchmarks)::

    with ClusterProcess(tmp / "kafka") as kafka, KsqlProcess(tmp / "ksql", kafka.bootstrap) as ksql:
        KsqlClient(ksql.url).execute("SHOW STREAMS;")

The port is OS-chosen the first time and kept across restarts, like the other launchers.
"""

from __future__ import annotations

import json
import urllib.request

from streamlab.service import ServiceProcess

#: As the lab stack runs it (``streamlab/stack.py``): no record cache, one record per update;
#: ``extra_args`` may set it again (a later ``--config`` wins).
NO_RECORD_CACHE = ("--config", "ksql.streams.cache.max.bytes.buffering=0")


class KsqlProcess(ServiceProcess):
    module = "streamlab.ksql"
    label = "ksql"
    log_name = "ksql.log"
    start_timeout = 60.0

    def __init__(
        self,
        work_dir: str,
        bootstrap: str,
        registry_url: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        super().__init__(work_dir)
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.extra_args = extra_args
        self._port = 0

    def args(self) -> list[str]:
        args = ["--bootstrap", self.bootstrap, "--port", str(self._port),
                "--data-dir", f"{self.work_dir}/data",
                *NO_RECORD_CACHE, *self.extra_args]  # fmt: skip
        if self.registry_url:
            args += ["--registry-url", self.registry_url]
        return args

    def on_ready(self) -> None:
        self._port = self.ready["port"]

    @property
    def url(self) -> str:
        return self.ready["url"]

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.load(resp)
