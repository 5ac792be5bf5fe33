"""Fetch long-poll: parked fetches wake up on new data, and max-wait bounds every wait.

Timing bounds here are deliberately loose (seconds against a 10 s max-wait); they tell
"woken by the produce" from "answered when max-wait expired", nothing finer.
"""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import KafkaError
from confluent_kafka import TopicPartition as TP
from conformance_helpers import poll_n, wait_for


def test_parked_fetch_wakes_up_on_produce(kafka):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"first"])
    c = kafka.consumer({"fetch.wait.max.ms": 10_000})
    c.assign([TP(topic, 0, 0)])
    assert poll_n(c, 1)[0].value() == b"first"
    time.sleep(1)  # the consumer's next fetch is now waiting on the broker: nothing to return
    produced = time.monotonic()
    kafka.produce(topic, [b"second"])
    assert poll_n(c, 1, timeout=30)[0].value() == b"second"
    waited = time.monotonic() - produced
    assert waited < 6, f"record arrived {waited:.1f}s after produce: fetch not woken up"


def test_min_bytes_never_reached_answers_at_max_wait(kafka):
    topic = kafka.create_topic()
    c = kafka.consumer({"fetch.min.bytes": 1_000_000, "fetch.wait.max.ms": 1000})
    c.assign([TP(topic, 0, 0)])
    kafka.produce(topic, [b"tiny"])  # far below min bytes: only max-wait releases it
    assert poll_n(c, 1, timeout=20)[0].value() == b"tiny"


def _fetch_requests(stats: list[str]) -> int:
    """Fetch requests sent so far, from librdkafka's statistics JSON."""
    brokers = json.loads(stats[-1])["brokers"].values()
    return sum(b["req"].get("Fetch", 0) for b in brokers if b["nodeid"] >= 0)


def test_empty_fetch_waits_for_max_wait(kafka):
    topic = kafka.create_topic()
    stats: list[str] = []
    c = kafka.consumer(
        {"fetch.wait.max.ms": 200, "statistics.interval.ms": 250, "stats_cb": stats.append}
    )
    c.assign([TP(topic, 0, 0)])
    end = time.monotonic() + 1
    while time.monotonic() < end or not stats:
        assert c.poll(0.1) is None
    start_count, started = _fetch_requests(stats), time.monotonic()
    while time.monotonic() < started + 3:
        assert c.poll(0.1) is None
    fetches = _fetch_requests(stats) - start_count
    # ~15 fetches in 3 s at 200 ms each; an instant empty answer would give thousands,
    # a broker ignoring max-wait and holding the fetch would give none.
    assert 3 <= fetches <= 100, f"{fetches} fetch requests in 3 s with fetch.wait.max.ms=200"


@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_fetch_from_the_middle_of_a_batch(kafka, codec):
    """The broker returns whole batches; the client skips the records before its offset."""
    topic = kafka.create_topic()
    conf = {"compression.type": codec, "linger.ms": 50}
    kafka.produce(topic, [b"%d" % i for i in range(10)], conf)
    c = kafka.consumer()
    c.assign([TP(topic, 0, 5)])
    assert [m.offset() for m in poll_n(c, 5)] == [5, 6, 7, 8, 9]


def test_small_fetch_limits(kafka):
    topic = kafka.create_topic()
    values = [b"%04d" % i + b"." * 400 for i in range(100)]
    values.insert(50, b"B" * 30_000)  # bigger than any limit below: must still arrive (KIP-74)
    kafka.produce(topic, values, {"linger.ms": 5, "batch.size": 2000})
    limits = {"max.partition.fetch.bytes": 1024, "fetch.max.bytes": 2048, "message.max.bytes": 2048}
    c = kafka.consumer(limits)
    c.assign([TP(topic, 0, 0)])
    assert [m.value() for m in poll_n(c, len(values), timeout=30)] == values


@pytest.mark.parametrize("reset", ["earliest", "latest", "error"])
def test_out_of_range_offset(kafka, reset):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"%d" % i for i in range(5)])
    c = kafka.consumer({"auto.offset.reset": reset, "enable.partition.eof": True})
    c.assign([TP(topic, 0, 50)])  # beyond the end: OFFSET_OUT_OF_RANGE from the broker
    m = wait_for(lambda: c.poll(0.2), 10, what="a record or an event after the offset reset")
    if reset == "earliest":
        assert (m.error(), m.offset()) == (None, 0)
    elif reset == "latest":
        # reset to the end (5): the consumer reports reaching the end of the partition there
        assert (m.error().code(), m.offset()) == (KafkaError._PARTITION_EOF, 5)
        kafka.produce(topic, [b"new"])
        assert [(m.offset(), m.value()) for m in poll_n(c, 1)] == [(5, b"new")]
    else:
        assert m.error().code() == KafkaError._AUTO_OFFSET_RESET
