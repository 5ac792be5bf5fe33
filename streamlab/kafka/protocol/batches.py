"""Record batches (magic v2), kept as raw bytes.

The broker never re-encodes a producer's batch: it checks the 61-byte header, patches the fields
Kafka patches on append (BaseOffset, PartitionLeaderEpoch: both outside the CRC) and stores the
bytes as they came. Only features that must look inside a batch (ListOffsets by timestamp,
peeking at records for lessons) decompress it. Layout: Kafka's ``DefaultRecordBatch``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import cramjam
import crc32c

# BaseOffset, BatchLength, PartitionLeaderEpoch, Magic, CRC, Attributes, LastOffsetDelta,
# BaseTimestamp, MaxTimestamp, ProducerId, ProducerEpoch, BaseSequence, RecordCount
HEADER = struct.Struct(">qiibIhiqqqhii")
HEADER_SIZE = HEADER.size  # 61
LOG_OVERHEAD = 12  # BaseOffset + BatchLength: the part of the header not counted in BatchLength
CRC_START = 21  # the CRC covers Attributes .. end of batch

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_BIT = 0x08  # 1 = LogAppendTime
TRANSACTIONAL_BIT = 0x10
CONTROL_BIT = 0x20
DELETE_HORIZON_BIT = 0x40  # the base timestamp is the delete horizon (KIP-534; set by the cleaner)

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


class InvalidBatch(ValueError):
    """A batch the broker must refuse: corrupt (Kafka's CorruptRecordException, answered
    CORRUPT_MESSAGE) unless it is an :class:`InvalidRecords`."""


class InvalidRecords(InvalidBatch):
    """A whole, uncorrupted batch whose records cannot be read as declared (Kafka's
    InvalidRecordException, answered INVALID_RECORD)."""


@dataclass(slots=True)
class BatchHeader:
    base_offset: int
    length: int  # total bytes including the 12-byte log overhead
    leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def codec(self) -> str:
        return CODECS.get(self.attributes & COMPRESSION_MASK, "unknown")

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_BIT)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_BIT)

    @property
    def delete_horizon_ms(self) -> int | None:
        """When the cleaner may remove this batch's tombstones (None: not cleaned yet)."""
        return self.base_timestamp if self.attributes & DELETE_HORIZON_BIT else None

    @property
    def last_sequence(self) -> int:
        if self.base_sequence < 0:
            return -1
        return (self.base_sequence + self.last_offset_delta) % 2**31


def read_header(buf: bytes | memoryview, pos: int = 0) -> BatchHeader:
    """Parse the fixed header at ``pos`` (no validation beyond the size)."""
    if len(buf) - pos < HEADER_SIZE:
        raise InvalidBatch(f"batch header truncated: {len(buf) - pos} of {HEADER_SIZE} bytes")
    f = HEADER.unpack_from(buf, pos)
    return BatchHeader(f[0], f[1] + LOG_OVERHEAD, *f[2:])


def split(records: bytes, verify_crc: bool = True) -> list[BatchHeader]:
    """Split a produce request's record set into batch headers, validating each batch.

    Raises ``InvalidBatch`` naming the first problem; Kafka rejects the whole partition's data
    in that case, and so do we.
    """
    headers: list[BatchHeader] = []
    pos, end = 0, len(records)
    if end == 0:
        raise InvalidBatch("empty record set")
    while pos < end:
        if end - pos < HEADER_SIZE:
            raise InvalidBatch(f"trailing {end - pos} bytes are not a whole batch header")
        h = read_header(records, pos)
        if h.magic != 2:
            raise InvalidBatch(f"record batch magic {h.magic} is not supported (only v2)")
        if h.length < HEADER_SIZE or pos + h.length > end:
            raise InvalidBatch(f"batch length {h.length} does not fit the {end - pos} bytes left")
        if verify_crc:  # first, as Kafka's DefaultRecordBatch.ensureValid: a corrupt batch's
            # other fields mean nothing
            actual = crc32c.crc32c(memoryview(records)[pos + CRC_START : pos + h.length])
            if actual != h.crc:
                raise InvalidBatch(f"CRC mismatch: header says {h.crc:#010x}, data {actual:#010x}")
        if h.record_count < 0 or h.last_offset_delta < 0:
            raise InvalidRecords("negative record count or offset delta")
        headers.append(h)
        pos += h.length
    return headers


_OFFSET_AND_LENGTH = struct.Struct(">qi")
_EPOCH = struct.Struct(">i")


def assign_offsets(
    records: bytes, headers: list[BatchHeader], base_offset: int, leader_epoch: int
) -> bytes:
    """Return ``records`` with BaseOffset and PartitionLeaderEpoch patched, batch by batch.

    Both fields lie outside the CRC, so the producer's CRC stays valid.
    """
    out = bytearray(records)
    pos, offset = 0, base_offset
    for h in headers:
        struct.pack_into(">q", out, pos, offset)
        _EPOCH.pack_into(out, pos + 12, leader_epoch)
        h.base_offset = offset
        h.leader_epoch = leader_epoch
        offset += h.last_offset_delta + 1
        pos += h.length
    return bytes(out)


