"""Classic consumer groups and committed offsets against real librdkafka clients.

Each test starts its own emulated cluster (``ClusterProcess``). Waits are condition polls with
generous deadlines, never timing assertions. Small client timeouts (session 6 s, heartbeat
0.5 s) keep rebalances quick.
"""

from __future__ import annotations

import io
import re
import socket
import struct
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType
from kio.index import load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.serial import entity_reader, entity_writer

from streamlab.kafka.coordinator import records
from streamlab.kafka.coordinator.records import OFFSETS_TOPIC, GroupKey, OffsetKey
from streamlab.kafka.protocol.entities import make
from streamlab.kafka.testing import ClusterProcess

pytestmark = pytest.mark.timeout(120)
BUG_LINES = re.compile(r"internal error|Traceback|Task exception was never retrieved")

FAST = {
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
    "max.poll.interval.ms": 10000,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
    "topic.metadata.refresh.interval.ms": 1000,
}


@pytest.fixture
def cluster(tmp_path):
    with ClusterProcess(str(tmp_path / "kafka")) as c:
        yield c
    assert_no_bug_lines(c)


def assert_no_bug_lines(cluster: ClusterProcess) -> None:
    """Whatever the clients did, the broker log shows no traceback."""
    with open(cluster.log_path, errors="replace") as f:
        bugs = [line for line in f if BUG_LINES.search(line)]
    assert not bugs, "".join(bugs)


@pytest.fixture
def admin(cluster):
    return AdminClient({"bootstrap.servers": cluster.bootstrap})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(admin: AdminClient, partitions: int, replication_factor: int = 1) -> str:
    name = unique("t")
    for f in admin.create_topics([NewTopic(name, partitions, replication_factor)]).values():
        f.result(15)
    return name


def produce(cluster, topic: str, values: list[bytes], partitions: int) -> None:
    p = Producer({"bootstrap.servers": cluster.bootstrap})
    for i, v in enumerate(values):
        p.produce(topic, v, partition=i % partitions)
    assert p.flush(15) == 0


def consumer(cluster, group: str, **extra) -> KafkaConsumer:
    return KafkaConsumer(
        {"bootstrap.servers": cluster.bootstrap, "group.id": group, **FAST, **extra}
    )


def assigned(c: KafkaConsumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


def wait_until(condition, consumers=(), timeout: float = 45.0, what: str = "condition"):
    """Poll the consumers (rebalances only progress inside poll) until ``condition()``;
    returns the messages polled meanwhile."""
    messages = []
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if not consumers:
            time.sleep(0.1)
        for c in consumers:
            m = c.poll(0.1)
            if m is not None and not m.error():
                messages.append(m)
    return messages


def consume(consumers, n: int, what: str = "messages") -> list:
    got: list = []
    deadline = time.monotonic() + 45
    while len(got) < n:
        assert time.monotonic() < deadline, f"got {len(got)} of {n} {what}"
        for c in consumers:
            m = c.poll(0.1)
            if m is not None and not m.error():
                got.append(m)
    return got


def describe(admin: AdminClient, group: str):
    return admin.describe_consumer_groups([group])[group].result(15)


def committed_offsets(admin: AdminClient, group: str) -> dict[tuple[str, int], int]:
    request = [ConsumerGroupTopicPartitions(group)]
    result = admin.list_consumer_group_offsets(request)[group].result(15)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions}


# --- membership ---------------------------------------------------------------------------------


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_second_consumer_splits_partitions_and_closing_hands_them_back(cluster, admin, assignor):
    topic, group = create_topic(admin, 4), unique("g")
    produce(cluster, topic, [b"old-%d" % i for i in range(40)], 4)
    c1 = consumer(cluster, group, **{"partition.assignment.strategy": assignor})
    c1.subscribe([topic])
    assert len(consume([c1], 40)) == 40
    c1.commit(asynchronous=False)

    c2 = consumer(cluster, group, **{"partition.assignment.strategy": assignor})
    c2.subscribe([topic])
    stray = wait_until(
        lambda: len(assigned(c1)) == 2 and len(assigned(c2)) == 2,
        [c1, c2],
        what="a 2/2 split",
    )
    assert not stray  # committed records are not delivered again after the rebalance
    assert assigned(c1) | assigned(c2) == {0, 1, 2, 3}
    d = describe(admin, group)
    assert d.state == ConsumerGroupState.STABLE and len(d.members) == 2
    assert d.partition_assignor == assignor

    # The newcomer starts from the committed offsets: only new records show up.
    produce(cluster, topic, [b"new-%d" % i for i in range(8)], 4)
    fresh = consume([c1, c2], 8)
    assert sorted(m.value() for m in fresh) == sorted(b"new-%d" % i for i in range(8))

    c2.close()  # LeaveGroup: the survivor gets everything back without waiting for a timeout
    wait_until(lambda: assigned(c1) == {0, 1, 2, 3}, [c1], what="partitions handed back")
    c1.close()
    assert describe(admin, group).state == ConsumerGroupState.EMPTY


