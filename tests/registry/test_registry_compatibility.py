"""Compatibility: which schema changes a subject accepts, per level, with Confluent's verdicts.

The Protobuf rules are Confluent's ``protobuf.diff`` rules: fields are matched by number, so
removing, renaming or renumbering a field is accepted (old readers skip unknown numbers), while
changing a field's kind, a message's name or the package is refused. JSON Schema follows
Confluent's STRICT policy, where an *open* object cannot gain properties.
"""

from __future__ import annotations

import json

import pytest

from streamlab.registry import RegistryError, SchemaRegistry
from streamlab.registry.schemas import Reference

BASE = """syntax = "proto3";
package io.confluent.developer.proto;
message TradeSettlement {
  string user = 1;
  string symbol = 2;
  double amount = 3;
  int64 timestamp = 6;
}
"""


def evolve(old: str, new: str, level: str = "BACKWARD", schema_type: str = "PROTOBUF"):
    """Register old then new under one subject; returns None if accepted, else the error."""
    sr = SchemaRegistry()
    sr.update_config("s", level)
    sr.register("s", old, schema_type)
    try:
        sr.register("s", new, schema_type)
    except RegistryError as e:
        return e
    return None


PROTOBUF_ACCEPTED = {
    "field added": BASE.replace("int64 timestamp = 6;", "int64 timestamp = 6; string reason = 7;"),
    "field removed": BASE.replace("  string symbol = 2;\n", ""),
    "field renumbered": BASE.replace("string symbol = 2;", "string symbol = 9;"),
    "field renamed": BASE.replace("string user = 1;", "string account = 1;"),
    "int32-family change": BASE.replace("int64 timestamp", "uint64 timestamp"),
    "string to bytes": BASE.replace("string symbol", "bytes symbol"),
    "message added": BASE + "message Audit { string who = 1; }\n",
    "enum added": BASE + "enum Side { BUY = 0; SELL = 1; }\n",
    "same schema reformatted": BASE.replace("\n  ", "\n    "),
}

PROTOBUF_REFUSED = {
    "field kind changed": (
        BASE.replace("double amount", "string amount"),
        "FIELD_SCALAR_KIND_CHANGED",
        "#/TradeSettlement/3",
    ),
    "int to signed int": (
        BASE.replace("int64 timestamp", "sint64 timestamp"),
        "FIELD_SCALAR_KIND_CHANGED",
        "#/TradeSettlement/6",
    ),
    "message renamed": (
        BASE.replace("message TradeSettlement", "message Settlement"),
        "MESSAGE_REMOVED",
        "#/TradeSettlement",
    ),
    "package changed": (
        BASE.replace("package io.confluent.developer.proto;", "package settlements.v2;"),
        "PACKAGE_CHANGED",
        "#/",
    ),
    "scalar to message": (
        BASE.replace("double amount = 3;", "Money amount = 3;") + "message Money { int64 u = 1; }",
        "FIELD_KIND_CHANGED",
        "#/TradeSettlement/3",
    ),
    "numeric made repeated": (
        BASE.replace("double amount", "repeated double amount").replace(
            "  double", "  optional double"
        ),
        "FIELD_NUMERIC_LABEL_CHANGED",
        "#/TradeSettlement/3",
    ),
    "two fields moved into a oneof": (
        BASE.replace(
            "  string user = 1;\n  string symbol = 2;\n",
            "  oneof who { string user = 1; string symbol = 2; }\n",
        ),
        "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
        "#/TradeSettlement/who",
    ),
}


@pytest.mark.parametrize("new", PROTOBUF_ACCEPTED.values(), ids=PROTOBUF_ACCEPTED.keys())
def test_protobuf_backward_accepts(new):
    assert evolve(BASE, new) is None


