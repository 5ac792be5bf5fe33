"""Records on topics and rows between operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(slots=True)
class Record:
    """A Kafka record: what topics hold and what sources read and sinks write."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    partition: int = 0
    offset: int = -1
    headers: Headers = ()


class Row:
    """A row between operators: key column values, the processing row, and record metadata.

    ``key`` is None for a NULL key; ``value`` is None for a NULL value (a tombstone).
    """

    __slots__ = ("headers", "key", "offset", "partition", "timestamp", "value")

    def __init__(
        self,
        key: list[Any] | None,
        value: list[Any] | None,
        timestamp: int,
        partition: int = 0,
        offset: int = -1,
        headers: Headers = (),
    ) -> None:
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.partition = partition
        self.offset = offset
        self.headers = headers

    def __repr__(self) -> str:
        return f"Row(key={self.key!r}, value={self.value!r}, ts={self.timestamp})"
