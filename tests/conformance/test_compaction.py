"""Log compaction (cleanup.policy=compact) on the emulator and on real Kafka: what the cleaner
keeps, and what it leaves alone.

The cleaner runs every ``log.cleaner.backoff.ms`` (15 s by default), a broker setting, so this
module starts its own cluster of each kind with it lowered. Only closed segments are cleaned:
400 kB records in 1 MiB segments put two records in each, so a test controls exactly which
offsets the cleaner may touch. ``min.cleanable.dirty.ratio`` is set low where a test wants the
cleaner to run at once (Kafka's default 0.5 is met anyway by a log that was never cleaned).
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)
from conformance_helpers import own_cluster_fixture, read_partition, result, unique, wait_for

HOUR_MS = 3_600_000
VALUE = b"x" * 400_000
BACKOFF_MS = 300
WAIT = 60  # seconds
SET = AlterConfigOpType.SET
BROKER = {"log.cleaner.backoff.ms": str(BACKOFF_MS), "log.initial.task.delay.ms": "0"}
COMPACT = {
    "cleanup.policy": "compact",
    "segment.bytes": "1048576",  # Kafka's smallest
    "min.cleanable.dirty.ratio": "0.01",
}


bootstrap = own_cluster_fixture("compaction", BROKER)


def create(bootstrap: str, **configs: str) -> str:
    topic = unique("compacted")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    result(admin.create_topics([NewTopic(topic, 1, config={**COMPACT, **configs})])[topic])
    return topic


def produce(bootstrap: str, topic: str, records: list[tuple[str, bool]], ts: int | None = None):
    """(key, tombstone?) pairs, one batch each; values of 400 kB (two fill a segment)."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "compression.type": "none"})
    for key, tombstone in records:
        p.produce(topic, key=key.encode(), value=None if tombstone else VALUE, timestamp=ts or 0)
        p.flush(10)


def read(bootstrap: str, topic: str) -> list[tuple[int, str, bool]]:
    """(offset, key, tombstone?) of every record in the partition."""
    return [
        (m.offset(), m.key().decode(), m.value() is None) for m in read_partition(bootstrap, topic)
    ]


def offsets(bootstrap: str, topic: str) -> list[int]:
    return [o for o, _, _ in read(bootstrap, topic)]


def settle() -> None:
    """Long enough for a few cleaner passes on either broker."""
    time.sleep(10 * BACKOFF_MS / 1000 + 2)


@pytest.mark.timeout(180)
def test_closed_segments_keep_the_latest_record_per_key(bootstrap):
    topic = create(bootstrap)
    # segments [0 a, 1 b] [2 a, 3 b] and the active [4 a, 5 c]
    produce(bootstrap, topic, [("a", False), ("b", False), ("a", False), ("b", False)])
    produce(bootstrap, topic, [("a", False), ("c", False)])
    wait_for(lambda: offsets(bootstrap, topic) == [2, 3, 4, 5], WAIT, "0 and 1 compacted away")
    # the active segment is never cleaned, so a (2) stays although 4 replaced it
    settle()
    assert read(bootstrap, topic) == [
        (2, "a", False),
        (3, "b", False),
        (4, "a", False),
        (5, "c", False),
    ]


@pytest.mark.timeout(180)
def test_min_compaction_lag_keeps_young_records(bootstrap):
    young = create(bootstrap, **{"min.compaction.lag.ms": str(HOUR_MS)})
    old = create(bootstrap, **{"min.compaction.lag.ms": str(HOUR_MS)})
    records = [("a", False), ("a", False), ("a", False), ("b", False), ("b", False)]
    produce(bootstrap, young, records)
    produce(bootstrap, old, records, ts=int(time.time() * 1000) - 2 * HOUR_MS)
    wait_for(lambda: offsets(bootstrap, old) == [2, 3, 4], WAIT, "the old records compacted")
    settle()
    assert offsets(bootstrap, young) == [0, 1, 2, 3, 4]  # younger than the lag: all stay


@pytest.mark.timeout(180)
def test_a_tombstone_goes_at_its_delete_horizon_on_a_later_cleaning(bootstrap):
    # held back by min.compaction.lag.ms while the records go in, so that one cleaning sees
    # them all (two would remove gone's tombstone at the second: its horizon is now)
    held = {"min.compaction.lag.ms": str(HOUR_MS)}
    kept = create(bootstrap, **held, **{"delete.retention.ms": str(HOUR_MS)})
    gone = create(bootstrap, **held, **{"delete.retention.ms": "0"})
    # [0 a, 1 a=tombstone, 2 b] [3 b, 4 c] and the active [5 c]: a's delete is in a closed segment
    records = [("a", False), ("a", True), ("b", False), ("b", False), ("c", False), ("c", False)]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for topic in (kept, gone):
        produce(bootstrap, topic, records)
        entry = ConfigEntry("min.compaction.lag.ms", "0", incremental_operation=SET)
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
        result(admin.incremental_alter_configs([resource])[resource])
    # the first cleaning keeps every tombstone: it only sets its delete horizon
    after_first = [(1, "a", True), (3, "b", False), (4, "c", False), (5, "c", False)]
    for topic in (kept, gone):
        wait_for(lambda t=topic: read(bootstrap, t) == after_first, WAIT, "a's delete kept")
    settle()  # past gone's horizon, but nothing is dirty: no cleaning removes it
    assert read(bootstrap, gone) == after_first
    # new records make both partitions dirty again (the active segment becomes [7 d])
    for topic in (kept, gone):
        produce(bootstrap, topic, [("d", False), ("d", False)])
    wait_for(lambda: offsets(bootstrap, gone) == [3, 5, 6, 7], WAIT, "the delete removed")
    wait_for(lambda: offsets(bootstrap, kept) == [1, 3, 5, 6, 7], WAIT, "c compacted")
    assert read(bootstrap, kept)[0] == (1, "a", True)  # still within its hour
