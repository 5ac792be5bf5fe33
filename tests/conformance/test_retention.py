"""Retention (retention.ms, retention.bytes) on the emulator and on real Kafka.

Both need ``log.retention.check.interval.ms`` lowered (Kafka's default is 5 minutes) and
``log.initial.task.delay.ms`` (30 s) set to 0, broker settings, so this module starts its own
cluster of each kind rather than using the shared ``kafka`` fixture. Kafka's smallest
``segment.bytes`` is 1 MiB: 400 kB records put two records in a segment.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)
from conformance_helpers import own_cluster_fixture, read_partition, result, unique, wait_for

HOUR_MS = 3_600_000
SEGMENT_BYTES = 1_048_576
VALUE = b"x" * 400_000
CHECK_MS = 500
WAIT = 60  # seconds
BROKER = {"log.retention.check.interval.ms": str(CHECK_MS), "log.initial.task.delay.ms": "0"}


bootstrap = own_cluster_fixture("retention", BROKER)


def create(bootstrap: str, **configs: str) -> str:
    topic = unique("retention")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    configs = {"segment.bytes": str(SEGMENT_BYTES), **configs}
    result(admin.create_topics([NewTopic(topic, 1, config=configs)])[topic])
    return topic


def produce(bootstrap: str, topic: str, timestamps: list[int]) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "compression.type": "none"})
    for ts in timestamps:
        p.produce(topic, value=VALUE, timestamp=ts)
        p.flush(10)  # one batch per record


def watermarks(bootstrap: str, topic: str) -> tuple[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("lo")})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()


def offsets_read(bootstrap: str, topic: str) -> list[int]:
    return [m.offset() for m in read_partition(bootstrap, topic)]


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.timeout(180)
def test_expired_segments_go_and_the_rest_stays(bootstrap):
    topic = create(bootstrap, **{"retention.ms": str(HOUR_MS)})
    old = now_ms() - 2 * HOUR_MS
    produce(bootstrap, topic, [old, old, old, old, now_ms(), now_ms()])  # segments 0-1, 2-3, 4-5
    wait_for(lambda: watermarks(bootstrap, topic)[0] == 4, WAIT, "the expired segments to go")
    assert watermarks(bootstrap, topic) == (4, 6)
    assert offsets_read(bootstrap, topic) == [4, 5]


@pytest.mark.timeout(180)
def test_an_expired_active_segment_goes_too(bootstrap):
    topic = create(bootstrap, **{"retention.ms": str(HOUR_MS)})
    old = now_ms() - 2 * HOUR_MS
    produce(bootstrap, topic, [old, old, old])  # segments 0-1 and the active 2
    wait_for(lambda: watermarks(bootstrap, topic) == (3, 3), WAIT, "the partition to empty")
    produce(bootstrap, topic, [now_ms()])
    assert offsets_read(bootstrap, topic) == [3]


@pytest.mark.timeout(180)
def test_retention_bytes_and_an_altered_retention_ms(bootstrap):
    # 3 segments of ~800 kB, limit 1 MiB: only the oldest goes (two would leave less)
    sized = create(bootstrap, **{"retention.bytes": str(SEGMENT_BYTES)})
    produce(bootstrap, sized, [now_ms()] * 6)
    forever = create(bootstrap, **{"retention.ms": "-1"})
    old = now_ms() - 2 * HOUR_MS
    produce(bootstrap, forever, [old, old, old, old, now_ms()])
    wait_for(lambda: watermarks(bootstrap, sized)[0] == 2, WAIT, "size retention")
    assert watermarks(bootstrap, sized) == (2, 6)
    assert watermarks(bootstrap, forever) == (0, 5)  # -1: kept

    admin = AdminClient({"bootstrap.servers": bootstrap})
    entry = ConfigEntry("retention.ms", str(HOUR_MS), incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ConfigResource.Type.TOPIC, forever, incremental_configs=[entry])
    result(admin.incremental_alter_configs([res])[res])
    wait_for(lambda: watermarks(bootstrap, forever)[0] == 4, WAIT, "the altered retention.ms")
    assert offsets_read(bootstrap, forever) == [4]


@pytest.mark.timeout(180)
def test_segment_ms_rolls_by_record_timestamp_so_old_records_expire_apart(bootstrap):
    # small records: only the time rule can roll a segment here (segment.ms = retention.ms = 1 h)
    topic = create(bootstrap, **{"retention.ms": str(HOUR_MS), "segment.ms": str(HOUR_MS)})
    old = now_ms() - 3 * HOUR_MS
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for ts in (old, old + 1000, now_ms()):  # the third is 3 h after the segment's first
        p.produce(topic, value=b"v", timestamp=ts)
        p.flush(10)
    wait_for(lambda: watermarks(bootstrap, topic)[0] == 2, WAIT, "the old segment to go")
    assert watermarks(bootstrap, topic) == (2, 3)
    assert offsets_read(bootstrap, topic) == [2]
