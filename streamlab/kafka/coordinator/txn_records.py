"""Kafka's ``__transaction_state`` records: which partition holds a transactional id, and the
key and value the transaction coordinator writes there. Pure functions, no I/O.

Layouts follow ``TransactionLogKey`` (version 0: the transactional id) and
``TransactionLogValue`` of Kafka's ``transaction-coordinator`` module: version 0 (what a
classic, "transactions V1" coordinator writes) and version 1 (flexible, with tagged fields that
are skipped here). The value's status byte uses Kafka's ``TransactionState`` ids.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from streamlab.kafka.coordinator.records import RecordError, _Reader, _Writer, partition_for

TRANSACTION_TOPIC = "__transaction_state"
KEY_VERSION = 0
VALUE_VERSION = 0

# Kafka's TransactionState ids, as stored in TransactionStatus.
EMPTY, ONGOING, PREPARE_COMMIT, PREPARE_ABORT = 0, 1, 2, 3
COMPLETE_COMMIT, COMPLETE_ABORT, DEAD, PREPARE_EPOCH_FENCE = 4, 5, 6, 7
STATE_NAMES = {
    EMPTY: "Empty",
    ONGOING: "Ongoing",
    PREPARE_COMMIT: "PrepareCommit",
    PREPARE_ABORT: "PrepareAbort",
    COMPLETE_COMMIT: "CompleteCommit",
    COMPLETE_ABORT: "CompleteAbort",
    DEAD: "Dead",
    PREPARE_EPOCH_FENCE: "PrepareEpochFence",
}


@dataclass(frozen=True, slots=True)
class TxnValue:
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: int
    partitions: tuple[tuple[str, int], ...]
    last_update_ms: int
    start_ms: int


def txn_partition_for(transactional_id: str, partitions: int) -> int:
    """Kafka's ``Utils.abs(transactionalId.hashCode()) % transaction.state.log.num.partitions``."""
    return partition_for(transactional_id, partitions)


def encode_txn_key(transactional_id: str) -> bytes:
    w = _Writer(flexible=False)
    w.i16(KEY_VERSION)
    w.string(transactional_id)
    return bytes(w.buf)


def decode_txn_key(data: bytes) -> str:
    r = _Reader(data, 0, flexible=False)
    version = r.i16()
    if version != 0:
        raise RecordError(f"unknown TransactionLogKey version {version}")
    return r.string()


def encode_txn_value(v: TxnValue) -> bytes:
    w = _Writer(flexible=False)
    w.i16(VALUE_VERSION)
    w.i64(v.producer_id)
    w.i16(v.producer_epoch)
    w.i32(v.timeout_ms)
    w.buf += struct.pack(">b", v.state)
    by_topic: dict[str, list[int]] = {}
    for topic, partition in v.partitions:
        by_topic.setdefault(topic, []).append(partition)
    w.count(len(by_topic))
    for topic, parts in by_topic.items():
        w.string(topic)
        w.count(len(parts))
        for p in sorted(parts):
            w.i32(p)
    w.i64(v.last_update_ms)
    w.i64(v.start_ms)
    return bytes(w.buf)


def decode_txn_value(data: bytes) -> TxnValue:
    version = struct.unpack_from(">h", data, 0)[0] if len(data) >= 2 else -1
    if version not in (0, 1):
        raise RecordError(f"unknown TransactionLogValue version {version}")
    r = _Reader(data, 2, flexible=version >= 1)
    producer_id = r.i64()
    epoch = r.i16()
    timeout_ms = r.i32()
    state = r._take(1)[0]
    partitions: list[tuple[str, int]] = []
    n = r._length(int16=False)  # nullable array
    for _ in range(max(n, 0)):
        topic = r.string()
        for _ in range(r.count()):
            partitions.append((topic, r.i32()))
        r.tags()
    last_update = r.i64()
    start = r.i64()
    r.tags()
    return TxnValue(producer_id, epoch, timeout_ms, state, tuple(partitions), last_update, start)
