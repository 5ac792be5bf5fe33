"""Session-window aggregations behind the record cache (Kafka Streams' ``CachingSessionStore``).

Each query runs twice in-process: without the cache (QTT's path) and with it, the cache flushed
every few records as the Kafka runtime flushes it at each commit. The cached run forwards and
logs only what changed between two flushes, so its sink and changelog hold fewer records, but
the table they make (each key's last value, tombstones delete) is the uncached run's.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from confluent_kafka import Producer

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.kafka_runtime import runner as rn
from streamlab.ksql.runtime import Record
from streamlab.ksql.runtime.aggregate import MATERIALIZE, SessionWindowAggregateProcessor
from streamlab.ksql.runtime.operators import build_topology
from streamlab.ksql.runtime.windows import decode_session_key
from streamlab.ksql.state import MemoryStore
from streamlab.ksql.state.caching import ENTRY_BYTES, CachingStore, StoreCache
from streamlab.ksql.testing import KsqlProcess
from tests.ksql._stateful import STREAM
from tests.ksql_server._helpers import committed, ksql_ok, post, read_topic, topic_size, wait_for

BIG = 10_000_000  # ksqlDB's default cache.max.bytes.buffering


class Engine(KsqlEngine):
    """The in-process engine with the Kafka runtime's store cache (None: none, as QTT) and
    every store's changelog recorded; :meth:`commit` flushes the cache as a commit does."""

    def __init__(self, cache_max_bytes: int | None) -> None:
        self.cache_max_bytes = cache_max_bytes
        self.changelogs: dict[str, list] = {}
        super().__init__()

    def _store_factory(self, query_id: str):
        def factory(name: str) -> MemoryStore:
            log = self.changelogs.setdefault(name, [])
            return MemoryStore(name, changelog=lambda p, k, v: log.append((k, v)))

        return factory

    def _topology(self, query_id, plan):
        return build_topology(
            plan.physical, query_id, self._emit, self.processing_log, self.functions,
            store_factory=self._store_factory(query_id), cache_max_bytes=self.cache_max_bytes,
        )  # fmt: skip

    def commit(self) -> None:
        for query in self.queries.values():
            query.topology.flush()

    def aggregate(self) -> SessionWindowAggregateProcessor:
        [query] = self.queries.values()
        node = query.topology.source
        while not isinstance(node, SessionWindowAggregateProcessor):
            node = node.downstream
        return node


def _run(
    sql: str,
    inputs: list[tuple[str, dict, int]],
    cache: int | None,
    every: int = 25,
    max_entries: int | None = None,
):
    """Feed ``(key, value, ts)`` rows to ``s``, committing every ``every`` rows and at the end;
    returns the engine and the sink's records as ``((group, start, end), value, ts)``.
    ``max_entries``: shrink the cache below the size the runtime gives it (to evict)."""
    engine = Engine(cache)
    engine.execute(STREAM + f"CREATE TABLE o AS {sql};")
    if max_entries is not None:
        engine.aggregate().store.cache.max_entries = max_entries
    for i, (key, value, ts) in enumerate(inputs, 1):
        engine.produce(Record("s", key.encode(), json.dumps(value).encode(), ts))
        if i % every == 0:
            engine.commit()
    engine.commit()
    return engine, _sink(engine)


def _sink(engine: Engine) -> list[tuple[Any, Any, int]]:
    rows = []
    for record in engine.topics.records(engine.metastore.get_source("O").topic.name):
        inner, window = decode_session_key(record.key)
        value = json.loads(record.value) if record.value is not None else None
        rows.append(((inner.decode(), window.start, window.end), value, record.timestamp))
    return rows


def _table(rows: list) -> dict:
    """The table a topic's records make: each key's last value and timestamp."""
    table: dict = {}
    for key, value, ts in rows:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = (value, ts)
    return table


def _state(entries: list) -> dict:
    """A changelog's end state."""
    state: dict = {}
    for key, value in entries:
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return state


def _late(engine: Engine) -> list[str]:
    return [e.message for e in engine.processing_log.entries if "expired session" in e.message]


