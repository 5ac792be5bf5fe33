"""``PRINT 'topic' [FROM BEGINNING] [INTERVAL n] [LIMIT n]`` on ``/query``: raw records as text.

Lines as ksqlDB's CLI shows them: a ``Key format:`` / ``Value format:`` guess from the first
record, then ``rowtime: 2024/01/01 00:00:00.000 Z, key: 1, value: {...}, partition: 0``.
"""

from __future__ import annotations

import datetime
import json
import struct
import threading
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.kafka_runtime.runner import next_batch

NO_KEY = "¯\\_(ツ)_/¯"


def key_format(data: bytes | None) -> str:
    if data is None:
        return NO_KEY
    if len(data) == 4:
        return "KAFKA_INT or KAFKA_STRING"
    if len(data) == 8:
        return "KAFKA_BIGINT or KAFKA_DOUBLE or KAFKA_STRING"
    return value_format(data)


def value_format(data: bytes | None) -> str:
    if data is None:
        return NO_KEY
    try:
        parsed = json.loads(data)
        if isinstance(parsed, dict | list):
            return "JSON or KAFKA_STRING"
    except ValueError:
        pass
    try:
        data.decode()
        return "KAFKA_STRING"
    except UnicodeDecodeError:
        return "KAFKA_BYTES"


def show(data: bytes | None, is_key: bool) -> str:
    if data is None:
        return "<null>"
    if is_key and len(data) == 4 and not data.decode(errors="replace").isprintable():
        return str(struct.unpack(">i", data)[0])
    if is_key and len(data) == 8 and not data.decode(errors="replace").isprintable():
        return str(struct.unpack(">q", data)[0])
    return data.decode(errors="replace")


def rowtime(millis: int) -> str:
    moment = datetime.datetime.fromtimestamp(millis / 1000, datetime.UTC)
    return moment.strftime("%Y/%m/%d %H:%M:%S.") + f"{millis % 1000:03d} Z"


class TopicPrinter:
    def __init__(self, bootstrap: str, topics: list[str], statement) -> None:
        self.bootstrap = bootstrap
        self.topic = self._resolve(statement.topic, topics)
        self.from_beginning = statement.from_beginning
        self.interval = max(statement.interval or 1, 1)
        self.limit = statement.limit
        self.stopping = threading.Event()
        self.query_id = f"print_{uuid.uuid4().hex[:12]}"

    @staticmethod
    def _resolve(name: str, topics: list[str]) -> str:
        if name in topics:
            return name
        matches = [t for t in topics if t.lower() == name.lower()]
        if len(matches) == 1:
            return matches[0]
        raise KsqlException(f"Could not find topic '{name}', KSQL uses case-sensitive names.")

    def start(self, on_line: Callable[[str], None], on_done: Callable[[Exception | None], None]):
        def main() -> None:
            error = None
            try:
                self._run(on_line)
            except Exception as exc:
                error = exc
            on_done(error)

        threading.Thread(target=main, name=self.query_id, daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()

    def _run(self, on_line: Callable[[str], None]) -> None:
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": self.query_id,
             "enable.auto.commit": False}
        )  # fmt: skip
        try:
            partitions = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            start = OFFSET_BEGINNING if self.from_beginning else OFFSET_END
            consumer.assign([TopicPartition(self.topic, p, start) for p in partitions])
            seen = printed = 0
            while not self.stopping.is_set():
                for message in next_batch(consumer):
                    if message.error() is not None:
                        continue
                    if seen == 0:
                        on_line(f"Key format: {key_format(message.key())}")
                        on_line(f"Value format: {value_format(message.value())}")
                    seen += 1
                    if (seen - 1) % self.interval:
                        continue
                    on_line(
                        f"rowtime: {rowtime(message.timestamp()[1])}, "
                        f"key: {show(message.key(), True)}, "
                        f"value: {show(message.value(), False)}, "
                        f"partition: {message.partition()}"
                    )
                    printed += 1
                    if self.limit is not None and printed >= self.limit:
                        return
        finally:
            consumer.close()