@pytest.mark.parametrize(
    ("new", "kind", "path"), PROTOBUF_REFUSED.values(), ids=PROTOBUF_REFUSED.keys()
)
def test_protobuf_backward_refuses(new, kind, path):
    if kind == "FIELD_NUMERIC_LABEL_CHANGED":  # needs an explicit label on the old side too
        old = BASE.replace("double amount", "optional double amount")
    else:
        old = BASE
    error = evolve(old, new)
    assert error is not None, f"{kind} was accepted"
    assert (error.status, error.error_code) == (409, 409)
    assert f'errorType:"{kind}"' in error.message
    assert f"'{path}'" in error.message


def test_refusal_message_reads_like_confluents():
    error = evolve(BASE, BASE.replace("double amount", "string amount"))
    assert error.message == (
        'Schema being registered is incompatible with an earlier schema for subject "s", '
        'details: [{errorType:"FIELD_SCALAR_KIND_CHANGED", description:"The kind of a SCALAR '
        "field at path '#/TradeSettlement/3' in the new schema does not match its kind in the "
        "old schema\"}, {oldSchemaVersion: 1}, {oldSchema: '"
        + _printed(BASE)
        + "'}, {validateFields: 'false', compatibility: 'BACKWARD'}]"
    )


def _printed(text: str) -> str:
    from streamlab.registry import protobuf

    return protobuf.to_text(protobuf.parse(text, {}))


def test_proto2_required_field_added_is_refused():
    old = 'syntax = "proto2"; message M { optional string a = 1; }'
    new = 'syntax = "proto2"; message M { optional string a = 1; required int32 b = 2; }'
    assert "REQUIRED_FIELD_ADDED" in evolve(old, new).message


def test_levels_decide_the_direction():
    with_audit = BASE + "message Audit { string who = 1; }\n"
    # Removing a message: new readers lack it (BACKWARD refuses), old readers are fine.
    assert evolve(with_audit, BASE, "BACKWARD") is not None
    assert evolve(with_audit, BASE, "FORWARD") is None
    assert evolve(with_audit, BASE, "FULL") is not None
    # Adding one is the mirror image.
    assert evolve(BASE, with_audit, "BACKWARD") is None
    refused = evolve(BASE, with_audit, "FORWARD").message
    assert "The old schema is missing a MESSAGE type at path '#/Audit' in the new schema" in refused
    assert evolve(BASE, BASE.replace("double amount", "string amount"), "NONE") is None


def test_transitive_levels_check_every_live_version():
    v2 = BASE.replace("  double amount = 3;\n", "")  # amount removed: accepted
    v3 = v2.replace("int64 timestamp = 6;", "int64 timestamp = 6;\n  string amount = 3;")
    for level, accepted in (("BACKWARD", True), ("BACKWARD_TRANSITIVE", False)):
        sr = SchemaRegistry()
        sr.update_config("s", level)
        for schema in (BASE, v2):
            sr.register("s", schema, "PROTOBUF")
        if accepted:
            assert sr.register("s", v3, "PROTOBUF").version == 3
        else:
            with pytest.raises(RegistryError, match="oldSchemaVersion: 1"):
                sr.register("s", v3, "PROTOBUF")


def test_referenced_message_change_is_seen_through_the_reference():
    sr = SchemaRegistry()
    money = 'syntax = "proto3"; package c; message Money { int64 units = 1; }'
    money2 = 'syntax = "proto3"; package c; message Money { string units = 1; }'
    sr.update_config("common.proto", "NONE")
    sr.register("common.proto", money, "PROTOBUF")
    sr.register("common.proto", money2, "PROTOBUF")
    fee = 'syntax = "proto3"; import "common.proto"; message Fee { c.Money amount = 1; }'
    sr.register("fee", fee, "PROTOBUF", (Reference("common.proto", "common.proto", 1),))
    with pytest.raises(RegistryError) as caught:
        sr.register("fee", fee, "PROTOBUF", (Reference("common.proto", "common.proto", 2),))
    assert "FIELD_NAMED_TYPE_CHANGED" in caught.value.message
    assert "'#/Money/1'" in caught.value.message


def closed(properties: dict, required=(), **extra) -> str:
    return json.dumps(
        {
            "type": "object",
            "properties": properties,
            "required": list(required),
            "additionalProperties": False,
            **extra,
        }
    )


