"""The harness's own serializers: test-file values to bytes and output bytes back to values.

These are not the engine's formats: like ksqlDB's runner (``ValueSpec*SerdeSupplier``), the
harness writes JSON specs as they are, DELIMITED values as plain strings and KAFKA values from
the column type, and reads outputs back the same way, so both sides of the comparison are
independent of the engine's serializers.
"""

from __future__ import annotations

import json
import struct
from decimal import Decimal
from typing import Any

from streamlab.ksql.catalog import DataSource
from streamlab.ksql.schema import Column, Namespace
from streamlab.ksql.types import SqlBaseType


class HarnessSerdeError(Exception):
    pass


def _spec_json(value: Any) -> str:
    """JSON text of a spec value: decimals as written, no extra spaces (Jackson)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + _spec_json(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_spec_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _kafka_serialize(value: Any, column: Column | None) -> bytes | None:
    if value is None:
        return None
    if column is None:
        return str(value).encode()
    base = column.type.base
    try:
        if base is SqlBaseType.INTEGER:
            return struct.pack(">i", int(value))
        if base is SqlBaseType.BIGINT:
            return struct.pack(">q", int(value))
        if base is SqlBaseType.DOUBLE:
            return struct.pack(">d", float(value))
        if base is SqlBaseType.BYTES:
            import base64

            return base64.b64decode(value)
    except (TypeError, ValueError, struct.error) as error:
        raise HarnessSerdeError(f"Can't serialize {value!r} as {base.value}") from error
    return str(value).encode()


def _kafka_deserialize(data: bytes | None, column: Column | None) -> Any:
    if data is None:
        return None
    if column is None:
        return data.decode()
    base = column.type.base
    try:
        if base is SqlBaseType.INTEGER:
            return struct.unpack(">i", data)[0]
        if base is SqlBaseType.BIGINT:
            return struct.unpack(">q", data)[0]
        if base is SqlBaseType.DOUBLE:
            return struct.unpack(">d", data)[0]
        if base is SqlBaseType.BYTES:
            return bytes(data)
    except struct.error as error:
        raise HarnessSerdeError(f"Failed to deserialize {base.value}: {error}") from error
    return data.decode()


class TopicSerde:
    """How the harness writes and reads one topic, from the source that uses it."""

    def __init__(self, source: DataSource, exact_numbers: bool = True) -> None:
        self.source = source
        self.exact_numbers = exact_numbers
        self.key_format = source.topic.key_format.format
        self.value_format = source.topic.value_format.format
        key_columns = list(source.schema.key)
        value_columns = [c for c in source.schema.columns if c.namespace is Namespace.VALUE]
        self.key_column = key_columns[0] if len(key_columns) == 1 else None
        self.value_column = value_columns[0] if len(value_columns) == 1 else None
        self.key_count = len(key_columns)
        self.value_count = len(value_columns)

    def _write(self, spec: Any, fmt: str, column: Column | None, count: int) -> bytes | None:
        if fmt == "NONE":
            return None
        if spec is None:
            return None
        if fmt == "JSON":
            return _spec_json(spec).encode()
        if fmt == "KAFKA":
            if count > 1:
                raise HarnessSerdeError("KAFKA format only supports single column schemas.")
            return _kafka_serialize(spec, column)
        if fmt == "DELIMITED":
            return (spec if isinstance(spec, str) else _spec_json(spec)).encode()
        raise HarnessSerdeError(f"The harness cannot write format {fmt}")

    def _read(self, data: bytes | None, fmt: str, column: Column | None, count: int) -> Any:
        if fmt == "NONE" or data is None:
            return None
        if fmt == "JSON":
            parse_float = Decimal if self.exact_numbers else float
            return json.loads(data, parse_float=parse_float)
        if fmt == "KAFKA":
            return _kafka_deserialize(data, column)
        if fmt == "DELIMITED":
            return data.decode()
        raise HarnessSerdeError(f"The harness cannot read format {fmt}")

    def serialize_key(self, spec: Any) -> bytes | None:
        return self._write(spec, self.key_format, self.key_column, self.key_count)

    def serialize_value(self, spec: Any) -> bytes | None:
        return self._write(spec, self.value_format, self.value_column, self.value_count)

    def deserialize_key(self, data: bytes | None) -> Any:
        return self._read(data, self.key_format, self.key_column, self.key_count)

    def deserialize_value(self, data: bytes | None) -> Any:
        return self._read(data, self.value_format, self.value_column, self.value_count)
