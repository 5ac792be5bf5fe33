"""Transaction state after a crash at the worst moment, in-process (no sockets): the
coordinator wrote PrepareCommit/PrepareAbort to ``__transaction_state`` but died before the
markers. Reopening the data dir must complete the transaction as Kafka's coordinator does when
it loads the partition; logs must rebuild their open and aborted transactions from the bytes.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from streamlab.kafka.cluster import Broker, Cluster
from streamlab.kafka.coordinator import GroupCoordinator, ManualTimers, OffsetCommitEntry
from streamlab.kafka.coordinator import txn_records as tr
from streamlab.kafka.coordinator.records import build_batch
from streamlab.kafka.coordinator.transactions import TransactionCoordinator
from streamlab.kafka.log import PartitionLog, ProduceError


def open_broker(data_dir: str):
    cluster = Cluster(
        data_dir,
        [Broker(1, "127.0.0.1", 0)],
        offsets_topic_partitions=2,
        transaction_topic_partitions=2,
    )
    groups = GroupCoordinator(SimpleNamespace(cluster=cluster), timers=ManualTimers())
    return cluster, groups, TransactionCoordinator(cluster, groups)


def txn_batch(pid: int, epoch: int, *values: bytes) -> bytes:
    return build_batch([(b"k", v) for v in values], int(time.time() * 1000), pid, epoch)


@pytest.mark.parametrize("commit", [True, False])
def test_prepared_transaction_is_completed_on_load(tmp_path, monkeypatch, commit):
    data_dir = str(tmp_path / "kafka")
    cluster, groups, txns = open_broker(data_dir)
    cluster.create_topic("data", 1)
    init = txns.init_producer_id("app-1", 60_000)
    pid, epoch = init.producer_id, init.producer_epoch
    assert txns.add_partitions("app-1", pid, epoch, [("data", 0)]) == "none"
    assert txns.add_offsets("app-1", pid, epoch, "g1") == "none"
    log = cluster.partition("data", 0).log
    log.append(txn_batch(pid, epoch, b"a", b"b"), 0)
    errors = groups.txn_commit_offsets("g1", pid, epoch, -1, "", [OffsetCommitEntry("data", 0, 2)])
    assert errors == ["none"]
    assert log.last_stable_offset == 0
    # The crash: the Prepare state is written, the markers never are.
    monkeypatch.setattr(TransactionCoordinator, "_complete", lambda self, meta, commit: None)
    assert txns.end_txn("app-1", pid, epoch, commit) == "none"
    expected_state = tr.PREPARE_COMMIT if commit else tr.PREPARE_ABORT
    assert txns.txns["app-1"].state == expected_state
    cluster.close()
    monkeypatch.undo()

    cluster, groups, txns = open_broker(data_dir)
    meta = txns.txns["app-1"]
    assert meta.state == (tr.COMPLETE_COMMIT if commit else tr.COMPLETE_ABORT)
    assert not meta.partitions
    log = cluster.partition("data", 0).log
    assert log.end_offset == 3  # two records and the marker written on load
    assert log.last_stable_offset == 3
    assert log.aborted == ([] if commit else [(pid, 0, 2)])
    committed = groups.fetch_offsets("g1", [("data", 0)])[0][2]
    assert (committed.offset if committed else None) == (2 if commit else None)
    assert not groups.has_pending_offsets("g1", "data", 0)
    # The producer id keeps working: a new session bumps the epoch.
    again = txns.init_producer_id("app-1", 60_000)
    assert (again.error, again.producer_id, again.producer_epoch) == ("none", pid, epoch + 1)
    cluster.close()


def test_open_transaction_reloads_as_ongoing_and_times_out(tmp_path):
    data_dir = str(tmp_path / "kafka")
    cluster, _, txns = open_broker(data_dir)
    cluster.create_topic("data", 1)
    init = txns.init_producer_id("app-2", 1000)
    pid = init.producer_id
    txns.add_partitions("app-2", pid, 0, [("data", 0)])
    cluster.partition("data", 0).log.append(txn_batch(pid, 0, b"x"), 0)
    cluster.close()

    cluster, _, txns = open_broker(data_dir)
    assert txns.txns["app-2"].state == tr.ONGOING
    log = cluster.partition("data", 0).log
    assert (log.last_stable_offset, log.ongoing) == (0, {pid: 0})
    start = txns.txns["app-2"].start_ms
    assert txns.abort_timed_out(now_ms=start + 500) == []  # not yet
    assert txns.abort_timed_out(now_ms=start + 1001) == ["app-2"]
    meta = txns.txns["app-2"]
    assert (meta.state, meta.epoch) == (tr.COMPLETE_ABORT, 1)  # fenced: epoch bumped
    assert log.aborted == [(pid, 0, 1)] and log.last_stable_offset == 2
    # the timed-out producer is fenced everywhere
    assert txns.end_txn("app-2", pid, 0, True) == "producer_fenced"
    with pytest.raises(ProduceError, match="is fenced"):
        log.append(build_batch([(b"k", b"late")], 0, pid, 0), 0)
    cluster.close()


def test_log_rebuilds_open_and_aborted_transactions(tmp_path):
    path = str(tmp_path / "p-0")
    log = PartitionLog(path)
    # stamped now like the rest: a batch dated 1970 would sit alone in its segment (segment.ms)
    log.append(build_batch([(b"k", b"plain")], int(time.time() * 1000)), 0)  # offset 0
    log.append(txn_batch(7, 0, b"t1", b"t2"), 0)  # 1-2, aborted below
    log.append(txn_batch(8, 0, b"u1"), 0)  # 3, still open
    assert log.write_marker(7, 0, commit=False, leader_epoch=0) == 4
    log.append(txn_batch(9, 0, b"v1"), 0)  # 5, committed below
    log.write_marker(9, 0, commit=True, leader_epoch=0)  # 6
    assert log.last_stable_offset == 3
    state = (dict(log.ongoing), list(log.aborted), log.end_offset)
    log.close()
    reopened = PartitionLog(path)
    assert (dict(reopened.ongoing), list(reopened.aborted), reopened.end_offset) == state
    assert reopened.ongoing == {8: 3} and reopened.aborted == [(7, 1, 4)]
    assert reopened.aborted_between(0, 3) == [(7, 1)]
    assert reopened.aborted_between(5, 7) == []
    # READ_COMMITTED reads stop before the open transaction's first batch
    data = reopened.read(0, 1 << 20, max_offset=reopened.last_stable_offset)
    from streamlab.kafka.protocol.batches import iter_batches

    assert [h.base_offset for _, h in iter_batches(data)] == [0, 1]
    reopened.write_marker(9, 1, commit=False, leader_epoch=0)  # a fencing abort, epoch 1
    with pytest.raises(ProduceError):  # a marker older than the producer's epoch is refused
        reopened.write_marker(9, 0, commit=False, leader_epoch=0)
    reopened.close()
