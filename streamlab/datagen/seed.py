"""Create the lab's topics and write their deterministic starting data, idempotently.

``seed_topics`` is what ``streamlab reset`` (and a lesson's setup cell) calls. Running it twice
writes nothing the second time. How it knows, without keeping any state of its own:

* It reads the topic first (earliest to the end offsets seen at the start) and compares.
* Table data (USERS, keyed by userid): a row is written only if that key's latest value on the
  topic differs from the seed row. Rows someone changed since are put back; nothing is doubled.
* Stream data (trades, rides, logins): each seed record is written only if the topic does not
  already hold it; the comparison counts (key, value) pairs, so a run that died half way is
  completed rather than repeated, and records from other producers are left alone.

With ``recreate=True`` it deletes the topics and creates them again first, which also drops
everything else in them and resets their offsets: the clean slate a full ``reset`` wants, but
only after the queries and consumers that read those topics are stopped (a deleted topic under a
running ksqlDB query breaks it). The default never deletes anything, so it is safe while a lab
runs.

Seeds are meant to be small (hundreds of records): the check reads the whole topic.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.datagen.datasets import DatagenError, encode, generate, get, users_table
from streamlab.datagen.producer import (
    CONNECT_TIMEOUT,
    _Deliveries,
    _produce,
    connect,
    unreachable,
)
from streamlab.datagen.producer import producer_config as _producer_config

# The reference app's topics, created up front as its setup script does (ksqlDB then writes
# user_trades, the Lambda function writes trade-settlements).
APP_TOPICS = ("stocktrade", "users", "user_trades", "trade-settlements")
# The Confluent CLI's default, which the reference app's topics got; it also lets the Lambda
# event source mapping scale past one consumer in the scaling lesson.
PARTITIONS = 6
SEED_GROUP = "streamlab-datagen-seed"  # never subscribes or commits; librdkafka requires one


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)  # topics created (or re-created)
    deleted: list[str] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)  # topic -> records written now


def seed_topics(
    config: dict[str, Any] | None = None,
    users: int = 9,
    *,
    stock_trades: int = 0,
    rides: int = 0,
    logins: int = 0,
    seed: int = 0,
    topics: tuple[str, ...] = APP_TOPICS,
    partitions: int = PARTITIONS,
    replication_factor: int = -1,
    recreate: bool = False,
    timeout: float = 30.0,
) -> SeedResult:
    """Create ``topics`` (and the seeded datasets' topics) and write the seed data once.

    Args:
        config: confluent-kafka settings; default: :func:`streamlab.config.kafka_config`.
        users: rows User_1..User_<users> of the USERS table (0..9) on topic ``users``.
        stock_trades, rides, logins: the first N records of that dataset's sequence, on its
            default topic (see :mod:`streamlab.datagen.datasets`).
        seed: which deterministic sequence.
        partitions, replication_factor: for topics this call creates (-1: the broker default).
        recreate: delete and create the topics first (see the module docstring).
    """
    if config is None:
        from streamlab.config import kafka_config

        config = kafka_config()
    plan = _plan(users, stock_trades, rides, logins, seed)
    wanted = list(dict.fromkeys([*topics, *(topic for topic, _, _ in plan)]))
    if partitions < 1:
        raise DatagenError(f"partitions must be at least 1, got {partitions}")
    result = SeedResult()
    admin = AdminClient(dict(config))
    existing = _topics(admin, config, timeout=CONNECT_TIMEOUT)
    if recreate:
        result.deleted = [t for t in wanted if t in existing]
        _delete(admin, result.deleted, timeout)
        existing -= set(result.deleted)
    result.created = [t for t in wanted if t not in existing]
    _create(admin, config, result.created, partitions, replication_factor, timeout)
    for topic, kind, records in plan:
        missing = _missing(config, topic, kind, records, timeout)
        result.written[topic] = _write(config, topic, missing, timeout)
    return result


def _plan(users: int, stock_trades: int, rides: int, logins: int, seed: int) -> list:
    plan = []
    if users:
        rows = [encode(k, v) for k, v in users_table(seed, users)]
        plan.append((get("users").topic, "table", rows))
    for name, n in (("stock_trades", stock_trades), ("rides", rides), ("logins", logins)):
        if n:
            records = [encode(k, v) for k, v in generate(name, seed=seed, count=n)]
            plan.append((get(name).topic, "stream", records))
    return plan


def _topics(admin: AdminClient, config: dict[str, Any], timeout: float) -> set[str]:
    why = unreachable(config.get("bootstrap.servers", ""), timeout)
    if why:
        raise DatagenError(
            f"cannot reach Kafka at {config.get('bootstrap.servers')} ({why}); is the lab "
            "running? Check `streamlab status`"
        )
    try:
        return set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as e:
        raise DatagenError(
            f"cannot reach Kafka at {config.get('bootstrap.servers', '?')} within {timeout:g} s "
            f"({e.args[0].str() if e.args else e}); is the lab running? Check `streamlab status`"
        ) from None


def _delete(admin: AdminClient, topics: list[str], timeout: float) -> None:
    if not topics:
        return
    for topic, future in admin.delete_topics(topics, operation_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise DatagenError(f"cannot delete topic {topic!r}: {e.args[0].str()}") from None
    # Deletion completes asynchronously on real Kafka: wait until metadata stops listing them.
    deadline = time.monotonic() + timeout
    while set(topics) & set(admin.list_topics(timeout=timeout).topics):
        if time.monotonic() > deadline:
            raise DatagenError(f"topics {topics} were still listed {timeout:g} s after deletion")
        time.sleep(0.2)


def _create(
    admin: AdminClient, config: dict, topics: list[str], partitions: int, rf: int, timeout: float
) -> None:
    if not topics:
        return
    new = [NewTopic(t, num_partitions=partitions, replication_factor=rf) for t in topics]
    for topic, future in admin.create_topics(new, operation_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as e:
            err = e.args[0]
            if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:  # created meanwhile: fine
                raise DatagenError(f"cannot create topic {topic!r}: {err.str()}") from None
    # Producing right away must find leaders: wait until metadata lists every partition.
    deadline = time.monotonic() + timeout
    while True:
        meta = admin.list_topics(timeout=timeout).topics
        if all(t in meta and meta[t].partitions and meta[t].error is None for t in topics):
            return
        if time.monotonic() > deadline:
            raise DatagenError(f"topics {topics} did not appear in metadata in {timeout:g} s")
        time.sleep(0.1)


def read_topic(
    config: dict[str, Any], topic: str, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) on ``topic`` up to its current end, partition by partition."""
    conf = {
        **config,
        "group.id": SEED_GROUP,
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    }
    consumer = Consumer(conf)
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        ends: dict[int, int] = {}
        assign = []
        for p in sorted(meta.partitions):
            low, high = _watermarks(consumer, TopicPartition(topic, p), timeout)
            if high > low:
                ends[p] = high
                assign.append(TopicPartition(topic, p, low))
        records: dict[int, list] = collections.defaultdict(list)
        consumer.assign(assign)
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise DatagenError(f"reading {topic!r} timed out after {timeout:g} s")
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            p = msg.partition()
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    if p in ends and msg.offset() >= ends[p]:
                        del ends[p]
                    continue
                raise DatagenError(f"reading {topic!r}: {msg.error().str()}")
            if p in ends:
                records[p].append((msg.key(), msg.value()))
                if msg.offset() >= ends[p] - 1:
                    del ends[p]
        return [r for p in sorted(records) for r in records[p]]
    finally:
        consumer.close()


_NO_LEADER_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}


