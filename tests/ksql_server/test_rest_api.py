"""REST shapes of /ksql, /query, /query-stream, /close-query, /info, /healthcheck, /status."""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse

import pytest

from tests.ksql_server._helpers import post, produce, wait_for

DDL = (
    "CREATE STREAM PAGES (ID INT KEY, URL STRING, MS BIGINT) WITH (KAFKA_TOPIC='pages', "
    "VALUE_FORMAT='JSON', PARTITIONS=1);"
)
EARLIEST = {"auto.offset.reset": "earliest"}


@pytest.fixture(scope="module")
def pages(kafka, ksql):
    status, _, text = post(ksql.url, "/ksql", {"ksql": DDL})
    assert status == 200, text
    produce(
        kafka.bootstrap,
        "pages",
        [(i.to_bytes(4, "big"), json.dumps({"URL": f"/p{i}", "MS": i * 10}).encode())
         for i in range(5)],
    )  # fmt: skip
    return ksql.url


def test_create_returns_current_status(ksql):
    status, content_type, text = post(
        ksql.url,
        "/ksql",
        {"ksql": "CREATE STREAM X1 (V STRING) WITH (KAFKA_TOPIC='x1', VALUE_FORMAT='JSON', "
                 "PARTITIONS=1);"},
    )  # fmt: skip
    assert status == 200
    assert content_type.startswith("application/vnd.ksql.v1+json")
    [entity] = json.loads(text)
    assert entity["@type"] == "currentStatus"
    assert entity["commandId"] == "stream/`X1`/create"
    assert entity["commandStatus"] == {
        "status": "SUCCESS",
        "message": "Stream created",
        "queryId": None,
    }
    assert isinstance(entity["commandSequenceNumber"], int)
    assert entity["warnings"] == []


def test_show_and_describe_shapes(pages):
    status, _, text = post(pages, "/ksql", {"ksql": "SHOW STREAMS; LIST TABLES; SHOW QUERIES;"})
    assert status == 200
    streams, tables, queries = json.loads(text)
    assert streams["@type"] == "streams"
    assert {
        "type": "STREAM",
        "name": "PAGES",
        "topic": "pages",
        "keyFormat": "KAFKA",
        "valueFormat": "JSON",
        "isWindowed": False,
    } in streams["streams"]
    assert tables == {"@type": "tables", "statementText": "LIST TABLES;", "tables": [],
                      "warnings": []}  # fmt: skip
    assert queries["@type"] == "queries"
    status, _, text = post(pages, "/ksql", {"ksql": "DESCRIBE PAGES;"})
    [entity] = json.loads(text)
    assert entity["@type"] == "sourceDescription"
    description = entity["sourceDescription"]
    assert description["fields"] == [
        {"name": "ID", "schema": {"type": "INTEGER", "fields": None, "memberSchema": None},
         "type": "KEY"},
        {"name": "URL", "schema": {"type": "STRING", "fields": None, "memberSchema": None}},
        {"name": "MS", "schema": {"type": "BIGINT", "fields": None, "memberSchema": None}},
    ]  # fmt: skip
    assert (description["type"], description["topic"]) == ("STREAM", "pages")
    status, _, text = post(pages, "/ksql", {"ksql": "DESCRIBE PAGES EXTENDED;"})
    [entity] = json.loads(text)
    assert entity["sourceDescription"]["extended"] is True
    assert entity["sourceDescription"]["partitions"] == 1


def test_syntax_error_names_line_and_column(ksql):
    status, _, text = post(ksql.url, "/ksql", {"ksql": "SHOW STREAMS;\nCREATE STREM X;"})
    assert status == 400
    body = json.loads(text)
    assert body["@type"] == "statement_error"
    assert body["error_code"] == 40001
    assert body["message"].startswith("line 2:8:")
    assert body["entities"] == []


def test_statement_error_keeps_earlier_entities(pages):
    status, _, text = post(pages, "/ksql", {"ksql": "SHOW STREAMS; DESCRIBE NOPE;"})
    assert status == 400
    body = json.loads(text)
    assert body["error_code"] == 40001
    assert body["statementText"] == "DESCRIBE NOPE;"
    assert "NOPE" in body["message"]
    assert [e["@type"] for e in body["entities"]] == ["streams"]


