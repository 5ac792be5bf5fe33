"""Schema Registry access for the PROTOBUF and JSON_SR formats, and the Confluent wire format.

The engine configures one registry per process (``ksql.schema.registry.url``, set from
``python -m streamlab.ksql --registry-url``) with :func:`configure`. Schemas are fetched with
confluent-kafka's ``SchemaRegistryClient``, which caches them by id and subject.

Wire format: magic byte ``0``, the schema id as a 4-byte big-endian int, then (Protobuf only)
the message indexes as zigzag varints, then the payload.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.formats.varint import read_zigzag, write_zigzag

REGISTRY_URL_PROPERTY = "ksql.schema.registry.url"

_lock = threading.Lock()
_url: str | None = None
_client: Any = None


def configure(url: object) -> None:
    """Use the registry at ``url`` (None: no registry) for the SR formats of this process."""
    global _url, _client
    text = str(url).strip() if url else None
    with _lock:
        if text != _url:
            _url, _client = text or None, None


def url() -> str | None:
    return _url


def client() -> Any:
    """The process's ``SchemaRegistryClient``; ksqlDB's error when none is configured."""
    global _client
    with _lock:
        if _url is None:
            raise KsqlException(
                f"Schema Registry is not configured: set '{REGISTRY_URL_PROPERTY}' "
                "(python -m streamlab.ksql --registry-url URL) to use the PROTOBUF and JSON_SR "
                "formats."
            )
        if _client is None:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            # ``mock://…`` gives confluent-kafka's in-memory registry (unit tests).
            _client = SchemaRegistryClient.new_client({"url": _url})
        return _client


def require(format_name: str, topic: str | None = None) -> None:
    """ksqlDB's error for an SR format used without a registry."""
    if _url is None:
        where = f"topic '{topic}'" if topic else "a source"
        raise KsqlException(
            f"Cannot create {where} with format {format_name} without configuring "
            f"'{REGISTRY_URL_PROPERTY}'"
        )


def subject(topic: str, is_key: bool) -> str:
    return f"{topic}-{'key' if is_key else 'value'}"


def missing_schema_error(topic: str, is_key: bool) -> KsqlException:
    kind = "keys" if is_key else "values"
    name = subject(topic, is_key)
    return KsqlException(
        f"Schema for message {kind} on topic '{topic}' does not exist in the Schema Registry."
        f"\nSubject: {name}\n\n"
        "Possible causes include:\n"
        "- The topic itself does not exist\n"
        "\t-> Use SHOW TOPICS; to check\n"
        "- Messages on the topic are not serialized using a format Schema Registry supports\n"
        f"\t-> Use PRINT '{topic}' FROM BEGINNING; to verify\n"
        "- Messages on the topic have not been serialized using a Confluent Schema Registry "
        "supported serializer\n"
        "\t-> See https://docs.confluent.io/current/schema-registry/docs/serializer-formatter.html"
        "\n- The schema is registered on a different topic or subject\n"
        "\t-> You can specify the subject name with KEY_SCHEMA_ID/VALUE_SCHEMA_ID"
    )


def latest(topic: str, is_key: bool, fmt: str | None = None) -> Any | None:
    """The latest ``RegisteredSchema`` of ``<topic>-value``/``-key``, or None when absent."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        return client().get_latest_version(subject(topic, is_key), fmt=fmt)
    except SchemaRegistryError as error:
        if error.http_status_code == 404:
            return None
        raise KsqlException(f"Schema Registry error: {error}") from error


# ---- wire format --------------------------------------------------------------------------------


def split(data: bytes) -> tuple[int, bytes]:
    """``(schema id, rest)`` of a Confluent-framed record; errors as Confluent's deserializers."""
    if len(data) < 5:
        raise ValueError(
            f"Message too small. This message was only {len(data)} bytes, but the Confluent "
            "wire format requires at least 5 bytes"
        )
    if data[0] != 0:
        raise ValueError("Unknown magic byte!")
    return struct.unpack(">I", data[1:5])[0], data[5:]


def header(schema_id: int) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id)


def read_message_indexes(data: bytes) -> tuple[list[int], bytes]:
    try:
        count, pos = read_zigzag(data)
        if count == 0:
            return [0], data[pos:]
        indexes = []
        for _ in range(count):
            index, pos = read_zigzag(data, pos)
            indexes.append(index)
    except ValueError:
        raise ValueError("Truncated message indexes") from None
    return indexes, data[pos:]


def write_message_indexes(indexes: list[int]) -> bytes:
    if indexes == [0]:
        return b"\x00"
    out = write_zigzag(len(indexes))
    for index in indexes:
        out += write_zigzag(index)
    return out
