"""The record cache (``ksql.streams.cache.max.bytes.buffering``) and commit interval of the
Kafka runtime: a TABLE sink and the changelogs get each key's last update per commit, stream
sinks every record; with the cache at 0 every update is produced (QTT's and the lab's setting).
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from confluent_kafka import Consumer, TopicPartition

from streamlab.ksql.errors import KsqlException, KsqlStatementException
from streamlab.ksql.kafka_runtime import runner as rn
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_server._helpers import committed, ksql_ok, post, produce, read_all, wait_for

CACHE = "ksql.streams.cache.max.bytes.buffering"
EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}
#: KsqlProcess runs without the cache, as the lab does; these servers take ksqlDB's default.
CACHE_ON = ("--config", f"{CACHE}={rn.DEFAULT_CACHE_MAX_BYTES}")


def _clicks(start: int, stop: int, keys: int) -> list[tuple[bytes, bytes]]:
    return [(f"k{i % keys}".encode(), json.dumps({"N": i}).encode()) for i in range(start, stop)]


def _oracle(stop: int, keys: int) -> dict[bytes, int]:
    counts: dict[bytes, int] = {}
    for i in range(stop):
        counts[f"k{i % keys}".encode()] = counts.get(f"k{i % keys}".encode(), 0) + 1
    return counts


def _read(bootstrap: str, topic: str) -> list:
    """Every committed record of ``topic`` (read_committed)."""
    return read_all(bootstrap, topic, read_committed=True)


def _table(bootstrap: str, topic: str) -> dict[bytes, int]:
    return {m.key(): json.loads(m.value())["CNT"] for m in _read(bootstrap, topic)}


def _changelog(bootstrap: str, query_id: str) -> str:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "lister"})
    try:
        [topic] = [
            t
            for t in consumer.list_topics(timeout=10).topics
            if query_id in t and t.endswith("-changelog")
        ]
        return topic
    finally:
        consumer.close()


def _query_id(url: str, sink: str) -> str:
    [listing] = ksql_ok(url, "SHOW QUERIES;")
    [query] = [q["id"] for q in listing["queries"] if q["sinks"] == [sink]]
    return query


def _settle(bootstrap: str, table: str, oracle: dict[bytes, int]) -> None:
    wait_for(lambda: _table(bootstrap, table) == oracle, message=f"{table} == oracle")


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_cache_keeps_each_keys_last_update_and_survives_a_kill(kafka, tmp_path, guarantee):
    total, keys, more = 3000, 10, 500
    tag = "EOS" if guarantee == "exactly_once_v2" else "ALOS"
    topic, table, stream = f"clicks_{tag}", f"COUNTS_{tag}", f"COPY_{tag}"
    service = f"rc_{tag.lower()}_"  # each server its own command topic on the shared broker
    extra = ("--service-id", service, *CACHE_ON,
             "--config", f"ksql.streams.processing.guarantee={guarantee}")  # fmt: skip
    with KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap, extra_args=extra) as ksql:
        ksql_ok(
            ksql.url,
            f"CREATE STREAM SRC_{tag} (ID STRING KEY, N INT) WITH (KAFKA_TOPIC='{topic}', "
            "VALUE_FORMAT='JSON', PARTITIONS=2);",
        )
        produce(kafka.bootstrap, topic, _clicks(0, total, keys))
        ksql_ok(
            ksql.url,
            f"CREATE TABLE {table} AS SELECT ID, COUNT(*) AS CNT FROM SRC_{tag} GROUP BY ID;"
            f"CREATE STREAM {stream} AS SELECT * FROM SRC_{tag};",
            EARLIEST,
        )
        _settle(kafka.bootstrap, table, _oracle(total, keys))
        query = _query_id(ksql.url, table)
        group = f"_confluent-ksql-{service}query_{query}"
        copier = f"_confluent-ksql-{service}query_{_query_id(ksql.url, stream)}"

        def committed_by_both(count: int) -> None:
            for g in (group, copier):
                wait_for(lambda g=g: committed(kafka.bootstrap, g, topic, 2) == count,
                         message=f"{g} committed {count}")  # fmt: skip

        committed_by_both(total)

        changelog = _changelog(kafka.bootstrap, query)
        sink_records = len(_read(kafka.bootstrap, table))
        changelog_records = len(_read(kafka.bootstrap, changelog))
        assert keys <= sink_records < total  # de-duplicated per key and commit
        assert keys <= changelog_records < total
        assert len(_read(kafka.bootstrap, stream)) == total  # a stream sink: every record

        ksql.kill()  # SIGKILL after the commit: the store comes back from the changelog
        ksql.start()
        produce(kafka.bootstrap, topic, _clicks(total, total + more, keys))
        _settle(kafka.bootstrap, table, _oracle(total + more, keys))
        committed_by_both(total + more)
        assert len(_read(kafka.bootstrap, stream)) == total + more


def test_cache_zero_produces_every_update(kafka, tmp_path):
    total, keys = 300, 7
    extra = ("--service-id", "rc_zero_", *CACHE_ON)
    with KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap, extra_args=extra) as ksql:
        ksql_ok(
            ksql.url,
            "CREATE STREAM SRC0 (ID STRING KEY, N INT) WITH (KAFKA_TOPIC='clicks0', "
            "VALUE_FORMAT='JSON', PARTITIONS=2);",
        )
        produce(kafka.bootstrap, "clicks0", _clicks(0, total, keys))
        # the query turns it off, as QTT and the lab do
        ksql_ok(
            ksql.url,
            "CREATE TABLE COUNTS0 AS SELECT ID, COUNT(*) AS CNT FROM SRC0 GROUP BY ID;",
            {**EARLIEST, CACHE: "0"},
        )
        _settle(kafka.bootstrap, "COUNTS0", _oracle(total, keys))
        query = _query_id(ksql.url, "COUNTS0")
        wait_for(
            lambda: committed(kafka.bootstrap, f"_confluent-ksql-rc_zero_query_{query}",
                              "clicks0", 2) == total,
            message="commit",
        )  # fmt: skip
        updates = _read(kafka.bootstrap, "COUNTS0")
        assert len(updates) == total  # one record per update
        assert len(_read(kafka.bootstrap, _changelog(kafka.bootstrap, query))) == total
        per_key: dict[bytes, list[int]] = {}
        for message in updates:
            per_key.setdefault(message.key(), []).append(json.loads(message.value())["CNT"])
        assert all(counts == list(range(1, len(counts) + 1)) for counts in per_key.values())


def test_bad_cache_and_commit_interval_settings_are_rejected(kafka, tmp_path):
    extra = ("--service-id", "rc_bad_")
    with KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap, extra_args=extra) as ksql:
        status, _, text = post(
            ksql.url, "/ksql", {"ksql": f"SET '{CACHE}'='lots';", "streamsProperties": {}}
        )
        assert status == 400
        assert (
            "Invalid value lots for configuration cache.max.bytes.buffering: "
            "Not a number of type LONG"
        ) in json.loads(text)["message"]
        status, _, text = post(
            ksql.url, "/ksql",
            {"ksql": "SHOW STREAMS;", "streamsProperties": {"commit.interval.ms": "-5"}},
        )  # fmt: skip
        assert status == 400
        assert (
            "Invalid value -5 for configuration commit.interval.ms: Value must be at least 0"
        ) in json.loads(text)["message"]


# ---- the cache and the settings, without a cluster ----------------------------------------------


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.calls: list[str] = []

    def produce(self, topic, value=None, key=None, **kwargs):
        self.sent.append((topic, key, value))
        self.calls.append(f"produce {topic}")

    def flush(self, timeout=None):
        self.calls.append("flush")
        return 0

    def begin_transaction(self):
        self.calls.append("begin")

    def send_offsets_to_transaction(self, offsets, metadata, timeout=None):
        self.calls.append(f"offsets {sorted((o.partition, o.offset) for o in offsets)}")

    def commit_transaction(self, timeout=None):
        self.calls.append("commit")


class _Consumer:
    def __init__(self) -> None:
        self.commits = 0

    def commit(self, asynchronous=True):
        self.commits += 1

    def position(self, partitions):
        return [TopicPartition(p.topic, p.partition, -1) for p in partitions]

    def consumer_group_metadata(self):
        return "group-metadata"


class _Message:
    def __init__(self, partition: int, offset: int, key: bytes) -> None:
        self._where, self._key = (partition, offset), key

    def topic(self):
        return "in"

    def partition(self):
        return self._where[0]

    def offset(self):
        return self._where[1]

    def key(self):
        return self._key

    def value(self):
        return b"%d" % self._where[1]

    def timestamp(self):
        return (1, 1000 + self._where[1])

    def headers(self):
        return None

    def error(self):
        return None


def _cached_runner(transactional: bool) -> tuple[rn.QueryRunner, _Producer, _Consumer]:
    def process(record):  # a table row and a stream row per input record
        rn.local.runner.emit(dataclasses.replace(record, topic="table"))
        rn.local.runner.emit(dataclasses.replace(record, topic="stream"))

    runner = rn.QueryRunner(
        "CTAS_T_1", "127.0.0.1:9", "g", ["in"], process, "earliest",
        transactional_id="g-p-1" if transactional else None,
        cache_max_bytes=10_000, commit_interval_ms=60_000, cached_topics={"table"},
    )  # fmt: skip
    producer, consumer = _Producer(), _Consumer()
    runner.producer, runner.consumer = producer, consumer  # type: ignore[assignment]
    rn.local.runner = runner
    return runner, producer, consumer


FIRST = [_Message(0, 0, b"a"), _Message(1, 0, b"b"), _Message(0, 1, b"a")]
SECOND = [_Message(1, 1, b"b"), _Message(0, 2, b"a")]


def test_at_least_once_commits_once_per_interval_with_each_keys_last_table_row():
    runner, producer, consumer = _cached_runner(transactional=False)
    runner.step(FIRST)
    runner.step(SECOND)
    assert consumer.commits == 0  # within the commit interval
    assert producer.sent == [("stream", m.key(), m.value()) for m in FIRST + SECOND]
    runner.last_commit -= 60  # the interval is over
    runner.step([])
    assert consumer.commits == 1 and not runner.uncommitted
    assert producer.sent[5:] == [("table", b"b", b"1"), ("table", b"a", b"2")]
    assert producer.calls[-3:] == ["produce table", "produce table", "flush"]


def test_exactly_once_spans_the_interval_with_one_transaction():
    runner, producer, _ = _cached_runner(transactional=True)
    runner.step(FIRST)
    runner.step(SECOND)
    assert runner.transactions == 0 and producer.calls.count("begin") == 1
    runner.last_commit -= 60
    runner.step([])
    assert producer.calls == [
        "begin", *["produce stream"] * 5, "produce table", "produce table",
        "offsets [(0, 3), (1, 2)]", "commit",
    ]  # fmt: skip
    assert runner.transactions == 1 and not runner.in_transaction


def test_the_cache_evicts_the_least_recently_updated_entries_first():
    producer = _Producer()
    entry = len(b"a") + len(b"1") + rn.CACHE_ENTRY_OVERHEAD
    cache = rn.RecordCache(3 * entry, producer)  # type: ignore[arg-type]
    for key, value in [(b"a", b"1"), (b"b", b"1"), (b"a", b"2"), (b"c", b"1")]:
        cache.put("t", key, value, None, None, None)
    assert producer.sent == [] and cache.hits == 1  # a's second update replaced its first
    cache.put("t", b"d", b"1", None, None, None)  # over the size: b (updated longest ago) goes
    assert producer.sent == [("t", b"b", b"1")]
    cache.put("u", b"a", None, None, None, None)  # another topic, a tombstone: its own entry
    cache.flush()
    assert producer.sent[1:] == [("t", b"a", b"2"), ("t", b"c", b"1"), ("t", b"d", b"1"),
                                 ("u", b"a", None)]  # fmt: skip
    assert cache.entries == {} and cache.size == 0


@pytest.mark.parametrize(
    "layers, cache_bytes, interval",
    [
        ([{}, {}], 10_000_000, 2000),  # ksqlDB's defaults
        ([{}, {CACHE: "0"}], 0, 0),  # no cache: every batch is committed
        ([{CACHE: 0}, {"ksql.streams.commit.interval.ms": "500"}], 0, 500),
        ([{"cache.max.bytes.buffering": "1000"}, {CACHE: "0"}], 1000, 2000),  # query wins
        ([{}, {"ksql.streams.statestore.cache.max.bytes": "0"}], 0, 0),  # the newer name
    ],
)
def test_cache_and_commit_interval_settings(layers, cache_bytes, interval):
    assert rn.cache_max_bytes(*layers) == cache_bytes
    assert rn.commit_interval_ms(*layers) == interval


def test_bad_settings_name_the_setting():
    message = "Invalid value -1 for configuration cache.max.bytes.buffering: Value must be at "
    with pytest.raises(KsqlException, match=re.escape(message)):
        rn.check_guarantees({CACHE: "-1"}, server=True)
    with pytest.raises(KsqlStatementException, match=re.escape("commit.interval.ms: Not a")):
        rn.check_guarantees({"commit.interval.ms": "soon"}, statement="SET ...")