def test_select_on_ksql_endpoint_is_40002(pages):
    status, _, text = post(pages, "/ksql", {"ksql": "SELECT * FROM PAGES EMIT CHANGES;"})
    assert status == 400
    body = json.loads(text)
    assert body["error_code"] == 40002
    assert body["message"].startswith("The following statement types should be issued")


def test_bad_json_is_generic_error(ksql):
    status, _, text = post(ksql.url, "/ksql", b"{not json")
    assert status == 400
    body = json.loads(text)
    assert body["@type"] == "generic_error"
    assert body["error_code"] == 40000


def test_push_query_on_query_endpoint_with_limit(pages):
    status, content_type, text = post(
        pages,
        "/query",
        {"ksql": "SELECT ID, URL FROM PAGES EMIT CHANGES LIMIT 2;",
         "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}},
    )  # fmt: skip
    assert status == 200
    assert content_type.startswith("application/vnd.ksql.v1+json")
    lines = text.split("\n")
    assert lines[0].startswith('[{"header":{"queryId":"transient_PAGES_')
    assert lines[0].endswith('"schema":"`ID` INTEGER, `URL` STRING"}},')
    assert lines[1:] == [
        '{"row":{"columns":[0,"/p0"]}},',
        '{"row":{"columns":[1,"/p1"]}},',
        '{"finalMessage":"Limit Reached"}]',
        "",
    ]
    assert json.loads(text)[-1] == {"finalMessage": "Limit Reached"}


def test_pull_query_on_query_endpoint_closes_the_array(pages):
    status, _, text = post(pages, "/query", {"ksql": "SELECT URL FROM PAGES WHERE ID > 2;"})
    assert status == 200
    body = json.loads(text)
    assert body[0]["header"]["schema"] == "`URL` STRING"
    assert re.fullmatch(r"query_\d{13}", body[0]["header"]["queryId"])  # ksqlDB: query_<ms>
    assert body[1:] == [{"row": {"columns": ["/p3"]}}, {"row": {"columns": ["/p4"]}}]


def test_query_stream_delimited_is_the_default(pages):
    body = {"sql": "SELECT * FROM PAGES EMIT CHANGES LIMIT 3;", "properties": EARLIEST}
    status, content_type, text = post(pages, "/query-stream", body, accept=None)
    assert status == 200
    assert content_type.startswith("application/vnd.ksqlapi.delimited.v1")
    lines = text.splitlines()
    meta = json.loads(lines[0])
    assert meta["queryId"].startswith("transient_PAGES_")
    assert meta["columnNames"] == ["ID", "URL", "MS"]
    assert meta["columnTypes"] == ["INTEGER", "STRING", "BIGINT"]
    assert [json.loads(x) for x in lines[1:]] == [[0, "/p0", 0], [1, "/p1", 10], [2, "/p2", 20]]


def test_query_stream_json_form(pages):
    body = {"sql": "SELECT MS FROM PAGES EMIT CHANGES LIMIT 2;", "properties": EARLIEST}
    status, content_type, text = post(pages, "/query-stream", body, accept="application/json")
    assert status == 200
    assert content_type.startswith("application/json")
    parsed = json.loads(text)
    assert parsed[0]["columnNames"] == ["MS"]
    assert parsed[1:] == [[0], [10]]


def test_query_errors_are_400(pages):
    status, _, text = post(pages, "/query-stream", {"sql": "SELECT * FROM NOPE EMIT CHANGES;"})
    assert status == 400
    body = json.loads(text)
    assert body["error_code"] == 40001
    assert "NOPE" in body["message"]


def _open_stream(url: str, sql: str):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request(
        "POST", "/query-stream", body=json.dumps({"sql": sql, "properties": EARLIEST}).encode()
    )
    response = connection.getresponse()
    assert response.status == 200
    return connection, response, json.loads(response.readline())


def test_close_query_ends_a_push_query(pages):
    connection, response, meta = _open_stream(pages, "SELECT * FROM PAGES EMIT CHANGES;")
    rows = [json.loads(response.readline()) for _ in range(5)]
    assert [r[0] for r in rows] == [0, 1, 2, 3, 4]
    status, _, text = post(pages, "/close-query", {"queryId": meta["queryId"]})
    assert (status, text) == (200, "")
    assert response.read() == b""  # the stream ended
    connection.close()
    status, _, text = post(pages, "/close-query", {"queryId": meta["queryId"]})
    assert status == 400
    assert json.loads(text) == {
        "@type": "generic_error",
        "error_code": 40000,
        "message": f"No query with id {meta['queryId']}",
    }


def test_client_disconnect_stops_a_push_query(pages):
    connection, _, meta = _open_stream(pages, "SELECT * FROM PAGES EMIT CHANGES;")
    connection.close()

    def gone() -> bool:
        return post(pages, "/close-query", {"queryId": meta["queryId"]})[0] == 400

    wait_for(gone, message="the server to drop the disconnected query")


def test_info_healthcheck_status(ksql):
    import urllib.request

    with urllib.request.urlopen(ksql.url + "/info") as response:
        info = json.load(response)["KsqlServerInfo"]
    assert info["ksqlServiceId"] == "default_"
    assert info["serverStatus"] == "RUNNING"
    assert info["kafkaClusterId"]
    with urllib.request.urlopen(ksql.url + "/healthcheck") as response:
        health = json.load(response)
    assert health["isHealthy"] is True
    assert health["serverState"] == "READY"
    assert set(health["details"]) == {"metastore", "kafka", "commandRunner"}
    with urllib.request.urlopen(ksql.url + "/status") as response:
        statuses = json.load(response)["commandStatuses"]
    assert all(v == "SUCCESS" for v in statuses.values())
    command = next(iter(statuses))
    with urllib.request.urlopen(ksql.url + "/status/" + urllib.parse.quote(command)) as response:
        assert json.load(response)["status"] == "SUCCESS"


def test_inserts_stream_acks_every_row(kafka, ksql):
    post(
        ksql.url,
        "/ksql",
        {
            "ksql": "CREATE STREAM INS (ID INT KEY, V STRING, TAGS ARRAY<STRING>, "
            "P STRUCT<X DOUBLE>) WITH (KAFKA_TOPIC='ins', VALUE_FORMAT='JSON', PARTITIONS=1);"
        },
    )
    lines = [
        {"target": "ins"},
        {"ID": 1, "V": "it's", "TAGS": ["a"], "P": {"X": 1}},
        {"id": 2, "nope": 1},
        {"ID": 3, "V": None},
    ]
    body = "\n".join(json.dumps(x) for x in lines).encode()
    status, _, text = post(ksql.url, "/inserts-stream", body, accept=None)
    assert status == 200
    acks = [json.loads(x) for x in text.splitlines()]
    assert acks[0] == {"status": "ok", "seq": 0}
    assert acks[1]["status"] == "error" and acks[1]["seq"] == 1
    assert acks[2] == {"status": "ok", "seq": 2}
    from tests.ksql_server._helpers import read_topic

    out = read_topic(kafka.bootstrap, "ins", 2)
    assert [(m.key(), m.value()) for m in out] == [
        (b"\x00\x00\x00\x01", b'{"V":"it\'s","TAGS":["a"],"P":{"X":1.0}}'),
        (b"\x00\x00\x00\x03", b'{"V":null,"TAGS":null,"P":null}'),
    ]


def test_query_endpoint_with_json_accept_keeps_the_legacy_rows(pages):
    body = {"ksql": "SELECT ID FROM PAGES WHERE ID = 1;"}
    status, content_type, text = post(pages, "/query", body, accept="application/json")
    assert status == 200
    assert content_type.startswith("application/json")
    assert json.loads(text)[1:] == [{"row": {"columns": [1]}}]


def test_push_query_on_a_table_shows_tombstones(kafka, ksql):
    post(
        ksql.url,
        "/ksql",
        {
            "ksql": "CREATE TABLE TT (K STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='tt', "
            "VALUE_FORMAT='JSON', PARTITIONS=1);"
        },
    )
    produce(kafka.bootstrap, "tt", [(b"a", b'{"V":1}'), (b"a", None)])
    body = {
        "ksql": "SELECT * FROM TT EMIT CHANGES LIMIT 2;",
        "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"},
    }
    status, _, text = post(ksql.url, "/query", body)
    assert status == 200, text
    assert json.loads(text)[1:] == [
        {"row": {"columns": ["a", 1]}},
        {"row": {"columns": ["a", None], "tombstone": True}},
        {"finalMessage": "Limit Reached"},
    ]


