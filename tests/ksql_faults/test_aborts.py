"""exactly_once_v2 when a transaction cannot commit: the broker refuses an output record (larger
than the sink topic's ``max.message.bytes``), so each attempt is aborted, the query's state is
rebuilt from its changelog and the batch is read again; after ``MAX_ABORTS`` attempts the query
stops in ERROR. Nothing of the refused batch is ever visible to a read_committed reader."""

from __future__ import annotations

import json
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.ksql.kafka_runtime.runner import MAX_ABORTS
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_faults import _pipeline as pipe
from tests.ksql_server._helpers import ksql_ok


def test_a_refused_output_aborts_every_attempt_then_the_query_stops(cluster, tmp_path):
    tag = uuid.uuid4().hex[:8]
    source, sink = f"in_{tag}", f"out_{tag}"
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    created = admin.create_topics([NewTopic(sink, 1, 1, config={"max.message.bytes": "2000"})])
    created[sink].result(30)
    producer = pipe.producer(cluster.bootstrap)

    def send(key: str, value: str) -> None:
        producer.produce(source, json.dumps({"V": value}).encode(), key.encode())
        assert producer.flush(30) == 0

    args = ("--service-id", f"aborts_{tag}_")
    with KsqlProcess(str(tmp_path / "ksql"), cluster.bootstrap, extra_args=args) as ksql:
        ksql_ok(
            ksql.url,
            f"CREATE STREAM S (ID STRING KEY, V STRING) WITH (KAFKA_TOPIC='{source}', "
            "VALUE_FORMAT='JSON', PARTITIONS=1);"
            "SET 'processing.guarantee'='exactly_once_v2';"
            f"CREATE TABLE C WITH (KAFKA_TOPIC='{sink}') AS SELECT ID, COUNT(*) AS N, "
            "LATEST_BY_OFFSET(V) AS V FROM S GROUP BY ID;",
            {"ksql.streams.auto.offset.reset": "earliest"},
        )
        [listing] = ksql_ok(ksql.url, "SHOW QUERIES;")
        [query] = listing["queries"]
        group = f"_confluent-ksql-aborts_{tag}_query_{query['id']}"
        for i in range(3):
            send("a", f"small-{i}")
        pipe.wait_for(lambda: pipe.committed_at(cluster.bootstrap, group, source, 0) == 3,
                      "the small records")  # fmt: skip

        send("a", "x" * 5000)  # the output row is larger than the sink accepts
        pipe.wait_for(
            lambda: ksql_ok(ksql.url, "SHOW QUERIES;")[0]["queries"][0]["state"] == "ERROR",
            "the query to stop",
        )
        with open(ksql.log_path) as log:
            aborts = log.read().count("aborting transaction")

    rows, _ = pipe.read_all(cluster.bootstrap, sink, partitions=1)
    assert [json.loads(m.value())["N"] for m in rows] == [1, 2, 3]  # the refused one never shows
    assert pipe.committed_at(cluster.bootstrap, group, source, 0) == 3  # it is not consumed
    assert aborts == MAX_ABORTS
