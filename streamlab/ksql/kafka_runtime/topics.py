"""The engine's topic client over a cluster: the :class:`~streamlab.ksql.runtime.TopicStore`
interface (create, exists, get, delete, list, append) through confluent-kafka's AdminClient and
a shared producer (used by INSERT VALUES; queries have their own producers)."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.runtime.records import Record
from streamlab.ksql.runtime.topics import Topic

log = logging.getLogger(__name__)

TIMEOUT = 15.0


def producer_config(bootstrap: str) -> dict[str, object]:
    """ksqlDB's producers: acks=all; a short linger so batches form under load."""
    return {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "partitioner": "murmur2_random",  # the Java client's key hashing, as ksqlDB
    }


def produce(producer: Producer, record: Record) -> None:
    """Queue a record, waiting for room when librdkafka's queue is full."""
    while True:
        try:
            producer.produce(
                record.topic,
                record.value,
                record.key,
                timestamp=record.timestamp,
                headers=list(record.headers) or None,
            )
            return
        except BufferError:  # librdkafka's queue is full: let it drain
            producer.poll(0.05)


def send(
    producer: Producer,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    timestamp: int | None = None,
    headers: list | None = None,
    on_delivery=None,
) -> None:
    """:func:`produce` from its parts (no :class:`Record` built: the per-record hot path)."""
    kwargs: dict = {}
    if timestamp is not None:
        kwargs["timestamp"] = timestamp
    if headers:
        kwargs["headers"] = headers
    if on_delivery is not None:
        kwargs["on_delivery"] = on_delivery
    while True:
        try:
            producer.produce(topic, value, key, **kwargs)
            return
        except BufferError:  # librdkafka's queue is full: let it drain
            producer.poll(0.05)


class KafkaTopicStore:
    """Topics on the cluster, with the in-process store's interface."""

    def __init__(self, bootstrap: str, default_partitions: int = 1) -> None:
        self.bootstrap = bootstrap
        self.default_partitions = default_partitions
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.producer = Producer(producer_config(bootstrap))

    # Metadata for all topics: asking for one topic by name may auto-create it.
    @property
    def topics(self) -> dict[str, Topic]:
        metadata = self.admin.list_topics(timeout=TIMEOUT)
        out = {}
        for name, topic in metadata.topics.items():
            if topic.error is not None:
                continue
            replicas = max((len(p.replicas) for p in topic.partitions.values()), default=1)
            out[name] = Topic(name, len(topic.partitions), replicas)
        return out

    def create_topic(
        self,
        name: str,
        partitions: int | None = None,
        replicas: int | None = None,
        config: dict[str, str] | None = None,
    ) -> Topic:
        new = NewTopic(
            name, partitions or self.default_partitions, replicas or 1, config=config or {}
        )
        try:
            self.admin.create_topics([new], operation_timeout=TIMEOUT)[name].result(TIMEOUT)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KsqlException(f"Could not create topic '{name}': {error}") from error
        # Real Kafka answers CreateTopics before every broker's metadata shows the topic.
        deadline = time.monotonic() + TIMEOUT
        while name not in self.topics and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.get(name)

    def exists(self, name: str) -> bool:
        return name in self.topics

    def get(self, name: str) -> Topic:
        topic = self.topics.get(name)
        if topic is None:
            raise KsqlException(f"Topic '{name}' does not exist.")
        return topic

    def delete_topic(self, name: str) -> None:
        try:
            self.admin.delete_topics([name], operation_timeout=TIMEOUT)[name].result(TIMEOUT)
        except KafkaException as error:
            log.warning("could not delete topic %s: %s", name, error)

    def list_topics(self) -> list[str]:
        return sorted(self.topics)

    def append(self, record: Record, partition: int | None = None) -> Record:
        """Produce one record and wait for it (INSERT VALUES is synchronous in ksqlDB)."""
        produce(self.producer, record)
        if self.producer.flush(TIMEOUT) > 0:
            raise KsqlException(f"Failed to insert values into topic '{record.topic}'")
        return record

    def records(self, name: str) -> list[Record]:
        raise NotImplementedError("read topics with a consumer")

    def reset(self) -> None:
        raise NotImplementedError("not on a real cluster")

    def close(self) -> None:
        self.producer.flush(TIMEOUT)
