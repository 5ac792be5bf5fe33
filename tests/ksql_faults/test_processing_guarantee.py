"""``processing.guarantee`` through the server: server config, SET and streamsProperties, and
the errors a bad value gets (ksqlDB's shapes and Kafka Streams' wording)."""

from __future__ import annotations

import json

import pytest

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_server._helpers import post

ALLOWED = "String must be one of: at_least_once, exactly_once_v2"


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    with ClusterProcess(str(tmp_path_factory.mktemp("kafka"))) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def ksql(kafka, tmp_path_factory):
    args = ("--config", "ksql.streams.processing.guarantee=exactly_once_v2")
    with KsqlProcess(str(tmp_path_factory.mktemp("ksql")), kafka.bootstrap, extra_args=args) as k:
        yield k


def test_a_bad_set_is_a_statement_error(ksql):
    sql = "SET 'processing.guarantee'='exactly_once';"
    status, _, text = post(ksql.url, "/ksql", {"ksql": sql + " SHOW STREAMS;"})
    assert status == 400
    assert json.loads(text) == {
        "@type": "statement_error",
        "error_code": 40001,
        "message": "Invalid value exactly_once for configuration processing.guarantee: "
        f"{ALLOWED}\nStatement: {sql}",
        "statementText": sql,
        "entities": [],
    }


def test_bad_streams_properties_are_a_request_error(ksql):
    body = {"ksql": "SHOW STREAMS;", "streamsProperties": {"processing.guarantee": "eos"}}
    status, _, text = post(ksql.url, "/ksql", body)
    assert status == 400
    assert json.loads(text) == {
        "@type": "generic_error",
        "error_code": 40000,
        "message": "Failed to coerce type of value 'eos' for key 'processing.guarantee'\n"
        f"Caused by: Invalid value eos for configuration processing.guarantee: {ALLOWED}",
    }


def test_good_values_are_accepted(ksql):
    for value in ("at_least_once", "exactly_once_v2"):
        sql = f"SET 'processing.guarantee'='{value}'; SHOW STREAMS;"
        status, _, text = post(ksql.url, "/ksql", {"ksql": sql})
        assert status == 200, text


def test_a_bad_server_config_stops_the_server_with_the_reason(kafka, tmp_path):
    args = ("--config", "ksql.streams.processing.guarantee=exactly-once")
    server = KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap, extra_args=args)
    with pytest.raises(RuntimeError) as raised:
        server.start()
    expected = f"Invalid value exactly-once for configuration processing.guarantee: {ALLOWED}"
    assert expected in str(raised.value)
