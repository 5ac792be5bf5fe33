"""Joins: stream-table, table-table and stream-stream semantics, keys and errors."""

from __future__ import annotations

import pytest

from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.errors import KsqlStatementException
from tests.ksql._stateful import run

SOURCES = (
    "CREATE STREAM l (id STRING KEY, a INT) WITH (kafka_topic='l', value_format='JSON', "
    "partitions=1);"
    "CREATE STREAM r (id STRING KEY, b INT) WITH (kafka_topic='r', value_format='JSON', "
    "partitions=1);"
    "CREATE TABLE tl (id STRING PRIMARY KEY, a INT) WITH (kafka_topic='tl', value_format='JSON', "
    "partitions=1);"
    "CREATE TABLE tr (id STRING PRIMARY KEY, b INT) WITH (kafka_topic='tr', value_format='JSON', "
    "partitions=1);"
)


def L(key, a, ts, topic="l"):
    return (topic, key, None if a is None else {"A": a}, ts)


def R(key, b, ts, topic="r"):
    return (topic, key, None if b is None else {"B": b}, ts)


CASES = [
    (
        "stream-table inner: lookups only",
        "CREATE STREAM o AS SELECT l.id, a, b FROM l JOIN tr ON l.id = tr.id;",
        [L("x", 1, 1), R("x", 10, 2, "tr"), L("x", 2, 3), R("x", None, 4, "tr"), L("x", 3, 5)],
        [("x", {"A": 2, "B": 10}, 3)],
    ),
    (
        "stream-table left",
        "CREATE STREAM o AS SELECT l.id, a, b FROM l LEFT JOIN tr ON l.id = tr.id;",
        [L("x", 1, 1), R("x", 10, 2, "tr"), L("x", 2, 3)],
        [("x", {"A": 1, "B": None}, 1), ("x", {"A": 2, "B": 10}, 3)],
    ),
    (
        "table-table inner emits on both sides and deletes",
        "CREATE TABLE o AS SELECT tl.id, a, b FROM tl JOIN tr ON tl.id = tr.id;",
        [L("x", 1, 1, "tl"), R("x", 10, 5, "tr"), L("x", 2, 3, "tl"), R("x", None, 7, "tr")],
        [("x", {"A": 1, "B": 10}, 5), ("x", {"A": 2, "B": 10}, 5), ("x", None, 7)],
    ),
    (
        "table-table full outer uses ROWKEY",
        "CREATE TABLE o AS SELECT ROWKEY AS k, a, b FROM tl FULL OUTER JOIN tr ON tl.id = tr.id;",
        [R("y", 10, 1, "tr"), L("y", 1, 2, "tl")],
        [("y", {"A": None, "B": 10}, 1), ("y", {"A": 1, "B": 10}, 2)],
    ),
    (
        "stream-stream inner within",
        "CREATE STREAM o AS SELECT l.id, a, b FROM l JOIN r WITHIN 10 MILLISECONDS ON l.id = r.id;",
        [L("x", 1, 0), R("x", 10, 5), R("x", 20, 50), L("x", 2, 45)],
        [("x", {"A": 1, "B": 10}, 5), ("x", {"A": 2, "B": 20}, 50)],
    ),
    (
        "stream-stream left without grace is eager",
        "CREATE STREAM o AS SELECT l.id, a, b FROM l LEFT JOIN r WITHIN 10 MILLISECONDS "
        "ON l.id = r.id;",
        [L("x", 1, 0), R("x", 10, 5)],
        [("x", {"A": 1, "B": None}, 0), ("x", {"A": 1, "B": 10}, 5)],
    ),
    (
        "stream-stream left with grace waits for the window to close",
        "CREATE STREAM o AS SELECT l.id, a, b FROM l LEFT JOIN r WITHIN 10 MILLISECONDS "
        "GRACE PERIOD 0 MILLISECONDS ON l.id = r.id;",
        [L("x", 1, 0), L("y", 2, 1), R("x", 10, 5), L("z", 3, 30)],
        [("x", {"A": 1, "B": 10}, 5), ("y", {"A": 2, "B": None}, 1)],
    ),
]


@pytest.mark.parametrize(("name", "sql", "inputs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_join(name: str, sql: str, inputs: list, expected: list) -> None:
    sink = sql.split()[2].upper()
    assert run(SOURCES + sql, inputs, sink) == expected


ERRORS = [
    (
        "CREATE STREAM o AS SELECT * FROM l JOIN r ON l.id = r.id;",
        "Stream-Stream joins must have a WITHIN clause specified.",
    ),
    (
        "CREATE STREAM o AS SELECT * FROM l FULL OUTER JOIN tr ON l.id = tr.id;",
        "Invalid join type: full-outer join not supported for stream-table join. "
        "Got L [FULL] OUTER JOIN TR.",
    ),
    (
        "CREATE STREAM o AS SELECT * FROM tl JOIN r ON tl.id = r.id;",
        "Invalid join order: table-stream joins are not supported; only stream-table joins.",
    ),
    (
        "CREATE STREAM o AS SELECT * FROM l JOIN tr ON l.id = CAST(tr.b AS STRING);",
        "stream-table joins require to join on the table's primary key.",
    ),
    (
        "CREATE STREAM o AS SELECT * FROM l JOIN r WITHIN 1 SECOND ON l.id = r.id AND l.a = r.b;",
        "Invalid join condition: joins on multiple conditions are not yet supported.",
    ),
    (
        "CREATE STREAM o AS SELECT * FROM l JOIN r WITHIN 1 SECOND ON l.id = 'x';",
        "Each side of the join comparision must contain references from exactly one source.",
    ),
    (
        "CREATE STREAM o AS SELECT a, b FROM l JOIN r WITHIN 1 SECOND ON l.id = r.id;",
        "must include the join expressions L.ID or R.ID in its projection",
    ),
    (
        "CREATE STREAM o AS SELECT l.id, id FROM l JOIN r WITHIN 1 SECOND ON l.id = r.id;",
        "Column 'ID' is ambiguous. Could be L.ID or R.ID.",
    ),
    (
        "CREATE STREAM o AS SELECT * FROM l JOIN l WITHIN 1 SECOND ON l.id = l.id;",
        "self joins are not yet supported",
    ),
]


@pytest.mark.parametrize(("sql", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_join_errors(sql: str, message: str) -> None:
    engine = KsqlEngine()
    engine.execute(SOURCES)
    with pytest.raises(KsqlStatementException) as caught:
        engine.execute(sql)
    assert message in caught.value.unlogged_message


def test_copartitioning_is_checked() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM a (id STRING KEY, x INT) WITH (kafka_topic='a', value_format='JSON', "
        "partitions=2);"
        "CREATE TABLE b (id STRING PRIMARY KEY, y INT) WITH (kafka_topic='b', "
        "value_format='JSON', partitions=3);"
    )
    with pytest.raises(KsqlStatementException) as caught:
        engine.execute("CREATE STREAM o AS SELECT a.id, x, y FROM a JOIN b ON a.id = b.id;")
    assert (
        "Can't join `A` with `B` since the number of partitions don't match. `A` partitions = 2; "
        "`B` partitions = 3." in caught.value.unlogged_message
    )
    # re-keying the stream side repartitions it, so the counts need not match
    engine.execute(
        "CREATE STREAM o AS SELECT b.id, x, y FROM a JOIN b ON CAST(a.x AS STRING) = b.id;"
    )
