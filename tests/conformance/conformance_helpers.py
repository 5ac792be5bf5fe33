"""Helpers shared by the conformance tests (imported by name: pytest puts this folder on
sys.path because it has no __init__.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

# A CreateTime in the past for tests that set timestamps, in whole seconds: an hour ago, not a
# fixed date, since the broker's retention (7 days, by record timestamp) would delete records
# stamped with an old date at its next pass, in the middle of a test.
T0 = (int(time.time()) - 3600) * 1000


def unique(prefix: str = "t") -> str:
    """A topic/group name no other test uses (hyphens only: Kafka warns on '.' vs '_')."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_for(cond: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    """Poll cond() until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def result(future, timeout: float = 30) -> Any:
    return future.result(timeout=timeout)


def error_of(future, timeout: float = 30) -> KafkaError:
    """The KafkaError an admin future fails with (fails the test if it succeeds)."""
    exc = future.exception(timeout=timeout)
    assert exc is not None, f"expected an error, got {future.result()!r}"
    return exc.args[0]


def poll_n(consumer: Consumer, count: int, timeout: float = 20) -> list[Message]:
    """Poll until `count` records arrived (more are kept if a batch overshoots)."""
    msgs: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(msgs) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"got {len(msgs)} of {count} records within {timeout}s")
        m = consumer.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            pytest.fail(f"consumer error: {m.error()}")
        msgs.append(m)
    return msgs


def own_cluster_fixture(name: str, broker: dict[str, str]):
    """A module fixture ``bootstrap`` for a module that needs broker settings (server.properties
    ``broker``) the shared ``kafka`` fixture does not have: a cluster of its own per system,
    parametrized ``emulator`` and ``realkafka``. The emulator takes the settings as the flags
    ``streamlab.stack`` maps them to."""

    @pytest.fixture(
        scope="module",
        params=["emulator", pytest.param("realkafka", marks=pytest.mark.realkafka)],
    )
    def bootstrap(request, tmp_path_factory):
        tmp = tmp_path_factory.mktemp(f"{name}-{request.param}")
        yield from _own_cluster(request.param, tmp, broker)

    return bootstrap


def _own_cluster(kind: str, tmp, broker: dict[str, str]):
    if kind == "emulator":
        from streamlab.kafka.testing import ClusterProcess
        from streamlab.stack import EMULATED_BROKER_PROPERTIES

        flags = tuple(arg for k, v in broker.items() for arg in (EMULATED_BROKER_PROPERTIES[k], v))
        cluster = ClusterProcess(str(tmp / "main"), extra_args=flags).start()
        try:
            yield cluster.bootstrap
        finally:
            cluster.stop()
        return
    from streamlab import realkafka

    ok, reason = realkafka.available()
    if not ok:
        pytest.skip(f"real Kafka unavailable: {reason}")
    server = realkafka.RealKafka(tmp / "main", overrides=broker)
    try:
        server.start(timeout=80)
    except realkafka.RealKafkaUnavailable as e:
        pytest.skip(f"real Kafka unavailable: {e}")
    try:
        yield server.bootstrap
    finally:
        server.stop()


def read_partition(bootstrap: str, topic: str, partition: int = 0) -> list[Message]:
    """Every record of one partition, from its start to its end."""
    c = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("reader"), "enable.partition.eof": True}
    )
    c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
    out = []
    try:
        while True:
            m = c.poll(10)
            assert m is not None, "no end of partition"
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF
                return out
            out.append(m)
    finally:
        c.close()
