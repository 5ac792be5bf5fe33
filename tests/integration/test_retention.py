"""Time- and size-based retention (``streamlab.kafka.retention``): whole segments past
``retention.ms`` or ``retention.bytes`` go, oldest first, the log start offset moves to the first
kept segment, and consumers only see what is kept. First the rules on a log, then the broker.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from streamlab.kafka.coordinator.records import build_batch
from streamlab.kafka.log import PartitionLog
from streamlab.kafka.protocol import batches
from streamlab.kafka.retention import apply_retention
from streamlab.kafka.testing import ClusterProcess

HOUR_MS = 3_600_000
NOW = 1_800_000_000_000
OLD = NOW - 2 * HOUR_MS


def small_log(tmp_path) -> PartitionLog:
    # one batch per segment: every batch but the last is in a closed segment
    return PartitionLog(str(tmp_path / "p-0"), segment_bytes=100)


def append(plog: PartitionLog, ts: int, key: bytes = b"k", pid: int = -1) -> None:
    plog.append(build_batch([(key, b"v")], ts, pid, 0 if pid >= 0 else -1), 0)


def offsets(plog: PartitionLog) -> list[int]:
    out, pos = [], plog.log_start_offset
    while pos < plog.end_offset:
        data = plog.read(pos, 1 << 30)
        if not data:
            break
        for at, h in batches.iter_batches(data):
            out += [r.offset for r in batches.iter_records(data, at) if r.offset >= pos]
            pos = h.next_offset
    return out


# --- the rules, on a log ------------------------------------------------------------------------


def test_old_segments_go_up_to_the_first_young_one(tmp_path):
    plog = small_log(tmp_path)
    for ts in (OLD, OLD, NOW, OLD, NOW):  # the old one after a young one stays
        append(plog, ts)
    assert len(plog.segments) == 5
    stats = apply_retention(plog, HOUR_MS, -1, now_ms=NOW)
    assert (stats.segments, stats.log_start_offset) == (2, 2)
    assert offsets(plog) == [2, 3, 4]
    assert [s.base_offset for s in plog.segments] == [2, 3, 4]
    assert apply_retention(plog, HOUR_MS, -1, now_ms=NOW).segments == 0
    plog.close()
    reopened = small_log(tmp_path)
    assert (reopened.log_start_offset, reopened.end_offset) == (2, 5)


def test_retention_is_strictly_older_than_retention_ms(tmp_path):
    plog = small_log(tmp_path)
    append(plog, NOW - HOUR_MS)
    append(plog, NOW)
    assert apply_retention(plog, HOUR_MS, -1, now_ms=NOW).segments == 0
    assert apply_retention(plog, HOUR_MS, -1, now_ms=NOW + 1).segments == 1


def test_an_expired_active_segment_empties_the_partition(tmp_path):
    plog = small_log(tmp_path)
    for _ in range(3):
        append(plog, OLD)
    stats = apply_retention(plog, HOUR_MS, -1, now_ms=NOW)
    assert stats.segments == 3
    assert (plog.log_start_offset, plog.end_offset) == (3, 3)
    assert offsets(plog) == []
    # the log rolled and the expired active segment's file went with the others
    assert [(s.base_offset, s.size) for s in plog.segments] == [(3, 0)]
    assert apply_retention(plog, HOUR_MS, -1, now_ms=NOW).segments == 0  # nothing new
    append(plog, NOW)  # offsets go on from the old end
    assert offsets(plog) == [3]
    assert len(plog.segments) == 1
    plog.close()
    reopened = small_log(tmp_path)
    assert (reopened.log_start_offset, reopened.end_offset) == (3, 4)


def test_retention_minus_one_keeps_everything(tmp_path):
    plog = small_log(tmp_path)
    for _ in range(3):
        append(plog, 0)
    assert apply_retention(plog, -1, -1, now_ms=NOW).segments == 0
    assert offsets(plog) == [0, 1, 2]


def test_open_transaction_holds_its_segments(tmp_path):
    plog = small_log(tmp_path)
    now = int(time.time() * 1000)
    append(plog, now - 2 * HOUR_MS)  # 0
    append(plog, now - 2 * HOUR_MS, pid=7)  # 1, transaction still open
    append(plog, now - 2 * HOUR_MS)  # 2
    assert plog.last_stable_offset == 1
    apply_retention(plog, HOUR_MS, -1, now_ms=now)
    assert plog.log_start_offset == 1
    plog.write_marker(7, 0, commit=True, leader_epoch=0)  # 3, stamped now: stays
    apply_retention(plog, HOUR_MS, -1, now_ms=now)
    assert plog.log_start_offset == 3


def test_size_retention_keeps_the_newest_segments_under_the_limit(tmp_path):
    plog = small_log(tmp_path)
    for _ in range(5):
        append(plog, NOW)
    seg = plog.segments[0].size
    assert all(s.size == seg for s in plog.segments)
    # 5 segments, limit 2.5: two go (three would leave less than the limit)
    stats = apply_retention(plog, -1, 2 * seg + seg // 2, now_ms=NOW)
    assert (stats.segments, stats.bytes, plog.log_start_offset) == (2, 2 * seg, 2)
    assert apply_retention(plog, -1, 3 * seg, now_ms=NOW).segments == 0  # at the limit
    apply_retention(plog, -1, 0, now_ms=NOW)  # 0: everything, the active segment too
    assert (plog.log_start_offset, offsets(plog)) == (5, [])


# --- the broker ----------------------------------------------------------------------------------

SEGMENT = "100"  # bytes: one single-record batch per segment


@pytest.fixture
def cluster(tmp_path):
    c = ClusterProcess(
        str(tmp_path / "kafka"), extra_args=("--log-retention-check-interval-ms", "200")
    ).start()
    try:
        yield c
    finally:
        c.stop()


def create(cluster, topic: str, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    configs = {"segment.bytes": SEGMENT, **configs}
    admin.create_topics([NewTopic(topic, 1, config=configs)])[topic].result(30)


def produce(cluster, topic: str, records: list[tuple[bytes, bytes | None, int]]) -> None:
    p = Producer({"bootstrap.servers": cluster.bootstrap, "linger.ms": 0})
    for key, value, ts in records:
        p.produce(topic, key=key, value=value, timestamp=ts)
        p.flush(10)  # one batch per record


def partition(cluster, topic: str) -> dict:
    return cluster.api(f"/api/topics/{topic}")["partition_details"][0]


def wait_for(what: str, check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return result


def read_all(cluster, topic: str, start: int = OFFSET_BEGINNING) -> list[tuple[int, bytes]]:
    c = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": "reader",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    c.assign([TopicPartition(topic, 0, start)])
    out = []
    try:
        while True:
            m = c.poll(10)
            assert m is not None, "no end of partition"
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF
                return out
            out.append((m.offset(), m.value()))
    finally:
        c.close()


def earliest(cluster, topic: str) -> int:
    c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "lo"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[0]
    finally:
        c.close()


def test_broker_deletes_segments_past_retention_ms(cluster):
    create(cluster, "events", **{"retention.ms": str(HOUR_MS)})
    now = int(time.time() * 1000)
    old = now - 2 * HOUR_MS
    produce(cluster, "events", [(b"k", b"old%d" % i, old) for i in range(4)])
    produce(cluster, "events", [(b"k", b"new%d" % i, now) for i in range(3)])
    # a pass may come between the produces and take some old segments first: wait for all 4
    wait_for(
        "the log start offset to move past the old records",
        lambda: partition(cluster, "events")["log_start_offset"] == 4,
    )
    details = partition(cluster, "events")
    assert (details["log_start_offset"], details["high_watermark"]) == (4, 7)
    assert details["segments"] == 3
    assert earliest(cluster, "events") == 4  # ListOffsets earliest
    kept = [(4, b"new0"), (5, b"new1"), (6, b"new2")]
    assert read_all(cluster, "events") == kept
    assert read_all(cluster, "events", start=1) == kept  # out of range: reset to earliest


def test_broker_expired_active_segment(cluster):
    create(cluster, "stale", **{"retention.ms": str(HOUR_MS)})
    old = int(time.time() * 1000) - 2 * HOUR_MS
    produce(cluster, "stale", [(b"k", b"v", old) for _ in range(3)])
    wait_for("the partition to empty", lambda: earliest(cluster, "stale") == 3)
    assert read_all(cluster, "stale") == []
    produce(cluster, "stale", [(b"k", b"fresh", int(time.time() * 1000))])
    assert read_all(cluster, "stale") == [(3, b"fresh")]


def test_broker_retention_bytes(cluster):
    create(cluster, "sized")
    now = int(time.time() * 1000)
    produce(cluster, "sized", [(b"k", b"v%d" % i, now) for i in range(6)])
    seg = partition(cluster, "sized")["size_bytes"] // 6
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    res = ConfigResource(
        ConfigResource.Type.TOPIC,
        "sized",
        incremental_configs=[
            ConfigEntry(
                "retention.bytes", str(2 * seg), incremental_operation=AlterConfigOpType.SET
            )
        ],
    )
    for f in admin.incremental_alter_configs([res]).values():
        f.result(30)
    wait_for("size retention", lambda: partition(cluster, "sized")["log_start_offset"] == 4)
    assert [v for _, v in read_all(cluster, "sized")] == [b"v4", b"v5"]


def test_broker_compact_delete_topic_is_compacted_and_trimmed(tmp_path):
    cluster = ClusterProcess(
        str(tmp_path / "kafka"),
        extra_args=(
            "--log-retention-check-interval-ms",
            "200",
            "--log-cleaner-backoff-ms",
            "200",
        ),
    ).start()
    try:
        # every pass may clean (Kafka's 0.5 dirty ratio could leave the last records dirty)
        configs = {"cleanup.policy": "compact,delete", "min.cleanable.dirty.ratio": "0.01"}
        create(cluster, "windows", **configs, **{"retention.ms": str(HOUR_MS)})
        now = int(time.time() * 1000)
        old = now - 2 * HOUR_MS
        produce(cluster, "windows", [(b"a", b"old", old), (b"b", b"old", old)])  # 0, 1: expire
        produce(cluster, "windows", [(b"c", b"1", now), (b"c", b"2", now), (b"c", b"3", now)])
        produce(cluster, "windows", [(b"d", b"active", now)])  # 5: the active segment

        def done():
            got = read_all(cluster, "windows")
            return got if got == [(4, b"3"), (5, b"active")] else None

        wait_for("compaction and retention", done)
        assert earliest(cluster, "windows") == 2
    finally:
        cluster.stop()


def test_broker_keeps_everything_at_minus_one_until_altered(cluster):
    # "forever" first: a pass goes over the topics in creation order, so once "probe" is trimmed
    # "forever" has been looked at too
    create(cluster, "forever", **{"retention.ms": "-1"})
    create(cluster, "probe", **{"retention.ms": str(HOUR_MS)})
    old = int(time.time() * 1000) - 2 * HOUR_MS
    produce(cluster, "forever", [(b"k", b"v%d" % i, old) for i in range(3)])
    produce(cluster, "probe", [(b"k", b"v", old), (b"k", b"v", old + 1)])
    produce(cluster, "probe", [(b"k", b"v", int(time.time() * 1000))])
    wait_for("a retention pass", lambda: earliest(cluster, "probe") == 2)
    assert earliest(cluster, "forever") == 0
    assert len(read_all(cluster, "forever")) == 3

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    entry = ConfigEntry("retention.ms", str(HOUR_MS), incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ConfigResource.Type.TOPIC, "forever", incremental_configs=[entry])
    for f in admin.incremental_alter_configs([res]).values():
        f.result(30)
    wait_for("the altered retention.ms", lambda: earliest(cluster, "forever") == 3)
    assert read_all(cluster, "forever") == []


def test_retention_is_on_as_in_kafka_and_zero_turns_it_off(tmp_path):
    # Kafka's defaults: a pass every 300,000 ms, the first 30 s after start; the test clusters
    # (ClusterProcess) turn it off, since tests replay records dated 1970
    from streamlab.kafka.__main__ import parse_args
    from streamlab.kafka.server import Emulator

    assert parse_args(["--data-dir", "x"]).log_retention_check_interval_ms == 300_000
    with pytest.raises(SystemExit):
        parse_args(["--data-dir", "x", "--log-retention-check-interval-ms", "-1"])
    on = Emulator(str(tmp_path / "on")).retention
    assert on is not None
    assert (on.interval_ms, on._passes.initial_delay_ms) == (300_000, 30_000)
    fast = Emulator(str(tmp_path / "fast"), log_retention_check_interval_ms=500).retention
    assert fast is not None and fast._passes.initial_delay_ms == 500  # at most the interval
    eager = Emulator(str(tmp_path / "eager"), log_initial_task_delay_ms=0).retention
    assert eager is not None and eager._passes.initial_delay_ms == 0
    assert parse_args(["--data-dir", "x"]).log_initial_task_delay_ms == 30_000
    assert Emulator(str(tmp_path / "off"), log_retention_check_interval_ms=0).retention is None
    args = ClusterProcess(str(tmp_path / "c")).args()
    assert args[args.index("--log-retention-check-interval-ms") + 1] == "0"
