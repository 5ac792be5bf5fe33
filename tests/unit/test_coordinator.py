"""The classic group state machine and committed offsets, with hand-moved time (no sockets).

Requests go straight to ``GroupCoordinator``; parked answers land in lists through the
``respond`` callbacks, and ``ManualTimers.advance`` plays the clock. Offsets and group metadata
go to a real ``__consumer_offsets`` topic of a real ``Cluster`` in a temporary data dir.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from streamlab.kafka.cluster import Broker, Cluster
from streamlab.kafka.coordinator import (
    Assignment,
    GroupCoordinator,
    GroupState,
    JoinRequest,
    ManualTimers,
    OffsetCommitEntry,
    Protocol,
    records,
)
from streamlab.kafka.coordinator.records import GroupKey, OffsetKey
from streamlab.kafka.coordinator.state import Group, IllegalStateTransition
from streamlab.kafka.coordinator.storage import LEGACY_JOURNAL
from streamlab.kafka.protocol import batches

SESSION, REBALANCE = 10_000, 30_000


@dataclass
class Env:
    coord: GroupCoordinator
    timers: ManualTimers
    cluster: Cluster
    data_dir: str

    def group(self, group_id: str = "g") -> Group:
        return self.coord.groups[group_id]

    def restart(self, reopen: bool = False) -> Env:
        """A new coordinator on the same data dir, as after a broker restart; ``reopen`` also
        reopens the cluster's logs (recovering their tails)."""
        self.coord.close()
        cluster = self.cluster
        if reopen:
            cluster.close()
            cluster = new_cluster(self.data_dir)
        coord = GroupCoordinator(SimpleNamespace(cluster=cluster), timers=self.timers)
        return Env(coord, self.timers, cluster, self.data_dir)

    def offsets_records(self, group: str = "g") -> list[tuple[object, object]]:
        """Decoded (key, value) records of the __consumer_offsets partition holding ``group``."""
        topic = self.cluster.topics[records.OFFSETS_TOPIC]
        plog = topic.partitions[records.partition_for(group, len(topic.partitions))].log
        data = plog.read(0, 1 << 30)
        return [
            records.decode_record(r.key, r.value)
            for at, _ in batches.iter_batches(data)
            for r in batches.iter_records(data, at)
        ]


def new_cluster(data_dir: str) -> Cluster:
    return Cluster(data_dir, [Broker(1, "127.0.0.1", 9092)], offsets_topic_partitions=3)


@pytest.fixture
def env(tmp_path):
    cluster = new_cluster(str(tmp_path))
    cluster.create_topic("t", 4)
    cluster.create_topic("u", 1)
    timers = ManualTimers()
    coord = GroupCoordinator(SimpleNamespace(cluster=cluster), timers=timers)
    e = Env(coord, timers, cluster, str(tmp_path))
    yield e
    e.coord.close()
    e.cluster.close()


def join(env: Env, member_id: str = "", group: str = "g", **kw) -> list:
    """Send a JoinGroup; returns the list its answer lands in (empty while parked)."""
    protocols = kw.pop("protocols", [("range", b"meta")])
    req = JoinRequest(
        group_id=group,
        member_id=member_id,
        protocol_type=kw.pop("protocol_type", "consumer"),
        protocols=tuple(Protocol(n, m, kw.pop("topics", None)) for n, m in protocols),
        session_timeout_ms=kw.pop("session", SESSION),
        rebalance_timeout_ms=kw.pop("rebalance", REBALANCE),
        client_id=kw.pop("client_id", "app"),
        client_host="/127.0.0.1",
        **kw,
    )
    out: list = []
    env.coord.join_group(req, out.append)
    return out


def new_member(env: Env, group: str = "g", **kw) -> tuple[str, list]:
    """The KIP-394 round trip: MEMBER_ID_REQUIRED, then the rejoin with the given id."""
    [first] = join(env, "", group, **kw)
    assert first.error == "member_id_required"
    return first.member_id, join(env, first.member_id, group, **kw)


def sync(env: Env, member_id: str, generation: int, group: str = "g", **kw) -> list:
    out: list = []
    env.coord.sync_group(group, generation, member_id, out.append, **kw)
    return out


