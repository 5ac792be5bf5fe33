"""Kafka's ``__consumer_offsets`` records: keys, values, the batches that carry them, and which
partition holds a group. Pure functions, no I/O.

Layouts follow the message JSONs of Kafka's ``group-coordinator`` module (``OffsetCommitKey``,
``OffsetCommitValue``, ``GroupMetadataKey``, ``GroupMetadataValue``). Every key and value starts
with an int16 version; for keys the version names the record type (0 and 1: an offset commit,
2: group metadata; higher ones are KIP-848/share/streams group records, which a classic
coordinator skips when loading, as Kafka's loader skips unknown types). A null value is a
tombstone. We write what Kafka 4.1.1 writes (checked byte for byte against its log): key
versions 1 and 2, OffsetCommitValue v4 (the first flexible one) and GroupMetadataValue v3;
every version 0-4 of both values decodes.

Non-flexible versions use int16-length strings (-1 = null), int32-length bytes and int32 array
counts; flexible ones use unsigned-varint "length + 1" encodings and end each struct with a
tagged-field section (unknown tags are skipped).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c

OFFSETS_TOPIC = "__consumer_offsets"

OFFSET_COMMIT_KEY_VERSION = 1  # 0 is the same layout (written by Kafka < 0.9.x)
GROUP_METADATA_KEY_VERSION = 2
OFFSET_COMMIT_VALUE_VERSION = 4  # Kafka 4.x: 4, or 1 when an expire timestamp is set
GROUP_METADATA_VALUE_VERSION = 3

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


class RecordError(ValueError):
    """Bytes that are not a record this module knows how to read."""


# --- where a group lives --------------------------------------------------------------------------


def java_string_hashcode(s: str) -> int:
    """Java's ``String.hashCode``: over UTF-16 code units, wrapping at 32 bits (signed)."""
    h = 0
    units = s.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(group_id: str, partitions: int) -> int:
    """Kafka's ``Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions``; ``Utils.abs``
    maps Integer.MIN_VALUE to 0 (Math.abs would leave it negative)."""
    h = java_string_hashcode(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


# --- keys and values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OffsetKey:
    group: str
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class GroupKey:
    group: str


@dataclass(frozen=True, slots=True)
class OffsetValue:
    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_timestamp: int = 0
    expire_timestamp: int = -1  # only in version 1


@dataclass(frozen=True, slots=True)
class MemberValue:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout: int
    session_timeout: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupValue:
    protocol_type: str
    generation: int
    protocol: str | None = None
    leader: str | None = None
    current_state_timestamp: int = -1
    members: tuple[MemberValue, ...] = ()


class _Writer:
    def __init__(self, flexible: bool) -> None:
        self.buf = bytearray()
        self.flexible = flexible

    def i16(self, v: int) -> None:
        self.buf += _I16.pack(v)

    def i32(self, v: int) -> None:
        self.buf += _I32.pack(v)

    def i64(self, v: int) -> None:
        self.buf += _I64.pack(v)

    def uvarint(self, v: int) -> None:
        while v >= 0x80:
            self.buf.append(v & 0x7F | 0x80)
            v >>= 7
        self.buf.append(v)

    def string(self, v: str | None) -> None:
        if v is None:
            return self.uvarint(0) if self.flexible else self.i16(-1)
        data = v.encode()
        self.uvarint(len(data) + 1) if self.flexible else self.i16(len(data))
        self.buf += data

    def bytes_(self, v: bytes) -> None:
        self.uvarint(len(v) + 1) if self.flexible else self.i32(len(v))
        self.buf += v

    def count(self, n: int) -> None:
        self.uvarint(n + 1) if self.flexible else self.i32(n)

    def tags(self) -> None:
        if self.flexible:
            self.uvarint(0)  # no tagged fields


class _Reader:
    """Reads one key or value. Loading replays every record on start, so the common paths
    are kept short (this is where the load time goes)."""

    def __init__(self, data: bytes, pos: int, flexible: bool) -> None:
        self.data = data
        self.pos = pos
        self.flexible = flexible

    def _take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise RecordError(f"record truncated at byte {self.pos} (wanted {n} more)")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def _fixed(self, s: struct.Struct) -> int:
        try:
            (v,) = s.unpack_from(self.data, self.pos)
        except struct.error:
            raise RecordError(f"record truncated at byte {self.pos}") from None
        self.pos += s.size
        return v

    def i16(self) -> int:
        return self._fixed(_I16)

    def i32(self) -> int:
        return self._fixed(_I32)

    def i64(self) -> int:
        return self._fixed(_I64)

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            b = self._take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 28:
                raise RecordError("unsigned varint too long")

    def _length(self, int16: bool) -> int:
        """Length of the next string (int16), bytes or array (int32); -1 for null."""
        if self.flexible:
            return self.uvarint() - 1
        return self.i16() if int16 else self.i32()

    def string(self, nullable: bool = False) -> str | None:
        n = self.uvarint() - 1 if self.flexible else self._fixed(_I16)
        if n < 0:
            if nullable:
                return None
            raise RecordError("null in a non-nullable string field")
        try:
            return self._take(n).decode()
        except UnicodeDecodeError as e:
            raise RecordError(f"string is not UTF-8: {e}") from None

    def bytes_(self) -> bytes:
        n = self._length(int16=False)
        if n < 0:
            raise RecordError("null in a bytes field")
        return bytes(self._take(n))

    def count(self) -> int:
        n = self._length(int16=False)
        if n < 0:
            raise RecordError("null array")
        return n

    def tags(self) -> None:
        if self.flexible:
            for _ in range(self.uvarint()):
                self.uvarint()  # tag
                self._take(self.uvarint())


def encode_key(key: OffsetKey | GroupKey) -> bytes:
    w = _Writer(flexible=False)
    if isinstance(key, OffsetKey):
        w.i16(OFFSET_COMMIT_KEY_VERSION)
        w.string(key.group)
        w.string(key.topic)
        w.i32(key.partition)
    else:
        w.i16(GROUP_METADATA_KEY_VERSION)
        w.string(key.group)
    return bytes(w.buf)


def decode_key(data: bytes) -> OffsetKey | GroupKey | None:
    """The key, or None for a record type a classic group coordinator does not use."""
    r = _Reader(data, 0, flexible=False)
    version = r.i16()
    if version in (0, 1):
        return OffsetKey(r.string(), r.string(), r.i32())
    if version == 2:
        return GroupKey(r.string())
    if version < 0:
        raise RecordError(f"negative key version {version}")
    return None


def encode_offset_value(v: OffsetValue, version: int = OFFSET_COMMIT_VALUE_VERSION) -> bytes:
    if not 0 <= version <= 4:
        raise ValueError(f"OffsetCommitValue has no version {version}")
    w = _Writer(flexible=version >= 4)
    w.i16(version)
    w.i64(v.offset)
    if version >= 3:
        w.i32(v.leader_epoch)
    w.string(v.metadata)
    w.i64(v.commit_timestamp)
    if version == 1:
        w.i64(v.expire_timestamp)
    w.tags()
    return bytes(w.buf)


def decode_offset_value(data: bytes) -> OffsetValue:
    version = _I16.unpack_from(data, 0)[0] if len(data) >= 2 else -1
    if not 0 <= version <= 4:
        raise RecordError(f"unknown OffsetCommitValue version {version}")
    r = _Reader(data, 2, flexible=version >= 4)
    offset = r.i64()
    leader_epoch = r.i32() if version >= 3 else -1
    metadata = r.string()
    commit_timestamp = r.i64()
    expire_timestamp = r.i64() if version == 1 else -1
    r.tags()
    return OffsetValue(offset, leader_epoch, metadata, commit_timestamp, expire_timestamp)


def encode_group_value(v: GroupValue, version: int = GROUP_METADATA_VALUE_VERSION) -> bytes:
    if not 0 <= version <= 4:
        raise ValueError(f"GroupMetadataValue has no version {version}")
    w = _Writer(flexible=version >= 4)
    w.i16(version)
    w.string(v.protocol_type)
    w.i32(v.generation)
    w.string(v.protocol)
    w.string(v.leader)
    if version >= 2:
        w.i64(v.current_state_timestamp)
    w.count(len(v.members))
    for m in v.members:
        w.string(m.member_id)
        if version >= 3:
            w.string(m.group_instance_id)
        w.string(m.client_id)
        w.string(m.client_host)
        if version >= 1:
            w.i32(m.rebalance_timeout)
        w.i32(m.session_timeout)
        w.bytes_(m.subscription)
        w.bytes_(m.assignment)
        w.tags()
    w.tags()
    return bytes(w.buf)


def decode_group_value(data: bytes) -> GroupValue:
    version = _I16.unpack_from(data, 0)[0] if len(data) >= 2 else -1
    if not 0 <= version <= 4:
        raise RecordError(f"unknown GroupMetadataValue version {version}")
    r = _Reader(data, 2, flexible=version >= 4)
    protocol_type = r.string()
    generation = r.i32()
    protocol = r.string(nullable=True)
    leader = r.string(nullable=True)
    timestamp = r.i64() if version >= 2 else -1
    members = []
    for _ in range(r.count()):
        member_id = r.string()
        instance_id = r.string(nullable=True) if version >= 3 else None
        client_id, client_host = r.string(), r.string()
        rebalance_timeout = r.i32() if version >= 1 else -1
        session_timeout = r.i32()
        members.append(
            MemberValue(
                member_id,
                instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                r.bytes_(),
                r.bytes_(),
            )
        )
        r.tags()
    r.tags()
    return GroupValue(protocol_type, generation, protocol, leader, timestamp, tuple(members))


def decode_record(
    key: bytes | None, value: bytes | None
) -> tuple[OffsetKey | GroupKey | None, OffsetValue | GroupValue | None]:
    """Key and value of one ``__consumer_offsets`` record; the value is None for a tombstone,
    the key None for a record type we skip. Raises ``RecordError`` on bytes it cannot read."""
    if key is None:
        raise RecordError("record without a key")
    k = decode_key(key)
    if k is None or value is None:
        return k, None
    if isinstance(k, OffsetKey):
        return k, decode_offset_value(value)
    return k, decode_group_value(value)


# --- record batches ---------------------------------------------------------------------------


def _zigzag(v: int, out: bytearray) -> None:
    v = (v << 1) ^ (v >> 63)
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)