JSON_BASE = closed({"user": {"type": "string"}, "amount": {"type": "number"}}, ["user"])

JSON_ACCEPTED = {
    "optional property added (closed)": closed(
        {"user": {"type": "string"}, "amount": {"type": "number"}, "note": {"type": "string"}},
        ["user"],
    ),
    "required dropped": closed({"user": {"type": "string"}, "amount": {"type": "number"}}),
    "integer widened to number": None,  # built below
    "description changed": closed(
        {"user": {"type": "string", "description": "who"}, "amount": {"type": "number"}},
        ["user"],
    ),
}

JSON_REFUSED = {
    "required property added": (
        closed(
            {"user": {"type": "string"}, "amount": {"type": "number"}, "side": {"type": "string"}},
            ["user", "side"],
        ),
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        "#/properties/side",
    ),
    "type changed": (
        closed({"user": {"type": "string"}, "amount": {"type": "string"}}, ["user"]),
        "TYPE_CHANGED",
        "#/properties/amount",
    ),
    "existing property made required": (
        closed({"user": {"type": "string"}, "amount": {"type": "number"}}, ["user", "amount"]),
        "REQUIRED_ATTRIBUTE_ADDED",
        "#/required/amount",
    ),
    "number narrowed to integer": (
        closed({"user": {"type": "string"}, "amount": {"type": "integer"}}, ["user"]),
        "TYPE_NARROWED",
        "#/properties/amount",
    ),
    "property removed from a closed object": (
        closed({"user": {"type": "string"}}, ["user"]),
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        "#/properties/amount",
    ),
}


@pytest.mark.parametrize("name", JSON_ACCEPTED)
def test_json_backward_accepts(name):
    old, new = JSON_BASE, JSON_ACCEPTED[name]
    if new is None:
        old = closed({"n": {"type": "integer"}})
        new = closed({"n": {"type": "number"}})
    assert evolve(old, new, schema_type="JSON") is None


@pytest.mark.parametrize(("new", "kind", "path"), JSON_REFUSED.values(), ids=JSON_REFUSED.keys())
def test_json_backward_refuses(new, kind, path):
    error = evolve(JSON_BASE, new, schema_type="JSON")
    assert error is not None
    assert (error.status, error.error_code) == (409, 409)
    assert f'errorType:"{kind}"' in error.message
    assert f"'{path}'" in error.message


def test_json_open_objects_cannot_gain_properties_under_strict_rules():
    old = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})
    new = json.dumps(
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
    )
    assert (
        "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
        in evolve(old, new, schema_type="JSON").message
    )
    # ...but they may lose some: old data with "b" is still valid for the open new schema.
    assert evolve(new, old, schema_type="JSON") is None


def test_json_refs_are_followed():
    old = {
        "type": "array",
        "items": {"$ref": "#/definitions/n"},
        "definitions": {"n": {"type": "string"}},
    }
    new = {
        "type": "array",
        "items": {"$ref": "#/definitions/n"},
        "definitions": {"n": {"type": "number"}},
    }
    error = evolve(json.dumps(old), json.dumps(new), schema_type="JSON")
    assert "TYPE_CHANGED" in error.message and "'#/items'" in error.message


def test_json_and_protobuf_never_mix():
    sr = SchemaRegistry()
    sr.register("s", JSON_BASE, "JSON")
    with pytest.raises(RegistryError, match="different schema type"):
        sr.register("s", BASE, "PROTOBUF")


def test_recursive_json_schemas_compare_without_looping():
    def tree(kind: str) -> str:
        return json.dumps(
            {
                "type": "object",
                "properties": {"v": {"type": kind}, "next": {"$ref": "#"}},
                "additionalProperties": False,
            }
        )

    assert evolve(tree("integer"), tree("number"), schema_type="JSON") is None
    error = evolve(tree("string"), tree("number"), schema_type="JSON")
    assert "TYPE_CHANGED" in error.message and "'#/properties/v'" in error.message
