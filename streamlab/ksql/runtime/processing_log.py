"""The processing log: records a query could not process, kept and logged, never fatal.

ksqlDB writes such entries to its ``KSQL_PROCESSING_LOG`` stream with a numeric ``type``:
0 deserialization error, 1 record processing error, 2 production error, 3 serialization error.
Here they are kept in memory (the last ``capacity`` entries) and logged through ``logging``
under ``streamlab.ksql.processing.<query id>``; the Kafka runtime will also write them to the
processing-log topic.
"""

from __future__ import annotations

import base64
import enum
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


class ProcessingErrorType(enum.IntEnum):
    DESERIALIZATION_ERROR = 0
    RECORD_PROCESSING_ERROR = 1
    PRODUCTION_ERROR = 2
    SERIALIZATION_ERROR = 3


@dataclass
class ProcessingLogEntry:
    query_id: str
    type: ProcessingErrorType
    message: str
    topic: str | None = None
    target: str | None = None  # "key" or "value" for (de)serialization errors
    record: str | None = None
    timestamp_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def to_message(self) -> dict[str, Any]:
        """The entry in ksqlDB's processing-log message shape."""
        message: dict[str, Any] = {"type": int(self.type)}
        if self.type is ProcessingErrorType.DESERIALIZATION_ERROR:
            message["deserializationError"] = {
                "target": self.target,
                "errorMessage": self.message,
                "recordB64": self.record,
                "cause": [],
                "topic": self.topic,
            }
        elif self.type is ProcessingErrorType.RECORD_PROCESSING_ERROR:
            message["recordProcessingError"] = {
                "errorMessage": self.message,
                "record": self.record,
                "cause": [],
            }
        elif self.type is ProcessingErrorType.SERIALIZATION_ERROR:
            message["serializationError"] = {
                "target": self.target,
                "errorMessage": self.message,
                "record": self.record,
                "cause": [],
                "topic": self.topic,
            }
        else:
            message["productionError"] = {"errorMessage": self.message}
        return message


class ProcessingLog:
    """Collects processing errors of every query of an engine."""

    def __init__(self, capacity: int = 10_000, include_rows: bool = False) -> None:
        self.entries: deque[ProcessingLogEntry] = deque(maxlen=capacity)
        self.include_rows = include_rows
        self.counts: dict[str, int] = {}

    def add(self, entry: ProcessingLogEntry) -> None:
        self.entries.append(entry)
        self.counts[entry.query_id] = self.counts.get(entry.query_id, 0) + 1
        logging.getLogger(f"streamlab.ksql.processing.{entry.query_id}").debug(
            "%s: %s", entry.type.name, entry.message
        )

    def deserialization_error(
        self, query_id: str, target: str, error: Exception, topic: str, data: bytes | None
    ) -> None:
        record = None
        if self.include_rows and data is not None:
            record = base64.b64encode(data).decode()
        self.add(
            ProcessingLogEntry(
                query_id,
                ProcessingErrorType.DESERIALIZATION_ERROR,
                str(error),
                topic=topic,
                target=target,
                record=record,
            )
        )

    def processing_error(self, query_id: str, message: str, row: Any = None) -> None:
        self.add(
            ProcessingLogEntry(
                query_id,
                ProcessingErrorType.RECORD_PROCESSING_ERROR,
                message,
                record=repr(row) if self.include_rows else None,
            )
        )

    def serialization_error(self, query_id: str, target: str, error: Exception, topic: str) -> None:
        self.add(
            ProcessingLogEntry(
                query_id,
                ProcessingErrorType.SERIALIZATION_ERROR,
                str(error),
                topic=topic,
                target=target,
            )
        )

    def for_query(self, query_id: str) -> list[ProcessingLogEntry]:
        return [e for e in self.entries if e.query_id == query_id]
