"""GROUP BY aggregation: stream and table sources, aggregate functions, HAVING, errors."""

from __future__ import annotations

import pytest

from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.errors import KsqlStatementException
from streamlab.ksql.functions.udaf import make_udaf
from streamlab.ksql.state import MemoryStore
from streamlab.ksql.types import SqlTypes
from tests.ksql._stateful import STREAM, TABLE, run

ROWS = [
    ("s", "1", {"G": "a", "V": 1}, 10),
    ("s", "2", {"G": "b", "V": 5}, 5),
    ("s", "3", {"G": "a", "V": None}, 20),
    ("s", "4", {"G": None, "V": 7}, 30),
    ("s", "5", None, 40),
    ("s", "6", {"G": "a", "V": 3}, 15),
]

STREAM_CASES = [
    (
        "count",
        "SELECT g, COUNT(*) AS c FROM s GROUP BY g",
        [("a", {"C": 1}, 10), ("b", {"C": 1}, 5), ("a", {"C": 2}, 20), ("a", {"C": 3}, 20)],
    ),
    (
        "count column skips nulls",
        "SELECT g, COUNT(v) AS c FROM s GROUP BY g",
        [("a", {"C": 1}, 10), ("b", {"C": 1}, 5), ("a", {"C": 1}, 20), ("a", {"C": 2}, 20)],
    ),
    (
        "sum min max",
        "SELECT g, SUM(v) AS s, MIN(v) AS lo, MAX(v) AS hi FROM s GROUP BY g",
        [
            ("a", {"S": 1, "LO": 1, "HI": 1}, 10),
            ("b", {"S": 5, "LO": 5, "HI": 5}, 5),
            ("a", {"S": 1, "LO": 1, "HI": 1}, 20),
            ("a", {"S": 4, "LO": 1, "HI": 3}, 20),
        ],
    ),
    (
        "avg",
        "SELECT g, AVG(v) AS m FROM s GROUP BY g",
        [("a", {"M": 1.0}, 10), ("b", {"M": 5.0}, 5), ("a", {"M": 1.0}, 20), ("a", {"M": 2.0}, 20)],
    ),
    (
        "latest / earliest by offset",
        "SELECT g, LATEST_BY_OFFSET(v) AS l, EARLIEST_BY_OFFSET(v, false) AS e FROM s GROUP BY g",
        [
            ("a", {"L": 1, "E": 1}, 10),
            ("b", {"L": 5, "E": 5}, 5),
            ("a", {"L": 1, "E": 1}, 20),
            ("a", {"L": 3, "E": 1}, 20),
        ],
    ),
    (
        "collect list / set, count distinct",
        "SELECT g, COLLECT_LIST(v) AS l, COLLECT_SET(k) AS ks, COUNT_DISTINCT(v) AS d "
        "FROM s GROUP BY g",
        [
            ("a", {"L": [1], "KS": ["1"], "D": 1}, 10),
            ("b", {"L": [5], "KS": ["2"], "D": 1}, 5),
            ("a", {"L": [1, None], "KS": ["1", "3"], "D": 1}, 20),
            ("a", {"L": [1, None, 3], "KS": ["1", "3", "6"], "D": 2}, 20),
        ],
    ),
    (
        "having emits a tombstone when a group stops matching",
        "SELECT g, COUNT(*) AS c FROM s GROUP BY g HAVING COUNT(*) < 3",
        [("a", {"C": 1}, 10), ("b", {"C": 1}, 5), ("a", {"C": 2}, 20), ("a", None, 20)],
    ),
    (
        "group by expression names the key KSQL_COL_0",
        "SELECT UCASE(g), COUNT(*) AS c FROM s GROUP BY UCASE(g)",
        [("A", {"C": 1}, 10), ("B", {"C": 1}, 5), ("A", {"C": 2}, 20), ("A", {"C": 3}, 20)],
    ),
]


@pytest.mark.parametrize(
    ("name", "query", "expected"), STREAM_CASES, ids=[c[0] for c in STREAM_CASES]
)
def test_stream_aggregation(name: str, query: str, expected: list) -> None:
    rows = run(STREAM + f"CREATE TABLE o AS {query};", ROWS, "O")
    assert rows == expected


def test_table_aggregation_undoes_then_adds() -> None:
    inputs = [
        ("t", "1", {"G": "a", "V": 1}, 1),
        ("t", "2", {"G": "a", "V": 2}, 2),
        ("t", "1", {"G": "b", "V": 1}, 3),  # moves from a to b: a undone, then b added
        ("t", "2", {"G": "a", "V": 5}, 4),  # same group: one update
        ("t", "2", None, 5),  # delete
    ]
    rows = run(
        TABLE + "CREATE TABLE o AS SELECT g, COUNT(*) AS c, SUM(v) AS s FROM t GROUP BY g;",
        inputs,
        "O",
    )
    assert rows == [
        ("a", {"C": 1, "S": 1}, 1),
        ("a", {"C": 2, "S": 3}, 2),
        ("a", {"C": 1, "S": 2}, 3),
        ("b", {"C": 1, "S": 1}, 3),
        ("a", {"C": 1, "S": 5}, 4),
        ("a", {"C": 0, "S": 0}, 5),
    ]


