"""The registry as a process on an emulated cluster, used through confluent-kafka unchanged:
SchemaRegistryClient calls, Protobuf and JSON serdes round trips, persistence, basic auth."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from registry_helpers import message_classes, trade_settlement_proto

from streamlab.registry import protobuf
from streamlab.registry.testing import RegistryProcess

PAYMENT = {
    "type": "object",
    "properties": {"user": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["user"],
    "additionalProperties": False,
}
COMMON = """syntax = "proto3";
package streamlab.test.common;
message Money { string currency = 1; int64 units = 2; }
"""
FEE = """syntax = "proto3";
package streamlab.test.fees;
import "streamlab_test/common.proto";
import "google/protobuf/timestamp.proto";
message Fee {
  streamlab.test.common.Money amount = 1;
  google.protobuf.Timestamp at = 2;
  string reason = 3;
}
"""


def roundtrip(kafka, topic: str, serialize, deserialize, values: list) -> list:
    """Produce values through a serializer, consume them back through a deserializer."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    ctx = SerializationContext(topic, MessageField.VALUE)
    for value in values:
        producer.produce(topic, value=serialize(value, ctx))
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": f"g-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    out = []
    try:
        for _ in range(120):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            out.append(deserialize(msg.value(), ctx))
            if len(out) == len(values):
                break
    finally:
        consumer.close()
    return out


def test_client_calls_one_by_one(client, registry):
    schema = Schema(json.dumps(PAYMENT), "JSON")
    assert client.register_schema("payments-value", schema) == 1
    latest = client.get_latest_version("payments-value")
    assert (latest.subject, latest.version, latest.schema_id) == ("payments-value", 1, 1)
    assert latest.schema.schema_type == "JSON" and latest.guid
    assert client.get_version("payments-value", 1).schema_id == 1
    assert client.lookup_schema("payments-value", schema).version == 1
    assert client.get_subjects() == ["payments-value"]
    assert client.get_versions("payments-value") == [1]
    fresh = SchemaRegistryClient({"url": registry.url})  # nothing cached
    assert json.loads(fresh.get_schema(1, "payments-value").schema_str) == PAYMENT
    assert fresh.get_schema_by_guid(latest.guid).schema_type == "JSON"
    assert fresh.get_subjects_by_schema_id(1) == ["payments-value"]
    assert [(v.subject, v.version) for v in fresh.get_schema_versions(1)] == [("payments-value", 1)]
    assert client.get_schema_types() == ["JSON", "PROTOBUF"]
    assert client.get_compatibility() == "BACKWARD"
    assert client.set_compatibility("payments-value", "FULL") == {"compatibility": "FULL"}
    assert client.get_compatibility("payments-value") == "FULL"
    assert client.get_config("payments-value").compatibility_level.value == "FULL"
    wider = dict(PAYMENT, properties={**PAYMENT["properties"], "note": {"type": "string"}})
    # FULL: old readers of a closed object cannot take a new property...
    assert not client.test_compatibility("payments-value", Schema(json.dumps(wider), "JSON"))
    client.set_compatibility("payments-value", "BACKWARD")  # ...new readers of old data can
    assert client.test_compatibility("payments-value", Schema(json.dumps(wider), "JSON"))
    assert client.test_compatibility_all_versions(
        "payments-value", Schema(json.dumps(wider), "JSON")
    )
    assert client.register_schema("payments-value", Schema(json.dumps(wider), "JSON")) == 2
    assert client.get_referenced_by("payments-value", 1) == []
    assert client.delete_version("payments-value", 2) == 2
    assert client.get_versions("payments-value") == [1]
    assert client.get_global_mode() == "READWRITE"
    assert client.update_mode("payments-value", "READONLY") == "READONLY"
    assert client.get_mode("payments-value") == "READONLY"
    assert client.delete_mode("payments-value") == "READONLY"
    assert client.get_contexts() == ["."]
    assert client.delete_subject("payments-value") == [1]
    assert client.delete_subject("payments-value", permanent=True) == [1, 2]
    assert client.get_subjects() == []
    with pytest.raises(SchemaRegistryError) as caught:
        client.get_latest_version("gone-value")
    assert (caught.value.http_status_code, caught.value.error_code) == (404, 40401)
    with pytest.raises(SchemaRegistryError) as caught:
        client.get_associations_by_resource_name("payments", "-", "topic", ["value"])
    assert caught.value.http_status_code == 404


