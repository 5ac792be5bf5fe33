"""Repartition topics carry their values in the source's value format, as ksqlDB writes them.

ksqlDB builds every internal topic's formats with ``InternalFormats.of(keyFormat, valueFormat)``,
``valueFormat`` being the value format of the (leftmost) source of the GROUP BY or of the join
side (``AggregateNode``, ``JoiningNode.getValueFormatForSource``): its properties (the
DELIMITED delimiter) are kept, its serde features are not (the format's defaults). A GROUP BY
over a DELIMITED stream writes ``…-Aggregate-GroupBy-repartition`` as DELIMITED, a PROTOBUF one
as PROTOBUF with the row's schema registered under ``<topic>-value`` (the Confluent serializer
registers it with the first record). A table's GROUP BY frames those bytes as Kafka Streams'
``ChangedSerializer``. A source format that cannot hold the processing row (KAFKA and several
columns) gives JSON. Whatever the format, the queries' results are the one-topology results.
"""

from __future__ import annotations

import itertools
import json

import pytest

from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.formats import FormatInfo, get_format, serde
from streamlab.ksql.formats import schema_registry as sr
from streamlab.ksql.runtime import Record
from streamlab.ksql.runtime.aggregate import Change
from streamlab.ksql.runtime.operators import CHANGE_BOTH, CHANGE_NEW, CHANGE_OLD, changed_serde
from streamlab.ksql.schema import Column
from streamlab.ksql.types import SqlTypes
from tests.ksql.test_formats_sr import TOPIC, _produce_trades, _trade
from tests.ksql.test_table_repartition import SplitEngine

_ids = itertools.count()


def _run(sql: str, inputs: list[tuple[str, bytes | None, bytes | None, int]], **kwargs):
    """The statements and inputs on a split engine and on a one-topology engine."""
    engines = SplitEngine(**kwargs), KsqlEngine(**kwargs)
    for engine in engines:
        engine.execute(sql)
        for topic, key, value, ts in inputs:
            engine.produce(Record(topic, key, value, ts))
    return engines


def _values(engine: KsqlEngine, suffix: str) -> list[bytes | None]:
    [topic] = [t for t in engine.topics.topics if t.endswith(suffix)]
    return [r.value for r in engine.topics.records(topic)]


def _sink(engine: KsqlEngine, topic: str) -> list[tuple]:
    return [(r.key, r.value, r.timestamp) for r in engine.topics.records(topic)]


def _same_results(split: KsqlEngine, single: KsqlEngine, topic: str) -> list[tuple]:
    result = _sink(split, topic)
    assert result and result == _sink(single, topic)
    return result


# ---- GROUP BY ------------------------------------------------------------------------------------

STREAM_GROUP_BY = "CREATE TABLE o AS SELECT g, COUNT(*) AS n, SUM(v) AS t FROM s GROUP BY g;"


def test_stream_group_by_over_delimited_writes_delimited_values():
    sql = (
        "CREATE STREAM s (k STRING KEY, g STRING, v INT) "
        "WITH (kafka_topic='s', value_format='DELIMITED', partitions=1);" + STREAM_GROUP_BY
    )
    inputs = [("s", b"a", b"x,1", 1000), ("s", b"b", b"y,2", 2000), ("s", b"c", b"x,4", 3000)]
    split, single = _run(sql, inputs)
    # the processing row: G, V, ROWTIME, ROWPARTITION, ROWOFFSET, K
    assert _values(split, "-Aggregate-GroupBy-repartition") == [
        b"x,1,1000,0,0,a", b"y,2,2000,0,1,b", b"x,4,3000,0,2,c",
    ]  # fmt: skip
    assert _same_results(split, single, "O")[-1] == (b"x", b"2,5", 3000)


def test_the_delimiter_is_the_sources():
    sql = (
        "CREATE STREAM s (k STRING KEY, g STRING, v INT) "
        "WITH (kafka_topic='s', value_format='DELIMITED', value_delimiter='|', partitions=1);"
        + STREAM_GROUP_BY
    )
    split, single = _run(sql, [("s", b"a", b"x|1", 1000), ("s", b"b", b"x|2", 2000)])
    assert _values(split, "-Aggregate-GroupBy-repartition") == [
        b"x|1|1000|0|0|a", b"x|2|2000|0|1|b",
    ]  # fmt: skip
    assert _same_results(split, single, "O")[-1] == (b"x", b"2|3", 2000)


