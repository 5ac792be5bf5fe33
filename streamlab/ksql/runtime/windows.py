"""Windows: bounds, assignment, and the windowed key encoding (Kafka Streams' layout).

Three layers, as in quix-streams: the definition (:class:`~streamlab.ksql.planner.aggregate.
WindowSpec`, built from the WINDOW clause), the operator (:mod:`streamlab.ksql.runtime.aggregate`)
and storage (a :class:`~streamlab.ksql.state.Store` keyed by ``(group key, window start)``).

On the wire a windowed key is the inner key's bytes followed by the window bounds as big-endian
int64: ``inner ‖ start`` for TUMBLING/HOPPING and ``inner ‖ end ‖ start`` for SESSION.

>>> time_windows(7, size=5, advance=5)
[5]
>>> time_windows(7, size=10, advance=5)
[0, 5]
>>> decode_time_key(encode_time_key(b"k", Window(5, 10, False)), 5)
(b'k', Window(start=5, end=10, session=False))
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_LONG = struct.Struct(">q")


@dataclass(frozen=True, slots=True)
class Window:
    """Window bounds in ms: ``[start, end)`` for time windows, ``[start, end]`` for sessions."""

    start: int
    end: int
    session: bool = False


def time_windows(timestamp: int, size: int, advance: int) -> list[int]:
    """Starts of every time window containing ``timestamp`` (multiples of ``advance``, ≥ 0)."""
    first = max(0, timestamp - size + advance)
    first -= first % advance
    return [s for s in range(first, timestamp + 1, advance) if s <= timestamp < s + size]


def encode_time_key(inner: bytes, window: Window) -> bytes:
    return inner + _LONG.pack(window.start)


def encode_session_key(inner: bytes, window: Window) -> bytes:
    return inner + _LONG.pack(window.end) + _LONG.pack(window.start)


def encode_windowed_key(inner: bytes, window: Window) -> bytes:
    if window.session:
        return encode_session_key(inner, window)
    return encode_time_key(inner, window)


def decode_time_key(data: bytes, size: int | None) -> tuple[bytes, Window]:
    start = _LONG.unpack(data[-8:])[0]
    end = start + size if size is not None else start
    return data[:-8], Window(start, end, False)


def decode_session_key(data: bytes) -> tuple[bytes, Window]:
    end = _LONG.unpack(data[-16:-8])[0]
    start = _LONG.unpack(data[-8:])[0]
    return data[:-16], Window(start, end, True)
