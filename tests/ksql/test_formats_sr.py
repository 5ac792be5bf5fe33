"""PROTOBUF and JSON_SR through a (mocked) Schema Registry: wire format, inference, sinks."""

from __future__ import annotations

import base64
import itertools
import json

import pytest
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2

from lambda_fn.proto.trade_settlement_pb2 import TradeSettlement
from streamlab.ksql.engine.engine import KsqlEngine
from streamlab.ksql.errors import KsqlStatementException
from streamlab.ksql.formats import FormatInfo, get_format, serde
from streamlab.ksql.formats import protobuf as pbf
from streamlab.ksql.formats import schema_registry as sr
from streamlab.ksql.runtime.records import Record
from streamlab.ksql.schema import Column
from streamlab.ksql.types import SqlArray, SqlMap, SqlStruct, SqlTypes

_ids = itertools.count()
TOPIC = "trade-settlements"


@pytest.fixture
def engine():
    url = f"mock://formats-sr-{next(_ids)}"
    engine = KsqlEngine(config={"ksql.schema.registry.url": url}, auto_create_topics=True)
    yield engine
    sr.configure(None)


def _ctx(topic: str, key: bool = False) -> SerializationContext:
    return SerializationContext(topic, MessageField.KEY if key else MessageField.VALUE)


def _produce_trades(engine: KsqlEngine, trades: list[TradeSettlement]) -> None:
    """Produce as the application does (an empty list only registers the schema)."""
    ser = ProtobufSerializer(TradeSettlement, sr.client(), {"use.deprecated.format": False})
    ser(TradeSettlement(), _ctx(TOPIC))  # registers trade-settlements-value
    for trade in trades:
        value = ser(trade, _ctx(TOPIC))
        engine.produce(Record(TOPIC, trade.symbol.encode(), value, trade.timestamp))


def _trade(user: str, symbol: str, amount: float, ts: int, disposition="Completed"):
    return TradeSettlement(
        user=user, symbol=symbol, amount=amount, disposition=disposition, reason="r", timestamp=ts
    )


# ---- wire format ------------------------------------------------------------------------------


@pytest.mark.parametrize("indexes", [[0], [1], [0, 2], [3, 1, 4]])
def test_message_indexes_round_trip(indexes):
    data = sr.write_message_indexes(indexes) + b"rest"
    assert sr.read_message_indexes(data) == (indexes, b"rest")


def test_first_message_index_is_one_zero_byte():
    assert sr.write_message_indexes([0]) == b"\x00"
    assert sr.read_message_indexes(b"\x02\x00x") == ([0], b"x")  # count 1, index 0


def test_split_checks_magic_byte_and_size():
    assert sr.split(b"\x00\x00\x00\x00\x07abc") == (7, b"abc")
    with pytest.raises(ValueError, match="Unknown magic byte!"):
        sr.split(b"\x01\x00\x00\x00\x07abc")
    with pytest.raises(ValueError, match="Message too small"):
        sr.split(b"\x00\x00")


# ---- protobuf: inference, reading, processing log --------------------------------------------


def test_protobuf_inference_of_trade_settlement(engine):
    _produce_trades(engine, [_trade("u1", "ABC", 1.5, 1000)])
    engine.execute(f"CREATE STREAM TS WITH (KAFKA_TOPIC='{TOPIC}', VALUE_FORMAT='PROTOBUF');")
    schema = engine.metastore.get_source("TS").schema
    assert str(schema) == (
        "`USER` STRING, `SYMBOL` STRING, `AMOUNT` DOUBLE, `DISPOSITION` STRING, "
        "`REASON` STRING, `TIMESTAMP` BIGINT"
    )


def test_protobuf_inference_keeps_declared_key_and_timestamp(engine):
    _produce_trades(engine, [_trade("u1", "ABC", 1.5, 1000)])
    engine.execute(
        f"CREATE STREAM TS (K STRING KEY) WITH (KAFKA_TOPIC='{TOPIC}', VALUE_FORMAT='PROTOBUF', "
        "TIMESTAMP='timestamp');"
    )
    schema = engine.metastore.get_source("TS").schema
    assert [c.name for c in schema.key] == ["K"]
    assert [c.name for c in schema.value][:2] == ["USER", "SYMBOL"]