def test_stream_group_by_over_json_writes_json_values():
    sql = (
        "CREATE STREAM s (k STRING KEY, g STRING, v INT) "
        "WITH (kafka_topic='s', value_format='JSON', partitions=1);" + STREAM_GROUP_BY
    )
    inputs = [("s", b"a", b'{"G":"x","V":1}', 1000), ("s", b"b", b'{"G":"x","V":2}', 2000)]
    split, single = _run(sql, inputs)
    [first, _] = _values(split, "-Aggregate-GroupBy-repartition")
    assert json.loads(first) == {
        "G": "x", "V": 1, "ROWTIME": 1000, "ROWPARTITION": 0, "ROWOFFSET": 0, "K": "a",
    }  # fmt: skip
    assert _same_results(split, single, "O")[-1] == (b"x", b'{"N":2,"T":3}', 2000)


def test_a_format_that_cannot_hold_the_row_falls_back_to_json():
    # KAFKA holds one column; the processing row has six (ksqlDB's, only the columns the
    # query needs, would have fewer)
    sql = (
        "CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='KAFKA', "
        "partitions=1);CREATE TABLE o AS SELECT v, COUNT(*) AS n FROM s GROUP BY v;"
    )
    split, single = _run(sql, [("s", b"a", (5).to_bytes(4, "big"), 1000)])
    [value] = _values(split, "-Aggregate-GroupBy-repartition")
    assert json.loads(value) == {
        "V": 5,
        "ROWTIME": 1000,
        "ROWPARTITION": 0,
        "ROWOFFSET": 0,
        "K": "a",
    }
    _same_results(split, single, "O")


ROW = serde(
    get_format("DELIMITED"),
    FormatInfo("DELIMITED", (("delimiter", "|"),)),
    [Column(n, t) for n, t in [("G", SqlTypes.STRING), ("V", SqlTypes.INTEGER),
                               ("ROWTIME", SqlTypes.BIGINT), ("ROWPARTITION", SqlTypes.INTEGER),
                               ("ROWOFFSET", SqlTypes.BIGINT), ("K", SqlTypes.STRING)]],
    frozenset(),
    is_key=False,
)  # fmt: skip


def test_table_group_by_frames_the_sources_format_as_changes():
    sql = (
        "CREATE TABLE t (k STRING PRIMARY KEY, g STRING, v INT) "
        "WITH (kafka_topic='t', value_format='DELIMITED', value_delimiter='|', partitions=1);"
        "CREATE TABLE o AS SELECT g, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY g;"
    )
    inputs = [("t", b"a", b"x|1", 1000), ("t", b"a", b"y|2", 2000), ("t", b"a", b"y|3", 3000)]
    split, single = _run(sql, inputs)
    values = _values(split, "-Aggregate-GroupBy-repartition")
    x1, y2, y3 = b"x|1|1000|0|0|a", b"y|2|2000|0|1|a", b"y|3|3000|0|2|a"
    assert values == [
        x1 + bytes([CHANGE_NEW]),  # a joins x
        x1 + bytes([CHANGE_OLD]),  # a leaves x ...
        y2 + bytes([CHANGE_NEW]),  # ... and joins y
        bytes([2 * len(y3)]) + y3 + y2 + bytes([CHANGE_BOTH]),  # a stays in y
    ]
    changes = changed_serde(ROW)
    assert changes.deserialize(values[-1], "t") == Change(
        ["y", 3, 3000, 0, 2, "a"], ["y", 2, 2000, 0, 1, "a"]
    )
    assert _same_results(split, single, "O")[-1] == (b"y", b"1|3", 3000)


# ---- joins ---------------------------------------------------------------------------------------


def test_a_rekeyed_stream_side_of_a_stream_table_join_writes_its_format():
    sql = (
        "CREATE STREAM s (id STRING KEY, fk STRING, v INT) "
        "WITH (kafka_topic='s', value_format='DELIMITED', partitions=1);"
        "CREATE TABLE t (id STRING PRIMARY KEY, name STRING) "
        "WITH (kafka_topic='t', value_format='JSON', partitions=1);"
        "CREATE STREAM o AS SELECT s.fk, v, name FROM s JOIN t ON s.fk = t.id;"
    )
    inputs = [("t", b"f1", b'{"NAME":"one"}', 500), ("s", b"a", b"f1,7", 1000)]
    split, single = _run(sql, inputs)
    assert _values(split, "-Join-repartition") == [b"f1,7,1000,0,0,a"]
    assert _same_results(split, single, "O") == [(b"f1", b"7,one", 1000)]


