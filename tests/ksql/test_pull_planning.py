"""Pull-query planning (streamlab/ksql/engine/pull.py): which reads a WHERE clause becomes, and
ksqlDB's refusals, on the catalog of the in-process engine."""

from __future__ import annotations

import pytest

from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.engine.pull import (
    MAX_LONG,
    MIN_LONG,
    PullQueryError,
    disjuncts,
    plan_pull,
    validate,
)
from streamlab.ksql.errors import KsqlException
from streamlab.ksql.parser import parse
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.planner import QueryAnalyzer
from streamlab.ksql.planner.analyzer import strip_qualifiers
from streamlab.ksql.planner.planner import rewrite_magic_timestamps

EQ = ex.ComparisonOperator.EQUAL


@pytest.fixture(scope="module")
def engine() -> KsqlEngine:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM S (ID STRING KEY, SYMBOL STRING, QTY INT, B BYTES) WITH ("
        "KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE TABLE W AS SELECT SYMBOL, COUNT(*) AS N FROM S "
        "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY SYMBOL;"
        "CREATE TABLE T AS SELECT SYMBOL, COUNT(*) AS N FROM S GROUP BY SYMBOL;"
        "CREATE TABLE Q AS SELECT QTY, COUNT(*) AS N FROM S GROUP BY QTY;"
        "CREATE TABLE M WITH (KEY_FORMAT='JSON') AS SELECT SYMBOL, QTY, COUNT(*) AS N FROM S "
        "GROUP BY SYMBOL, QTY;"
    )
    return engine


def analysis_of(engine: KsqlEngine, sql: str):
    [parsed] = parse(sql)
    statement = engine._resolve_types(parsed.prepare())
    return QueryAnalyzer(engine.metastore, engine.functions).analyze(
        statement.query, persistent=False
    )


def plan(engine: KsqlEngine, sql: str, scans: bool = True):
    analysis = analysis_of(engine, sql)
    validate(analysis)
    where = analysis.where
    if where is not None:
        where = rewrite_magic_timestamps(strip_qualifiers(where))
    source = analysis.source
    return plan_pull(where, source.schema, source.is_windowed, scans)


def test_key_equality_and_in_are_lookups(engine):
    p = plan(engine, "SELECT * FROM T WHERE SYMBOL = 'A';")
    assert p.keyed and [(lk.op, lk.key) for lk in p.lookups] == [(EQ, ("A",))]
    p = plan(engine, "SELECT * FROM T WHERE SYMBOL IN ('A', 'B') AND N > 2;")
    assert [lk.key for lk in p.lookups] == [("A",), ("B",)]
    p = plan(engine, "SELECT * FROM T WHERE 'A' = SYMBOL OR SYMBOL = 'C';")
    assert [lk.key for lk in p.lookups] == [("A",), ("C",)]


def test_multi_column_key_needs_every_column(engine):
    p = plan(engine, "SELECT * FROM M WHERE SYMBOL = 'A' AND QTY = 3;")
    assert [lk.key for lk in p.lookups] == [("A", 3)]
    assert plan(engine, "SELECT * FROM M WHERE SYMBOL = 'A';").table_scan
    with pytest.raises(PullQueryError) as caught:
        plan(engine, "SELECT * FROM M WHERE SYMBOL = 'A';", scans=False)
    assert caught.value.message.startswith(
        "Multi-column sources must specify every key in the WHERE clause. Specified: [SYMBOL] "
        "Expected: [`SYMBOL` STRING KEY, `QTY` INTEGER KEY]. "
    )


def test_string_key_ranges_are_range_reads_other_types_scan(engine):
    p = plan(engine, "SELECT * FROM T WHERE SYMBOL >= 'B';")
    [lookup] = p.lookups
    assert (lookup.op, lookup.key) == (ex.ComparisonOperator.GREATER_THAN_OR_EQUAL, ("B",))
    p = plan(engine, "SELECT * FROM T WHERE 'B' < SYMBOL;")  # flipped to SYMBOL > 'B'
    assert p.lookups[0].op is ex.ComparisonOperator.GREATER_THAN
    assert plan(engine, "SELECT * FROM Q WHERE QTY > 3;").table_scan
    assert plan(engine, "SELECT * FROM Q WHERE QTY = 3;").lookups[0].key == (3,)


