"""Changelog topics carry the configs Kafka Streams creates them with: ``cleanup.policy=compact``
for key-value stores; ``compact,delete`` and ``retention.ms = store retention + 1 day`` for the
window and session stores (windowed aggregates, the two window stores of a stream-stream join).
The EMIT FINAL buffer and the outer join's shared store are key-value stores. Every internal
topic gets ``message.timestamp.type=CreateTime``.

The store names are the ones the operators really open (recorded through the engine's store
factory); one test creates the topics on the emulated broker and reads them back."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

from streamlab.kafka.cleaner import LogCleaner
from streamlab.kafka.cluster import Partition, Topic
from streamlab.kafka.coordinator.records import build_batch
from streamlab.kafka.log import PartitionLog
from streamlab.kafka.protocol import batches
from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.kafka_runtime.state import (
    ChangelogStores,
    changelog_config,
    changelog_topic,
    window_store_retentions,
)
from streamlab.ksql.kafka_runtime.topics import KafkaTopicStore
from streamlab.ksql.planner.steps import ExecutionStep
from streamlab.ksql.state import MemoryStore

DAY = 86_400_000
HOUR = 3_600_000
COMPACT = {"cleanup.policy": "compact", "message.timestamp.type": "CreateTime"}

SOURCES = (
    "CREATE STREAM rides (id INT KEY, city STRING, ts BIGINT) "
    "WITH (kafka_topic='rides', value_format='JSON', partitions=1, timestamp='ts');",
    "CREATE STREAM stops (id INT KEY, place STRING, ts BIGINT) "
    "WITH (kafka_topic='stops', value_format='JSON', partitions=1, timestamp='ts');",
)


def windowed(retention_ms: int) -> dict[str, str]:
    return {
        "cleanup.policy": "compact,delete",
        "message.timestamp.type": "CreateTime",
        "retention.ms": str(retention_ms),
    }


class RecordingEngine(KsqlEngine):
    """The in-process engine, remembering the stores its operators open."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    def _store_factory(self, query_id: str):
        def factory(name: str) -> MemoryStore:
            self.opened.append(name)
            return MemoryStore(name)

        return factory


def planned(query: str) -> tuple[ExecutionStep, list[str]]:
    """The physical plan of ``query`` and the stores its operators open."""
    engine = RecordingEngine()
    for statement in SOURCES:
        engine.execute(statement)
    engine.execute(query)
    [persistent] = engine.queries.values()
    return persistent.plan.physical, engine.opened


def configs(query: str) -> dict[str, dict[str, str]]:
    plan, stores = planned(query)
    retentions = window_store_retentions(plan)
    return {store: changelog_config(store, retentions) for store in stores}


AGG = "CREATE TABLE t AS SELECT city, COUNT(*) AS n FROM rides"


@pytest.mark.parametrize(
    ("window", "retention"),
    [
        # no GRACE PERIOD: grace = 24h - size, so the store keeps exactly a day
        ("TUMBLING (SIZE 1 HOUR)", DAY),
        ("TUMBLING (SIZE 30 SECONDS, GRACE PERIOD 1 MINUTE)", 90_000),
        ("TUMBLING (SIZE 1 HOUR, RETENTION 7 DAYS, GRACE PERIOD 10 MINUTES)", 7 * DAY),
        ("HOPPING (SIZE 2 HOURS, ADVANCE BY 1 HOUR, GRACE PERIOD 0 SECONDS)", 2 * HOUR),
        ("TUMBLING (SIZE 2 DAYS)", 2 * DAY),  # grace max(24h - size, 0) = 0
        # a session store's "size" is its gap
        ("SESSION (5 MINUTES, GRACE PERIOD 1 MINUTE)", 6 * 60_000),
        ("SESSION (5 MINUTES)", DAY),
    ],
)
def test_windowed_aggregate_changelog_is_compact_delete(window: str, retention: int) -> None:
    found = configs(f"{AGG} WINDOW {window} GROUP BY city EMIT CHANGES;")
    assert found["Aggregate-Aggregate-Materialize"] == windowed(retention + DAY)
    assert all(found[s] == COMPACT for s in found if s != "Aggregate-Aggregate-Materialize")


def test_emit_final_buffer_is_compacted_only() -> None:
    # EMIT FINAL without GRACE: grace 0, so the store keeps one window size
    found = configs(f"{AGG} WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY city EMIT FINAL;")
    assert found["Aggregate-Aggregate-Materialize"] == windowed(HOUR + DAY)
    assert found["Suppress-store"] == COMPACT


