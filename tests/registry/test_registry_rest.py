"""The REST layer in-process (MemoryStore): paths, shapes, content type, bad input, basic auth."""

from __future__ import annotations

import json

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from registry_helpers import InProcessRegistry, trade_settlement_proto

from streamlab.registry import protobuf

CT = "application/vnd.schemaregistry.v1+json"
A = json.dumps(
    {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
)


@pytest.fixture
def http(inproc):
    with httpx.Client(base_url=inproc.url, timeout=10) as c:
        yield c


def register(http, subject: str, schema: str, schema_type: str = "JSON", **extra) -> dict:
    r = http.post(
        f"/subjects/{subject}/versions",
        json={"schema": schema, "schemaType": schema_type, **extra},
        headers={"Content-Type": CT},
    )
    assert r.status_code == 200, r.text
    return r.json()


def error(response: httpx.Response) -> tuple[int, int, str]:
    assert response.headers["content-type"].startswith(CT)
    body = response.json()
    assert set(body) == {"error_code", "message"}
    return response.status_code, body["error_code"], body["message"]


def test_register_and_read_back_shapes(http):
    assert register(http, "t-value", A) == {
        "id": 1,
        "version": 1,
        "guid": register(http, "t-value", A)["guid"],
        "schemaType": "JSON",
        "schema": A,
    }
    r = http.get("/subjects/t-value/versions/latest")
    assert r.headers["content-type"].startswith(CT)
    body = r.json()
    assert {k: body[k] for k in ("subject", "version", "id", "schemaType", "schema")} == {
        "subject": "t-value",
        "version": 1,
        "id": 1,
        "schemaType": "JSON",
        "schema": A,
    }
    assert http.get("/schemas/ids/1", params={"subject": "t-value"}).json()["schema"] == A
    assert http.get("/subjects/t-value/versions/1/schema").text == A  # the bare string
    assert http.get("/schemas/ids/1/schema").json() == A
    assert http.get("/schemas/ids/1/subjects").json() == ["t-value"]
    assert http.get("/schemas/ids/1/versions").json() == [{"subject": "t-value", "version": 1}]
    assert http.get("/subjects", params={"subjectPrefix": "t-"}).json() == ["t-value"]
    assert http.get("/schemas", params={"latestOnly": "true"}).json()[0]["id"] == 1
    assert http.get("/").json() == {}
    assert http.get("/schemas/types").json() == ["JSON", "PROTOBUF"]
    assert http.get("/contexts").json() == ["."]
    assert http.get("/mode").json() == {"mode": "READWRITE"}
    assert http.get("/config").json() == {"compatibilityLevel": "BACKWARD"}


def test_protobuf_formats(http):
    text = trade_settlement_proto()
    register(http, "ts-value", text, "PROTOBUF")
    plain = http.get("/schemas/ids/1").json()
    assert plain["schemaType"] == "PROTOBUF" and plain["schema"] == text
    serialized = http.get("/schemas/ids/1", params={"format": "serialized"}).json()["schema"]
    assert protobuf.parse(serialized, {}).message_type[0].name == "TradeSettlement"
    latest = http.get("/subjects/ts-value/versions/latest", params={"format": "serialized"})
    assert latest.json()["schema"] == serialized


def test_subjects_with_slashes_and_python_booleans(http):
    register(http, "com%2Fexample%2Fcommon.proto", 'syntax = "proto3"; message C {}', "PROTOBUF")
    assert http.get("/subjects").json() == ["com/example/common.proto"]
    http.delete("/subjects/com%2Fexample%2Fcommon.proto")
    # confluent-kafka writes Python booleans into some query strings: deleted=True
    assert http.get("/subjects?deleted=True").json() == ["com/example/common.proto"]
    assert http.get("/subjects?deleted=False").json() == []


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/subjects/s/versions", "{not json", (400, 400)),
        ("POST", "/subjects/s/versions", "[1, 2]", (422, 422)),
        ("POST", "/subjects/s/versions", "", (422, 422)),
        ("POST", "/subjects/s/versions", "{}", (422, 42201)),
        ("POST", "/subjects/s/versions", '{"schema": "{", "schemaType": "JSON"}', (422, 42201)),
        ("POST", "/subjects/s/versions", '{"schema": "x", "references": 3}', (422, 42201)),
        ("POST", "/subjects/s/versions", '{"schema": "{}", "schemaType": 5}', (422, 42201)),
        ("POST", "/subjects/s/versions", '{"schema": "{}", "schemaType": "XML"}', (422, 42201)),
        ("POST", "/subjects/s", '{"schema": "{}", "schemaType": "JSON"}', (404, 40401)),
        ("GET", "/subjects/s/versions", None, (404, 40401)),
        ("GET", "/subjects/s/versions/banana", None, (422, 42202)),
        ("GET", "/subjects/s/versions/0", None, (422, 42202)),
        ("GET", "/schemas/ids/999", None, (404, 40403)),
        ("GET", "/schemas/ids/abc", None, (404, 404)),
        ("GET", "/schemas/guids/nope", None, (404, 40403)),
        ("GET", "/config/s", None, (404, 40408)),
        ("PUT", "/config", '{"compatibility": "SIDEWAYS"}', (422, 42203)),
        ("PUT", "/config", '"FULL"', (422, 422)),
        ("PUT", "/mode", '{"mode": "SIDEWAYS"}', (422, 42204)),
        ("DELETE", "/subjects/s", None, (404, 40401)),
        ("GET", "/nowhere", None, (404, 404)),
        ("GET", "/associations/resources/-/t", None, (404, 404)),
        ("PATCH", "/subjects", None, (405, 405)),
    ],
)
def test_bad_requests_get_clear_errors(http, method, path, body, expected):
    r = http.request(method, path, content=body, headers={"Content-Type": CT})
    status, number, message = error(r)
    assert (status, number) == expected
    assert message


