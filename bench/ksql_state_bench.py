"""Benchmark stateful ksql queries over the emulated cluster, per processing.guarantee.

Prints figures next to the targets (>= 20,000 records/s for the stream-table join and for the
tumbling COUNT); never asserts. The broker and one ksql server per guarantee are child
processes on free ports with their own data dirs (``ksql.streams.processing.guarantee`` set
in the server config).

    python bench/ksql_state_bench.py                        # 200,000 records, 1,000,000 restore
    python bench/ksql_state_bench.py --quick                # 50,000 records, 200,000 restore
    python bench/ksql_state_bench.py --guarantee exactly_once_v2 --restore 0
    python bench/ksql_state_bench.py --cache 0                  # only without the record cache

Each guarantee runs with ksqlDB's record cache (``ksql.streams.cache.max.bytes.buffering``
10,000,000 and ``commit.interval.ms`` 2000, the defaults) and without it (cache 0: every
update produced, a commit per consumed batch, as the lab runs), each its own server.

For each guarantee:

* join records/s: USERS (1,000 users) and N CLICKS are produced first; then
  ``CREATE STREAM J_<g> AS SELECT ... FROM CLICKS C LEFT JOIN USERS U ON C.ID = U.ID`` reads them
  from the earliest offset. Time from the CREATE until the query's committed input offsets
  cover every click (so the figure includes the commits / transactions; with the cache, up to
  one commit interval of waiting for the last commit).
* count records/s: the same for ``CREATE TABLE W_<g> AS SELECT ID, COUNT(*) FROM CLICKS WINDOW
  TUMBLING (SIZE 1 MINUTE) GROUP BY ID`` over the same clicks (1,000 keys).
* session records/s (no target): the same with ``WINDOW SESSION (30 SECONDS)``; the clicks
  come seconds apart, so every one merges into its key's one session (a read, a delete and a
  write per record).
* p50/p99 latency: with both queries running, clicks are produced at a steady rate with their
  send time as the record timestamp; the join output keeps the click's timestamp and the
  window row takes the newest timestamp of its window, so receive time minus the output
  record's timestamp is the end-to-end latency (read_committed, so under exactly_once_v2 it
  includes the transaction commit; with the cache, a table row waits for the next commit).
* restore s per 1,000,000 changelog records: ``CREATE TABLE BIG AS SELECT ID, COUNT(*) FROM
  BIGIN GROUP BY ID`` over M distinct keys writes M changelog records; the server is stopped,
  its state dir deleted, and restarted: the seconds the engine logs for restoring BIG's store
  from its changelog (read_committed), scaled to 1,000,000 records, and the whole restart.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.client import KsqlClient
from streamlab.ksql.kafka_runtime.runner import DEFAULT_CACHE_MAX_BYTES
from streamlab.ksql.testing import KsqlProcess

TARGET_RPS = 20_000
PARTITIONS = 4
USERS = 1_000
LATENCY_RATE = 500  # records/s during the latency run
GUARANTEES = ("at_least_once", "exactly_once_v2")
CACHES = ("default", "0")  # ksql.streams.cache.max.bytes.buffering
EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}
RESTORED = re.compile(r"query (\S+): restored (\d+) state entries in ([\d.]+)s")


def produce(bootstrap: str, topic: str, count: int, key, value, start: int = 0) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "partitioner": "murmur2_random"}
    )
    for i in range(start, start + count):
        while True:
            try:
                producer.produce(topic, value(i), key(i))
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return sum(max(o.offset, 0) for o in consumer.committed(parts, timeout=30))
    finally:
        consumer.close()


def group_of(client: KsqlClient, service: str, sink: str) -> str:
    [listing] = client.execute("SHOW QUERIES;")
    [query] = [q for q in listing["queries"] if q["sinks"] == [sink]]
    return f"_confluent-ksql-{service}query_{query['id']}"


def timed_query(
    bootstrap: str, client: KsqlClient, service: str, sql: str, sink: str, topic: str, total: int
) -> float:
    """Records/s of a new query over ``total`` records already in ``topic``."""
    start = time.perf_counter()
    client.execute(sql, EARLIEST)
    group = group_of(client, service, sink)
    while committed(bootstrap, group, topic) < total:
        time.sleep(0.1)
    return total / (time.perf_counter() - start)


def latency(bootstrap: str, sinks: list[str], seconds: float, first: int) -> dict[str, list]:
    """Per sink, receive time minus output timestamp (ms) of clicks sent at a steady rate."""
    samples: dict[str, list[float]] = {sink: [] for sink in sinks}
    consumers = {}
    for sink in sinks:
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"bench-latency-{sink}-{time.time()}",
             "auto.offset.reset": "latest", "fetch.wait.max.ms": 5,
             "isolation.level": "read_committed"}
        )  # fmt: skip
        consumer.subscribe([sink])
        while not consumer.assignment():  # join the group before sending
            consumer.poll(0.1)
        consumers[sink] = consumer
    done = threading.Event()

    def send() -> None:
        producer = Producer(
            {"bootstrap.servers": bootstrap, "linger.ms": 0, "partitioner": "murmur2_random"}
        )
        end = time.monotonic() + seconds
        i = first
        while time.monotonic() < end:
            producer.produce(
                "clicks", json.dumps({"N": i}).encode(), f"u{i % USERS}".encode(),
                timestamp=int(time.time() * 1000),
            )  # fmt: skip
            producer.poll(0)
            i += 1
            time.sleep(1 / LATENCY_RATE)
        producer.flush(10)
        done.set()

    def receive(sink: str) -> None:
        consumer = consumers[sink]
        idle_since = None
        while True:
            message = consumer.poll(0.1)
            if message is not None and message.error() is None:
                samples[sink].append(time.time() * 1000 - message.timestamp()[1])
                idle_since = None
            elif done.is_set():
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 3:
                    break
        consumer.close()

    threads = [threading.Thread(target=send)]
    threads += [threading.Thread(target=receive, args=(sink,)) for sink in sinks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def percentiles(samples: list[float]) -> tuple[float, float, int]:
    if not samples:
        return float("nan"), float("nan"), 0
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1], len(ordered)


def restore(
    kafka: ClusterProcess, ksql: KsqlProcess, client: KsqlClient, service: str, count: int
) -> tuple[int, float, float]:
    """(entries restored, restore seconds logged, whole restart seconds) for BIG's store."""
    topic = f"bigin_{service}"
    client.execute(
        f"CREATE STREAM BIGIN (ID STRING KEY, N INT) WITH (KAFKA_TOPIC='{topic}', "
        f"VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
    )
    produce(kafka.bootstrap, topic, count, lambda i: f"k{i}".encode(), lambda i: b'{"N":1}')
    client.execute("CREATE TABLE BIG AS SELECT ID, COUNT(*) AS CNT FROM BIGIN GROUP BY ID;",
                   EARLIEST)  # fmt: skip
    group = group_of(client, service, "BIG")
    while committed(kafka.bootstrap, group, topic) < count:
        time.sleep(0.2)
    query_id = group.rsplit("query_", 1)[1]
    ksql.stop()
    shutil.rmtree(os.path.join(ksql.work_dir, "data"))  # no local state: restore it all
    with open(ksql.log_path) as f:
        f.seek(0, 2)
        mark = f.tell()
    start = time.perf_counter()
    ksql.start(timeout=600)
    restart = time.perf_counter() - start
    with open(ksql.log_path) as f:
        f.seek(mark)
        for line in f:
            found = RESTORED.search(line)
            if found and found.group(1) == query_id:
                return int(found.group(2)), float(found.group(3)), restart
    return 0, float("nan"), restart


