"""A structural check of a request frame before kio's native reader sees it.

Two hazards make this necessary (both found by the fuzzer in tests/integration/test_bad_input.py):

* kio's reader reserves memory from an array's count on the wire before reading the elements, so
  a 20-byte frame claiming 2**32-2 elements makes it ask for tens of GiB and the process aborts.
  Every element takes at least one byte, so a count larger than the bytes left is refused here.
* kio decodes a null array/string where the schema forbids null, and handlers then fail on None.
  Kafka refuses such a request ("non-nullable field ... was serialized as null"); so do we.

The walk follows the schema field by field (wire order, flexible or not, tagged-field sections),
reading only lengths and counts; it is compiled once per entity class.
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache

from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    PrimitiveTupleField,
    classify_field,
    get_field_tag,
    is_optional,
)

FIXED_SIZES = {
    "bool": 1, "int8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8,
    "uint64": 8, "float64": 8, "timedelta_i32": 4, "timedelta_i64": 8, "datetime_i64": 8,
    "error_code": 2, "uuid": 16,
}  # fmt: skip


class MalformedRequest(ValueError):
    pass


# A plan step: (name, kind, nullable, detail)
#   kind "fixed": detail = size; "string"/"bytes": detail = None; "entity": detail = plan
#   "array": detail = element step (kind, detail)
@cache
def _plan(cls: type, legacy_client_id: bool = False) -> tuple[bool, tuple]:
    steps = []
    for f in fields(cls):
        if get_field_tag(f) is not None:
            continue  # tagged fields live in the trailing tagged section
        kind = classify_field(f)
        nullable = is_optional(f)
        kafka_type = f.metadata.get("kafka_type")
        if isinstance(kind, EntityTupleField):
            steps.append((f.name, "array", nullable, ("entity", _plan(kind.type_))))
        elif isinstance(kind, PrimitiveTupleField):
            steps.append((f.name, "array", nullable, _primitive(kafka_type)))
        elif isinstance(kind, EntityField):
            steps.append((f.name, "entity", nullable, _plan(kind.type_)))
        else:
            k, detail = _primitive(kafka_type)
            if legacy_client_id and f.name == "client_id":
                k = "legacy_string"  # request header v2 keeps an int16-length client_id
            steps.append((f.name, k, nullable, detail))
    return cls.__flexible__, tuple(steps)


def _primitive(kafka_type: str) -> tuple[str, object]:
    if kafka_type in FIXED_SIZES:
        return "fixed", FIXED_SIZES[kafka_type]
    if kafka_type == "string":
        return "string", None
    if kafka_type in ("bytes", "records"):
        return "bytes", None
    raise MalformedRequest(f"unsupported schema type {kafka_type}")


class _Reader:
    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos, self.end = buf, pos, len(buf)

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.end:
            raise MalformedRequest(f"{what}: needs {n} bytes, {self.end - self.pos} left")

    def int_be(self, size: int, what: str) -> int:
        self.need(size, what)
        v = int.from_bytes(self.buf[self.pos : self.pos + size], "big", signed=True)
        self.pos += size
        return v

    def uvarint(self, what: str) -> int:
        shift = value = 0
        while True:
            self.need(1, what)
            b = self.buf[self.pos]
            self.pos += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise MalformedRequest(f"{what}: varint too long")


def check(buf: bytes, pos: int, cls: type, header: bool = False) -> None:
    """Raise MalformedRequest if ``buf[pos:]`` cannot be a valid ``cls`` (trailing bytes are
    allowed, as Kafka allows them)."""
    _walk(_Reader(buf, pos), _plan(cls, header), cls.__name__)


def _walk(r: _Reader, plan: tuple[bool, tuple], path: str) -> None:
    flexible, steps = plan
    for name, kind, nullable, detail in steps:
        _value(r, flexible, kind, nullable, detail, f"{path}.{name}")
    if flexible:
        _tagged(r, path)


def _value(r: _Reader, flexible: bool, kind: str, nullable: bool, detail, what: str) -> None:
    if kind == "fixed":
        r.need(detail, what)
        r.pos += detail
    elif kind in ("string", "bytes", "legacy_string"):
        if flexible and kind != "legacy_string":
            n = r.uvarint(what) - 1
        else:
            n = r.int_be(2 if kind != "bytes" else 4, what)
        if n < 0:
            if n != -1 or not nullable:
                raise MalformedRequest(f"non-nullable field {what} was serialized as null")
            return
        r.need(n, what)
        r.pos += n
    elif kind == "entity":
        if nullable:  # KIP-893: a nullable struct starts with a marker, -1 null, 1 present
            r.need(1, what)
            marker = r.buf[r.pos]
            r.pos += 1
            if marker == 0xFF:
                return
            if marker != 1:
                raise MalformedRequest(f"{what}: invalid struct presence marker {marker}")
        _walk(r, detail, what)
    elif kind == "array":
        n = r.uvarint(what) - 1 if flexible else r.int_be(4, what)
        if n < 0:
            if n != -1 or not nullable:
                raise MalformedRequest(f"non-nullable field {what} was serialized as null")
            return
        if n > r.end - r.pos:
            raise MalformedRequest(f"{what}: {n} elements cannot fit in {r.end - r.pos} bytes")
        ekind, edetail = detail
        for _ in range(n):
            _value(r, flexible, ekind, False, edetail, what)
    else:  # pragma: no cover - plans only hold the kinds above
        raise MalformedRequest(f"{what}: unknown kind {kind}")


def _tagged(r: _Reader, what: str) -> None:
    n = r.uvarint(f"{what} tagged fields")
    if n > r.end - r.pos:
        raise MalformedRequest(f"{what}: {n} tagged fields cannot fit in {r.end - r.pos} bytes")
    for _ in range(n):
        r.uvarint(f"{what} tag")
        size = r.uvarint(f"{what} tag size")
        r.need(size, f"{what} tagged field")
        r.pos += size
