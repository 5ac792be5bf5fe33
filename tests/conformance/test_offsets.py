"""Offsets: watermarks, ListOffsets earliest/latest/by timestamp, delete_records."""

from __future__ import annotations

import pytest
from confluent_kafka import OFFSET_END, KafkaError
from confluent_kafka import TopicPartition as TP
from confluent_kafka.admin import OffsetSpec
from conformance_helpers import T0, error_of, result


def _five_records(kafka, codec: str) -> str:
    """A one-partition topic with offsets 0..4 at T0, T0+1s, ... in one batch."""
    topic = kafka.create_topic()
    records = [{"value": b"%d" % i, "timestamp": T0 + 1000 * i} for i in range(5)]
    kafka.produce(topic, records, {"compression.type": codec, "linger.ms": 50})
    return topic


def test_watermarks(kafka):
    topic = kafka.create_topic()
    c = kafka.consumer()
    assert c.get_watermark_offsets(TP(topic, 0), timeout=10) == (0, 0)
    kafka.produce(topic, [b"a", b"b", b"c"])
    assert c.get_watermark_offsets(TP(topic, 0), timeout=10) == (0, 3)


@pytest.mark.parametrize("codec", ["none", "zstd"])  # zstd: lookup inside a compressed batch
def test_offsets_for_times(kafka, codec):
    topic = _five_records(kafka, codec)
    c = kafka.consumer()
    cases = {
        T0 - 1: 0,  # before everything: the first record
        T0: 0,
        T0 + 2000: 2,  # exact match
        T0 + 2500: 3,  # between records: the next one
        T0 + 4000: 4,
        T0 + 4001: OFFSET_END,  # after everything: -1
    }
    for ts, want in cases.items():
        [tp] = c.offsets_for_times([TP(topic, 0, ts)], timeout=10)
        assert tp.error is None
        assert tp.offset == want, f"timestamp {ts - T0:+d} ms from T0"


@pytest.mark.parametrize("codec", ["none", "lz4"])
def test_admin_list_offsets(kafka, codec):
    topic = _five_records(kafka, codec)
    tp = TP(topic, 0)

    def lookup(spec):
        return result(kafka.admin.list_offsets({tp: spec})[tp])

    assert lookup(OffsetSpec.earliest()).offset == 0
    assert lookup(OffsetSpec.latest()).offset == 5
    at = lookup(OffsetSpec.for_timestamp(T0 + 1500))
    assert (at.offset, at.timestamp) == (2, T0 + 2000)
    top = lookup(OffsetSpec.max_timestamp())
    assert (top.offset, top.timestamp) == (4, T0 + 4000)


def test_delete_records_moves_log_start(kafka):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"%d" % i for i in range(5)])
    [fut] = kafka.admin.delete_records([TP(topic, 0, 2)]).values()
    assert result(fut).low_watermark == 2
    c = kafka.consumer()
    assert c.get_watermark_offsets(TP(topic, 0), timeout=10) == (2, 5)
    [tp] = c.offsets_for_times([TP(topic, 0, 0)], timeout=10)
    assert tp.offset == 2
    assert [m.offset() for m in kafka.read(topic, 3)] == [2, 3, 4]
    tp = TP(topic, 0)
    assert result(kafka.admin.list_offsets({tp: OffsetSpec.earliest()})[tp]).offset == 2


def test_delete_records_to_end(kafka):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"a", b"b"])
    # OFFSET_END (-1) means "up to the high watermark"
    [fut] = kafka.admin.delete_records([TP(topic, 0, OFFSET_END)]).values()
    assert result(fut).low_watermark == 2
    c = kafka.consumer()
    assert c.get_watermark_offsets(TP(topic, 0), timeout=10) == (2, 2)
    kafka.produce(topic, [b"c"])
    assert [(m.offset(), m.value()) for m in kafka.read(topic, 1)] == [(2, b"c")]


def test_delete_records_beyond_the_end(kafka):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"a"])
    [fut] = kafka.admin.delete_records([TP(topic, 0, 9)]).values()
    assert error_of(fut).code() == KafkaError.OFFSET_OUT_OF_RANGE
    assert kafka.consumer().get_watermark_offsets(TP(topic, 0), timeout=10) == (0, 1)
