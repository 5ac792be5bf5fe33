"""Group state: the states and what each allows, members, groups, and the plain values the
coordinator takes and returns. No protocol code here: metadata and assignments are bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger("streamlab.kafka.coordinator")

MIN_SESSION_TIMEOUT_MS = 6_000  # group.min.session.timeout.ms
MAX_SESSION_TIMEOUT_MS = 1_800_000  # group.max.session.timeout.ms
MAX_METADATA_CHARS = 4096  # offset.metadata.max.bytes
GROUP_TYPE = "classic"
CONSUMER_PROTOCOL = "consumer"
NONE = "none"


class GroupState(Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


EMPTY = GroupState.EMPTY
PREPARING = GroupState.PREPARING_REBALANCE
COMPLETING = GroupState.COMPLETING_REBALANCE
STABLE = GroupState.STABLE
DEAD = GroupState.DEAD

# The states a group must be in to move to a state (ClassicGroupState's static block).
VALID_PREVIOUS: dict[GroupState, frozenset[GroupState]] = {
    EMPTY: frozenset({PREPARING}),
    PREPARING: frozenset({STABLE, COMPLETING, EMPTY}),
    COMPLETING: frozenset({PREPARING}),
    STABLE: frozenset({COMPLETING}),
    DEAD: frozenset({STABLE, PREPARING, COMPLETING, EMPTY, DEAD}),
}

# How each state answers a request from a valid member of the current generation: OK (serve
# it), PARK (hold it until the state changes) or the Kafka error code returned.
OK, PARK = "ok", "park"
STATE_RULES: dict[GroupState, dict[str, str]] = {
    EMPTY: {"sync": "unknown_member_id", "heartbeat": "unknown_member_id", "commit": OK},
    PREPARING: {
        "sync": "rebalance_in_progress",
        "heartbeat": "rebalance_in_progress",
        "commit": OK,
    },
    # Kafka answers heartbeats normally here: followers heartbeat while waiting for SyncGroup.
    COMPLETING: {"sync": PARK, "heartbeat": OK, "commit": "rebalance_in_progress"},
    STABLE: {"sync": OK, "heartbeat": OK, "commit": OK},
    DEAD: {
        "sync": "coordinator_not_available",
        "heartbeat": "coordinator_not_available",
        "commit": "coordinator_not_available",
    },
}


class IllegalStateTransition(RuntimeError):
    pass


# --- values in and out ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Protocol:
    name: str
    metadata: bytes
    topics: frozenset[str] | None = None  # subscribed topics, when the handler could decode them


@dataclass(frozen=True, slots=True)
class Assignment:
    data: bytes
    partitions: tuple[tuple[str, tuple[int, ...]], ...] | None = None  # decoded, for display


@dataclass(frozen=True, slots=True)
class JoinRequest:
    group_id: str
    member_id: str
    protocol_type: str
    protocols: tuple[Protocol, ...]
    session_timeout_ms: int
    rebalance_timeout_ms: int = -1  # -1: same as the session timeout (JoinGroup v0)
    group_instance_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    require_known_member_id: bool = True  # JoinGroup v4+


@dataclass(frozen=True, slots=True)
class JoinResult:
    error: str
    member_id: str = ""
    generation: int = -1
    protocol_type: str | None = None
    protocol: str | None = None
    leader: str = ""
    members: tuple[tuple[str, str | None, bytes], ...] = ()  # (member id, instance id, metadata)


@dataclass(frozen=True, slots=True)
class SyncResult:
    error: str
    protocol_type: str | None = None
    protocol: str | None = None
    assignment: bytes = b""


@dataclass(frozen=True, slots=True)
class OffsetCommitEntry:
    topic: str
    partition: int
    offset: int
    leader_epoch: int = -1
    metadata: str = ""


@dataclass(frozen=True, slots=True)
class MemberDescription:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol: str
    members: tuple[MemberDescription, ...]


# --- groups and members ---------------------------------------------------------------------------


@dataclass(eq=False)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: tuple[Protocol, ...]
    assignment: Assignment = field(default_factory=lambda: Assignment(b""))
    awaiting_join: Callable[[JoinResult], None] | None = None
    awaiting_sync: Callable[[SyncResult], None] | None = None

    def metadata(self, protocol: str | None) -> bytes:
        for p in self.protocols:
            if p.name == protocol:
                return p.metadata
        return b""

    def vote(self, candidates: set[str]) -> str:
        """The member's most preferred protocol among those every member supports."""
        return next(p.name for p in self.protocols if p.name in candidates)

    def same_protocols(self, protocols: tuple[Protocol, ...]) -> bool:
        return [(p.name, p.metadata) for p in self.protocols] == [
            (p.name, p.metadata) for p in protocols
        ]


class Group:
    def __init__(self, group_id: str, now_ms: int) -> None:
        self.group_id = group_id
        self.state = EMPTY
        self.state_since_ms = now_ms
        self.protocol_type: str | None = None
        self.protocol: str | None = None
        self.generation = 0
        self.leader: str | None = None
        self.members: dict[str, Member] = {}  # join order
        self.pending_members: set[str] = set()  # got MEMBER_ID_REQUIRED, not back yet
        self.pending_sync: set[str] = set()  # joined this generation, not synced yet
        self.static_members: dict[str, str] = {}  # group.instance.id -> member id
        self.initial_delay_pending = False
        self.new_member_added = False

    def transition_to(self, state: GroupState, reason: str, now_ms: int) -> None:
        allowed = VALID_PREVIOUS[state]
        if self.state not in allowed:
            raise IllegalStateTransition(
                f"group '{self.group_id}' should be in "
                f"{sorted(s.value for s in allowed)} to move to {state.value}, "
                f"but is {self.state.value}"
            )
        log.info("group '%s': %s -> %s (%s)", self.group_id, self.state.value, state.value, reason)
        self.state = state
        self.state_since_ms = now_ms

    def add(self, member: Member) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        if self.leader is None:
            self.leader = member.member_id

    def all_joined(self) -> bool:
        return not self.pending_members and all(
            m.awaiting_join is not None for m in self.members.values()
        )

    def candidate_protocols(self) -> set[str]:
        sets = [{p.name for p in m.protocols} for m in self.members.values()]
        return set.intersection(*sets) if sets else set()

    def supports_protocols(self, protocol_type: str, names: list[str]) -> bool:
        if self.state is EMPTY:
            return bool(protocol_type) and bool(names)
        return protocol_type == self.protocol_type and bool(
            self.candidate_protocols().intersection(names)
        )

    def select_protocol(self) -> str:
        candidates = self.candidate_protocols()
        votes: dict[str, int] = {}
        for m in self.members.values():
            choice = m.vote(candidates)
            votes[choice] = votes.get(choice, 0) + 1
        return max(votes, key=lambda name: votes[name])  # first best on a tie, like Kafka

    def subscribed_topics(self) -> set[str] | None:
        """Topics the consumer members subscribe to; None when unknown (not decodable)."""
        if self.protocol_type != CONSUMER_PROTOCOL:
            return None
        topics: set[str] = set()
        for m in self.members.values():
            proto = next((p for p in m.protocols if p.name == self.protocol), None)
            if proto is None or proto.topics is None:
                return None
            topics |= proto.topics
        return topics

    def is_subscribed(self, topic: str) -> bool:
        if not self.members:
            return False
        topics = self.subscribed_topics()
        if topics is None:  # undecodable: assume the worst for consumer groups, as Kafka does
            return self.protocol_type == CONSUMER_PROTOCOL
        return topic in topics