CHILD = """
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], **eval(sys.argv[4])})
c.subscribe([sys.argv[3]])
while True:
    c.poll(0.2)
"""


def test_killed_consumer_is_evicted_after_session_timeout(cluster, admin, tmp_path):
    topic, group = create_topic(admin, 4), unique("g")
    with open(tmp_path / "child.log", "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, cluster.bootstrap, group, topic, repr(FAST)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        c1 = consumer(cluster, group)
        c1.subscribe([topic])
        wait_until(
            lambda: (
                len(assigned(c1)) == 2 and describe(admin, group).state == ConsumerGroupState.STABLE
            ),
            [c1],
            what="two members sharing the partitions",
        )
        child.kill()  # SIGKILL: no LeaveGroup, heartbeats just stop
        child.wait()
        wait_until(lambda: assigned(c1) == {0, 1, 2, 3}, [c1], what="the dead member's partitions")
        [snapshot] = [g for g in cluster.api("/api/groups") if g["group_id"] == group]
        [survivor] = snapshot["members"]
        assert {p for a in survivor["assignment"] for p in a["partitions"]} == {0, 1, 2, 3}
        c1.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# --- offsets and restarts -----------------------------------------------------------------------


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_committed_offsets_survive_a_restart(cluster, admin, hard):
    topic, group = create_topic(admin, 2), unique("g")
    produce(cluster, topic, [b"%d" % i for i in range(10)], 2)
    c = consumer(cluster, group)
    c.subscribe([topic])
    consume([c], 10)
    c.commit(asynchronous=False)  # acknowledged: must survive even kill -9
    c.close()
    cluster.restart(hard=hard)

    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    assert committed_offsets(admin, group) == {(topic, 0): 5, (topic, 1): 5}
    d = describe(admin, group)
    assert d.state == ConsumerGroupState.EMPTY  # members do not survive a restart
    produce(cluster, topic, [b"after"] * 2, 2)
    c = consumer(cluster, group)
    c.subscribe([topic])
    assert [m.value() for m in consume([c], 2)] == [b"after", b"after"]
    tps = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=15)
    assert [tp.offset for tp in tps] == [5, 5]
    c.close()


def test_consumer_rejoins_after_broker_restart(cluster, admin):
    """The broker forgets members on a restart; librdkafka is told UNKNOWN_MEMBER_ID and joins
    again with a new id."""
    topic, group = create_topic(admin, 1), unique("g")
    c = consumer(cluster, group)
    c.subscribe([topic])
    wait_until(lambda: assigned(c) == {0}, [c], what="assignment")
    old = describe(admin, group).members[0].member_id
    cluster.restart(hard=True)
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    produce(cluster, topic, [b"x"], 1)
    assert consume([c], 1)[0].value() == b"x"
    wait_until(
        lambda: describe(admin, group).state == ConsumerGroupState.STABLE, [c], what="rejoin"
    )
    assert describe(admin, group).members[0].member_id != old
    c.close()


# --- the __consumer_offsets topic ---------------------------------------------------------------


