"""Pull and push queries on materialized tables, windowed and not, through /query,
/query-stream and the Python client (ksqlDB's rules, shapes and error messages)."""

from __future__ import annotations

import json

import pytest

from streamlab.ksql.client import KsqlClient, KsqlError
from tests.ksql_server._helpers import ksql_ok, post, wait_for

EARLIEST = {"auto.offset.reset": "earliest"}
MIN = 60_000

# (symbol, minute): trades per minute; the record timestamps put them in their windows
TRADES = [("ACME", 0), ("ACME", 0), ("INIT", 0), ("ACME", 1), ("ZVZZT", 2), ("ACME", 2)]
COUNTS = {("ACME", 0): 2, ("INIT", 0): 1, ("ACME", 1): 1, ("ZVZZT", 2): 1, ("ACME", 2): 1}
PER_SYMBOL = {"ACME": 4, "INIT": 1, "ZVZZT": 1}


def produce_at(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, int]]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    for key, value, timestamp in records:
        producer.produce(topic, value, key, timestamp=timestamp)
    assert producer.flush(30) == 0


@pytest.fixture(scope="module")
def tables(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM TRADES (ID STRING KEY, SYMBOL STRING, QTY INT) WITH ("
        "KAFKA_TOPIC='wtrades', VALUE_FORMAT='JSON', PARTITIONS=2);"
        "CREATE TABLE PER_MINUTE AS SELECT SYMBOL, COUNT(*) AS N FROM TRADES "
        "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY SYMBOL EMIT CHANGES;"
        "CREATE TABLE PER_SYMBOL AS SELECT SYMBOL, COUNT(*) AS N, SUM(QTY) AS Q FROM TRADES "
        "GROUP BY SYMBOL EMIT CHANGES;"
        "CREATE TABLE BIG AS SELECT SYMBOL, COUNT(*) AS N FROM TRADES "
        "GROUP BY SYMBOL HAVING COUNT(*) > 1 EMIT CHANGES;"
        "CREATE TABLE PLAIN (K STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='wplain', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);",
        {"ksql.streams.auto.offset.reset": "earliest"},
    )
    produce_at(
        kafka.bootstrap,
        "wtrades",
        [
            (f"t{i}".encode(), json.dumps({"SYMBOL": s, "QTY": 10}).encode(), m * MIN + 1000 + i)
            for i, (s, m) in enumerate(TRADES)
        ],
    )
    client = KsqlClient(ksql.url)

    def loaded() -> bool:
        rows = list(client.query("SELECT * FROM PER_MINUTE;", timeout=10))
        per_symbol = list(client.query("SELECT * FROM PER_SYMBOL;", timeout=10))
        big = list(client.query("SELECT N FROM BIG;", timeout=10))
        return (
            len(rows) == len(COUNTS)
            and sum(r["N"] for r in per_symbol) == len(TRADES)
            and big == [{"N": 4}]
        )

    wait_for(loaded, message="the tables to count every trade")
    return client


def pull(url: str, sql: str, properties: dict | None = None):
    status, _, text = post(url, "/query", {"ksql": sql, "streamsProperties": properties or {}})
    return status, json.loads(text)


def test_windowed_table_scan_has_window_bounds_as_key_columns(ksql, tables):
    status, body = pull(ksql.url, "SELECT * FROM PER_MINUTE;")
    assert status == 200, body
    assert body[0]["header"]["schema"] == (
        "`SYMBOL` STRING KEY, `WINDOWSTART` BIGINT KEY, `WINDOWEND` BIGINT KEY, `N` BIGINT"
    )
    rows = {(r["row"]["columns"][0], r["row"]["columns"][1]): r["row"]["columns"] for r in body[1:]}
    assert {(s, start // MIN): row[3] for (s, start), row in rows.items()} == COUNTS
    assert all(row[2] == row[1] + MIN for row in rows.values())


def test_windowed_key_lookup_with_window_bounds(ksql, tables):
    rows = list(tables.query("SELECT * FROM PER_MINUTE WHERE SYMBOL = 'ACME';"))
    assert [(r["WINDOWSTART"], r["N"]) for r in rows] == [(0, 2), (MIN, 1), (2 * MIN, 1)]
    sql = (
        f"SELECT SYMBOL, WINDOWEND, N FROM PER_MINUTE WHERE SYMBOL = 'ACME' "
        f"AND WINDOWSTART >= {MIN} AND WINDOWEND <= {3 * MIN};"
    )
    assert list(tables.query(sql)) == [
        {"SYMBOL": "ACME", "WINDOWEND": 2 * MIN, "N": 1},
        {"SYMBOL": "ACME", "WINDOWEND": 3 * MIN, "N": 1},
    ]
    sql = "SELECT N FROM PER_MINUTE WHERE SYMBOL = 'ACME' AND WINDOWSTART = 60000;"
    assert list(tables.query(sql)) == [{"N": 1}]
    # ISO-8601 strings as bounds, as ksqlDB accepts them
    sql = "SELECT N FROM PER_MINUTE WHERE SYMBOL='ACME' AND WINDOWSTART='1970-01-01T00:01:00';"
    assert list(tables.query(sql)) == [{"N": 1}]


def test_in_and_value_filters_and_limit(ksql, tables):
    sql = "SELECT SYMBOL, WINDOWSTART, N FROM PER_MINUTE WHERE SYMBOL IN ('INIT', 'ZVZZT');"
    got = {(r["SYMBOL"], r["WINDOWSTART"]) for r in tables.query(sql)}
    assert got == {("INIT", 0), ("ZVZZT", 2 * MIN)}
    sql = "SELECT SYMBOL, WINDOWSTART FROM PER_MINUTE WHERE N > 1;"  # a scan with a filter
    assert list(tables.query(sql)) == [{"SYMBOL": "ACME", "WINDOWSTART": 0}]
    assert len(list(tables.query("SELECT * FROM PER_MINUTE LIMIT 2;"))) == 2


def test_non_windowed_lookup_range_and_scan(ksql, tables):
    status, body = pull(ksql.url, "SELECT * FROM PER_SYMBOL WHERE SYMBOL = 'ACME';")
    assert status == 200, body
    assert body == [
        {"header": body[0]["header"]},
        {"row": {"columns": ["ACME", 4, 40]}},
    ]
    assert body[0]["header"]["schema"] == "`SYMBOL` STRING KEY, `N` BIGINT, `Q` INTEGER"
    assert list(tables.query("SELECT SYMBOL FROM PER_SYMBOL WHERE SYMBOL > 'B';")) == [
        {"SYMBOL": "INIT"},
        {"SYMBOL": "ZVZZT"},
    ]
    assert list(tables.query("SELECT * FROM PER_SYMBOL WHERE SYMBOL = 'NOPE';")) == []
    sql = "SELECT N FROM PER_SYMBOL WHERE SYMBOL = UCASE('acme');"  # a resolvable expression
    assert list(tables.query(sql)) == [{"N": 4}]
    scanned = {r["SYMBOL"]: r["N"] for r in tables.query("SELECT * FROM PER_SYMBOL;")}
    assert scanned == PER_SYMBOL
    projected = list(tables.query("SELECT SYMBOL, N * 2 AS D FROM PER_SYMBOL WHERE Q >= 20;"))
    assert projected == [{"SYMBOL": "ACME", "D": 8}]


def test_having_applies_to_pull_queries(ksql, tables):
    assert list(tables.query("SELECT * FROM BIG;")) == [{"SYMBOL": "ACME", "N": 4}]
    assert list(tables.query("SELECT * FROM BIG WHERE SYMBOL = 'INIT';")) == []


def test_query_stream_shapes_for_a_windowed_pull_query(ksql, tables):
    body = {"sql": "SELECT * FROM PER_MINUTE WHERE SYMBOL = 'INIT';", "properties": {}}
    status, _content_type, text = post(ksql.url, "/query-stream", body, accept=None)
    assert status == 200, text
    meta, *rows = [json.loads(line) for line in text.splitlines()]
    assert meta["columnNames"] == ["SYMBOL", "WINDOWSTART", "WINDOWEND", "N"]
    assert meta["columnTypes"] == ["STRING", "BIGINT", "BIGINT", "BIGINT"]
    assert rows == [["INIT", 0, MIN, 1]]


def test_push_query_on_a_windowed_table(ksql, tables):
    sql = "SELECT * FROM PER_MINUTE EMIT CHANGES LIMIT 6;"
    status, _, text = post(ksql.url, "/query", {"ksql": sql, "streamsProperties": EARLIEST})
    assert status == 200, text
    body = json.loads(text)
    assert body[0]["header"]["schema"] == (
        "`SYMBOL` STRING, `WINDOWSTART` BIGINT, `WINDOWEND` BIGINT, `N` BIGINT"
    )
    assert body[-1] == {"finalMessage": "Limit Reached"}
    rows = [r["row"]["columns"] for r in body[1:-1]]
    latest = {(s, start // MIN): n for s, start, end, n in rows if end == start + MIN}
    assert latest == COUNTS
    # the client, with a projection of the bounds and a filter
    sql = "SELECT SYMBOL, WINDOWSTART, N FROM PER_MINUTE WHERE SYMBOL = 'ACME' EMIT CHANGES;"
    rows = list(tables.query(sql, limit=4, properties=EARLIEST))
    # (the table's topic has two partitions: windows of one symbol may arrive in any order)
    assert sorted((r["WINDOWSTART"], r["N"]) for r in rows) == [
        (0, 1),
        (0, 2),
        (MIN, 1),
        (2 * MIN, 1),
    ]


def test_push_query_on_an_aggregated_table(ksql, tables):
    body = {"sql": "SELECT * FROM PER_SYMBOL EMIT CHANGES LIMIT 6;", "properties": EARLIEST}
    status, _, text = post(ksql.url, "/query-stream", body, accept="application/json")
    assert status == 200, text
    meta, *rows = json.loads(text)
    assert meta["columnNames"] == ["SYMBOL", "N", "Q"]
    assert {symbol: n for symbol, n, _ in rows} == PER_SYMBOL  # the latest per key


ERRORS = [
    (
        "SELECT * FROM PLAIN;",
        "The `PLAIN` table isn't queryable. To derive a queryable table, you can do "
        "'CREATE TABLE QUERYABLE_PLAIN AS SELECT * FROM PLAIN'. See https://cnfl.io/queries for "
        "more info.\nAdd EMIT CHANGES if you intended to issue a push query.",
    ),
    (
        "SELECT SYMBOL, COUNT(*) FROM TRADES GROUP BY SYMBOL;",
        "Pull queries don't support GROUP BY clauses. See https://cnfl.io/queries",
    ),
    (
        "SELECT * FROM PER_SYMBOL WHERE WINDOWSTART > 0;",
        "Line: 1, Col: 32: WHERE column 'WINDOWSTART' cannot be resolved.",
    ),
    (
        "SELECT * FROM PER_MINUTE WHERE SYMBOL = 'A' AND WINDOWSTART <> 0;",
        "Unsupported WINDOWSTART bounds: NOT_EQUAL. ",
    ),
    (
        "SELECT * FROM PER_MINUTE WHERE SYMBOL = 'A' AND WINDOWSTART > 0 AND WINDOWSTART > 5;",
        "Duplicate WINDOWSTART bounds on: GREATER_THAN. ",
    ),
    (
        "SELECT * FROM PER_SYMBOL WHERE SYMBOL = 5;",
        "'5' can not be converted to the type of the key column: SYMBOL STRING KEY",
    ),
    (
        "SELECT * FROM PER_SYMBOL WHERE N IS NULL;",
        "Unsupported expression in WHERE clause: (N IS NULL). ",
    ),
    (
        "SELECT ROWOFFSET FROM PER_SYMBOL;",
        "Pull queries don't support the following columns in SELECT clauses: ROWOFFSET\n",
    ),
]


@pytest.mark.parametrize(("sql", "message"), ERRORS)
def test_refused_pull_queries_have_ksqldb_messages(ksql, tables, sql, message):
    status, body = pull(ksql.url, sql)
    assert status == 400, body
    assert body["error_code"] == 40001
    assert body["message"].startswith(message), body["message"]


def test_table_scans_can_be_disabled(ksql, tables):
    off = {"ksql.query.pull.table.scan.enabled": "false"}
    status, body = pull(ksql.url, "SELECT * FROM PER_SYMBOL WHERE N > 1;", off)
    assert status == 400
    assert body["message"].startswith("WHERE clause missing key column for disjunct: (N > 1). ")
    assert (
        "table scans can be enabled by setting ksql.query.pull.table.scan.enabled=true."
        in (body["message"])
    )
    status, body = pull(ksql.url, "SELECT * FROM PER_SYMBOL WHERE SYMBOL = 'INIT';", off)
    assert status == 200 and body[1:] == [{"row": {"columns": ["INIT", 1, 10]}}]


def test_client_raises_the_pull_error(tables):
    with pytest.raises(KsqlError) as caught:
        list(tables.query("SELECT * FROM PLAIN;"))
    assert caught.value.error_code == 40001
    assert "isn't queryable" in caught.value.message


def test_magic_runs_pull_and_push_queries_on_a_windowed_table(ksql, tables):
    from streamlab.ksql.magic import KsqlErrorView, run_cell

    [table] = run_cell(f"--url {ksql.url}", "SELECT * FROM PER_MINUTE WHERE SYMBOL = 'ZVZZT';")
    assert table.columns == ["SYMBOL", "WINDOWSTART", "WINDOWEND", "N"]
    assert table.rows == [["ZVZZT", 2 * MIN, 3 * MIN, 1]]
    cell = "SELECT SYMBOL, WINDOWEND, N FROM PER_MINUTE WHERE SYMBOL = 'INIT' EMIT CHANGES;"
    [table] = run_cell(f"--url {ksql.url} --earliest --limit 1", cell)
    assert table.rows == [["INIT", MIN, 1]]
    [error] = run_cell(f"--url {ksql.url}", "SELECT * FROM PLAIN;")
    assert isinstance(error, KsqlErrorView)
    assert "isn't queryable" in repr(error)
