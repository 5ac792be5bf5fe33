"""A join whose sides have different KEY formats re-keys its right table as ksqlDB does
(``TableSelectKey``: ``toStream().map(...).toTable(...)``): the table's updates, deletes
included, go to ``…-RightSourceKeyed-SelectKey-repartition`` keyed in the left side's key
format, and the join materializes what it reads back in ``RightSourceKeyed-Materialize``
(whose changelog is the ``RightSourceKeyed-Materialize-changelog`` the planner lists).

In process, an engine split as the Kafka runtime splits queries gives the one-topology results
on both QTT "key format mismatch" cases that re-key a table (and on every other join case),
with tombstones, and after a restore at every point of its input. On the emulated cluster the
table's records really travel through the topic, on the partition murmur2 picks for the key in
the left side's format (where the left side's records for that key are: without the re-key
most would miss), and after a kill -9 the join finds the table in its restored store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.qtt.runner import DEFAULT_PARTITIONS, CaseRunner, run_case
from streamlab.ksql.runtime import Record
from streamlab.ksql.runtime.joins import RIGHT_REKEYED_STORE
from streamlab.ksql.runtime.topics import default_partition
from streamlab.ksql.testing import KsqlProcess
from tests.ksql.test_table_repartition import SplitEngine, SplitLoggedEngine
from tests.ksql_server._helpers import committed, ksql_ok, produce, read_topic, wait_for
from tests.qtt.qtt_helpers import required_qtt_cases

SUFFIX = "RightSourceKeyed-SelectKey-repartition"
MISMATCH_CASES = [
    "stream-table key-to-key - key format mismatch",
    "table-table key-to-key - key format mismatch",
]


def _kafka_int(value: int) -> bytes:
    return value.to_bytes(4, "big", signed=True)


def _repartition_records(engine: KsqlEngine) -> list[Record]:
    topics = [t for t in engine.topics.topics if t.endswith(SUFFIX)]
    return [r for t in topics for r in engine.topics.records(t)]


def _rekeys_a_table(engine: KsqlEngine) -> bool:
    return any(
        SUFFIX in getattr(query.plan, "internal_topics", ()) for query in engine.queries.values()
    )


def _joins(engine: KsqlEngine) -> bool:
    return any(getattr(query.plan, "join", None) for query in engine.queries.values())


def _feed(engine: KsqlEngine, inputs) -> None:
    for topic, key, value, ts in inputs:
        data = json.dumps(value).encode() if value is not None else None
        engine.produce(Record(topic, key, data, ts))


def _sink(engine: KsqlEngine, topic: str = "OUTPUT") -> list[tuple[Any, Any, int]]:
    return [(r.key, r.value, r.timestamp) for r in engine.topics.records(topic)]


class QttSplitEngine(SplitEngine):
    """QTT puts every input on partition 0 (TopologyTestDriver has one partition per topic):
    so do the repartition records, where the other side's records for their key are."""

    def _emit(self, record: Record) -> None:
        topology = self.routes.get(record.topic)
        if topology is None:
            super()._emit(record)
        else:
            topology.process(self.topics.append(record, 0))


class SplitCaseRunner(CaseRunner):
    def __init__(self, case) -> None:
        super().__init__(case)
        self.engine = QttSplitEngine(
            config={"ksql.service.id": "some.ksql.service.id", **case.properties},
            run_mode="external",
            auto_create_topics=True,
            default_partitions=DEFAULT_PARTITIONS,
        )


# ---- in process: the split gives the one-topology results ----------------------------------------


