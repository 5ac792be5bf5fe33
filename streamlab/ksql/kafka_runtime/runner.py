"""A persistent query as a consumer/producer loop in its own thread.

At-least-once like Kafka Streams: consume a batch, push every record through the topology
(whose sink emits into this thread's producer), flush the producer, then commit the consumed
offsets. A crash between flush and commit replays the batch; committed input never is.
The consumer group is ksqlDB's application id, ``_confluent-ksql-<svc>query_<id>``, so a
restarted engine resumes where the query left off.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, Producer

from streamlab.ksql.kafka_runtime.topics import TIMEOUT, produce, producer_config
from streamlab.ksql.runtime.records import Record

log = logging.getLogger(__name__)

BATCH = 2000


def to_record(message) -> Record:
    return Record(
        message.topic(),
        message.key(),
        message.value(),
        message.timestamp()[1],
        message.partition(),
        message.offset(),
        tuple(message.headers() or ()),
    )


def next_batch(consumer: Consumer, wait: float = 0.1) -> list:
    """What is ready now, up to ``BATCH`` records, waiting at most ``wait`` for the first.

    ``consume(n, timeout)`` alone waits the whole timeout unless n records are ready, which
    would add that much latency at low rates.
    """
    first = consumer.poll(wait)
    if first is None:
        return []
    return by_timestamp([first, *consumer.consume(BATCH - 1, 0)])


def by_timestamp(messages: list) -> list:
    """A batch in Kafka Streams' order: per partition in offset order, across partitions the
    record with the smallest timestamp first (so a table's earlier rows are joined against)."""
    if len(messages) < 2:
        return messages
    queues: dict[tuple[str, int], list] = {}
    for message in messages:
        queues.setdefault((message.topic(), message.partition()), []).append(message)
    if len(queues) == 1:
        return messages
    return list(heapq.merge(*queues.values(), key=lambda m: m.timestamp()[1]))


def consumer_config(bootstrap: str, group: str, offset_reset: str) -> dict[str, object]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": offset_reset,
        "enable.partition.eof": False,
        # A killed engine's members leave the group after this; librdkafka's 45 s default
        # would stall a restarted query that long.
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 2000,
    }


class QueryRunner(threading.Thread):
    """Feeds ``process`` from ``topics``; records ``process`` emits go to ``self.producer``."""

    def __init__(
        self,
        query_id: str,
        bootstrap: str,
        group: str,
        topics: list[str],
        process: Callable[[Record], None],
        offset_reset: str = "latest",
        on_error: Callable[[str, Exception, Record], None] | None = None,
        on_crash: Callable[[str, Exception], None] | None = None,
    ) -> None:
        super().__init__(name=f"query-{query_id}", daemon=True)
        self.query_id = query_id
        self.group = group
        self.topics = topics
        self.process_record = process
        self.on_error = on_error
        self.on_crash = on_crash
        self.consumer = Consumer(consumer_config(bootstrap, group, offset_reset))
        self.producer = Producer(producer_config(bootstrap))
        self.stopping = threading.Event()
        self.processed = 0

    def emit(self, record: Record) -> None:
        produce(self.producer, record)

    def run(self) -> None:
        local.runner = self
        try:
            self.consumer.subscribe(self.topics)
            while not self.stopping.is_set():
                messages = next_batch(self.consumer)
                if not messages:
                    continue
                for message in messages:
                    error = message.error()
                    if error is not None:
                        if error.code() != KafkaError._PARTITION_EOF:
                            log.warning("query %s: consume error %s", self.query_id, error)
                        continue
                    record = to_record(message)
                    try:
                        self.process_record(record)
                    except Exception as exc:  # a bug must not stop the query
                        log.exception("query %s failed on a record", self.query_id)
                        if self.on_error is not None:
                            self.on_error(self.query_id, exc, record)
                    self.processed += 1
                self.commit()
        except Exception as error:
            log.exception("query %s stopped", self.query_id)
            if self.on_crash is not None:
                self.on_crash(self.query_id, error)
        finally:
            self.producer.flush(TIMEOUT)
            self.consumer.close()

    def commit(self) -> None:
        """Offsets only after every output of the batch is acknowledged (at-least-once)."""
        remaining = self.producer.flush(TIMEOUT)
        if remaining:
            log.warning("query %s: %d records not delivered; not committing", self.query_id,
                        remaining)  # fmt: skip
            return
        try:
            self.consumer.commit(asynchronous=False)
        except Exception as error:  # e.g. a rebalance in progress: the batch is replayed
            log.warning("query %s: commit failed: %s", self.query_id, error)

    def stop(self, wait: bool = True) -> None:
        self.stopping.set()
        if wait and self.is_alive() and threading.current_thread() is not self:
            self.join(TIMEOUT)


#: ``local.runner`` is the runner of the current thread, where sink records go.
local = threading.local()
