"""Benchmark the ksql engine's state restore: a RocksDB store rebuilt from its changelog.

Prints figures; never asserts. The emulated broker is a child process on a free port.

    python bench/ksql_state_restore_bench.py               # 1,000,000 changelog entries
    python bench/ksql_state_restore_bench.py --quick       # 100,000

* full restore: N pickled ``(partition, key)`` / ``(accumulators, ts)`` entries over 100,000
  distinct keys (an aggregate's changelog) are produced to a 2-partition compacted changelog;
  then :meth:`ChangelogStores.restore` rebuilds the store into an empty state dir (fetch,
  unpickle the key, encode it, RocksDB write batches). Reported per 1,000,000 entries.
* store only: the same entries (already bytes) applied with ``restore_raw`` in batches of
  10,000 from memory (no broker), to separate the store's share from the fetch's;
* fetch only: the changelog read by a plain consumer, nothing applied.
* checkpoint: a second restore with the checkpoint the first one wrote reads nothing.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.kafka_runtime.state import ChangelogStores, changelog_topic
from streamlab.ksql.kafka_runtime.topics import KafkaTopicStore
from streamlab.ksql.state.keys import encode_key
from streamlab.ksql.state.rocksdb import RocksDBStore

STORE = "Aggregate-Aggregate-Materialize"
KEYS = 100_000


def entries(n: int) -> list[tuple[bytes, bytes]]:
    """Changelog records as the engine writes them: the store's key bytes, a pickled value."""
    return [
        (encode_key((0, f"user_{i % KEYS}")), pickle.dumps(([i, float(i)], 1_700_000_000_000 + i)))
        for i in range(n)
    ]


def fetch(bootstrap: str, topic: str, n: int) -> int:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-fetch", "enable.auto.commit": False,
         "auto.offset.reset": "earliest"}
    )  # fmt: skip
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(2)])
    read = 0
    while read < n:
        read += sum(1 for m in consumer.consume(10000, 0.5) if m.error() is None)
    consumer.close()
    return read


def _stores(bootstrap: str, state_dir: str) -> ChangelogStores:
    stores = ChangelogStores("bench_", "CTAS_B_1", lambda r: None, state_dir)
    stores.factory(STORE)
    return stores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.records
    work = tempfile.mkdtemp(prefix="restore-bench-")

    records = entries(n)
    store = RocksDBStore(STORE, f"{work}/store-only")
    start = time.perf_counter()
    for i in range(0, n, 10_000):
        store.restore_raw(records[i : i + 10_000])
    store_only = time.perf_counter() - start
    store.close()

    with ClusterProcess(f"{work}/kafka") as kafka:
        topics = KafkaTopicStore(kafka.bootstrap)
        stores = _stores(kafka.bootstrap, f"{work}/state")
        stores.create_topics(topics, 2)
        topic = changelog_topic("bench_", "CTAS_B_1", STORE)
        producer = Producer(
            {"bootstrap.servers": kafka.bootstrap, "linger.ms": 20, "batch.size": 1_000_000}
        )
        for key, value in records:
            while True:
                try:
                    producer.produce(topic, value, key)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(120)

        start = time.perf_counter()
        fetched = fetch(kafka.bootstrap, topic, n)
        fetch_only = time.perf_counter() - start

        start = time.perf_counter()
        restored = stores.restore(kafka.bootstrap)
        full = time.perf_counter() - start
        stores.close()

        stores = _stores(kafka.bootstrap, f"{work}/state")
        start = time.perf_counter()
        again = stores.restore(kafka.bootstrap)
        checkpointed = time.perf_counter() - start
        stores.close()
        topics.close()

    per_million = 1_000_000 / n
    print(f"changelog entries                  {n:>12,}  ({KEYS:,} keys)")
    print(f"full restore (broker -> RocksDB)   {full:>10.2f} s   restored {restored:,}")
    print(f"  per 1,000,000 entries            {full * per_million:>10.2f} s"
          f"   ({restored / full:,.0f} entries/s)")  # fmt: skip
    print(f"store only (restore_batch)         {store_only:>10.2f} s"
          f"   per 1,000,000: {store_only * per_million:.2f} s")  # fmt: skip
    print(f"fetch only (plain consumer)        {fetch_only:>10.2f} s   read {fetched:,}")
    print(f"restore from the checkpoint        {checkpointed:>10.2f} s   restored {again:,}")


if __name__ == "__main__":
    main()