def test_unwindowed_stores_are_compacted_only() -> None:
    found = configs(f"{AGG} GROUP BY city EMIT CHANGES;")
    assert found == {"Aggregate-Aggregate-Materialize": COMPACT}


JOIN = "CREATE STREAM j AS SELECT {}, city, place FROM rides r {} JOIN stops s {} ON r.id = s.id;"


@pytest.mark.parametrize(
    ("join", "within", "retention", "shared"),
    [
        # JoinWindows.of(1h): grace = 24h - 2h, so before + after + grace = 24h
        ("", "WITHIN 1 HOUR", DAY, None),
        ("LEFT", "WITHIN 10 SECONDS GRACE PERIOD 5 SECONDS", 25_000, "OUTERSHARED"),
        ("FULL OUTER", "WITHIN 1 MINUTE GRACE PERIOD 0 SECONDS", 120_000, "OUTERSHARED"),
        # JoinWindows.of(before).after(after) keeps of(before)'s grace: 24h - 2 * before
        ("", "WITHIN (1 HOUR, 3 HOURS)", 4 * HOUR + DAY - 2 * HOUR, None),
    ],
)
def test_join_window_stores_are_compact_delete(
    join: str, within: str, retention: int, shared: str | None
) -> None:
    key = "ROWKEY" if join == "FULL OUTER" else "r.id"  # FULL OUTER: the synthetic key
    found = configs(JOIN.format(key, join, within))
    windows = [s for s in found if "THIS" in s or "OTHER" in s]
    assert len(windows) == 2
    for store in windows:
        assert found[store] == windowed(retention + DAY), store
    shared_stores = [s for s in found if "OUTERSHARED" in s]
    assert len(shared_stores) == (shared is not None)
    for store in shared_stores:
        assert found[store] == COMPACT


def test_additional_retention_and_overflow() -> None:
    assert changelog_config("w", {"w": 10}, 20)["retention.ms"] == "30"
    # Java's Math.addExact overflow is swallowed into Long.MAX_VALUE
    assert changelog_config("w", {"w": 2**63 - 10})["retention.ms"] == str(2**63 - 1)
    assert changelog_config("kv", {"w": 10}) == COMPACT


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    with ClusterProcess(str(tmp_path_factory.mktemp("kafka"))) as cluster:
        yield cluster


def test_created_changelogs_read_back_as_kafka_streams_creates_them(kafka, tmp_path) -> None:
    plan, names = planned(f"{AGG} WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY city EMIT FINAL;")
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    stores = ChangelogStores("cfg_", "CTAS_T_1", print, str(tmp_path), producer)
    for name in names:
        stores.factory(name)
    stores.create_topics(KafkaTopicStore(kafka.bootstrap), 2, plan)
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    expected = configs(f"{AGG} WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY city EMIT FINAL;")
    assert expected["Aggregate-Aggregate-Materialize"]["cleanup.policy"] == "compact,delete"
    for name in names:
        resource = ConfigResource(
            ConfigResource.Type.TOPIC, changelog_topic("cfg_", "CTAS_T_1", name)
        )
        described = admin.describe_configs([resource])[resource].result(10)
        for config, value in expected[name].items():
            assert described[config].value == value, (name, config)
            assert described[config].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        if "retention.ms" not in expected[name]:  # the broker's default, a week
            assert described["retention.ms"].value == "604800000"
            assert described["retention.ms"].source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    stores.close()


@pytest.mark.parametrize(("policy", "cleaned"), [("compact,delete", True), ("delete", False)])
def test_the_log_cleaner_compacts_compact_delete_topics(tmp_path, policy: str, cleaned: bool):
    """The emulated broker compacts a windowed changelog like any compacted topic (it has no
    time-based retention: ``retention.ms`` is only stored)."""
    plog = PartitionLog(str(tmp_path / "p-0"), segment_bytes=100)  # ~one batch per segment
    for value in (b"1", b"2", b"3"):
        plog.append(build_batch([(b"k", value)], 1_000, -1, -1), 0)
    topic = Topic("w", uuid.uuid4(), partitions=[Partition("w", 0, plog)])
    topic.configs["cleanup.policy"] = policy
    cluster = SimpleNamespace(topics={"w": topic})
    asyncio.run(LogCleaner(cluster).clean_all())
    first = next(batches.iter_records(plog.read(plog.log_start_offset, 1 << 20)))
    assert (first.offset, first.value) == ((1, b"2") if cleaned else (0, b"1"))
