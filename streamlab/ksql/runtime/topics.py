"""An in-process topic store: topics as lists of records, with Kafka's partitioning.

This is the engine's topic client when it runs without a cluster (QTT, unit tests, notebooks
that only need SQL). The Kafka runtime will provide the same interface over a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.runtime.records import Record


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (the default partitioner's hash)."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = (
            (data[i4] & 0xFF)
            + ((data[i4 + 1] & 0xFF) << 8)
            + ((data[i4 + 2] & 0xFF) << 16)
            + ((data[i4 + 3] & 0xFF) << 24)
        )
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    remaining = length % 4
    index = length & ~3
    if remaining == 3:
        h ^= (data[index + 2] & 0xFF) << 16
    if remaining >= 2:
        h ^= (data[index + 1] & 0xFF) << 8
    if remaining >= 1:
        h ^= data[index] & 0xFF
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


def default_partition(key: bytes | None, partitions: int, counter: int = 0) -> int:
    """The partition Kafka's default partitioner picks for a key."""
    if key is None:
        return counter % partitions
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass
class Topic:
    name: str
    partitions: int = 1
    replicas: int = 1
    config: dict[str, str] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    _next_offsets: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._next_offsets = [0] * self.partitions


class TopicStore:
    """Topics by name; appending assigns partition offsets like a broker."""

    def __init__(self, default_partitions: int = 1) -> None:
        self.topics: dict[str, Topic] = {}
        self.default_partitions = default_partitions
        self._null_key_counter = 0

    def create_topic(
        self,
        name: str,
        partitions: int | None = None,
        replicas: int | None = None,
        config: dict[str, str] | None = None,
    ) -> Topic:
        if name in self.topics:
            return self.topics[name]
        topic = Topic(
            name, partitions or self.default_partitions, replicas or 1, dict(config or {})
        )
        self.topics[name] = topic
        return topic

    def exists(self, name: str) -> bool:
        return name in self.topics

    def get(self, name: str) -> Topic:
        topic = self.topics.get(name)
        if topic is None:
            raise KsqlException(f"Topic '{name}' does not exist.")
        return topic

    def delete_topic(self, name: str) -> None:
        self.topics.pop(name, None)

    def list_topics(self) -> list[str]:
        return sorted(self.topics)

    def append(self, record: Record, partition: int | None = None) -> Record:
        """Add a record (creating the topic if needed); returns it with partition and offset."""
        topic = self.topics.get(record.topic) or self.create_topic(record.topic)
        if partition is None:
            if record.key is None:
                self._null_key_counter += 1
            partition = default_partition(record.key, topic.partitions, self._null_key_counter)
        partition = min(max(partition, 0), topic.partitions - 1)
        record.partition = partition
        record.offset = topic._next_offsets[partition]
        topic._next_offsets[partition] += 1
        topic.records.append(record)
        return record

    def records(self, name: str) -> list[Record]:
        topic = self.topics.get(name)
        return list(topic.records) if topic else []

    def reset(self) -> None:
        self.topics.clear()
