"""Produce with a broken record set, sent by hand over the wire (a client library never sends
one): the error code per partition, and that nothing was appended.

Kafka checks a partition's record set twice. ``ProduceRequest.validateRecords`` (in KafkaApis)
walks it: a batch size below the smallest legacy record or a magic byte outside 0..2 is
CORRUPT_MESSAGE; no whole batch (cut short), more than one, or a legacy magic (0, 1) is
INVALID_RECORD. The log then checks the CRC (CORRUPT_MESSAGE), and only then the fields it
covers (a negative record count: INVALID_RECORD). Bytes after the one whole batch are trimmed,
not refused.
"""

from __future__ import annotations

import datetime
import importlib

import pytest
from kio.static.primitive import i32Timedelta
from test_transactions import Wire

from streamlab.kafka.testing import raw_batch

PRODUCE_VERSION = 9
MAGIC_AT = 16  # BaseOffset(8) BatchLength(4) PartitionLeaderEpoch(4)


def produce(wire: Wire, topic: str, records: bytes):
    """(error code name, base offset) of one partition's answer."""
    mod = importlib.import_module(f"kio.schema.produce.v{PRODUCE_VERSION}.request")
    pd = mod.PartitionProduceData(index=0, records=records)
    resp = wire.call(
        0,
        PRODUCE_VERSION,
        acks=-1,
        timeout=i32Timedelta.parse(datetime.timedelta(seconds=10)),
        topic_data=(mod.TopicProduceData(name=topic, partition_data=(pd,)),),
    )
    (t,) = resp.responses
    (p,) = t.partition_responses
    return p.error_code.name, int(p.base_offset)


@pytest.fixture
def wire(kafka):
    w = Wire(kafka.bootstrap)
    yield w
    w.close()


GOOD = raw_batch([b"a", b"b"])

CASES = {
    "cut-short": (GOOD[:-2], "invalid_record"),
    "cut-in-header": (GOOD[:40], "invalid_record"),
    "only-the-size": (GOOD[:12], "invalid_record"),
    "empty": (b"", "invalid_record"),
    "bad-crc": (raw_batch([b"a", b"b"], corrupt_crc=True), "corrupt_message"),
    "magic-0": (raw_batch([b"a"], magic=0), "invalid_record"),
    "magic-1": (raw_batch([b"a"], magic=1), "invalid_record"),
    "magic-3": (raw_batch([b"a"], magic=3), "corrupt_message"),
    "magic-negative": (raw_batch([b"a"], magic=-1), "corrupt_message"),
    "size-below-any-record": (b"\0" * 16 + b"\x01" + bytes(60), "corrupt_message"),
    "two-batches": (GOOD + raw_batch([b"c"]), "invalid_record"),
    "negative-count": (raw_batch([b"a"], record_count=-1), "invalid_record"),
    # the CRC is checked before anything it covers
    "negative-count-bad-crc": (
        raw_batch([b"a"], record_count=-1, corrupt_crc=True),
        "corrupt_message",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_record_set_is_refused(kafka, wire, case):
    records, error = CASES[case]
    topic = kafka.create_topic()
    assert produce(wire, topic, records) == (error, -1)
    # nothing was appended, and the same connection still takes a good batch at offset 0
    assert produce(wire, topic, GOOD) == ("none", 0)
    assert [m.value() for m in kafka.read(topic, 2)] == [b"a", b"b"]


def test_bytes_after_the_batch_are_trimmed(kafka, wire):
    topic = kafka.create_topic()
    second = raw_batch([b"c"])
    assert produce(wire, topic, GOOD + second[:-3]) == ("none", 0)
    assert produce(wire, topic, second) == ("none", 2)
    assert [m.value() for m in kafka.read(topic, 3)] == [b"a", b"b", b"c"]