@pytest.mark.parametrize("name", MISMATCH_CASES)
def test_the_qtt_mismatch_cases_route_the_table_through_the_topic(name):
    [case] = [c for c in required_qtt_cases() if c.file.endswith("joins.json") and c.name == name]
    runner = SplitCaseRunner(case)
    result = runner.run()
    assert result.passed, result.reason
    single = run_case(case)
    assert (result.passed, result.reason) == (single.passed, single.reason)
    [record] = _repartition_records(runner.engine)
    # the table's key 10 (KAFKA INT on its topic), as the left side writes its keys
    assert record.key == (b"10" if name.startswith("stream-table") else _kafka_int(10))
    [query] = runner.engine.queries.values()
    [topic] = query.topology.repartition_topics
    assert topic.endswith(SUFFIX) and topic not in query.source_topics
    # in one topology nothing goes through the topic
    plain = CaseRunner(case)
    plain.run()
    assert _repartition_records(plain.engine) == []


def test_every_qtt_join_case_passes_split_as_in_one_topology():
    cases = required_qtt_cases()
    checked = rekeyed = routed = 0
    for case in cases:
        runner = SplitCaseRunner(case)
        result = runner.run()
        if not _joins(runner.engine):
            continue
        checked += 1
        rekeyed += _rekeys_a_table(runner.engine)
        routed += len(_repartition_records(runner.engine))
        single = run_case(case)
        assert (result.passed, result.reason) == (single.passed, single.reason), case.case_id
    print(f"{checked} QTT join cases; {rekeyed} re-key a table, {routed} records went through")
    assert checked >= 50 and rekeyed >= 2 and routed >= rekeyed


TABLES = (
    "CREATE TABLE T1 (ID INT PRIMARY KEY, VAL STRING) WITH (kafka_topic='t1', "
    "key_format='KAFKA', value_format='JSON', partitions=1);"
    "CREATE TABLE T2 (ID INT PRIMARY KEY, FOO INT) WITH (kafka_topic='t2', "
    "key_format='DELIMITED', value_format='JSON', partitions=1);"
)
STREAM = (
    "CREATE STREAM S (ID INT KEY, FOO INT) WITH (kafka_topic='s', key_format='DELIMITED', "
    "value_format='JSON', partitions=1);"
    "CREATE TABLE T (ID INT PRIMARY KEY, VAL STRING) WITH (kafka_topic='t', key_format='KAFKA', "
    "value_format='JSON', partitions=1);"
)
QUERIES = {
    "table-table": TABLES + "CREATE TABLE OUTPUT AS SELECT * FROM T1 JOIN T2 ON T1.ID = T2.ID;",
    "table-table left": TABLES
    + "CREATE TABLE OUTPUT AS SELECT * FROM T1 LEFT JOIN T2 ON T1.ID = T2.ID;",
    "stream-table": STREAM
    + "CREATE STREAM OUTPUT AS SELECT S.ID, S.FOO, T.VAL FROM S JOIN T ON S.ID = T.ID;",
    "stream-table left": STREAM
    + "CREATE STREAM OUTPUT AS SELECT S.ID, S.FOO, T.VAL FROM S LEFT JOIN T ON S.ID = T.ID;",
}
TABLE_TABLE = [
    ("t1", _kafka_int(1), {"VAL": "a"}),
    ("t2", b"1", {"FOO": 10}),  # joins
    ("t2", b"2", {"FOO": 20}),
    ("t2", b"1", {"FOO": 11}),  # an update
    ("t1", _kafka_int(2), {"VAL": "b"}),  # joins 2
    ("t2", b"1", None),  # deleted: the joined row goes (a tombstone, or 1 without T2)
    ("t2", b"3", None),  # deleting what never was: nothing
    ("t2", b"1", {"FOO": 12}),  # back
    ("t1", _kafka_int(1), None),
    ("t2", b"2", None),
]
STREAM_TABLE = [
    ("t", _kafka_int(1), {"VAL": "a"}),
    ("s", b"1", {"FOO": 1}),  # joins a
    ("s", b"2", {"FOO": 2}),  # no row 2 yet
    ("t", _kafka_int(2), {"VAL": "b"}),
    ("t", _kafka_int(1), None),  # the delete must reach the join's store
    ("s", b"1", {"FOO": 3}),  # no row 1 any more
    ("s", b"2", {"FOO": 4}),  # joins b
    ("t", _kafka_int(7), None),  # deleting what never was
    ("t", _kafka_int(1), {"VAL": "c"}),
    ("s", b"1", {"FOO": 5}),  # joins c
]