def test_protobuf_serdes_round_trip(kafka, registry):
    (Trade,) = message_classes(
        {"streamlab_test/trade_settlement.proto": trade_settlement_proto()},
        "io.confluent.developer.proto.TradeSettlement",
    )
    writer = SchemaRegistryClient({"url": registry.url})
    reader = SchemaRegistryClient({"url": registry.url})  # fresh cache: must fetch by id
    serializer = ProtobufSerializer(Trade, writer)
    deserializer = ProtobufDeserializer(Trade, {}, reader)
    trades = [
        Trade(user="User_1", symbol="ZVV", amount=123.5, disposition="Completed", timestamp=1),
        Trade(user="", symbol="ZTEST", amount=9e6, disposition="Rejected", reason="No user"),
    ]
    assert roundtrip(kafka, "trade-settlements", serializer, deserializer, trades) == trades
    latest = writer.get_latest_version("trade-settlements-value")
    assert latest.schema.schema_type == "PROTOBUF"
    text = reader.get_schema(latest.schema_id).schema_str  # default format: .proto text
    assert "message TradeSettlement {" in text and "double amount = 3;" in text


def test_protobuf_with_references_round_trip(kafka, registry):
    files = {"streamlab_test/common.proto": COMMON, "streamlab_test/fee.proto": FEE}
    (Fee,) = message_classes(files, "streamlab.test.fees.Fee")
    serializer = ProtobufSerializer(Fee, SchemaRegistryClient({"url": registry.url}))
    deserializer = ProtobufDeserializer(Fee, {}, SchemaRegistryClient({"url": registry.url}))
    fee = Fee(reason="wire")
    fee.amount.currency, fee.amount.units = "EUR", 250
    fee.at.seconds = 1_700_000_000
    assert roundtrip(kafka, "fees", serializer, deserializer, [fee]) == [fee]
    sr = SchemaRegistryClient({"url": registry.url})
    # The import became its own subject, referenced by name; the well-known type did not.
    assert sorted(sr.get_subjects()) == ["fees-value", "streamlab_test/common.proto"]
    refs = sr.get_latest_version("fees-value").schema.references
    assert [(r.name, r.subject, r.version) for r in refs] == [
        ("streamlab_test/common.proto", "streamlab_test/common.proto", 1)
    ]


def test_text_registered_protobuf_serves_python_serdes(kafka, registry):
    # ksqlDB and people register .proto text; the Python serializer registers a descriptor.
    sr = SchemaRegistryClient({"url": registry.url})
    text_id = sr.register_schema(
        "trade-settlements-value", Schema(trade_settlement_proto(), "PROTOBUF")
    )
    (Trade,) = message_classes(
        {"streamlab_test/trade_settlement.proto": trade_settlement_proto()},
        "io.confluent.developer.proto.TradeSettlement",
    )
    serializer = ProtobufSerializer(Trade, SchemaRegistryClient({"url": registry.url}))
    deserializer = ProtobufDeserializer(Trade, {}, SchemaRegistryClient({"url": registry.url}))
    trade = Trade(user="User_2", symbol="ZXZZT", amount=1.25, disposition="Pending")
    payload = serializer(trade, SerializationContext("trade-settlements", MessageField.VALUE))
    assert int.from_bytes(payload[1:5], "big") == text_id  # same schema, same id
    assert sr.get_versions("trade-settlements-value") == [1]
    assert roundtrip(kafka, "trade-settlements", serializer, deserializer, [trade]) == [trade]


def test_json_serdes_round_trip(kafka, registry):
    writer = SchemaRegistryClient({"url": registry.url})
    serializer = JSONSerializer(json.dumps(PAYMENT), writer)
    deserializer = JSONDeserializer(
        None, schema_registry_client=SchemaRegistryClient({"url": registry.url})
    )
    values = [{"user": "User_1", "amount": 12.5}, {"user": "User_9"}]
    assert roundtrip(kafka, "payments", serializer, deserializer, values) == values
    assert writer.get_latest_version("payments-value").schema.schema_type == "JSON"