def read_offsets_topic(cluster, partitions: int) -> list[tuple[int, object, object]]:
    """Every record of __consumer_offsets, read by a plain consumer (no group join) and decoded
    with the coordinator's decoder: (partition, key, value or None for a tombstone)."""
    c = KafkaConsumer({"bootstrap.servers": cluster.bootstrap, "group.id": unique("peek"), **FAST})
    ends = {
        p: c.get_watermark_offsets(TopicPartition(OFFSETS_TOPIC, p), timeout=15)[1]
        for p in range(partitions)
    }
    c.assign([TopicPartition(OFFSETS_TOPIC, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = consume([c], sum(ends.values()), "__consumer_offsets records")
    c.close()
    return [(m.partition(), *records.decode_record(m.key(), m.value())) for m in got]


def test_offsets_live_in_the_internal_topic_as_kafka_records(tmp_path):
    args = ("--offsets-topic-partitions", "3")
    with ClusterProcess(str(tmp_path / "kafka"), extra_args=args) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        topic, group = create_topic(admin, 2), unique("g")
        assert OFFSETS_TOPIC not in admin.list_topics(timeout=15).topics
        produce(cluster, topic, [b"%d" % i for i in range(4)], 2)
        c = consumer(cluster, group)
        c.subscribe([topic])
        consume([c], 4)
        half = [TopicPartition(topic, 0, 2, "half"), TopicPartition(topic, 1, 2)]
        c.commit(offsets=half, asynchronous=False)
        c.close()

        md = admin.list_topics(timeout=15).topics[OFFSETS_TOPIC]
        assert len(md.partitions) == 3
        [desc] = admin.describe_topics(TopicCollection([OFFSETS_TOPIC])).values()
        assert desc.result(15).is_internal
        res = ConfigResource(ResourceType.TOPIC, OFFSETS_TOPIC)
        configs = admin.describe_configs([res])[res].result(15)
        assert configs["cleanup.policy"].value == "compact"
        [listed] = [t for t in cluster.api("/api/topics") if t["name"] == OFFSETS_TOPIC]
        assert listed["internal"] and listed["partitions"] == 3

        # A lesson peeks at it: Kafka's keys and values, in the group's partition.
        cluster.restart(hard=True)  # kill -9 right after the acknowledged commit
        found = read_offsets_topic(cluster, 3)
        home = records.partition_for(group, 3)
        assert {p for p, k, _ in found if k.group == group} == {home}
        offsets = {k: v for _, k, v in found if isinstance(k, OffsetKey) and k.group == group}
        value = offsets[OffsetKey(group, topic, 0)]
        assert (value.offset, value.metadata.rstrip("\0")) == (2, "half")
        assert offsets[OffsetKey(group, topic, 1)].offset == 2
        groups = [v for _, k, v in found if k == GroupKey(group)]
        # created (generation 0), assigned (1, one member), emptied by the close (2)
        assert [(v.generation, len(v.members)) for v in groups] == [(0, 0), (1, 1), (2, 0)]
        assert groups[1].protocol == "range"

        # ... and the restarted broker replayed it.
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        assert committed_offsets(admin, group) == {(topic, 0): 2, (topic, 1): 2}

        # Clients cannot write to it, nor trim it (Kafka: INVALID_TOPIC_EXCEPTION).
        reports = []
        p = Producer({"bootstrap.servers": cluster.bootstrap})
        p.produce(OFFSETS_TOPIC, b"x", b"k", 0, on_delivery=lambda e, m: reports.append(e))
        p.flush(15)
        assert [e.code() for e in reports] == [KafkaError.TOPIC_EXCEPTION]
        [trim] = admin.delete_records([TopicPartition(OFFSETS_TOPIC, home, 0)]).values()
        with pytest.raises(KafkaException) as e:
            trim.result(15)
        assert e.value.args[0].code() == KafkaError.TOPIC_EXCEPTION

        # Deleting a topic writes tombstones for its committed offsets.
        admin.delete_topics([topic])[topic].result(15)
        tombstones = {k for _, k, v in read_offsets_topic(cluster, 3) if v is None}
        assert tombstones == {OffsetKey(group, topic, 0), OffsetKey(group, topic, 1)}
    assert_no_bug_lines(cluster)


def test_offsets_topic_auto_created_by_metadata_is_the_internal_one(cluster, admin):
    """Kafka's AutoTopicCreationManager creates __consumer_offsets with its own settings, never
    as an ordinary topic; so does a producer's Metadata request here."""
    wire = Wire(cluster)
    request_topic = nested(3, 12, "MetadataRequestTopic", name=OFFSETS_TOPIC, topic_id=None)
    [first] = wire.call(3, 12, topics=(request_topic,), allow_auto_topic_creation=True).topics
    assert first.error_code == ErrorCode.unknown_topic_or_partition  # created; ask again
    md = admin.list_topics(OFFSETS_TOPIC, timeout=15).topics[OFFSETS_TOPIC]
    assert len(md.partitions) == 50  # offsets.topic.num.partitions
    res = ConfigResource(ResourceType.TOPIC, OFFSETS_TOPIC)
    assert admin.describe_configs([res])[res].result(15)["cleanup.policy"].value == "compact"


def test_deleting_the_offsets_topic_forgets_committed_offsets(cluster, admin):
    """Kafka 4.1 lets an admin delete __consumer_offsets; the offsets are gone and the next
    group operation creates the topic again."""
    topic, group = create_topic(admin, 1), unique("g")
    c = consumer(cluster, group)
    c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    admin.delete_topics([OFFSETS_TOPIC])[OFFSETS_TOPIC].result(15)
    assert committed_offsets(admin, group) == {}
    c.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
    assert committed_offsets(admin, group) == {(topic, 0): 3}
    assert OFFSETS_TOPIC in admin.list_topics(timeout=15).topics
    c.close()


# --- admin ----------------------------------------------------------------------------------------


def test_admin_group_operations(cluster, admin):
    topic, group = create_topic(admin, 2), unique("g")
    produce(cluster, topic, [b"%d" % i for i in range(6)], 2)
    c = consumer(cluster, group, **{"client.id": "lesson-consumer"})
    c.subscribe([topic])
    consume([c], 6)
    c.commit(asynchronous=False)

    listed = admin.list_consumer_groups(states={ConsumerGroupState.STABLE}).result(15)
    [mine] = [g for g in listed.valid if g.group_id == group]
    assert mine.state == ConsumerGroupState.STABLE and not mine.is_simple_consumer_group
    d = describe(admin, group)
    [member] = d.members
    assert member.client_id == "lesson-consumer" and member.host == "/127.0.0.1"
    assert sorted(tp.partition for tp in member.assignment.topic_partitions) == [0, 1]
    assert committed_offsets(admin, group) == {(topic, 0): 3, (topic, 1): 3}

    with pytest.raises(KafkaException) as e:
        admin.delete_consumer_groups([group])[group].result(15)
    assert e.value.args[0].code() == KafkaError.NON_EMPTY_GROUP

    c.close()
    listed = admin.list_consumer_groups(states={ConsumerGroupState.EMPTY}).result(15)
    assert group in [g.group_id for g in listed.valid]

    # Rewind partition 0 (an admin "simple" commit), then look at the lag the broker reports.
    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 1)])]
    admin.alter_consumer_group_offsets(request)[group].result(15)
    assert committed_offsets(admin, group) == {(topic, 0): 1, (topic, 1): 3}
    [snapshot] = [g for g in cluster.api("/api/groups") if g["group_id"] == group]
    assert snapshot["state"] == "Empty" and snapshot["lag"] == 2
    assert [(o["partition"], o["committed"], o["end_offset"]) for o in snapshot["offsets"]] == [
        (0, 1, 3),
        (1, 3, 3),
    ]

    ghost = unique("ghost")
    results = admin.delete_consumer_groups([group, ghost])
    results[group].result(15)
    with pytest.raises(KafkaException) as e:
        results[ghost].result(15)
    assert e.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND
    assert group not in [g.group_id for g in admin.list_consumer_groups().result(15).valid]
    assert committed_offsets(admin, group) == {}


