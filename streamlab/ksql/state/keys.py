"""An order-preserving byte encoding of store keys, so RocksDB's byte order is key order.

RocksDB sorts keys as unsigned bytes; :meth:`StorePartition.range` promises the order of
:func:`~streamlab.ksql.state.memory.key_order`: element by element, NULL first, values of
different Python types grouped by type name, values of one type in their natural order. Each
element is encoded so that comparing the bytes compares the values, and no encoding is a prefix
of another; a key is its elements' encodings one after the other, so a shorter key that is a
prefix of a longer one sorts first, as Python compares tuples.

====================== =========================================================================
element                bytes
====================== =========================================================================
``None``               ``01``
other values           ``02`` + type name + ``00`` + payload (so types sort by name)
``bool``               ``00`` / ``01``
``int``                length byte (``80 + n`` for n magnitude bytes, ``7f - n`` if negative)
                       + big-endian magnitude (complemented if negative)
``float``              IEEE 754 big-endian, sign bit flipped (all bits if negative); -0.0 is 0.0
``str`` / ``bytes``    UTF-8 / raw bytes, ``00`` escaped as ``00 ff``, ended by ``00 01``
``Decimal``            sign, adjusted exponent and digits (order), then the exponent (exact value)
``list`` / ``tuple``   the elements, ended by ``00``
``dict`` (MAP/STRUCT)  keys and values alternately, in the dict's order, ended by ``00``
====================== =========================================================================

What differs from a Python dict of the same keys: ``1``, ``1.0`` and ``True`` are three keys
(a SQL key column has one type, so they never meet), ``Decimal("1.0")`` and ``Decimal("1")``
are two (they sort together; a DECIMAL column has one scale), and dicts with the same items in
another order are two (a STRUCT's fields have one order).

>>> encode_key((None, 1)) < encode_key((-5,)) < encode_key(("a",))
True
>>> decode_key(encode_key(("a\\x00b", -3, 2.5, [1, None])))
('a\\x00b', -3, 2.5, [1, None])
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

from streamlab.ksql.errors import KsqlException

_NONE = 0x01
_VALUE = 0x02
_END = 0x00
_ESCAPE = b"\x00\xff"
_TERMINATOR = b"\x00\x01"
_MAX_INT_BYTES = 126
_DOUBLE = struct.Struct(">Q")


class KeyEncodingError(KsqlException):
    """A key element this encoding cannot store (names the type and what it supports)."""


# ---- encoding ------------------------------------------------------------------------------------


def encode_key(key: tuple[Any, ...]) -> bytes:
    """The bytes of a store key (a tuple of SQL values); see the module docstring."""
    if not isinstance(key, tuple):
        raise KeyEncodingError(f"A store key must be a tuple, got {type(key).__name__}: {key!r}")
    out = bytearray()
    for element in key:
        _encode(element, out)
    return bytes(out)


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(_NONE)
        return
    found = _BY_TYPE.get(type(value))
    if found is None:
        raise KeyEncodingError(
            f"Cannot store a key element of type '{type(value).__name__}' ({value!r}) in a "
            f"RocksDB store; supported: None, {', '.join(sorted(_WRITERS))}."
        )
    tag, writer = found
    out += tag
    writer(value, out)


def _write_bool(value: bool, out: bytearray) -> None:
    out.append(1 if value else 0)


def _write_int(value: int, out: bytearray) -> None:
    magnitude = abs(value)
    size = (magnitude.bit_length() + 7) // 8
    if size > _MAX_INT_BYTES:
        raise KeyEncodingError(f"Integer key element too large to store: {size} bytes")
    if value >= 0:
        out.append(0x80 + size)
        out += magnitude.to_bytes(size, "big")
    else:  # more bytes = more negative = smaller; within a size, complement reverses the order
        out.append(0x7F - size)
        out += ((1 << (8 * size)) - 1 - magnitude).to_bytes(size, "big")


def _write_float(value: float, out: bytearray) -> None:
    if value == 0.0:
        value = 0.0  # -0.0 == 0.0: one key
    elif value != value:
        value = float("nan")  # one NaN
    bits = _DOUBLE.unpack(struct.pack(">d", value))[0]
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    out += _DOUBLE.pack(bits)


def _write_bytes(value: bytes, out: bytearray) -> None:
    out += value.replace(b"\x00", _ESCAPE)
    out += _TERMINATOR


def _write_str(value: str, out: bytearray) -> None:
    # UTF-8 byte order is code point order, which is how Python compares strings
    out += value.encode("utf-8", "surrogatepass").replace(b"\x00", _ESCAPE)
    out += _TERMINATOR


def _write_decimal(value: Decimal, out: bytearray) -> None:
    if not value.is_finite():
        raise KeyEncodingError(f"Cannot store a non-finite DECIMAL key element: {value}")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0")
    if not text:  # zero, of any scale
        out.append(0x01)
    elif sign:  # negative: larger magnitudes first, every part reversed
        out.append(0x00)
        _write_int(-value.adjusted(), out)
        out += bytes(0x39 - ord(c) + 0x30 for c in text) + b"\xff"
    else:
        out.append(0x02)
        _write_int(value.adjusted(), out)
        out += text.encode() + b"\x00"
    _write_int(exponent, out)
    _write_int(len(digits), out)
    out.append(sign)


def _write_sequence(value: list | tuple, out: bytearray) -> None:
    for element in value:
        _encode(element, out)
    out.append(_END)


def _write_dict(value: dict, out: bytearray) -> None:
    for name, element in value.items():
        _encode(name, out)
        _encode(element, out)
    out.append(_END)


_WRITERS = {
    "Decimal": _write_decimal,
    "bool": _write_bool,
    "bytes": _write_bytes,
    "dict": _write_dict,
    "float": _write_float,
    "int": _write_int,
    "list": _write_sequence,
    "str": _write_str,
    "tuple": _write_sequence,
}
_TYPES = (Decimal, bool, bytes, dict, float, int, list, str, tuple)
# exact types (a subclass has another name, so another place in key_order): tag and writer
_BY_TYPE = {
    t: (bytes([_VALUE]) + t.__name__.encode() + b"\x00", _WRITERS[t.__name__]) for t in _TYPES
}


# ---- decoding ------------------------------------------------------------------------------------


def decode_key(data: bytes) -> tuple[Any, ...]:
    """The key :func:`encode_key` encoded."""
    out = []
    position = 0
    while position < len(data):
        value, position = _decode(data, position)
        out.append(value)
    return tuple(out)


def _decode(data: bytes, position: int) -> tuple[Any, int]:
    tag = data[position]
    if tag == _NONE:
        return None, position + 1
    if tag != _VALUE:
        raise KeyEncodingError(f"Corrupt store key at byte {position}: {data!r}")
    end = data.index(0, position + 1)
    name = data[position + 1 : end].decode()
    return _READERS[name](data, end + 1)


def _read_bool(data: bytes, position: int) -> tuple[bool, int]:
    return data[position] == 1, position + 1


def _read_int(data: bytes, position: int) -> tuple[int, int]:
    head = data[position]
    position += 1
    if head >= 0x80:
        size = head - 0x80
        return int.from_bytes(data[position : position + size], "big"), position + size
    size = 0x7F - head
    complement = int.from_bytes(data[position : position + size], "big")
    return -((1 << (8 * size)) - 1 - complement), position + size


def _read_float(data: bytes, position: int) -> tuple[float, int]:
    bits = _DOUBLE.unpack_from(data, position)[0]
    bits = bits ^ (1 << 63) if bits >> 63 else bits ^ 0xFFFFFFFFFFFFFFFF
    return struct.unpack(">d", _DOUBLE.pack(bits))[0], position + 8


def _read_bytes(data: bytes, position: int) -> tuple[bytes, int]:
    out = bytearray()
    while True:
        zero = data.index(0, position)
        out += data[position:zero]
        if data[zero + 1] == 0x01:
            return bytes(out), zero + 2
        out.append(0)
        position = zero + 2


def _read_str(data: bytes, position: int) -> tuple[str, int]:
    raw, position = _read_bytes(data, position)
    return raw.decode("utf-8", "surrogatepass"), position


def _read_decimal(data: bytes, position: int) -> tuple[Decimal, int]:
    kind = data[position]
    position += 1
    text = ""
    if kind == 0x00:
        _, position = _read_int(data, position)
        end = data.index(0xFF, position)
        text = "".join(chr(0x39 - b + 0x30) for b in data[position:end])
        position = end + 1
    elif kind == 0x02:
        _, position = _read_int(data, position)
        end = data.index(0, position)
        text = data[position:end].decode()
        position = end + 1
    exponent, position = _read_int(data, position)
    count, position = _read_int(data, position)
    sign = data[position]
    digits = tuple(int(c) for c in text.ljust(count, "0")) if count else ()
    return Decimal((sign, digits, exponent)), position + 1


def _read_list(data: bytes, position: int) -> tuple[list, int]:
    out = []
    while data[position] != _END:
        value, position = _decode(data, position)
        out.append(value)
    return out, position + 1


def _read_tuple(data: bytes, position: int) -> tuple[tuple, int]:
    out, position = _read_list(data, position)
    return tuple(out), position


def _read_dict(data: bytes, position: int) -> tuple[dict, int]:
    out = {}
    while data[position] != _END:
        name, position = _decode(data, position)
        out[name], position = _decode(data, position)
    return out, position + 1


_READERS = {
    "Decimal": _read_decimal,
    "bool": _read_bool,
    "bytes": _read_bytes,
    "dict": _read_dict,
    "float": _read_float,
    "int": _read_int,
    "list": _read_list,
    "str": _read_str,
    "tuple": _read_tuple,
}
