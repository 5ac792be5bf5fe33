"""Every piece of operator state is in a state store: a query rebuilt from a restore of its
changelog, at any point of its input, continues exactly as a run that was never interrupted
(EMIT FINAL windows, stream-stream joins with grace, late records, HAVING)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.runtime import Record
from streamlab.ksql.runtime.aggregate import AggregateProcessor
from streamlab.ksql.state import MemoryStore
from streamlab.ksql.state.keys import encode_key

Entry = tuple[str, str, int, tuple, bytes]  # query id, store, partition, key, pickled value


class LoggedEngine(KsqlEngine):
    """The in-process engine with stores that log every change (a ChangelogCallback) and are
    first filled from ``restore`` (a changelog snapshot), as the Kafka runtime restores them."""

    def __init__(self, restore: list[Entry] = ()) -> None:
        super().__init__()
        self.changelog: list[Entry] = []
        self.restore = list(restore)
        self.stores: dict[tuple[str, str], MemoryStore] = {}

    def _store_factory(self, query_id: str):
        def factory(name: str) -> MemoryStore:
            assert (query_id, name) not in self.stores, f"store {name} opened twice"

            def log(partition: int, key: tuple, value: Any) -> None:
                encode_key(key)  # the RocksDB store must be able to hold every key
                self.changelog.append((query_id, name, partition, key, pickle.dumps(value)))

            store = MemoryStore(name, log)
            for q, n, partition, key, value in self.restore:
                if (q, n) == (query_id, name):  # values through pickle: no shared objects
                    store.partition(partition).restore(key, pickle.loads(value))
            self.stores[(query_id, name)] = store
            return store

        return factory


def _feed(engine: KsqlEngine, inputs: list[tuple[str, str, dict | None, int]]) -> None:
    for topic, key, value, ts in inputs:
        data = json.dumps(value).encode() if value is not None else None
        engine.produce(Record(topic, key.encode(), data, ts))


def _outputs(engine: KsqlEngine, topic: str) -> list[tuple[Any, Any, int]]:
    return [(r.key, r.value, r.timestamp) for r in engine.topics.records(topic)]


def _interrupted(sql: str, inputs: list, split: int, sink: str, restore: bool = True) -> list:
    """Outputs of a run stopped after ``split`` inputs and continued by a fresh engine whose
    stores are restored from the first one's changelog (``restore=False``: not restored)."""
    first = LoggedEngine()
    first.execute(sql)
    _feed(first, inputs[:split])
    second = LoggedEngine(first.changelog if restore else [])
    second.execute(sql)
    _feed(second, inputs[split:])
    return _outputs(first, sink) + _outputs(second, sink)


def _check(sql: str, inputs: list, sink: str) -> list:
    """Every split point gives the uninterrupted run's outputs; returns them."""
    whole = LoggedEngine()
    whole.execute(sql)
    _feed(whole, inputs)
    expected = _outputs(whole, sink)
    assert expected, "the case must produce output"
    for split in range(len(inputs) + 1):
        assert _interrupted(sql, inputs, split, sink) == expected, f"split after {split}"
    return expected


S = (
    "CREATE STREAM s (k STRING KEY, v INT) "
    "WITH (kafka_topic='s', value_format='JSON', partitions=1);"
)


def s(key: str, v: int | None, ts: int):
    return ("s", key, None if v is None else {"V": v}, ts)