def test_protobuf_inference_without_schema_fails(engine):
    with pytest.raises(KsqlStatementException, match="does not exist in the Schema Registry"):
        engine.execute(
            "CREATE STREAM E WITH (KAFKA_TOPIC='empty', VALUE_FORMAT='PROTOBUF', PARTITIONS=1);"
        )


def test_protobuf_csas_reads_and_writes_wire_format(engine):
    _produce_trades(engine, [])
    engine.execute(f"CREATE STREAM TS WITH (KAFKA_TOPIC='{TOPIC}', VALUE_FORMAT='PROTOBUF');")
    engine.execute(
        "CREATE STREAM SEC WITH (KAFKA_TOPIC='sec', VALUE_FORMAT='PROTOBUF') AS "
        "SELECT * FROM TS WHERE DISPOSITION LIKE '%SEC%';"
    )
    _produce_trades(
        engine,
        [
            _trade("u1", "ABC", 1.5, 1000, "SEC Flagged"),
            _trade("u2", "XYZ", 2.5, 2000, "Completed"),
        ],
    )
    out = engine.topics.records("sec")
    assert len(out) == 1
    # The registered sink schema is ksqlDB's: message ConnectDefault1, column names as fields.
    latest = sr.client().get_latest_version("sec-value")
    fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(latest.schema.schema_str))
    assert fdp.message_type[0].name == "ConnectDefault1"
    assert [f.name for f in fdp.message_type[0].field] == [
        "USER",
        "SYMBOL",
        "AMOUNT",
        "DISPOSITION",
        "REASON",
        "TIMESTAMP",
    ]
    # Same field numbers and types as TradeSettlement: the app's class reads our output.
    de = ProtobufDeserializer(TradeSettlement, {"use.deprecated.format": False}, sr.client())
    msg = de(out[0].value, _ctx("sec"))
    assert (msg.user, msg.symbol, msg.amount, msg.disposition) == ("u1", "ABC", 1.5, "SEC Flagged")


def test_protobuf_bad_records_go_to_the_processing_log(engine):
    _produce_trades(engine, [])
    engine.execute(f"CREATE STREAM TS WITH (KAFKA_TOPIC='{TOPIC}', VALUE_FORMAT='PROTOBUF');")
    engine.execute(
        "CREATE STREAM O WITH (KAFKA_TOPIC='o', VALUE_FORMAT='JSON') AS SELECT SYMBOL FROM TS;"
    )
    engine.produce(Record(TOPIC, None, b"\x01\x00\x00\x00\x01\x00", 1))
    engine.produce(Record(TOPIC, None, b"\x00\x00\x00\x03\xe7\x00", 2))
    _produce_trades(engine, [_trade("u1", "ABC", 1.5, 1000)])
    assert [r.value for r in engine.topics.records("o")] == [b'{"SYMBOL":"ABC"}']
    messages = [str(e.to_message()) for e in engine.processing_log.for_query("CSAS_O_0")]
    assert len(messages) == 2
    assert "Unknown magic byte!" in messages[0]
    assert "999" in messages[1]


def test_protobuf_windowed_count(engine):
    _produce_trades(engine, [])
    engine.execute(
        f"CREATE STREAM TS WITH (KAFKA_TOPIC='{TOPIC}', VALUE_FORMAT='PROTOBUF', "
        "TIMESTAMP='timestamp');"
    )
    engine.execute(
        "CREATE TABLE C WITH (KAFKA_TOPIC='c', KEY_FORMAT='PROTOBUF', VALUE_FORMAT='PROTOBUF') AS "
        "SELECT SYMBOL, COUNT(*) AS N FROM TS WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY SYMBOL;"
    )
    _produce_trades(engine, [_trade("u", "ABC", 1, 1000), _trade("u", "ABC", 1, 2000)])
    records = engine.topics.records("c")
    assert len(records) == 2
    value = serde(
        get_format("PROTOBUF"),
        FormatInfo("PROTOBUF"),
        [Column("N", SqlTypes.BIGINT)],
        frozenset(),
        False,
    )
    assert value.deserialize(records[-1].value, "c") == [2]
    assert sr.client().get_latest_version("c-key").schema_id > 0