def _inputs(kind: str) -> list[tuple[str, bytes, dict | None, int]]:
    updates = TABLE_TABLE if kind.startswith("table") else STREAM_TABLE
    return [(t, k, v, 1000 * (i + 1)) for i, (t, k, v) in enumerate(updates)]


@pytest.mark.parametrize("kind", list(QUERIES))
def test_deletes_travel_through_the_topic_and_reach_the_join(kind):
    single, split = KsqlEngine(), SplitLoggedEngine()
    for engine in (single, split):
        engine.execute(QUERIES[kind])
        _feed(engine, _inputs(kind))
    assert _sink(split) == _sink(single)
    assert _repartition_records(single) == []
    table = "t2" if kind.startswith("table") else "t"
    updates = [(k, v) for t, k, v, _ in _inputs(kind) if t == table]
    records = _repartition_records(split)
    # every update of the table, tombstones too, keyed as the left side writes its keys
    assert [(r.key, r.value is None) for r in records] == [
        (_kafka_int(int(k)) if table == "t2" else str(int.from_bytes(k, "big")).encode(), v is None)
        for k, v in updates
    ]
    assert all(r.timestamp == ts for r, (t, _, _, ts) in zip(
        records, [i for i in _inputs(kind) if i[0] == table], strict=True))  # fmt: skip
    # the join materializes the re-keyed table as ksqlDB names its store
    names = {name for _, name in split.stores}
    assert RIGHT_REKEYED_STORE in names and "KafkaTopic_Right-Reduce" not in names
    # a stream side has no store (ksqlDB makes no KafkaTopic_Left-Reduce for stream-table)
    assert ("KafkaTopic_Left-Reduce" in names) == kind.startswith("table")
    [query] = split.queries.values()
    assert f"{RIGHT_REKEYED_STORE}-changelog" in query.plan.internal_topics  # as planned
    # the stores opened are exactly the changelogs ksqlDB plans for the join
    planned = {t for t in query.plan.internal_topics if t.endswith("-changelog")}
    assert {f"{name}-changelog" for name in names} == planned


def test_without_a_key_format_mismatch_the_table_is_not_rekeyed():
    sql = QUERIES["stream-table"].replace("key_format='DELIMITED'", "key_format='KAFKA'")
    split = SplitLoggedEngine()
    split.execute(sql)
    _feed(split, [(t, k if t == "t" else _kafka_int(int(k)), v, ts)
                  for t, k, v, ts in _inputs("stream-table")])  # fmt: skip
    assert _repartition_records(split) == []
    names = {name for _, name in split.stores}
    assert "KafkaTopic_Right-Reduce" in names and RIGHT_REKEYED_STORE not in names
    assert len(_sink(split)) == 3


@pytest.mark.parametrize("kind", list(QUERIES))
def test_a_restore_at_any_point_continues_as_the_uninterrupted_run(kind):
    inputs = _inputs(kind)
    whole = KsqlEngine()
    whole.execute(QUERIES[kind])
    _feed(whole, inputs)
    expected = _sink(whole)
    for split in range(len(inputs) + 1):
        first = SplitLoggedEngine()
        first.execute(QUERIES[kind])
        _feed(first, inputs[:split])
        second = SplitLoggedEngine(first.changelog)  # RightSourceKeyed-Materialize restored
        second.execute(QUERIES[kind])
        _feed(second, inputs[split:])
        assert _sink(first) + _sink(second) == expected, f"split after {split}"


# ---- on the emulated cluster ---------------------------------------------------------------------

