"""Repartition topics carry data, as Kafka Streams' sub-topologies: a GROUP BY on a non-key
column writes each row to ``…-Aggregate-GroupBy-repartition`` keyed by the group key (on the
partition the Java client's murmur2 picks) and aggregates what it reads back; a join whose left
side is re-keyed goes through ``…-Join-left-repartition``; consumed repartition records are
purged; a kill -9 in the middle loses nothing (at_least_once)."""

from __future__ import annotations

import json

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.runtime.topics import default_partition
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_server._helpers import (
    committed,
    ksql_ok,
    latest_values,
    post,
    produce,
    read_topic,
    topic_size,
    wait_for,
)

PARTITIONS = 3
REGIONS = ["north", "south", "east", "west", "centre"]
EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}
NO_PURGE = {**EARLIEST, "ksql.streams.repartition.purge.interval.ms": 3600000}
PURGE_NOW = {**EARLIEST, "ksql.streams.repartition.purge.interval.ms": 0}


def _orders(start: int, stop: int) -> list[tuple[bytes, bytes]]:
    """Orders keyed by ID (KAFKA INT), spread over the partitions by their ID."""
    return [
        (
            i.to_bytes(4, "big"),
            json.dumps({"REGION": REGIONS[i % len(REGIONS)], "AMOUNT": i}).encode(),
        )
        for i in range(start, stop)
    ]


def _oracle(start: int, stop: int) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for i in range(start, stop):
        row = out.setdefault(REGIONS[i % len(REGIONS)], {"N": 0, "TOTAL": 0, "IDS": set()})
        row["N"] += 1
        row["TOTAL"] += i
        row["IDS"].add(i)
    return out


def _query_id(url: str, sink: str) -> str:
    [queries] = ksql_ok(url, "SHOW QUERIES;")
    [found] = [q["id"] for q in queries["queries"] if q["sinks"] == [sink]]
    return found


def _topic(query_id: str, suffix: str) -> str:
    return f"_confluent-ksql-default_query_{query_id}-{suffix}"


def _watermarks(bootstrap: str, topic: str) -> list[tuple[int, int]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), 10) for p in range(PARTITIONS)
        ]
    finally:
        consumer.close()


def _totals(oracle: dict[str, dict]):
    expected = {r.encode(): {"N": v["N"], "TOTAL": v["TOTAL"]} for r, v in oracle.items()}
    return expected, lambda latest: latest == expected


