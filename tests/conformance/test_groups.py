"""Consumer groups (classic protocol): subscribe, rebalance, commits, restart, eviction, lag."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from confluent_kafka import OFFSET_INVALID, KafkaError, TopicCollection
from confluent_kafka import TopicPartition as TP
from conformance_helpers import poll_n, result, unique, wait_for


def _owned(consumer) -> set[int]:
    return {tp.partition for tp in consumer.assignment()}


def _pump(*consumers) -> None:
    """Serve rebalance callbacks and heartbeats-driven events; no records expected here."""
    for c in consumers:
        m = c.poll(0.05)
        if m is not None and m.error():
            pytest.fail(f"consumer error: {m.error()}")


def _wait_owns(consumer, partitions: set[int], *others, timeout: float = 30) -> None:
    def owns() -> bool:
        _pump(consumer, *others)
        return _owned(consumer) == partitions

    wait_for(owns, timeout, what=f"consumer to own partitions {sorted(partitions)}")


def test_subscribe_reads_every_partition(kafka):
    topic = kafka.create_topic(partitions=3)
    kafka.produce(topic, [{"value": b"%d" % i, "partition": i % 3} for i in range(30)])
    c = kafka.consumer()
    c.subscribe([topic])
    msgs = poll_n(c, 30, timeout=30)
    assert sorted(int(m.value()) for m in msgs) == list(range(30))
    assert _owned(c) == {0, 1, 2}


@pytest.mark.parametrize("strategy", ["range", "roundrobin", "cooperative-sticky"])
def test_rebalance_between_two_members(kafka, strategy):
    topic = kafka.create_topic(partitions=4)
    group = unique("g")
    conf = {"partition.assignment.strategy": strategy}
    c1 = kafka.consumer(conf, group=group)
    c1.subscribe([topic])
    _wait_owns(c1, {0, 1, 2, 3})

    c2 = kafka.consumer(conf, group=group)
    c2.subscribe([topic])

    def split() -> bool:
        _pump(c1, c2)
        a1, a2 = _owned(c1), _owned(c2)
        return len(a1) == len(a2) == 2 and a1 | a2 == {0, 1, 2, 3}

    wait_for(split, 30, what="two members with two partitions each")
    # each member reads exactly its own partitions
    kafka.produce(topic, [{"value": b"%d" % p, "partition": p} for p in range(4)])
    for c in (c1, c2):
        got = {m.partition() for m in poll_n(c, 2, timeout=20)}
        assert got == _owned(c)

    c2.close()  # LeaveGroup: c1 takes everything back without waiting for a session timeout
    _wait_owns(c1, {0, 1, 2, 3})


def test_commit_and_committed(kafka):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"%d" % i for i in range(10)])
    group = unique("g")
    c = kafka.consumer(group=group)
    c.subscribe([topic])
    msgs = poll_n(c, 10)
    assert c.position([TP(topic, 0)])[0].offset == 10

    c.commit(message=msgs[4], asynchronous=False)  # commits the next offset to read: 5
    assert c.committed([TP(topic, 0)], timeout=10)[0].offset == 5

    c.commit(offsets=[TP(topic, 0, 7, "note")], asynchronous=False)
    [tp] = c.committed([TP(topic, 0)], timeout=10)
    assert (tp.offset, tp.metadata) == (7, "note")

    # any client of the group sees it; another group has nothing committed
    assert kafka.consumer(group=group).committed([TP(topic, 0)], timeout=10)[0].offset == 7
    assert kafka.consumer().committed([TP(topic, 0)], timeout=10)[0].offset == OFFSET_INVALID


def test_restart_resumes_from_committed_offset(kafka):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"%d" % i for i in range(10)])
    group = unique("g")
    c = kafka.consumer(group=group)
    c.subscribe([topic])
    msgs = poll_n(c, 4)
    c.commit(message=msgs[3], asynchronous=False)
    c.close()

    c = kafka.consumer(group=group)
    c.subscribe([topic])
    assert [m.offset() for m in poll_n(c, 6)] == [4, 5, 6, 7, 8, 9]
    c.close()

    # auto-commit: close() commits what was consumed
    c = kafka.consumer({"enable.auto.commit": True}, group=group)
    c.subscribe([topic])
    poll_n(c, 6)
    c.close()
    assert kafka.consumer(group=group).committed([TP(topic, 0)], timeout=10)[0].offset == 10


def test_lag_is_end_minus_committed(kafka):
    topic = kafka.create_topic(partitions=2)
    kafka.produce(topic, [{"value": b"x", "partition": 0 if i < 6 else 1} for i in range(10)])
    group = unique("g")
    c = kafka.consumer(group=group)
    c.subscribe([topic])
    poll_n(c, 10)
    c.commit(offsets=[TP(topic, 0, 2), TP(topic, 1, 4)], asynchronous=False)
    lag = {}
    for tp in c.committed([TP(topic, 0), TP(topic, 1)], timeout=10):
        _, end = c.get_watermark_offsets(tp, timeout=10)
        lag[tp.partition] = end - tp.offset
    assert lag == {0: 4, 1: 0}


def test_offsets_topic_is_internal(kafka):
    """Committed offsets live in the internal __consumer_offsets topic, which every topic
    listing shows once a group has committed."""
    topic = kafka.create_topic()
    c = kafka.consumer()
    c.commit(offsets=[TP(topic, 0, 0)], asynchronous=False)
    assert "__consumer_offsets" in kafka.topic_names()
    futs = kafka.admin.describe_topics(TopicCollection(["__consumer_offsets"]))
    assert result(futs["__consumer_offsets"]).is_internal


def test_invalid_session_timeout(kafka):
    """group.min.session.timeout.ms is 6000 on both systems."""
    topic = kafka.create_topic()
    c = kafka.consumer({"session.timeout.ms": 3000, "heartbeat.interval.ms": 500})
    c.subscribe([topic])

    def error():
        m = c.poll(0.2)
        return m.error() if m is not None and m.error() else None

    assert wait_for(error, what="a JoinGroup error").code() == KafkaError.INVALID_SESSION_TIMEOUT


MEMBER = textwrap.dedent(
    """
    import json, sys
    from confluent_kafka import Consumer
    c = Consumer(json.loads(sys.argv[1]))
    c.subscribe([sys.argv[2]])
    told = False
    while True:
        c.poll(0.1)
        if c.assignment() and not told:
            print("assigned", flush=True)
            told = True
    """
)


def test_session_timeout_evicts_silent_member(kafka):
    """A member killed with SIGKILL never sends LeaveGroup: the coordinator must notice the
    missing heartbeats after session.timeout.ms and give its partitions to the survivor."""
    topic = kafka.create_topic(partitions=4)
    group = unique("g")
    conf = kafka.conf({"group.id": group, "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    member = subprocess.Popen(
        [sys.executable, "-c", MEMBER, json.dumps(conf), topic],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert member.stdout.readline().strip() == "assigned"
        c = kafka.consumer(group=group)
        c.subscribe([topic])

        def has_half() -> bool:
            _pump(c)
            return len(_owned(c)) == 2

        wait_for(has_half, 30, what="the survivor to get half of the partitions")
        member.kill()
        member.wait()
        _wait_owns(c, {0, 1, 2, 3}, timeout=40)
    finally:
        member.kill()
        member.wait()
