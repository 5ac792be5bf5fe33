"""Committed offsets and group metadata, kept where Kafka keeps them: the compacted internal topic
``__consumer_offsets``.

Every change is written as Kafka's records (``records.py``) to the partition that holds the
group, through ``PartitionLog.append`` like produced data, *before* the change is applied in
memory and the request acknowledged: the batch is in the page cache, so a broker killed with
kill -9 loses no acknowledged commit. On start the store replays every partition from its log
start, last value per key winning and tombstones deleting, as Kafka's coordinator loads its
partitions. The log is not compacted (the emulator has no log cleaner), so load time grows with
the commit history.

A ``__consumer_offsets.jsonl`` journal left by an earlier version of the emulator is imported
once and renamed ``.migrated``.

This module knows nothing about the Kafka protocol; groups are plain values here.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass

from streamlab.kafka.coordinator import records
from streamlab.kafka.coordinator.records import (
    OFFSETS_TOPIC,
    GroupKey,
    GroupValue,
    OffsetKey,
    OffsetValue,
    RecordError,
)
from streamlab.kafka.log import InvalidBatch, ProduceError
from streamlab.kafka.protocol import batches

log = logging.getLogger("streamlab.kafka.coordinator")

LEGACY_JOURNAL = "__consumer_offsets.jsonl"
_READ_CHUNK = 1 << 20  # bytes read from a log per step while loading

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class CommittedOffset:
    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_ms: int = 0


class OffsetsTopicStore:
    """Committed offsets per group plus each group's last GroupMetadata value, in memory, with
    every change written to ``__consumer_offsets`` first. Writes raise ``OSError`` when the
    records cannot be appended; memory is then left unchanged.

    ``cluster`` needs ``topics``, ``offsets_topic()`` (creates the topic on first use) and
    ``data_dir``.
    """

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.offsets: dict[str, dict[TopicPartition, CommittedOffset]] = {}
        self.groups: dict[str, GroupValue] = {}
        # TxnOffsetCommit offsets waiting for their transaction's end:
        # producer id -> group -> partition -> offset
        self.pending: dict[int, dict[str, dict[TopicPartition, CommittedOffset]]] = {}
        self.loaded_records = 0
        self.load()
        self._migrate_journal()

    # --- reads ------------------------------------------------------------------------------------

    def get(self, group: str, topic: str, partition: int) -> CommittedOffset | None:
        return self.offsets.get(group, {}).get((topic, partition))

    def group_offsets(self, group: str) -> dict[TopicPartition, CommittedOffset]:
        return self.offsets.get(group, {})

    def group_ids(self) -> set[str]:
        return set(self.groups) | {g for g, offs in self.offsets.items() if offs}

    # --- writes (topic first, then memory) --------------------------------------------------------

    def commit(self, group: str, offsets: dict[TopicPartition, CommittedOffset]) -> None:
        if not offsets:
            return
        self._write(group, [_offset_record(group, tp, o) for tp, o in offsets.items()])
        self.offsets.setdefault(group, {}).update(offsets)

    def delete(self, group: str, partitions: list[TopicPartition]) -> None:
        """Tombstones for the group's offsets of ``partitions`` (those it has)."""
        present = [tp for tp in partitions if tp in self.offsets.get(group, {})]
        if not present:
            return
        self._write(group, [(records.encode_key(OffsetKey(group, t, p)), None) for t, p in present])
        for tp in present:
            del self.offsets[group][tp]

    def save_group(self, group: str, value: GroupValue) -> None:
        key = records.encode_key(GroupKey(group))
        self._write(group, [(key, records.encode_group_value(value))])
        self.groups[group] = value

    def delete_group(self, group: str) -> None:
        """DeleteGroups: tombstones for every offset, then for the group (one batch)."""
        keys = [records.encode_key(OffsetKey(group, t, p)) for t, p in self.offsets.get(group, {})]
        keys.append(records.encode_key(GroupKey(group)))
        self._write(group, [(key, None) for key in keys])
        self.groups.pop(group, None)
        self.offsets.pop(group, None)

    def has_pending(self, group: str, tp: TopicPartition) -> bool:
        return any(tp in groups.get(group, {}) for groups in self.pending.values())

    def txn_commit(
        self,
        group: str,
        producer_id: int,
        producer_epoch: int,
        offsets: dict[TopicPartition, CommittedOffset],
    ) -> None:
        """TxnOffsetCommit: written as a transactional batch, visible only after COMMIT."""
        if not offsets:
            return
        recs = [_offset_record(group, tp, o) for tp, o in offsets.items()]
        self._write(group, recs, producer_id, producer_epoch)
        self.pending.setdefault(producer_id, {}).setdefault(group, {}).update(offsets)

    def complete_txn(
        self, partition: int, producer_id: int, producer_epoch: int, commit: bool
    ) -> None:
        """The transaction coordinator's marker for one ``__consumer_offsets`` partition: the
        producer's pending offsets of the groups held there become committed, or are dropped."""
        from streamlab.kafka.cluster import TopicError

        try:
            topic = self.cluster.offsets_topic()
            p = topic.partitions[partition]
            p.log.write_marker(producer_id, producer_epoch, commit, p.leader_epoch)
        except (TopicError, InvalidBatch, ProduceError, IndexError) as e:
            raise OSError(f"cannot write a marker to {OFFSETS_TOPIC}-{partition}: {e}") from e
        groups = self.pending.get(producer_id, {})
        n = len(self.cluster.topics[OFFSETS_TOPIC].partitions)
        for group in [g for g in groups if records.partition_for(g, n) == partition]:
            offsets = groups.pop(group)
            if commit:
                self.offsets.setdefault(group, {}).update(offsets)
        if not groups:
            self.pending.pop(producer_id, None)

    def forget_all(self) -> None:
        """The topic itself was deleted: nothing is stored any more."""
        self.offsets.clear()
        self.groups.clear()
        self.pending.clear()

    def _write(
        self,
        group: str,
        recs: list[tuple[bytes, bytes | None]],
        producer_id: int = -1,
        producer_epoch: int = -1,
    ) -> None:
        from streamlab.kafka.cluster import TopicError  # here: cluster.py imports records.py

        try:
            topic = self.cluster.offsets_topic()
            p = topic.partitions[records.partition_for(group, len(topic.partitions))]
            now = int(time.time() * 1000)
            batch = records.build_batch(recs, now, producer_id, producer_epoch)
            p.log.append(batch, p.leader_epoch)
        except (TopicError, InvalidBatch, ProduceError) as e:
            raise OSError(f"cannot append to {OFFSETS_TOPIC}: {e}") from e

    # --- loading ----------------------------------------------------------------------------------

    def load(self) -> None:
        """Replay every partition of ``__consumer_offsets`` (if it exists) from its start. Only
        the last value per key matters, so raw bytes are collected first and just those
        values decoded (like reading the log after compaction). Transactional offsets
        (TxnOffsetCommit) count from their COMMIT marker on, are dropped at an ABORT marker,
        and stay pending while their transaction is still open."""
        topic = self.cluster.topics.get(OFFSETS_TOPIC)
        if topic is None:
            return
        started = time.perf_counter()
        latest: dict[bytes | None, bytes | None] = {}
        open_txns: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
        for p in topic.partitions:
            for h, kind, recs in _read_batches(p.log):
                if kind is not None:
                    done = open_txns.pop(h.producer_id, [])
                    if kind == batches.CONTROL_COMMIT:
                        latest.update(done)
                    continue
                target = latest
                if h.is_transactional:
                    target = open_txns.setdefault(h.producer_id, [])
                for key, value in recs:
                    if key is not None and key[:2] == b"\x00\x00":
                        key = b"\x00\x01" + key[2:]  # OffsetCommitKey v0 = v1: one key
                    if target is latest:
                        latest[key] = value
                    else:
                        target.append((key, value))
                    self.loaded_records += 1
        bad = 0
        for key, value in latest.items():
            try:
                self._replay(*records.decode_record(key, value))
            except RecordError as e:
                bad += 1
                if bad <= 5:  # e.g. written by a "__admin_client" producer
                    log.warning("%s: record ignored: %s", OFFSETS_TOPIC, e)
        for pid, recs in open_txns.items():
            for key, value in recs:
                try:
                    k, v = records.decode_record(key, value)
                except RecordError:
                    continue
                if isinstance(k, OffsetKey) and v is not None:
                    pending = self.pending.setdefault(pid, {}).setdefault(k.group, {})
                    pending[(k.topic, k.partition)] = CommittedOffset(
                        v.offset, v.leader_epoch, v.metadata, v.commit_timestamp
                    )
        log.info(
            "loaded %s: %d record(s) in %.2f s -> %d group(s), %d committed offset(s)%s%s",
            OFFSETS_TOPIC,
            self.loaded_records,
            time.perf_counter() - started,
            len(self.group_ids()),
            sum(len(o) for o in self.offsets.values()),
            f", {bad} unreadable record(s) ignored" if bad else "",
            f", pending offsets of {len(self.pending)} open transaction(s)" if self.pending else "",
        )

    def _replay(self, key, value) -> None:
        if isinstance(key, OffsetKey):
            tp = (key.topic, key.partition)
            if value is None:
                self.offsets.get(key.group, {}).pop(tp, None)
            else:
                self.offsets.setdefault(key.group, {})[tp] = CommittedOffset(
                    value.offset, value.leader_epoch, value.metadata, value.commit_timestamp
                )
        elif isinstance(key, GroupKey):
            if value is None:
                self.groups.pop(key.group, None)
            else:
                self.groups[key.group] = value

    # --- the journal of earlier versions ----------------------------------------------------------

    def _migrate_journal(self) -> None:
        """Import ``<data-dir>/__consumer_offsets.jsonl`` (written by the emulator before it
        had the topic) once: its latest state is written as records, then it is renamed."""
        data_dir = getattr(self.cluster, "data_dir", None)
        path = os.path.join(data_dir, LEGACY_JOURNAL) if data_dir else None
        if path is None or not os.path.exists(path):
            return
        offsets: dict[str, dict[TopicPartition, dict]] = {}
        groups: dict[str, dict] = {}
        with open(path, "rb") as f:
            for line in f:
                try:
                    _replay_journal_line(json.loads(line), offsets, groups)
                except (ValueError, KeyError, TypeError):
                    pass  # a torn last line after kill -9; the old loader dropped it too
        for group, g in groups.items():
            value = GroupValue(g.get("protocol_type") or "", int(g.get("generation", 0)))
            self.save_group(group, value)
        for group, offs in offsets.items():
            live = {tp: _journal_offset(o) for tp, o in offs.items() if self._topic_alive(tp, o)}
            self.commit(group, live)
        os.replace(path, path + ".migrated")
        log.info(
            "imported %s into %s: %d group(s), %d committed offset(s); renamed it .migrated",
            path,
            OFFSETS_TOPIC,
            len(groups),
            sum(len(o) for o in offsets.values()),
        )

    def _topic_alive(self, tp: TopicPartition, o: dict) -> bool:
        topic = self.cluster.topics.get(tp[0])
        if topic is None or not 0 <= tp[1] < len(topic.partitions):
            return False
        return o.get("topic_id") in (None, str(topic.topic_id))


