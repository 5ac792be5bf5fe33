"""The state-store interface: one :class:`Store` per operator, one partition per input partition.

Keys are tuples of SQL values (the group key, optionally with window bounds); values are any
Python value the operator keeps (aggregate accumulators, rows). Every ``put``/``delete`` is
reported to the store's changelog callback ``(partition, key, value_or_None)`` so a backend
that persists (RocksDB) or a runtime that writes changelog topics can follow along, and a
restore replays that changelog through :meth:`StorePartition.restore`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

Key = tuple[Any, ...]
ChangelogCallback = Callable[[int, Key, Any], None]


class StorePartition(ABC):
    """The state of one input partition of one store."""

    @abstractmethod
    def get(self, key: Key, default: Any = None) -> Any: ...

    @abstractmethod
    def put(self, key: Key, value: Any) -> None: ...

    @abstractmethod
    def delete(self, key: Key) -> None: ...

    @abstractmethod
    def range(self, start: Key | None = None, end: Key | None = None) -> Iterator[tuple[Key, Any]]:
        """Entries with ``start <= key < end`` in key order (None: unbounded)."""

    @abstractmethod
    def restore(self, key: Key, value: Any) -> None:
        """Apply one changelog entry without reporting it again (None value: delete)."""


class Store(ABC):
    """A named store; partitions are created on first use."""

    def __init__(self, name: str, changelog: ChangelogCallback | None = None) -> None:
        self.name = name
        self.changelog = changelog

    @abstractmethod
    def partition(self, partition: int) -> StorePartition: ...
