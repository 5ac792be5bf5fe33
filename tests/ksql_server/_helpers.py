"""Helpers of the ksql server tests: REST calls, producing, reading topics, waiting."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

WAIT = 60.0  # generous upper bound for asynchronous results (not a speed assertion)


def post(url: str, path: str, body: Any, accept: str | None = "application/vnd.ksql.v1+json"):
    """(status, content type, text) of a POST."""
    headers = {"Content-Type": "application/json"}
    if accept is not None:
        headers["Accept"] = accept
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read().decode()


def ksql_ok(url: str, sql: str, properties: dict | None = None) -> list[dict]:
    status, _, text = post(url, "/ksql", {"ksql": sql, "streamsProperties": properties or {}})
    assert status == 200, text
    return json.loads(text)


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]]):
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    for key, value in records:
        producer.produce(topic, value, key)
    assert producer.flush(30) == 0


def read_topic(bootstrap: str, topic: str, count: int, wait: float = WAIT) -> list:
    """The first ``count`` records of a topic (all partitions), waiting up to ``wait``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out = []
    deadline = time.monotonic() + wait
    try:
        while len(out) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                out.append(message)
    finally:
        consumer.close()
    return out


def read_all(bootstrap: str, topic: str, read_committed: bool = False) -> list:
    """Every record on the topic now, partition by partition, each read to its end."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed" if read_committed else "read_uncommitted",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        out, reading = [], set(partitions)
        deadline = time.monotonic() + WAIT
        while reading:
            assert time.monotonic() < deadline, f"{topic}: no end of partitions {sorted(reading)}"
            for m in consumer.consume(1000, 0.2):
                if m.error() is None:
                    out.append(m)
                elif m.error().code() == KafkaError._PARTITION_EOF:
                    reading.discard(m.partition())
        return out
    finally:
        consumer.close()


def topic_size(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "sizer"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in partitions
        )
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str, partitions: int = 1) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
        return sum(max(o.offset, 0) for o in offsets)
    finally:
        consumer.close()


def wait_for(condition, wait: float = WAIT, message: str = "condition") -> None:
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.1)


def latest_values(bootstrap: str, topic: str, done, wait: float = WAIT) -> dict[bytes, dict]:
    """The last JSON value per key of a topic (tombstones skipped), read until ``done(latest)``
    holds or ``wait`` seconds pass."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "auto.offset.reset": "earliest",
                         "group.id": f"latest-{time.monotonic_ns()}"})  # fmt: skip
    consumer.subscribe([topic])
    latest: dict[bytes, dict] = {}
    deadline = time.monotonic() + wait
    try:
        while not done(latest) and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None and message.value():
                latest[message.key()] = json.loads(message.value())
    finally:
        consumer.close()
    return latest
