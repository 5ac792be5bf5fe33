"""Protobuf schemas: text and base64 descriptors parse alike, print back, fail clearly."""

from __future__ import annotations

import base64

import pytest
from registry_helpers import file_proto, trade_settlement_proto

from streamlab.registry import protobuf

RICH = """syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
option java_package = "com.example.shop";
option java_multiple_files = true;
message Order {
  string id = 1;
  repeated Line lines = 2;
  map<string, int64> counters = 3;
  optional string note = 4;
  oneof payment {
    string card = 5;
    Voucher voucher = 6;
  }
  google.protobuf.Timestamp at = 7 [deprecated = true];
  Status status = 8;
  int32 legacy = 9 [json_name = "legacyValue"];
  reserved 10, 12 to 15, 100 to max;
  reserved "old";
  message Line { string sku = 1; uint32 qty = 2; }
  message Voucher { string code = 1; }
  enum Status { option allow_alias = true; NEW = 0; FRESH = 0; PAID = 1; reserved 7 to 9; }
}
service Orders { rpc Get(Order) returns (stream Order); }
"""

PROTO2 = """syntax = "proto2";
package legacy;
message Item {
  required string id = 1;
  optional int32 count = 2 [default = 7];
  optional string label = 3 [default = "a \\"quoted\\" label"];
  repeated int32 packed = 4 [packed = true];
  optional group Extra = 5 { optional bool flag = 1; }
  extensions 100 to 199;
}
extend Item { optional string tag = 100; }
"""


@pytest.mark.parametrize("text", [trade_settlement_proto(), RICH, PROTO2], ids=["ts", "rich", "p2"])
def test_text_and_descriptor_are_the_same_schema(text):
    from_text = protobuf.parse(text, {})
    serialized = protobuf.to_serialized(from_text)
    from_descriptor = protobuf.parse(serialized, {})
    assert protobuf.canonical_bytes(from_text) == protobuf.canonical_bytes(from_descriptor)
    # ...and protoc's own output (with json_name filled in) is that schema too.
    name = "x/test.proto"
    reference = file_proto({name: text}, name)
    assert protobuf.canonical_bytes(reference) == protobuf.canonical_bytes(from_text)


@pytest.mark.parametrize("text", [trade_settlement_proto(), RICH, PROTO2], ids=["ts", "rich", "p2"])
def test_printed_text_compiles_back_to_the_same_descriptor(text):
    fdp = protobuf.parse(text, {})
    printed = protobuf.to_text(fdp)
    assert protobuf.canonical_bytes(protobuf.parse(printed, {})) == protobuf.canonical_bytes(fdp)


def test_printer_shape_is_confluent_like():
    printed = protobuf.to_text(protobuf.parse(trade_settlement_proto(), {}))
    assert printed.startswith('syntax = "proto3";\npackage io.confluent.developer.proto;\n')
    assert 'option java_outer_classname = "TradeSettlementProto";' in printed
    assert "message TradeSettlement {\n  string user = 1;\n" in printed
    rich = protobuf.to_text(protobuf.parse(RICH, {}))
    assert "  map<string, int64> counters = 3;" in rich
    assert "  optional string note = 4;" in rich
    assert (
        "  oneof payment {\n    string card = 5;\n    .shop.v1.Order.Voucher voucher = 6;" in rich
    )
    assert "reserved 10, 12 to 15, 100 to max;" in rich
    assert "CountersEntry" not in rich


def test_identity_ignores_file_name_and_json_names_not_declaration_order():
    a = protobuf.parse('syntax = "proto3"; message M { string a = 1; int32 b = 2; }', {})
    renamed = protobuf.parse(protobuf.to_serialized(a), {})
    renamed.name = "elsewhere.proto"
    assert protobuf.canonical_bytes(a) == protobuf.canonical_bytes(renamed)
    swapped = protobuf.parse('syntax = "proto3"; message M { int32 b = 2; string a = 1; }', {})
    assert protobuf.canonical_bytes(a) != protobuf.canonical_bytes(swapped)
    # normalize=true (a client option) sorts declarations, so those two become equal
    assert protobuf.canonical_bytes(a, True) == protobuf.canonical_bytes(swapped, True)


def test_imports_resolve_through_references_and_builtins():
    common = protobuf.parse('syntax = "proto3"; package c; message Money { int64 units = 1; }', {})
    text = """syntax = "proto3";
    import "common.proto";
    import "google/protobuf/timestamp.proto";
    import "confluent/meta.proto";
    message Fee { c.Money amount = 1; google.protobuf.Timestamp at = 2; }"""
    fee = protobuf.parse(text, {"common.proto": common})
    assert list(fee.dependency) == [
        "common.proto",
        "google/protobuf/timestamp.proto",
        "confluent/meta.proto",
    ]
    # The serialized form builds against the same references.
    protobuf.parse(protobuf.to_serialized(fee), {"common.proto": common})
    with pytest.raises(protobuf.ProtobufError, match=r"common\.proto"):
        protobuf.parse(protobuf.to_serialized(fee), {})


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('syntax = "proto3"; message A { strin x = 1; }', '"strin" is not defined'),
        ('syntax = "proto3"; message A { string x = 1 }', "Expected"),
        ("hello", "Expected top-level statement"),
        ('syntax = "proto3"; import "nope.proto"; message A {}', "nope.proto"),
        ('syntax = "proto3"; message A { string x = 1; int32 y = 1; }', "already been used"),
        (base64.b64encode(b"\x0a\x03a.p\x12").decode(), "Expected top-level statement"),
    ],
    ids=["unknown-type", "syntax", "word", "missing-import", "duplicate-number", "bad-base64"],
)
def test_invalid_schemas_say_why(schema, message):
    with pytest.raises(protobuf.ProtobufError, match=message):
        protobuf.parse(schema, {})


def test_descriptor_whose_types_do_not_resolve_is_refused():
    fdp = protobuf.parse('syntax = "proto3"; message A { string x = 1; }', {})
    fdp.message_type[0].field[0].type = fdp.message_type[0].field[0].TYPE_MESSAGE
    fdp.message_type[0].field[0].type_name = ".Nowhere"
    with pytest.raises(protobuf.ProtobufError, match="Nowhere"):
        protobuf.parse(protobuf.to_serialized(fdp), {})