def test_protobuf_round_trip_of_nested_types(engine):
    columns = [
        Column("I", SqlTypes.INTEGER),
        Column("S", SqlStruct((("A", SqlTypes.STRING), ("B", SqlArray(SqlTypes.BIGINT))))),
        Column("M", SqlMap(SqlTypes.STRING, SqlTypes.DOUBLE)),
        Column("T", SqlTypes.TIMESTAMP),
        Column("L", SqlArray(SqlStruct((("X", SqlTypes.BOOLEAN),)))),
    ]
    fmt = get_format("PROTOBUF")
    rs = serde(fmt, FormatInfo("PROTOBUF"), columns, frozenset(), False, topic="nested")
    row = [7, {"A": "a", "B": [1, 2]}, {"k": 0.5}, 1234, [{"X": True}]]
    data = rs.serialize(row)
    assert data[:1] == b"\x00"
    assert rs.deserialize(data, "nested") == row
    # Inference from the registered schema gives the same types back.
    assert pbf.ProtobufFormat().infer("nested", False) == [(c.name, c.type) for c in columns]


def test_sr_format_without_registry_is_an_error():
    engine = KsqlEngine(auto_create_topics=True)  # no ksql.schema.registry.url
    with pytest.raises(KsqlStatementException, match=r"ksql\.schema\.registry\.url"):
        engine.execute(
            "CREATE STREAM S (A INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='PROTOBUF', PARTITIONS=1);"
        )


# ---- JSON_SR ----------------------------------------------------------------------------------


def test_json_sr_inference_read_and_sink(engine):
    schema = json.dumps(
        {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "count": {"type": "integer"},
                "score": {"type": "number"},
            },
        }
    )
    ser = JSONSerializer(schema, sr.client())
    first = ser({"name": "a", "count": 3, "score": 1.5}, _ctx("j"))  # registers j-value
    engine.execute("CREATE STREAM J WITH (KAFKA_TOPIC='j', VALUE_FORMAT='JSON_SR', PARTITIONS=1);")
    engine.produce(Record("j", None, first, 1))
    inferred = engine.metastore.get_source("J").schema
    assert str(inferred) == "`NAME` STRING, `COUNT` BIGINT, `SCORE` DOUBLE"
    engine.execute(
        "CREATE STREAM J2 WITH (KAFKA_TOPIC='j2', VALUE_FORMAT='JSON_SR') AS "
        "SELECT NAME, COUNT * 2 AS C2 FROM J;"
    )
    engine.produce(Record("j", None, ser({"name": "b", "count": 4, "score": 0.5}, _ctx("j")), 2))
    out = engine.topics.records("j2")
    assert len(out) == 1  # the query starts at the end of the topic
    de = JSONDeserializer(None, schema_registry_client=sr.client())
    assert de(out[0].value, _ctx("j2")) == {"NAME": "b", "C2": 8}


