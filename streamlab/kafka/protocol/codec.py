"""Frames on the wire: size-prefixed requests in, size-prefixed responses out, via kio entities.

Traps handled here (research/kafka-emulator.md §1.6): trailing bytes after a request body are
ignored, as Kafka does (librdkafka's all-topics Metadata leaves three); kio's native reader raises
on unknown tagged fields, which we report as a decode error instead of crashing the connection
task; ApiVersions answers always use response header v0.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import cache

from kio.index import UnknownAPIKey, UnknownEntity, load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from streamlab.kafka.protocol import guard

SIZE = struct.Struct(">i")
HEADER_PREFIX = struct.Struct(">hhi")  # api_key, api_version, correlation_id


class DecodeError(Exception):
    """The frame is not a request we can read; the connection will be closed."""


@dataclass(slots=True)
class Request:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: object
    size: int


def peek_header(frame: bytes) -> tuple[int, int, int]:
    if len(frame) < HEADER_PREFIX.size:
        raise DecodeError(f"frame of {len(frame)} bytes is too short for a request header")
    return HEADER_PREFIX.unpack_from(frame, 0)


@cache
def request_schema(api_key: int, api_version: int) -> type | None:
    try:
        return load_request_schema(api_key, api_version)
    except (UnknownAPIKey, UnknownEntity):
        return None


@cache
def response_schema(api_key: int, api_version: int) -> type:
    return load_response_schema(api_key, api_version)


def decode_request(frame: bytes) -> Request:
    api_key, api_version, correlation_id = peek_header(frame)
    schema = request_schema(api_key, api_version)
    if schema is None:
        raise DecodeError(f"no schema for api_key={api_key} version={api_version}")
    try:
        # Structure first: kio's native reader must never see an impossible count (see guard).
        guard.check(frame, 0, schema.__header_schema__, header=True)
        header, used = entity_reader(schema.__header_schema__)(frame, 0)
        guard.check(frame, used, schema)
        body, _ = entity_reader(schema)(frame, used)
    except Exception as e:  # kio's native reader raises several types for bad input
        raise DecodeError(f"cannot decode {schema.__name__} v{api_version}: {e}") from None
    return Request(api_key, api_version, correlation_id, header.client_id, body, len(frame))


def encode_response(correlation_id: int, body: object) -> bytes:
    cls = type(body)
    header_cls = cls.__header_schema__
    buf = io.BytesIO()
    buf.write(b"\0\0\0\0")
    entity_writer(header_cls)(buf, header_cls(correlation_id=correlation_id))
    entity_writer(cls)(buf, body)
    data = buf.getbuffer()
    SIZE.pack_into(data, 0, len(data) - 4)
    return bytes(data)