def set_log_append_time(batch: bytearray, pos: int, now_ms: int) -> None:
    """Stamp LogAppendTime into one batch (topic config message.timestamp.type=LogAppendTime).

    This changes bytes inside the CRC, so the CRC is recomputed, as Kafka's LogValidator does.
    """
    h = read_header(batch, pos)
    struct.pack_into(">h", batch, pos + 21, h.attributes | TIMESTAMP_TYPE_BIT)
    struct.pack_into(">q", batch, pos + 35, now_ms)
    crc = crc32c.crc32c(memoryview(batch)[pos + CRC_START : pos + h.length])
    struct.pack_into(">I", batch, pos + 17, crc)


# --- looking inside a batch -------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1), pos  # zigzag
        shift += 7
        if shift > 63:
            raise InvalidBatch("varint too long")


def _bytes(buf: bytes, pos: int) -> tuple[bytes | None, int]:
    n, pos = _varint(buf, pos)
    if n < 0:
        return None, pos
    return bytes(buf[pos : pos + n]), pos + n


def decompress(codec: int, data: bytes) -> bytes:
    if codec == 0:
        return data
    if codec == 1:
        return bytes(cramjam.gzip.decompress(data))
    if codec == 2:
        # librdkafka writes raw snappy; Java clients use xerial framing (magic + 8-byte header).
        if data[:8] == b"\x82SNAPPY\x00":
            out, pos = bytearray(), 16
            while pos < len(data):
                (n,) = struct.unpack_from(">i", data, pos)
                out += cramjam.snappy.decompress_raw(data[pos + 4 : pos + 4 + n])
                pos += 4 + n
            return bytes(out)
        return bytes(cramjam.snappy.decompress_raw(data))
    if codec == 3:
        return bytes(cramjam.lz4.decompress(data))
    if codec == 4:
        return bytes(cramjam.zstd.decompress(data))
    raise InvalidBatch(f"unknown compression codec {codec}")


def iter_records(batch: bytes, pos: int = 0) -> Iterator[Record]:
    """Decode the records of the batch at ``pos`` (decompressing as needed)."""
    h = read_header(batch, pos)
    body = decompress(h.attributes & COMPRESSION_MASK, batch[pos + HEADER_SIZE : pos + h.length])
    p = 0
    log_append = h.attributes & TIMESTAMP_TYPE_BIT
    for _ in range(h.record_count):
        length, p = _varint(body, p)
        end = p + length
        p += 1  # record attributes (unused)
        ts_delta, p = _varint(body, p)
        off_delta, p = _varint(body, p)
        key, p = _bytes(body, p)
        value, p = _bytes(body, p)
        n_headers, p = _varint(body, p)
        headers = []
        for _ in range(n_headers):
            hk, p = _bytes(body, p)
            hv, p = _bytes(body, p)
            headers.append(((hk or b"").decode("utf-8", "replace"), hv))
        ts = h.max_timestamp if log_append else h.base_timestamp + ts_delta
        yield Record(h.base_offset + off_delta, ts, key, value, headers)
        p = end


def iter_batches(data: bytes) -> Iterator[tuple[int, BatchHeader]]:
    """Walk whole batches in a stored/fetched byte range, yielding (position, header)."""
    pos = 0
    while len(data) - pos >= HEADER_SIZE:
        h = read_header(data, pos)
        if h.length < HEADER_SIZE or pos + h.length > len(data):
            return
        yield pos, h
        pos += h.length


# --- transaction markers (control batches) ------------------------------------------------------

CONTROL_ABORT, CONTROL_COMMIT = 0, 1  # Kafka's ControlRecordType ids


def build_control_batch(
    producer_id: int, producer_epoch: int, commit: bool, coordinator_epoch: int, now_ms: int
) -> bytes:
    """One transaction marker as Kafka's ``MemoryRecords.withEndTransactionMarker`` writes it:
    a transactional control batch (no sequence) holding one record whose key is (version 0,
    type) and whose value is (version 0, coordinator epoch). BaseOffset and
    PartitionLeaderEpoch are left for the log to set."""
    key = struct.pack(">hh", 0, CONTROL_COMMIT if commit else CONTROL_ABORT)
    value = struct.pack(">hi", 0, coordinator_epoch)
    # attributes, timestamp delta 0, offset delta 0, key, value, no headers
    rec = b"\x00\x00\x00" + bytes([len(key) << 1]) + key
    rec += bytes([len(value) << 1]) + value + b"\x00"
    body = bytes([len(rec) << 1]) + rec
    attributes = TRANSACTIONAL_BIT | CONTROL_BIT
    covered = (
        struct.pack(">hiqqqhii", attributes, 0, now_ms, now_ms, producer_id, producer_epoch, -1, 1)
        + body
    )
    crc = crc32c.crc32c(covered)
    return struct.pack(">qiibI", 0, 9 + len(covered), -1, 2, crc) + covered


def control_type(batch: bytes | memoryview, pos: int = 0) -> int | None:
    """CONTROL_COMMIT or CONTROL_ABORT for the control batch at ``pos`` (None if unreadable).
    Control batches are never compressed; the type is the second int16 of the first key."""
    h = read_header(batch, pos)
    try:
        p = pos + HEADER_SIZE
        _, p = _varint(batch, p)  # record length
        p += 1  # attributes
        _, p = _varint(batch, p)  # timestamp delta
        _, p = _varint(batch, p)  # offset delta
        n, p = _varint(batch, p)
        if n < 4 or p + 4 > pos + h.length:
            return None
        return struct.unpack_from(">h", batch, p + 2)[0]
    except (IndexError, InvalidBatch):
        return None