def test_push_query_on_a_filtered_table_counts_only_rows_the_format_shows(kafka, ksql):
    # a table filter forwards a tombstone for every row it drops (Kafka Streams' KTable
    # filter); /query-stream's delimited rows drop tombstones, so they must not use up LIMIT
    post(
        ksql.url,
        "/ksql",
        {
            "ksql": "CREATE TABLE TF (K STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='tf', "
            "VALUE_FORMAT='JSON', PARTITIONS=1);"
        },
    )
    produce(kafka.bootstrap, "tf", [(b"a", b'{"V":1}'), (b"b", b'{"V":2}'), (b"c", b'{"V":3}')])
    body = {"sql": "SELECT * FROM TF WHERE K = 'c' EMIT CHANGES LIMIT 1;", "properties": EARLIEST}
    status, _, text = post(ksql.url, "/query-stream", body, accept=None)
    assert status == 200, text
    assert [json.loads(line) for line in text.splitlines()[1:]] == [["c", 3]]


def test_push_query_with_aggregation(kafka, ksql):
    post(
        ksql.url,
        "/ksql",
        {
            "ksql": "CREATE STREAM VISITS (ID INT KEY, PAGE STRING) WITH (KAFKA_TOPIC='visits', "
            "VALUE_FORMAT='JSON', PARTITIONS=2);"
        },
    )
    produce(
        kafka.bootstrap,
        "visits",
        [(i.to_bytes(4, "big"), b'{"PAGE":"home"}') for i in range(3)],
    )
    body = {
        "sql": "SELECT PAGE, COUNT(*) AS N FROM VISITS GROUP BY PAGE EMIT CHANGES LIMIT 3;",
        "properties": EARLIEST,
    }
    status, _, text = post(ksql.url, "/query-stream", body, accept=None)
    assert status == 200, text
    lines = [json.loads(x) for x in text.splitlines()]
    assert lines[0]["columnNames"] == ["PAGE", "N"]
    assert lines[0]["columnTypes"] == ["STRING", "BIGINT"]
    assert lines[1:] == [["home", 1], ["home", 2], ["home", 3]]