def test_groups_move_when_their_coordinator_stops(tmp_path):
    with ClusterProcess(str(tmp_path / "kafka"), brokers=3) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        # Three replicas: the stopped broker's partitions move instead of going offline.
        topic, group = create_topic(admin, 3, replication_factor=3), unique("g")
        produce(cluster, topic, [b"before"] * 3, 3)
        c = consumer(cluster, group)
        c.subscribe([topic])
        consume([c], 3)
        c.commit(asynchronous=False)
        first = describe(admin, group).coordinator.id
        cluster.api(f"/api/brokers/{first}/stop", method="POST")

        produce(cluster, topic, [b"after"] * 3, 3)
        assert [m.value() for m in consume([c], 3)] == [b"after"] * 3
        c.commit(asynchronous=False)  # NOT_COORDINATOR, FindCoordinator, then the new one
        # A fresh admin client: an old one keeps waiting for the coordinator it cached.
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        now = describe(admin, group).coordinator.id
        assert now != first
        assert committed_offsets(admin, group) == {(topic, p): 2 for p in range(3)}
        # Any other live broker refuses the group.
        [other] = {1, 2, 3} - {first, now}
        wire = Wire(cluster, other)
        beat = wire.call(12, 3, group_id=group, generation_id=1, member_id="m")
        assert beat.error_code == ErrorCode.not_coordinator
        [fetched] = wire.call(
            9, 9, groups=(nested(9, 9, "OffsetFetchRequestGroup", group_id=group, topics=None),)
        ).groups
        assert fetched.error_code == ErrorCode.not_coordinator
        c.close()
    assert_no_bug_lines(cluster)


