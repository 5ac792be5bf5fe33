"""The KAFKA format: one primitive per key or value, in Kafka's own serializer encodings.

INTEGER is a 4-byte big-endian int, BIGINT an 8-byte long, DOUBLE an IEEE-754 double, STRING
UTF-8 and BYTES the raw bytes. With no columns (a keyless stream) the bytes are ignored.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.formats.base import (
    Deserializer,
    Format,
    FormatInfo,
    SerdeFeature,
    Serializer,
    register_format,
)
from streamlab.ksql.schema import Column
from streamlab.ksql.types import SqlBaseType, SqlType

B = SqlBaseType


def _pack(fmt: str) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any], int]:
    codec = struct.Struct(fmt)
    return codec.pack, lambda data: codec.unpack(data)[0], codec.size


_PRIMITIVES: dict[
    SqlBaseType, tuple[Callable[[Any], bytes], Callable[[bytes], Any], int | None, str]
] = {
    B.INTEGER: (*_pack(">i"), "IntegerDeserializer"),
    B.BIGINT: (*_pack(">q"), "LongDeserializer"),
    B.DOUBLE: (*_pack(">d"), "DoubleDeserializer"),
    B.STRING: (lambda v: v.encode("utf-8"), lambda d: d.decode("utf-8"), None, ""),
    B.BYTES: (bytes, bytes, None, ""),
}


def _check_type(sql_type: SqlType) -> None:
    if sql_type.base not in _PRIMITIVES:
        raise KsqlException(f"The 'KAFKA' format does not support type '{sql_type.base.value}'")


class KafkaFormat(Format):
    name = "KAFKA"
    supported_features = frozenset({SerdeFeature.UNWRAP_SINGLES})
    supports_multiple_columns = False

    def supports_key_type(self, sql_type: SqlType) -> bool:
        return sql_type.base in _PRIMITIVES

    def check_columns(self, columns: Sequence[Column]) -> None:
        if len(columns) > 1:
            listed = ", ".join(str(c) for c in columns)
            raise KsqlException(f"The 'KAFKA' format only supports a single field. Got: [{listed}]")
        for column in columns:
            _check_type(column.type)

    def serializer(self, columns, features, info: FormatInfo, is_key: bool) -> Serializer:
        if not columns:
            return lambda values: None
        self.check_columns(columns)
        pack = _PRIMITIVES[columns[0].type.base][0]

        def write(values: Sequence[Any] | None) -> bytes | None:
            if values is None or values[0] is None:
                return None
            return pack(values[0])

        return write

    def deserializer(self, columns, features, info: FormatInfo, is_key: bool) -> Deserializer:
        if not columns:
            return lambda data: None if data is None else []
        self.check_columns(columns)
        _, unpack, size, name = _PRIMITIVES[columns[0].type.base]

        def read(data: bytes | None) -> list[Any] | None:
            if data is None:
                return None
            if size is not None and len(data) != size:
                raise ValueError(f"Size of data received by {name} is not {size}")
            return [unpack(data)]

        return read


KAFKA = register_format(KafkaFormat())
