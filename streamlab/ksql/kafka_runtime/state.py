"""State stores backed by changelog topics, and their restore at startup.

Every ``put``/``delete`` of a store is written to the store's changelog topic
``_confluent-ksql-<svc>query_<id>-<store>-changelog`` through the query's producer, in the same
batch as its outputs (so the commit that follows covers both: at-least-once). At startup the
changelog is read to its end and applied with ``restore`` before the query consumes again.

State is kept per key regardless of the input partition (:class:`KeyedStore`). The entries
are pickled ``(store partition, key)`` / ``value`` pairs: the accumulators are Python
objects, so these internal topics are readable by this engine only (ksqlDB's are Connect
structs). The stores themselves are in memory; a RocksDB backend could replace
:class:`MemoryStore` behind the same callback.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streamlab.ksql.kafka_runtime.topics import TIMEOUT
from streamlab.ksql.runtime.records import Record
from streamlab.ksql.state import MemoryStore, MemoryStorePartition

log = logging.getLogger(__name__)


class KeyedStore(MemoryStore):
    """One partition for every input partition.

    Here one topology consumes all partitions of a query, and the operators key their state
    by the source record's partition. Kafka Streams would first route each row to the
    partition of its group/join key (the repartition topic), so a key's state never depends
    on where the row arrived; keeping a single partition gives the same result.
    """

    def partition(self, partition: int) -> MemoryStorePartition:
        return super().partition(0)


def changelog_topic(service_id: str, query_id: str, store: str) -> str:
    return f"_confluent-ksql-{service_id}query_{query_id}-{store}-changelog"


class ChangelogStores:
    """The stores of one query; ``factory`` is the engine's ``store_factory``."""

    def __init__(self, service_id: str, query_id: str, emit: Callable[[Record], None]) -> None:
        self.service_id = service_id
        self.query_id = query_id
        self.emit = emit
        self.stores: dict[str, MemoryStore] = {}

    def factory(self, name: str) -> MemoryStore:
        topic = changelog_topic(self.service_id, self.query_id, name)

        def write(partition: int, key, value) -> None:
            data = None if value is None else pickle.dumps(value)
            record_key = pickle.dumps((partition, key))
            self.emit(Record(topic, record_key, data, int(time.time() * 1000)))

        store = KeyedStore(name, changelog=write)
        self.stores[topic] = store
        return store

    def topics(self) -> list[str]:
        return list(self.stores)

    def restore(self, bootstrap: str) -> int:
        """Apply every changelog to its end; returns the number of entries read."""
        if not self.stores:
            return 0
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"restore-{self.query_id}",
             "enable.auto.commit": False}
        )  # fmt: skip
        restored = 0
        try:
            metadata = consumer.list_topics(timeout=TIMEOUT).topics
            ends: dict[tuple[str, int], int] = {}
            for topic in self.stores:
                if topic not in metadata or metadata[topic].error is not None:
                    continue
                for p in metadata[topic].partitions:
                    high = consumer.get_watermark_offsets(TopicPartition(topic, p), TIMEOUT)[1]
                    if high > 0:
                        ends[(topic, p)] = high
            consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
            while ends:
                for message in consumer.consume(1000, 1.0):
                    if message.error() is not None:
                        continue
                    where = (message.topic(), message.partition())
                    partition, key = pickle.loads(message.key())
                    value = message.value()
                    store = self.stores[message.topic()]
                    store.partition(partition).restore(
                        key, None if value is None else pickle.loads(value)
                    )
                    restored += 1
                    if where in ends and message.offset() + 1 >= ends[where]:
                        del ends[where]
        finally:
            consumer.close()
        log.info("query %s: restored %d state entries", self.query_id, restored)
        return restored
