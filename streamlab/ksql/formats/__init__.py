"""Serialization formats: JSON, KAFKA, DELIMITED and NONE, byte-compatible with ksqlDB's.

AVRO, PROTOBUF, PROTOBUF_NOSR and JSON_SR are known but not supported yet: they need the
Schema Registry (``streamlab.registry``), which the Kafka runtime part will wire in.

:func:`serde` builds the row serializer/deserializer pair for a set of columns, with ksqlDB's
error wording (``Failed to deserialize value from topic: t. <cause>``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streamlab.ksql.errors import SerializationError
from streamlab.ksql.formats import delimited, json, kafka, none
from streamlab.ksql.formats.base import (
    Format,
    FormatInfo,
    KeyFormat,
    SerdeFeature,
    UnsupportedFormat,
    ValueFormat,
    WindowInfo,
    WindowType,
    check_key_types,
    get_format,
    key_features,
    persistence_text,
    register_format,
    value_features,
)
from streamlab.ksql.schema import Column

for _name in ("AVRO", "PROTOBUF", "PROTOBUF_NOSR", "JSON_SR"):
    register_format(
        UnsupportedFormat(
            _name,
            f"The '{_name}' format is not supported yet by this engine "
            "(it needs the Schema Registry integration).",
        )
    )


@dataclass
class RowSerde:
    """Serializer and deserializer of one side (key or value) of a topic's records."""

    serialize: Callable[[Sequence[Any] | None], bytes | None]
    deserialize: Callable[[bytes | None, str], list[Any] | None]


def serde(
    fmt: Format,
    info: FormatInfo,
    columns: Sequence[Column],
    features: frozenset[SerdeFeature],
    is_key: bool,
) -> RowSerde:
    target = "key" if is_key else "value"
    write = fmt.serializer(columns, features, info, is_key)
    read = fmt.deserializer(columns, features, info, is_key)

    def deserialize(data: bytes | None, topic: str) -> list[Any] | None:
        try:
            return read(data)
        except Exception as error:
            raise SerializationError(
                f"Failed to deserialize {target} from topic: {topic}. {error}"
            ) from error

    def serialize(values: Sequence[Any] | None) -> bytes | None:
        try:
            return write(values)
        except Exception as error:
            raise SerializationError(f"Error serializing {target}: {error}") from error

    return RowSerde(serialize, deserialize)


__all__ = [
    "Format",
    "FormatInfo",
    "KeyFormat",
    "RowSerde",
    "SerdeFeature",
    "ValueFormat",
    "WindowInfo",
    "WindowType",
    "check_key_types",
    "delimited",
    "get_format",
    "json",
    "kafka",
    "key_features",
    "none",
    "persistence_text",
    "serde",
    "value_features",
]
