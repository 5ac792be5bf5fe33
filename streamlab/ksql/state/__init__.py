"""State stores for stateful operators: the interface (``base``) and backends (``memory``;
``rocksdb``, with its ordered key encoding in ``keys`` and Kafka Streams' ``checkpoint`` file).

The Kafka runtime gives persistent queries RocksDB stores backed by changelog topics
(:mod:`streamlab.ksql.kafka_runtime.state`); the in-process engine (QTT) keeps them in memory.
``rocksdb`` is not imported here, so the in-process engine never loads rocksdict.
"""

from typing import Any

from streamlab.ksql.state.base import ChangelogCallback, Store, StorePartition
from streamlab.ksql.state.memory import MemoryStore, MemoryStorePartition, key_order


def open_store(context: Any, name: str, cache: Any = None, listener: Any = None) -> Store:
    """The store ``name`` of a query: ``context.store_factory(name)`` when the runtime sets one
    (RocksDB + changelog under the Kafka runtime), else an in-memory store.

    Names are ksqlDB's state-store names (``Aggregate-Aggregate-Materialize``,
    ``KafkaTopic_Right-Reduce``, ...); their changelog topic is
    ``_confluent-ksql-<service id>query_<query id>-<name>-changelog``.

    ``cache``: a :class:`~.caching.StoreCache` to put the store behind (None: none), whose
    flushes hand each entry to ``listener(key, value, origin)``.
    """
    factory = getattr(context, "store_factory", None)
    store = factory(name) if factory is not None else MemoryStore(name)
    return cache.wrap(store, listener) if cache is not None else store


__all__ = [
    "ChangelogCallback",
    "MemoryStore",
    "MemoryStorePartition",
    "Store",
    "StorePartition",
    "key_order",
    "open_store",
]