def build_batch(
    records: list[tuple[bytes, bytes | None]],
    timestamp_ms: int,
    producer_id: int = -1,
    producer_epoch: int = -1,
) -> bytes:
    """One uncompressed magic-v2 batch of ``(key, value)`` records, all stamped
    ``timestamp_ms``, as Kafka's coordinator writes them: no producer (id and epoch -1, base
    sequence 0), CreateTime, no headers. BaseOffset and PartitionLeaderEpoch are left 0 / -1
    for the log to set on append (both lie outside the CRC).

    With a ``producer_id`` the batch is transactional (TxnOffsetCommit's offsets: they count
    only once the transaction's COMMIT marker follows in the same partition), without a
    sequence, as Kafka's coordinator writes it."""
    if not records:
        raise ValueError("a batch needs at least one record")
    body = bytearray()
    for i, (key, value) in enumerate(records):
        rec = bytearray(b"\x00")  # attributes
        _zigzag(0, rec)  # timestamp delta
        _zigzag(i, rec)  # offset delta
        _zigzag(len(key), rec)
        rec += key
        if value is None:
            _zigzag(-1, rec)
        else:
            _zigzag(len(value), rec)
            rec += value
        _zigzag(0, rec)  # no headers
        _zigzag(len(rec), body)
        body += rec
    n = len(records)
    # Attributes .. RecordCount (the CRC-covered part of the header), then the records.
    attributes, sequence = (0x10, -1) if producer_id >= 0 else (0, 0)
    covered = (
        struct.pack(
            ">hiqqqhii",
            attributes,
            n - 1,
            timestamp_ms,
            timestamp_ms,
            producer_id,
            producer_epoch,
            sequence,
            n,
        )
        + body
    )
    crc = crc32c.crc32c(covered)
    # BaseOffset, BatchLength (bytes after this field), PartitionLeaderEpoch, Magic, CRC
    return struct.pack(">qiibI", 0, 9 + len(covered), -1, 2, crc) + covered