def test_each_side_of_a_stream_stream_join_keeps_its_own_format():
    sql = (
        "CREATE STREAM l (id STRING KEY, fk STRING, v INT) "
        "WITH (kafka_topic='l', value_format='DELIMITED', partitions=1);"
        "CREATE STREAM r (id STRING KEY, fk STRING, w INT) "
        "WITH (kafka_topic='r', value_format='JSON', partitions=1);"
        "CREATE STREAM o AS SELECT l.fk, v, w FROM l JOIN r WITHIN 10 SECONDS ON l.fk = r.fk;"
    )
    inputs = [("l", b"a", b"f1,7", 1000), ("r", b"b", b'{"FK":"f1","W":9}', 2000)]
    split, single = _run(sql, inputs)
    assert _values(split, "-Join-left-repartition") == [b"f1,7,1000,0,0,a"]
    [right] = _values(split, "-Join-right-repartition")
    assert json.loads(right) == {
        "R_FK": "f1", "R_W": 9, "R_ROWTIME": 2000, "R_ROWPARTITION": 0, "R_ROWOFFSET": 0,
        "R_ID": "b",
    }  # fmt: skip
    assert _same_results(split, single, "O") == [(b"f1", b"7,9", 2000)]


def test_a_table_rekeyed_for_its_key_format_writes_its_value_format():
    sql = (
        "CREATE TABLE T (ID INT PRIMARY KEY, VAL STRING) WITH (kafka_topic='t', "
        "key_format='KAFKA', value_format='DELIMITED', partitions=1);"
        "CREATE STREAM S (ID INT KEY, FOO INT) WITH (kafka_topic='s', key_format='DELIMITED', "
        "value_format='JSON', partitions=1);"
        "CREATE STREAM OUTPUT AS SELECT S.ID, VAL FROM S JOIN T ON S.ID = T.ID;"
    )
    one = (1).to_bytes(4, "big")
    inputs = [("t", one, b"one", 500), ("s", b"1", b'{"FOO":3}', 1000), ("t", one, None, 1500),
              ("s", b"1", b'{"FOO":4}', 2000)]  # fmt: skip
    split, single = _run(sql, inputs)
    # VAL, ROWTIME, ROWPARTITION, ROWOFFSET, ID; the delete stays a tombstone
    assert _values(split, "-RightSourceKeyed-SelectKey-repartition") == [b"one,500,0,0,1", None]
    assert _same_results(split, single, "OUTPUT") == [(b"1", b'{"VAL":"one"}', 1000)]


# ---- PROTOBUF: the schema is registered under the internal topic's subject ----------------------


@pytest.fixture
def registry_url():
    yield f"mock://repartition-value-format-{next(_ids)}"
    sr.configure(None)


def test_protobuf_group_by_registers_and_writes_protobuf(registry_url):
    engines = []
    for cls in (SplitEngine, KsqlEngine):
        engine = cls(config={"ksql.schema.registry.url": registry_url}, auto_create_topics=True)
        if not engines:
            _produce_trades(engine, [])  # registers trade-settlements-value
        engine.execute(
            f"CREATE STREAM TS WITH (KAFKA_TOPIC='{TOPIC}', VALUE_FORMAT='PROTOBUF');"
            f"CREATE TABLE BY_USER_{cls.__name__} WITH (VALUE_FORMAT='JSON') AS "
            "SELECT USER, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL FROM TS GROUP BY USER;"
        )
        engines.append(engine)
    split, single = engines
    [topic] = [t for t in split.topics.topics if t.endswith("-Aggregate-GroupBy-repartition")]
    subject = sr.subject(topic, is_key=False)
    assert subject not in sr.client().get_subjects()  # registered with the first record
    trades = [_trade("u1", "ABC", 1.5, 1000), _trade("u2", "XYZ", 2.0, 2000),
              _trade("u1", "XYZ", 3.0, 3000)]  # fmt: skip
    for engine in engines:
        _produce_trades(engine, trades)
    registered = sr.client().get_latest_version(subject)
    assert registered.schema.schema_type == "PROTOBUF"
    values = _values(split, "-Aggregate-GroupBy-repartition")
    assert len(values) == 3
    for value in values:  # Confluent framing: magic byte, the internal subject's schema id
        assert value[:1] == b"\x00"
        assert int.from_bytes(value[1:5], "big") == registered.schema_id
    # the registered schema is the processing row's; read back with it, a value is the trade
    columns = [Column(n, t) for n, t in get_format("PROTOBUF").infer(topic, is_key=False)]
    row = serde(get_format("PROTOBUF"), FormatInfo("PROTOBUF"), columns, frozenset(), False)
    first = dict(zip([c.name for c in columns], row.deserialize(values[0], topic), strict=True))
    assert (first["USER"], first["SYMBOL"], first["AMOUNT"], first["ROWTIME"]) == (
        "u1", "ABC", 1.5, 1000,
    )  # fmt: skip
    a = _sink(split, "BY_USER_SPLITENGINE")
    b = _sink(single, "BY_USER_KSQLENGINE")
    assert a and [(k, json.loads(v), t) for k, v, t in a] == [
        (k, json.loads(v), t) for k, v, t in b
    ]
    assert json.loads(a[-1][1]) == {"N": 2, "TOTAL": 4.5}
