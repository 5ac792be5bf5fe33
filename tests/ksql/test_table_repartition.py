"""GROUP BY over a TABLE goes through ``…-Aggregate-GroupBy-repartition`` as Kafka Streams'
``KTable.groupBy(...).aggregate(...)``: the upstream sub-topology keeps the source table
(``KsqlTopic-Reduce``) and writes each update's changes keyed by group key (the old row's
retraction under its old group, the new row's addition under its new group; one change with
both when the group stays, KIP-904), framed as Kafka Streams' ``ChangedSerializer``; the
downstream sub-topology applies them to ``Aggregate-Aggregate-Materialize``.

In process, an engine split as the Kafka runtime splits queries (repartition records are read
back as soon as they are written, as Kafka Streams' TopologyTestDriver pipes internal topics)
gives the one-topology results on every QTT case that groups a table and after a restore at
every point of its input. On the emulated cluster the changes really travel through the topic
(on the partition murmur2 picks for the group key) and a kill -9 under exactly_once_v2 in the
middle changes no result."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.errors import SerializationError
from streamlab.ksql.formats import FormatInfo, get_format, serde
from streamlab.ksql.planner.aggregate import Aggregate
from streamlab.ksql.qtt.runner import DEFAULT_PARTITIONS, CaseRunner, run_case
from streamlab.ksql.runtime import Record, build_topology
from streamlab.ksql.runtime.aggregate import Change, TableAggregateProcessor
from streamlab.ksql.runtime.operators import CHANGE_BOTH, CHANGE_NEW, CHANGE_OLD, changed_serde
from streamlab.ksql.runtime.topics import default_partition
from streamlab.ksql.schema import Column
from streamlab.ksql.testing import KsqlProcess
from streamlab.ksql.types import SqlTypes
from tests.ksql.test_operator_restore import LoggedEngine
from tests.ksql_server._helpers import (
    ksql_ok,
    latest_values,
    post,
    produce,
    read_topic,
    topic_size,
    wait_for,
)
from tests.qtt.qtt_helpers import required_qtt_cases

SUFFIX = "Aggregate-GroupBy-repartition"


# ---- the in-process engine, split at its repartition topics --------------------------------------


class Split:
    """Mixin for an in-process engine: queries are built as the Kafka runtime builds them (split
    at the repartition topics their plan names) and a record written to a repartition topic is
    processed by its query at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.routes: dict[str, Any] = {}

    def _topology(self, query_id: str, plan: Any):
        prefix = f"_confluent-ksql-{self.config.get('ksql.service.id')}query_{query_id}-"
        suffixes = {t for t in getattr(plan, "internal_topics", ()) if t.endswith("-repartition")}
        topology = build_topology(
            plan.physical,
            query_id,
            self._emit,
            self.processing_log,
            self.functions,
            store_factory=self._store_factory(query_id),
            internal_topic=lambda suffix: prefix + suffix if suffix in suffixes else None,
        )
        self.routes.update(dict.fromkeys(topology.repartition_topics, topology))
        return topology

    def _emit(self, record: Record) -> None:
        stored = self.produce(record)
        topology = self.routes.get(record.topic)
        if topology is not None:
            topology.process(stored)


class SplitEngine(Split, KsqlEngine):
    pass


class SplitLoggedEngine(Split, LoggedEngine):
    pass


def _groups_a_table(engine: KsqlEngine) -> bool:
    return any(
        isinstance(step, Aggregate) and step.from_table
        for query in engine.queries.values()
        for step in query.plan.physical.chain()
    )


def _repartition_records(engine: KsqlEngine) -> list[Record]:
    topics = [t for t in engine.topics.topics if t.endswith(SUFFIX)]
    return [r for t in topics for r in engine.topics.records(t)]


# ---- the Change encoding -------------------------------------------------------------------------

ROW = serde(
    get_format("JSON"),
    FormatInfo("JSON"),
    [Column("G", SqlTypes.STRING), Column("V", SqlTypes.INTEGER)],
    frozenset(),
    is_key=False,
)
CHANGES = changed_serde(ROW)


