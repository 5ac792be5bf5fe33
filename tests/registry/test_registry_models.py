"""The registry's rules over a MemoryStore: ids, versions, deletes, config, mode, replay."""

from __future__ import annotations

import json

import pytest
from registry_helpers import trade_settlement_proto

from streamlab.registry import MemoryStore, RegistryError, SchemaRegistry, protobuf
from streamlab.registry.models import LATEST, parse_version
from streamlab.registry.schemas import Reference

A = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})
B = json.dumps({"type": "object", "properties": {"b": {"type": "string"}}})


def code(call, *args, **kwargs) -> tuple[int, int, str]:
    with pytest.raises(RegistryError) as caught:
        call(*args, **kwargs)
    return caught.value.status, caught.value.error_code, caught.value.message


@pytest.fixture
def sr():
    registry = SchemaRegistry(MemoryStore())
    registry.update_config(None, "NONE")  # these tests are about bookkeeping, not evolution
    return registry


def test_ids_are_global_and_versions_per_subject(sr):
    first = sr.register("x-value", A, "JSON")
    assert (first.id, first.version) == (1, 1)
    assert sr.register("x-value", A, "JSON") == first  # same schema: same registration
    other = sr.register("y-value", A, "JSON")
    assert (other.id, other.version) == (1, 1)  # same id under another subject
    second = sr.register("x-value", B, "JSON")
    assert (second.id, second.version) == (2, 2)
    # Re-registering an older version's schema returns that version, not a new one.
    assert sr.register("x-value", A, "JSON").version == 1
    assert sr.list_subjects() == ["x-value", "y-value"]
    assert sr.subject_versions_by_id(1) == [("x-value", 1), ("y-value", 1)]


def test_json_key_order_matters_unless_normalized(sr):
    reordered = json.dumps({"properties": {"a": {"type": "string"}}, "type": "object"})
    assert sr.register("s", A, "JSON").id == 1
    assert sr.register("t", reordered, "JSON").id == 2
    assert sr.register("u", reordered, "JSON", normalize=True).id in (1, 2)
    spaced = json.dumps(json.loads(A), indent=4)
    assert sr.register("v", spaced, "JSON").id == 1  # whitespace never matters


def test_protobuf_text_and_descriptor_share_an_id(sr):
    text = trade_settlement_proto()
    serialized = protobuf.to_serialized(protobuf.parse(text, {}))
    by_text = sr.register("ksql-value", text, "PROTOBUF")
    by_descriptor = sr.register("python-value", serialized, "PROTOBUF")
    assert by_text.id == by_descriptor.id
    # Each answers both formats; a registered descriptor comes back byte for byte.
    assert sr.formatted(by_descriptor, "serialized") == serialized
    assert protobuf.parse(sr.formatted(by_text, "serialized"), {}).message_type[0].name == (
        "TradeSettlement"
    )
    assert sr.formatted(by_text) == text
    assert "message TradeSettlement {" in sr.formatted(by_descriptor)
    assert sr.lookup_schema("ksql-value", serialized, "PROTOBUF").version == 1


def test_versions_are_never_reused_after_deletes(sr):
    sr.register("s", A, "JSON")
    sr.register("s", B, "JSON")
    assert sr.delete_version("s", 2) == 2
    assert sr.list_versions("s") == [1]
    assert sr.list_versions("s", deleted=True) == [1, 2]
    assert sr.list_versions("s", deleted_only=True) == [2]
    assert code(sr.get_version, "s", 2)[:2] == (404, 40402)
    assert sr.get_version("s", 2, deleted=True).deleted
    assert sr.get_schema_by_id(2).schema == B  # a soft-deleted id still decodes
    again = sr.register("s", B, "JSON")
    assert (again.id, again.version) == (2, 3)
    # the soft-deleted v2 of that same schema made way (Confluent tombstones it)
    assert sr.list_versions("s", deleted=True) == [1, 3]


def test_subject_delete_is_soft_then_permanent(sr):
    sr.register("s", A, "JSON")
    sr.register("s", B, "JSON")
    assert code(sr.delete_subject, "s", permanent=True) == (
        404,
        40405,
        "Subject 's' was not deleted first before being permanently deleted",
    )
    assert sr.delete_subject("s") == [1, 2]
    assert code(sr.delete_subject, "s")[:2] == (404, 40404)
    assert code(sr.get_version, "s", LATEST)[:2] == (404, 40401)
    assert sr.list_subjects() == []
    assert sr.list_subjects(deleted=True) == ["s"]
    assert sr.delete_subject("s", permanent=True) == [1, 2]
    assert code(sr.delete_subject, "s")[:2] == (404, 40401)
    assert code(sr.get_schema_by_id, 1) == (404, 40403, "Schema 1 not found")
    # a new registration starts over at version 1 with a new id
    again = sr.register("s", A, "JSON")
    assert (again.id, again.version) == (3, 1)