def _offset_record(group: str, tp: TopicPartition, o: CommittedOffset) -> tuple[bytes, bytes]:
    value = OffsetValue(o.offset, o.leader_epoch, o.metadata, o.commit_ms)
    return records.encode_key(OffsetKey(group, *tp)), records.encode_offset_value(value)


def _read_batches(plog):
    """(header, control type or None, [(key, value), ...]) of every batch in a log, from its
    start; control batches carry no records here."""
    pos, end = plog.log_start_offset, plog.end_offset
    while pos < end:
        data = plog.read(pos, _READ_CHUNK)
        if not data:
            return
        before = pos
        for at, h in batches.iter_batches(data):
            pos = max(pos, h.next_offset)
            if h.is_control:
                yield h, batches.control_type(data, at), []
                continue
            recs = [
                (rec.key, rec.value)
                for rec in batches.iter_records(data, at)
                if rec.offset >= before
            ]
            yield h, None, recs
        if pos == before:
            return  # nothing whole in this chunk: stop rather than loop


def _replay_journal_line(r: dict, offsets: dict, groups: dict) -> None:
    group = r["group"]
    if r["k"] == "offset":
        tp = (r["topic"], int(r["partition"]))
        if r["offset"] is None:
            offsets.get(group, {}).pop(tp, None)
        else:
            offsets.setdefault(group, {})[tp] = r
    elif r["k"] == "group":
        if r.get("deleted"):
            groups.pop(group, None)
            offsets.pop(group, None)
        else:
            groups[group] = r


def _journal_offset(r: dict) -> CommittedOffset:
    return CommittedOffset(
        int(r["offset"]),
        int(r.get("leader_epoch", -1)),
        r.get("metadata") or "",
        int(r.get("commit_ms", 0)),
    )