def test_changes_are_framed_as_kafka_streams_changed_serializer():
    new, old = ["x", 1], ["y", 2]
    inner_new, inner_old = ROW.serialize(new), ROW.serialize(old)
    assert CHANGES.serialize(Change(new, None)) == inner_new + bytes([CHANGE_NEW])
    assert CHANGES.serialize(Change(None, old)) == inner_old + bytes([CHANGE_OLD])
    both = CHANGES.serialize(Change(new, old))
    # {zig-zag varint new length}{new}{old}{2}
    assert both == bytes([2 * len(inner_new)]) + inner_new + inner_old + bytes([CHANGE_BOTH])
    for change in (Change(new, None), Change(None, old), Change(new, old)):
        assert CHANGES.deserialize(CHANGES.serialize(change), "t") == change
    long = ["g" * 300, 7]  # a length that needs a two-byte varint
    data = CHANGES.serialize(Change(long, old))
    assert data[0] & 0x80 and CHANGES.deserialize(data, "t") == Change(long, old)


@pytest.mark.parametrize("data", [None, b"", b'{"G":"x","V":1}\x07', b"\x7f{}\x02", b"\x02"])
def test_a_value_that_is_no_change_is_a_deserialization_error(data):
    with pytest.raises(SerializationError, match="Failed to deserialize value from topic: t"):
        CHANGES.deserialize(data, "t")


def test_a_change_with_neither_row_cannot_be_serialized():
    with pytest.raises(SerializationError):
        CHANGES.serialize(Change(None, None))


# ---- in process: the split gives the one-topology results ----------------------------------------

TABLE = (
    "CREATE TABLE t (k STRING PRIMARY KEY, g STRING, v INT) "
    "WITH (kafka_topic='t', value_format='JSON', partitions=1);"
)
QUERY = TABLE + "CREATE TABLE o AS SELECT g, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY g;"
UPDATES = [
    ("a", {"G": "x", "V": 1}),  # joins x
    ("b", {"G": "x", "V": 2}),  # joins x
    ("a", {"G": "y", "V": 3}),  # leaves x, joins y
    ("a", {"G": "y", "V": 4}),  # stays in y: one change
    ("b", None),  # deleted: leaves x
    ("c", None),  # deleting what never was: nothing
    ("a", {"G": None, "V": 5}),  # a NULL group: leaves y only
    ("a", {"G": "z", "V": 6}),  # from a NULL group: joins z only
    ("d", {"G": "z", "V": 7}),
    ("d", {"G": "x", "V": 8}),
]
#: (group key, which rows) of each change the updates above send, in order
SENT = [("x", CHANGE_NEW), ("x", CHANGE_NEW), ("x", CHANGE_OLD), ("y", CHANGE_NEW),
        ("y", CHANGE_BOTH), ("x", CHANGE_OLD), ("y", CHANGE_OLD), ("z", CHANGE_NEW),
        ("z", CHANGE_NEW), ("z", CHANGE_OLD), ("x", CHANGE_NEW)]  # fmt: skip


def _inputs(updates=UPDATES) -> list[tuple[str, str, dict | None, int]]:
    return [("t", k, v, 1000 * (i + 1)) for i, (k, v) in enumerate(updates)]


def _feed(engine: KsqlEngine, inputs) -> None:
    for topic, key, value, ts in inputs:
        data = json.dumps(value).encode() if value is not None else None
        engine.produce(Record(topic, key.encode(), data, ts))


def _sink(engine: KsqlEngine) -> list[tuple[Any, Any, int]]:
    return [(r.key, r.value, r.timestamp) for r in engine.topics.records("O")]


def _flag(record: Record) -> int:
    return record.value[-1]  # type: ignore[index]


def _parts(value: bytes) -> tuple[Any, Any]:
    """The (new, old) processing rows of a repartition value, read by hand from its framing."""
    flag, body = value[-1], value[:-1]
    if flag == CHANGE_NEW:
        return json.loads(body), None
    if flag == CHANGE_OLD:
        return None, json.loads(body)
    assert flag == CHANGE_BOTH
    size = shift = at = 0
    while True:  # a zig-zag varint: the length of new
        byte = body[at]
        size |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            break
    size >>= 1
    return json.loads(body[at : at + size]), json.loads(body[at + size :])


