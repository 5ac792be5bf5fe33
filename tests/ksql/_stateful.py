"""Helpers for the stateful-operator tests: an engine with STRING keys and JSON values."""

from __future__ import annotations

import json
from typing import Any

from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.runtime import Record
from streamlab.ksql.runtime.windows import decode_session_key, decode_time_key


def run(
    statements: str, inputs: list[tuple[str, str | None, dict | None, int]], output: str
) -> list[tuple[Any, Any, int]]:
    """Execute ``statements``, produce ``(topic, key, value, ts)`` inputs, read ``output``.

    Output rows are ``(key, value, ts)``; a windowed key is ``(key, start, end)``.
    """
    engine = KsqlEngine()
    engine.execute(statements)
    for topic, key, value, ts in inputs:
        engine.produce(
            Record(
                topic,
                key.encode() if key is not None else None,
                json.dumps(value).encode() if value is not None else None,
                ts,
            )
        )
    sink = engine.metastore.get_source(output)
    window = sink.topic.key_format.window
    rows = []
    for record in engine.topics.records(sink.topic.name):
        raw = record.key
        key: Any = raw
        if window is not None and raw is not None:
            if window.type.value == "SESSION":
                inner, w = decode_session_key(raw)
            else:
                inner, w = decode_time_key(raw, window.size_ms)
            key = (inner.decode(), w.start, w.end)
        elif raw is not None:
            key = raw.decode()
        value = json.loads(record.value) if record.value is not None else None
        rows.append((key, value, record.timestamp))
    return rows


STREAM = (
    "CREATE STREAM s (k STRING KEY, g STRING, v INT) "
    "WITH (kafka_topic='s', value_format='JSON', partitions=1);"
)
TABLE = (
    "CREATE TABLE t (k STRING PRIMARY KEY, g STRING, v INT) "
    "WITH (kafka_topic='t', value_format='JSON', partitions=1);"
)