PARTITIONS = 3
ALOS = {
    "ksql.streams.auto.offset.reset": "earliest",
    "ksql.streams.repartition.purge.interval.ms": 3600000,
}
CLUSTER_SOURCES = (
    "CREATE STREAM S (ID INT KEY, FOO INT) WITH (kafka_topic='s', key_format='DELIMITED', "
    f"value_format='JSON', partitions={PARTITIONS});"
    "CREATE TABLE T (ID INT PRIMARY KEY, VAL STRING) WITH (kafka_topic='t', key_format='KAFKA', "
    f"value_format='JSON', partitions={PARTITIONS});"
)
CLUSTER_QUERY = "CREATE STREAM J AS SELECT S.ID, S.FOO, T.VAL FROM S JOIN T ON S.ID = T.ID;"
IDS = range(30)
DELETED = range(5)


def _query_id(url: str) -> str:
    [listing] = ksql_ok(url, "SHOW QUERIES;")
    [query_id] = [q["id"] for q in listing["queries"] if q["sinks"] == ["J"]]
    return query_id


def _stream(foo: int) -> list[tuple[bytes, bytes]]:
    return [(str(i).encode(), json.dumps({"FOO": foo + i}).encode()) for i in IDS]


def _joined(messages) -> list[tuple[int, int, str]]:
    out = []
    for message in messages:
        value = json.loads(message.value())
        out.append((int(message.key()), value["FOO"], value["VAL"]))
    return sorted(out)


def _expected(foo: int) -> list[tuple[int, int, str]]:
    return sorted((i, foo + i, f"v{i}") for i in IDS if i not in DELETED)


def test_the_table_travels_through_the_topic_on_the_cluster_and_survives_a_kill(tmp_path):
    with (
        ClusterProcess(str(tmp_path / "kafka")) as kafka,
        KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql,
    ):
        ksql_ok(ksql.url, CLUSTER_SOURCES)
        ksql_ok(ksql.url, CLUSTER_QUERY, ALOS)
        query_id = _query_id(ksql.url)
        group = f"_confluent-ksql-default_query_{query_id}"
        repartition = f"{group}-{SUFFIX}"
        table = [(_kafka_int(i), json.dumps({"VAL": f"v{i}"}).encode()) for i in IDS]
        table += [(_kafka_int(i), None) for i in DELETED] + [(_kafka_int(99), None)]
        produce(kafka.bootstrap, "t", table)  # type: ignore[arg-type]
        # the table is in the join's store once the query has consumed the repartition topic
        wait_for(
            lambda: committed(kafka.bootstrap, group, repartition, PARTITIONS) == len(table),
            message="the re-keyed table",
        )
        records = read_topic(kafka.bootstrap, repartition, len(table))
        assert len(records) == len(table)
        deletes = []
        for record in records:  # keyed in DELIMITED (the stream's), murmur2's partition
            key = record.key()
            assert record.partition() == default_partition(key, PARTITIONS)
            if record.value() is None:
                deletes.append(int(key))
            else:
                assert json.loads(record.value())["T_VAL"] == f"v{int(key)}"
        assert sorted(deletes) == [*DELETED, 99]
        # on the KAFKA key's partition most rows would not meet the stream's records
        moved = [i for i in IDS if default_partition(_kafka_int(i), PARTITIONS)
                 != default_partition(str(i).encode(), PARTITIONS)]  # fmt: skip
        assert len(moved) > len(IDS) // 3

        produce(kafka.bootstrap, "s", _stream(0))
        first = read_topic(kafka.bootstrap, "J", len(IDS) - len(DELETED))
        assert _joined(first) == _expected(0)
        wait_for(
            lambda: committed(kafka.bootstrap, group, "s", PARTITIONS) == len(IDS),
            message="the stream's commit",
        )

        ksql.kill()  # the store comes back from RightSourceKeyed-Materialize-changelog
        ksql.start()
        produce(kafka.bootstrap, "s", _stream(100))
        both = read_topic(kafka.bootstrap, "J", 2 * (len(IDS) - len(DELETED)))
        assert _joined(m for m in both if json.loads(m.value())["FOO"] >= 100) == _expected(100)
        names = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=10).topics
        assert f"{group}-{RIGHT_REKEYED_STORE}-changelog" in names
        assert f"{group}-KafkaTopic_Right-Reduce-changelog" not in names