def stable_group(env: Env, n: int = 1, group: str = "g") -> list[str]:
    """A Stable group of ``n`` members; the first is the leader."""
    ids = []
    for _ in range(n):
        member_id, answer = new_member(env, group)
        ids.append(member_id)
        if len(ids) > 1:  # the others rejoin after their heartbeat says rebalance
            assert not answer
            for other in ids[:-1]:
                assert env.coord.heartbeat(group, env.group(group).generation, other) == (
                    "rebalance_in_progress"
                )
                join(env, other, group)
    g = env.group(group)
    assert g.state is GroupState.COMPLETING_REBALANCE
    syncs = {m: sync(env, m, g.generation, group) for m in ids[1:]}
    [leader_sync] = sync(
        env, ids[0], g.generation, group, assignments={m: Assignment(m.encode()) for m in ids}
    )
    assert leader_sync.error == "none"
    assert all(s[0].assignment == m.encode() for m, s in syncs.items())
    assert g.state is GroupState.STABLE
    return ids


# --- the state table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target", "ok"),
    [
        (GroupState.EMPTY, GroupState.PREPARING_REBALANCE, True),
        (GroupState.EMPTY, GroupState.STABLE, False),
        (GroupState.PREPARING_REBALANCE, GroupState.COMPLETING_REBALANCE, True),
        (GroupState.PREPARING_REBALANCE, GroupState.STABLE, False),
        (GroupState.COMPLETING_REBALANCE, GroupState.STABLE, True),
        (GroupState.STABLE, GroupState.EMPTY, False),
        (GroupState.STABLE, GroupState.DEAD, True),
    ],
)
def test_transitions_are_checked(start, target, ok):
    g = Group("g", 0)
    g.state = start
    if ok:
        g.transition_to(target, "test", 1)
        assert g.state is target
    else:
        with pytest.raises(
            IllegalStateTransition, match=f"group 'g' should be in .* is {start.value}"
        ):
            g.transition_to(target, "test", 1)


# --- joining --------------------------------------------------------------------------------------


def test_first_member_needs_its_id_then_leads_generation_one(env):
    [answer] = join(env, client_id="rdkafka")
    assert answer.error == "member_id_required"
    assert answer.member_id.startswith("rdkafka-")
    assert env.group().state is GroupState.EMPTY
    [joined] = join(env, answer.member_id)
    assert (joined.error, joined.generation, joined.protocol) == ("none", 1, "range")
    assert joined.leader == answer.member_id
    assert joined.members == ((answer.member_id, None, b"meta"),)
    assert env.group().state is GroupState.COMPLETING_REBALANCE
    [synced] = sync(env, answer.member_id, 1, assignments={answer.member_id: Assignment(b"A")})
    assert (synced.error, synced.assignment, synced.protocol_type) == ("none", b"A", "consumer")
    assert env.group().state is GroupState.STABLE


def test_join_v3_skips_member_id_required(env):
    [joined] = join(env, require_known_member_id=False)
    assert joined.error == "none" and joined.member_id


@pytest.mark.parametrize(
    ("session", "error"),
    [
        (5_999, "invalid_session_timeout"),
        (6_000, "member_id_required"),
        (1_800_001, "invalid_session_timeout"),
    ],
)
def test_session_timeout_bounds(env, session, error):
    assert join(env, session=session)[0].error == error


def test_unknown_member_id_and_group(env):
    assert join(env, "ghost")[0].error == "unknown_member_id"
    stable_group(env)
    assert join(env, "ghost")[0].error == "unknown_member_id"


def test_protocol_vote_and_inconsistent_protocols(env):
    a, _ = new_member(env, protocols=[("range", b"1"), ("roundrobin", b"2")])
    g = env.group()
    sync(env, a, 1, assignments={})
    _b, parked = new_member(env, protocols=[("roundrobin", b"3"), ("range", b"4")])
    join(env, a, protocols=[("range", b"1"), ("roundrobin", b"2")])
    assert parked[0].protocol == "range"  # one vote each: the first candidate wins the tie
    assert g.generation == 2
    # A member that shares no protocol, or another protocol type, cannot join.
    assert join(env, protocols=[("sticky", b"")])[0].error == "inconsistent_group_protocol"
    assert join(env, protocol_type="connect")[0].error == "inconsistent_group_protocol"


def test_second_member_triggers_rebalance_and_splits(env):
    a, b = stable_group(env, 2)
    g = env.group()
    assert g.generation == 2 and g.leader == a
    # The leader got both members' metadata; followers get none.
    assert env.coord.describe_group("g").state == "Stable"
    assert [m.assignment for m in env.coord.describe_group("g").members] == [a.encode(), b.encode()]