# --- error paths on the wire ----------------------------------------------------------------------


class Wire:
    """A raw connection sending kio requests, for answers librdkafka would hide."""

    def __init__(self, cluster: ClusterProcess, node_id: int = 1) -> None:
        port = cluster.broker_ports()[node_id]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.correlation_id = 0

    def call(self, api_key: int, version: int, /, **fields):
        req = make(load_request_schema(api_key, version), **fields)
        self.correlation_id += 1
        buf = io.BytesIO()
        header_cls = req.__header_schema__
        entity_writer(header_cls)(
            buf,
            header_cls(
                request_api_key=api_key,
                request_api_version=version,
                correlation_id=self.correlation_id,
                client_id="wire-test",
            ),
        )
        entity_writer(type(req))(buf, req)
        self.sock.sendall(struct.pack(">i", len(buf.getvalue())) + buf.getvalue())
        size = struct.unpack(">i", self._read(4))[0]
        data = self._read(size)
        cls = load_response_schema(api_key, version)
        header, used = entity_reader(cls.__header_schema__)(data, 0)
        assert header.correlation_id == self.correlation_id
        return entity_reader(cls)(data, used)[0]

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "broker closed the connection"
            data += chunk
        return data


def test_error_codes_on_the_wire(cluster, admin):
    topic, group = create_topic(admin, 1), unique("g")
    wire = Wire(cluster)

    join_fields = {
        "group_id": group,
        "rebalance_timeout": timedelta(seconds=10),
        "protocol_type": "consumer",
        "protocols": (nested(11, 5, "JoinGroupRequestProtocol", name="range", metadata=b""),),
    }
    short = wire.call(11, 5, member_id="", session_timeout=timedelta(seconds=1), **join_fields)
    assert short.error_code == ErrorCode.invalid_session_timeout
    first = wire.call(11, 5, member_id="", session_timeout=timedelta(seconds=6), **join_fields)
    assert first.error_code == ErrorCode.member_id_required
    member = first.member_id
    assert member.startswith("wire-test-")
    joined = wire.call(11, 5, member_id=member, session_timeout=timedelta(seconds=6), **join_fields)
    assert (joined.error_code, joined.generation_id, joined.leader) == (ErrorCode.none, 1, member)
    synced = wire.call(14, 3, group_id=group, generation_id=1, member_id=member, assignments=())
    assert synced.error_code == ErrorCode.none

    def heartbeat(generation, member_id):
        return wire.call(
            12, 3, group_id=group, generation_id=generation, member_id=member_id
        ).error_code

    assert heartbeat(1, member) == ErrorCode.none
    assert heartbeat(0, member) == ErrorCode.illegal_generation
    assert heartbeat(1, "ghost") == ErrorCode.unknown_member_id

    commit = wire.call(
        8,
        9,
        group_id=group,
        generation_id_or_member_epoch=7,
        member_id=member,
        topics=(commit_topic(9, topic, 0, 5),),
    )
    assert commit.topics[0].partitions[0].error_code == ErrorCode.illegal_generation

    with pytest.raises(KafkaException) as e:
        admin.delete_consumer_groups([group])[group].result(15)
    assert e.value.args[0].code() == KafkaError.NON_EMPTY_GROUP

    assert wire.call(13, 1, group_id=group, member_id=member).error_code == ErrorCode.none
    assert heartbeat(1, member) == ErrorCode.unknown_member_id
    txn = wire.call(10, 2, key="some-txn", key_type=1)  # the transaction coordinator
    assert (txn.error_code, txn.node_id) == (ErrorCode.none, 1)
    admin.delete_consumer_groups([group])[group].result(15)


def nested(api_key: int, version: int, entity: str, /, **fields):
    """A nested request entity (e.g. "JoinGroupRequestProtocol") of one API version."""
    module = sys.modules[load_request_schema(api_key, version).__module__]
    return make(getattr(module, entity), **fields)


def commit_topic(version: int, topic: str, partition: int, offset: int):
    partitions = (
        nested(
            8,
            version,
            "OffsetCommitRequestPartition",
            partition_index=partition,
            committed_offset=offset,
            committed_metadata="",
        ),
    )
    return nested(8, version, "OffsetCommitRequestTopic", name=topic, partitions=partitions)


