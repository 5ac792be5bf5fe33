"""An in-memory store backend (tests, QTT, the in-process engine)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from streamlab.ksql.state.base import ChangelogCallback, Key, Store, StorePartition


def key_order(key: Key) -> tuple:
    # None sorts first; mixed types compare by type name so range() never raises.
    return tuple((v is not None, type(v).__name__, v) for v in key)


class MemoryStorePartition(StorePartition):
    """A dict; ``range`` sorts on demand (stores here are small)."""

    def __init__(self, partition: int, changelog: ChangelogCallback | None = None) -> None:
        self.partition = partition
        self.changelog = changelog
        self.data: dict[Key, Any] = {}

    def get(self, key: Key, default: Any = None) -> Any:
        return self.data.get(key, default)

    def put(self, key: Key, value: Any) -> None:
        self.data[key] = value
        if self.changelog is not None:
            self.changelog(self.partition, key, value)

    def delete(self, key: Key) -> None:
        if self.data.pop(key, None) is not None and self.changelog is not None:
            self.changelog(self.partition, key, None)

    def range(self, start: Key | None = None, end: Key | None = None) -> Iterator[tuple[Key, Any]]:
        low = key_order(start) if start is not None else None
        high = key_order(end) if end is not None else None
        for key in sorted(self.data, key=key_order):
            ordered = key_order(key)
            if low is not None and ordered < low:
                continue
            if high is not None and ordered >= high:
                break
            yield key, self.data[key]

    def restore(self, key: Key, value: Any) -> None:
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value


class MemoryStore(Store):
    def __init__(self, name: str, changelog: ChangelogCallback | None = None) -> None:
        super().__init__(name, changelog)
        self.partitions: dict[int, MemoryStorePartition] = {}

    def partition(self, partition: int) -> MemoryStorePartition:
        found = self.partitions.get(partition)
        if found is None:
            found = self.partitions[partition] = MemoryStorePartition(partition, self.changelog)
        return found
