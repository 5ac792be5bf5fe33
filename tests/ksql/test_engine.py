"""The engine end to end over the in-process topic store (local run mode)."""

from __future__ import annotations

import json

import pytest

from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.errors import KsqlStatementException, ParseFailedException
from streamlab.ksql.runtime import Record
from streamlab.ksql.runtime.processing_log import ProcessingErrorType

SOURCE = (
    "CREATE STREAM rides (id INT KEY, city STRING, km DOUBLE, ts BIGINT) "
    "WITH (kafka_topic='rides', value_format='JSON', partitions=2, timestamp='ts');"
)


def key(i: int) -> bytes:
    return i.to_bytes(4, "big", signed=True)


@pytest.fixture
def engine() -> KsqlEngine:
    engine = KsqlEngine()
    engine.execute(SOURCE)
    engine.execute(
        "CREATE TABLE t (k STRING PRIMARY KEY, a ARRAY<INT>) "
        "WITH (kafka_topic='t', value_format='JSON', partitions=1);"
    )
    return engine


def values(engine: KsqlEngine, topic: str) -> list:
    return [None if r.value is None else json.loads(r.value) for r in engine.topics.records(topic)]


def test_ddl_results_and_catalog(engine: KsqlEngine) -> None:
    [result] = engine.execute(
        "CREATE TABLE users (id STRING PRIMARY KEY, name STRING) "
        "WITH (kafka_topic='users', format='JSON', partitions=1);"
    )
    assert result.entity["@type"] == "currentStatus"
    assert result.entity["commandId"] == "table/`USERS`/create"
    assert result.entity["commandStatus"]["message"] == "Table created"
    users = engine.metastore.get_source("USERS")
    assert str(users.schema) == "`ID` STRING PRIMARY KEY, `NAME` STRING".replace(" PRIMARY", "")
    assert users.topic.key_format.format == "JSON"


def test_csas_projection_filter_and_timestamp(engine: KsqlEngine) -> None:
    [result] = engine.execute(
        "CREATE STREAM long_rides AS SELECT id, UCASE(city) AS city, km * 1000 AS m "
        "FROM rides WHERE km > 10;"
    )
    assert result.query_id == "CSAS_LONG_RIDES_0"
    engine.produce(Record("rides", key(1), b'{"city": "paris", "km": 12.5, "ts": 100}', 5))
    engine.produce(Record("rides", key(2), b'{"city": "rome", "km": 2.0, "ts": 200}', 6))
    records = engine.topics.records("LONG_RIDES")
    assert [(r.key, r.timestamp) for r in records] == [(key(1), 100)]
    assert values(engine, "LONG_RIDES") == [{"CITY": "PARIS", "M": 12500.0}]
    assert engine.topics.get("LONG_RIDES").partitions == 2


def test_partition_by_rekeys(engine: KsqlEngine) -> None:
    engine.execute("CREATE STREAM by_city AS SELECT * FROM rides PARTITION BY city;")
    engine.produce(Record("rides", key(1), b'{"city": "paris", "km": 1, "ts": 1}'))
    [record] = engine.topics.records("BY_CITY")
    assert record.key == b"paris"
    assert json.loads(record.value) == {"KM": 1.0, "TS": 1, "ID": 1}
    assert str(engine.metastore.get_source("BY_CITY").schema) == (
        "`CITY` STRING KEY, `KM` DOUBLE, `TS` BIGINT, `ID` INTEGER"
    )


def test_insert_values_and_insert_into(engine: KsqlEngine) -> None:
    engine.execute(
        "CREATE STREAM all_rides (id INT KEY, city STRING) WITH (kafka_topic='all', "
        "value_format='DELIMITED', partitions=1);"
        "INSERT INTO all_rides SELECT id, city FROM rides;"
        "INSERT INTO rides (id, city, km, ts) VALUES (3, 'oslo', 1.5, 42);"
    )
    assert [r.value for r in engine.topics.records("all")] == [b"oslo"]
    assert [q for q in engine.queries] == ["INSERTQUERY_0"]


def test_table_functions_zip_and_pad_with_null() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (k STRING KEY, a ARRAY<INT>, b ARRAY<STRING>) WITH (kafka_topic='s', "
        "value_format='JSON', partitions=1);"
        "CREATE STREAM o AS SELECT k, EXPLODE(a) AS x, EXPLODE(b), CUBE_EXPLODE(b) c FROM s;"
    )
    engine.produce(Record("s", b"k", b'{"A": [1, 2, 3], "B": ["p", null]}'))
    engine.produce(Record("s", b"k", b'{"A": null, "B": null}'))
    assert values(engine, "O") == [
        {"X": 1, "KSQL_COL_0": "p", "C": [None, None]},
        {"X": 2, "KSQL_COL_0": None, "C": ["p", None]},
        {"X": 3, "KSQL_COL_0": None, "C": None},
    ]
    assert str(engine.metastore.get_source("O").schema) == (
        "`K` STRING KEY, `X` INTEGER, `KSQL_COL_0` STRING, `C` ARRAY<STRING>"
    )


