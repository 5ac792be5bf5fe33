"""Where the registry's state lives: records in the ``_schemas`` topic, like the real registry.

The registry is a plain Kafka client (confluent-kafka), so the same code persists to the
emulated cluster, to Apache Kafka and to Confluent Cloud. On start it creates the topic if
absent (compacted, one partition) and reads it to the end before serving; every change is a
record produced with acks=all and applied to memory once the broker acknowledged it.

Keys and values are JSON shaped like Confluent's ``SchemaKey``/``SchemaValue``,
``ConfigKey``/``ConfigValue``, ``ModeKey``/``ModeValue`` and ``DeleteSubjectKey``/
``DeleteSubjectValue``; a null value (tombstone) removes a key, as compaction will.

:class:`MemoryStore` keeps the same records in a list, for unit tests and in-process use.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

log = logging.getLogger("streamlab.registry")

TOPIC = "_schemas"

Record = tuple[dict, dict | None]


class StoreError(Exception):
    """The store could not be read or written (the broker is down, the topic is wrong...)."""


# --- record shapes -----------------------------------------------------------------------------


def schema_key(subject: str, version: int) -> dict:
    return {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}


def config_key(subject: str | None) -> dict:
    return _subject_key("CONFIG", subject)


def mode_key(subject: str | None) -> dict:
    return _subject_key("MODE", subject)


def delete_subject_key(subject: str) -> dict:
    return _subject_key("DELETE_SUBJECT", subject)


def _subject_key(keytype: str, subject: str | None) -> dict:
    # The global config/mode has no subject: Jackson's NON_EMPTY drops the field.
    key: dict[str, Any] = {"keytype": keytype}
    if subject is not None:
        key["subject"] = subject
    key["magic"] = 0
    return key


def encode(obj: dict | None) -> bytes | None:
    return None if obj is None else json.dumps(obj, separators=(",", ":")).encode()


def decode(data: bytes | None) -> dict | None:
    if data is None:
        return None
    obj = json.loads(data)
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


# --- stores ------------------------------------------------------------------------------------


class MemoryStore:
    """Records in a list: what a restart of the registry process would replay."""

    def __init__(self, records: list[Record] | None = None) -> None:
        self.records: list[Record] = list(records or [])
        self.fail_with: str | None = None  # set to make appends fail (tests)

    def start(self) -> list[Record]:
        return list(self.records)

    def append(self, records: list[Record]) -> None:
        if self.fail_with:
            raise StoreError(self.fail_with)
        self.records.extend(records)

    def close(self) -> None:
        pass


class KafkaStore:
    """The ``_schemas`` topic on a Kafka cluster, through confluent-kafka."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = TOPIC,
        client_config: dict[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self.config = {"bootstrap.servers": bootstrap, **(client_config or {})}
        self._producer = None
        self._lock = threading.Lock()

    def start(self) -> list[Record]:
        """Create the topic if needed and read every record in it."""
        self._ensure_topic()
        records = self._read_all()
        self._producer = Producer(
            {
                **self.config,
                "client.id": "streamlab-registry",
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 0,
                "message.timeout.ms": int(self.timeout_s * 1000),
            }
        )
        return records

    def _ensure_topic(self) -> None:
        admin = AdminClient({**self.config, "client.id": "streamlab-registry-admin"})
        deadline = time.monotonic() + self.timeout_s * 3
        while True:
            try:
                # All topics: asking for one by name could auto-create it with the wrong configs.
                metadata = admin.list_topics(timeout=self.timeout_s)
                break
            except KafkaException as e:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"cannot reach Kafka at {self.config['bootstrap.servers']}: {e.args[0]}"
                    ) from None
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            log.info("creating the schemas topic %s (compacted, 1 partition)", self.topic)
            new = NewTopic(
                self.topic,
                num_partitions=1,
                replication_factor=-1,
                config={"cleanup.policy": "compact"},
            )
            future = admin.create_topics([new], request_timeout=self.timeout_s)[self.topic]
            try:
                future.result(timeout=self.timeout_s * 2)
            except KafkaException as e:
                if e.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise StoreError(
                        f"cannot create topic {self.topic}: {e.args[0].str()}"
                    ) from None
            return
        if len(topic.partitions) != 1:
            raise StoreError(
                f"The schema topic {self.topic} should have only 1 partition but has "
                f"{len(topic.partitions)}."
            )
        resource = ConfigResource(ConfigResource.Type.TOPIC, self.topic)
        try:
            configs = admin.describe_configs([resource])[resource].result(timeout=self.timeout_s)
            policy = configs.get("cleanup.policy")
            if policy is not None and "compact" not in policy.value:
                log.error(
                    "The retention policy of the schema topic %s is %s, not compact: Kafka may "
                    "delete schemas after the retention time.",
                    self.topic,
                    policy.value,
                )
        except KafkaException as e:
            log.warning("cannot check the configs of %s: %s", self.topic, e.args[0].str())

    def _read_all(self) -> list[Record]:
        consumer = Consumer(
            {
                **self.config,
                "group.id": f"streamlab-registry-{uuid.uuid4()}",  # never joined: assign() only
                "client.id": "streamlab-registry-reader",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        records: list[Record] = []
        try:
            tp = TopicPartition(self.topic, 0)
            deadline = time.monotonic() + self.timeout_s * 3
            while True:  # a topic created a moment ago may not have a leader yet
                try:
                    _low, high = consumer.get_watermark_offsets(tp, timeout=self.timeout_s)
                    break
                except KafkaException as e:
                    if time.monotonic() > deadline:
                        raise StoreError(
                            f"cannot read the end offset of {self.topic}: {e.args[0].str()}"
                        ) from None
                    time.sleep(0.2)
            if high <= 0:
                return records
            consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
            deadline = time.monotonic() + max(self.timeout_s * 6, 60.0)
            position = -1
            while position + 1 < high:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"reading {self.topic} stopped at offset {position + 1} of {high}"
                    )
                msg = consumer.poll(0.5)
                if msg is None:
                    done = consumer.position([tp])[0].offset
                    if done >= high:  # the tail was compacted away or is a control record
                        break
                    continue
                if msg.error():
                    log.warning("reading %s: %s", self.topic, msg.error().str())
                    continue
                position = msg.offset()
                try:
                    key = decode(msg.key())
                    value = decode(msg.value())
                except ValueError as e:
                    log.warning(
                        "%s offset %d: not a registry record (%s); skipped", self.topic, position, e
                    )
                    continue
                if key is not None:
                    records.append((key, value))
            return records
        finally:
            consumer.close()

    def append(self, records: list[Record]) -> None:
        if self._producer is None:
            raise StoreError("the store is not started")
        errors: list[str] = []

        def delivered(err, _msg) -> None:
            if err is not None:
                errors.append(err.str())

        with self._lock:
            try:
                for key, value in records:
                    self._producer.produce(
                        self.topic,
                        key=encode(key),
                        value=encode(value),
                        partition=0,
                        on_delivery=delivered,
                    )
            except (KafkaException, BufferError) as e:
                raise StoreError(str(e)) from None
            left = self._producer.flush(self.timeout_s + 5)
        if errors:
            raise StoreError(f"Kafka refused the write: {errors[0]}")
        if left:
            raise StoreError(f"Kafka did not acknowledge the write within {self.timeout_s:.0f}s")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self.timeout_s)
            self._producer = None
