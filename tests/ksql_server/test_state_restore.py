"""RocksDB state stores restore from their compacted changelogs: from the checkpoint when the
local store has one (only the tail is read), from the beginning when the state dir is gone;
and a killed engine's table reads the same after a restart and counts on without loss or
double counting."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from streamlab.ksql.kafka_runtime.state import ChangelogStores, changelog_topic
from streamlab.ksql.kafka_runtime.topics import KafkaTopicStore
from streamlab.ksql.state.checkpoint import CheckpointError, OffsetCheckpoint
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_server._helpers import committed, ksql_ok, post, produce, topic_size, wait_for

STORE = "Aggregate-Aggregate-Materialize"


def _no_emit(record):
    raise AssertionError("changelog records go through the producer")


def _open_stores(service, query, state_dir, producer, topics, partitions=1, exactly_once=False):
    """A query's stores with one store (``STORE``) and its changelog topic, opened as the
    engine opens them; returns the stores and the store's partition 0."""
    stores = ChangelogStores(service, query, _no_emit, state_dir, producer, exactly_once)
    store = stores.factory(STORE)
    stores.create_topics(topics, partitions)
    return stores, store.partition(0)


def _cleanup_policy(bootstrap: str, topic: str) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(10)
    return configs["cleanup.policy"].value


def test_restore_reads_only_what_the_checkpoint_does_not_cover(kafka, tmp_path):
    bootstrap = kafka.bootstrap
    topics = KafkaTopicStore(bootstrap)
    producer = Producer({"bootstrap.servers": bootstrap})
    state_dir = str(tmp_path / "state")

    def open_stores():
        return _open_stores("direct_", "CTAS_T_1", state_dir, producer, topics, partitions=2)

    stores, part = open_stores()
    topic = changelog_topic("direct_", "CTAS_T_1", STORE)
    assert _cleanup_policy(bootstrap, topic) == "compact"
    assert stores.restore(bootstrap) == 0
    for i in range(100):
        part.put((f"k{i % 10}",), i)
    part.delete(("k9",))
    assert producer.flush(10) == 0
    stores.checkpoint()  # what the runner does after each commit
    for i in range(20):  # logged, but the engine dies before the next checkpoint
        part.put((f"k{i % 5}",), 1000 + i)
    assert producer.flush(10) == 0
    for store in stores.stores.values():
        store.close()  # kill -9: no checkpoint on close
    expected = {(f"k{i}",): 1015 + i for i in range(5)} | {(f"k{i}",): 90 + i for i in range(5, 9)}

    stores, part = open_stores()
    assert stores.restore(bootstrap) == 20  # the tail only
    assert dict(part.range()) == expected
    stores.close()  # a clean close checkpoints

    stores, part = open_stores()
    assert stores.restore(bootstrap) == 0
    assert dict(part.range()) == expected
    stores.close()

    shutil.rmtree(state_dir)  # the state dir is gone: everything from the start
    stores, part = open_stores()
    assert stores.restore(bootstrap) == 121
    assert dict(part.range()) == expected
    stores.close()

    # changelog keys are the store's bytes (readable strings); an earlier version's pickled
    # (partition, key) entries still restore
    legacy = Producer({"bootstrap.servers": bootstrap})
    legacy.produce(topic, pickle.dumps(7), pickle.dumps((0, ("k9",))))
    assert legacy.flush(10) == 0
    stores, part = open_stores()
    assert stores.restore(bootstrap) == 1
    assert dict(part.range()) == expected | {("k9",): 7}
    stores.close()

    # the changelog is recreated empty (a lab reset): the checkpoint is past its end, the local
    # store is stale and wiped
    topics.delete_topic(topic)
    wait_for(lambda: not topics.exists(topic), message="topic deleted")
    stores, part = open_stores()
    assert stores.restore(bootstrap) == 0
    assert dict(part.range()) == {}
    stores.destroy()
    assert not os.path.exists(stores.directory)
    topics.close()


def _pull(url: str, sql: str) -> list:
    status, _, text = post(url, "/query", {"ksql": sql})
    assert status == 200, text
    return sorted(tuple(row["row"]["columns"]) for row in json.loads(text)[1:])


def _restored(ksql: KsqlProcess, query_id: str) -> int:
    """The entries the last start restored for the query (from the server's log)."""
    with open(ksql.log_path) as f:
        found = re.findall(rf"query {query_id}: restored (\d+) state entries", f.read())
    return int(found[-1])


def _checkpointed(app_dir: str) -> int:
    """The changelog offsets (all partitions) the query's checkpoint covers."""
    try:
        return sum(OffsetCheckpoint(os.path.join(app_dir, ".checkpoint")).read().values())
    except CheckpointError:
        return -1


def _wait_committed(bootstrap: str, group: str, count: int) -> None:
    """Until both sub-topologies of the GROUP BY committed ``count`` records: the one reading
    the source and the aggregation reading its repartition topic."""
    for topic in ("visits", f"{group}-Aggregate-GroupBy-repartition"):
        wait_for(lambda t=topic: committed(bootstrap, group, t, 2) == count, message=topic)


def _clicks(start: int, stop: int, pages=("home", "cart", "shop")):
    return [
        (i.to_bytes(4, "big"), json.dumps({"PAGE": pages[i % 3]}).encode())
        for i in range(start, stop)
    ]


