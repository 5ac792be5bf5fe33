"""PROTOBUF through the Schema Registry, end to end: broker + registry + ksql server processes.

TradeSettlement records produced by confluent-kafka's ProtobufSerializer (as the Lambda function
writes them) are read by a stream whose columns are inferred from ``trade-settlements-value``;
a CSAS into a PROTOBUF sink is readable by ProtobufDeserializer; a windowed COUNT works.
"""

from __future__ import annotations

import base64

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2

from lambda_fn.proto.trade_settlement_pb2 import TradeSettlement
from streamlab.ksql.client import KsqlClient
from streamlab.ksql.testing import KsqlProcess
from streamlab.registry.testing import RegistryProcess
from tests.ksql_server._helpers import ksql_ok, read_topic

EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}
TOPIC = "trade-settlements"


@pytest.fixture(scope="module")
def registry(kafka, tmp_path_factory):
    with RegistryProcess(str(tmp_path_factory.mktemp("sr")), kafka.bootstrap) as sr:
        yield sr


@pytest.fixture(scope="module")
def ksql_sr(kafka, registry, tmp_path_factory):
    with KsqlProcess(
        str(tmp_path_factory.mktemp("ksql-sr")), kafka.bootstrap, registry_url=registry.url
    ) as server:
        yield server


