"""Serialization formats: JSON, KAFKA, DELIMITED and NONE, byte-compatible with ksqlDB's, and
PROTOBUF and JSON_SR through the Schema Registry (``schema_registry.configure(url)``; see
``protobuf.py`` and ``json_sr.py``).

AVRO and PROTOBUF_NOSR are known but not supported yet.

:func:`serde` builds the row serializer/deserializer pair for a set of columns, with ksqlDB's
error wording (``Failed to deserialize value from topic: t. <cause>``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streamlab.ksql.errors import SerializationError
from streamlab.ksql.formats import delimited, json, json_sr, kafka, none, protobuf, schema_registry
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

for _name in ("AVRO", "PROTOBUF_NOSR"):
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
    topic: str | None = None,
) -> RowSerde:
    """``topic``: where the serializer writes (the SR formats register their schema there)."""
    target = "key" if is_key else "value"
    if fmt.requires_schema_registry:
        write = fmt.serializer(columns, features, info, is_key, topic=topic)  # type: ignore[call-arg]
    else:
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


def check_registry(format_name: str, topic: str) -> None:
    """ksqlDB's error when a Schema Registry format is used without a registry configured."""
    if get_format(format_name).requires_schema_registry:
        schema_registry.require(get_format(format_name).name, topic)


def infer_columns(format_name: str, topic: str, is_key: bool) -> list[Column] | None:
    """The columns ksqlDB infers from ``<topic>-value``/``-key`` for an SR format (else None)."""
    from streamlab.ksql.schema import Namespace

    fmt = get_format(format_name)
    infer = getattr(fmt, "infer", None)
    if not fmt.requires_schema_registry or infer is None:
        return None
    schema_registry.require(fmt.name, topic)
    namespace = Namespace.KEY if is_key else Namespace.VALUE
    return [Column(name, sql_type, namespace) for name, sql_type in infer(topic, is_key)]


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
    "check_registry",
    "delimited",
    "get_format",
    "infer_columns",
    "json",
    "json_sr",
    "kafka",
    "key_features",
    "none",
    "persistence_text",
    "protobuf",
    "schema_registry",
    "serde",
    "value_features",
]
