"""A restarted engine rebuilds its catalog from the command topic and its queries resume from
their committed offsets, after a clean stop (SIGTERM) and after kill -9."""

from __future__ import annotations

import pytest

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_server._helpers import (
    committed,
    ksql_ok,
    produce,
    read_topic,
    topic_size,
    wait_for,
)


def _records(start: int, stop: int):
    return [(i.to_bytes(4, "big"), f'{{"V":"v{i}"}}'.encode()) for i in range(start, stop)]


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_restart_replays_commands_and_resumes_queries(tmp_path, hard):
    with (
        ClusterProcess(str(tmp_path / "kafka")) as kafka,
        KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql,
    ):
        ksql_ok(
            ksql.url,
            "CREATE STREAM SRC (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='src', "
            "VALUE_FORMAT='JSON', PARTITIONS=1);"
            "CREATE STREAM OUT AS SELECT ID, UCASE(V) AS V FROM SRC;"
            "CREATE STREAM GONE AS SELECT * FROM SRC;",
            {"ksql.streams.auto.offset.reset": "earliest"},
        )
        [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
        ids = {q["sinks"][0]: q["id"] for q in queries["queries"]}
        ksql_ok(ksql.url, f"TERMINATE {ids['GONE']};")
        ksql_ok(ksql.url, "DROP STREAM GONE;")
        group = f"_confluent-ksql-default_query_{ids['OUT']}"

        produce(kafka.bootstrap, "src", _records(0, 20))
        wait_for(lambda: committed(kafka.bootstrap, group, "src") == 20, message="commit")
        assert topic_size(kafka.bootstrap, "OUT") == 20

        if hard:
            ksql.kill()
        else:
            ksql.stop()
            assert ksql.proc.returncode == 0  # SIGTERM: a clean shutdown
        ksql.start()

        [streams] = ksql_ok(ksql.url, "SHOW STREAMS;")
        assert {s["name"] for s in streams["streams"]} == {"SRC", "OUT", "KSQL_PROCESSING_LOG"}
        [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
        assert [q["id"] for q in queries["queries"]] == [ids["OUT"]]  # same id, GONE stays gone
        [description] = ksql_ok(ksql.url, "DESCRIBE OUT;")
        assert [q["id"] for q in description["sourceDescription"]["writeQueries"]] == [ids["OUT"]]

        produce(kafka.bootstrap, "src", _records(20, 30))
        wait_for(lambda: committed(kafka.bootstrap, group, "src") == 30, message="commit")
        values = [m.value() for m in read_topic(kafka.bootstrap, "OUT", 30)]
        assert values == [f'{{"V":"V{i}"}}'.encode() for i in range(30)]
        assert topic_size(kafka.bootstrap, "OUT") == 30  # nothing committed was reprocessed

        # new statements continue the command log after the replayed ones
        [status] = ksql_ok(ksql.url, "CREATE STREAM MORE AS SELECT * FROM SRC;")
        assert status["commandSequenceNumber"] == 5
        assert status["commandStatus"]["queryId"] == "CSAS_MORE_6"


def test_aggregate_state_is_restored_from_its_changelog(tmp_path):
    with (
        ClusterProcess(str(tmp_path / "kafka")) as kafka,
        KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql,
    ):
        ksql_ok(
            ksql.url,
            "CREATE STREAM CLICKS (ID INT KEY, PAGE STRING) WITH (KAFKA_TOPIC='clicks', "
            "VALUE_FORMAT='JSON', PARTITIONS=2);"
            "CREATE TABLE PER_PAGE AS SELECT PAGE, COUNT(*) AS N FROM CLICKS GROUP BY PAGE;",
            {"ksql.streams.auto.offset.reset": "earliest"},
        )
        [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
        query_id = queries["queries"][0]["id"]
        group = f"_confluent-ksql-default_query_{query_id}"
        # different keys: the clicks arrive on both partitions, the count is per PAGE
        clicks = [(i.to_bytes(4, "big"), b'{"PAGE":"home"}') for i in range(3)]
        produce(kafka.bootstrap, "clicks", clicks)
        # both sub-topologies committed: the GROUP BY's repartition topic too, or the kill
        # could come before the aggregation commits and at_least_once would count a click twice
        repartition = f"{group}-Aggregate-GroupBy-repartition"
        for topic in ("clicks", repartition):
            wait_for(lambda t=topic: committed(kafka.bootstrap, group, t, 2) == 3, message=topic)
        changelog = f"{group}-Aggregate-Aggregate-Materialize-changelog"
        assert topic_size(kafka.bootstrap, changelog) == 3
        assert topic_size(kafka.bootstrap, "PER_PAGE") == 3

        ksql.kill()
        ksql.start()

        produce(kafka.bootstrap, "clicks", clicks[:1])
        out = read_topic(kafka.bootstrap, "PER_PAGE", 4)
        assert [(m.key(), m.value()) for m in out] == [
            (b"home", b'{"N":1}'),
            (b"home", b'{"N":2}'),
            (b"home", b'{"N":3}'),
            (b"home", b'{"N":4}'),  # counted on from the restored state, not from zero
        ]
