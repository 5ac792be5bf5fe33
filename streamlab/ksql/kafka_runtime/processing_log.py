"""The processing log on the cluster: every entry also goes to ``<svc>ksql_processing_log``
(``default_ksql_processing_log``) as ksqlDB's log4j appender writes it, and a
``KSQL_PROCESSING_LOG`` stream over that topic is declared at startup (as with
``ksql.logging.processing.stream.auto.create=true``)."""

from __future__ import annotations

import json

from confluent_kafka import Producer

from streamlab.ksql.runtime.processing_log import (
    ProcessingErrorType,
    ProcessingLog,
    ProcessingLogEntry,
)

_STEP = {
    ProcessingErrorType.DESERIALIZATION_ERROR: "KsqlTopic.Source.deserializer",
    ProcessingErrorType.RECORD_PROCESSING_ERROR: "Project",
    ProcessingErrorType.PRODUCTION_ERROR: "KsqlTopic.Sink.producer",
    ProcessingErrorType.SERIALIZATION_ERROR: "KsqlTopic.Sink.serializer",
}
_MEMBERS = (
    "deserializationError",
    "recordProcessingError",
    "productionError",
    "serializationError",
    "kafkaStreamsThreadError",
)

STREAM_NAME = "KSQL_PROCESSING_LOG"


def topic_name(service_id: str) -> str:
    return f"{service_id}ksql_processing_log"


def stream_ddl(topic: str) -> str:
    """ksqlDB's processing-log stream (``ProcessingLogMessageSchema``)."""
    cause = "`CAUSE` ARRAY<STRING>"
    return (
        f"CREATE STREAM IF NOT EXISTS {STREAM_NAME} (`LOGGER` STRING, `LEVEL` STRING, "
        "`TIME` BIGINT, `MESSAGE` STRUCT<`TYPE` INTEGER, "
        "`DESERIALIZATIONERROR` STRUCT<`TARGET` STRING, `ERRORMESSAGE` STRING, "
        f"`RECORDB64` STRING, {cause}, `topic` STRING>, "
        f"`RECORDPROCESSINGERROR` STRUCT<`ERRORMESSAGE` STRING, `RECORD` STRING, {cause}>, "
        "`PRODUCTIONERROR` STRUCT<`ERRORMESSAGE` STRING>, "
        "`SERIALIZATIONERROR` STRUCT<`TARGET` STRING, `ERRORMESSAGE` STRING, `RECORD` STRING, "
        f"{cause}, `topic` STRING>, "
        "`KAFKASTREAMSTHREADERROR` STRUCT<`ERRORMESSAGE` STRING, `THREADNAME` STRING, "
        f"{cause}>>) WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON');"
    )


def log_record(entry: ProcessingLogEntry) -> dict[str, object]:
    """One log line as ksqlDB writes it to the processing-log topic."""
    shaped = entry.to_message()
    message = {"type": shaped.pop("type"), **dict.fromkeys(_MEMBERS), **shaped}
    return {
        "level": "ERROR",
        "logger": f"processing.{entry.query_id}.{_STEP[entry.type]}",
        "time": entry.timestamp_ms,
        "message": message,
    }


class KafkaProcessingLog(ProcessingLog):
    """Keeps entries in memory (DESCRIBE, tests) and writes them to the log topic."""

    def __init__(self, producer: Producer, topic: str, include_rows: bool = False) -> None:
        super().__init__(include_rows=include_rows)
        self.producer = producer
        self.topic = topic

    def add(self, entry: ProcessingLogEntry) -> None:
        super().add(entry)
        value = json.dumps(log_record(entry), separators=(",", ":")).encode()
        try:
            self.producer.produce(self.topic, value, timestamp=entry.timestamp_ms)
        except BufferError:
            self.producer.poll(0.1)
            self.producer.produce(self.topic, value, timestamp=entry.timestamp_ms)
        self.producer.poll(0)
