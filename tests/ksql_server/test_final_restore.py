"""Operator state survives kill -9 of the engine process mid-window (RocksDB stores restored
from their changelogs, stream time included):

* an EMIT FINAL windowed table drops, after the restart, the records that were late before
  the kill, and emits the same final rows as an engine that never stopped; a pull query reads
  the closed windows (kept in the store until their RETENTION);
* a LEFT stream-stream join with a GRACE PERIOD joins a record buffered before the kill, and
  pads the unmatched one with NULLs when its window closes, as an uninterrupted engine does.
"""

from __future__ import annotations

import json

from confluent_kafka import Producer

from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.runtime import Record
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_server._helpers import (
    committed,
    ksql_ok,
    post,
    read_all,
    topic_size,
    wait_for,
)

STATEMENTS = (
    "CREATE STREAM EVENTS (ID STRING KEY, V INT) WITH (KAFKA_TOPIC='final_events', "
    "VALUE_FORMAT='JSON', PARTITIONS=1);"
    "CREATE TABLE FINAL_SUMS AS SELECT ID, COUNT(*) AS N, SUM(V) AS T FROM EVENTS "
    "WINDOW TUMBLING (SIZE 10 SECONDS, RETENTION 1 HOUR, GRACE PERIOD 2 SECONDS) "
    "GROUP BY ID EMIT FINAL;"
)
# (key, V, timestamp): [0s,10s) closes at stream time 12s; [10s,20s) is open at the kill
BEFORE = [("a", 1, 1_000), ("b", 2, 2_000), ("a", 3, 5_000), ("a", 4, 11_000), ("b", 5, 13_000)]
# 4s is late (its window closed before the kill): dropped only if stream time was recovered
AFTER = [("a", 6, 4_000), ("a", 7, 15_000), ("b", 8, 19_000), ("c", 9, 25_000), ("c", 1, 33_000)]


def _records(events):
    return [
        Record("final_events", k.encode(), json.dumps({"V": v}).encode(), ts) for k, v, ts in events
    ]


def _oracle() -> list[tuple[bytes, bytes, int]]:
    """The final rows of an engine that never stopped (the in-process engine)."""
    engine = KsqlEngine()
    engine.execute(STATEMENTS)
    for record in _records(BEFORE + AFTER):
        engine.produce(record)
    return [(r.key, r.value, r.timestamp) for r in engine.topics.records("FINAL_SUMS")]


def _produce(bootstrap: str, events) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for record in _records(events):
        producer.produce(record.topic, record.value, record.key, timestamp=record.timestamp)
    assert producer.flush(30) == 0


def _pull(url: str, sql: str) -> list[tuple]:
    status, _, text = post(url, "/query", {"ksql": sql})
    assert status == 200, text
    return sorted(tuple(row["row"]["columns"]) for row in json.loads(text)[1:])