@pytest.fixture(scope="module")
def trades(kafka, registry):
    """Six settlements on trade-settlements (3 partitions), keyed by symbol."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.create_topics([NewTopic(TOPIC, 3, 1)])[TOPIC].result(30)
    client = SchemaRegistryClient({"url": registry.url})
    ser = ProtobufSerializer(TradeSettlement, client, {"use.deprecated.format": False})
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "partitioner": "murmur2_random"})
    rows = [
        ("alice", "ACME", 10.0, "Completed", 1_000),
        ("bob", "ACME", 20.0, "SEC Flagged", 2_000),
        ("carol", "INIT", 5.5, "Pending", 3_000),
        ("dave", "ACME", 7.0, "SEC Flagged", 4_000),
        ("erin", "INIT", 1.0, "Rejected", 5_000),
        ("frank", "ZVZZT", 2.0, "Completed", 61_000),
    ]
    for user, symbol, amount, disposition, ts in rows:
        msg = TradeSettlement(
            user=user,
            symbol=symbol,
            amount=amount,
            disposition=disposition,
            reason=f"because {user}",
            timestamp=ts,
        )
        value = ser(msg, SerializationContext(TOPIC, MessageField.VALUE))
        producer.produce(TOPIC, value, symbol.encode(), timestamp=ts)
    assert producer.flush(30) == 0
    return rows


def test_inferred_stream_push_query_and_protobuf_sink(kafka, registry, ksql_sr, trades):
    ksql_ok(
        ksql_sr.url,
        f"CREATE STREAM TRADE_SETTLEMENT WITH (KAFKA_TOPIC='{TOPIC}', VALUE_FORMAT='PROTOBUF', "
        "TIMESTAMP='timestamp');",
    )
    [described] = ksql_ok(ksql_sr.url, "DESCRIBE TRADE_SETTLEMENT;")
    fields = [(f["name"], f["schema"]["type"]) for f in described["sourceDescription"]["fields"]]
    assert fields == [
        ("USER", "STRING"),
        ("SYMBOL", "STRING"),
        ("AMOUNT", "DOUBLE"),
        ("DISPOSITION", "STRING"),
        ("REASON", "STRING"),
        ("TIMESTAMP", "BIGINT"),
    ]

    client = KsqlClient(ksql_sr.url)
    rows = list(
        client.query(
            "SELECT USER, SYMBOL, AMOUNT FROM TRADE_SETTLEMENT EMIT CHANGES",
            limit=6,
            properties=EARLIEST,
        )
    )
    got = sorted(tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows)
    assert got == sorted((u, s, a) for u, s, a, _, _ in trades)

    ksql_ok(
        ksql_sr.url,
        "CREATE STREAM SEC_FLAGGED WITH (KAFKA_TOPIC='sec-flagged', VALUE_FORMAT='PROTOBUF') AS "
        "SELECT * FROM TRADE_SETTLEMENT WHERE DISPOSITION LIKE '%SEC%';",
        EARLIEST,
    )
    out = read_topic(kafka.bootstrap, "sec-flagged", 2)
    assert len(out) == 2
    sr_client = SchemaRegistryClient({"url": registry.url})
    latest = sr_client.get_latest_version("sec-flagged-value", fmt="serialized")
    fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(latest.schema.schema_str))
    assert fdp.message_type[0].name == "ConnectDefault1"
    de = ProtobufDeserializer(TradeSettlement, {"use.deprecated.format": False}, sr_client)
    read = sorted(
        (m.user, m.symbol, m.disposition)
        for m in (
            de(r.value(), SerializationContext("sec-flagged", MessageField.VALUE)) for r in out
        )
    )
    assert read == [("bob", "ACME", "SEC Flagged"), ("dave", "ACME", "SEC Flagged")]


def test_windowed_count_over_the_protobuf_stream(kafka, registry, ksql_sr, trades):
    ksql_ok(
        ksql_sr.url,
        f"CREATE STREAM IF NOT EXISTS TRADE_SETTLEMENT WITH (KAFKA_TOPIC='{TOPIC}', "
        "VALUE_FORMAT='PROTOBUF', TIMESTAMP='timestamp');",
    )
    ksql_ok(
        ksql_sr.url,
        "CREATE TABLE SETTLEMENTS_PER_MINUTE WITH (KAFKA_TOPIC='settlements-per-minute', "
        "VALUE_FORMAT='PROTOBUF') AS SELECT SYMBOL, COUNT(*) AS N FROM TRADE_SETTLEMENT "
        "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY SYMBOL EMIT CHANGES;",
        EARLIEST,
    )
    out = read_topic(kafka.bootstrap, "settlements-per-minute", 6)
    assert len(out) == 6
    sr_client = SchemaRegistryClient({"url": registry.url})
    latest = sr_client.get_latest_version("settlements-per-minute-value", fmt="serialized")
    fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(latest.schema.schema_str))
    assert [f.name for f in fdp.message_type[0].field] == ["N"]
    from streamlab.ksql.formats import protobuf, schema_registry

    counts: dict[str, int] = {}
    for record in out:
        schema_id, rest = schema_registry.split(record.value())
        assert schema_id == latest.schema_id
        indexes, payload = schema_registry.read_message_indexes(rest)
        assert indexes == [0]
        symbol = record.key()[:-8].decode()  # KAFKA key + 8-byte window start
        desc = protobuf.message_at(protobuf._pool_file(fdp), indexes)
        from google.protobuf import message_factory

        msg = message_factory.GetMessageClass(desc).FromString(payload)
        counts[symbol] = max(counts.get(symbol, 0), msg.N)
    assert counts == {"ACME": 3, "INIT": 2, "ZVZZT": 1}


def test_restart_replays_the_inferred_stream_and_keeps_writing(kafka, registry, ksql_sr, trades):
    ksql_ok(
        ksql_sr.url,
        f"CREATE STREAM IF NOT EXISTS TRADE_SETTLEMENT WITH (KAFKA_TOPIC='{TOPIC}', "
        "VALUE_FORMAT='PROTOBUF', TIMESTAMP='timestamp');"
        "CREATE STREAM BIG_TRADES WITH (KAFKA_TOPIC='big-trades', VALUE_FORMAT='PROTOBUF') AS "
        "SELECT SYMBOL, AMOUNT FROM TRADE_SETTLEMENT WHERE AMOUNT >= 10;",
        EARLIEST,
    )
    assert len(read_topic(kafka.bootstrap, "big-trades", 2)) == 2
    ksql_sr.restart()
    [described] = ksql_ok(ksql_sr.url, "DESCRIBE TRADE_SETTLEMENT;")
    assert [f["name"] for f in described["sourceDescription"]["fields"]][:2] == ["USER", "SYMBOL"]
    client = SchemaRegistryClient({"url": registry.url})
    ser = ProtobufSerializer(TradeSettlement, client, {"use.deprecated.format": False})
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    msg = TradeSettlement(user="zed", symbol="ACME", amount=99.0, timestamp=120_000)
    producer.produce(TOPIC, ser(msg, SerializationContext(TOPIC, MessageField.VALUE)), b"ACME")
    assert producer.flush(30) == 0
    out = read_topic(kafka.bootstrap, "big-trades", 3)
    assert len(out) == 3
    # one schema version for the sink: the restarted query reuses the registered schema
    assert client.get_versions("big-trades-value") == [1]


def test_drop_cleans_up_the_querys_topics_schemas_and_group(kafka, registry, ksql_sr, trades):
    """ksqlDB's QueryCleanupService: a terminated query's internal topics, their subjects and
    its consumer group go; the sink topic and its subject stay (no DELETE TOPIC)."""
    from confluent_kafka.admin import AdminClient

    ksql_ok(
        ksql_sr.url,
        f"CREATE STREAM IF NOT EXISTS TRADE_SETTLEMENT WITH (KAFKA_TOPIC='{TOPIC}', "
        "VALUE_FORMAT='PROTOBUF', TIMESTAMP='timestamp');",
    )
    [status] = ksql_ok(
        ksql_sr.url,
        "CREATE TABLE AMOUNT_BY_USER WITH (KAFKA_TOPIC='amount-by-user') AS "
        "SELECT USER, SUM(AMOUNT) AS TOTAL FROM TRADE_SETTLEMENT GROUP BY USER;",
        EARLIEST,
    )
    assert len(read_topic(kafka.bootstrap, "amount-by-user", 6)) == 6
    app_id = f"_confluent-ksql-default_query_{status['commandStatus']['queryId']}"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    sr_client = SchemaRegistryClient({"url": registry.url})

    def ours(names) -> list[str]:
        return sorted(n for n in names if n.startswith(app_id))

    internal = [
        f"{app_id}-Aggregate-{s}"
        for s in ("Aggregate-Materialize-changelog", "GroupBy-repartition")
    ]
    assert ours(admin.list_topics(timeout=10).topics) == internal
    # the repartition topic holds PROTOBUF rows (the changelog holds the engine's own encoding)
    assert ours(sr_client.get_subjects()) == [f"{internal[1]}-value"]
    groups = admin.list_consumer_groups().result(10).valid
    assert app_id in {g.group_id for g in groups}

    ksql_ok(ksql_sr.url, "DROP TABLE AMOUNT_BY_USER;")
    assert ours(admin.list_topics(timeout=10).topics) == []
    assert ours(sr_client.get_subjects()) == []
    assert ours(g.group_id for g in admin.list_consumer_groups().result(10).valid) == []
    assert "amount-by-user" in admin.list_topics(timeout=10).topics
    assert "amount-by-user-value" in sr_client.get_subjects()