def test_other_request_versions(cluster, admin):
    """Versions librdkafka 2.16 does not send but other clients do: the oldest ones (single
    FindCoordinator key, JoinGroup without MEMBER_ID_REQUIRED, one-group OffsetFetch) and the
    newest (batched FindCoordinator and LeaveGroup, flexible JoinGroup/SyncGroup)."""
    topic, group = create_topic(admin, 1), unique("g")
    wire = Wire(cluster)
    [coordinator] = wire.call(10, 4, key_type=0, coordinator_keys=(group,)).coordinators
    assert (coordinator.key, coordinator.error_code, coordinator.node_id) == (
        group,
        ErrorCode.none,
        1,
    )
    assert wire.call(10, 0, key=group).node_id == 1

    protocol = nested(11, 0, "JoinGroupRequestProtocol", name="range", metadata=b"m")
    joined = wire.call(
        11,
        0,
        group_id=group,
        member_id="",
        session_timeout=timedelta(seconds=6),
        protocol_type="consumer",
        protocols=(protocol,),
    )
    assert (joined.error_code, joined.generation_id) == (ErrorCode.none, 1)
    member = joined.member_id
    synced = wire.call(14, 0, group_id=group, generation_id=1, member_id=member, assignments=())
    assert synced.error_code == ErrorCode.none
    assert wire.call(12, 0, group_id=group, generation_id=1, member_id=member).error_code == 0

    commit = wire.call(
        8,
        2,
        group_id=group,
        generation_id_or_member_epoch=1,
        member_id=member,
        topics=(commit_topic(2, topic, 0, 4),),
    )
    assert commit.topics[0].partitions[0].error_code == ErrorCode.none
    fetched = wire.call(
        9,
        1,
        group_id=group,
        topics=(nested(9, 1, "OffsetFetchRequestTopic", name=topic, partition_indexes=(0, 9)),),
    )
    assert [(p.partition_index, p.committed_offset) for p in fetched.topics[0].partitions] == [
        (0, 4),
        (9, -1),
    ]
    everything = wire.call(9, 7, group_id=group, topics=None)
    assert everything.error_code == ErrorCode.none
    assert [(t.name, p.committed_offset) for t in everything.topics for p in t.partitions] == [
        (topic, 4)
    ]

    left = wire.call(
        13,
        3,
        group_id=group,
        members=(
            nested(13, 3, "MemberIdentity", member_id=member),
            nested(13, 3, "MemberIdentity", member_id="ghost"),
        ),
    )
    assert left.error_code == ErrorCode.none
    assert [m.error_code for m in left.members] == [ErrorCode.none, ErrorCode.unknown_member_id]
    listed = wire.call(16, 4, states_filter=("empty",))
    assert group in [g.group_id for g in listed.groups]
    [described] = wire.call(15, 0, groups=(group,)).groups
    assert (described.group_state, described.protocol_type) == ("Empty", "consumer")

    # Flexible versions: JoinGroup v9 with the KIP-394 round trip, SyncGroup v5 checks names.
    protocol = nested(11, 9, "JoinGroupRequestProtocol", name="range", metadata=b"m")
    fields = {
        "group_id": group,
        "session_timeout": timedelta(seconds=6),
        "rebalance_timeout": timedelta(seconds=10),
        "protocol_type": "consumer",
        "protocols": (protocol,),
    }
    first = wire.call(11, 9, member_id="", **fields)
    assert first.error_code == ErrorCode.member_id_required
    joined = wire.call(11, 9, member_id=first.member_id, **fields)
    assert (joined.error_code, joined.protocol_type, joined.protocol_name) == (
        ErrorCode.none,
        "consumer",
        "range",
    )
    sync_fields = {"group_id": group, "generation_id": joined.generation_id, "assignments": ()}
    wrong = wire.call(
        14, 5, member_id=first.member_id, protocol_type="consumer", protocol_name="x", **sync_fields
    )
    assert wrong.error_code == ErrorCode.inconsistent_group_protocol
    synced = wire.call(
        14,
        5,
        member_id=first.member_id,
        protocol_type="consumer",
        protocol_name="range",
        **sync_fields,
    )
    assert (synced.error_code, synced.protocol_name) == (ErrorCode.none, "range")
    assert wire.call(13, 1, group_id=group, member_id=first.member_id).error_code == 0
    [deleted] = wire.call(42, 0, groups_names=(group,)).results
    assert deleted.error_code == ErrorCode.none