def _inputs(seed: int, count: int = 400) -> list[tuple[str, dict, int]]:
    """Five groups, records ~7 ms apart with jitter (out of order within grace, so sessions
    bridge and merge) and every 37th record far behind (beyond grace: dropped)."""
    rnd = random.Random(seed)
    rows = []
    for i in range(count):
        ts = 1_000 + i * 7 + rnd.randint(-30, 5)
        if i % 37 == 36:
            ts -= 600
        rows.append((f"k{i}", {"G": "abcde"[rnd.randrange(5)], "V": rnd.randint(-5, 20)}, ts))
    return rows


QUERIES = {
    "count": "SELECT g, COUNT(*) AS c FROM s "
    "WINDOW SESSION (40 MILLISECONDS, GRACE PERIOD 50 MILLISECONDS) GROUP BY g",
    "sum": "SELECT g, SUM(v) AS total, COUNT(v) AS n FROM s "
    "WINDOW SESSION (25 MILLISECONDS, GRACE PERIOD 100 MILLISECONDS) GROUP BY g",
    "having": "SELECT g, SUM(v) AS total FROM s "
    "WINDOW SESSION (40 MILLISECONDS, GRACE PERIOD 50 MILLISECONDS) GROUP BY g "
    "HAVING COUNT(*) > 2",
}


@pytest.mark.parametrize("name", list(QUERIES))
@pytest.mark.parametrize("seed", [1, 2])
def test_cached_sessions_end_as_uncached_with_fewer_records(name: str, seed: int) -> None:
    inputs = _inputs(seed)
    plain, uncached = _run(QUERIES[name], inputs, None)
    cached_engine, cached = _run(QUERIES[name], inputs, BIG)
    assert _table(cached) == _table(uncached)
    assert len(cached) < len(uncached)
    # merges happened, and some merged away a session flushed before: its tombstone is forwarded
    assert any(v is None for _, v, _ in uncached)
    assert any(v is None for _, v, _ in cached)
    # the same records were dropped as late in both runs
    late = [_late(e) for e in (plain, cached_engine)]
    assert late[0] and late[0] == late[1]
    # the changelog ends as the store, with fewer records
    for engine in (plain, cached_engine):
        store = engine.aggregate().store
        log = engine.changelogs[MATERIALIZE]
        assert _state(log) == dict(store.partition(0).range())
    assert _state(cached_engine.changelogs[MATERIALIZE]) == _state(plain.changelogs[MATERIALIZE])
    assert len(cached_engine.changelogs[MATERIALIZE]) < len(plain.changelogs[MATERIALIZE])


def test_the_table_is_right() -> None:
    # g=a: 10, 30 (one session), 100 (another), then 60 bridges both; 5 is within grace
    inputs = [("1", {"G": "a", "V": 1}, 10), ("2", {"G": "a", "V": 2}, 30),
              ("3", {"G": "a", "V": 3}, 100), ("4", {"G": "b", "V": 4}, 100),
              ("5", {"G": "a", "V": 5}, 60), ("6", {"G": "a", "V": 6}, 5),
              ("7", {"G": "b", "V": 7}, 400), ("8", {"G": "a", "V": 8}, 20)]  # fmt: skip
    sql = (
        "SELECT g, COUNT(*) AS c, SUM(v) AS t FROM s "
        "WINDOW SESSION (40 MILLISECONDS, GRACE PERIOD 100 MILLISECONDS) GROUP BY g"
    )
    expected = {
        ("a", 5, 100): ({"C": 5, "T": 17}, 100),
        ("b", 100, 100): ({"C": 1, "T": 4}, 100),
        ("b", 400, 400): ({"C": 1, "T": 7}, 400),
    }  # the record at 20 is late: stream time 400 - 100 - 40 > its session's end 100
    for every in (1, 2, 3, 100):
        _, rows = _run(sql, inputs, BIG, every)
        assert _table(rows) == expected, every
    _, rows = _run(sql, inputs, None)
    assert _table(rows) == expected


SQL = (
    "SELECT g, COUNT(*) AS c FROM s "
    "WINDOW SESSION (10 MILLISECONDS, GRACE PERIOD 1 SECOND) GROUP BY g"
)


