"""The record cache in front of state stores (Kafka Streams' caching stores): reads see the
cache, writes reach the store, its changelog and the flush listener only when the cache
flushes or evicts, in the order of their last update."""

from __future__ import annotations

import tempfile

from streamlab.ksql.state import MemoryStore, open_store
from streamlab.ksql.state.caching import ENTRY_BYTES, CachingStore, StoreCache
from streamlab.ksql.state.rocksdb import RocksDBStore


def _cached(max_entries: int = 100, backend=None):
    logged: list = []
    flushed: list = []
    inner = backend or MemoryStore("s", changelog=lambda p, k, v: logged.append((k, v)))
    cache = StoreCache(max_entries * ENTRY_BYTES)
    store = cache.wrap(inner, lambda k, v, origin: flushed.append((k, v, origin)))
    return cache, store, inner, logged, flushed


def test_writes_wait_in_the_cache_and_reads_see_them():
    cache, store, inner, logged, flushed = _cached()
    part = store.partition(0)
    part.put(("a",), 1, "r1")
    part.put(("a",), 2, "r2")
    part.put(("b",), 5, "r3")
    assert part.get(("a",)) == 2 and part.get(("b",)) == 5
    assert inner.partition(0).get(("a",)) is None  # not in the store yet
    assert logged == [] and flushed == []
    cache.flush()
    assert logged == [(("a",), 2), (("b",), 5)]  # one changelog record per key
    assert flushed == [(("a",), 2, "r2"), (("b",), 5, "r3")]  # the last update's origin
    assert inner.partition(0).get(("a",)) == 2
    assert cache.entries == 0
    cache.flush()  # nothing dirty: nothing again
    assert len(logged) == 2


def test_flush_order_is_the_order_of_last_updates():
    cache, store, _, _, flushed = _cached()
    part = store.partition(0)
    for key in ("a", "b", "c"):
        part.put((key,), 1)
    part.put(("a",), 2)  # a moves to the end
    cache.flush()
    assert [k for k, _, _ in flushed] == [("b",), ("c",), ("a",)]


def test_deletes_are_cached_and_hide_the_stored_value():
    cache, store, inner, logged, flushed = _cached()
    part = store.partition(0)
    part.put(("a",), 1)
    cache.flush()
    part.delete(("a",))
    assert part.get(("a",)) is None and part.get(("a",), "gone") == "gone"
    assert inner.partition(0).get(("a",)) == 1
    assert list(part.range()) == []
    cache.flush()
    assert inner.partition(0).get(("a",)) is None
    assert logged[-1] == (("a",), None) and flushed[-1] == (("a",), None, None)


def test_range_overlays_the_cache_on_the_store_in_key_order():
    cache, store, _, _, _ = _cached()
    part = store.partition(0)
    for key, value in ((("b", 1), 1), (("d", 1), 2), (("a", 1), 3)):
        part.put(key, value)
    cache.flush()
    part.put(("c", 1), 4)  # new, cached
    part.put(("b", 1), 10)  # updated, cached
    part.delete(("d", 1))  # deleted, cached
    part.put((None, 1), 0)  # NULL sorts first
    assert list(part.range()) == [((None, 1), 0), (("a", 1), 3), (("b", 1), 10), (("c", 1), 4)]
    assert list(part.range(("b",), ("c", 2))) == [(("b", 1), 10), (("c", 1), 4)]
    assert list(part.range(end=("b",))) == [((None, 1), 0), (("a", 1), 3)]


def test_a_full_cache_evicts_the_least_recently_updated_entry():
    cache, store, _, logged, flushed = _cached(max_entries=2)
    part = store.partition(0)
    part.put(("a",), 1)
    part.put(("b",), 1)
    part.put(("a",), 2)  # b is now the least recently updated
    assert flushed == []
    part.put(("c",), 1)  # three entries > 2: b goes
    assert flushed == [(("b",), 1, None)] and logged == [(("b",), 1)]
    assert part.get(("b",)) == 1  # from the store now
    assert cache.entries == 2