def test_version_delete_errors(sr):
    sr.register("s", A, "JSON")
    assert code(sr.delete_version, "s", 1, permanent=True)[:2] == (404, 40407)
    sr.delete_version("s", 1)
    assert code(sr.delete_version, "s", 1)[:2] == (404, 40406)
    assert code(sr.delete_version, "s", 7)[:2] == (404, 40402)
    assert code(sr.delete_version, "nope", 1)[:2] == (404, 40401)
    assert sr.delete_version("s", 1, permanent=True) == 1
    assert sr.list_subjects(deleted=True) == []


def test_referenced_versions_cannot_be_deleted(sr):
    money = 'syntax = "proto3"; package c; message Money { int64 units = 1; }'
    sr.register("money.proto", money, "PROTOBUF")
    fee = 'syntax = "proto3"; import "money.proto"; message Fee { c.Money amount = 1; }'
    ref = Reference("money.proto", "money.proto", 1)
    fee_v = sr.register("fee-value", fee, "PROTOBUF", (ref,))
    assert sr.referenced_by("money.proto", 1) == [fee_v.id]
    assert code(sr.delete_version, "money.proto", 1) == (
        422,
        42206,
        "One or more references exist to the schema "
        "{magic=1,keytype=SCHEMA,subject=money.proto,version=1}.",
    )
    assert code(sr.delete_subject, "money.proto")[:2] == (422, 42206)
    # a reference to a version that does not exist is an invalid schema
    missing = (Reference("money.proto", "money.proto", 9),)
    assert code(sr.register, "fee-value", fee, "PROTOBUF", missing)[:2] == (422, 42201)


def test_lookup(sr):
    sr.register("s", A, "JSON")
    assert sr.lookup_schema("s", A, "JSON").version == 1
    assert code(sr.lookup_schema, "s", B, "JSON") == (404, 40403, "Schema not found")
    assert code(sr.lookup_schema, "t", A, "JSON") == (404, 40401, "Subject 't' not found.")
    sr.delete_subject("s")
    assert code(sr.lookup_schema, "s", A, "JSON")[:2] == (404, 40401)
    assert sr.lookup_schema("s", A, "JSON", deleted=True).deleted


def test_bad_input_is_refused_with_confluents_codes(sr):
    assert code(sr.register, "s", "", "JSON") == (422, 42201, "Empty schema")
    assert code(sr.register, "s", None, "JSON")[:2] == (422, 42201)
    assert code(sr.register, "s", "{not json", "JSON")[1] == 42201
    assert code(sr.register, "s", '{"type": "strnig"}', "JSON")[1] == 42201
    assert code(sr.register, "s", "[1, 2]", "JSON")[1] == 42201
    for hostile in (
        '{"$ref": "#"}',
        '{"$ref": "#/definitions/missing"}',
        '{"$ref": "other.json"}',
        '{"type": "object", "properties": {"a": {"$ref": "#/nope"}}}',
        "[" * 100_000 + "]" * 100_000,
        '{"type": ["string", 5]}',
    ):
        assert code(sr.register, "s", hostile, "JSON")[:2] == (422, 42201), hostile
    recursive = '{"type": "object", "properties": {"next": {"$ref": "#"}}}'
    assert sr.register("tree", recursive, "JSON").version == 1
    _, number, message = code(sr.register, "s", "message {", "PROTOBUF")
    assert number == 42201 and message.startswith("Invalid schema of type PROTOBUF, details: ")
    assert code(sr.register, "s", A, "AVRO") == (422, 42201, "Invalid schema type AVRO")
    assert code(sr.register, "", A, "JSON")[:2] == (422, 42208)
    assert code(sr.register, "bad\x00subject", A, "JSON")[:2] == (422, 42208)
    assert code(sr.update_config, "s", "SIDEWAYS")[:2] == (422, 42203)
    assert code(sr.update_mode, "s", "SIDEWAYS")[:2] == (422, 42204)
    for text in ("0", "-2", "x", "1.5", str(2**31)):
        assert code(parse_version, text)[:2] == (422, 42202)
    assert parse_version("latest") == parse_version("-1") == LATEST


