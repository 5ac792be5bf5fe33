"""Committed offsets and the group records that must survive a restart.

Kafka keeps both in the compacted ``__consumer_offsets`` topic and rebuilds its coordinator state
by replaying it. We do the same with a plain journal, ``<data-dir>/__consumer_offsets.jsonl``:
one JSON object per line, appended (``os.write``) *before* a commit is acknowledged, so a broker
killed with kill -9 loses no acknowledged commit. On open the journal is replayed and rewritten
compacted (latest value per key, tombstones dropped); it is compacted again whenever it grows
well past its compacted size.

Records (``k`` says which kind):

* ``{"k": "offset", "group", "topic", "partition", "offset", "leader_epoch", "metadata",
  "commit_ms", "topic_id"}``; ``"offset": null`` is a tombstone (OffsetDelete).
* ``{"k": "group", "group", "protocol_type", "protocol", "generation"}``: written when a
  generation starts or the group becomes Empty. Members are not recorded: like Kafka after a
  coordinator failover whose sessions have expired, a restarted broker brings groups back Empty.
* ``{"k": "group", "group", "deleted": true}``: DeleteGroups; drops the group and its offsets.

This module knows nothing about the Kafka protocol.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)

JOURNAL_NAME = "__consumer_offsets.jsonl"
COMPACT_MIN_BYTES = 1 << 20  # never compact a journal smaller than this


@dataclass(slots=True)
class CommittedOffset:
    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_ms: int = 0
    topic_id: str | None = None  # tells a re-created topic's partitions from the deleted one's


@dataclass(slots=True)
class GroupRecord:
    protocol_type: str | None = None
    protocol: str | None = None
    generation: int = 0


TopicPartition = tuple[str, int]


class OffsetStore:
    """Committed offsets per group plus the persisted part of each group, journaled to disk.

    ``path=None`` keeps everything in memory (unit tests).

    >>> store = OffsetStore(None)
    >>> store.commit("g", {("t", 0): CommittedOffset(42)})
    >>> store.get("g", "t", 0).offset
    42
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.offsets: dict[str, dict[TopicPartition, CommittedOffset]] = {}
        self.groups: dict[str, GroupRecord] = {}
        self._fd: int | None = None
        self._size = 0
        self._compacted_size = 0
        if path is not None:
            self._load()

    # --- reads ------------------------------------------------------------------------------------

    def get(self, group: str, topic: str, partition: int) -> CommittedOffset | None:
        return self.offsets.get(group, {}).get((topic, partition))

    def group_offsets(self, group: str) -> dict[TopicPartition, CommittedOffset]:
        return self.offsets.get(group, {})

    def group_ids(self) -> set[str]:
        return set(self.groups) | {g for g, offs in self.offsets.items() if offs}

    # --- writes (journal first, then memory) ------------------------------------------------------

    def commit(self, group: str, offsets: dict[TopicPartition, CommittedOffset]) -> None:
        """Raises OSError when the journal cannot be written; memory is then left unchanged."""
        if not offsets:
            return
        self._append(_offset_record(group, tp, o) for tp, o in offsets.items())
        self.offsets.setdefault(group, {}).update(offsets)
        self._maybe_compact()

    def delete(self, group: str, partitions: list[TopicPartition]) -> None:
        present = [tp for tp in partitions if tp in self.offsets.get(group, {})]
        if not present:
            return
        self._append(
            {"k": "offset", "group": group, "topic": t, "partition": p, "offset": None}
            for t, p in present
        )
        for tp in present:
            del self.offsets[group][tp]
        self._maybe_compact()

    def save_group(self, group: str, record: GroupRecord) -> None:
        if self.groups.get(group) == record:
            return
        self._append([_group_record(group, record)])
        self.groups[group] = GroupRecord(record.protocol_type, record.protocol, record.generation)
        self._maybe_compact()

    def delete_group(self, group: str) -> None:
        self._append([{"k": "group", "group": group, "deleted": True}])
        self.groups.pop(group, None)
        self.offsets.pop(group, None)
        self._maybe_compact()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # --- the journal ------------------------------------------------------------------------------

    def _append(self, records) -> None:
        if self.path is None:
            return
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        if self._fd is None:
            raise OSError(f"offsets journal {self.path!r} is closed")
        # One write per request: in the page cache before the commit is acknowledged.
        written = os.write(self._fd, data)
        if written != len(data):
            raise OSError(f"short write to {self.path!r} ({written} of {len(data)} bytes)")
        self._size += written

    def _maybe_compact(self) -> None:
        """Called after memory reflects every record written (compaction writes memory)."""
        if self.path is None or self._size <= max(COMPACT_MIN_BYTES, 4 * self._compacted_size):
            return
        try:
            self._compact()
        except OSError as e:  # the records themselves are written; keep appending
            log.warning("offsets journal %r: compaction failed: %s", self.path, e)
            self._compacted_size = self._size

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        bad = 0
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                self._replay(json.loads(line))
            except (ValueError, KeyError, TypeError) as e:
                # A torn last line after kill -9 mid-write is expected; anything else is logged.
                bad += 1
                if n != len(lines):
                    log.warning("offsets journal %r line %d ignored: %s", self.path, n, e)
        if bad:
            log.info("offsets journal %r: %d unreadable line(s) dropped", self.path, bad)
        self._compact()
        log.info(
            "offsets journal %r: %d group(s), %d committed offset(s)",
            self.path,
            len(self.group_ids()),
            sum(len(o) for o in self.offsets.values()),
        )

    def _replay(self, r: dict) -> None:
        group = r["group"]
        if r["k"] == "offset":
            tp = (r["topic"], int(r["partition"]))
            if r["offset"] is None:
                self.offsets.get(group, {}).pop(tp, None)
            else:
                self.offsets.setdefault(group, {})[tp] = CommittedOffset(
                    int(r["offset"]),
                    int(r.get("leader_epoch", -1)),
                    r.get("metadata") or "",
                    int(r.get("commit_ms", 0)),
                    r.get("topic_id"),
                )
        elif r["k"] == "group":
            if r.get("deleted"):
                self.groups.pop(group, None)
                self.offsets.pop(group, None)
            else:
                self.groups[group] = GroupRecord(
                    r.get("protocol_type"), r.get("protocol"), int(r.get("generation", 0))
                )
        else:
            raise ValueError(f"unknown record kind {r['k']!r}")

    def _compact(self) -> None:
        """Rewrite the journal as the current state (atomically), then keep appending to it."""
        records = [_group_record(group, g) for group, g in self.groups.items()]
        for group, offs in self.offsets.items():
            records.extend(_offset_record(group, tp, o) for tp, o in offs.items())
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.close()
        try:
            os.replace(tmp, self.path)
        finally:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = self._compacted_size = len(data)


def _offset_record(group: str, tp: TopicPartition, o: CommittedOffset) -> dict:
    return {
        "k": "offset",
        "group": group,
        "topic": tp[0],
        "partition": tp[1],
        "offset": o.offset,
        "leader_epoch": o.leader_epoch,
        "metadata": o.metadata,
        "commit_ms": o.commit_ms,
        "topic_id": o.topic_id,
    }


def _group_record(group: str, g: GroupRecord) -> dict:
    return {
        "k": "group",
        "group": group,
        "protocol_type": g.protocol_type,
        "protocol": g.protocol,
        "generation": g.generation,
    }