def _watermarks(consumer: Consumer, tp: TopicPartition, timeout: float) -> tuple[int, int]:
    """(low, high) of ``tp``; retried while a just-created topic's leader is not yet known
    everywhere (real Kafka answers NOT_LEADER_FOR_PARTITION for a moment; the emulator never)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=timeout)
        except KafkaException as error:
            if error.args[0].code() not in _NO_LEADER_YET or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _missing(
    config: dict[str, Any], topic: str, kind: str, records: list, timeout: float
) -> list[tuple[bytes, bytes]]:
    existing = read_topic(config, topic, timeout)
    if kind == "table":
        latest = dict(existing)  # records of one key share a partition, so this is the latest
        return [(k, v) for k, v in records if latest.get(k) != v]
    have = collections.Counter(existing)
    missing = []
    for rec in records:
        if have[rec]:
            have[rec] -= 1
        else:
            missing.append(rec)
    return missing


def _write(config: dict[str, Any], topic: str, records: list, timeout: float) -> int:
    if not records:
        return 0
    producer = connect(_producer_config(config, "seed"))
    deliveries = _Deliveries(None)
    for key, value in records:
        _produce(producer, topic, key, value, deliveries)
        producer.poll(0)
    left = producer.flush(timeout)
    deliveries.raise_if_failed(topic)
    if left:
        raise DatagenError(f"{left} seed records to {topic!r} were not delivered in {timeout:g} s")
    return deliveries.delivered
