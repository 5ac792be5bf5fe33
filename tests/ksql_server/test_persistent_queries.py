"""Persistent queries over the cluster: CSAS output bytes, the processing log, TERMINATE/DROP."""

from __future__ import annotations

import json
from pathlib import Path

from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

from tests.ksql_server._helpers import ksql_ok, post, produce, read_topic, topic_size, wait_for

EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}


def test_csas_projection_and_filter_written_as_ksqldb_does(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM RIDES (ID INT KEY, CITY STRING, KM DOUBLE) WITH (KAFKA_TOPIC='rides', "
        "VALUE_FORMAT='JSON', PARTITIONS=2);",
    )
    [status] = ksql_ok(
        ksql.url,
        "CREATE STREAM LONG_RIDES AS SELECT ID, UCASE(CITY) AS CITY, KM * 2 AS DOUBLED "
        "FROM RIDES WHERE KM > 1.5;",
        EARLIEST,
    )
    query_id = status["commandStatus"]["queryId"]
    assert query_id.startswith("CSAS_LONG_RIDES_")
    assert status["commandStatus"]["message"] == f"Created query with ID {query_id}"
    produce(
        kafka.bootstrap,
        "rides",
        [
            ((1).to_bytes(4, "big"), b'{"CITY":"paris","KM":2.5}'),
            ((2).to_bytes(4, "big"), b'{"CITY":"rome","KM":1.0}'),
            ((3).to_bytes(4, "big"), b'{"city":"oslo","km":4}'),
        ],
    )
    out = read_topic(kafka.bootstrap, "LONG_RIDES", 2)
    got = sorted((m.key(), m.value()) for m in out)
    assert got == [
        (b"\x00\x00\x00\x01", b'{"CITY":"PARIS","DOUBLED":5.0}'),
        (b"\x00\x00\x00\x03", b'{"CITY":"OSLO","DOUBLED":8.0}'),
    ]
    # the sink has the source's partition count, as in ksqlDB
    assert len(out) == 2
    [topics] = ksql_ok(ksql.url, "SHOW TOPICS;")
    by_name = {t["name"]: t for t in topics["topics"]}
    assert len(by_name["LONG_RIDES"]["replicaInfo"]) == 2
    [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
    assert [q["id"] for q in queries["queries"]] == [query_id]
    assert queries["queries"][0]["state"] == "RUNNING"


def test_malformed_record_goes_to_processing_log_and_query_continues(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM BAD_IN (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='bad_in', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE STREAM BAD_OUT AS SELECT ID, V FROM BAD_IN;",
        EARLIEST,
    )
    [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
    query_id = next(q["id"] for q in queries["queries"] if q["sinks"] == ["BAD_OUT"])
    key = (1).to_bytes(4, "big")
    produce(kafka.bootstrap, "bad_in", [(key, b'{"V":"a"}'), (key, b"{oops"), (key, b'{"V":"b"}')])
    out = read_topic(kafka.bootstrap, "BAD_OUT", 2)
    assert [m.value() for m in out] == [b'{"V":"a"}', b'{"V":"b"}']

    def logged():
        return [
            json.loads(m.value())
            for m in read_topic(kafka.bootstrap, "default_ksql_processing_log", 10, wait=1)
            if query_id in json.loads(m.value())["logger"]
        ]

    wait_for(lambda: logged(), message="a processing-log record")
    [entry] = logged()
    assert entry["level"] == "ERROR"
    assert entry["logger"] == f"processing.{query_id}.KsqlTopic.Source.deserializer"
    message = entry["message"]
    assert message["type"] == 0
    error = message["deserializationError"]
    assert error["target"] == "value"
    assert error["topic"] == "bad_in"
    assert error["errorMessage"].startswith("Failed to deserialize value from topic: bad_in.")
    assert message["recordProcessingError"] is None
    # the KSQL_PROCESSING_LOG stream exists over that topic
    [extended] = ksql_ok(ksql.url, "DESCRIBE BAD_IN EXTENDED;")
    assert extended["sourceDescription"]["statistics"].split() == [
        "consumer-total-messages:",
        "3",
    ]
    assert extended["sourceDescription"]["errorStats"].split() == [
        "consumer-failed-messages:",
        "1",
    ]
    [description] = ksql_ok(ksql.url, "DESCRIBE KSQL_PROCESSING_LOG;")
    assert description["sourceDescription"]["topic"] == "default_ksql_processing_log"
    sql = (
        "SELECT LOGGER, MESSAGE->TYPE AS T, MESSAGE->DESERIALIZATIONERROR->`topic` AS SRC "
        "FROM KSQL_PROCESSING_LOG;"
    )
    status, _, text = post(ksql.url, "/query", {"ksql": sql})
    assert status == 200, text
    rows = [r["row"]["columns"] for r in json.loads(text)[1:]]
    assert [entry["logger"], 0, "bad_in"] in rows


def test_terminate_then_drop_with_delete_topic(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM T_IN (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='t_in', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE STREAM T_OUT WITH (KAFKA_TOPIC='t_out', PARTITIONS=3) AS SELECT * FROM T_IN;",
    )
    [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
    query_id = next(q["id"] for q in queries["queries"] if q["sinks"] == ["T_OUT"])
    assert topic_size(kafka.bootstrap, "t_out") == 0
    [topics] = ksql_ok(ksql.url, "SHOW TOPICS;")
    assert len({t["name"]: t for t in topics["topics"]}["t_out"]["replicaInfo"]) == 3
    [terminated] = ksql_ok(ksql.url, f"TERMINATE {query_id};")
    assert terminated["commandId"] == f"terminate/{query_id}/execute"
    [dropped] = ksql_ok(ksql.url, "DROP STREAM T_OUT DELETE TOPIC;")
    assert dropped["commandId"] == "stream/T_OUT/drop"
    assert dropped["commandStatus"]["message"] == "Source `T_OUT` (topic: t_out) was dropped."
    [topics] = ksql_ok(ksql.url, "SHOW TOPICS;")
    assert "t_out" not in {t["name"] for t in topics["topics"]}
    [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
    assert query_id not in {q["id"] for q in queries["queries"]}


def test_drop_table_stops_its_query_and_deletes_its_state(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM D_IN (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='d_in', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);"
        "CREATE TABLE D_COUNTS AS SELECT ID, COUNT(*) AS N FROM D_IN GROUP BY ID;",
        EARLIEST,
    )
    [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
    query_id = next(q["id"] for q in queries["queries"] if q["sinks"] == ["D_COUNTS"])
    produce(kafka.bootstrap, "d_in", [((1).to_bytes(4, "big"), b'{"V":"a"}')])
    assert [m.value() for m in read_topic(kafka.bootstrap, "D_COUNTS", 1)] == [b'{"N":1}']
    data = Path(ksql.work_dir) / "data"
    state = [p for p in data.rglob(f"*query_{query_id}") if p.is_dir()]
    assert state, f"no state dir for {query_id} under {data}"
    [dropped] = ksql_ok(ksql.url, "DROP TABLE D_COUNTS DELETE TOPIC;")
    assert dropped["commandStatus"]["message"] == (
        "Source `D_COUNTS` (topic: D_COUNTS) was dropped."
    )
    [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
    assert query_id not in {q["id"] for q in queries["queries"]}
    assert not any(p.exists() for p in state)  # ksqlDB deletes a terminated query's state


def test_insert_values_and_insert_into_select(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM A (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON', "
        "PARTITIONS=1);"
        "CREATE STREAM B (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='b', VALUE_FORMAT='JSON', "
        "PARTITIONS=1);",
    )
    [status] = ksql_ok(ksql.url, "INSERT INTO B SELECT * FROM A;", EARLIEST)
    assert status["commandStatus"]["queryId"].startswith("INSERTQUERY_")
    assert status["commandId"] == "stream/`B`/create"
    assert ksql_ok(ksql.url, "INSERT INTO A (ID, V) VALUES (5, 'five');") == []
    [record] = read_topic(kafka.bootstrap, "b", 1)
    assert (record.key(), record.value()) == (b"\x00\x00\x00\x05", b'{"V":"five"}')


def test_ctas_without_aggregation_and_pull_query_on_the_table(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING, AGE INT) WITH ("
        "KAFKA_TOPIC='users', VALUE_FORMAT='JSON', PARTITIONS=1);"
        "SET 'auto.offset.reset'='earliest';"
        "CREATE TABLE ADULTS AS SELECT ID, NAME FROM USERS WHERE AGE >= 18;",
    )
    [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
    assert any(q["id"].startswith("CTAS_ADULTS_") for q in queries["queries"])
    produce(
        kafka.bootstrap,
        "users",
        [
            (b"u1", b'{"NAME":"ann","AGE":30}'),
            (b"u2", b'{"NAME":"bob","AGE":12}'),
            (b"u1", b'{"NAME":"ann","AGE":31}'),
            (b"u3", b'{"NAME":"cy","AGE":40}'),
            (b"u3", b'{"NAME":"cy","AGE":9}'),
        ],
    )
    out = read_topic(kafka.bootstrap, "ADULTS", 5)
    assert [(m.key(), m.value()) for m in out] == [
        (b"u1", b'{"NAME":"ann"}'),
        (b"u2", None),
        (b"u1", b'{"NAME":"ann"}'),
        (b"u3", b'{"NAME":"cy"}'),
        (b"u3", None),
    ]
    status, _, text = post(ksql.url, "/query", {"ksql": "SELECT * FROM ADULTS;"})
    assert status == 200, text
    body = json.loads(text)
    assert body[0]["header"]["schema"] == "`ID` STRING KEY, `NAME` STRING"
    assert body[1:] == [{"row": {"columns": ["u1", "ann"]}}]


def test_create_or_replace_keeps_the_query_id_and_offsets(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM R_IN (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='r_in', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);",
    )
    [first] = ksql_ok(ksql.url, "CREATE STREAM R_OUT AS SELECT ID, V FROM R_IN;", EARLIEST)
    query_id = first["commandStatus"]["queryId"]
    produce(kafka.bootstrap, "r_in", [(b"\x00\x00\x00\x01", b'{"V":"a"}')])
    read_topic(kafka.bootstrap, "R_OUT", 1)
    [second] = ksql_ok(
        ksql.url, "CREATE OR REPLACE STREAM R_OUT AS SELECT ID, UCASE(V) AS V FROM R_IN;"
    )
    assert second["commandStatus"]["queryId"] == query_id
    [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
    assert [q["id"] for q in queries["queries"] if q["sinks"] == ["R_OUT"]] == [query_id]
    produce(kafka.bootstrap, "r_in", [(b"\x00\x00\x00\x02", b'{"V":"b"}')])
    out = read_topic(kafka.bootstrap, "R_OUT", 2)
    assert [m.value() for m in out] == [b'{"V":"a"}', b'{"V":"B"}']


def test_created_topics_get_ksqldb_cleanup_policies(kafka, ksql):
    # ksqlDB's TopicCreateInjector: a table's topic is compacted, a stream's is not; a windowed
    # table's is compact,delete, with retention.ms = the window's RETENTION when it has one.
    ksql_ok(
        ksql.url,
        "CREATE STREAM CP_S (ID INT KEY, V INT) WITH (KAFKA_TOPIC='cp_s', VALUE_FORMAT='JSON', "
        "PARTITIONS=1);",
    )
    ksql_ok(
        ksql.url,
        "CREATE TABLE CP_T (ID INT PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='cp_t', "
        "VALUE_FORMAT='JSON', PARTITIONS=1);",
    )
    ksql_ok(ksql.url, "CREATE STREAM CP_CSAS AS SELECT * FROM CP_S;")
    ksql_ok(ksql.url, "CREATE TABLE CP_CTAS AS SELECT ID, COUNT(*) AS N FROM CP_S GROUP BY ID;")
    ksql_ok(
        ksql.url,
        "CREATE TABLE CP_WIN AS SELECT ID, COUNT(*) AS N FROM CP_S "
        "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY ID;",
    )
    ksql_ok(
        ksql.url,
        "CREATE TABLE CP_WIN_R AS SELECT ID, COUNT(*) AS N FROM CP_S "
        "WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 30 SECONDS, RETENTION 3 DAYS) GROUP BY ID;",
    )
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})

    def config(topic: str) -> tuple[str, str, bool]:
        resource = ConfigResource("topic", topic)
        found = admin.describe_configs([resource])[resource].result(30)
        retention = found["retention.ms"]
        set_here = retention.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        return found["cleanup.policy"].value, retention.value, set_here

    week = "604800000"  # the broker's default
    assert config("cp_s") == ("delete", week, False)
    assert config("cp_t") == ("compact", week, False)
    assert config("CP_CSAS") == ("delete", week, False)
    assert config("CP_CTAS") == ("compact", week, False)
    assert config("CP_WIN") == ("compact,delete", week, False)
    assert config("CP_WIN_R") == ("compact,delete", str(3 * 86_400_000), True)