WINDOWED = [
    (
        "tumbling EMIT FINAL",
        "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS)",
        "EMIT FINAL",
        [s("a", 1, 0), s("b", 2, 3), s("a", 3, 9), s("a", 4, 12), s("b", 5, 14),
         s("a", 6, 7), s("b", 7, 16), s("a", 8, 31), s("b", 9, 2), s("a", 1, 45)],
    ),
    (
        "hopping EMIT FINAL",
        "WINDOW HOPPING (SIZE 10 MILLISECONDS, ADVANCE BY 5 MILLISECONDS, "
        "GRACE PERIOD 2 MILLISECONDS)",
        "EMIT FINAL",
        [s("a", 1, 1), s("b", 2, 4), s("a", 3, 8), s("a", 4, 13), s("b", 5, 11),
         s("a", 6, 9), s("b", 7, 22), s("a", 8, 26), s("a", 9, 40)],
    ),
    (
        "session EMIT FINAL",
        "WINDOW SESSION (5 MILLISECONDS, GRACE PERIOD 6 MILLISECONDS)",
        "EMIT FINAL",
        [s("a", 1, 0), s("b", 2, 2), s("a", 3, 4), s("a", 4, 14), s("b", 5, 6),
         s("a", 6, 9), s("a", 7, 30), s("b", 8, 31), s("a", 9, 42), s("b", 1, 60)],
    ),
    (
        "tumbling with late records",
        "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 3 MILLISECONDS)",
        "EMIT CHANGES",
        # 5 is late after 20 (window [0,10) closed at 13), 12 is not late after 20
        [s("a", 1, 1), s("a", 2, 20), s("a", 3, 5), s("a", 4, 12), s("b", 5, 9),
         s("a", 6, 30), s("b", 7, 21)],
    ),
    (
        "session with late records",
        "WINDOW SESSION (5 MILLISECONDS, GRACE PERIOD 2 MILLISECONDS)",
        "EMIT CHANGES",
        [s("a", 1, 1), s("a", 2, 4), s("a", 3, 20), s("a", 4, 2), s("a", 5, 16),
         s("b", 6, 3), s("a", 7, 40)],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "window", "emit", "inputs"), WINDOWED, ids=[w[0] for w in WINDOWED]
)
def test_windowed_aggregate_restores_at_any_point(name, window, emit, inputs):
    sql = (
        S + "CREATE TABLE o AS SELECT k, COUNT(*) AS n, SUM(v) AS t "
        f"FROM s {window} GROUP BY k {emit};"
    )
    _check(sql, inputs, "O")


def test_without_a_restore_the_outputs_differ():
    """The check above can fail: a query that forgets its state mid-window emits otherwise."""
    _, window, emit, inputs = WINDOWED[0]
    sql = S + f"CREATE TABLE o AS SELECT k, COUNT(*) AS n FROM s {window} GROUP BY k {emit};"
    whole = _interrupted(sql, inputs, len(inputs), "O")
    assert _interrupted(sql, inputs, 4, "O", restore=False) != whole
    late = WINDOWED[3][3]
    sql = S + f"CREATE TABLE o AS SELECT k, COUNT(*) AS n FROM s {WINDOWED[3][1]} GROUP BY k;"
    # stream time lost: the late record at 5 is counted instead of dropped
    assert _interrupted(sql, late, 2, "O", restore=False) != _interrupted(sql, late, 7, "O")


def test_emit_final_keeps_closed_windows_until_retention():
    sql = S + (
        "CREATE TABLE o AS SELECT k, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 10 SECONDS, "
        "RETENTION 2 MINUTES, GRACE PERIOD 0 SECONDS) GROUP BY k EMIT FINAL;"
    )
    engine = LoggedEngine()
    engine.execute(sql)
    [query_id] = engine.queries
    _feed(engine, [s("a", 1, 1_000), s("a", 1, 2_000), s("b", 1, 15_000), s("a", 1, 25_000)])
    windows = engine.stores[(query_id, "Aggregate-Aggregate-Materialize")].partition(0)
    # [0,10s) and [10s,20s) were emitted; the store still has them (pull queries read it)
    assert len(_outputs(engine, "O")) == 2
    assert [k for k, _ in windows.range()] == [("a", 0), ("a", 20_000), ("b", 10_000)]
    buffer = engine.stores[(query_id, "Suppress-store")].partition(0)
    assert [k for k, _ in buffer.range()] == [(30_000, 20_000, 0, "a")]  # awaiting its close
    _feed(engine, [s("c", 1, 135_000)])  # window starts <= 135s - 120s leave the store
    assert [k for k, _ in windows.range()] == [("a", 20_000), ("c", 130_000)]
    assert len(_outputs(engine, "O")) == 3  # [20s,30s) closed
    assert [k for k, _ in buffer.range()] == [(140_000, 130_000, 0, "c")]
    clocks = engine.stores[(query_id, "Aggregate-Aggregate-StreamTime")].partition(0)
    assert dict(clocks.range()) == {("streamTime",): 135_000, ("maxWindowStart",): 130_000}


