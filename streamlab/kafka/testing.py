"""Start an emulated cluster as a real child process on free ports (tests, benchmarks, lessons).

Tests never collide with a running lab: every ClusterProcess gets OS-chosen ports and its own
data dir, so ``streamlab up`` in one terminal and the test suite in another both work. A restart
reuses the ports it got, so clients configured with ``.bootstrap`` keep working.
"""

from __future__ import annotations

import json
import os
import struct
import time
import urllib.request

import crc32c

from streamlab.service import ServiceProcess


class ClusterProcess(ServiceProcess):
    module = "streamlab.kafka"
    label = "broker"
    log_name = "broker.log"
    start_timeout = 20.0

    def __init__(
        self,
        data_dir: str,
        brokers: int = 1,
        sasl_users: dict[str, str] | None = None,
        auto_create: bool = True,
        num_partitions: int = 1,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        super().__init__(data_dir)
        self.data_dir = self.work_dir
        self.brokers = brokers
        self.sasl_users = sasl_users
        self.auto_create = auto_create
        self.num_partitions = num_partitions
        self.extra_args = extra_args
        self._ports: tuple[int, int] | None = None  # (first broker port, http port) to reuse

    def args(self) -> list[str]:
        port, http_port = self._ports or (0, 0)
        # No retention passes unless extra_args ask (a later flag wins): tests replay records
        # dated 1970 (QTT timestamps), which a pass would delete in the middle of a test.
        args = ["--data-dir", self.data_dir, "--port", str(port), "--http-port", str(http_port),
                "--brokers", str(self.brokers), "--num-partitions", str(self.num_partitions),
                "--log-retention-check-interval-ms", "0",
                *self.extra_args]  # fmt: skip
        if self.sasl_users is not None:
            os.makedirs(self.data_dir, exist_ok=True)
            users_file = os.path.join(self.data_dir, "sasl-users.json")
            with open(users_file, "w") as f:
                json.dump(self.sasl_users, f)
            args += ["--sasl-users", users_file]
        if not self.auto_create:
            args.append("--no-auto-create")
        return args

    def on_ready(self) -> None:
        # Broker i listens on port+i-1: reusable only when the OS gave consecutive ports.
        ports = sorted(int(p) for p in self.ready["brokers"].values())
        if self.brokers == 1 or ports == list(range(ports[0], ports[0] + len(ports))):
            self._ports = (ports[0], self.ready["http"])

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


def raw_batch(
    values: list[bytes],
    corrupt_crc: bool = False,
    magic: int = 2,
    record_count: int | None = None,
) -> bytes:
    """An uncompressed record batch in Kafka's DefaultRecordBatch layout (base offset 0, no keys),
    built by hand so tests can break it: a wrong CRC (which does not cover the magic byte), a
    magic byte Kafka refuses, a record count that is not the records', or bytes cut off the
    end."""
    now = int(time.time() * 1000)
    records = b""
    for i, value in enumerate(values):
        body = b"\0" + _varint(0) + _varint(i) + _varint(-1) + _varint(len(value)) + value
        body += _varint(0)  # no headers
        records += _varint(len(body)) + body
    n = len(values)
    count = n if record_count is None else record_count
    after_crc = struct.pack(">hiqqqhii", 0, n - 1, now, now, -1, -1, -1, count) + records
    crc = crc32c.crc32c(after_crc) ^ (1 if corrupt_crc else 0)
    return struct.pack(">qiibI", 0, 9 + len(after_crc), -1, magic, crc) + after_crc


def _varint(n: int) -> bytes:
    """Kafka's zig-zag varint."""
    z, out = (n << 1) ^ (n >> 63), bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    return bytes([*out, z])