def test_pull_query_with_group_by_is_rejected(pages):
    sql = "SELECT URL, COUNT(*) FROM PAGES GROUP BY URL;"
    status, _, text = post(pages, "/query", {"ksql": sql})
    assert status == 400
    assert json.loads(text)["error_code"] == 40001


def test_push_query_with_stream_table_join(kafka, ksql):
    post(
        ksql.url,
        "/ksql",
        {
            "ksql": "CREATE TABLE OWNERS (ID INT PRIMARY KEY, NAME STRING) WITH ("
            "KAFKA_TOPIC='owners', VALUE_FORMAT='JSON', PARTITIONS=1);"
            "CREATE STREAM PETS (ID INT KEY, PET STRING) WITH (KAFKA_TOPIC='pets', "
            "VALUE_FORMAT='JSON', PARTITIONS=1);"
        },
    )
    produce(kafka.bootstrap, "owners", [((1).to_bytes(4, "big"), b'{"NAME":"ann"}')])
    sql = "SELECT P.ID, PET, NAME FROM PETS P JOIN OWNERS O ON P.ID = O.ID EMIT CHANGES;"
    connection, response, meta = _open_stream(ksql.url, sql)
    assert meta["columnNames"] == ["P_ID", "PET", "NAME"]
    # A stream row only joins rows the table already has: the query may not have read the
    # table yet when the first pet arrives, so pets are sent until one comes back joined.
    got: list = []
    reader = threading.Thread(target=lambda: got.append(json.loads(response.readline())))
    reader.start()
    pet = [((1).to_bytes(4, "big"), b'{"PET":"cat"}')]
    wait_for(lambda: got or produce(kafka.bootstrap, "pets", pet), message="a joined row")
    reader.join()
    assert got == [[1, "cat", "ann"]]
    connection.close()


def test_print_topic_from_beginning(pages):
    body = {"ksql": "PRINT 'pages' FROM BEGINNING LIMIT 2;"}
    status, content_type, text = post(pages, "/query", body)
    assert status == 200
    assert content_type.startswith("text/plain")
    lines = text.splitlines()
    assert lines[:2] == [
        "Key format: KAFKA_INT or KAFKA_STRING",
        "Value format: JSON or KAFKA_STRING",
    ]
    assert lines[2].startswith("rowtime: ")
    assert lines[2].endswith(', key: 0, value: {"URL": "/p0", "MS": 0}, partition: 0')
    assert len(lines) == 4


def test_print_unknown_topic(pages):
    status, _, text = post(pages, "/query", {"ksql": "PRINT nope;"})
    assert status == 400
    assert "Could not find topic 'NOPE'" in json.loads(text)["message"]