def run(
    kafka: ClusterProcess, tmp: str, guarantee: str, cache: str, args: argparse.Namespace
) -> dict:
    tag = ("EOS" if guarantee == "exactly_once_v2" else "ALOS") + ("" if cache == "default"
                                                                 else f"_C{cache}")  # fmt: skip
    service = f"bench_{tag.lower()}_"
    join, count = f"J_{tag}", f"W_{tag}"  # one sink topic per run
    extra: tuple[str, ...] = ("--service-id", service, "--config",
                              f"ksql.streams.processing.guarantee={guarantee}")  # fmt: skip
    # KsqlProcess turns the cache off (as the lab runs); the default run sets ksqlDB's default
    size = DEFAULT_CACHE_MAX_BYTES if cache == "default" else cache
    extra += ("--config", f"ksql.streams.cache.max.bytes.buffering={size}")
    figures: dict = {}
    with KsqlProcess(f"{tmp}/ksql-{tag}", kafka.bootstrap, extra_args=extra) as ksql:
        client = KsqlClient(ksql.url)
        client.execute(SOURCES)
        boot = kafka.bootstrap
        figures["join"] = timed_query(
            boot, client, service,
            f"CREATE STREAM {join} AS SELECT C.ID AS ID, C.N AS N, U.REGION AS REGION "
            "FROM CLICKS C LEFT JOIN USERS U ON C.ID = U.ID;",
            join, "clicks", args.records,
        )  # fmt: skip
        figures["count"] = timed_query(
            boot, client, service,
            f"CREATE TABLE {count} AS SELECT ID, COUNT(*) AS CNT FROM CLICKS "
            "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY ID;",
            count, "clicks", args.records,
        )  # fmt: skip
        figures["session"] = timed_query(
            boot, client, service,
            f"CREATE TABLE S_{tag} AS SELECT ID, COUNT(*) AS CNT FROM CLICKS "
            "WINDOW SESSION (30 SECONDS) GROUP BY ID;",
            f"S_{tag}", "clicks", args.records,
        )  # fmt: skip
        [listing] = client.execute("SHOW QUERIES;")  # not in the latency run
        [session_query] = [q["id"] for q in listing["queries"] if f"S_{tag}" in q["sinks"]]
        client.execute(f"TERMINATE {session_query};")
        samples = latency(boot, [join, count], args.seconds, args.records)
        figures["join_latency"] = percentiles(samples[join])
        figures["count_latency"] = percentiles(samples[count])
        if args.restore:
            figures["restore"] = restore(kafka, ksql, client, service, args.restore)
    return figures


