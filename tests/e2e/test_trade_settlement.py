"""Issue 3's finish line: a TradeSettlement produced with confluent-kafka's Protobuf serializer
against the emulated cluster and registry is read back by the deserializer, and by a plain
consumer that decodes the Confluent wire format by hand."""

from __future__ import annotations

import json
import struct
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

from lambda_fn.proto import TradeSettlement
from streamlab.kafka.testing import ClusterProcess
from streamlab.registry.testing import RegistryProcess

TOPIC = "trade-settlements"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with ClusterProcess(str(tmp_path_factory.mktemp("kafka"))) as kafka:
        registry = RegistryProcess(str(tmp_path_factory.mktemp("registry")), kafka.bootstrap)
        registry.start()
        try:
            yield kafka, registry
        finally:
            registry.stop()


def settlements() -> list[TradeSettlement]:
    return [
        TradeSettlement(user="User_3", symbol="ZVV", amount=1234.5, disposition="Completed",
                        reason="Within same day limit", timestamp=1_700_000_000_000),
        TradeSettlement(user="", symbol="ZTEST", amount=9_000_000.0, disposition="Rejected",
                        reason="No user", timestamp=1_700_000_000_001),
    ]  # fmt: skip


def read_all(bootstrap: str, n: int) -> list:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "e2e-ts", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([TOPIC])
    out = []
    try:
        for _ in range(200):
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                out.append(msg)
            if len(out) == n:
                break
    finally:
        consumer.close()
    return out


def zigzag_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7


def test_trade_settlement_through_serdes_and_by_hand(stack):
    kafka, registry = stack
    client = SchemaRegistryClient({"url": registry.url})
    serialize = ProtobufSerializer(TradeSettlement, client)
    key = StringSerializer()
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all"})
    for s in settlements():
        ctx = SerializationContext(TOPIC, MessageField.VALUE)
        producer.produce(TOPIC, key=key(s.symbol), value=serialize(s, ctx))
    assert producer.flush(30) == 0

    messages = read_all(kafka.bootstrap, 2)
    assert [m.key() for m in messages] == [b"ZVV", b"ZTEST"]

    # 1. confluent-kafka's deserializer, with a fresh registry client (fetches the schema by id)
    reader = SchemaRegistryClient({"url": registry.url})
    deserialize = ProtobufDeserializer(TradeSettlement, {"use.deprecated.format": False}, reader)
    ctx = SerializationContext(TOPIC, MessageField.VALUE)
    assert [deserialize(m.value(), ctx) for m in messages] == settlements()

    # 2. by hand: magic byte 0, 4-byte big-endian schema id, message indexes, protobuf payload
    decoded = []
    for m in messages:
        raw = m.value()
        assert raw[0] == 0, "Confluent wire format starts with magic byte 0"
        (schema_id,) = struct.unpack(">I", raw[1:5])
        with urllib.request.urlopen(f"{registry.url}/schemas/ids/{schema_id}") as reply:
            schema = json.load(reply)
        assert schema["schemaType"] == "PROTOBUF"
        assert "message TradeSettlement" in schema["schema"]
        count, pos = zigzag_varint(raw, 5)
        indexes = []
        for _ in range(count):
            index, pos = zigzag_varint(raw, pos)
            indexes.append(index)
        assert indexes in ([], [0])  # the first message of the file; [0] is written as count 0
        decoded.append(TradeSettlement.FromString(raw[pos:]))
    assert decoded == settlements()
