"""Log compaction (``streamlab.kafka.cleaner``), including how it treats transactions: the
cleaner keeps the latest record per key in closed segments (committed transactions' records
too), drops tombstones past their delete horizon and aborted transactions' batches, never
touches the active segment, open transactions or control batches, keeps every surviving record
at its offset, and cleans a partition only when its dirty ratio or compaction lags say so.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.kafka.cleaner import clean_log
from streamlab.kafka.coordinator.records import build_batch
from streamlab.kafka.log import PartitionLog
from streamlab.kafka.protocol import batches
from streamlab.kafka.testing import ClusterProcess

DAY_MS = 86_400_000


def record_batch(pairs, ts: int = 1_000, pid: int = -1, epoch: int = -1) -> bytes:
    return build_batch(list(pairs), ts, pid, epoch)


def contents(plog: PartitionLog) -> list[tuple[int, bytes | None, bytes | None]]:
    """(offset, key, value) of every data record, segment by segment (read stops at one)."""
    out, pos = [], plog.log_start_offset
    while pos < plog.end_offset:
        data = plog.read(pos, 1 << 30)
        for at, h in batches.iter_batches(data):
            if not h.is_control:
                out += [(r.offset, r.key, r.value) for r in batches.iter_records(data, at)]
            pos = h.next_offset
    return out


def small_log(tmp_path) -> PartitionLog:
    # ~one batch per segment, so every batch but the last is in a closed segment
    return PartitionLog(str(tmp_path / "p-0"), segment_bytes=100)


def test_latest_value_per_key_survives_in_closed_segments(tmp_path):
    plog = small_log(tmp_path)
    for key, value in [(b"a", b"1"), (b"b", b"1"), (b"a", b"2"), (b"c", b"1"), (b"b", b"2")]:
        plog.append(record_batch([(key, value)]), 0)
    plog.append(record_batch([(b"a", b"3")]), 0)  # the active segment: never cleaned
    assert len(plog.segments) == 6
    stats = clean_log(plog, DAY_MS)
    assert stats.records_removed == 2
    # b@1 and a@0 are superseded; a@2 stays (its newer value is in the active segment)
    assert contents(plog) == [(2, b"a", b"2"), (3, b"c", b"1"), (4, b"b", b"2"), (5, b"a", b"3")]
    assert (plog.log_start_offset, plog.end_offset) == (0, 6)
    plog.append(record_batch([(b"d", b"1")]), 0)  # appending continues at the next offset
    assert plog.end_offset == 7
    state = contents(plog)
    plog.close()
    assert contents(PartitionLog(str(tmp_path / "p-0"), segment_bytes=100)) == state


def test_partly_superseded_batch_keeps_its_offsets(tmp_path):
    plog = small_log(tmp_path)
    plog.append(record_batch([(b"x", b"1"), (b"y", b"1"), (b"z", b"1")]), 0)  # 0-2
    plog.append(record_batch([(b"y", b"2")]), 0)  # 3
    plog.append(record_batch([(b"q", b"1")]), 0)  # 4, active
    clean_log(plog, DAY_MS)
    assert contents(plog) == [(0, b"x", b"1"), (2, b"z", b"1"), (3, b"y", b"2"), (4, b"q", b"1")]
    first = batches.read_header(plog.read(0, 1 << 20))
    assert (first.base_offset, first.last_offset, first.record_count) == (0, 2, 2)
    assert batches.split(plog.read(0, 1 << 20)[: first.length])  # the CRC is valid


def test_a_tombstone_goes_at_its_delete_horizon_on_a_later_cleaning(tmp_path):
    plog = small_log(tmp_path)
    now = int(time.time() * 1000)
    plog.append(record_batch([(b"k", b"v")], ts=now), 0)
    plog.append(record_batch([(b"k", None)], ts=now), 0)  # the delete
    plog.append(record_batch([(b"other", b"v")], ts=now), 0)
    clean_log(plog, DAY_MS, now_ms=now + 1000)
    assert contents(plog) == [(1, b"k", None), (2, b"other", b"v")]  # kept, its horizon set
    tombstone = batches.read_header(plog.read(1, 1 << 20))
    assert tombstone.delete_horizon_ms == now + 1000 + DAY_MS
    assert [r.timestamp for r in batches.iter_records(plog.read(1, 1 << 20))][:1] == [now]
    # past the horizon, but nothing new is dirty: Kafka does not clean the partition again
    later = now + 1000 + DAY_MS + 1
    assert clean_log(plog, DAY_MS, now_ms=later).segments == 0
    plog.append(record_batch([(b"more", b"v")], ts=now), 0)  # the active segment moves on
    stats = clean_log(plog, DAY_MS, now_ms=later)
    assert stats.tombstones_removed == 1
    assert contents(plog) == [(2, b"other", b"v"), (3, b"more", b"v")]


def test_dirty_ratio_and_compaction_lags_decide_when_a_partition_is_cleaned(tmp_path):
    plog = small_log(tmp_path)
    now = int(time.time() * 1000)
    for i in range(4):
        plog.append(record_batch([(b"k", str(i).encode())], ts=now - 10_000), 0)
    assert clean_log(plog, DAY_MS, now_ms=now, min_cleanable_ratio=0.5).records_removed == 2
    plog.append(record_batch([(b"k", b"4")], ts=now), 0)  # dirty: half the bytes, not more
    assert clean_log(plog, DAY_MS, now_ms=now, min_cleanable_ratio=0.5).segments == 0
    # max.compaction.lag.ms: a dirty record older than it forces the cleaning
    stats = clean_log(plog, DAY_MS, now_ms=now, min_cleanable_ratio=0.5, max_lag_ms=5_000)
    assert stats.records_removed == 1
    assert contents(plog) == [(3, b"k", b"3"), (4, b"k", b"4")]

    young = PartitionLog(str(tmp_path / "young-0"), segment_bytes=100)
    for i in range(3):
        young.append(record_batch([(b"k", str(i).encode())], ts=now - 1000 * (3 - i)), 0)
    # min.compaction.lag.ms: only segments whose records are all older than it are dirty
    assert clean_log(young, DAY_MS, now_ms=now, min_lag_ms=60_000).segments == 0
    assert clean_log(young, DAY_MS, now_ms=now, min_lag_ms=2_500).records_removed == 0
    assert clean_log(young, DAY_MS, now_ms=now).records_removed == 1
    assert contents(young) == [(1, b"k", b"1"), (2, b"k", b"2")]


def test_committed_transactions_compact_aborted_ones_go_open_ones_wait(tmp_path):
    plog = small_log(tmp_path)
    plog.append(record_batch([(b"k", b"plain-1")]), 0)  # 0
    plog.append(record_batch([(b"k", b"txn")], pid=9, epoch=0), 0)  # 1, committed below
    plog.write_marker(9, 0, commit=True, leader_epoch=0)  # 2
    plog.append(record_batch([(b"j", b"gone")], pid=11, epoch=0), 0)  # 3, aborted below
    plog.write_marker(11, 0, commit=False, leader_epoch=0)  # 4
    plog.append(record_batch([(b"k", b"open")], pid=10, epoch=0), 0)  # 5, still open
    plog.append(record_batch([(b"k", b"plain-2")]), 0)  # 6, beyond the LSO
    plog.append(record_batch([(b"z", b"active")]), 0)  # 7
    assert plog.last_stable_offset == 5
    stats = clean_log(plog, DAY_MS)
    assert (stats.records_removed, stats.aborted_removed) == (1, 1)
    assert contents(plog) == [
        # plain-1 went for the committed txn value; the aborted batch went whole; the markers
        # stay; nothing from the open transaction on is looked at
        (1, b"k", b"txn"),
        (5, b"k", b"open"),
        (6, b"k", b"plain-2"),
        (7, b"z", b"active"),
    ]
    assert plog.ongoing == {10: 5}
    assert plog.aborted_between(0, 5) == []  # its records are gone: nothing left to skip
    plog.close()
    reopened = small_log(tmp_path)  # the rewritten log rebuilds the same transaction state
    assert (reopened.ongoing, reopened.last_stable_offset) == ({10: 5}, 5)


def test_compacted_topic_is_cleaned_by_the_broker(tmp_path):
    cluster = ClusterProcess(
        str(tmp_path / "kafka"), extra_args=("--log-cleaner-backoff-ms", "200")
    ).start()
    try:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        topic = "compacted"
        # every pass may clean: records arrive between passes, and with Kafka's 0.5 dirty
        # ratio the last ones could stay dirty
        configs = {
            "cleanup.policy": "compact",
            "segment.bytes": "200",
            "min.cleanable.dirty.ratio": "0.01",
        }
        admin.create_topics([NewTopic(topic, 1, config=configs)])[topic].result(30)
        p = Producer({"bootstrap.servers": cluster.bootstrap, "linger.ms": 0})
        for i in range(20):
            p.produce(topic, key=f"k{i % 3}".encode(), value=str(i).encode())
            p.flush(10)  # one batch per record
        p.produce(topic, key=b"k0", value=None)
        p.flush(10)
        for _ in range(5):  # fillers, so the records above end up in closed segments
            p.produce(topic, key=b"filler", value=b"f")
            p.flush(10)

        def read() -> list[tuple[bytes, bytes | None]]:
            c = Consumer(
                {
                    "bootstrap.servers": cluster.bootstrap,
                    "group.id": "reader",
                    "enable.partition.eof": True,
                }
            )
            c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            out = []
            while True:
                m = c.poll(10)
                assert m is not None, "no end of partition"
                if m.error():
                    assert m.error().code() == KafkaError._PARTITION_EOF
                    break
                if m.key() != b"filler":
                    out.append((m.key(), m.value()))
            c.close()
            return out

        # last values: k2 = 17, k0 = 18 (then deleted: a young tombstone stays), k1 = 19
        expected = [(b"k2", b"17"), (b"k1", b"19"), (b"k0", None)]
        deadline = time.monotonic() + 30
        while (seen := read()) != expected:
            if time.monotonic() > deadline:
                pytest.fail(f"topic not compacted: {seen}")
            time.sleep(0.2)
    finally:
        cluster.stop()


def test_the_cleaner_checkpoint_survives_a_reopen(tmp_path):
    plog = small_log(tmp_path)
    for i in range(4):
        plog.append(record_batch([(b"k", str(i).encode())]), 0)
    assert clean_log(plog, DAY_MS).records_removed == 2
    assert plog.cleaner_checkpoint == 3
    plog.close()
    reopened = small_log(tmp_path)
    assert reopened.cleaner_checkpoint == 3
    assert clean_log(reopened, DAY_MS).segments == 0  # clean already: nothing dirty
    reopened.append(record_batch([(b"k", b"4")]), 0)
    assert clean_log(reopened, DAY_MS).records_removed == 1
    assert contents(reopened) == [(3, b"k", b"3"), (4, b"k", b"4")]