def test_messages_match_confluents(http):
    assert error(http.get("/schemas/ids/999"))[2] == "Schema 999 not found"
    assert error(http.get("/subjects/x/versions"))[2] == "Subject 'x' not found."
    assert error(http.get("/nowhere"))[2] == "HTTP 404 Not Found"
    assert error(http.get("/subjects/x/versions/v"))[2] == (
        "The specified version 'v' is not a valid version id. "
        'Allowed values are between [1, 2^31-1] and the string "latest"'
    )


def test_compatibility_endpoints(http):
    register(http, "s", A)
    changed = json.dumps(
        {"type": "object", "properties": {"a": {"type": "number"}}, "additionalProperties": False}
    )
    body = {"schema": changed, "schemaType": "JSON"}
    url = "/compatibility/subjects/s/versions/latest"
    assert http.post(url, json=body).json() == {"is_compatible": False}
    verbose = http.post(url, params={"verbose": "true"}, json=body).json()
    assert verbose["is_compatible"] is False
    assert verbose["messages"][0].startswith('{errorType:"TYPE_CHANGED"')
    assert verbose["messages"][-1] == "{validateFields: 'false', compatibility: 'BACKWARD'}"
    assert http.post("/compatibility/subjects/s/versions", json=body).json() == {
        "is_compatible": False
    }
    assert http.post("/compatibility/subjects/new/versions/latest", json=body).json() == {
        "is_compatible": True
    }
    assert error(http.post("/compatibility/subjects/s/versions/7", json=body))[1] == 40402
    bad = {"schema": "{", "schemaType": "JSON"}
    assert error(http.post(url, json=bad))[1] == 42201
    verbose_bad = http.post(url, params={"verbose": "true"}, json=bad).json()
    assert verbose_bad["is_compatible"] is False and "Invalid schema" in verbose_bad["messages"][0]
    r = http.post("/subjects/s/versions", json=body)
    assert error(r)[:2] == (409, 409)


def test_the_client_falls_back_when_associations_are_unknown(inproc):
    sr = SchemaRegistryClient({"url": inproc.url})
    with pytest.raises(SchemaRegistryError) as caught:
        sr.get_associations_by_resource_name("t", "-", "topic", ["value"])
    assert caught.value.http_status_code == 404


def test_basic_auth():
    users = {"SRKEY": "s3cret"}
    with InProcessRegistry(users=users) as server:
        for auth in (None, ("SRKEY", "wrong"), ("OTHER", "s3cret")):
            r = httpx.get(server.url + "/subjects", auth=auth)
            assert error(r) == (401, 401, "Unauthorized")
            assert r.headers["WWW-Authenticate"].startswith("Basic")
        r = httpx.get(server.url + "/subjects", headers={"Authorization": "Basic !!!"})
        assert error(r)[:2] == (401, 401)
        assert httpx.get(server.url + "/subjects", auth=("SRKEY", "s3cret")).json() == []

        anonymous = SchemaRegistryClient({"url": server.url})
        with pytest.raises(SchemaRegistryError) as caught:
            anonymous.get_subjects()
        assert (caught.value.http_status_code, caught.value.error_code) == (401, 401)
        keyed = SchemaRegistryClient({"url": server.url, "basic.auth.user.info": "SRKEY:s3cret"})
        assert keyed.register_schema("s", Schema(A, "JSON")) == 1
