"""Partition logs: append-only segment files of raw record batches, as Kafka stores them.

A partition is a folder ``<topic>-<n>`` holding segment files named by their base offset
(``00000000000000000000.log``), each a plain concatenation of record batches, byte for byte what
producers sent with BaseOffset patched in. An in-memory index (one row per batch) is rebuilt by
scanning headers on open; a torn batch at the tail (a crash mid-write) is cut off.

Transactions: the log tracks, per producer id, the first offset of its open transaction (from
its first transactional batch until the COMMIT/ABORT marker the coordinator writes) and keeps
the aborted ranges, as Kafka's ProducerStateManager and transaction index do. The last stable
offset (LSO) is the first offset of the oldest open transaction, or the log end; READ_COMMITTED
fetches stop there. Both are rebuilt from the batches when the log is opened.

Durability: a batch is written with ``os.write`` before the produce is acknowledged, so it is in
the kernel's page cache and survives the broker process being killed (kill -9). Surviving a power
cut would need fsync per append, which Kafka does not do by default either (it relies on
replication); ``flush.messages=1`` on a topic asks for it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass, field

from streamlab.kafka.protocol import batches
from streamlab.kafka.protocol.batches import BatchHeader, InvalidBatch

SEGMENT_SUFFIX = ".log"
LOG_START_FILE = "log-start-offset"
CLEANER_CHECKPOINT_FILE = "cleaner-offset-checkpoint"  # Kafka keeps one per log dir
PRODUCER_WINDOW = 5  # Kafka keeps the last five batches per producer for duplicate detection


class ProduceError(Exception):
    """A produce the log refuses; ``code`` is the Kafka error code name in kio's ErrorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class Segment:
    base_offset: int
    path: str
    fd: int
    size: int
    # Kafka's rollingBasedTimestamp: the first batch's max timestamp (-1: none yet / no
    # timestamps), and when the file was created (ages a segment whose records have none)
    first_timestamp: int = -1
    created_ms: int = 0


@dataclass(slots=True)
class ProducerState:
    epoch: int
    # (first_seq, last_seq, base_offset, last_offset) of the most recent batches
    batches: deque = field(default_factory=lambda: deque(maxlen=PRODUCER_WINDOW))


@dataclass(slots=True)
class AppendResult:
    base_offset: int
    log_append_time: int  # -1 for CreateTime topics
    duplicate: bool = False


