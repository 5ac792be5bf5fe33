"""The TradeSettlement contract: the committed generated code is current, and it round-trips
through plain protobuf and through confluent-kafka's Schema Registry Protobuf serde."""

from __future__ import annotations

import base64
import filecmp
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parents[2] / "lambda_fn" / "proto"


def load_pb2():
    spec = importlib.util.spec_from_file_location(
        "trade_settlement_pb2", PROTO_DIR / "trade_settlement_pb2.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_current(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(PROTO_DIR / "generate.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == ["trade_settlement_pb2.py", "trade_settlement_pb2.pyi"]
    stale = [n for n in fresh if not filecmp.cmp(tmp_path / n, PROTO_DIR / n, shallow=False)]
    assert not stale, f"{stale} out of date: run `python lambda_fn/proto/generate.py`"


def test_the_check_notices_a_changed_proto(tmp_path: Path) -> None:
    for name in ("generate.py", "trade_settlement.proto", "trade_settlement_pb2.py",
                 "trade_settlement_pb2.pyi"):  # fmt: skip
        shutil.copy(PROTO_DIR / name, tmp_path / name)
    script = [sys.executable, str(tmp_path / "generate.py"), "--check"]
    assert subprocess.run(script, capture_output=True).returncode == 0
    proto = tmp_path / "trade_settlement.proto"
    proto.write_text(proto.read_text().replace("int64 timestamp = 6;", "int64 timestamp = 7;"))
    done = subprocess.run(script, capture_output=True, text=True)
    assert done.returncode == 1
    assert "trade_settlement_pb2.py is out of date" in done.stderr


def test_fields_are_the_reference_apps() -> None:
    # research/reference-app.md §3: names, numbers and types readers depend on.
    from google.protobuf.descriptor import FieldDescriptor as F

    desc = load_pb2().TradeSettlement.DESCRIPTOR
    assert desc.full_name == "io.confluent.developer.proto.TradeSettlement"
    fields = [(f.name, f.number, f.type) for f in desc.fields]
    assert fields == [
        ("user", 1, F.TYPE_STRING),
        ("symbol", 2, F.TYPE_STRING),
        ("amount", 3, F.TYPE_DOUBLE),
        ("disposition", 4, F.TYPE_STRING),
        ("reason", 5, F.TYPE_STRING),
        ("timestamp", 6, F.TYPE_INT64),
    ]


def settlement(pb2):
    return pb2.TradeSettlement(
        user="User_3",
        symbol="ZVV",
        amount=4321.0 * 17,
        disposition="SEC Flagged",
        reason="This trade looks sus",
        timestamp=1_700_000_000_123,
    )


def test_serialize_parse_round_trip() -> None:
    pb2 = load_pb2()
    msg = settlement(pb2)
    data = msg.SerializeToString()
    back = pb2.TradeSettlement.FromString(data)
    assert back == msg
    assert back.timestamp == 1_700_000_000_123 and back.amount == 73457.0
    # Field 1 (user), wire type 2 (length-delimited): tag byte 0x0a, as any reader expects.
    assert data[:2] == b"\x0a\x06"
    assert pb2.TradeSettlement.FromString(b"") == pb2.TradeSettlement()  # proto3 defaults


def test_confluent_protobuf_serde_round_trip() -> None:
    # What the Lambda function and ksqlDB's PROTOBUF format exchange: Confluent framing (magic
    # byte, schema id, message indexes) around the message, schema registered by the serializer.
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from google.protobuf import descriptor_pb2

    pb2 = load_pb2()
    registry = SchemaRegistryClient.new_client({"url": "mock://trade-settlements"})
    serializer = ProtobufSerializer(pb2.TradeSettlement, registry, {"use.deprecated.format": False})
    deserializer = ProtobufDeserializer(pb2.TradeSettlement, {"use.deprecated.format": False})
    ctx = SerializationContext("trade-settlements", MessageField.VALUE)
    msg = settlement(pb2)
    framed = serializer(msg, ctx)
    assert framed[0] == 0  # Confluent magic byte
    assert deserializer(framed, ctx) == msg
    registered = registry.get_latest_version("trade-settlements-value")
    assert registered.schema.schema_type == "PROTOBUF"
    # confluent-kafka's Python serializer registers the schema as a base64 FileDescriptorProto,
    # not as .proto text: a registry (ours included) must accept both.
    fdp = descriptor_pb2.FileDescriptorProto.FromString(
        base64.b64decode(registered.schema.schema_str)
    )
    assert (fdp.name, fdp.package) == ("trade_settlement.proto", "io.confluent.developer.proto")
    assert [m.name for m in fdp.message_type] == ["TradeSettlement"]