def test_follower_sync_is_parked_until_leader_syncs(env):
    a, _ = new_member(env)
    sync(env, a, 1, assignments={a: Assignment(b"a")})
    b, parked = new_member(env)
    [rejoined] = join(env, a)
    [b_joined] = parked
    assert rejoined.members and not b_joined.members  # only the leader sees the members
    follower = sync(env, b, 2)
    assert follower == []
    assert env.coord.heartbeat("g", 2, b) == "none"  # CompletingRebalance: normal heartbeat
    sync(env, a, 2, assignments={a: Assignment(b"a2"), b: Assignment(b"b2")})
    assert follower[0].assignment == b"b2"


def test_stable_follower_rejoin_with_same_metadata_gets_current_generation(env):
    _a, b = stable_group(env, 2)
    [answer] = join(env, b)
    assert (answer.error, answer.generation, answer.members) == ("none", 2, ())
    assert env.group().state is GroupState.STABLE


def test_stable_leader_rejoin_rebalances(env):
    a, b = stable_group(env, 2)
    assert join(env, a) == []
    assert env.group().state is GroupState.PREPARING_REBALANCE
    assert sync(env, b, 2)[0].error == "rebalance_in_progress"


def test_initial_rebalance_delay_gathers_first_members(env):
    env.coord.initial_rebalance_delay_ms = 3_000
    _a, first = new_member(env)
    _b, second = new_member(env)
    assert first == [] and second == []
    env.timers.advance(2_999)
    assert first == []
    env.timers.advance(1)  # b arrived during the delay: one more delay round
    assert first == []
    env.timers.advance(3_000)
    assert first[0].generation == 1 and len(first[0].members) == 2


# --- heartbeats, timeouts, leaving ----------------------------------------------------------------


def test_heartbeat_errors(env):
    assert env.coord.heartbeat("nope", 1, "x") == "unknown_member_id"
    [a] = stable_group(env)
    assert env.coord.heartbeat("g", 1, "x") == "unknown_member_id"
    assert env.coord.heartbeat("g", 0, a) == "illegal_generation"
    assert env.coord.heartbeat("g", 1, a) == "none"
    assert env.coord.heartbeat("", 1, a) == "invalid_group_id"


