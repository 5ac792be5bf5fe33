"""Kafka's __consumer_offsets record format (coordinator/records.py).

The expected bytes were read from the __consumer_offsets log of a real Kafka 4.1.1 broker after
librdkafka consumers joined, committed, deleted offsets and a group, and a topic was deleted;
the small ones are also spelled out field by field.
"""

from __future__ import annotations

import struct

import pytest

from streamlab.kafka.coordinator import records
from streamlab.kafka.coordinator.records import (
    GroupKey,
    GroupValue,
    MemberValue,
    OffsetKey,
    OffsetValue,
    RecordError,
)
from streamlab.kafka.protocol import batches

H = bytes.fromhex

# --- keys -------------------------------------------------------------------------------------


def test_offset_commit_key_v1():
    # int16 version 1 | int16 len 7 "g-alpha" | int16 len 2 "t1" | int32 partition 1
    raw = H("0001 0007 672d616c706861 0002 7431 00000001")
    assert records.decode_key(raw) == OffsetKey("g-alpha", "t1", 1)
    assert records.encode_key(OffsetKey("g-alpha", "t1", 1)) == raw
    v0 = H("0000 0001 67 0001 74 00000000")
    assert records.decode_key(v0) == OffsetKey("g", "t", 0)


def test_group_metadata_key_v2_is_utf8():
    raw = H("0002 0008 c39c2d67726f7570")  # "Ü-group": 7 characters, 8 bytes
    assert records.decode_key(raw) == GroupKey("Ü-group")
    assert records.encode_key(GroupKey("Ü-group")) == raw


def test_other_record_types_are_skipped_and_garbage_refused():
    assert records.decode_key(H("0003 0001 67")) is None  # ConsumerGroupMetadataKey (KIP-848)
    with pytest.raises(RecordError):
        records.decode_key(H("0001 0010 67"))  # length beyond the end
    with pytest.raises(RecordError):
        records.decode_key(H("ffff"))
    with pytest.raises(RecordError):
        records.decode_record(None, b"x")


# --- OffsetCommitValue ------------------------------------------------------------------------

# v4 (flexible), what Kafka 4.1.1 writes: offset 2 | leader epoch -1 | compact string
# "meta-g-alpha\0" (librdkafka sends the C string's NUL) | commit timestamp | no tagged fields
V4 = H(
    "0004"
    "0000000000000002"
    "ffffffff"
    "0e" "6d6574612d672d616c70686100"
    "000001a216b87284"
    "00"
)  # fmt: skip


def test_offset_commit_value_v4_as_kafka_writes_it():
    value = OffsetValue(2, -1, "meta-g-alpha\0", 0x1A216B87284)
    assert records.decode_offset_value(V4) == value
    assert records.encode_offset_value(value) == V4
    empty = H("0004 0000000000000003 ffffffff 01 000001a216b87284 00")
    assert records.decode_offset_value(empty).metadata == ""


@pytest.mark.parametrize(
    ("version", "raw"),
    [
        (0, "0000 0000000000000007 0002 6d64 000000000000000a"),
        (1, "0001 0000000000000007 0002 6d64 000000000000000a 0000000000000014"),
        (2, "0002 0000000000000007 0002 6d64 000000000000000a"),
        (3, "0003 0000000000000007 00000005 0002 6d64 000000000000000a"),
        (4, "0004 0000000000000007 00000005 03 6d64 000000000000000a 00"),
    ],
)
def test_offset_commit_value_versions(version, raw):
    value = records.decode_offset_value(H(raw))
    epoch = 5 if version >= 3 else -1
    expire = 20 if version == 1 else -1
    assert value == OffsetValue(7, epoch, "md", 10, expire)
    assert records.encode_offset_value(value, version) == H(raw)


def test_unknown_tagged_fields_are_skipped():
    # one tagged field: tag 7, 2 bytes
    raw = H("0004 0000000000000007 ffffffff 01 000000000000000a 01 07 02 abcd")
    assert records.decode_offset_value(raw) == OffsetValue(7, -1, "", 10)


def test_truncated_and_unknown_values_are_refused():
    with pytest.raises(RecordError):
        records.decode_offset_value(V4[:-3])
    with pytest.raises(RecordError):
        records.decode_offset_value(H("0005") + V4[2:])
    with pytest.raises(RecordError):
        records.decode_group_value(H("0003 0001 ff"))  # string not UTF-8


# --- GroupMetadataValue -----------------------------------------------------------------------

EMPTY_GROUP = H(
    "0003"
    "0000"  # protocol type ""
    "00000000"  # generation 0
    "ffff" "ffff"  # protocol, leader: null
    "000001a216b8739a"  # current state timestamp
    "00000000"  # no members
)  # fmt: skip

MEMBER = "probe-16544d06-ed8b-4a86-ba3b-b4948d201578"
SUBSCRIPTION = H("0003 00000001 0002 7431 00000000 00000000 ffffffff 0000")
ASSIGNMENT = H("0000 00000001 0002 7431 00000002 00000000 00000001 00000000")
STABLE_GROUP = H(
    "0003"
    "0008" + b"consumer".hex() + "00000001"
    "0005" + b"range".hex() + "002a" + MEMBER.encode().hex() + "000001a216b8739f"
    "00000001"  # one member:
    "002a" + MEMBER.encode().hex() + "ffff"  # member id, no group instance id
    "0005" + b"probe".hex() + "000a" + b"/127.0.0.1".hex() + "000493e0" "00001770"
    "00000018" + SUBSCRIPTION.hex() + "0000001a" + ASSIGNMENT.hex()
)  # fmt: skip