def test_alter_adds_value_columns(engine: KsqlEngine) -> None:
    [result] = engine.execute("ALTER STREAM rides ADD COLUMN fare DECIMAL(5, 2);")
    assert result.entity["commandStatus"]["message"] == "Stream RIDES altered."
    assert str(engine.metastore.get_source("RIDES").schema).endswith(", `FARE` DECIMAL(5, 2)")
    engine.execute("CREATE STREAM copy AS SELECT * FROM rides;")
    with pytest.raises(KsqlStatementException, match=r"not supported for CREATE \.\.\. AS"):
        engine.execute("ALTER STREAM copy ADD COLUMN x INT;")
    with pytest.raises(KsqlStatementException, match="A column with the same name"):
        engine.execute("ALTER STREAM rides ADD COLUMN city STRING;")


def test_output_topic_prefix() -> None:
    engine = KsqlEngine(config={"ksql.output.topic.name.prefix": "lab-"})
    engine.execute(SOURCE + "CREATE STREAM copy AS SELECT * FROM rides;")
    assert engine.metastore.get_source("COPY").topic.name == "lab-COPY"


def test_bad_records_go_to_the_processing_log(engine: KsqlEngine) -> None:
    engine.execute("CREATE STREAM copy AS SELECT * FROM rides;")
    engine.produce(Record("rides", key(1), b"{not json"))
    engine.produce(Record("rides", b"\x01", b'{"city": "x", "ts": 1}'))
    engine.produce(Record("rides", key(2), b'{"city": "x", "ts": null}'))
    engine.produce(Record("rides", key(3), b'{"city": "ok", "ts": 7}'))
    assert values(engine, "COPY") == [{"CITY": "ok", "KM": None, "TS": 7}]
    kinds = [e.type for e in engine.processing_log.for_query("CSAS_COPY_0")]
    assert kinds == [
        ProcessingErrorType.DESERIALIZATION_ERROR,
        ProcessingErrorType.DESERIALIZATION_ERROR,
        ProcessingErrorType.RECORD_PROCESSING_ERROR,
    ]
    first = engine.processing_log.entries[0].to_message()
    assert first["deserializationError"]["target"] == "value"
    assert first["deserializationError"]["errorMessage"].startswith(
        "Failed to deserialize value from topic: rides."
    )


def test_tables_forward_tombstones_and_drop_null_keys() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE TABLE t (k STRING PRIMARY KEY, v INT) WITH (kafka_topic='t', "
        "value_format='JSON', partitions=1);"
        "CREATE TABLE big AS SELECT k, v FROM t WHERE v > 10;"
    )
    engine.produce(Record("t", b"a", b'{"V": 20}'))
    engine.produce(Record("t", b"a", b'{"V": 5}'))
    engine.produce(Record("t", None, b'{"V": 50}'))
    engine.produce(Record("t", b"a", None))
    assert [(r.key, r.value) for r in engine.topics.records("BIG")] == [
        (b"a", b'{"V":20}'),
        (b"a", None),
        (b"a", None),
    ]


def test_show_describe_drop_terminate(engine: KsqlEngine) -> None:
    engine.execute("CREATE STREAM copy AS SELECT * FROM rides;")
    streams = engine.execute("SHOW STREAMS;")[0].entity
    assert [s["name"] for s in streams["streams"]] == ["COPY", "RIDES"]
    description = engine.execute("DESCRIBE rides;")[0].entity["sourceDescription"]
    assert description["fields"][0] == {
        "name": "ID",
        "schema": {"type": "INTEGER", "fields": None, "memberSchema": None},
        "type": "KEY",
    }
    assert [q["id"] for q in description["readQueries"]] == ["CSAS_COPY_0"]
    engine.execute("TERMINATE CSAS_COPY_0; DROP STREAM copy DELETE TOPIC;")
    assert engine.metastore.get_source("COPY") is None
    assert not engine.topics.exists("COPY")
    dropped = engine.execute("DROP STREAM IF EXISTS copy;")[0].entity
    assert dropped["commandStatus"]["message"] == "Source COPY does not exist."


def test_drop_terminates_the_query_that_created_the_source(engine: KsqlEngine) -> None:
    # ksqlDB 0.14+: DROP stops the CSAS/CTAS behind the source; other queries still stop it
    engine.execute("CREATE STREAM copy AS SELECT * FROM rides;")
    engine.execute("CREATE STREAM copy2 AS SELECT * FROM copy;")
    with pytest.raises(KsqlStatementException) as error:
        engine.execute("DROP STREAM copy;")
    assert str(error.value.args[0]).splitlines() == [
        "Cannot drop COPY.",
        "The following queries read from this source: [CSAS_COPY2_1].",
        "The following queries write into this source: [].",
        "You need to terminate them before dropping COPY.",
    ]
    engine.execute("DROP STREAM copy2;")  # terminates CSAS_COPY2_1 with it
    engine.execute("INSERT INTO copy SELECT * FROM rides;")
    with pytest.raises(KsqlStatementException, match=r"write into this source: \[INSERTQUERY_2\]"):
        engine.execute("DROP STREAM copy;")
    engine.execute("TERMINATE INSERTQUERY_2;")
    [dropped] = engine.execute("DROP STREAM copy;")
    assert dropped.entity["commandStatus"]["message"] == "Source `COPY` (topic: COPY) was dropped."
    assert engine.queries == {}
    assert engine.metastore.get_source("COPY") is None