SOURCES = (
    "CREATE TABLE USERS (ID STRING PRIMARY KEY, REGION STRING) WITH (KAFKA_TOPIC='users', "
    f"VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
    "CREATE STREAM CLICKS (ID STRING KEY, N INT) WITH (KAFKA_TOPIC='clicks', "
    f"VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
)


def setup_sources(kafka: ClusterProcess, tmp: str, records: int) -> None:
    """The users and clicks topics, read by every guarantee's server (each its own groups)."""
    with KsqlProcess(f"{tmp}/ksql-setup", kafka.bootstrap) as ksql:
        KsqlClient(ksql.url).execute(SOURCES)
    produce(kafka.bootstrap, "users", USERS, lambda i: f"u{i}".encode(),
            lambda i: json.dumps({"REGION": f"r{i % 7}"}).encode())  # fmt: skip
    produce(kafka.bootstrap, "clicks", records, lambda i: f"u{i % USERS}".encode(),
            lambda i: json.dumps({"N": i}).encode())  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--restore", type=int, default=1_000_000, help="changelog records")
    parser.add_argument("--guarantee", choices=GUARANTEES, action="append")
    parser.add_argument("--cache", choices=CACHES, action="append",
                        help="record cache setting (default: both)")  # fmt: skip
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.seconds, args.restore = 50_000, 2.0, 200_000
    guarantees = args.guarantee or list(GUARANTEES)
    caches = args.cache or list(CACHES)
    results = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        ClusterProcess(f"{tmp}/kafka", num_partitions=PARTITIONS) as kafka,
    ):
        setup_sources(kafka, tmp, args.records)
        restore_records = args.restore
        for guarantee in guarantees:
            for cache in caches:
                # the restore figure does not depend on the cache: once per guarantee
                args.restore = restore_records if cache == caches[0] else 0
                results[(guarantee, cache)] = run(kafka, tmp, guarantee, cache, args)
                args.records = sum_clicks(kafka)  # the next queries read the latency clicks
    print(f"ksql stateful queries over the emulated cluster ({PARTITIONS} partitions, JSON)")
    for (guarantee, cache), figures in results.items():
        setting = "10000000 (default)" if cache == "default" else cache
        print(f"{guarantee}, cache.max.bytes.buffering={setting}")
        for name, label in (("join", "stream-table join"), ("count", "tumbling COUNT")):
            rps = figures[name]
            ok = "ok" if rps >= TARGET_RPS else "BELOW TARGET"
            p50, p99, n = figures[f"{name}_latency"]
            print(f"  {label:<18} {rps:>9,.0f} records/s  target >= {TARGET_RPS:,}  {ok}")
            print(f"  {'':<18} p50 {p50:>7.1f} ms  p99 {p99:>7.1f} ms  ({n} at {LATENCY_RATE}/s)")
        print(f"  {'session COUNT':<18} {figures['session']:>9,.0f} records/s  (no target)")
        if "restore" in figures:
            entries, seconds, restart = figures["restore"]
            per_million = seconds / entries * 1_000_000 if entries else float("nan")
            print(f"  restore            {entries:,} changelog records in {seconds:.1f} s = "
                  f"{per_million:.1f} s per 1,000,000 (restart {restart:.1f} s)")  # fmt: skip


def sum_clicks(kafka: ClusterProcess) -> int:
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "bench-size"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition("clicks", p), 10)[1]
            for p in range(PARTITIONS)
        )
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main())
