"""Transactions across broker crashes and timeouts (emulator only: these need kill -9 on the
broker and a short abort interval; the conformance suite covers the protocol on both systems).

Each test starts its own emulated cluster. Waits are condition polls, never timing asserts.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from streamlab.kafka.testing import ClusterProcess

pytestmark = pytest.mark.timeout(120)
BUG_LINES = re.compile(r"internal error|Traceback|Task exception was never retrieved")
TXN_TIMEOUT = 30


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(cond, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def start(tmp_path, *extra: str) -> ClusterProcess:
    # Small internal topics keep start-up and recovery quick.
    args = ("--transaction-topic-partitions", "3", "--offsets-topic-partitions", "3", *extra)
    return ClusterProcess(str(tmp_path / "kafka"), extra_args=args).start()


@pytest.fixture
def clients():
    made: list = []
    yield made
    for c in made:
        try:
            c.close() if isinstance(c, KafkaConsumer) else c.flush(1)
        except Exception:
            pass


def assert_no_bug_lines(cluster: ClusterProcess) -> None:
    with open(cluster.log_path, errors="replace") as f:
        bugs = [line for line in f if BUG_LINES.search(line)]
    assert not bugs, "".join(bugs)


def create_topic(cluster: ClusterProcess) -> str:
    name = unique("t")
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    admin.create_topics([NewTopic(name, 1)])[name].result(30)
    return name


def txn_producer(cluster, clients, txn_id: str, **conf) -> Producer:
    p = Producer({"bootstrap.servers": cluster.bootstrap, "transactional.id": txn_id, **conf})
    clients.append(p)
    p.init_transactions(TXN_TIMEOUT)
    return p


def read_all(cluster, clients, topic: str, isolation: str) -> list[bytes]:
    c = KafkaConsumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": unique("reader"),
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
            break
        out.append(m.value())
    c.close()
    return out


def end_offset(cluster, topic: str, committed: bool) -> int:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    tp = TopicPartition(topic, 0)
    return (
        admin.list_offsets({tp: OffsetSpec.latest()}, isolation_level=level)[tp].result(30).offset
    )


def group_offset(cluster, group: str, topic: str) -> int:
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])
    return admin.list_consumer_group_offsets([req])[group].result(30).topic_partitions[0].offset


def test_open_transaction_survives_kill_9_and_commits_after_restart(tmp_path, clients):
    """The coordinator reloads the Ongoing transaction from __transaction_state and the logs
    their open transaction, so the same producer can still commit it, offsets included."""
    cluster = start(tmp_path)
    try:
        source, sink = create_topic(cluster), create_topic(cluster)
        group = unique("g")
        consumer = KafkaConsumer(
            {
                "bootstrap.servers": cluster.bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
            }
        )
        clients.append(consumer)
        p = txn_producer(cluster, clients, unique("tx"))
        p.begin_transaction()
        p.produce(sink, b"one")
        p.produce(sink, b"two")
        p.send_offsets_to_transaction(
            [TopicPartition(source, 0, 42)], consumer.consumer_group_metadata(), TXN_TIMEOUT
        )
        p.flush()
        cluster.restart(hard=True)
        assert end_offset(cluster, sink, committed=True) == 0  # still open after the crash
        assert read_all(cluster, clients, sink, "read_uncommitted") == [b"one", b"two"]
        assert group_offset(cluster, group, source) < 0
        p.commit_transaction(TXN_TIMEOUT)
        assert read_all(cluster, clients, sink, "read_committed") == [b"one", b"two"]
        assert group_offset(cluster, group, source) == 42
        cluster.restart(hard=True)  # and the committed offset is in __consumer_offsets
        assert group_offset(cluster, group, source) == 42
        assert end_offset(cluster, sink, committed=True) == 3
    finally:
        cluster.stop()
    assert_no_bug_lines(cluster)


def test_new_producer_aborts_a_transaction_left_open_by_a_crash(tmp_path, clients):
    cluster = start(tmp_path)
    try:
        topic = create_topic(cluster)
        txn_id = unique("tx")
        old = txn_producer(cluster, clients, txn_id)
        old.begin_transaction()
        old.produce(topic, b"lost")
        old.flush()
        cluster.restart(hard=True)
        new = txn_producer(cluster, clients, txn_id)
        new.begin_transaction()
        new.produce(topic, b"kept")
        new.commit_transaction(TXN_TIMEOUT)
        assert read_all(cluster, clients, topic, "read_committed") == [b"kept"]
        assert read_all(cluster, clients, topic, "read_uncommitted") == [b"lost", b"kept"]
        with pytest.raises(KafkaException) as e:
            old.commit_transaction(TXN_TIMEOUT)
        assert e.value.args[0].fatal()
    finally:
        cluster.stop()
    assert_no_bug_lines(cluster)


def test_transaction_timeout_aborts_and_fences(tmp_path, clients):
    """transaction.timeout.ms passes with the transaction open: the coordinator aborts it
    (ABORT markers, epoch bumped), read_committed moves past it, the producer is fenced."""
    cluster = start(tmp_path, "--transaction-abort-interval-ms", "100")
    try:
        topic = create_topic(cluster)
        p = txn_producer(
            cluster,
            clients,
            unique("tx"),
            # long enough for the check below to come first even on a loaded machine
            **{"transaction.timeout.ms": 5000, "socket.timeout.ms": 5000},
        )
        p.begin_transaction()
        p.produce(topic, b"too slow")
        p.flush()
        assert end_offset(cluster, topic, committed=True) == 0  # open: nothing is stable yet
        wait_for(
            lambda: end_offset(cluster, topic, committed=True) == 2,
            what="the timed-out transaction to be aborted",
        )
        assert read_all(cluster, clients, topic, "read_committed") == []
        assert read_all(cluster, clients, topic, "read_uncommitted") == [b"too slow"]
        with pytest.raises(KafkaException):
            p.commit_transaction(TXN_TIMEOUT)
    finally:
        cluster.stop()
    assert_no_bug_lines(cluster)
