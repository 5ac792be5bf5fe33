"""Log compaction (``cleanup.policy=compact``): Kafka's log cleaner, reduced to its rules.

Topics with ``compact,delete`` (Kafka Streams' windowed changelogs) are compacted the same way,
and retention (retention.py) also deletes their segments past ``retention.ms`` or
``retention.bytes``.

Every ``log.cleaner.backoff.ms`` the cleaner looks at each compacted partition. As in Kafka's
``LogCleanerManager``, a partition has a *clean* part (everything before its cleaner
checkpoint, the first dirty offset) and a *dirty* part, which ends at the first uncleanable
offset: the active segment (where producers append), the last stable offset (records of open
transactions are never looked at), and, with ``min.compaction.lag.ms``, the first segment
holding a record younger than that. A partition is cleaned when its dirty bytes are more than
``min.cleanable.dirty.ratio`` of its cleanable bytes, or when ``max.compaction.lag.ms`` has
passed for its oldest dirty record. A cleaning then goes over every segment up to the
uncleanable offset:

* a record is kept unless the dirty part has a later record with its key;
* a tombstone (null value) is kept until its *delete horizon*: the first cleaning that keeps
  it writes ``now + delete.retention.ms`` into its batch (KIP-534: attribute bit 6, the base
  timestamp), so consumers that read the topic slowly still see the delete; a later cleaning
  past the horizon removes it (only when new dirty data brings the partition back, as Kafka);
* a rewritten batch keeps its base offset and last offset delta (offsets never change; the
  consumer just finds gaps), its producer fields and record timestamps, and is written
  uncompressed; a batch with nothing left is dropped;
* records of committed transactions are compacted like any others; a batch whose transaction
  aborted goes whole (Kafka's cleaner discards aborted data); control batches (the COMMIT and
  ABORT markers) are copied as they are (a simplification: Kafka removes a marker once its
  transaction's records are gone and the delete horizon has passed).

The cleaner checkpoint is kept in each partition's directory (``cleaner-offset-checkpoint``), so
a restarted broker does not clean what is clean already.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from dataclasses import dataclass

import crc32c

from streamlab.kafka.configs import split_list
from streamlab.kafka.periodic import Periodic
from streamlab.kafka.protocol import batches

log = logging.getLogger("streamlab.kafka.cleaner")

BACKOFF_MS = 15_000  # log.cleaner.backoff.ms


@dataclass
class CleanStats:
    segments: int = 0
    records_removed: int = 0
    tombstones_removed: int = 0
    aborted_removed: int = 0
    bytes_before: int = 0
    bytes_after: int = 0


def _zigzag(v: int, out: bytearray) -> None:
    v = (v << 1) ^ (v >> 63)
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)


def _bytes(v: bytes | None, out: bytearray) -> None:
    if v is None:
        _zigzag(-1, out)
    else:
        _zigzag(len(v), out)
        out += v


def rebuild_batch(
    h: batches.BatchHeader, kept: list[batches.Record], delete_horizon: int | None = None
) -> bytes:
    """A new uncompressed batch holding ``kept`` (records of the batch ``h``) at their own
    offsets; base offset, last offset delta, producer fields and record timestamps as in ``h``.
    With ``delete_horizon`` the base timestamp carries it (Kafka's delete horizon flag), and
    the record timestamps are deltas from it."""
    body = bytearray()
    log_append = h.attributes & batches.TIMESTAMP_TYPE_BIT
    attributes = h.attributes & ~batches.COMPRESSION_MASK
    base_timestamp = h.base_timestamp
    if delete_horizon is not None:
        attributes |= batches.DELETE_HORIZON_BIT
        base_timestamp = delete_horizon
    for rec in kept:
        r = bytearray(b"\x00")
        _zigzag(0 if log_append else rec.timestamp - base_timestamp, r)
        _zigzag(rec.offset - h.base_offset, r)
        _bytes(rec.key, r)
        _bytes(rec.value, r)
        _zigzag(len(rec.headers), r)
        for name, value in rec.headers:
            _bytes(name.encode(), r)
            _bytes(value, r)
        _zigzag(len(r), body)
        body += r
    covered = (
        struct.pack(
            ">hiqqqhii",
            attributes,
            h.last_offset_delta,
            base_timestamp,
            h.max_timestamp,
            h.producer_id,
            h.producer_epoch,
            h.base_sequence,
            len(kept),
        )
        + body
    )
    crc = crc32c.crc32c(covered)
    return struct.pack(">qiibI", h.base_offset, 9 + len(covered), h.leader_epoch, 2, crc) + covered


@dataclass
class Cleanable:
    """What a cleaning would cover (Kafka's ``LogToClean`` / ``cleanableOffsets``)."""

    first_dirty: int
    first_uncleanable: int
    clean_bytes: int
    dirty_bytes: int
    oldest_dirty_ms: int  # the earliest record timestamp in the dirty part (-1: unknown)

    @property
    def ratio(self) -> float:
        total = self.clean_bytes + self.dirty_bytes
        return self.dirty_bytes / total if total else 0.0


def cleanable(plog, min_lag_ms: int = 0, now_ms: int | None = None) -> Cleanable:
    """The partition's clean and dirty parts (see the module docstring)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    segments = plog.segments
    first_dirty = plog.cleaner_checkpoint
    if first_dirty is None or not plog.log_start_offset <= first_dirty <= plog.end_offset:
        first_dirty = plog.log_start_offset
    end = min(segments[-1].base_offset, plog.last_stable_offset) if segments else first_dirty
    if min_lag_ms > 0:
        for seg_no, seg in enumerate(segments[:-1]):
            if seg.base_offset >= first_dirty and plog.segment_max_timestamp(seg_no) > (
                now_ms - min_lag_ms
            ):
                end = min(end, seg.base_offset)
                break
    end = max(end, first_dirty)
    clean = dirty = 0
    oldest = -1
    for seg in segments:
        if seg.base_offset < first_dirty:
            clean += seg.size
        elif seg.base_offset < end:
            dirty += seg.size
            first = seg.first_timestamp
            if first >= 0 and (oldest < 0 or first < oldest):
                oldest = first
    return Cleanable(first_dirty, end, clean, dirty, oldest)


def clean_log(
    plog,
    delete_retention_ms: int,
    now_ms: int | None = None,
    min_cleanable_ratio: float = 0.0,
    min_lag_ms: int = 0,
    max_lag_ms: int | None = None,
) -> CleanStats:
    """One cleaning pass over a partition, if it is due (see the module docstring)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    stats = CleanStats()
    todo = cleanable(plog, min_lag_ms, now_ms)
    overdue = (
        max_lag_ms is not None and todo.oldest_dirty_ms >= 0
        and now_ms - todo.oldest_dirty_ms > max_lag_ms
    )  # fmt: skip
    if todo.dirty_bytes == 0 or (todo.ratio <= min_cleanable_ratio and not overdue):
        return stats
    end = todo.first_uncleanable
    covered = [i for i, seg in enumerate(plog.segments[:-1]) if seg.base_offset < end]
    contents = [(i, batches_of(plog, i)) for i in covered]
    latest: dict[bytes | None, int] = {}  # Kafka's offset map: of the dirty part only
    for _, segment in contents:
        for h, raw in segment:
            if h.base_offset < todo.first_dirty or _skipped(h, end) or _aborted(plog, h):
                continue
            for rec in batches.iter_records(raw):
                latest[rec.key] = rec.offset
    for seg_no, segment in contents:
        out = bytearray()
        changed = False  # a batch was dropped or rewritten
        for h, raw in segment:
            if _skipped(h, end):
                out += raw
                continue
            if _aborted(plog, h):
                stats.aborted_removed += h.record_count
                changed = True
                continue
            records = list(batches.iter_records(raw))
            horizon = h.delete_horizon_ms
            kept = []
            for rec in records:
                if latest.get(rec.key, rec.offset) > rec.offset:
                    stats.records_removed += 1
                elif rec.value is None and horizon is not None and now_ms >= horizon:
                    stats.tombstones_removed += 1
                else:
                    kept.append(rec)
            tombstones = any(rec.value is None for rec in kept)
            if tombstones and horizon is None:  # the first cleaning to keep them: set it
                out += rebuild_batch(h, kept, now_ms + delete_retention_ms)
            elif len(kept) == len(records):
                out += raw
                continue
            elif kept:
                out += rebuild_batch(h, kept, horizon)
            changed = True
        if changed:
            plog.replace_segment(seg_no, bytes(out))
            stats.segments += 1
            stats.bytes_before += sum(len(raw) for _, raw in segment)
            stats.bytes_after += len(out)
    plog.cleaner_checkpoint = end
    return stats


def batches_of(plog, seg_no: int) -> list[tuple[batches.BatchHeader, bytes]]:
    data = plog.segment_data(seg_no)
    return [(h, data[pos : pos + h.length]) for pos, h in batches.iter_batches(data)]


def _skipped(h: batches.BatchHeader, end: int) -> bool:
    return h.is_control or h.last_offset >= end


def _aborted(plog, h: batches.BatchHeader) -> bool:
    """A transactional batch whose transaction ended in an ABORT marker."""
    return h.is_transactional and any(
        pid == h.producer_id and first <= h.base_offset < marker
        for pid, first, marker in plog.aborted
    )


class LogCleaner:
    """Cleans every compacted partition of ``cluster`` every ``backoff_ms``."""

    def __init__(self, cluster, backoff_ms: int = BACKOFF_MS) -> None:
        self.cluster = cluster
        self.backoff_ms = backoff_ms
        self._passes = Periodic("log cleaner pass", backoff_ms, self.clean_all, log)

    async def start(self) -> None:
        await self._passes.start()

    async def stop(self) -> None:
        await self._passes.stop()

    async def clean_all(self) -> None:
        for topic in list(self.cluster.topics.values()):
            if "compact" not in split_list(topic.config("cleanup.policy")):  # or compact,delete
                continue
            settings = {
                "delete_retention_ms": int(topic.config("delete.retention.ms")),
                "min_cleanable_ratio": float(topic.config("min.cleanable.dirty.ratio")),
                "min_lag_ms": int(topic.config("min.compaction.lag.ms")),
                "max_lag_ms": int(topic.config("max.compaction.lag.ms")),
            }
            for p in list(topic.partitions):
                if self.cluster.topics.get(topic.name) is not topic:
                    break  # deleted meanwhile
                stats = clean_log(p.log, **settings)
                if stats.segments:
                    log.info(
                        "cleaned %s-%d: %d segment(s), %d record(s), %d tombstone(s) and %d "
                        "aborted record(s) removed, %d -> %d bytes",
                        topic.name,
                        p.index,
                        stats.segments,
                        stats.records_removed,
                        stats.tombstones_removed,
                        stats.aborted_removed,
                        stats.bytes_before,
                        stats.bytes_after,
                    )
                await asyncio.sleep(0)  # one partition at a time: let requests through