def test_group_metadata_value_v3_as_kafka_writes_it():
    assert records.decode_group_value(EMPTY_GROUP) == GroupValue("", 0, None, None, 0x1A216B8739A)
    stable = records.decode_group_value(STABLE_GROUP)
    host = "/127.0.0.1"
    member = MemberValue(MEMBER, None, "probe", host, 300_000, 6000, SUBSCRIPTION, ASSIGNMENT)
    assert stable == GroupValue("consumer", 1, "range", MEMBER, 0x1A216B8739F, (member,))
    assert records.encode_group_value(stable) == STABLE_GROUP
    assert records.encode_group_value(records.decode_group_value(EMPTY_GROUP)) == EMPTY_GROUP


def test_group_metadata_value_v4_is_flexible():
    value = GroupValue("c", 2, None, "m", 9, (MemberValue("m", "i", "c", "h", 1, 2, b"s", b""),))
    raw = H(
        "0004"
        "02" "63" "00000002" "00" "02" "6d" "0000000000000009"  # compact strings, null = 0
        "02"  # one member (n + 1)
        "02" "6d" "02" "69" "02" "63" "02" "68" "00000001" "00000002" "02" "73" "01" "00"
        "00"  # top-level tagged fields
    )  # fmt: skip
    assert records.encode_group_value(value, 4) == raw
    assert records.decode_group_value(raw) == value


@pytest.mark.parametrize("version", [0, 1, 2])
def test_old_group_metadata_values_round_trip(version):
    member = MemberValue("m", None, "c", "h", -1, 6000, b"s", b"a")
    value = GroupValue("consumer", 3, "range", "m", -1, (member,))
    assert records.decode_group_value(records.encode_group_value(value, version)) == value


def test_tombstones_and_records():
    assert records.decode_record(records.encode_key(GroupKey("g")), None) == (GroupKey("g"), None)
    key = records.encode_key(OffsetKey("g-alpha", "t1", 0))
    assert records.decode_record(key, V4) == (
        OffsetKey("g-alpha", "t1", 0),
        OffsetValue(2, -1, "meta-g-alpha\0", 0x1A216B87284),
    )


# --- which partition holds a group ------------------------------------------------------------


def test_java_string_hashcode():
    assert records.java_string_hashcode("") == 0
    assert records.java_string_hashcode("hello") == 99162322
    assert records.java_string_hashcode("polygenelubricants") == -(2**31)
    assert records.java_string_hashcode("😀") == 0xD83D * 31 + 0xDE00  # UTF-16 surrogates
    assert records.java_string_hashcode("Ü") == 0xDC


def test_partition_for_matches_kafka():
    # where Kafka 4.1.1 with offsets.topic.num.partitions=5 put these groups' records
    observed = {"Ü-group": 4, "g-alpha": 1, "lesson-1": 1, "simple-g": 4, "polygenelubricants": 0}
    assert {g: records.partition_for(g, 5) for g in observed} == observed
    assert records.partition_for("polygenelubricants", 7) == 0  # Utils.abs(MIN_VALUE) is 0
    assert records.partition_for("anything", 1) == 0


# --- batches ----------------------------------------------------------------------------------


def test_one_record_batch_field_by_field():
    batch = records.build_batch([(b"k", None)], 1)
    # length 7 | attributes | timestamp and offset delta 0 | key "k" | null value | no headers
    record = H("0e 00 00 00 02 6b 01 00")
    covered = H(
        "0000"  # attributes: no compression, CreateTime
        "00000000"  # last offset delta
        "0000000000000001" "0000000000000001"  # base and max timestamp
        "ffffffffffffffff" "ffff" "00000000"  # no producer id/epoch, base sequence 0
        "00000001"  # one record
    ) + record  # fmt: skip
    assert batch[:17] == H("0000000000000000 00000039 ffffffff 02")
    assert batch[21:] == covered
    [h] = batches.split(batch)  # verifies the CRC-32C
    assert (h.record_count, h.producer_id, h.base_sequence, h.max_timestamp) == (1, -1, 0, 1)


# Two batches from Kafka 4.1.1's log: a commit of two partitions and a DeleteGroups. Given the
# same records and timestamp, build_batch writes the same bytes once the log has set
# BaseOffset and PartitionLeaderEpoch.
KAFKA_COMMIT_BATCH = H(
    "0000000000000002000000a20000000002127065c3000000000001000001a216b87287000001a216b87287ffff"
    "ffffffffffffffff00000000000000027c0000002600010007672d616c70686100027431000000004a00040000"
    "000000000002ffffffff0e6d6574612d672d616c70686100000001a216b872840000620000022600010007672d"
    "616c70686100027431000000013000040000000000000003ffffffff01000001a216b872840000"
)
KAFKA_DELETE_GROUP_BATCH = H(
    "000000000000000b0000007a0000000002ec349016000000000002000001a216b87503000001a216b87503ffff"
    "ffffffffffffffff00000000000000033400000028000100086c6573736f6e2d31000274310000000001003400"
    "000228000100086c6573736f6e2d31000274310000000101002400000418000200086c6573736f6e2d310100"
)


@pytest.mark.parametrize("kafka", [KAFKA_COMMIT_BATCH, KAFKA_DELETE_GROUP_BATCH])
def test_batches_match_kafkas_bytes(kafka):
    [h] = batches.split(kafka)
    recs = [(r.key, r.value) for r in batches.iter_records(kafka)]
    built = bytearray(records.build_batch(recs, h.base_timestamp))
    struct.pack_into(">q", built, 0, h.base_offset)
    struct.pack_into(">i", built, 12, h.leader_epoch)
    assert bytes(built) == kafka


def test_empty_batch_is_refused():
    with pytest.raises(ValueError):
        records.build_batch([], 0)