def test_table_group_by_routes_every_change_through_the_repartition_topic():
    single, split = KsqlEngine(), SplitEngine()
    for engine in (single, split):
        engine.execute(QUERY)
        _feed(engine, _inputs())
    assert _sink(split) == _sink(single)
    last = [(k, json.loads(v), ts) for k, v, ts in _sink(split)[-3:]]
    assert last == [(b"z", {"N": 2, "S": 13}, 9000), (b"z", {"N": 1, "S": 6}, 10000),
                    (b"x", {"N": 1, "S": 8}, 10000)]  # fmt: skip
    records = _repartition_records(split)
    assert [(r.key.decode(), _flag(r)) for r in records] == SENT  # type: ignore[union-attr]
    assert _repartition_records(single) == []  # in one topology nothing is written
    [query] = split.queries.values()
    [topic] = query.topology.repartition_topics
    assert topic.endswith(SUFFIX) and topic not in query.source_topics
    # a's update within y: one record holding both rows, each the whole processing row
    new, old = _parts(records[4].value)  # type: ignore[arg-type]
    assert (new["G"], new["V"], new["ROWTIME"], old["G"], old["V"], old["ROWTIME"]) == (
        "y", 4, 4000, "y", 3, 3000,
    )  # fmt: skip
    assert records[4].timestamp == 4000


def test_both_sub_topologies_keep_their_state():
    split = SplitEngine()
    split.execute(QUERY)
    _feed(split, _inputs())
    [query] = split.queries.values()
    aggregate = query.topology.source.downstream
    assert isinstance(aggregate, TableAggregateProcessor)  # what pull queries look for
    rows = dict(aggregate.group_by.rows.partition(0).range())
    assert {k: (v[0], v[1]) for (k,), v in rows.items()} == {"a": ("z", 6), "d": ("x", 8)}
    groups = {k: accs for (k,), (accs, _) in aggregate.store.partition(0).range()}
    assert groups == {"x": [1, 8], "y": [0, 0], "z": [1, 6]}


def test_every_qtt_case_that_groups_a_table_passes_split_as_in_one_topology():
    class SplitCaseRunner(CaseRunner):
        def __init__(self, case) -> None:
            super().__init__(case)
            self.engine = SplitEngine(
                config={"ksql.service.id": "some.ksql.service.id", **case.properties},
                run_mode="external",
                auto_create_topics=True,
                default_partitions=DEFAULT_PARTITIONS,
            )

    cases = required_qtt_cases()
    checked = routed = 0
    for case in cases:
        runner = SplitCaseRunner(case)
        result = runner.run()
        if not _groups_a_table(runner.engine):
            continue
        checked += 1
        routed += len(_repartition_records(runner.engine))
        single = run_case(case)
        assert (result.passed, result.reason) == (single.passed, single.reason), case.case_id
    print(f"{checked} QTT cases group a table; {routed} changes went through")
    assert checked >= 15 and routed > checked  # many cases, and their changes went through


@pytest.mark.parametrize("having", ["", " HAVING SUM(v) > 4"])
def test_a_restore_at_any_point_continues_as_the_uninterrupted_run(having):
    sql = QUERY.replace("GROUP BY g;", f"GROUP BY g{having};")
    inputs = _inputs()
    whole = KsqlEngine()
    whole.execute(sql)
    _feed(whole, inputs)
    expected = _sink(whole)
    for split in range(len(inputs) + 1):
        first = SplitLoggedEngine()
        first.execute(sql)
        _feed(first, inputs[:split])
        second = SplitLoggedEngine(first.changelog)  # both sub-topologies' stores restored
        second.execute(sql)
        _feed(second, inputs[split:])
        assert _sink(first) + _sink(second) == expected, f"split after {split}"


# ---- on the emulated cluster ---------------------------------------------------------------------

PARTITIONS = 3
GROUPS = ["north", "south", "east", "west"]
ALOS = {
    "ksql.streams.auto.offset.reset": "earliest",
    "ksql.streams.repartition.purge.interval.ms": 3600000,
}
EOS = {**ALOS, "ksql.streams.processing.guarantee": "exactly_once_v2"}


