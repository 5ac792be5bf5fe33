"""The pipeline the fault tests kill: a seeded dataset, its Python oracle, and Kafka helpers.

USERS (a table: user -> region) and CLICKS (a stream keyed by user) feed

* ``J_<name>``: ``CLICKS JOIN USERS`` (stream-table inner join: a click of an unknown user is
  dropped);
* ``W_<name>``: ``COUNT(*)`` of ``J_<name>`` per region over 10 s TUMBLING windows.

The oracle counts, per (region, window start), the clicks of known users.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

REGIONS = ("north", "south", "east", "west")
WINDOW_MS = 10_000
WAIT = 60.0  # upper bound for asynchronous results (not a speed assertion)


@dataclass
class Dataset:
    users: dict[str, str]  # user -> region
    clicks: list[tuple[str, int]]  # (user, timestamp ms), in produce order
    start: int  # timestamp of the users, a window boundary

    @classmethod
    def generate(cls, seed: int, clicks: int, users: int = 24, unknown: int = 4) -> Dataset:
        """The same records for a seed; timestamps start at the last window boundary (recent:
        brokers delete records older than retention.ms, 7 days, by their timestamps)."""
        rng = random.Random(seed)
        t0 = int(time.time() * 1000) // WINDOW_MS * WINDOW_MS
        table = {f"u{i:03d}": rng.choice(REGIONS) for i in range(users)}
        ids = [f"u{i:03d}" for i in range(users + unknown)]  # the last `unknown` never join
        stream = [(rng.choice(ids), t0 + i * 15 + rng.randrange(15)) for i in range(clicks)]
        return cls(table, stream, t0)

    def oracle(self) -> Counter:
        """COUNT(*) per (region, window start) of the inner join."""
        counts: Counter = Counter()
        for user, ts in self.clicks:
            region = self.users.get(user)
            if region is not None:
                counts[(region, ts - ts % WINDOW_MS)] += 1
        return counts

    def joined(self) -> int:
        return sum(1 for user, _ in self.clicks if user in self.users)


def sources(tag: str) -> str:
    """USERS and CLICKS over the topics ``users_<tag>`` and ``clicks_<tag>``."""
    t = tag.lower()
    return f"""
        CREATE TABLE USERS_{tag} (ID STRING PRIMARY KEY, REGION STRING)
            WITH (KAFKA_TOPIC='users_{t}', VALUE_FORMAT='JSON', PARTITIONS=2);
        CREATE STREAM CLICKS_{tag} (ID STRING KEY, N INT)
            WITH (KAFKA_TOPIC='clicks_{t}', VALUE_FORMAT='JSON', PARTITIONS=2);
    """


def queries(tag: str, name: str) -> str:
    """The join ``J_<name>`` and the windowed count ``W_<name>`` over it."""
    return f"""
        CREATE STREAM J_{name} AS SELECT C.ID AS ID, U.REGION AS REGION, C.N AS N
            FROM CLICKS_{tag} C JOIN USERS_{tag} U ON C.ID = U.ID;
        CREATE TABLE W_{name} AS SELECT REGION, COUNT(*) AS CNT FROM J_{name}
            WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY REGION;
    """


def producer(bootstrap: str) -> Producer:
    return Producer(
        {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5}
    )


def produce_users(bootstrap: str, topic: str, data: Dataset) -> None:
    p = producer(bootstrap)
    for user, region in data.users.items():
        value = json.dumps({"REGION": region}).encode()
        p.produce(topic, value, user.encode(), timestamp=data.start)
    assert p.flush(30) == 0


def produce_clicks(
    bootstrap: str, topic: str, clicks: list[tuple[str, int]], chunk: int, pause: float
) -> None:
    """Paced, so that the engine is killed while input keeps arriving."""
    p = producer(bootstrap)
    for start in range(0, len(clicks), chunk):
        for i, (user, ts) in enumerate(clicks[start : start + chunk], start):
            p.produce(topic, json.dumps({"N": i}).encode(), user.encode(), timestamp=ts)
        p.poll(0)
        time.sleep(pause)
    assert p.flush(30) == 0


def committed(bootstrap: str, group: str, topic: str, partitions: int = 2) -> int:
    """Sum of a group's committed offsets on a topic (what it has processed for good)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        offsets = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
        return sum(max(o.offset, 0) for o in offsets)
    finally:
        consumer.close()


def committed_at(bootstrap: str, group: str, topic: str, partition: int) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        [found] = consumer.committed([TopicPartition(topic, partition)], timeout=10)
        return found.offset
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str, partitions: int = 2) -> tuple[list, list[int]]:
    """Every record a read_committed consumer sees, to the end of each partition, and the
    end offsets (the last stable offsets, transaction markers included)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"faults-reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    ends = [
        consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in range(partitions)
    ]
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    records: list = []
    pending = {p for p in range(partitions) if ends[p] > 0}
    deadline = time.monotonic() + WAIT
    try:
        while pending:
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for message in consumer.consume(1000, 0.5):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(message.partition())
                    continue
                records.append(message)
    finally:
        consumer.close()
    return records, ends


def windowed_table(records: list) -> Counter:
    """Latest value per windowed key (KAFKA key: the region, then the window start as int64)."""
    table: Counter = Counter()
    for message in records:  # per partition in offset order: later values win
        key = message.key()
        where = (key[:-8].decode(), int.from_bytes(key[-8:], "big"))
        if message.value() is None:
            table.pop(where, None)
        else:
            table[where] = json.loads(message.value())["CNT"]
    return table


def wait_for(condition, what: str, wait: float = WAIT) -> None:
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