def test_window_bounds_narrow_the_windows(engine):
    p = plan(
        engine,
        "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWSTART >= 60000 AND WINDOWEND < 240000;",
    )
    [lookup] = p.lookups
    assert lookup.window.start == (60000, MAX_LONG)
    assert lookup.window.end == (MIN_LONG, 239999)
    assert lookup.window.start_range(60000) == (60000, 179999)
    p = plan(engine, "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWSTART BETWEEN 0 AND 60000;")
    assert p.lookups[0].window.start == (0, 60000)
    p = plan(engine, "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWSTART = '1970-01-01T00:01';")
    assert p.lookups[0].window.start == (60000, 60000)


def test_scans_are_the_default_and_can_be_turned_off(engine):
    assert plan(engine, "SELECT * FROM T;").table_scan
    assert plan(engine, "SELECT * FROM T WHERE N > 1 OR SYMBOL = 'A';").table_scan
    assert plan(engine, "SELECT * FROM T WHERE SYMBOL <> 'A';").table_scan
    assert plan(engine, "SELECT * FROM T WHERE ROWTIME > '2020-01-01';").table_scan
    assert plan(engine, "SELECT * FROM T WHERE SYMBOL = 'A' AND ROWTIME > 5;").keyed
    with pytest.raises(PullQueryError) as caught:
        plan(engine, "SELECT * FROM T WHERE N > 1;", scans=False)
    message = caught.value.message
    assert message.startswith("WHERE clause missing key column for disjunct: (N > 1). ")
    assert "See https://cnfl.io/queries for more info." in message
    assert message.endswith("setting ksql.query.pull.table.scan.enabled=true.")
    with pytest.raises(PullQueryError) as caught:
        plan(engine, "SELECT * FROM W;", scans=False)
    assert caught.value.message.startswith("Missing WHERE clause. ")
    assert "limits the time bounds of the windowed table" in caught.value.message
    with pytest.raises(PullQueryError) as caught:
        plan(engine, "SELECT * FROM T WHERE SYMBOL <> 'A';", scans=False)
    assert caught.value.message.startswith(
        "Bound on key columns '[`SYMBOL` STRING KEY]' must currently be '='. "
    )


REFUSED = [
    (
        "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWSTART <> 0;",
        "Unsupported WINDOWSTART bounds: NOT_EQUAL. ",
    ),
    (
        "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWEND < 5 AND WINDOWEND <= 9;",
        "Duplicate WINDOWEND bounds on: LESS_THAN. ",
    ),
    (
        "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWSTART = 0 AND WINDOWSTART > 5;",
        "`(WINDOWSTART > 5)` cannot be combined with other WINDOWSTART bounds. ",
    ),
    (
        "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWSTART > 'yesterday';",
        "Failed to parse timestamp 'yesterday'",
    ),
    (
        "SELECT * FROM T WHERE SYMBOL = NULL;",
        "Primary key columns can not be NULL: (SYMBOL = null)",
    ),
    (
        "SELECT * FROM Q WHERE QTY = 'x';",
        "'x' can not be converted to the type of the key column: QTY INTEGER KEY",
    ),
    (
        "SELECT * FROM T WHERE N IS NOT NULL;",
        "Unsupported expression in WHERE clause: (N IS NOT NULL). ",
    ),
    (
        "SELECT SYMBOL, COUNT(*) FROM S GROUP BY SYMBOL;",
        "Pull queries don't support GROUP BY clauses. See https://cnfl.io/queries for more "
        "info.\nAdd EMIT CHANGES if you intended to issue a push query.",
    ),
    ("SELECT * FROM S PARTITION BY QTY;", "Pull queries don't support PARTITION BY clauses."),
    (
        "SELECT * FROM T WHERE ROWPARTITION = 0;",
        "Pull queries don't support the following columns in WHERE clauses: ROWPARTITION\n",
    ),
]


@pytest.mark.parametrize(("sql", "message"), REFUSED)
def test_refusals_carry_ksqldb_messages(engine, sql, message):
    with pytest.raises(KsqlException) as caught:
        plan(engine, sql)
    assert caught.value.message.startswith(message), caught.value.message


def test_window_bound_errors_explain_the_window_rules(engine):
    with pytest.raises(PullQueryError) as caught:
        plan(engine, "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWSTART <> 0;")
    assert "\t Bounds on [WINDOWSTART, WINDOWEND] are supported" in caught.value.message
    assert (
        "\t Supported operators are [EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, LESS_THAN, "
        "LESS_THAN_OR_EQUAL]" in caught.value.message
    )


