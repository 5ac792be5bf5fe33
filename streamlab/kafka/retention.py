"""Time- and size-based retention (``cleanup.policy`` containing ``delete``): Kafka's
``LogManager.cleanupLogs`` / ``UnifiedLog.deleteOldSegments``, reduced to its rules.

Every ``log.retention.check.interval.ms`` each partition of each topic whose cleanup.policy
contains ``delete`` (``delete`` itself, the default, or ``compact,delete``) loses its oldest
*whole* segments, never a part of one:

* size first: while the partition is larger than ``retention.bytes`` by at least the oldest
  segment's size, that segment goes (``-1``: no limit);
* then time: the oldest segments whose largest record timestamp is more than ``retention.ms``
  ago go, up to the first one that is not (``-1``: kept forever). A segment without record
  timestamps is aged by its file's modification time, as Kafka does;
* a segment goes only when all of its records lie below the last stable offset (Kafka: the high
  watermark, which equals the log end on a one-copy log; the emulator also keeps records of
  open transactions, so a transaction never loses its first records);
* the log start offset moves to the first kept segment's base offset: consumers asking for an
  earlier offset get OFFSET_OUT_OF_RANGE and reset, ListOffsets earliest answers it. When the
  active segment itself is due, Kafka rolls the log and deletes it; here the log start offset
  moves to the log end, which empties the partition the same way.

Offsets never go back: a partition emptied by retention continues at its old end.

As in Kafka the first pass comes 30 s after the broker starts (``log.initial.task.delay.ms``),
then one every ``log.retention.check.interval.ms`` (300,000 ms; ``0`` turns retention off,
which the test clusters do: tests replay records dated 1970). A lab that produces historical
events must date them within ``retention.ms`` of now (Lab 07: this morning), as on real Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamlab.kafka.configs import split_list
from streamlab.kafka.periodic import Periodic

log = logging.getLogger("streamlab.kafka.retention")

CHECK_INTERVAL_MS = 300_000  # log.retention.check.interval.ms
INITIAL_DELAY_MS = 30_000  # log.initial.task.delay.ms: the first pass, after the broker starts


@dataclass
class RetentionStats:
    segments: int = 0
    bytes: int = 0
    log_start_offset: int = 0


def _deletable(plog, should_delete: Callable[[int], bool]) -> int:
    """How many of the oldest segments go: Kafka's deletableSegments. Stops at the first segment
    ``should_delete`` refuses, that reaches past the last stable offset, or that is the last one
    and empty (deleting it would gain nothing)."""
    bound = plog.last_stable_offset
    segments = plog.segments
    n = 0
    while n < len(segments):
        last = n == len(segments) - 1
        upper = plog.end_offset if last else segments[n + 1].base_offset
        if last and segments[n].size == 0:
            break
        if upper > bound or not should_delete(n):
            break
        n += 1
    return n


def _delete_oldest(plog, n: int, name: str, reason: str, stats: RetentionStats) -> None:
    if n == 0:
        return
    new_start = plog.end_offset if n == len(plog.segments) else plog.segments[n].base_offset
    if new_start <= plog.log_start_offset:
        return  # nothing past the current start offset: nothing new goes
    for seg in plog.segments[:n]:
        log.info(
            "Deleting segment %s of %s (baseOffset=%d, size=%d) due to %s",
            os.path.basename(seg.path),
            name,
            seg.base_offset,
            seg.size,
            reason,
        )
        stats.bytes += seg.size
    stats.segments += n
    plog.delete_records(new_start)  # moves the start offset, drops the files before it


def apply_retention(
    plog,
    retention_ms: int,
    retention_bytes: int,
    name: str = "",
    now_ms: int | None = None,
) -> RetentionStats:
    """One retention pass over a partition's log (see the module docstring)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    stats = RetentionStats()
    size = plog.size_bytes
    if retention_bytes >= 0 and size >= retention_bytes:
        excess = size - retention_bytes

        def over_size(seg_no: int) -> bool:
            nonlocal excess
            seg_size = plog.segments[seg_no].size
            if excess - seg_size < 0:
                return False
            excess -= seg_size
            return True

        n = _deletable(plog, over_size)
        after = size - sum(s.size for s in plog.segments[:n])
        reason = (
            f"log retention size in bytes {retention_bytes} breach. "
            f"Log size after deletion will be {after}."
        )
        _delete_oldest(plog, n, name, reason, stats)
    if retention_ms >= 0:

        def too_old(seg_no: int) -> bool:
            return now_ms - plog.segment_max_timestamp(seg_no) > retention_ms

        n = _deletable(plog, too_old)
        reason = (
            f"log retention time {retention_ms}ms breach based on the largest record timestamp "
            "in the segment"
        )
        _delete_oldest(plog, n, name, reason, stats)
    stats.log_start_offset = plog.log_start_offset
    return stats


class LogRetention:
    """Applies retention to every ``delete`` partition of ``cluster`` every ``interval_ms``."""

    def __init__(
        self,
        cluster,
        interval_ms: int = CHECK_INTERVAL_MS,
        initial_delay_ms: int = INITIAL_DELAY_MS,
    ) -> None:
        self.cluster = cluster
        self.interval_ms = interval_ms
        self._passes = Periodic(
            "log retention pass",
            interval_ms,
            self.cleanup_logs,
            log,
            initial_delay_ms=min(initial_delay_ms, interval_ms),
        )

    async def start(self) -> None:
        await self._passes.start()

    async def stop(self) -> None:
        await self._passes.stop()

    async def cleanup_logs(self) -> None:
        for topic in list(self.cluster.topics.values()):
            if "delete" not in split_list(topic.config("cleanup.policy")):
                continue
            # read at every pass: an altered config applies at the next one
            retention_ms = int(topic.config("retention.ms"))
            retention_bytes = int(topic.config("retention.bytes"))
            for p in list(topic.partitions):
                if self.cluster.topics.get(topic.name) is not topic:
                    break  # deleted meanwhile
                name = f"{topic.name}-{p.index}"
                stats = apply_retention(p.log, retention_ms, retention_bytes, name)
                if stats.segments:
                    log.info(
                        "%s: deleted %d segment(s), %d bytes; log start offset now %d",
                        name,
                        stats.segments,
                        stats.bytes,
                        stats.log_start_offset,
                    )
                await asyncio.sleep(0)  # one partition at a time: let requests through