def test_killed_or_wiped_engine_restores_its_table_and_counts_on(kafka, tmp_path):
    with KsqlProcess(str(tmp_path / "ksql"), kafka.bootstrap) as ksql:
        ksql_ok(
            ksql.url,
            "CREATE STREAM VISITS (ID INT KEY, PAGE STRING) WITH (KAFKA_TOPIC='visits', "
            "VALUE_FORMAT='JSON', PARTITIONS=2);"
            "CREATE TABLE VISITS_PER_PAGE AS SELECT PAGE, COUNT(*) AS N FROM VISITS "
            "GROUP BY PAGE;",
            {"ksql.streams.auto.offset.reset": "earliest"},
        )
        [queries] = ksql_ok(ksql.url, "SHOW QUERIES;")
        [query_id] = [q["id"] for q in queries["queries"] if q["sinks"] == ["VISITS_PER_PAGE"]]
        group = f"_confluent-ksql-default_query_{query_id}"
        changelog = f"{group}-{STORE}-changelog"
        app_dir = os.path.join(ksql.work_dir, "data", group)

        produce(kafka.bootstrap, "visits", _clicks(0, 30))
        _wait_committed(kafka.bootstrap, group, 30)
        before = _pull(ksql.url, "SELECT * FROM VISITS_PER_PAGE;")
        assert before == [("cart", 10), ("home", 10), ("shop", 10)]
        assert os.path.isdir(os.path.join(app_dir, STORE))
        assert _cleanup_policy(kafka.bootstrap, changelog) == "compact"
        assert topic_size(kafka.bootstrap, changelog) == 30
        # written after the commit: wait for it, so the kill below cannot fall in between
        wait_for(lambda: _checkpointed(app_dir) == 30, message="checkpoint")

        ksql.kill()  # kill -9 after the commit: the checkpoint covers the whole changelog
        ksql.start()
        assert _pull(ksql.url, "SELECT * FROM VISITS_PER_PAGE;") == before
        assert _restored(ksql, query_id) == 0

        ksql.kill()
        shutil.rmtree(app_dir)  # the local state is gone: restored from the changelog
        ksql.start()
        assert _pull(ksql.url, "SELECT * FROM VISITS_PER_PAGE;") == before
        assert 3 <= _restored(ksql, query_id) <= 30  # each key once at least (if compacted)

        produce(kafka.bootstrap, "visits", _clicks(30, 36))
        _wait_committed(kafka.bootstrap, group, 36)
        # counted on from the restored state: no update lost, none counted twice
        after = _pull(ksql.url, "SELECT * FROM VISITS_PER_PAGE;")
        assert after == [("cart", 12), ("home", 12), ("shop", 12)]
        assert topic_size(kafka.bootstrap, changelog) == 36


def test_exactly_once_checkpoints_only_on_a_clean_close(kafka, tmp_path):
    bootstrap = kafka.bootstrap
    topics = KafkaTopicStore(bootstrap)
    producer = Producer({"bootstrap.servers": bootstrap})
    state_dir = str(tmp_path / "state")

    def open_stores():
        return _open_stores("eos_", "CTAS_E_1", state_dir, producer, topics, exactly_once=True)

    stores, part = open_stores()
    checkpoint = os.path.join(stores.directory, ".checkpoint")
    assert stores.restore(bootstrap) == 0
    for i in range(5):
        part.put((i,), i)
    assert producer.flush(10) == 0
    stores.checkpoint()  # after a commit: not under exactly-once
    assert not os.path.exists(checkpoint)
    for store in stores.stores.values():
        store.close()  # a crash: the stores may hold aborted writes, so they are rebuilt
    stores, part = open_stores()
    part.restore((99,), "aborted")  # in the store, not in the committed changelog
    assert stores.restore(bootstrap) == 5
    assert dict(part.range()) == {(i,): i for i in range(5)}

    part.put((5,), 5)
    assert producer.flush(10) == 0
    stores.checkpoint()
    stores.close()  # clean, nothing uncommitted: the checkpoint is written
    assert os.path.exists(checkpoint)
    stores, part = open_stores()
    assert stores.restore(bootstrap) == 0
    assert not os.path.exists(checkpoint)  # removed while the query runs
    assert dict(part.range()) == {(i,): i for i in range(6)}
    stores.destroy()
    topics.close()


def test_restore_skips_changelog_records_that_are_not_state_entries(kafka, tmp_path, caplog):
    """A changelog is a topic anyone with access can write to: bytes that are no state value,
    or a pickle that would run code, are skipped with a warning; the rest restores. (A record
    with no key cannot get there: a compacted topic refuses it.)"""
    import logging

    from tests.ksql.test_state_values import _Exploit

    bootstrap = kafka.bootstrap
    topics = KafkaTopicStore(bootstrap)
    producer = Producer({"bootstrap.servers": bootstrap})
    state_dir = str(tmp_path / "state")

    def open_stores():
        return _open_stores("foreign_", "CTAS_F_1", state_dir, producer, topics)

    stores, part = open_stores()
    assert stores.restore(bootstrap) == 0
    part.put(("a",), 1)
    topic = changelog_topic("foreign_", "CTAS_F_1", STORE)
    pwned = tmp_path / "pwned"
    producer.produce(topic, b"not a state value", part._key(("b",)))
    producer.produce(topic, pickle.dumps(_Exploit(str(pwned))), part._key(("c",)))
    part.put(("d",), 4)
    assert producer.flush(10) == 0
    assert topic_size(bootstrap, topic) == 4
    stores.destroy()

    stores, part = open_stores()
    with caplog.at_level(logging.WARNING, logger="streamlab.ksql.kafka_runtime.state"):
        assert stores.restore(bootstrap) == 2
    assert dict(part.range()) == {("a",): 1, ("d",): 4}
    assert not pwned.exists()
    skipped = [r.getMessage() for r in caplog.records if "not a state entry" in r.getMessage()]
    assert [m.split("@")[1].split(",")[0] for m in skipped] == ["1", "2"]
    assert "may not hold posix.system" in skipped[1]
    stores.destroy()
    topics.close()
