"""A broker stopped right after acknowledging (SIGKILL or SIGTERM) loses nothing it acknowledged:
records, committed offsets (with metadata) and topic configs are all there after a restart."""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition as TP
from confluent_kafka.admin import ConfigResource, ResourceType
from conformance_helpers import poll_n, result, unique


def _records(start: int, end: int) -> list[dict]:
    return [
        {"key": b"k%d" % i, "value": b"v%d" % i, "partition": i % 2, "headers": [("i", b"%d" % i)]}
        for i in range(start, end)
    ]


@pytest.mark.parametrize("hard", [True, False], ids=["sigkill", "sigterm"])
def test_restart_keeps_acknowledged_records_and_offsets(kafka, hard):
    if not kafka.can_restart:
        pytest.skip("cannot restart an external cluster")
    topic = kafka.create_topic(partitions=2, config={"cleanup.policy": "compact,delete"})
    conf = {"acks": "all", "enable.idempotence": True, "compression.type": "lz4", "linger.ms": 5}
    first = kafka.produce(topic, _records(0, 20), conf)

    group = unique("g")
    c = kafka.consumer(group=group)
    c.subscribe([topic])
    poll_n(c, 20)
    c.commit(offsets=[TP(topic, 0, 7, "seven"), TP(topic, 1, 3)], asynchronous=False)
    c.close()

    second = kafka.produce(topic, _records(20, 40), conf)
    kafka.restart(hard=hard)  # right after the last acknowledgement

    acked = {(m.partition(), m.offset()): m.value() for _, m in first + second}
    assert len(acked) == 40
    got = kafka.read(topic, 40, partitions=(0, 1), timeout=60)
    assert {(m.partition(), m.offset()): m.value() for m in got} == acked
    assert all(m.headers() == [("i", m.value()[1:])] for m in got)
    c = kafka.consumer(group=group)
    committed = c.committed([TP(topic, 0), TP(topic, 1)], timeout=30)
    assert [(tp.offset, tp.metadata) for tp in committed] == [(7, "seven"), (3, None)]
    res = ConfigResource(ResourceType.TOPIC, topic)
    cfg = result(kafka.admin.describe_configs([res])[res])
    assert cfg["cleanup.policy"].value == "compact,delete"
    # the log continues where it was, and the idempotent producer gets a fresh id
    reports = kafka.produce(topic, [{"key": b"k", "value": b"after", "partition": 0}], conf)
    assert reports[0][1].offset() == 20