def test_the_budget_is_shared_by_the_stores_of_a_query():
    cache = StoreCache(2 * ENTRY_BYTES)
    one = cache.wrap(MemoryStore("one"))
    two = cache.wrap(MemoryStore("two"))
    one.partition(0).put(("a",), 1)
    two.partition(0).put(("x",), 1)
    two.partition(0).put(("y",), 1)  # the store written to gives up its oldest entry
    assert one.partition(0).get(("a",)) == 1 and one.inner.partition(0).get(("a",)) is None
    assert two.inner.partition(0).get(("x",)) == 1
    assert cache.entries == 2


def test_flush_goes_store_by_store_in_opening_order():
    cache = StoreCache(100 * ENTRY_BYTES)
    order: list[str] = []
    first = cache.wrap(MemoryStore("first"), lambda k, v, o: order.append("first"))
    second = cache.wrap(MemoryStore("second"), lambda k, v, o: order.append("second"))
    second.partition(0).put(("a",), 1)
    first.partition(0).put(("a",), 1)
    cache.flush()
    assert order == ["first", "second"]


def test_partitions_of_a_keyed_store_share_one_cache_partition():
    class Keyed(MemoryStore):
        def partition(self, partition):
            return super().partition(0)

    cache = StoreCache(100 * ENTRY_BYTES)
    store = cache.wrap(Keyed("k"))
    store.partition(3).put(("a",), 1)
    assert store.partition(1).get(("a",)) == 1
    assert cache.entries == 1


def test_restore_goes_to_the_store_and_drops_a_cached_entry():
    _, store, inner, logged, _ = _cached()
    part = store.partition(0)
    part.put(("a",), 1)
    part.restore(("a",), 7)
    assert part.get(("a",)) == 7 and inner.partition(0).get(("a",)) == 7
    assert logged == []  # a restore is not logged again


def test_over_rocksdb_the_changelog_gets_the_stores_bytes_at_the_flush():
    raw: list = []
    with tempfile.TemporaryDirectory() as path:
        backend = RocksDBStore("r", path, raw_changelog=lambda k, v: raw.append((k, v)))
        cache, store, _, _, flushed = _cached(backend=backend)
        part = store.partition(0)
        for i in range(100):
            part.put(("k", i % 3), i)
        assert raw == [] and part.get(("k", 1)) == 97
        assert [k for k, _ in part.range(("k", 1))] == [("k", 1), ("k", 2)]
        cache.flush()
        assert len(raw) == 3 and [v for _, v, _ in flushed] == [97, 98, 99]
        assert list(backend.partition(0).range()) == [(("k", 0), 99), (("k", 1), 97),
                                                      (("k", 2), 98)]  # fmt: skip
        backend.close()


def test_open_store_puts_the_store_behind_the_cache_it_is_given():
    class Context:
        pass

    cache = StoreCache(ENTRY_BYTES)
    assert isinstance(open_store(Context(), "s"), MemoryStore)
    assert isinstance(open_store(Context(), "s", cache), CachingStore)
    assert len(cache.stores) == 1


def test_a_key_that_cannot_be_cached_is_written_and_forwarded_at_once():
    raw: list = []
    with tempfile.TemporaryDirectory() as path:
        backend = RocksDBStore("r", path, raw_changelog=lambda k, v: raw.append((k, v)))
        cache, store, _, _, flushed = _cached(backend=backend)
        part = store.partition(0)
        key = (["a", "b"],)  # an ARRAY group key: a list is unhashable
        part.put(key, 1, "r1")
        assert flushed == [(key, 1, "r1")] and len(raw) == 1
        assert part.get(key) == 1 and cache.entries == 0
        part.delete(key)
        assert part.get(key) is None and flushed[-1] == (key, None, None)
        backend.close()