def test_group_by_goes_through_its_repartition_topic(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM ORDERS (ID INT KEY, REGION STRING, AMOUNT INT) WITH ("
        f"KAFKA_TOPIC='orders', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});",
    )
    ksql_ok(
        ksql.url,
        "CREATE TABLE BY_REGION AS SELECT REGION, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL "
        "FROM ORDERS GROUP BY REGION;",
        NO_PURGE,
    )
    query_id = _query_id(ksql.url, "BY_REGION")
    repartition = _topic(query_id, "Aggregate-GroupBy-repartition")
    produce(kafka.bootstrap, "orders", _orders(0, 60))
    expected, done = _totals(_oracle(0, 60))

    assert latest_values(kafka.bootstrap, "BY_REGION", done) == expected
    records = read_topic(kafka.bootstrap, repartition, 60)
    assert len(records) == 60
    assert topic_size(kafka.bootstrap, repartition) == 60  # one record per order, no more
    for record in records:
        # keyed by the new key (KAFKA STRING), on the partition murmur2 picks for it
        assert record.key() in {r.encode() for r in REGIONS}
        assert record.partition() == default_partition(record.key(), PARTITIONS)
        value = json.loads(record.value())
        assert value["REGION"].encode() == record.key()  # the whole row travels
    # a pull query reads the aggregate of the downstream sub-topology
    status, _, text = post(
        ksql.url, "/query", {"ksql": "SELECT * FROM BY_REGION WHERE REGION = 'north';"}
    )
    assert status == 200, text
    [row] = [r["row"]["columns"] for r in json.loads(text)[1:]]
    assert row == ["north", expected[b"north"]["N"], expected[b"north"]["TOTAL"]]
    # orders of one region arrive on three source partitions and leave on one
    assert len({m.partition() for m in read_topic(kafka.bootstrap, "orders", 60)}) == PARTITIONS
    assert len({r.partition() for r in records}) > 1  # yet the groups are spread


def test_group_by_repartitions_in_its_transactions_under_exactly_once(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM PAYMENTS (ID INT KEY, REGION STRING, AMOUNT INT) WITH ("
        f"KAFKA_TOPIC='payments', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
        "CREATE TABLE PAID AS SELECT REGION, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL "
        "FROM PAYMENTS GROUP BY REGION;",
        {**NO_PURGE, "ksql.streams.processing.guarantee": "exactly_once_v2"},
    )
    repartition = _topic(_query_id(ksql.url, "PAID"), "Aggregate-GroupBy-repartition")
    produce(kafka.bootstrap, "payments", _orders(0, 45))
    expected, done = _totals(_oracle(0, 45))
    assert latest_values(kafka.bootstrap, "PAID", done) == expected
    records = read_topic(kafka.bootstrap, repartition, 45)
    assert sorted(json.loads(r.value())["AMOUNT"] for r in records) == list(range(45))


def test_consumed_repartition_records_are_purged(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM SALES (ID INT KEY, REGION STRING, AMOUNT INT) WITH ("
        f"KAFKA_TOPIC='sales', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
        "CREATE TABLE SALES_BY_REGION AS SELECT REGION, COUNT(*) AS N, SUM(AMOUNT) AS TOTAL "
        "FROM SALES GROUP BY REGION;",
        PURGE_NOW,
    )
    query_id = _query_id(ksql.url, "SALES_BY_REGION")
    repartition = _topic(query_id, "Aggregate-GroupBy-repartition")
    produce(kafka.bootstrap, "sales", _orders(0, 90))
    expected, done = _totals(_oracle(0, 90))
    assert latest_values(kafka.bootstrap, "SALES_BY_REGION", done) == expected

    def purged() -> bool:
        marks = _watermarks(kafka.bootstrap, repartition)
        return sum(high for _, high in marks) == 90 and all(low == high for low, high in marks)

    wait_for(purged, message="consumed repartition records deleted")  # DeleteRecords


def test_join_with_a_rekeyed_left_side_uses_join_left_repartition(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM CLICKS (ID INT KEY, USER_ID INT, PAGE STRING) WITH ("
        f"KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
        "CREATE STREAM VISITS (USER_ID INT KEY, NAME STRING) WITH ("
        f"KAFKA_TOPIC='visits', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});",
    )
    ksql_ok(
        ksql.url,
        "CREATE STREAM NAMED AS SELECT C.USER_ID AS USER_ID, C.PAGE AS PAGE, V.NAME AS NAME "
        "FROM CLICKS C "
        "JOIN VISITS V WITHIN 1 HOURS ON C.USER_ID = V.USER_ID;",
        NO_PURGE,
    )
    query_id = _query_id(ksql.url, "NAMED")
    left = _topic(query_id, "Join-left-repartition")
    users = range(7)
    clicks = [
        (i.to_bytes(4, "big"), json.dumps({"USER_ID": i % 7, "PAGE": f"p{i}"}).encode())
        for i in range(42)
    ]
    visits = [(u.to_bytes(4, "big"), json.dumps({"NAME": f"user{u}"}).encode()) for u in users]
    produce(kafka.bootstrap, "visits", visits)
    produce(kafka.bootstrap, "clicks", clicks)

    joined = read_topic(kafka.bootstrap, "NAMED", 42)
    got = sorted(
        (int.from_bytes(m.key(), "big"), json.loads(m.value())["PAGE"],
         json.loads(m.value())["NAME"])
        for m in joined
    )  # fmt: skip
    assert got == sorted((i % 7, f"p{i}", f"user{i % 7}") for i in range(42))

    records = read_topic(kafka.bootstrap, left, 42)
    assert len(records) == 42
    for record in records:  # keyed by the join key, the KAFKA INT of USER_ID
        user = int.from_bytes(record.key(), "big")
        assert json.loads(record.value())["C_USER_ID"] == user  # the row, prefixed
        assert record.partition() == default_partition(record.key(), PARTITIONS)
    names = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=10).topics
    assert left in names
    assert _topic(query_id, "Join-right-repartition") not in names  # VISITS is keyed already


def test_stream_table_join_on_a_value_column_uses_join_repartition(kafka, ksql):
    ksql_ok(
        ksql.url,
        "CREATE STREAM VIEWS (ID INT KEY, USER_ID STRING) WITH ("
        f"KAFKA_TOPIC='views', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
        "CREATE TABLE PEOPLE (ID STRING PRIMARY KEY, NAME STRING) WITH ("
        f"KAFKA_TOPIC='people', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});",
    )
    produce(kafka.bootstrap, "people", [(f"u{u}".encode(), json.dumps({"NAME": f"n{u}"})
                                          .encode()) for u in range(4)])  # fmt: skip
    ksql_ok(
        ksql.url,
        "CREATE STREAM VIEWS_NAMED AS SELECT V.USER_ID AS USER_ID, P.NAME AS NAME "
        "FROM VIEWS V JOIN PEOPLE P ON V.USER_ID = P.ID;",
        NO_PURGE,
    )
    query_id = _query_id(ksql.url, "VIEWS_NAMED")
    # the table is read first (its rows are older): only then the views
    wait_for(
        lambda: committed_sum(kafka.bootstrap, _group(query_id), "people") == 4,
        message="the table side",
    )
    views = [(i.to_bytes(4, "big"), json.dumps({"USER_ID": f"u{i % 4}"}).encode())
             for i in range(20)]  # fmt: skip
    produce(kafka.bootstrap, "views", views)
    got = sorted((m.key(), m.value()) for m in read_topic(kafka.bootstrap, "VIEWS_NAMED", 20))
    assert got == sorted((f"u{i % 4}".encode(), json.dumps({"NAME": f"n{i % 4}"},
                          separators=(",", ":")).encode()) for i in range(20))  # fmt: skip
    records = read_topic(kafka.bootstrap, _topic(query_id, "Join-repartition"), 20)
    assert len(records) == 20
    for record in records:  # keyed as the table is (KAFKA STRING), murmur2's partition
        assert record.key() == json.loads(record.value())["V_USER_ID"].encode()
        assert record.partition() == default_partition(record.key(), PARTITIONS)


def _group(query_id: str) -> str:
    return f"_confluent-ksql-default_query_{query_id}"


def committed_sum(bootstrap: str, group: str, topic: str) -> int:
    return committed(bootstrap, group, topic, PARTITIONS)


def test_bad_purge_interval_is_rejected(ksql):
    status, _, text = post(
        ksql.url,
        "/ksql",
        {"ksql": "SET 'ksql.streams.repartition.purge.interval.ms'='soon';",
         "streamsProperties": {}},
    )  # fmt: skip
    assert status == 400
    assert "Invalid value soon for configuration repartition.purge.interval.ms" in text
    status, _, text = post(
        ksql.url,
        "/ksql",
        {"ksql": "SHOW STREAMS;",
         "streamsProperties": {"ksql.streams.repartition.purge.interval.ms": "-5"}},
    )  # fmt: skip
    assert status == 400
    assert "Value must be at least 0" in text


def test_kill_in_the_middle_loses_nothing(tmp_path):
    with (
        ClusterProcess(str(tmp_path / "kafka")) as kafka,
        KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql,
    ):
        ksql_ok(
            ksql.url,
            "CREATE STREAM ORDERS (ID INT KEY, REGION STRING, AMOUNT INT) WITH ("
            f"KAFKA_TOPIC='orders', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
            "CREATE TABLE SEEN AS SELECT REGION, COLLECT_SET(ID) AS IDS "
            "FROM ORDERS GROUP BY REGION;",
            NO_PURGE,
        )
        repartition = _topic(_query_id(ksql.url, "SEEN"), "Aggregate-GroupBy-repartition")
        produce(kafka.bootstrap, "orders", _orders(0, 2000))
        # killed once rows are on their way through the repartition topic
        wait_for(lambda: topic_size(kafka.bootstrap, repartition) > 0, message="repartitioning")
        ksql.kill()
        ksql.start()
        produce(kafka.bootstrap, "orders", _orders(2000, 2500))

        oracle = _oracle(0, 2500)
        expected = {r.encode(): sorted(v["IDS"]) for r, v in oracle.items()}

        def done(latest: dict[bytes, dict]) -> bool:
            return {k: sorted(v["IDS"]) for k, v in latest.items()} == expected

        latest = latest_values(kafka.bootstrap, "SEEN", done)
        # every order is in its region's set: duplicates (at_least_once) do not show in a set
        assert {k: sorted(v["IDS"]) for k, v in latest.items()} == expected
        assert topic_size(kafka.bootstrap, repartition) >= 2500  # replays may write twice
