"""The record cache in front of the aggregations' stores (ksqlDB's default
``cache.max.bytes.buffering``): aggregates wait in it and are forwarded, logged and stored at
each commit, so the output holds fewer rows, but the tables end exactly as without the cache;
pull queries read through it; a crash loses only what was never committed.
"""

from __future__ import annotations

import json

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from streamlab.ksql.kafka_runtime import runner as rn
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_server._helpers import committed, ksql_ok, post, read_all, wait_for

CACHE = "ksql.streams.cache.max.bytes.buffering"
EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}
CACHE_ON = ("--config", f"{CACHE}={rn.DEFAULT_CACHE_MAX_BYTES}")
BASE = 1_700_000_000_000  # a multiple of 10 s: windows start here
TOTAL, KEYS = 2400, 10

#: name -> the query's SELECT (each runs once with the cache and once without)
QUERIES = {
    "TUMBLE": "SELECT ID, COUNT(*) AS CNT, SUM(N) AS S FROM SRC "
    "WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY ID",
    "HOPHAVING": "SELECT ID, COUNT(*) AS CNT FROM SRC "
    "WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS) GROUP BY ID HAVING COUNT(*) > 20",
    "FINAL": "SELECT ID, COUNT(*) AS CNT FROM SRC "
    "WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY ID EMIT FINAL",
    "PLAIN": "SELECT ID, MAX(N) AS M, COUNT(*) AS CNT FROM SRC GROUP BY ID",
}


