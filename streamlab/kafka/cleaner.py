"""Log compaction (``cleanup.policy=compact``): Kafka's log cleaner, reduced to its rules.

Topics with ``compact,delete`` (Kafka Streams' windowed changelogs) are compacted the same way,
and retention (retention.py, when turned on) also deletes their segments past
``retention.ms`` or ``retention.bytes``.

Every ``log.cleaner.backoff.ms`` the cleaner looks at each compacted partition and cleans its
*closed* segments (never the active one, where producers append), up to the last stable
offset (records of open transactions are never looked at):

* the latest record per key within that range is kept, older ones go;
* a tombstone (null value) is kept as long as it is younger than ``delete.retention.ms``
  (by its timestamp), so consumers that read the topic slowly still see the delete, then goes;
* a rewritten batch keeps its base offset and last offset delta (offsets never change; the
  consumer just finds gaps), its producer fields and timestamps, and is written uncompressed;
  a batch with nothing left is dropped;
* records of committed transactions are compacted like any others; a batch whose transaction
  aborted goes whole (Kafka's cleaner discards aborted data); control batches (the COMMIT and
  ABORT markers) are copied as they are (a simplification: Kafka removes a marker once its
  transaction's records are gone and the delete horizon has passed).

``min.cleanable.dirty.ratio`` and ``min.compaction.lag.ms`` are not applied: a closed segment
is cleaned on the next pass, so a lesson sees compaction within seconds.
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


def rebuild_batch(h: batches.BatchHeader, kept: list[batches.Record]) -> bytes:
    """A new uncompressed batch holding ``kept`` (records of the batch ``h``) at their own
    offsets; base offset, last offset delta, producer fields and timestamps as in ``h``."""
    body = bytearray()
    log_append = h.attributes & batches.TIMESTAMP_TYPE_BIT
    for rec in kept:
        r = bytearray(b"\x00")
        _zigzag(0 if log_append else rec.timestamp - h.base_timestamp, r)
        _zigzag(rec.offset - h.base_offset, r)
        _bytes(rec.key, r)
        _bytes(rec.value, r)
        _zigzag(len(rec.headers), r)
        for name, value in rec.headers:
            _bytes(name.encode(), r)
            _bytes(value, r)
        _zigzag(len(r), body)
        body += r
    attributes = h.attributes & ~batches.COMPRESSION_MASK
    covered = (
        struct.pack(
            ">hiqqqhii",
            attributes,
            h.last_offset_delta,
            h.base_timestamp,
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


def clean_log(plog, delete_retention_ms: int, now_ms: int | None = None) -> CleanStats:
    """One cleaning pass over a partition's closed segments (see the module docstring)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    stats = CleanStats()
    closed = plog.segments[:-1]
    if not closed:
        return stats
    end = min(plog.segments[-1].base_offset, plog.last_stable_offset)
    contents = [(i, batches_of(plog, i)) for i in range(len(closed))]
    latest: dict[bytes | None, int] = {}
    for _, segment in contents:
        for h, raw in segment:
            if _skipped(h, end) or _aborted(plog, h):
                continue
            for rec in batches.iter_records(raw):
                latest[rec.key] = rec.offset
    horizon = now_ms - delete_retention_ms
    for seg_no, segment in contents:
        out = bytearray()
        before = sum(len(raw) for _, raw in segment)
        for h, raw in segment:
            if _skipped(h, end):
                out += raw
                continue
            if _aborted(plog, h):
                stats.aborted_removed += h.record_count
                continue
            records = list(batches.iter_records(raw))
            kept = []
            for rec in records:
                if latest.get(rec.key) != rec.offset:
                    stats.records_removed += 1
                elif rec.value is None and rec.timestamp < horizon:
                    stats.tombstones_removed += 1
                else:
                    kept.append(rec)
            if len(kept) == len(records):
                out += raw
            elif kept:
                out += rebuild_batch(h, kept)
        if len(out) != before:
            plog.replace_segment(seg_no, bytes(out))
            stats.segments += 1
            stats.bytes_before += before
            stats.bytes_after += len(out)
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
            retention = int(topic.config("delete.retention.ms"))
            for p in list(topic.partitions):
                if self.cluster.topics.get(topic.name) is not topic:
                    break  # deleted meanwhile
                stats = clean_log(p.log, retention)
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
