"""Zig-zag varints, as Kafka's ``ByteUtils.writeVarint`` writes them: the Confluent wire format's
Protobuf message indexes and Kafka Streams' serialized ``Change`` use them."""

from __future__ import annotations


def write_zigzag(value: int) -> bytes:
    """``value`` (a signed int) zig-zag encoded, then 7 bits a byte, low bits first."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_zigzag(data: bytes, pos: int = 0) -> tuple[int, int]:
    """The signed value of the varint at ``data[pos:]`` and the position after it; ValueError
    when ``data`` ends inside it."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7