def _well_known_schema() -> descriptor_pb2.FileDescriptorProto:
    """message Event { Timestamp at = 1; StringValue note = 2; repeated Tag tags = 3;
    map<string, int64> counts = 4; Kind kind = 5; uint32 small = 6 } with nested Tag, enum Kind."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="event.proto",
        package="demo",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto"],
    )
    msg = fdp.message_type.add(name="Event")
    tag = msg.nested_type.add(name="Tag")
    tag.field.add(name="name", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    entry = msg.nested_type.add(name="CountsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    kind = msg.enum_type.add(name="Kind")
    kind.value.add(name="UNKNOWN", number=0)
    kind.value.add(name="BUY", number=1)
    add = msg.field.add
    add(name="at", number=1, type=F.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp")
    add(name="note", number=2, type=F.TYPE_MESSAGE, type_name=".google.protobuf.StringValue")
    add(
        name="tags",
        number=3,
        type=F.TYPE_MESSAGE,
        type_name=".demo.Event.Tag",
        label=F.LABEL_REPEATED,
    )
    add(
        name="counts",
        number=4,
        type=F.TYPE_MESSAGE,
        type_name=".demo.Event.CountsEntry",
        label=F.LABEL_REPEATED,
    )
    add(name="kind", number=5, type=F.TYPE_ENUM, type_name=".demo.Event.Kind")
    add(name="small", number=6, type=F.TYPE_UINT32)
    return fdp


def test_protobuf_well_known_types_nested_enum_map(engine):
    from confluent_kafka.schema_registry import Schema
    from google.protobuf import message_factory

    fdp = _well_known_schema()
    text = base64.b64encode(fdp.SerializeToString()).decode()
    schema_id = sr.client().register_schema("events-value", Schema(text, "PROTOBUF"))
    desc = pbf.message_at(pbf._pool_file(fdp), [0])
    event = message_factory.GetMessageClass(desc)()
    event.at.FromMilliseconds(1_700_000_000_123)
    event.note.value = "hi"
    event.tags.add(name="a")
    event.counts["x"] = 3
    event.kind = 1
    event.small = 7
    data = sr.header(schema_id) + b"\x00" + event.SerializeToString()

    engine.execute("CREATE STREAM EV WITH (KAFKA_TOPIC='events', VALUE_FORMAT='PROTOBUF');")
    schema = engine.metastore.get_source("EV").schema
    assert str(schema) == (
        "`AT` TIMESTAMP, `NOTE` STRUCT<`VALUE` STRING>, `TAGS` ARRAY<STRUCT<`NAME` STRING>>, "
        "`COUNTS` MAP<STRING, BIGINT>, `KIND` STRING, `SMALL` BIGINT"
    )
    engine.execute(
        "CREATE STREAM EV2 WITH (KAFKA_TOPIC='events2', VALUE_FORMAT='JSON') AS "
        "SELECT `AT` AS TS, NOTE->VALUE AS N, TAGS[1]->NAME AS T, COUNTS['x'] AS C, KIND, SMALL "
        "FROM EV;"
    )
    engine.produce(Record("events", None, data, 5))
    [out] = engine.topics.records("events2")
    assert json.loads(out.value) == {
        "TS": 1_700_000_000_123,
        "N": "hi",
        "T": "a",
        "C": 3,
        "KIND": "BUY",
        "SMALL": 7,
    }


def test_insert_values_into_an_inferred_stream_uses_the_registered_schema(engine):
    _produce_trades(engine, [])
    engine.execute(f"CREATE STREAM TS WITH (KAFKA_TOPIC='{TOPIC}', VALUE_FORMAT='PROTOBUF');")
    engine.execute(
        "INSERT INTO TS (USER, SYMBOL, AMOUNT, DISPOSITION, REASON, TIMESTAMP) "
        "VALUES ('u9', 'QQQ', 3.25, 'Pending', 'wait', 42);"
    )
    [record] = engine.topics.records(TOPIC)
    de = ProtobufDeserializer(TradeSettlement, {"use.deprecated.format": False}, sr.client())
    msg = de(record.value, _ctx(TOPIC))
    assert (msg.user, msg.symbol, msg.amount, msg.timestamp) == ("u9", "QQQ", 3.25, 42)
    assert [v for v in sr.client().get_versions(f"{TOPIC}-value")] == [1]


def test_json_sr_declared_columns_and_bad_prefix(engine):
    engine.execute(
        "CREATE STREAM JS (ID INT KEY, NAME STRING) WITH (KAFKA_TOPIC='js', "
        "VALUE_FORMAT='JSON_SR', PARTITIONS=1);"
        "CREATE STREAM JS2 WITH (KAFKA_TOPIC='js2', VALUE_FORMAT='JSON') AS SELECT * FROM JS;"
    )
    ser = JSONSerializer(
        json.dumps({"type": "object", "properties": {"name": {"type": "string"}}}), sr.client()
    )
    key = (1).to_bytes(4, "big")
    engine.produce(Record("js", key, b'{"name":"raw json"}', 1))  # no wire prefix
    engine.produce(Record("js", key, ser({"name": "ok"}, _ctx("js")), 2))
    assert [r.value for r in engine.topics.records("js2")] == [b'{"NAME":"ok"}']
    [entry] = engine.processing_log.for_query("CSAS_JS2_0")
    assert "Unknown magic byte!" in str(entry.to_message())


def test_sr_sink_without_registry_names_the_topic():
    engine = KsqlEngine(auto_create_topics=True)
    engine.execute(
        "CREATE STREAM S (A INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);"
    )
    with pytest.raises(KsqlStatementException) as raised:
        engine.execute("CREATE STREAM P WITH (VALUE_FORMAT='JSON_SR') AS SELECT * FROM S;")
    assert raised.value.message == (
        "Cannot create topic 'P' with format JSON_SR without configuring 'ksql.schema.registry.url'"
    )
    assert not engine.topics.exists("P")
