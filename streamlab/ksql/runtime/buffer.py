"""A time-ordered buffer: store entries keyed ``(time, ...)``, read back in key order.

The EMIT FINAL suppression buffer (Kafka Streams' ``TimeOrderedKeyValueBuffer``) and the outer
join's shared store hold entries until stream time passes their time. The entries are in a
:class:`~streamlab.ksql.state.Store` (so a restore brings them back); a heap of their times
finds the due ones without reading the whole store per record. The heap is only an index: it
is rebuilt from the store on first use, which is after the runtime has restored the store.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from streamlab.ksql.state import Store, key_order

Key = tuple[Any, ...]


class TimeOrderedBuffer:
    """Entries of one store (partition 0) keyed ``(time, ...)``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._heap: list[tuple[int, int, Key]] | None = None
        self._pushed = 0

    def _index(self) -> list[tuple[int, int, Key]]:
        if self._heap is None:
            self._heap = []
            for key, _ in self.store.partition(0).range():
                self._push(key)
        return self._heap

    def _push(self, key: Key) -> None:
        assert self._heap is not None
        self._pushed += 1  # ties: the heap never compares keys (their types may differ)
        heapq.heappush(self._heap, (key[0], self._pushed, key))

    def put(self, key: Key, value: Any) -> None:
        self._index()
        self.store.partition(0).put(key, value)
        self._push(key)

    def delete(self, key: Key) -> None:
        self.store.partition(0).delete(key)  # its heap entry is skipped when it comes up

    def take(
        self, before: int, ready: Callable[[Key, Any], bool] | None = None
    ) -> list[tuple[Key, Any]]:
        """Remove and return, in key order, the entries with ``time < before`` (and ``ready``)."""
        heap = self._index()
        part = self.store.partition(0)
        found: dict[Key, Any] = {}
        while heap and heap[0][0] < before:
            key = heapq.heappop(heap)[2]
            value = part.get(key)
            if value is not None:
                found[key] = value
        taken = []
        for key in sorted(found, key=key_order):
            if ready is None or ready(key, found[key]):
                part.delete(key)
                taken.append((key, found[key]))
            else:
                self._push(key)
        return taken
