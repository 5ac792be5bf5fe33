"""One invocation, end to end: decode the batch, settle each trade, produce, flush, report.

:class:`SettlementApp` holds what lives as long as the execution environment (the producer, the
serializer, the settings); :mod:`lambda_fn.handler` makes one at module level. Tests give it a
fake producer and serializer.

Delivery and retries, the decisions that matter:

* **Flush once, at the end.** ``produce`` only queues; the records go out in batches. One
  ``flush`` after the whole batch waits for every acknowledgement (acks=all). Flushing per
  record would make each produce a round trip; not flushing at all would leave records in the
  buffer of a process Lambda is about to freeze (SIGSTOP), or kill.
* **A failed delivery fails the invocation.** Any delivery error, or records still unsent when
  the flush times out, raises :class:`DeliveryFailed`. The event source mapping then does not
  commit the batch's offsets and retries it; the reference app only logged such errors, so the
  offsets were committed and the settlements silently lost.
* **Retries mean duplicates (at-least-once).** A retried batch produces again the settlements
  that were delivered the first time. They are identical (the disposition and the timestamp are
  functions of the record, see settlement.py) and each carries its source position in the
  ``source`` header (``user_trades-3@42``), so a consumer can drop duplicates. Exactly-once would
  need a transactional producer with the consumer offsets in the same transaction, which the
  event source mapping (it commits, not us) does not allow.
* **Poison records do not block the partition.** A record that can never be settled (not JSON,
  no SYMBOL, ...) would fail every retry and, by default, stop its partition until the record
  expires. It is written, unchanged, with the error in headers, to the dead-letter topic and
  counted; the rest of the batch is settled. (The mapping's own alternative, partial-batch
  responses with ReportBatchItemFailures plus an on-failure destination, retries from the first
  failed offset and so re-sends everything after it.) Without a dead-letter topic, a poison record
  raises: fail loudly rather than drop data.
* **Tombstones** (no value) carry no trade: skipped and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from lambda_fn.records import KafkaRecord, PoisonRecord, parse_trade, records
from lambda_fn.settlement import decide, review_draw

log = logging.getLogger("lambda_fn")

FLUSH_MARGIN_MS = 2000  # leave the runtime time to report the result after the flush


class DeliveryFailed(RuntimeError):
    """Some settlements were not acknowledged; raised so the batch is retried."""


@dataclass
class BatchResult:
    records: int = 0
    settled: int = 0
    dead_lettered: int = 0
    tombstones: int = 0
    dispositions: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Deliveries:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.acked = 0

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()} key={msg.key()!r}: {err}")
        else:
            self.acked += 1


class SettlementApp:
    """Settles batches of ``user_trades`` records.

    Args:
        producer: a confluent-kafka ``Producer`` (or anything with produce/poll/flush).
        serialize: TradeSettlement -> bytes for ``output_topic`` (the registry's
            ProtobufSerializer, wrapped by :func:`protobuf_serializer`).
        settings: :class:`lambda_fn.config.Settings`.
    """

    def __init__(self, producer: Any, serialize: Callable[[Any], bytes], settings: Any) -> None:
        self.producer = producer
        self.serialize = serialize
        self.settings = settings

    @classmethod
    def from_environment(cls) -> SettlementApp:
        """Read the settings and the secret, build the producer: the Init phase's work."""
        from confluent_kafka import Producer
        from confluent_kafka.schema_registry import SchemaRegistryClient

        from lambda_fn.config import Settings, producer_config, read_secret, registry_config

        settings = Settings.from_env()
        secret = read_secret(settings.secret_name, settings.region)
        producer = Producer(producer_config(secret))
        registry = SchemaRegistryClient(registry_config(secret))
        serialize = protobuf_serializer(registry, settings.output_topic)
        log.info(
            "producer ready: bootstrap=%s topic=%s", secret["bootstrap.servers"],
            settings.output_topic,
        )  # fmt: skip
        return cls(producer, serialize, settings)

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        from lambda_fn.proto import TradeSettlement

        result = BatchResult()
        deliveries = _Deliveries()
        for record in records(event):
            result.records += 1
            if record.value is None:
                result.tombstones += 1
                log.info("%s: tombstone, nothing to settle", record.source)
                continue
            try:
                trade = parse_trade(record)
            except PoisonRecord as e:
                self._dead_letter(record, str(e), deliveries)
                result.dead_lettered += 1
                continue
            decision = decide(
                trade,
                review_draw(record.topic, record.partition, record.offset),
                self.settings.rules,
            )
            settlement = TradeSettlement(
                user=trade.user or "",
                symbol=trade.symbol,
                amount=decision.amount,
                disposition=decision.disposition,
                reason=decision.reason,
                timestamp=record.timestamp,  # the trade's time, not ours (settlement.py, 4.)
            )
            self.producer.produce(
                self.settings.output_topic,
                key=trade.symbol.encode(),
                value=self.serialize(settlement),
                headers=[("source", record.source.encode())],
                on_delivery=deliveries,
            )
            self.producer.poll(0)  # serve delivery callbacks, keep the queue from filling up
            result.settled += 1
            counts = result.dispositions
            counts[decision.disposition] = counts.get(decision.disposition, 0) + 1
        self._flush(deliveries, context)
        log.info("batch done: %s", result.as_dict())
        return result.as_dict()

    def _dead_letter(self, record: KafkaRecord, error: str, deliveries: _Deliveries) -> None:
        topic = self.settings.dead_letter_topic
        if not topic:
            raise PoisonRecord(error)  # no dead-letter topic: fail, and retry, rather than drop
        log.warning("%s: dead-lettered to %s: %s", record.source, topic, error)
        self.producer.produce(
            topic,
            key=record.key,
            value=record.value,
            headers=[
                *record.headers,
                ("error", error.encode()),
                ("source", record.source.encode()),
            ],
            on_delivery=deliveries,
        )
        self.producer.poll(0)

    def _flush(self, deliveries: _Deliveries, context: Any) -> None:
        timeout = 30.0
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            timeout = max(1.0, (context.get_remaining_time_in_millis() - FLUSH_MARGIN_MS) / 1000)
        began = time.monotonic()
        left = self.producer.flush(timeout)
        log.info("flushed in %.3f s", time.monotonic() - began)
        if deliveries.errors or left:
            raise DeliveryFailed(
                f"{len(deliveries.errors)} settlements failed and {left} were not delivered "
                f"in {timeout:.1f} s; first error: "
                f"{deliveries.errors[0] if deliveries.errors else 'timeout'}. The batch will be "
                "retried."
            )


def protobuf_serializer(registry: Any, topic: str) -> Callable[[Any], bytes]:
    """The registry's Protobuf serializer for ``topic``'s values (subject ``<topic>-value``)."""
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from lambda_fn.proto import TradeSettlement

    serializer = ProtobufSerializer(TradeSettlement, registry)
    ctx = SerializationContext(topic, MessageField.VALUE)
    return lambda message: serializer(message, ctx)