def test_a_session_born_and_merged_between_two_flushes_is_never_forwarded() -> None:
    engine = Engine(BIG)
    engine.execute(STREAM + f"CREATE TABLE o AS {SQL};")

    def feed(ts: int) -> None:
        engine.produce(Record("s", b"k", json.dumps({"G": "a", "V": 1}).encode(), ts))

    feed(100)
    feed(130)  # a second session, then one bridging both: [100,130] replaces both
    feed(120)
    feed(110)
    assert _sink(engine) == []  # all in the cache
    engine.commit()
    assert _sink(engine) == [(("a", 100, 130), {"C": 4}, 130)]  # no tombstones: never flushed
    feed(140)  # grows the flushed session: its old bounds get a tombstone at the next flush
    feed(200)
    feed(150)  # born [150,150], merged into [100,150] with the record at 140 at once
    engine.commit()
    assert _sink(engine)[1:] == [
        (("a", 100, 130), None, 130),
        (("a", 100, 150), {"C": 6}, 150),
        (("a", 200, 200), {"C": 1}, 200),
    ]
    engine.commit()  # nothing changed: nothing forwarded
    assert len(_sink(engine)) == 4
    # without the cache every step is forwarded, and the table ends the same
    _, uncached = _run(SQL, [("k", {"G": "a"}, ts) for ts in (100, 130, 120, 110, 140, 200, 150)],
                       None)  # fmt: skip
    assert len(uncached) > 4 and _table(uncached) == _table(_sink(engine))


def test_reads_see_the_cache_before_the_flush() -> None:
    engine = Engine(BIG)
    engine.execute(STREAM + f"CREATE TABLE o AS {SQL};")
    engine.produce(Record("s", b"k", json.dumps({"G": "a"}).encode(), 100))
    engine.produce(Record("s", b"k", json.dumps({"G": "a"}).encode(), 105))
    store = engine.aggregate().store
    assert isinstance(store, CachingStore)
    part = store.partition(0)
    # what a pull query reads (get and range go through the cache) against the store below
    assert [(s[0], s[1], s[2]) for s in part.get(("a",))] == [(100, 105, [2])]
    assert [k for k, _ in part.range()] == [("a",)]
    assert store.inner.partition(0).get(("a",)) is None
    assert engine.changelogs[MATERIALIZE] == [] and _sink(engine) == []
    engine.commit()
    assert store.inner.partition(0).get(("a",)) == part.get(("a",))
    assert len(engine.changelogs[MATERIALIZE]) == 1


def test_cache_zero_forwards_what_the_uncached_engine_does() -> None:
    inputs = _inputs(3)
    sql = QUERIES["count"]
    plain, uncached = _run(sql, inputs, None)
    zero, at_zero = _run(sql, inputs, 0)
    assert at_zero == uncached  # every record, in order, with its timestamp
    assert zero.changelogs[MATERIALIZE] == plain.changelogs[MATERIALIZE]
    assert not isinstance(zero.aggregate().store, CachingStore)


def test_a_small_cache_evicts_and_still_ends_right() -> None:
    inputs = _inputs(4)
    sql = QUERIES["sum"]
    _, uncached = _run(sql, inputs, None)
    _, evicting = _run(sql, inputs, BIG, every=1000, max_entries=3)  # groups leave by eviction
    _, cached = _run(sql, inputs, BIG, every=1000)
    assert _table(evicting) == _table(cached) == _table(uncached)
    assert len(cached) < len(evicting) < len(uncached)


def test_emit_final_is_unchanged_by_the_cache() -> None:
    sql = (
        "SELECT g, COUNT(*) AS c, SUM(v) AS t FROM s "
        "WINDOW SESSION (20 MILLISECONDS, GRACE PERIOD 30 MILLISECONDS) GROUP BY g EMIT FINAL"
    )
    inputs = _inputs(5)
    _, uncached = _run(sql, inputs, None)
    engine, cached = _run(sql, inputs, BIG)
    assert cached == uncached and len(cached) > 10
    assert len(engine.changelogs[MATERIALIZE]) < len(_run(sql, inputs, None)[0].changelogs[
        MATERIALIZE])  # fmt: skip