ERRORS = [
    (
        STREAM + "CREATE TABLE o AS SELECT g, v, COUNT(*) FROM s GROUP BY g;",
        "Non-aggregate SELECT expression(s) not part of GROUP BY: V",
    ),
    (
        STREAM + "CREATE TABLE o AS SELECT g FROM s GROUP BY g;",
        "GROUP BY requires aggregate functions in either the SELECT or HAVING clause.",
    ),
    (
        STREAM + "CREATE TABLE o AS SELECT COUNT(*) AS c FROM s GROUP BY g;",
        "must include the grouping expression G in its projection",
    ),
    (
        TABLE + "CREATE TABLE o AS SELECT g, MAX(v) AS m FROM t GROUP BY g;",
        "The aggregation function MAX cannot be applied to a table source",
    ),
    (
        STREAM + "CREATE TABLE o AS SELECT g, COUNT(*) FROM s GROUP BY g EMIT FINAL;",
        "EMIT FINAL is only supported for windowed aggregations.",
    ),
    (
        STREAM + "CREATE TABLE o AS SELECT g, SUM(v) FROM s GROUP BY g HAVING SUM(v) > 'x';",
        "Error in HAVING expression: Cannot compare SUM(V) (INTEGER) to 'x' (STRING)",
    ),
    (
        STREAM + "CREATE TABLE o AS SELECT g, COUNT(*) FROM s GROUP BY g, g;",
        "Duplicate GROUP BY expression",
    ),
]


@pytest.mark.parametrize(("sql", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_aggregation_errors(sql: str, message: str) -> None:
    with pytest.raises(KsqlStatementException) as caught:
        KsqlEngine().execute(sql)
    assert message in caught.value.unlogged_message


UDAFS = [
    ("COUNT", [], [], [[1], [None], [2]], 3),
    ("COUNT", [SqlTypes.INTEGER], [], [[1], [None], [2]], 2),
    ("SUM", [SqlTypes.BIGINT], [], [[1], [None], [2]], 3),
    ("AVG", [SqlTypes.INTEGER], [], [[1], [2]], 1.5),
    ("MIN", [SqlTypes.STRING], [], [["b"], ["a"], [None]], "a"),
    ("LATEST_BY_OFFSET", [SqlTypes.INTEGER], [2], [[1], [2], [3]], [2, 3]),
    ("EARLIEST_BY_OFFSET", [SqlTypes.INTEGER], [], [[None], [4], [5]], 4),
    ("TOPK", [SqlTypes.INTEGER], [2], [[1], [5], [3]], [5, 3]),
    ("HISTOGRAM", [SqlTypes.STRING], [], [["x"], ["y"], ["x"]], {"x": 2, "y": 1}),
]


@pytest.mark.parametrize(
    ("name", "types", "params", "rows", "result"),
    UDAFS,
    ids=[f"{u[0]}-{i}" for i, u in enumerate(UDAFS)],
)
def test_udaf(name, types, params, rows, result) -> None:
    udaf = make_udaf(name, types, params)
    acc = udaf.initial()
    for args in rows:
        acc = udaf.add(acc, args)
    assert udaf.result(acc) == result


def test_memory_store_changelog_and_range() -> None:
    log: list = []
    store = MemoryStore("x", changelog=lambda p, k, v: log.append((p, k, v)))
    part = store.partition(0)
    part.put(("b",), 2)
    part.put(("a",), 1)
    part.delete(("b",))
    part.restore(("c",), 3)
    assert list(part.range()) == [(("a",), 1), (("c",), 3)]
    assert list(part.range(("b",), None)) == [(("c",), 3)]
    assert log == [(0, ("b",), 2), (0, ("a",), 1), (0, ("b",), None)]


def test_runtime_store_factory_receives_changelog(monkeypatch) -> None:
    """A runtime (Kafka + RocksDB later) plugs its stores in through ``store_factory``."""
    from streamlab.ksql.runtime.operators import QueryContext

    log: list = []

    def factory(name: str) -> MemoryStore:
        return MemoryStore(name, changelog=lambda p, k, v: log.append((name, p, k, v)))

    monkeypatch.setattr(QueryContext, "store_factory", staticmethod(factory), raising=False)
    sql = STREAM + "CREATE TABLE o AS SELECT g, COUNT(*) AS c FROM s GROUP BY g;"
    rows = run(sql, ROWS[:2], "O")
    assert rows == [("a", {"C": 1}, 10), ("b", {"C": 1}, 5)]
    assert log == [
        ("Aggregate-Aggregate-Materialize", 0, ("a",), ([1], 10)),
        ("Aggregate-Aggregate-Materialize", 0, ("b",), ([1], 5)),
    ]
