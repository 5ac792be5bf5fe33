"""Kafka Streams' caching stores: a query's record cache in front of its state stores.

With ``cache.max.bytes.buffering`` > 0 (ksqlDB's default: 10,000,000), Kafka Streams puts a
cache in front of each store. A write goes to the cache only; reads see it at once (the
operator's next record, pull queries). At a commit, and when the cache is full, the cache is
*flushed*: each dirty entry is written to the store and its changelog, then handed to the
store's flush listener, which for an aggregation forwards the row downstream. So a key updated
a thousand times in one commit interval costs one store write, one changelog record and one
output row, and the intermediate rows are never produced, as in ksqlDB with its defaults. With
the cache off (``0``: QTT, the lab) every update is written and forwarded at once.

What is kept per entry is the value and the *origin* (the row that last updated it), which the
listener needs to forward it as that row would have been (Kafka Streams keeps the record
context: partition, offset, timestamp). Entries are flushed in the order of their last update,
as Kafka Streams' dirty-key list; eviction takes the least recently updated entry of the store
being written to. The cache's size is counted in entries (``ENTRY_BYTES`` each), not measured
bytes: values are Python objects, serialized only when they leave the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from streamlab.ksql.state.base import Key, Store, StorePartition
from streamlab.ksql.state.memory import key_order

#: bytes counted per cached entry (key, value, record context and bookkeeping)
ENTRY_BYTES = 200

#: ``listener(key, value, origin)``: an entry leaves the cache (value None: it was deleted);
#: a store wrapped with ``old_values`` calls ``listener(key, value, origin, old)``, ``old``
#: being what the store held before (Kafka Streams' caching stores read it from the store
#: underneath, e.g. ``CachingSessionStore`` to forward a deleted session's tombstone)
FlushListener = Callable[..., None]

_DELETED = object()


class StoreCache:
    """The record cache of one query (Kafka Streams: one ``ThreadCache`` per stream thread),
    shared by its caching stores, flushed in the order the stores were opened (upstream
    operators first, so what they forward is flushed by the stores after them)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_entries = max(1, max_bytes // ENTRY_BYTES)
        self.entries = 0
        self.stores: list[CachingStore] = []

    def wrap(
        self, store: Store, listener: FlushListener | None = None, old_values: bool = False
    ) -> CachingStore:
        cached = CachingStore(store, self, listener, old_values)
        self.stores.append(cached)
        return cached

    def flush(self) -> None:
        for store in self.stores:
            store.flush()


class CachingStorePartition(StorePartition):
    """A store partition behind the cache: ``dirty`` holds what the store does not have yet."""

    def __init__(self, store: CachingStore, inner: StorePartition) -> None:
        self.store = store
        self.inner = inner
        # key -> (value or _DELETED, origin); dict order = order of last update
        self.dirty: dict[Key, tuple[Any, Any]] = {}

    def get(self, key: Key, default: Any = None) -> Any:
        try:
            found = self.dirty.get(key)
        except TypeError:  # an unhashable key element (ARRAY, MAP, STRUCT): never cached
            found = None
        if found is None:
            return self.inner.get(key, default)
        value = found[0]
        return default if value is _DELETED else value

    def put(self, key: Key, value: Any, origin: Any = None) -> None:
        self._write(key, value, origin)

    def delete(self, key: Key) -> None:
        self._write(key, _DELETED, None)

    def _write(self, key: Key, value: Any, origin: Any) -> None:
        dirty = self.dirty
        cache = self.store.cache
        try:
            hash(key)
        except TypeError:  # an unhashable key element: written and forwarded at once
            self.store.write_back(self.inner, key, value, origin)
            return
        if dirty.pop(key, None) is None:
            cache.entries += 1
        dirty[key] = (value, origin)
        if cache.entries > cache.max_entries:
            self._evict()

    def _evict(self) -> None:
        key = next(iter(self.dirty))
        value, origin = self.dirty.pop(key)
        self.store.cache.entries -= 1
        self.store.write_back(self.inner, key, value, origin)

    def flush(self) -> None:
        entries = list(self.dirty.items())
        self.dirty.clear()
        self.store.cache.entries -= len(entries)
        for key, (value, origin) in entries:
            self.store.write_back(self.inner, key, value, origin)

    def range(self, start: Key | None = None, end: Key | None = None) -> Iterator[tuple[Key, Any]]:
        # the store's entries overlaid with the dirty ones (a snapshot: pull queries run on
        # another thread than the query that writes)
        overlay = list(self.dirty.items())
        if not overlay:
            yield from self.inner.range(start, end)
            return
        merged = dict(self.inner.range(start, end))
        low = key_order(start) if start is not None else None
        high = key_order(end) if end is not None else None
        for key, (value, _) in overlay:
            ordered = key_order(key)
            if (low is not None and ordered < low) or (high is not None and ordered >= high):
                continue
            if value is _DELETED:
                merged.pop(key, None)
            else:
                merged[key] = value
        for key in sorted(merged, key=key_order):
            yield key, merged[key]

    def amend(self, key: Key, change: Callable[[Any], Any]) -> None:
        """Rewrite a cached entry in place, keeping its place in the flush order and its
        origin: for what the store drops by itself (retention), which is no update.
        ``change(value)`` gives the new value (None: deleted); an uncached key is left alone."""
        try:
            found = self.dirty.get(key)
        except TypeError:  # an unhashable key element: never cached
            return
        if found is None or found[0] is _DELETED:
            return
        value = change(found[0])
        self.dirty[key] = (_DELETED if value is None else value, found[1])

    def restore(self, key: Key, value: Any) -> None:
        self.dirty.pop(key, None)
        self.inner.restore(key, value)


class CachingStore(Store):
    """A store whose writes wait in the query's :class:`StoreCache` until a flush."""

    def __init__(
        self,
        inner: Store,
        cache: StoreCache,
        listener: FlushListener | None,
        old_values: bool = False,
    ) -> None:
        super().__init__(inner.name, inner.changelog)
        self.inner = inner
        self.cache = cache
        self.listener = listener
        self.old_values = old_values and listener is not None
        self.partitions: dict[int, CachingStorePartition] = {}
        self._by_inner: dict[int, CachingStorePartition] = {}

    def partition(self, partition: int) -> CachingStorePartition:
        found = self.partitions.get(partition)
        if found is None:
            inner = self.inner.partition(partition)
            # stores keyed across partitions hand out one inner partition for all: one cache
            found = self._by_inner.get(id(inner))
            if found is None:
                found = self._by_inner[id(inner)] = CachingStorePartition(self, inner)
            self.partitions[partition] = found
        return found

    def write_back(self, inner: StorePartition, key: Key, value: Any, origin: Any) -> None:
        """An entry leaves the cache: into the store (and its changelog), then the listener
        (with the value the store held before, when it asked for old values)."""
        old = inner.get(key) if self.old_values else None
        if value is _DELETED:
            inner.delete(key)
            value = None
        else:
            inner.put(key, value)
        if self.old_values:
            self.listener(key, value, origin, old)  # type: ignore[misc]
        elif self.listener is not None:
            self.listener(key, value, origin)

    def flush(self) -> None:
        for partition in self._by_inner.values():
            partition.flush()