ERRORS = [
    (
        "CREATE STREAM x (a INT) WITH (kafka_topic='missing', value_format='JSON');",
        "Topic 'missing' does not exist. If you want to create a new topic",
    ),
    (
        "CREATE STREAM x (a INT) WITH (kafka_topic='rides');",
        "Statement is missing the 'VALUE_FORMAT' property",
    ),
    (
        "CREATE STREAM x (a INT) WITH (kafka_topic='rides', value_format='JSON', format='JSON');",
        "Cannot supply both 'VALUE_FORMAT' and 'FORMAT' properties",
    ),
    (
        "CREATE TABLE x (a INT) WITH (kafka_topic='rides', value_format='JSON');",
        "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.",
    ),
    (
        "CREATE STREAM rides (a INT) WITH (kafka_topic='rides', value_format='JSON');",
        "Cannot add stream 'RIDES': A stream with the same name already exists",
    ),
    (
        "CREATE STREAM x (rowtime BIGINT) WITH (kafka_topic='rides', value_format='JSON');",
        "'ROWTIME' is a reserved column name.",
    ),
    (
        "CREATE STREAM o AS SELECT city FROM rides;",
        "The query used to build `O` must include the key column ID in its projection",
    ),
    ("CREATE STREAM o AS SELECT id, nope FROM rides;", "SELECT column 'NOPE' cannot be resolved."),
    ("CREATE STREAM o AS SELECT * FROM nowhere;", "NOWHERE does not exist."),
    (
        "CREATE STREAM o AS SELECT * FROM rides WHERE city > 1;",
        "Error in WHERE expression: Cannot compare CITY (STRING) to 1 (INTEGER) with GREATER_THAN.",
    ),
    (
        "CREATE STREAM o AS SELECT id, ROWTIME FROM rides;",
        "Reserved column name in select: `ROWTIME`. Please remove or alias the column.",
    ),
    (
        "CREATE TABLE o AS SELECT * FROM rides;",
        "Invalid result type. Your SELECT query produces a STREAM.",
    ),
    (
        "CREATE STREAM o AS SELECT id, COUNT(*) FROM rides GROUP BY id;",
        "Invalid result type. Your SELECT query produces a TABLE.",
    ),
    ("INSERT INTO x (a) VALUES (1);", "Cannot insert values into an unknown stream/table: `X`"),
    (
        "CREATE TABLE o AS SELECT k, EXPLODE(a) FROM t;",
        "Table source is not supported with table functions",
    ),
    (
        "CREATE STREAM o AS SELECT id, EXPLODE(ARRAY[EXPLODE(ARRAY[1])]) FROM rides;",
        "Table functions cannot be nested: EXPLODE(EXPLODE())",
    ),
    (
        "CREATE SOURCE STREAM src (a INT) WITH (kafka_topic='rides', value_format='JSON');"
        "ALTER STREAM src ADD COLUMN b INT;",
        "Cannot alter stream 'SRC': ALTER operations are not supported on source streams.",
    ),
    (
        "CREATE STREAM w (a INT) WITH (kafka_topic='rides', value_format='JSON', "
        "window_type='tumbling', window_size='1 second');",
        "Windowed sources require a key column.",
    ),
    (
        "CREATE STREAM w (k INT KEY, a INT) WITH (kafka_topic='rides', value_format='JSON', "
        "window_type='session', window_size='1 second');",
        "'WINDOW_SIZE' should not be set for SESSION windows.",
    ),
    ("SELECT * FROM rides EMIT CHANGES;", "should be issued to the websocket endpoint '/query'"),
]


@pytest.mark.parametrize(("sql", "message"), ERRORS, ids=[s for s, _ in ERRORS])
def test_statement_errors(engine: KsqlEngine, sql: str, message: str) -> None:
    with pytest.raises(KsqlStatementException) as caught:
        engine.execute(sql)
    assert message in caught.value.unlogged_message
    # ksqlDB's FilterTypeValidator attaches the WHERE expression, not the whole statement.
    last = sql.split(";")[-2].lstrip() + ";"  # the statement that failed
    statement = "(RIDES.CITY > 1)" if "WHERE" in sql else last
    assert caught.value.unlogged_message.endswith(f"Statement: {statement}")


def test_syntax_error_runs_nothing(engine: KsqlEngine) -> None:
    with pytest.raises(ParseFailedException):
        engine.execute("CREATE STREAM ok AS SELECT * FROM rides; SELEC oops;")
    assert engine.metastore.get_source("OK") is None