def _updates(start: int, stop: int, keys: int) -> list[tuple[str, dict | None]]:
    """Updates of ``keys`` source keys: group changes, same-group updates, tombstones."""
    out: list[tuple[str, dict | None]] = []
    for i in range(start, stop):
        key = f"k{i % keys}"
        if i % 11 == 5:
            out.append((key, None))
        else:
            group = GROUPS[(i // (2 * keys) + i) % len(GROUPS)]  # every other visit moves
            out.append((key, {"G": group, "V": i % 13}))
    return out


def _records(updates) -> list[tuple[bytes, bytes | None]]:
    return [(k.encode(), json.dumps(v).encode() if v is not None else None) for k, v in updates]


def _expected(sql: str, updates) -> tuple[dict[bytes, dict], int]:
    """The one-topology run (one partition): the last row per group and how many changes
    the split run writes (they depend only on each source key's own updates)."""
    single, split = KsqlEngine(), SplitEngine()
    for engine in (single, split):
        engine.execute(sql)
        _feed(engine, [("t", k, v, 0) for k, v in updates])
    latest = {r.key: json.loads(r.value) for r in single.topics.records("O") if r.value}
    return latest, len(_repartition_records(split))


def _repartition_topic(url: str) -> str:
    [listing] = ksql_ok(url, "SHOW QUERIES;")
    [query_id] = [q["id"] for q in listing["queries"] if q["sinks"] == ["O"]]
    return f"_confluent-ksql-default_query_{query_id}-{SUFFIX}"


CLUSTER_TABLE = TABLE.replace("partitions=1", f"partitions={PARTITIONS}")
CLUSTER_QUERY = "CREATE TABLE o AS SELECT g, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY g;"


def test_changes_travel_through_the_topic_on_the_cluster(tmp_path):
    updates = _updates(0, 300, 40)
    expected, changes = _expected(TABLE + CLUSTER_QUERY, updates)
    with (
        ClusterProcess(str(tmp_path / "kafka")) as kafka,
        KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql,
    ):
        ksql_ok(ksql.url, CLUSTER_TABLE)
        ksql_ok(ksql.url, CLUSTER_QUERY, ALOS)
        repartition = _repartition_topic(ksql.url)
        produce(kafka.bootstrap, "t", _records(updates))
        latest = latest_values(kafka.bootstrap, "O", lambda got: got == expected)
        assert latest == expected  # as the one-topology run
        records = read_topic(kafka.bootstrap, repartition, changes)
        assert len(records) == changes
        flags = Counter(r.value()[-1] for r in records)
        assert set(flags) == {CHANGE_OLD, CHANGE_NEW, CHANGE_BOTH}
        for record in records:  # keyed by the group key, on the partition murmur2 picks
            assert record.key().decode() in GROUPS
            assert record.partition() == default_partition(record.key(), PARTITIONS)
            for row in _parts(record.value()):
                assert row is None or row["G"].encode() == record.key()  # the group's rows
        assert len({r.partition() for r in records}) > 1
        # a pull query reads the aggregate of the downstream sub-topology
        status, _, text = post(ksql.url, "/query", {"ksql": "SELECT * FROM O WHERE G = 'north';"})
        assert status == 200, text
        [row] = [r["row"]["columns"] for r in json.loads(text)[1:]]
        assert row == ["north", expected[b"north"]["N"], expected[b"north"]["S"]]


def test_a_kill_in_the_middle_changes_nothing_under_exactly_once(tmp_path):
    first, second = _updates(0, 6000, 120), _updates(6000, 6600, 120)
    expected, changes = _expected(TABLE + CLUSTER_QUERY, first + second)
    with (
        ClusterProcess(str(tmp_path / "kafka")) as kafka,
        KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql,
    ):
        ksql_ok(ksql.url, CLUSTER_TABLE)
        ksql_ok(ksql.url, CLUSTER_QUERY, EOS)
        repartition = _repartition_topic(ksql.url)
        produce(kafka.bootstrap, "t", _records(first))
        # killed once changes are on their way through the repartition topic
        wait_for(lambda: topic_size(kafka.bootstrap, repartition) > 0, message="repartitioning")
        ksql.kill()
        print(f"killed with {topic_size(kafka.bootstrap, repartition)} of {changes} changes")
        ksql.start()  # both sub-topologies' stores come back from their changelogs
        produce(kafka.bootstrap, "t", _records(second))
        latest = latest_values(kafka.bootstrap, "O", lambda got: got == expected)
        assert latest == expected
        assert topic_size(kafka.bootstrap, repartition) >= changes  # aborted writes stay