def test_disjunctive_normal_form():
    a, b, c = (
        ex.ComparisonExpression(EQ, ex.ColumnReference(n), ex.IntegerLiteral(1)) for n in "ABC"
    )
    both = ex.LogicalBinaryExpression(
        ex.LogicalOperator.AND, a, ex.LogicalBinaryExpression(ex.LogicalOperator.OR, b, c)
    )
    assert disjuncts(both) == [[a, b], [a, c]]
    negated = disjuncts(ex.NotExpression(ex.LogicalBinaryExpression(ex.LogicalOperator.OR, a, b)))
    assert [[x.operator for x in d] for d in negated] == [[ex.ComparisonOperator.NOT_EQUAL] * 2]


def test_lookups_read_the_store_with_get_and_range_not_a_scan():
    import json

    from streamlab.ksql.kafka_runtime.transient import Materialization
    from streamlab.ksql.runtime.records import Record

    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM S (ID STRING KEY, SYMBOL STRING) WITH (KAFKA_TOPIC='s', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE TABLE W AS SELECT SYMBOL, COUNT(*) AS N FROM S "
        "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY SYMBOL;"
        "CREATE TABLE T AS SELECT SYMBOL, COUNT(*) AS N FROM S GROUP BY SYMBOL;"
    )
    for i, (symbol, ts) in enumerate([("A", 1), ("B", 2), ("A", 60_001), ("C", 120_001)]):
        value = json.dumps({"SYMBOL": symbol}).encode()
        for query in engine.queries.values():
            query.topology.process(Record("s", f"k{i}".encode(), value, ts))

    def reads(table: str, sql: str):
        materialized = Materialization.of(engine, table)
        [part] = materialized.partitions(engine)
        calls = []
        get, range_ = part.get, part.range
        part.get = lambda key, default=None: calls.append(("get", key)) or get(key, default)
        part.range = lambda start=None, end=None: (
            calls.append(("range", start, end)) or range_(start, end)
        )
        try:
            rows = list(materialized.read(engine, plan(engine, sql)))
        finally:
            del part.get, part.range
        return calls, [(key[0], value[1]) for key, value, _ in rows]

    calls, rows = reads("T", "SELECT * FROM T WHERE SYMBOL IN ('A', 'C');")
    assert calls == [("get", ("A",)), ("get", ("C",))] and rows == [("A", 2), ("C", 1)]
    calls, rows = reads("T", "SELECT * FROM T WHERE SYMBOL >= 'B';")
    assert calls == [("range", ("B",), None)] and rows == [("B", 1), ("C", 1)]
    calls, rows = reads("W", "SELECT * FROM W WHERE SYMBOL = 'A' AND WINDOWSTART >= 60000;")
    assert calls == [("range", ("A", 60000), ("A", MAX_LONG + 1))] and rows == [("A", 1)]
    calls, rows = reads("T", "SELECT * FROM T WHERE N > 1;")  # no key: a scan of the store
    assert calls == [("range", None, None)] and len(rows) == 3


def test_session_windows_are_read_with_their_bounds():
    import json

    from streamlab.ksql.kafka_runtime.transient import Materialization
    from streamlab.ksql.runtime.records import Record
    from streamlab.ksql.runtime.windows import Window

    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM S (ID STRING KEY, SYMBOL STRING) WITH (KAFKA_TOPIC='s', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE TABLE SESS AS SELECT SYMBOL, COUNT(*) AS N FROM S "
        "WINDOW SESSION (10 SECONDS) GROUP BY SYMBOL;"
    )
    [query] = engine.queries.values()
    for ts in (1_000, 5_000, 60_000):
        query.topology.process(Record("s", b"k", json.dumps({"SYMBOL": "A"}).encode(), ts))
    materialized = Materialization.of(engine, "SESS")
    sql = "SELECT * FROM SESS WHERE SYMBOL = 'A' AND WINDOWEND > 10000;"
    rows = list(materialized.read(engine, plan(engine, sql)))
    # the key lookup reads every session of the key; the WHERE clause then keeps the second
    assert [(key, value) for key, value, _ in rows] == [
        (["A", Window(1_000, 5_000, True)], ["A", 2, 1_000, 5_000]),
        (["A", Window(60_000, 60_000, True)], ["A", 1, 60_000, 60_000]),
    ]