def test_config_global_and_per_subject():
    sr = SchemaRegistry()
    assert sr.get_config(None) == "BACKWARD"
    assert code(sr.get_config, "s") == (
        404,
        40408,
        "Subject 's' does not have subject-level compatibility configured",
    )
    assert sr.get_config("s", default_to_global=True) == "BACKWARD"
    assert sr.update_config("s", "full_transitive") == "FULL_TRANSITIVE"
    assert sr.get_config("s") == "FULL_TRANSITIVE"
    assert sr.update_config(None, "FORWARD") == "FORWARD"
    assert sr.get_config("t", default_to_global=True) == "FORWARD"
    assert sr.delete_config("s") == "FULL_TRANSITIVE"
    assert code(sr.delete_config, "s")[:2] == (404, 40401)
    assert sr.delete_config(None) == "FORWARD"
    assert sr.get_config(None) == "BACKWARD"


def test_modes(sr):
    assert sr.get_mode(None) == "READWRITE"
    sr.update_mode("s", "READONLY")
    assert code(sr.register, "s", A, "JSON") == (
        422,
        42205,
        "Subject s in context . is in read-only mode",
    )
    assert sr.register("t", A, "JSON").id == 1
    assert code(sr.update_mode, None, "IMPORT") == (
        422,
        42205,
        "Cannot import since found existing subjects",
    )
    sr.update_mode("imported", "IMPORT")
    assert code(sr.register, "imported", B, "JSON")[1] == 42205  # import needs an id
    kept = sr.register("imported", B, "JSON", schema_id=42, version=5)
    assert (kept.id, kept.version) == (42, 5)
    c = json.dumps({"type": "string"})
    assert sr.register("t", c, "JSON").id == 43  # ids continue after imported ones
    assert code(sr.register, "t", A, "JSON", schema_id=7)[1] == 42205
    assert sr.delete_mode("s") == "READONLY"
    assert code(sr.get_mode, "s")[:2] == (404, 40409)


def test_state_is_rebuilt_from_the_records():
    store = MemoryStore()
    sr = SchemaRegistry(store)
    sr.update_config(None, "NONE")
    sr.register("s", A, "JSON")
    sr.register("s", B, "JSON")
    sr.update_config("s", "FULL")
    sr.register("t", A, "JSON")
    sr.delete_subject("t")
    sr.register("u", B, "JSON")
    sr.delete_subject("u")
    sr.delete_subject("u", permanent=True)
    sr.update_mode("s", "READONLY")

    again = SchemaRegistry(MemoryStore(store.records))
    assert again.load() == len(store.records)
    assert again.list_subjects(deleted=True) == ["s", "t"]
    assert again.list_versions("t", deleted_only=True) == [1]
    assert again.get_config("s") == "FULL" and again.get_config(None) == "NONE"
    assert again.get_mode("s") == "READONLY"
    assert again.get_version("s", 2).id == 2
    again.update_mode("s", "READWRITE")
    assert again.register("v", json.dumps({"type": "string"}), "JSON").id == 3


def test_records_are_shaped_like_confluents():
    store = MemoryStore()
    sr = SchemaRegistry(store)
    sr.register("s", A, "JSON")
    sr.update_config(None, "FULL")
    sr.update_config("s", "NONE")
    sr.delete_subject("s")
    keys = [key for key, _ in store.records]
    assert keys == [
        {"keytype": "SCHEMA", "subject": "s", "version": 1, "magic": 1},
        {"keytype": "CONFIG", "magic": 0},
        {"keytype": "CONFIG", "subject": "s", "magic": 0},
        {"keytype": "DELETE_SUBJECT", "subject": "s", "magic": 0},
    ]
    assert store.records[0][1] == {
        "subject": "s",
        "version": 1,
        "id": 1,
        "schemaType": "JSON",
        "references": [],
        "schema": A,
        "deleted": False,
    }
    assert store.records[1][1] == {"compatibilityLevel": "FULL"}
    assert store.records[3][1] == {"subject": "s", "version": 1}


def test_foreign_and_malformed_records_are_skipped():
    records = [
        ({"keytype": "NOOP", "magic": 0}, {}),
        ({"keytype": "SCHEMA", "subject": "s", "version": 1, "magic": 1}, {"schema": 1}),
        (
            {"keytype": "SCHEMA", "subject": "s", "version": 2, "magic": 1},
            {"subject": "s", "version": 2, "id": 5, "schema": A, "schemaType": "JSON"},
        ),
    ]
    sr = SchemaRegistry(MemoryStore(records))
    sr.load()
    assert sr.list_versions("s") == [2]
    assert sr.get_schema_by_id(5).schema == A


def test_a_failed_write_changes_nothing():
    store = MemoryStore()
    sr = SchemaRegistry(store, default_level="NONE")
    sr.register("s", A, "JSON")
    store.fail_with = "broker down"
    _, number, message = code(sr.register, "s", B, "JSON")
    assert number == 50001 and "broker down" in message
    assert sr.list_versions("s") == [1]
    store.fail_with = None
    assert sr.register("s", B, "JSON").id == 2