def _produce(bootstrap: str, topic: str, start: int, stop: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(start, stop):  # ~95 ms apart: 23 windows of 10 s, ten keys
        producer.produce(topic, json.dumps({"N": i}).encode(), f"k{i % KEYS}".encode(),
                         timestamp=BASE + i * 95)  # fmt: skip
    assert producer.flush(30) == 0


def _read(bootstrap: str, topic: str) -> list:
    return read_all(bootstrap, topic)


def _table(records: list) -> dict[bytes, object]:
    """The table a topic's records make: each key's last value, tombstones delete."""
    table: dict[bytes, object] = {}
    for message in records:
        if message.value() is None:
            table.pop(message.key(), None)
        else:
            table[message.key()] = json.loads(message.value())
    return table


def _group(url: str, service: str, sink: str) -> str:
    [listing] = ksql_ok(url, "SHOW QUERIES;")
    [query] = [q["id"] for q in listing["queries"] if q["sinks"] == [sink]]
    return f"_confluent-ksql-{service}query_{query}"


def _pull(url: str, sql: str) -> list[list]:
    status, _, text = post(url, "/query", {"ksql": sql})
    assert status == 200, text
    return sorted(row["row"]["columns"] for row in json.loads(text)[1:])


def test_cached_aggregations_end_as_uncached_ones_with_fewer_rows(kafka, tmp_path):
    service = "sc_eq_"
    with KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap,
                     extra_args=("--service-id", service, *CACHE_ON)) as ksql:  # fmt: skip
        # one partition: EMIT FINAL with no grace drops the same late records in both runs
        ksql_ok(ksql.url, "CREATE STREAM SRC (ID STRING KEY, N INT) WITH "
                          "(KAFKA_TOPIC='sc_src', VALUE_FORMAT='JSON', PARTITIONS=1);")  # fmt: skip
        _produce(kafka.bootstrap, "sc_src", 0, TOTAL)
        for name, select in QUERIES.items():
            ksql_ok(ksql.url, f"CREATE TABLE {name}_C AS {select};", EARLIEST)
            ksql_ok(ksql.url, f"CREATE TABLE {name}_Z AS {select};", {**EARLIEST, CACHE: "0"})
        for name in QUERIES:
            for sink in (f"{name}_C", f"{name}_Z"):
                group = _group(ksql.url, service, sink)
                wait_for(lambda g=group: committed(kafka.bootstrap, g, "sc_src") == TOTAL,
                         message=f"{sink} committed")  # fmt: skip
        # a table's GROUP BY (through its repartition topic): users move between regions
        ksql_ok(ksql.url, "CREATE TABLE TBL (ID STRING PRIMARY KEY, R STRING) WITH "
                          "(KAFKA_TOPIC='sc_tbl', VALUE_FORMAT='JSON', PARTITIONS=1);")  # fmt: skip
        users: dict[str, str | None] = {}
        producer = Producer({"bootstrap.servers": kafka.bootstrap})
        for i in range(900):
            user, region = f"u{i % 40}", (f"r{i % 7}" if i % 11 else None)  # None: a delete
            value = json.dumps({"R": region}).encode() if region else None
            producer.produce("sc_tbl", value, user.encode())
            users[user] = region
        assert producer.flush(30) == 0
        regions: dict[bytes, dict] = {}
        for region in users.values():
            if region is not None:
                regions.setdefault(region.encode(), {"CNT": 0})["CNT"] += 1
        select = "SELECT R, COUNT(*) AS CNT FROM TBL GROUP BY R"
        ksql_ok(ksql.url, f"CREATE TABLE REGIONS_C AS {select};", EARLIEST)
        ksql_ok(ksql.url, f"CREATE TABLE REGIONS_Z AS {select};", {**EARLIEST, CACHE: "0"})
        for sink in ("REGIONS_C", "REGIONS_Z"):
            wait_for(lambda t=sink: _table(_read(kafka.bootstrap, t)) == regions,
                     message=f"{sink} == the regions' final counts")  # fmt: skip
        assert len(_read(kafka.bootstrap, "REGIONS_C")) < len(_read(kafka.bootstrap, "REGIONS_Z"))

        results = {}
        for name in QUERIES:
            cached = _read(kafka.bootstrap, f"{name}_C")
            uncached = _read(kafka.bootstrap, f"{name}_Z")
            assert _table(cached) == _table(uncached), name
            results[name] = (len(cached), len(uncached), _table(cached))
        # the cache forwards a key once per commit: far fewer rows (EMIT FINAL: the same)
        for name in ("TUMBLE", "HOPHAVING", "PLAIN"):
            assert results[name][0] < results[name][1], name
        assert results["FINAL"][0] == results["FINAL"][1]
        # and the tables are right: the tumbling counts and sums against Python's
        oracle: dict[tuple[str, int], list[int]] = {}
        for i in range(TOTAL):
            start = (BASE + i * 95) // 10_000 * 10_000
            entry = oracle.setdefault((f"k{i % KEYS}", start), [0, 0])
            entry[0] += 1
            entry[1] += i
        # a time-windowed key: the KAFKA-format ID, then the window start as 8 bytes
        got = {(k[:-8].decode(), int.from_bytes(k[-8:], "big")): [v["CNT"], v["S"]]
               for k, v in results["TUMBLE"][2].items()}  # fmt: skip
        assert got == oracle
        assert sorted(v["CNT"] for v in results["PLAIN"][2].values()) == [TOTAL // KEYS] * KEYS

        # the changelogs as Kafka Streams creates them: a window store's is also deleted by time
        def config(sink: str) -> dict[str, str]:
            prefix = _group(ksql.url, service, sink) + "-Aggregate-Aggregate-Materialize"
            resource = ConfigResource("topic", f"{prefix}-changelog")
            admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
            found = admin.describe_configs([resource])[resource].result(30)
            return {name: entry.value for name, entry in found.items()}

        windowed, plain = config("TUMBLE_C"), config("PLAIN_C")
        assert windowed["cleanup.policy"] == "compact,delete"
        assert int(windowed["retention.ms"]) > 86_400_000  # retention + a day
        assert plain["cleanup.policy"] == "compact"


def test_pull_queries_read_through_the_cache_and_a_crash_loses_only_uncommitted(kafka, tmp_path):
    service = "sc_pull_"
    never = {**EARLIEST, "ksql.streams.commit.interval.ms": "3600000"}  # no commit for an hour
    expected = sorted([f"k{k}", TOTAL // KEYS] for k in range(KEYS))
    with KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap,
                     extra_args=("--service-id", service, *CACHE_ON)) as ksql:  # fmt: skip
        ksql_ok(ksql.url, "CREATE STREAM P (ID STRING KEY, N INT) WITH (KAFKA_TOPIC='sc_pull', "
                          "VALUE_FORMAT='JSON', PARTITIONS=2);")  # fmt: skip
        _produce(kafka.bootstrap, "sc_pull", 0, TOTAL)
        ksql_ok(ksql.url, "CREATE TABLE PC AS SELECT ID, COUNT(*) AS CNT FROM P GROUP BY ID;",
                never)  # fmt: skip
        wait_for(lambda: _pull(ksql.url, "SELECT ID, CNT FROM PC;") == expected,
                 message="the pull query sees every count")  # fmt: skip
        assert _pull(ksql.url, "SELECT CNT FROM PC WHERE ID = 'k3';") == [[TOTAL // KEYS]]
        assert _read(kafka.bootstrap, "PC") == []  # nothing flushed: no commit yet
        group = _group(ksql.url, service, "PC")
        assert committed(kafka.bootstrap, group, "sc_pull", 2) == 0

        ksql.kill()  # the cached counts die with the process; the input was never committed
        ksql.start()
        wait_for(lambda: _pull(ksql.url, "SELECT ID, CNT FROM PC;") == expected,
                 message="counted again after the restart")  # fmt: skip
        ksql.stop()  # a clean stop commits: the cache is flushed first
        table = _table(_read(kafka.bootstrap, "PC"))
        assert sorted([k.decode(), v["CNT"]] for k, v in table.items()) == expected  # not doubled
        assert committed(kafka.bootstrap, group, "sc_pull", 2) == TOTAL