def test_incompatible_change_is_refused_over_http(client):
    client.register_schema("t-value", Schema(trade_settlement_proto(), "PROTOBUF"))
    broken = protobuf.to_text(protobuf.parse(trade_settlement_proto(), {})).replace(
        "double amount = 3;", "string amount = 3;"
    )
    with pytest.raises(SchemaRegistryError) as caught:
        client.register_schema("t-value", Schema(broken, "PROTOBUF"))
    e = caught.value
    assert (e.http_status_code, e.error_code) == (409, 409)
    assert "FIELD_SCALAR_KIND_CHANGED" in e.error_message
    assert "#/TradeSettlement/3" in e.error_message
    assert not client.test_compatibility("t-value", Schema(broken, "PROTOBUF"))


def test_state_survives_registry_and_broker_restarts(kafka, registry, tmp_path):
    sr = SchemaRegistryClient({"url": registry.url})
    first = sr.register_schema("a-value", Schema(json.dumps(PAYMENT), "JSON"))
    sr.register_schema("b-value", Schema(trade_settlement_proto(), "PROTOBUF"))
    sr.set_compatibility("a-value", "NONE")
    sr.set_compatibility(level="FULL")
    sr.delete_subject("b-value")

    def check(client: SchemaRegistryClient) -> None:
        assert client.get_subjects() == ["a-value"]
        assert client.get_subjects(deleted=True) == ["a-value", "b-value"]
        assert client.get_compatibility("a-value") == "NONE"
        assert client.get_compatibility() == "FULL"
        assert json.loads(client.get_schema(first).schema_str) == PAYMENT
        assert client.get_schema(2, fmt="serialized").schema_type == "PROTOBUF"

    registry.restart()  # SIGTERM
    check(SchemaRegistryClient({"url": registry.url}))
    registry.restart(hard=True)  # kill -9
    check(SchemaRegistryClient({"url": registry.url}))

    kafka.restart()  # the registry keeps serving reads while the broker restarts
    check(SchemaRegistryClient({"url": registry.url}))
    sr = SchemaRegistryClient({"url": registry.url})
    assert sr.register_schema("c-value", Schema('{"type": "string"}', "JSON")) == 3

    registry.restart()
    sr = SchemaRegistryClient({"url": registry.url})
    check_after = sr.get_latest_version("c-value")
    assert (check_after.schema_id, check_after.version) == (3, 1)
    assert sr.register_schema("d-value", Schema('{"type": "number"}', "JSON")) == 4


def test_basic_auth_with_serdes(kafka, tmp_path):
    users = {"SRKEY": "SRSECRET"}
    with RegistryProcess(str(tmp_path / "sr"), kafka.bootstrap, basic_auth=users) as registry:
        with pytest.raises(SchemaRegistryError) as caught:
            SchemaRegistryClient({"url": registry.url}).get_subjects()
        assert (caught.value.http_status_code, caught.value.error_code) == (401, 401)
        conf = {"url": registry.url, "basic.auth.user.info": "SRKEY:SRSECRET"}
        serializer = JSONSerializer(json.dumps(PAYMENT), SchemaRegistryClient(conf))
        deserializer = JSONDeserializer(None, schema_registry_client=SchemaRegistryClient(conf))
        values = [{"user": "User_3", "amount": 1.0}]
        assert roundtrip(kafka, "secured", serializer, deserializer, values) == values


def test_unreachable_kafka_fails_fast(tmp_path):
    dead = RegistryProcess(str(tmp_path / "sr"), "127.0.0.1:1", extra_args=("--store-timeout", "1"))
    with pytest.raises(RuntimeError, match="exited"):
        dead.start()
    assert "cannot reach Kafka" in dead.tail()


def test_existing_records_written_by_another_registry_are_read(kafka, tmp_path):
    # Records shaped like Confluent's, produced by someone else, are the registry's state.
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    key = {"keytype": "SCHEMA", "subject": "legacy-value", "version": 1, "magic": 1}
    value = {
        "subject": "legacy-value",
        "version": 1,
        "id": 7,
        "schemaType": "JSON",
        "schema": '{"type":"string"}',
        "deleted": False,
    }
    producer.produce("_schemas", key=json.dumps(key), value=json.dumps(value))
    producer.produce("_schemas", key=json.dumps({"keytype": "NOOP", "magic": 0}), value=None)
    producer.produce("_schemas", key=b"not json", value=b"{")
    assert producer.flush(30) == 0
    with RegistryProcess(str(tmp_path / "sr"), kafka.bootstrap) as registry:
        sr = SchemaRegistryClient({"url": registry.url})
        assert sr.get_latest_version("legacy-value").schema_id == 7
        assert sr.register_schema("new-value", Schema('{"type":"number"}', "JSON")) == 8