def test_session_expiry_removes_member_and_rebalances(env):
    a, b = stable_group(env, 2)
    env.timers.advance(SESSION // 2)
    assert env.coord.heartbeat("g", 2, a) == "none"  # a keeps heartbeating, b went silent
    env.timers.advance(SESSION // 2)
    g = env.group()
    assert b not in g.members
    assert g.state is GroupState.PREPARING_REBALANCE
    assert env.coord.heartbeat("g", 2, a) == "rebalance_in_progress"
    [answer] = join(env, a)
    assert (answer.generation, answer.leader, len(answer.members)) == (3, a, 1)


def test_expired_leader_hands_leadership_over(env):
    _a, b = stable_group(env, 2)
    env.timers.advance(SESSION // 2)
    env.coord.heartbeat("g", 2, b)
    env.timers.advance(SESSION // 2 + 1)  # a's session is over, b's is not
    assert env.group().leader == b


def test_member_that_does_not_rejoin_is_dropped_after_rebalance_timeout(env):
    a, b = stable_group(env, 2)
    parked = join(env, a)  # a (leader) rejoins; b keeps heartbeating but never rejoins
    for _ in range(REBALANCE // 5_000):
        env.timers.advance(5_000)
        if parked:
            break
        assert env.coord.heartbeat("g", 2, b) == "rebalance_in_progress"
    assert parked[0].generation == 3 and len(parked[0].members) == 1
    assert b not in env.group().members


def test_pending_member_that_never_rejoins_does_not_block(env):
    [a] = stable_group(env)
    [required] = join(env)  # b got its id but never comes back
    assert required.error == "member_id_required"
    parked = join(env, a)
    assert parked == []
    env.timers.advance(SESSION)
    assert parked[0].generation == 2


def test_leave_group(env):
    a, b = stable_group(env, 2)
    assert env.coord.leave_group("g", [(a, None), ("ghost", None)]) == (
        "none",
        ["none", "unknown_member_id"],
    )
    g = env.group()
    assert g.leader == b and g.state is GroupState.PREPARING_REBALANCE
    [answer] = join(env, b)
    assert answer.generation == 3 and answer.leader == b
    sync(env, b, 3, assignments={})
    assert env.coord.leave_group("g", [(b, None)]) == ("none", ["none"])
    assert g.state is GroupState.EMPTY and g.generation == 4
    assert env.coord.leave_group("nope", [(b, None)])[0] == "unknown_member_id"


def test_sync_errors(env):
    [a] = stable_group(env)
    assert sync(env, "ghost", 1)[0].error == "unknown_member_id"
    assert sync(env, a, 7)[0].error == "illegal_generation"
    assert sync(env, a, 1, protocol="roundrobin")[0].error == "inconsistent_group_protocol"
    assert sync(env, a, 1, group="nope")[0].error == "unknown_member_id"
    assert sync(env, a, 1)[0].assignment == a.encode()  # Stable: current assignment


def test_static_member_replaces_its_previous_incarnation(env):
    [first] = join(env, group_instance_id="i-1")
    assert first.error == "none"  # static members skip MEMBER_ID_REQUIRED
    sync(env, first.member_id, 1, group_instance_id="i-1", assignments={})
    [second] = join(env, group_instance_id="i-1")
    assert second.member_id != first.member_id
    assert env.coord.heartbeat("g", second.generation, first.member_id, "i-1") == (
        "fenced_instance_id"
    )
    assert list(env.group().members) == [second.member_id]


# --- offsets --------------------------------------------------------------------------------------


def commit(env: Env, generation: int, member_id: str, *entries, group: str = "g", **kw):
    offsets = [OffsetCommitEntry(*e) for e in entries]
    return env.coord.commit_offsets(group, generation, member_id, offsets, **kw)


def test_member_commits_and_errors(env):
    [a] = stable_group(env)
    assert commit(env, 1, a, ("t", 0, 5), ("t", 9, 1), ("nope", 0, 1)) == [
        "none",
        "unknown_topic_or_partition",
        "unknown_topic_or_partition",
    ]
    assert commit(env, 0, a, ("t", 0, 6)) == ["illegal_generation"]
    assert commit(env, 1, "ghost", ("t", 0, 6)) == ["unknown_member_id"]
    assert commit(env, -1, "", ("t", 0, 6)) == ["unknown_member_id"]  # group has members
    assert commit(env, 1, a, ("t", 0, 6, -1, "x" * 4097)) == ["offset_metadata_too_large"]
    assert env.coord.fetch_offsets("g", [("t", 0), ("t", 1)]) == [
        ("t", 0, env.coord.store.get("g", "t", 0)),
        ("t", 1, None),
    ]
    assert env.coord.store.get("g", "t", 0).offset == 5


def test_commit_during_rebalance(env):
    a, b = stable_group(env, 2)
    join(env, a)  # PreparingRebalance: the current generation may still commit
    assert commit(env, 2, b, ("t", 1, 3)) == ["none"]
    join(env, b)  # CompletingRebalance: not until the assignment is known
    assert commit(env, 3, b, ("t", 1, 4)) == ["rebalance_in_progress"]


def test_simple_commits_to_groups_without_members(env):
    assert commit(env, -1, "", ("u", 0, 7), group="admin") == ["none"]
    assert env.group("admin").state is GroupState.EMPTY
    assert commit(env, 3, "m", ("u", 0, 7), group="nope") == ["group_id_not_found"]
    assert commit(env, 3, "m", ("u", 0, 7), group="nope", group_id_not_found=False) == [
        "illegal_generation"
    ]
    assert [(t, p, o.offset) for t, p, o in env.coord.fetch_offsets("admin", None)] == [("u", 0, 7)]


def test_offsets_of_a_deleted_topic_disappear(env):
    commit(env, -1, "", ("u", 0, 7), ("t", 0, 1))
    env.cluster.delete_topic("u")
    env.cluster.create_topic("u", 1)  # same name, new topic id: starts clean
    assert [(t, p) for t, p, _ in env.coord.fetch_offsets("g", None)] == [("t", 0)]


def test_offsets_and_groups_survive_a_restart(env):
    [a] = stable_group(env)
    commit(env, 1, a, ("t", 0, 11), ("t", 1, 12, 3, "meta"))
    commit(env, -1, "", ("u", 0, 1), group="simple")
    env = env.restart()
    g = env.group()
    assert (g.state, g.generation, g.protocol_type, g.members) == (
        GroupState.EMPTY,
        1,
        "consumer",
        {},
    )
    o = env.coord.store.get("g", "t", 1)
    assert (o.offset, o.leader_epoch, o.metadata) == (12, 3, "meta")
    assert env.coord.store.get("simple", "u", 0).offset == 1
    # The next generation continues from the stored one.
    _, [answer] = new_member(env)
    assert answer.generation == 2


def test_torn_batch_at_the_tail_of_the_offsets_log_is_ignored(env):
    commit(env, -1, "", ("t", 0, 1))
    topic = env.cluster.topics[records.OFFSETS_TOPIC]
    seg = topic.partitions[records.partition_for("g", 3)].log.segments[-1].path
    with open(seg, "ab") as f:
        f.write(records.build_batch([(b"k", b"v")], 0)[:30])  # kill -9 mid-write
    env = env.restart(reopen=True)
    assert env.coord.store.get("g", "t", 0).offset == 1


def test_offsets_topic_is_created_on_first_use_and_holds_kafka_records(env):
    assert records.OFFSETS_TOPIC not in env.cluster.topics
    [a] = stable_group(env)
    topic = env.cluster.topics[records.OFFSETS_TOPIC]
    assert (len(topic.partitions), topic.internal, topic.config("cleanup.policy")) == (
        3,
        True,
        "compact",
    )
    commit(env, 1, a, ("t", 0, 11, 2, "meta"))
    env.coord.delete_offsets("g", [("u", 0)])  # nothing committed there: no record
    got = env.offsets_records()
    # the new group (generation 0), the leader's assignment, then the commit
    assert [type(k).__name__ for k, _ in got] == ["GroupKey", "GroupKey", "OffsetKey"]
    (_, empty), (_, stable), (key, value) = got
    assert (empty.generation, empty.protocol_type, empty.members) == (0, "", ())
    assert (stable.generation, stable.protocol_type, stable.protocol, stable.leader) == (
        1,
        "consumer",
        "range",
        a,
    )
    [member] = stable.members
    assert (member.member_id, member.subscription, member.assignment) == (a, b"meta", a.encode())
    assert (member.session_timeout, member.rebalance_timeout) == (SESSION, REBALANCE)
    assert key == OffsetKey("g", "t", 0)
    assert (value.offset, value.leader_epoch, value.metadata) == (11, 2, "meta")
    assert value.commit_timestamp == env.timers.now_ms()


def test_deletions_write_tombstones(env):
    commit(env, -1, "", ("t", 0, 1), ("u", 0, 2))
    env.cluster.delete_topic("u")  # Kafka's onPartitionsDeleted
    env.coord.delete_groups(["g"])
    tail = env.offsets_records()[-3:]
    assert tail == [(OffsetKey("g", "u", 0), None), (OffsetKey("g", "t", 0), None),
                    (GroupKey("g"), None)]  # fmt: skip
    env = env.restart()
    assert env.coord.fetch_offsets("g", None) == [] and "g" not in env.coord.groups


def test_deleting_the_offsets_topic_forgets_everything(env):
    [a] = stable_group(env, 1, "busy")
    commit(env, -1, "", ("t", 0, 1), group="idle")
    env.cluster.delete_topic(records.OFFSETS_TOPIC)  # Kafka 4.1 allows it
    assert env.coord.groups == {} and env.coord.fetch_offsets("idle", None) == []
    assert env.coord.heartbeat("busy", 1, a) == "unknown_member_id"  # the member must rejoin
    assert commit(env, -1, "", ("t", 0, 5), group="idle") == ["none"]  # topic created again
    env = env.restart()
    assert [(t, p, o.offset) for t, p, o in env.coord.fetch_offsets("idle", None)] == [("t", 0, 5)]


def test_groups_live_in_their_kafka_partition(env):
    for group in ("g-alpha", "lesson-1", "Ü-group", "polygenelubricants"):
        commit(env, -1, "", ("u", 0, 1), group=group)
        assert env.offsets_records(group)[-1][0] == OffsetKey(group, "u", 0)
        partition = env.cluster.partition(records.OFFSETS_TOPIC, records.partition_for(group, 3))
        assert env.cluster.coordinator_for(group).node_id == partition.leader


def test_journal_of_earlier_versions_is_imported_once(tmp_path):
    lines = [
        {"k": "group", "group": "g", "protocol_type": "consumer", "protocol": "range",
         "generation": 4},
        {"k": "offset", "group": "g", "topic": "t", "partition": 0, "offset": 5,
         "leader_epoch": 1, "metadata": "m", "commit_ms": 123, "topic_id": None},
        {"k": "offset", "group": "g", "topic": "t", "partition": 1, "offset": 6},
        {"k": "offset", "group": "g", "topic": "t", "partition": 1, "offset": None},
        {"k": "offset", "group": "g", "topic": "gone", "partition": 0, "offset": 1},
        {"k": "group", "group": "dead", "protocol_type": "consumer", "generation": 1},
        {"k": "group", "group": "dead", "deleted": True},
    ]  # fmt: skip
    path = tmp_path / LEGACY_JOURNAL
    path.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"k": "off')  # torn tail
    cluster = new_cluster(str(tmp_path))
    cluster.create_topic("t", 2)
    env = Env(
        GroupCoordinator(SimpleNamespace(cluster=cluster), timers=ManualTimers()),
        ManualTimers(),
        cluster,
        str(tmp_path),
    )
    try:
        assert not path.exists() and os.path.exists(f"{path}.migrated")
        for _ in range(2):  # imported, then read back from the topic after a restart
            assert env.coord.groups.keys() == {"g"} and env.group().generation == 4
            o = env.coord.store.get("g", "t", 0)
            assert (o.offset, o.leader_epoch, o.metadata, o.commit_ms) == (5, 1, "m", 123)
            assert [(t, p) for t, p, _ in env.coord.fetch_offsets("g", None)] == [("t", 0)]
            env = env.restart()
    finally:
        env.coord.close()
        cluster.close()


def test_delete_groups(env):
    stable_group(env, 1, "busy")
    commit(env, -1, "", ("t", 0, 1), group="idle")
    assert env.coord.delete_groups(["busy", "idle", "nope", ""]) == [
        "non_empty_group",
        "none",
        "group_id_not_found",
        "invalid_group_id",
    ]
    assert "idle" not in env.coord.groups
    assert env.coord.fetch_offsets("idle", None) == []
    env = env.restart()
    assert "idle" not in env.coord.groups and "busy" in env.coord.groups


def test_delete_offsets(env):
    a, _ = new_member(env, topics=frozenset({"t"}))
    sync(env, a, 1, assignments={})
    commit(env, 1, a, ("t", 0, 1), ("u", 0, 2))
    assert env.coord.delete_offsets("g", [("t", 0), ("u", 0), ("x", 0)]) == (
        "none",
        ["group_subscribed_to_topic", "none", "unknown_topic_or_partition"],
    )
    assert env.coord.store.get("g", "u", 0) is None
    assert env.coord.delete_offsets("nope", [("t", 0)]) == ("group_id_not_found", [])
    join(env, protocol_type="connect", group="c", require_known_member_id=False)
    assert env.coord.delete_offsets("c", [("t", 0)]) == ("non_empty_group", [])


# --- admin and observability ----------------------------------------------------------------------


def test_list_and_describe(env):
    stable_group(env, 1, "busy")
    commit(env, -1, "", ("t", 0, 1), group="idle")
    listed = sorted(env.coord.list_groups(1))
    assert listed == [
        ("busy", "consumer", "Stable", "classic"),
        ("idle", "", "Empty", "classic"),
    ]
    assert [g[0] for g in env.coord.list_groups(1, states={"empty"})] == ["idle"]
    assert env.coord.list_groups(1, types={"consumer"}) == []
    assert env.coord.list_groups(2) == []  # broker 2 coordinates nothing here
    d = env.coord.describe_group("busy")
    assert (d.state, d.protocol_type, d.protocol) == ("Stable", "consumer", "range")
    assert d.members[0].metadata == b"meta" and d.members[0].client_host == "/127.0.0.1"
    assert env.coord.describe_group("nope").state == "Dead"


def test_snapshot_reports_assignment_and_lag(env):
    a, _ = new_member(env)
    sync(env, a, 1, assignments={a: Assignment(b"..", (("t", (0, 1)),))})
    commit(env, 1, a, ("t", 0, 2))
    env.cluster.partition("t", 0).log.end_offset = 10  # as if ten records were produced
    [snap] = env.coord.snapshot()
    assert snap["state"] == "Stable" and snap["generation"] == 1 and snap["leader"] == a
    assert snap["members"][0]["assignment"] == [{"topic": "t", "partitions": [0, 1]}]
    assert snap["offsets"] == [
        {"topic": "t", "partition": 0, "committed": 2, "end_offset": 10, "lag": 8}
    ]
    assert snap["lag"] == 8