def test_retention_drops_sessions_from_store_and_cache_without_forwarding() -> None:
    sql = (
        "SELECT g, COUNT(*) AS c FROM s WINDOW SESSION (1 SECOND, RETENTION 1 MINUTE, "
        "GRACE PERIOD 0 SECONDS) GROUP BY g"
    )
    minute = 60_000
    inputs = []
    for i in range(40):  # a and b every 15 s: a new session each time; c once, early
        inputs.append((f"a{i}", {"G": "a"}, i * minute // 4))
        inputs.append((f"b{i}", {"G": "b"}, i * minute // 4 + 1))
        if i == 1:
            inputs.append(("c", {"G": "c"}, 20_000))
    plain, uncached = _run(sql, inputs, None, every=7)
    engine, cached = _run(sql, inputs, BIG, every=7)
    assert _table(cached) == _table(uncached)
    assert not any(v is None for _, v, _ in cached + uncached)  # expiry forwards nothing
    stores = [e.aggregate().store.partition(0) for e in (plain, engine)]
    kept = [dict(p.range()) for p in stores]
    assert kept[0] == kept[1]
    assert ("c",) not in kept[0]  # swept from the store (and the cache)
    assert min(s[1] for sessions in kept[0].values() for s in sessions) >= 9 * minute - minute


# ---- the caching store's old values and in-place amendments -------------------------------------


def test_a_store_wrapped_with_old_values_hands_the_listener_the_stored_value() -> None:
    seen: list = []
    cache = StoreCache(100 * ENTRY_BYTES)
    store = cache.wrap(MemoryStore("s"), lambda k, v, o, old: seen.append((k, v, o, old)), True)
    part = store.partition(0)
    part.put(("a",), 1, "r1")
    part.put(("a",), 2, "r2")
    cache.flush()
    part.put(("a",), 3, "r3")
    part.delete(("b",))
    cache.flush()
    assert seen == [(("a",), 2, "r2", None), (("a",), 3, "r3", 2), (("b",), None, None, None)]


def test_amend_rewrites_a_cached_entry_in_place() -> None:
    flushed: list = []
    cache = StoreCache(100 * ENTRY_BYTES)
    store = cache.wrap(MemoryStore("s"), lambda k, v, o: flushed.append((k, v, o)))
    part = store.partition(0)
    part.put(("a",), [1, 2], "r1")
    part.put(("b",), [3], "r2")
    part.amend(("a",), lambda v: [x for x in v if x != 1])
    part.amend(("b",), lambda v: None)  # emptied: deleted
    part.amend(("z",), lambda v: [9])  # not cached: left alone
    assert part.get(("a",)) == [2] and part.get(("b",)) is None and part.get(("z",)) is None
    cache.flush()
    assert flushed == [(("a",), [2], "r1"), (("b",), None, "r2")]  # order and origins kept


# ---- the Kafka runtime: RocksDB stores, changelogs, commits, pull queries -----------------------

CACHE = "ksql.streams.cache.max.bytes.buffering"
EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}
BASE = 1_700_000_000_000
KEYS = 6
SESSIONS = (
    "SELECT ID, COUNT(*) AS CNT, SUM(N) AS S FROM SRC "
    "WINDOW SESSION (2 SECONDS, GRACE PERIOD 1 MINUTE) GROUP BY ID"
)


def _send(bootstrap: str, rows: list[tuple[str, int, int]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, n, ts in rows:
        producer.produce("sess_src", json.dumps({"N": n}).encode(), key.encode(), timestamp=ts)
    assert producer.flush(30) == 0


def _topic_table(bootstrap: str, topic: str) -> tuple[int, dict]:
    records = read_topic(bootstrap, topic, topic_size(bootstrap, topic))
    table: dict = {}
    for message in records:
        if message.value() is None:
            table.pop(message.key(), None)
        else:
            table[message.key()] = json.loads(message.value())
    return len(records), table


def _pull_rows(url: str, sql: str) -> list[list]:
    status, _, text = post(url, "/query", {"ksql": sql})
    assert status == 200, text
    return sorted(row["row"]["columns"] for row in json.loads(text)[1:])


def test_the_kafka_runtime_caches_sessions_and_pull_queries_see_the_cache(tmp_path) -> None:
    service = "sess_cache_"
    # phase one: ten sessions per key, 3 s apart (gap 2 s); phase two bridges them all into one
    first = [(f"k{k}", j, BASE + j * 3000) for j in range(10) for k in range(KEYS)]
    second = [(f"k{k}", 100, BASE + j * 3000 + 1500) for j in range(9) for k in range(KEYS)]
    late = [("k0", 1000, BASE - 600_000)]  # beyond grace: dropped by both
    with (
        ClusterProcess(str(tmp_path / "kafka")) as kafka,
        KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap, extra_args=(
            "--service-id", service, "--config", f"{CACHE}={rn.DEFAULT_CACHE_MAX_BYTES}"))
        as ksql,
    ):  # fmt: skip
        ksql_ok(ksql.url, "CREATE STREAM SRC (ID STRING KEY, N INT) WITH (KAFKA_TOPIC="
                          "'sess_src', VALUE_FORMAT='JSON', PARTITIONS=1);")  # fmt: skip
        _send(kafka.bootstrap, first)
        ksql_ok(ksql.url, f"CREATE TABLE SESS_C AS {SESSIONS};", EARLIEST)
        ksql_ok(ksql.url, f"CREATE TABLE SESS_Z AS {SESSIONS};", {**EARLIEST, CACHE: "0"})
        [listing] = ksql_ok(ksql.url, "SHOW QUERIES;")
        groups = {q["sinks"][0]: f"_confluent-ksql-{service}query_{q['id']}"
                  for q in listing["queries"]}  # fmt: skip

        def settled(total: int) -> None:
            for sink in ("SESS_C", "SESS_Z"):
                wait_for(lambda g=groups[sink]: committed(kafka.bootstrap, g, "sess_src") == total,
                         message=f"{sink} committed {total}")  # fmt: skip

        settled(len(first))  # the cached run flushed its sessions at that commit
        _send(kafka.bootstrap, second + late)
        settled(len(first) + len(second) + len(late))
        cached_count, cached = _topic_table(kafka.bootstrap, "SESS_C")
        uncached_count, uncached = _topic_table(kafka.bootstrap, "SESS_Z")
        expected = {(f"k{k}", BASE, BASE + 27000): {"CNT": 19, "S": 945} for k in range(KEYS)}
        assert cached == uncached
        windows = [decode_session_key(key) for key in cached]
        assert {(k.decode(), w.start, w.end): v for (k, w), v in zip(windows, cached.values(),
                strict=True)} == expected  # fmt: skip
        # each key: 10 sessions, then 10 tombstones and the merged one (more if a commit falls
        # between the bridging records), against every step of every merge without the cache
        assert KEYS * 21 <= cached_count < uncached_count == KEYS * (10 + 9 * 3)
        changelogs = [
            topic_size(kafka.bootstrap, f"{groups[s]}-Aggregate-Aggregate-Materialize-changelog")
            for s in ("SESS_C", "SESS_Z")
        ]
        assert changelogs[0] < changelogs[1]
        pull = "SELECT ID, WINDOWSTART, WINDOWEND, CNT, S FROM {} WHERE ID = 'k1';"
        rows = [["k1", BASE, BASE + 27000, 19, 945]]
        assert _pull_rows(ksql.url, pull.format("SESS_C")) == rows
        assert _pull_rows(ksql.url, pull.format("SESS_Z")) == rows

        # a query that never commits: its sessions are only in the cache, pull queries see them
        never = {**EARLIEST, "ksql.streams.commit.interval.ms": "3600000"}
        ksql_ok(ksql.url, f"CREATE TABLE SESS_N AS {SESSIONS};", never)
        wait_for(lambda: _pull_rows(ksql.url, pull.format("SESS_N")) == rows,
                 message="the pull query sees the cached sessions")  # fmt: skip
        assert topic_size(kafka.bootstrap, "SESS_N") == 0