class PartitionLog:
    """One partition's log. Not thread-safe: the broker runs on one event loop."""

    def __init__(
        self,
        path: str,
        segment_bytes: int = 256 * 1024 * 1024,
        segment_ms: int = 7 * 24 * 3_600_000,
    ) -> None:
        self.path = path
        self.segment_bytes = segment_bytes
        self.segment_ms = segment_ms  # segment.ms (segment.jitter.ms is 0 by default)
        self.segments: list[Segment] = []
        # batch index, one row per batch: base offset, last offset, max timestamp,
        # segment number, position within the segment file, length
        self._base = array("q")
        self._last = array("q")
        self._maxts = array("q")
        self._seg = array("i")
        self._pos = array("q")
        self._len = array("i")
        self.log_start_offset = 0
        # the log cleaner's first dirty offset (Kafka's cleaner-offset-checkpoint; cleaner.py)
        self._cleaner_checkpoint: int | None = None
        self.end_offset = 0  # next offset to assign (the high watermark on a one-copy log)
        self.producers: dict[int, ProducerState] = {}
        self.ongoing: dict[int, int] = {}  # producer id -> first offset of its open transaction
        # aborted transactions (producer id, first offset, marker offset), in marker order
        self.aborted: list[tuple[int, int, int]] = []
        self._waiters: list[asyncio.Future] = []
        self.bytes_in = 0
        self.records_in = 0
        os.makedirs(path, exist_ok=True)
        self._open()

    @property
    def cleaner_checkpoint(self) -> int | None:
        """Where the log cleaner's next dirty part starts (None: never cleaned)."""
        return self._cleaner_checkpoint

    @cleaner_checkpoint.setter
    def cleaner_checkpoint(self, offset: int) -> None:
        if offset != self._cleaner_checkpoint:
            _atomic_write(os.path.join(self.path, CLEANER_CHECKPOINT_FILE), str(offset))
            self._cleaner_checkpoint = offset

    # --- opening and recovery ------------------------------------------------------------------

    def _open(self) -> None:
        names = sorted(n for n in os.listdir(self.path) if n.endswith(SEGMENT_SUFFIX))
        for name in names:
            seg_path = os.path.join(self.path, name)
            fd = os.open(seg_path, os.O_RDWR | os.O_APPEND)
            seg = Segment(int(name[: -len(SEGMENT_SUFFIX)]), seg_path, fd, 0)
            self.segments.append(seg)
            self._recover_segment(len(self.segments) - 1, seg)
        start_file = os.path.join(self.path, LOG_START_FILE)
        if os.path.exists(start_file):
            with open(start_file) as f:
                self.log_start_offset = int(f.read().strip() or 0)
        cleaned = os.path.join(self.path, CLEANER_CHECKPOINT_FILE)
        if os.path.exists(cleaned):
            with open(cleaned) as f:
                self._cleaner_checkpoint = int(f.read().strip() or 0)
        if self._base:
            self.log_start_offset = max(self.log_start_offset, self._base[0])
            self.end_offset = self._last[-1] + 1
        else:
            # An emptied log keeps its offsets: the next offset continues after the segments
            # that were deleted, which we remember through the newest segment's name.
            self.end_offset = max(
                self.log_start_offset, self.segments[-1].base_offset if self.segments else 0
            )
            self.log_start_offset = max(self.log_start_offset, 0)
        if not self.segments:
            self._roll(self.end_offset)

    def _recover_segment(self, seg_no: int, seg: Segment) -> None:
        data = _read_all(seg.fd)
        pos = 0
        while len(data) - pos >= batches.HEADER_SIZE:
            h = batches.read_header(data, pos)
            whole = batches.HEADER_SIZE <= h.length <= len(data) - pos
            if not whole or (self._last and h.base_offset <= self._last[-1]):
                break
            self._index(h, seg_no, pos)
            self._track_producer(h)
            self._track_transaction(h, data, pos)
            if pos == 0:
                seg.first_timestamp = h.max_timestamp
            pos += h.length
        seg.created_ms = int(time.time() * 1000)  # Kafka's too: when the segment was loaded
        if pos < len(data):
            # A torn write at the tail: never acknowledged, so cutting it loses nothing.
            os.ftruncate(seg.fd, pos)
        seg.size = pos

    # --- appending --------------------------------------------------------------------------------

    def append(
        self,
        records: bytes,
        leader_epoch: int,
        log_append_time: int | None = None,
        compacted: bool = False,
    ) -> AppendResult:
        """Validate, deduplicate (idempotent producers), assign offsets and write one produce's
        record set. Raises ``InvalidBatch`` or ``ProduceError``; nothing is written then.

        ``compacted``: the topic's cleanup.policy includes compact, so every record needs a key
        (compaction keeps the last value per key), as Kafka's LogValidator insists."""
        headers = batches.split(records)
        if compacted:
            _require_keys(records, headers, os.path.basename(self.path))
        first = headers[0]
        if first.producer_id >= 0:
            self._check_epoch(first)
        if first.producer_id >= 0 and first.base_sequence >= 0:
            dup = self._check_sequence(headers)
            if dup is not None:
                return AppendResult(dup, -1, duplicate=True)
        data = batches.assign_offsets(records, headers, self.end_offset, leader_epoch)
        stamped = -1
        if log_append_time is not None:
            buf, pos = bytearray(data), 0
            for h in headers:
                batches.set_log_append_time(buf, pos, log_append_time)
                h.max_timestamp = log_append_time
                pos += h.length
            data, stamped = bytes(buf), log_append_time
        seg = self.segments[-1]
        if self._should_roll(seg, len(data), max(h.max_timestamp for h in headers)):
            seg = self._roll(self.end_offset)
        if seg.size == 0:
            seg.first_timestamp = headers[0].max_timestamp
        _write_all(seg.fd, data)
        pos = seg.size
        seg_no = len(self.segments) - 1
        for h in headers:
            self._index(h, seg_no, pos)
            self._track_producer(h)
            self._track_transaction(h, data, pos - seg.size)
            pos += h.length
            self.records_in += h.record_count
        seg.size = pos
        self.bytes_in += len(data)
        base = headers[0].base_offset
        self.end_offset = headers[-1].next_offset
        self._wake()
        return AppendResult(base, stamped)

    def write_marker(
        self,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        leader_epoch: int,
        coordinator_epoch: int = 0,
    ) -> int:
        """Append a COMMIT or ABORT marker for ``producer_id`` (the coordinator's
        WriteTxnMarkers); returns its offset. A marker from an older epoch than the producer's
        current one is refused, as Kafka does (INVALID_PRODUCER_EPOCH)."""
        state = self.producers.get(producer_id)
        if state is not None and producer_epoch < state.epoch:
            raise ProduceError(
                "invalid_producer_epoch",
                f"marker epoch {producer_epoch} is older than the producer's {state.epoch}",
            )
        now_ms = int(time.time() * 1000)
        batch = batches.build_control_batch(
            producer_id, producer_epoch, commit, coordinator_epoch, now_ms
        )
        result = self.append(batch, leader_epoch)
        return result.base_offset

    @property
    def last_stable_offset(self) -> int:
        """The first offset of the oldest open transaction, or the log end."""
        return min(self.ongoing.values(), default=self.end_offset)

    def aborted_between(self, start: int, end: int) -> list[tuple[int, int]]:
        """(producer id, first offset) of aborted transactions that overlap [start, end):
        what a READ_COMMITTED fetch of that range needs to drop their records."""
        return [(pid, first) for pid, first, last in self.aborted if last >= start and first < end]

    def _track_transaction(self, h: BatchHeader, data: bytes, pos: int) -> None:
        if not h.is_transactional or h.producer_id < 0:
            return
        if not h.is_control:
            self.ongoing.setdefault(h.producer_id, h.base_offset)
            return
        kind = batches.control_type(data, pos)
        state = self.producers.get(h.producer_id)
        if state is None or h.producer_epoch > state.epoch:
            # a marker with a bumped epoch (fencing) restarts the producer's sequences
            self.producers[h.producer_id] = ProducerState(h.producer_epoch)
        first = self.ongoing.pop(h.producer_id, None)
        if kind == batches.CONTROL_ABORT and first is not None:
            self.aborted.append((h.producer_id, first, h.base_offset))

    def _check_epoch(self, h: BatchHeader) -> None:
        """Any batch of a producer older than its current epoch (bumped by a newer session or
        a fencing marker) is refused, sequence or not, as Kafka's ProducerStateManager does."""
        state = self.producers.get(h.producer_id)
        if state is not None and h.producer_epoch < state.epoch:
            raise ProduceError(
                "invalid_producer_epoch", f"producer epoch {h.producer_epoch} is fenced"
            )

    def _check_sequence(self, headers: list[BatchHeader]) -> int | None:
        """Kafka's idempotence rules, per producer id: returns the original base offset for a
        duplicate batch, None to append, or raises ProduceError."""
        h = headers[0]
        state = self.producers.get(h.producer_id)
        if state is None or h.producer_epoch > state.epoch:
            return None  # a new producer, or a bumped epoch that restarts its sequences
        last_seq = headers[-1].last_sequence
        for first_seq, seq_end, base, _ in state.batches:
            if first_seq == h.base_sequence and seq_end == last_seq:
                return base
        if state.batches:
            expected = (state.batches[-1][1] + 1) % 2**31
            if h.base_sequence != expected:
                raise ProduceError(
                    "out_of_order_sequence_number",
                    f"expected sequence {expected}, got {h.base_sequence}",
                )
        return None

    def _track_producer(self, h: BatchHeader) -> None:
        if h.producer_id < 0 or h.base_sequence < 0:
            return
        state = self.producers.get(h.producer_id)
        if state is None or h.producer_epoch > state.epoch:
            state = self.producers[h.producer_id] = ProducerState(h.producer_epoch)
        state.batches.append((h.base_sequence, h.last_sequence, h.base_offset, h.last_offset))

    def _index(self, h: BatchHeader, seg_no: int, pos: int) -> None:
        self._base.append(h.base_offset)
        self._last.append(h.last_offset)
        self._maxts.append(h.max_timestamp)
        self._seg.append(seg_no)
        self._pos.append(pos)
        self._len.append(h.length)

    def _should_roll(self, seg: Segment, size: int, max_timestamp: int) -> bool:
        """Kafka's LogSegment.shouldRoll: a non-empty active segment rolls when the batch would
        take it past segment.bytes, or when the batch's largest timestamp is more than
        segment.ms after the segment's first batch's (its age, for records without timestamps):
        so records far apart in time land in different segments, which retention can then
        delete apart."""
        if seg.size == 0:
            return False
        if seg.size + size > self.segment_bytes:
            return True
        if seg.first_timestamp >= 0:
            waited = max_timestamp - seg.first_timestamp
        else:
            waited = int(time.time() * 1000) - seg.created_ms
        return waited > self.segment_ms

    def _roll(self, base_offset: int) -> Segment:
        seg_path = os.path.join(self.path, f"{base_offset:020d}{SEGMENT_SUFFIX}")
        fd = os.open(seg_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        seg = Segment(base_offset, seg_path, fd, 0, created_ms=int(time.time() * 1000))
        self.segments.append(seg)
        return seg

    # --- reading ----------------------------------------------------------------------------------

    def read(self, offset: int, max_bytes: int, max_offset: int | None = None) -> bytes:
        """Whole batches starting with the one that holds ``offset``, up to ``max_bytes`` but
        always at least one batch (KIP-74), all from one segment file. ``max_offset`` (the LSO
        for READ_COMMITTED) excludes batches at or beyond it."""
        i = bisect_left(self._last, offset)
        if i >= len(self._last) or (max_offset is not None and self._base[i] >= max_offset):
            return b""
        seg_no, start = self._seg[i], self._pos[i]
        length, j = self._len[i], i + 1
        while j < len(self._last) and self._seg[j] == seg_no:
            if max_offset is not None and self._base[j] >= max_offset:
                break
            if length + self._len[j] > max_bytes:
                break
            length += self._len[j]
            j += 1
        return os.pread(self.segments[seg_no].fd, length, start)

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int]:
        """Earliest (offset, timestamp) whose record timestamp >= ``timestamp``; (-1, -1) if none.

        Batch max timestamps narrow the search; the answer is exact per record."""
        for i in range(len(self._base)):
            if self._maxts[i] < timestamp or self._last[i] < self.log_start_offset:
                continue
            data = os.pread(self.segments[self._seg[i]].fd, self._len[i], self._pos[i])
            for rec in batches.iter_records(data):
                if rec.offset >= self.log_start_offset and rec.timestamp >= timestamp:
                    return rec.offset, rec.timestamp
        return -1, -1

    def max_timestamp(self) -> tuple[int, int]:
        """(offset, timestamp) of the record with the largest timestamp (ListOffsets -3)."""
        best = (-1, -1)
        for i in range(len(self._base)):
            if self._maxts[i] > best[1] and self._last[i] >= self.log_start_offset:
                data = os.pread(self.segments[self._seg[i]].fd, self._len[i], self._pos[i])
                for rec in batches.iter_records(data):
                    if rec.timestamp == self._maxts[i]:
                        best = (rec.offset, rec.timestamp)
                        break
        return best

    def segment_max_timestamp(self, seg_no: int) -> int:
        """The largest record timestamp in segment ``seg_no`` (Kafka's
        ``LogSegment.largestTimestamp``), or the file's modification time when no record has one
        (retention.py ages segments by it)."""
        # the batch index is ordered by segment number
        lo, hi = bisect_left(self._seg, seg_no), bisect_right(self._seg, seg_no)
        best = max(self._maxts[lo:hi], default=-1)
        if best >= 0:
            return best
        return int(os.stat(self.segments[seg_no].path).st_mtime * 1000)

    # --- compaction support (cleaner.py) ----------------------------------------------------

    def segment_data(self, seg_no: int) -> bytes:
        return _read_all(self.segments[seg_no].fd)

    def replace_segment(self, seg_no: int, data: bytes) -> None:
        """Swap a closed segment's content for its cleaned version (same offsets, fewer
        records) atomically, then rebuild the index from the files."""
        if seg_no >= len(self.segments) - 1:
            raise ValueError("the active segment is never rewritten")
        seg = self.segments[seg_no]
        tmp = seg.path + ".cleaned"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, seg.path)
        os.close(seg.fd)
        seg.fd = os.open(seg.path, os.O_RDWR | os.O_APPEND)
        self._reindex()

    def _reindex(self) -> None:
        for arr in (self._base, self._last, self._maxts, self._pos, self._len, self._seg):
            del arr[:]
        self.producers.clear()
        self.ongoing.clear()
        self.aborted.clear()
        for seg_no, seg in enumerate(self.segments):
            self._recover_segment(seg_no, seg)
        self.aborted = [a for a in self.aborted if a[2] >= self.log_start_offset]

    # --- waiting for data (Fetch long-poll) -------------------------------------------------------

    def add_waiter(self, fut: asyncio.Future) -> None:
        self._waiters.append(fut)

    def _wake(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    # --- trimming ---------------------------------------------------------------------------------

    def delete_records(self, before_offset: int) -> int:
        """Move the log start offset (DeleteRecords; -1 means the high watermark) and drop whole
        segments that lie entirely before it. Returns the new log start offset."""
        if before_offset < 0:
            before_offset = self.end_offset
        if before_offset > self.end_offset:
            raise ProduceError("offset_out_of_range", f"offset {before_offset} is beyond the end")
        if before_offset <= self.log_start_offset:
            return self.log_start_offset
        self.log_start_offset = before_offset
        self.aborted = [a for a in self.aborted if a[2] >= before_offset]
        _atomic_write(os.path.join(self.path, LOG_START_FILE), str(before_offset))
        if before_offset == self.end_offset and self.segments[-1].size:
            # Everything goes, the active segment too: roll first, as Kafka's deleteSegments does,
            # so no file outlives its records (and offsets go on from the old end).
            self._roll(self.end_offset)
        # A segment can go when the next one starts at or before the new start offset.
        drop = 0
        while (
            drop + 1 < len(self.segments) and self.segments[drop + 1].base_offset <= before_offset
        ):
            drop += 1
        if drop:
            self._drop_segments(drop)
        return before_offset

    def _drop_segments(self, n: int) -> None:
        for seg in self.segments[:n]:
            os.close(seg.fd)
            os.unlink(seg.path)
        self.segments = self.segments[n:]
        k = bisect_right(self._seg, n - 1)
        for arr in (self._base, self._last, self._maxts, self._pos, self._len):
            del arr[:k]
        del self._seg[:k]
        for idx in range(len(self._seg)):
            self._seg[idx] -= n

    def truncate_all(self) -> None:
        """Used by topic deletion: close files and remove the folder."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def close(self) -> None:
        for seg in self.segments:
            try:
                os.close(seg.fd)
            except OSError:
                pass
        self._wake()

    # --- figures ------------------------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def batch_count(self) -> int:
        return len(self._base)


def _require_keys(records: bytes, headers: list[BatchHeader], partition: str) -> None:
    pos = 0
    for h in headers:
        if not h.is_control:
            for rec in batches.iter_records(records, pos):
                if rec.key is None:
                    raise ProduceError(
                        "invalid_record",
                        f"Compacted topic cannot accept message without key in topic partition "
                        f"{partition}.",
                    )
        pos += h.length


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _atomic_write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


__all__ = ["AppendResult", "InvalidBatch", "PartitionLog", "ProduceError"]
