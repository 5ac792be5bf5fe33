"""Produce: acks, idempotence, codecs, timestamps, ordering, partitioning, size limits."""

from __future__ import annotations

import random
import time

import pytest
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    KafkaError,
)
from conformance_helpers import T0

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks(kafka, acks):
    topic = kafka.create_topic()
    values = [f"acks-{acks}-{i}".encode() for i in range(5)]
    reports = kafka.produce(topic, values, {"acks": acks})
    assert len(reports) == 5
    if acks != "0":  # acks=0 gets no response, so no offsets either
        assert [m.offset() for _, m in reports] == [0, 1, 2, 3, 4]
    assert [m.value() for m in kafka.read(topic, 5)] == values


def test_idempotent_producer(kafka):
    topic = kafka.create_topic(partitions=2)
    msgs = [{"value": str(i).encode(), "partition": i % 2} for i in range(20)]
    reports = kafka.produce(topic, msgs, {"enable.idempotence": True, "linger.ms": 5})
    for part in (0, 1):
        offsets = [m.offset() for _, m in reports if m.partition() == part]
        assert sorted(offsets) == list(range(10))
    got = kafka.read(topic, 20, partitions=(0, 1))
    assert sorted(int(m.value()) for m in got) == list(range(20))  # each exactly once


def _batch(i: int) -> list[dict]:
    """Records covering every field a record can carry, including nulls and empty headers."""
    return [
        {"key": b"k1", "value": b"v" * 300, "headers": [("h1", b"x"), ("h2", None)]},
        {"key": None, "value": f"no-key-{i}".encode()},
        {"key": b"tombstone", "value": None},
        {"key": b"", "value": b"", "headers": [("empty", b"")]},
        {"key": "ключ".encode(), "value": bytes(range(256)), "headers": [("h", b"1"), ("h", b"2")]},
    ]


@pytest.mark.parametrize("codec", CODECS)
def test_compression_round_trip(kafka, codec):
    topic = kafka.create_topic()
    sent = []
    for i, rec in enumerate(_batch(0) * 4):
        sent.append({**rec, "timestamp": T0 + i})
    # linger so the records travel as one (compressed) batch
    kafka.produce(topic, sent, {"compression.type": codec, "linger.ms": 50})
    got = kafka.read(topic, len(sent))
    assert [m.offset() for m in got] == list(range(len(sent)))
    for want, m in zip(sent, got, strict=True):
        assert m.key() == want["key"]
        assert m.value() == want["value"]
        assert (m.headers() or []) == want.get("headers", [])
        assert m.timestamp() == (TIMESTAMP_CREATE_TIME, want["timestamp"])


@pytest.mark.parametrize("codec", ["none", "lz4"])
def test_log_append_time(kafka, codec):
    topic = kafka.create_topic(config={"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    reports = kafka.produce(
        topic,
        [{"value": b"a", "timestamp": T0}, {"value": b"b", "timestamp": T0 + 1}],
        {"compression.type": codec, "linger.ms": 50},
    )
    after = int(time.time() * 1000)
    for m in [m for _, m in reports] + kafka.read(topic, 2):
        kind, ts = m.timestamp()
        assert kind == TIMESTAMP_LOG_APPEND_TIME
        # the broker's clock, not the producer's T0 (generous bounds: clocks are the same host)
        assert before - 5000 <= ts <= after + 5000


def test_create_time_default_is_producer_clock(kafka):
    topic = kafka.create_topic()
    before = int(time.time() * 1000)
    kafka.produce(topic, [b"now"])
    kind, ts = kafka.read(topic, 1)[0].timestamp()
    assert kind == TIMESTAMP_CREATE_TIME
    assert before - 5000 <= ts <= int(time.time() * 1000) + 5000


def test_ordering_within_partition(kafka):
    topic = kafka.create_topic(partitions=3)
    msgs = [{"value": str(i).encode(), "partition": 1} for i in range(300)]
    # Order within a partition is guaranteed with idempotence: without it a retried batch (a
    # transient error on a just-created topic, seen on real Kafka) may land after the next one.
    conf = {"linger.ms": 2, "batch.num.messages": 37, "enable.idempotence": True}
    reports = kafka.produce(topic, msgs, conf)
    assert [m.offset() for _, m in reports] == list(range(300))
    got = kafka.read(topic, 300, partitions=(1,))
    assert [int(m.value()) for m in got] == list(range(300))
    assert [m.offset() for m in got] == list(range(300))


def test_keyed_partitioning(kafka):
    topic = kafka.create_topic(partitions=4)
    keys = [f"key-{i}".encode() for i in range(12)]
    reports = kafka.produce(topic, [{"key": k, "value": b"%d" % r} for r in range(3) for k in keys])
    placed: dict[bytes, set[int]] = {}
    for _, m in reports:
        placed.setdefault(m.key(), set()).add(m.partition())
    assert all(len(parts) == 1 for parts in placed.values()), placed
    assert len({p for parts in placed.values() for p in parts}) > 1  # keys do spread out
    # the consumer sees each key only in the partition the producer reported
    for m in kafka.read(topic, 36, partitions=range(4)):
        assert placed[m.key()] == {m.partition()}


def test_explicit_partition(kafka):
    topic = kafka.create_topic(partitions=3)
    reports = kafka.produce(topic, [{"value": b"x", "partition": 2}])
    assert reports[0][1].partition() == 2
    assert kafka.read(topic, 1, partitions=(2,))[0].value() == b"x"


def test_unknown_partition_fails(kafka):
    topic = kafka.create_topic(partitions=1)
    reports = kafka.produce(topic, [{"value": b"x", "partition": 5}], check=False)
    assert reports[0][0].code() == KafkaError._UNKNOWN_PARTITION


@pytest.mark.parametrize("codec", ["none", "gzip"])
def test_message_larger_than_topic_limit(kafka, codec):
    topic = kafka.create_topic(config={"max.message.bytes": "10000"})
    big = random.Random(1).randbytes(30_000)  # incompressible: gzip cannot bring it under
    reports = kafka.produce(
        topic, [{"value": big}], {"compression.type": codec, "message.max.bytes": 1_000_000},
        check=False,
    )  # fmt: skip
    assert reports[0][0] is not None
    assert reports[0][0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    # the topic still works for messages under the limit
    kafka.produce(topic, [b"small"])
    assert kafka.read(topic, 1)[0].value() == b"small"


def test_compacted_topic_rejects_null_keys(kafka):
    topic = kafka.create_topic(config={"cleanup.policy": "compact"})
    reports = kafka.produce(topic, [{"key": None, "value": b"v"}], check=False)
    assert reports[0][0].code() == KafkaError.INVALID_RECORD
    kafka.produce(topic, [{"key": b"k", "value": b"v"}, {"key": b"k", "value": None}])
    assert [m.value() for m in kafka.read(topic, 2)] == [b"v", None]


def test_timestamp_bounds(kafka):
    """message.timestamp.after.max.ms defaults to 1 h in Kafka 4 (KIP-937); no lower bound."""
    topic = kafka.create_topic()
    now = int(time.time() * 1000)
    future = kafka.produce(topic, [{"value": b"x", "timestamp": now + 2 * 3600_000}], check=False)
    assert future[0][0].code() == KafkaError.INVALID_TIMESTAMP
    ok = [now + 1800_000, 1000]  # half an hour ahead, and 1970
    kafka.produce(topic, [{"value": b"%d" % ts, "timestamp": ts} for ts in ok])
    got = [m.timestamp() for m in kafka.read(topic, 2)]
    assert got == [(TIMESTAMP_CREATE_TIME, ts) for ts in ok]