def test_emit_final_table_killed_mid_window_emits_the_same_final_rows(kafka, tmp_path):
    expected = _oracle()
    # the oracle: [0s,10s) for a and b, [10s,20s) for a and b (the late 4s dropped), c's [20s,30s)
    assert [json.loads(v) for _, v, _ in expected] == [
        {"N": 2, "T": 4}, {"N": 1, "T": 2}, {"N": 2, "T": 11}, {"N": 2, "T": 13}, {"N": 1, "T": 9},
    ]  # fmt: skip
    with KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql:
        ksql_ok(ksql.url, STATEMENTS, {"ksql.streams.auto.offset.reset": "earliest"})
        [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
        [query_id] = [q["id"] for q in queries["queries"] if q["sinks"] == ["FINAL_SUMS"]]
        group = f"_confluent-ksql-default_query_{query_id}"

        _produce(kafka.bootstrap, BEFORE)
        wait_for(lambda: committed(kafka.bootstrap, group, "final_events") == 5, message="commit")
        assert topic_size(kafka.bootstrap, "FINAL_SUMS") == 2  # [0s,10s) closed
        # the suppression buffer has its own changelog (Kafka Streams' "<name>-store")
        assert topic_size(kafka.bootstrap, f"{group}-Suppress-store-changelog") > 0
        assert topic_size(kafka.bootstrap, f"{group}-Aggregate-Aggregate-StreamTime-changelog")

        ksql.kill()  # SIGKILL, with the windows [10s,20s) open
        ksql.start()
        _produce(kafka.bootstrap, AFTER)
        wait_for(lambda: committed(kafka.bootstrap, group, "final_events") == 10, message="commit")
        rows = read_all(kafka.bootstrap, "FINAL_SUMS")
        assert [(m.key(), m.value(), m.timestamp()[1]) for m in rows] == expected

        # pull queries read the aggregate store: closed windows stay until retention, the ones
        # closed before the kill were restored with it
        assert _pull(ksql.url, "SELECT * FROM FINAL_SUMS WHERE ID = 'a';") == [
            ("a", 0, 10_000, 2, 4),
            ("a", 10_000, 20_000, 2, 11),
        ]
        assert _pull(ksql.url, "SELECT ID, N FROM FINAL_SUMS WHERE ID = 'b';") == [
            ("b", 1),
            ("b", 2),
        ]


JOIN = (
    "CREATE STREAM CLICKS (ID STRING KEY, A INT) WITH (KAFKA_TOPIC='final_clicks', "
    "VALUE_FORMAT='JSON', PARTITIONS=1);"
    "CREATE STREAM BUYS (ID STRING KEY, B INT) WITH (KAFKA_TOPIC='final_buys', "
    "VALUE_FORMAT='JSON', PARTITIONS=1);"
    "CREATE STREAM CLICK_BUYS AS SELECT C.ID AS ID, A, B FROM CLICKS C LEFT JOIN BUYS B "
    "WITHIN 10 SECONDS GRACE PERIOD 2 SECONDS ON C.ID = B.ID;"
)
# (topic, key, value, timestamp): x and y are in the join window (and unmatched) at the kill
JOIN_BEFORE = [
    ("final_clicks", "x", {"A": 1}, 1_000),
    ("final_clicks", "y", {"A": 2}, 2_000),
    ("final_buys", "z", {"B": 9}, 3_000),
]
JOIN_AFTER = [
    ("final_buys", "x", {"B": 10}, 5_000),  # joins x from the restored window store
    ("final_clicks", "w", {"A": 3}, 30_000),  # closes y's window: [y, NULL] from the shared store
    ("final_buys", "w", {"B": 30}, 31_000),
]


def _join_records(events):
    return [Record(t, k.encode(), json.dumps(v).encode(), ts) for t, k, v, ts in events]


def test_stream_stream_join_killed_mid_window_joins_and_pads_as_before(kafka, tmp_path):
    engine = KsqlEngine()
    engine.execute(JOIN)
    for record in _join_records(JOIN_BEFORE + JOIN_AFTER):
        engine.produce(record)
    expected = [(r.key, r.value, r.timestamp) for r in engine.topics.records("CLICK_BUYS")]
    assert [(k, json.loads(v)) for k, v, _ in expected] == [
        (b"x", {"A": 1, "B": 10}),
        (b"y", {"A": 2, "B": None}),
        (b"w", {"A": 3, "B": 30}),
    ]
    with KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql:
        ksql_ok(ksql.url, JOIN, {"ksql.streams.auto.offset.reset": "earliest"})
        [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
        [query_id] = [q["id"] for q in queries["queries"] if q["sinks"] == ["CLICK_BUYS"]]
        group = f"_confluent-ksql-default_query_{query_id}"
        consumed = {"final_clicks": 0, "final_buys": 0}

        def one_by_one(events) -> None:  # so both topics are processed in the oracle's order
            for record in _join_records(events):
                producer = Producer({"bootstrap.servers": kafka.bootstrap})
                producer.produce(record.topic, record.value, record.key, timestamp=record.timestamp)
                assert producer.flush(30) == 0
                consumed[record.topic] += 1
                wait_for(
                    lambda t=record.topic: committed(kafka.bootstrap, group, t) == consumed[t],
                    message="commit",
                )

        one_by_one(JOIN_BEFORE)
        assert topic_size(kafka.bootstrap, "CLICK_BUYS") == 0  # nothing joined, nothing closed
        ksql.kill()
        ksql.start()
        one_by_one(JOIN_AFTER)
        rows = read_all(kafka.bootstrap, "CLICK_BUYS")
        assert [(m.key(), m.value(), m.timestamp()[1]) for m in rows] == expected