J = (
    "CREATE STREAM l (id STRING KEY, a INT) "
    "WITH (kafka_topic='l', value_format='JSON', partitions=1);"
    "CREATE STREAM r (id STRING KEY, b INT) "
    "WITH (kafka_topic='r', value_format='JSON', partitions=1);"
)


def L(key, a, ts):
    return ("l", key, {"A": a}, ts)


def R(key, b, ts):
    return ("r", key, {"B": b}, ts)


JOIN_INPUTS = [
    L("x", 1, 0), L("y", 2, 1), R("x", 10, 5), R("z", 30, 6), L("x", 3, 9), R("y", 20, 14),
    L("w", 4, 20), R("x", 11, 3), L("z", 5, 40), R("w", 40, 41), L("v", 6, 43), R("v", 60, 70),
    L("u", 7, 90),
]  # fmt: skip


@pytest.mark.parametrize("join", ["INNER JOIN", "LEFT JOIN", "FULL OUTER JOIN"])
def test_stream_stream_join_with_grace_restores_at_any_point(join):
    key = "ROWKEY AS k" if join.startswith("FULL") else "l.id AS k"
    sql = J + (
        f"CREATE STREAM o AS SELECT {key}, a, b FROM l {join} r WITHIN 10 MILLISECONDS "
        "GRACE PERIOD 5 MILLISECONDS ON l.id = r.id;"
    )
    outputs = _check(sql, JOIN_INPUTS, "O")
    if join != "INNER JOIN":  # NULL-padded rows came from the restored shared store
        assert any(b'"B":null' in value for _, value, _ in outputs)


def test_stream_stream_join_store_names():
    sql = J + (
        "CREATE STREAM o AS SELECT l.id AS k, a, b FROM l LEFT JOIN r WITHIN 10 MILLISECONDS "
        "GRACE PERIOD 5 MILLISECONDS ON l.id = r.id;"
    )
    engine = LoggedEngine()
    engine.execute(sql)
    names = {name for _, name in engine.stores}
    assert names == {
        "KSTREAM-JOINTHIS-0000000008-store",
        "KSTREAM-OUTEROTHER-0000000009-store",
        "KSTREAM-OUTERSHARED-0000000008-store",
        "Join-StreamTime",
    }
    # the same names as the query's internal changelog topics
    topics = {t.name for t in engine.topics.topics.values() if "KSTREAM" in t.name}
    assert {t.rsplit("query_CSAS_O_0-", 1)[1] for t in topics} == {
        f"{n}-changelog" for n in names if n.startswith("KSTREAM")
    }


def test_having_restores_which_keys_need_a_tombstone():
    sql = S + (
        "CREATE TABLE o AS SELECT k, COUNT(*) AS n, SUM(v) AS t FROM s GROUP BY k "
        "HAVING SUM(v) > 2;"
    )
    inputs = [s("a", 3, 0), s("b", 1, 1), s("a", -2, 2), s("b", -1, 3), s("a", 5, 4),
              s("a", -9, 5), s("b", 4, 6)]  # fmt: skip
    outputs = _check(sql, inputs, "O")
    assert sum(value is None for _, value, _ in outputs) == 2  # a, then a again


def test_table_sink_timestamp_column_restores_stream_time():
    sql = (
        "CREATE TABLE t (k STRING PRIMARY KEY, v INT, ev BIGINT) "
        "WITH (kafka_topic='t', value_format='JSON', partitions=1);"
        "CREATE TABLE o WITH (TIMESTAMP='ev') AS SELECT k, v, ev FROM t WHERE v > 0;"
    )
    inputs = [("t", "a", {"V": 1, "EV": 5}, 100), ("t", "b", {"V": 1, "EV": 6}, 300),
              ("t", "a", {"V": 0, "EV": 7}, 200)]  # fmt: skip
    outputs = _check(sql, inputs, "O")
    assert outputs[-1][1:] == (None, 300)  # the tombstone is stamped with stream time


def test_aggregate_state_is_in_its_store():
    engine = LoggedEngine()
    engine.execute(S + "CREATE TABLE o AS SELECT k, COUNT(*) AS n FROM s GROUP BY k;")
    [query] = engine.queries.values()
    node = query.topology.source.downstream
    assert isinstance(node, AggregateProcessor)
    _feed(engine, [s("a", 1, 0), s("a", 1, 1)])
    assert dict(node.store.partition(0).range()) == {("a",): ([2], 1)}
