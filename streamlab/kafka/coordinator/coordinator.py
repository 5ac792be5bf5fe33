"""The group coordinator: JoinGroup/SyncGroup/Heartbeat/LeaveGroup, offsets, admin."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from streamlab.kafka.coordinator.records import OFFSETS_TOPIC, GroupValue, MemberValue
from streamlab.kafka.coordinator.state import (
    COMPLETING,
    CONSUMER_PROTOCOL,
    DEAD,
    EMPTY,
    GROUP_TYPE,
    MAX_METADATA_CHARS,
    MAX_SESSION_TIMEOUT_MS,
    MIN_SESSION_TIMEOUT_MS,
    NONE,
    OK,
    PARK,
    PREPARING,
    STABLE,
    STATE_RULES,
    Assignment,
    Group,
    GroupDescription,
    JoinRequest,
    JoinResult,
    Member,
    MemberDescription,
    OffsetCommitEntry,
    SyncResult,
)
from streamlab.kafka.coordinator.storage import CommittedOffset, OffsetsTopicStore
from streamlab.kafka.coordinator.timers import LoopTimers, ManualTimers

log = logging.getLogger("streamlab.kafka.coordinator")


Respond = Callable[[object], None]


class GroupCoordinator:
    """Every classic group of the cluster. One instance serves all brokers; each group answers
    only on the broker ``cluster.coordinator_for(group_id)`` names (the handlers check it)."""

    def __init__(
        self,
        emulator,
        *,
        timers: LoopTimers | ManualTimers | None = None,
        initial_rebalance_delay_ms: int | None = None,
    ) -> None:
        self.emulator = emulator
        self.cluster = emulator.cluster
        self.timers = timers if timers is not None else LoopTimers()
        if initial_rebalance_delay_ms is None:
            # group.initial.rebalance.delay.ms: Kafka's default is 3000; 0 keeps labs snappy
            # (the MEMBER_ID_REQUIRED round trip already lets simultaneous joiners meet).
            initial_rebalance_delay_ms = getattr(emulator, "group_initial_rebalance_delay_ms", 0)
        self.initial_rebalance_delay_ms = initial_rebalance_delay_ms
        # Load: replay __consumer_offsets. Members are not restored: groups come back Empty
        # with their generation, as after a Kafka failover once the members' sessions expired.
        self.store = OffsetsTopicStore(self.cluster)
        self.groups: dict[str, Group] = {}
        now = self.timers.now_ms()
        for group_id in sorted(self.store.group_ids()):
            group = self.groups[group_id] = Group(group_id, now)
            record = self.store.groups.get(group_id)
            if record is not None:
                group.protocol_type = record.protocol_type or None
                group.generation = record.generation
        # Kafka's onPartitionsDeleted: a deleted topic's committed offsets get tombstones.
        self.cluster.topic_deleted_hooks.append(self._on_topic_deleted)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.close()

    def close(self) -> None:
        """Unload (broker shutdown): parked requests are answered NOT_COORDINATOR, as when
        Kafka unloads a coordinator partition, and timers stop. Everything is in the log."""
        self._unload()
        if self._on_topic_deleted in self.cluster.topic_deleted_hooks:
            self.cluster.topic_deleted_hooks.remove(self._on_topic_deleted)

    def _unload(self) -> None:
        for group in self.groups.values():
            for m in group.members.values():
                self._answer_join(m, JoinResult("not_coordinator", m.member_id))
                self._answer_sync(m, SyncResult("not_coordinator"))
        self.timers.cancel_all()

    def _on_topic_deleted(self, topic: str) -> None:
        if topic == OFFSETS_TOPIC:
            # Kafka 4.x lets an admin delete it: its coordinators resign, every group and
            # offset is gone, and the next FindCoordinator creates the topic afresh.
            log.warning("%s was deleted: every group and committed offset is gone", topic)
            self._unload()
            self.groups.clear()
            self.store.forget_all()
            return
        for group_id in sorted(self.store.group_ids()):
            doomed = [tp for tp in self.store.group_offsets(group_id) if tp[0] == topic]
            try:
                self.store.delete(group_id, doomed)
            except OSError as e:
                log.warning("group '%s': cannot forget offsets of %s: %s", group_id, topic, e)

    # --- where a group lives ----------------------------------------------------------------------

    def coordinator_id(self, group_id: str) -> int:
        broker = self.cluster.coordinator_for(group_id)
        return broker.node_id if broker is not None else -1

    def is_coordinator(self, group_id: str, node_id: int) -> bool:
        return self.coordinator_id(group_id) == node_id

    def now_ms(self) -> int:
        return self.timers.now_ms()

    # --- JoinGroup --------------------------------------------------------------------------------

    def join_group(self, req: JoinRequest, respond: Respond) -> None:
        if not req.group_id:
            return respond(JoinResult("invalid_group_id", req.member_id))
        if not MIN_SESSION_TIMEOUT_MS <= req.session_timeout_ms <= MAX_SESSION_TIMEOUT_MS:
            return respond(JoinResult("invalid_session_timeout", req.member_id))
        group = self.groups.get(req.group_id)
        new_member = req.member_id == ""
        if group is None:
            if not new_member:
                return respond(JoinResult("unknown_member_id", req.member_id))
            group = Group(req.group_id, self.now_ms())
        if not group.supports_protocols(req.protocol_type, [p.name for p in req.protocols]):
            return respond(JoinResult("inconsistent_group_protocol", req.member_id))
        if group.group_id not in self.groups:
            self.groups[group.group_id] = group
            self._save_group(group)  # as Kafka: a new group is recorded at once, generation 0
        if new_member:
            self._join_new_member(group, req, respond)
        else:
            self._join_existing_member(group, req, respond)

    def _join_new_member(self, group: Group, req: JoinRequest, respond: Respond) -> None:
        member_id = f"{req.client_id}-{uuid.uuid4()}"
        if req.group_instance_id is None and req.require_known_member_id:
            # KIP-394: hand out an id and let the client come back with it, so a client that
            # times out and retries does not leave a ghost member behind.
            group.pending_members.add(member_id)
            self.timers.schedule(
                f"pending-{group.group_id}-{member_id}",
                req.session_timeout_ms,
                lambda: self._expire_pending(group, member_id),
            )
            log.debug(
                "group '%s': new member %s must rejoin with its id", group.group_id, member_id
            )
            return respond(JoinResult("member_id_required", member_id))
        if req.group_instance_id is not None:
            old = group.static_members.get(req.group_instance_id)
            if old is not None:
                self._remove_member(
                    group,
                    old,
                    f"replaced by a new member with instance id '{req.group_instance_id}'",
                    "fenced_instance_id",
                )
        self._add_member_and_rebalance(group, req, member_id, respond)

    def _join_existing_member(self, group: Group, req: JoinRequest, respond: Respond) -> None:
        member_id = req.member_id
        if member_id in group.pending_members:
            group.pending_members.discard(member_id)
            self.timers.cancel(f"pending-{group.group_id}-{member_id}")
            return self._add_member_and_rebalance(group, req, member_id, respond)
        error = self._validate_member(group, member_id, req.group_instance_id)
        if error:
            return respond(JoinResult(error, member_id))
        member = group.members[member_id]
        if group.state is PREPARING:
            self._update_member_and_rebalance(group, member, req, respond, "member rejoined")
        elif group.state is COMPLETING:
            if member.same_protocols(req.protocols):
                respond(self._join_result(group, member))
            else:
                self._update_member_and_rebalance(
                    group, member, req, respond, f"member {member_id} changed its metadata"
                )
        elif group.state is STABLE:
            if member_id == group.leader:
                self._update_member_and_rebalance(
                    group, member, req, respond, f"leader {member_id} rejoined"
                )
            elif not member.same_protocols(req.protocols):
                self._update_member_and_rebalance(
                    group, member, req, respond, f"member {member_id} changed its metadata"
                )
            else:
                respond(self._join_result(group, member))
        else:
            respond(JoinResult("unknown_member_id", member_id))

    def _add_member_and_rebalance(
        self, group: Group, req: JoinRequest, member_id: str, respond: Respond
    ) -> None:
        rebalance_ms = req.rebalance_timeout_ms
        member = Member(
            member_id,
            req.group_instance_id,
            req.client_id,
            req.client_host,
            req.session_timeout_ms,
            rebalance_ms if rebalance_ms >= 0 else req.session_timeout_ms,
            req.protocol_type,
            req.protocols,
            awaiting_join=respond,
        )
        group.add(member)
        group.new_member_added = True
        self._schedule_heartbeat(group, member)
        self._maybe_prepare_rebalance(group, f"member {member_id} joined")

    def _update_member_and_rebalance(
        self, group: Group, member: Member, req: JoinRequest, respond: Respond, reason: str
    ) -> None:
        # A second join from the same member (its first request's connection is gone, e.g. the
        # client re-found the coordinator): the old request gets an answer nobody reads.
        self._answer_join(member, JoinResult("rebalance_in_progress", member.member_id))
        member.protocols = req.protocols
        member.session_timeout_ms = req.session_timeout_ms
        if req.rebalance_timeout_ms >= 0:
            member.rebalance_timeout_ms = req.rebalance_timeout_ms
        member.client_id, member.client_host = req.client_id, req.client_host
        member.awaiting_join = respond
        self._maybe_prepare_rebalance(group, reason)

    def _join_result(self, group: Group, member: Member) -> JoinResult:
        members: tuple = ()
        if member.member_id == group.leader:
            members = tuple(
                (m.member_id, m.group_instance_id, m.metadata(group.protocol))
                for m in group.members.values()
            )
        return JoinResult(
            NONE,
            member.member_id,
            group.generation,
            group.protocol_type,
            group.protocol,
            group.leader or "",
            members,
        )

    # --- rebalancing ------------------------------------------------------------------------------

    def _maybe_prepare_rebalance(self, group: Group, reason: str) -> None:
        if group.state in (STABLE, COMPLETING, EMPTY):
            self._prepare_rebalance(group, reason)
        elif group.state is PREPARING:
            self._try_complete_join(group)

    def _prepare_rebalance(self, group: Group, reason: str) -> None:
        if group.state is COMPLETING:
            # The assignment being built is void; parked followers must rejoin.
            for m in group.members.values():
                m.assignment = Assignment(b"")
                self._answer_sync(m, SyncResult("rebalance_in_progress"))
        was_empty = group.state is EMPTY
        self.timers.cancel(f"sync-{group.group_id}")
        group.pending_sync.clear()
        group.transition_to(PREPARING, reason, self.now_ms())
        rebalance_ms = max((m.rebalance_timeout_ms for m in group.members.values()), default=0)
        if was_empty and self.initial_rebalance_delay_ms > 0:
            # group.initial.rebalance.delay.ms: let a group's first consumers arrive together.
            group.initial_delay_pending = True
            group.new_member_added = False
            delay = min(self.initial_rebalance_delay_ms, rebalance_ms)
            self._schedule_initial_join(group, delay, rebalance_ms - delay)
            return
        self.timers.schedule(
            f"join-{group.group_id}", rebalance_ms, lambda: self._on_join_timeout(group)
        )
        self._try_complete_join(group)

    def _schedule_initial_join(self, group: Group, delay_ms: int, remaining_ms: int) -> None:
        def fire() -> None:
            if not self._alive(group) or group.state is not PREPARING:
                return
            if group.new_member_added and remaining_ms > 0:
                group.new_member_added = False
                nxt = min(self.initial_rebalance_delay_ms, remaining_ms)
                self._schedule_initial_join(group, nxt, remaining_ms - nxt)
            else:
                group.initial_delay_pending = False
                self._complete_join(group)

        self.timers.schedule(f"join-{group.group_id}", delay_ms, fire)

    def _try_complete_join(self, group: Group) -> None:
        if group.state is PREPARING and not group.initial_delay_pending and group.all_joined():
            self.timers.cancel(f"join-{group.group_id}")
            self._complete_join(group)

    def _on_join_timeout(self, group: Group) -> None:
        if self._alive(group) and group.state is PREPARING:
            self._complete_join(group)

    def _complete_join(self, group: Group) -> None:
        for m in list(group.members.values()):
            if m.awaiting_join is None:
                self._remove_member(group, m.member_id, "did not rejoin in time")
        group.generation += 1
        now = self.now_ms()
        if not group.members:
            group.protocol = None
            group.transition_to(EMPTY, f"no members left, generation {group.generation}", now)
            self._save_group(group)
            return
        group.protocol = group.select_protocol()
        group.transition_to(
            COMPLETING,
            f"generation {group.generation} with {len(group.members)} member(s), "
            f"protocol '{group.protocol}', leader {group.leader}",
            now,
        )
        for m in group.members.values():
            self._answer_join(m, self._join_result(group, m))
            self._schedule_heartbeat(group, m)
            group.pending_sync.add(m.member_id)
        rebalance_ms = max(m.rebalance_timeout_ms for m in group.members.values())
        generation = group.generation
        self.timers.schedule(
            f"sync-{group.group_id}", rebalance_ms, lambda: self._on_sync_timeout(group, generation)
        )

    def _on_sync_timeout(self, group: Group, generation: int) -> None:
        """Members that never sent SyncGroup for this generation are removed."""
        if not self._alive(group) or group.generation != generation:
            return
        if group.state not in (COMPLETING, STABLE) or not group.pending_sync:
            return
        for member_id in list(group.pending_sync):
            self._remove_member(group, member_id, "did not sync in time")
        group.pending_sync.clear()
        self._prepare_rebalance(group, "members did not sync in time")

    # --- SyncGroup --------------------------------------------------------------------------------

    def sync_group(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        respond: Respond,
        *,
        group_instance_id: str | None = None,
        protocol_type: str | None = None,
        protocol: str | None = None,
        assignments: dict[str, Assignment] | None = None,
    ) -> None:
        if not group_id:
            return respond(SyncResult("invalid_group_id"))
        group = self.groups.get(group_id)
        if group is None:
            return respond(SyncResult("unknown_member_id"))
        error = self._validate_member(group, member_id, group_instance_id)
        if error:
            return respond(SyncResult(error))
        if generation != group.generation:
            return respond(SyncResult("illegal_generation"))
        if (protocol_type is not None and protocol_type != group.protocol_type) or (
            protocol is not None and protocol != group.protocol
        ):
            return respond(SyncResult("inconsistent_group_protocol"))
        rule = STATE_RULES[group.state]["sync"]
        member = group.members[member_id]
        if rule == OK:  # Stable: the current assignment
            group.pending_sync.discard(member_id)
            return respond(
                SyncResult(NONE, group.protocol_type, group.protocol, member.assignment.data)
            )
        if rule != PARK:
            return respond(SyncResult(rule))
        self._answer_sync(member, SyncResult("rebalance_in_progress"))  # a stale duplicate
        member.awaiting_sync = respond
        group.pending_sync.discard(member_id)
        if member_id != group.leader:
            return
        assignments = assignments or {}
        missing = [m for m in group.members if m not in assignments]
        if missing:
            log.warning(
                "group '%s': leader gave no assignment to %s; they get an empty one",
                group_id,
                missing,
            )
        for m in group.members.values():
            m.assignment = assignments.get(m.member_id, Assignment(b""))
        self._save_group(group)
        group.transition_to(STABLE, f"assignment received from leader {member_id}", self.now_ms())
        for m in group.members.values():
            self._answer_sync(
                m, SyncResult(NONE, group.protocol_type, group.protocol, m.assignment.data)
            )
        if not group.pending_sync:
            self.timers.cancel(f"sync-{group_id}")

    # --- Heartbeat and LeaveGroup -----------------------------------------------------------------

    def heartbeat(
        self, group_id: str, generation: int, member_id: str, group_instance_id: str | None = None
    ) -> str:
        if not group_id:
            return "invalid_group_id"
        group = self.groups.get(group_id)
        if group is None:
            return "unknown_member_id"
        error = self._validate_member(group, member_id, group_instance_id)
        if error:
            return error
        if generation != group.generation:
            return "illegal_generation"
        rule = STATE_RULES[group.state]["heartbeat"]
        if group.state in (PREPARING, COMPLETING, STABLE):
            self._schedule_heartbeat(group, group.members[member_id])
        return NONE if rule == OK else rule

    def leave_group(
        self, group_id: str, members: list[tuple[str, str | None]]
    ) -> tuple[str, list[str]]:
        """Remove members ``(member id, instance id)``; returns the group-level error and one
        error per member."""
        if not group_id:
            return "invalid_group_id", ["invalid_group_id"] * len(members)
        group = self.groups.get(group_id)
        if group is None:
            return "unknown_member_id", ["unknown_member_id"] * len(members)
        if group.state is DEAD:
            return "coordinator_not_available", ["coordinator_not_available"] * len(members)
        errors, removed = [], []
        for member_id, instance_id in members:
            if instance_id is not None and member_id == "":
                member_id = group.static_members.get(instance_id, "")
            if member_id in group.pending_members:
                group.pending_members.discard(member_id)
                self.timers.cancel(f"pending-{group_id}-{member_id}")
                errors.append(NONE)
                removed.append(member_id)
                continue
            error = self._validate_member(group, member_id, instance_id)
            errors.append(error or NONE)
            if not error:
                self._remove_member(group, member_id, "left the group")
                removed.append(member_id)
        if removed:
            self._after_removal(group, f"member(s) {', '.join(removed)} left the group")
        return NONE, errors

    # --- members ----------------------------------------------------------------------------------

    def _validate_member(self, group: Group, member_id: str, instance_id: str | None) -> str | None:
        if group.state is DEAD:
            return "coordinator_not_available"
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is None:
                return "unknown_member_id"
            if known != member_id:
                return "fenced_instance_id"
        if member_id not in group.members:
            return "unknown_member_id"
        return None

    def _schedule_heartbeat(self, group: Group, member: Member) -> None:
        member_id = member.member_id
        self.timers.schedule(
            f"heartbeat-{group.group_id}-{member_id}",
            member.session_timeout_ms,
            lambda: self._on_heartbeat_expired(group, member_id),
        )

    def _on_heartbeat_expired(self, group: Group, member_id: str) -> None:
        member = group.members.get(member_id) if self._alive(group) else None
        if member is None:
            return
        if member.awaiting_join is not None or member.awaiting_sync is not None:
            # A parked request counts as a heartbeat (Kafka's hasSatisfiedHeartbeat).
            return self._schedule_heartbeat(group, member)
        self._remove_member(
            group, member_id, f"no heartbeat for {member.session_timeout_ms} ms (session timeout)"
        )
        self._after_removal(group, f"member {member_id} expired")

    def _expire_pending(self, group: Group, member_id: str) -> None:
        if self._alive(group) and member_id in group.pending_members:
            group.pending_members.discard(member_id)
            log.info("group '%s': pending member %s never rejoined", group.group_id, member_id)
            self._try_complete_join(group)

    def _remove_member(
        self, group: Group, member_id: str, reason: str, error: str = "unknown_member_id"
    ) -> None:
        """Drop a member; the caller decides what the group does next (``_after_removal``)."""
        member = group.members.pop(member_id)
        self.timers.cancel(f"heartbeat-{group.group_id}-{member_id}")
        self._answer_join(member, JoinResult(error, member_id))
        self._answer_sync(member, SyncResult(error))
        if member.group_instance_id is not None:
            group.static_members.pop(member.group_instance_id, None)
        group.pending_sync.discard(member_id)
        if group.leader == member_id:
            group.leader = next(iter(group.members), None)
        log.info("group '%s': member %s removed (%s)", group.group_id, member_id, reason)

    def _after_removal(self, group: Group, reason: str) -> None:
        if group.state in (STABLE, COMPLETING):
            self._prepare_rebalance(group, reason)
        elif group.state is PREPARING:
            self._try_complete_join(group)

    @staticmethod
    def _answer_join(member: Member, result: JoinResult) -> None:
        respond, member.awaiting_join = member.awaiting_join, None
        if respond is not None:
            respond(result)

    @staticmethod
    def _answer_sync(member: Member, result: SyncResult) -> None:
        respond, member.awaiting_sync = member.awaiting_sync, None
        if respond is not None:
            respond(result)

    def _alive(self, group: Group) -> bool:
        return self.groups.get(group.group_id) is group

    def _save_group(self, group: Group) -> None:
        """A GroupMetadata record, as Kafka writes one: the members with the chosen protocol's
        subscription and their assignments."""
        value = GroupValue(
            protocol_type=group.protocol_type or "",
            generation=group.generation,
            protocol=group.protocol,
            leader=group.leader if group.members else None,
            current_state_timestamp=group.state_since_ms,
            members=tuple(
                MemberValue(
                    m.member_id,
                    m.group_instance_id,
                    m.client_id,
                    m.client_host,
                    m.rebalance_timeout_ms,
                    m.session_timeout_ms,
                    m.metadata(group.protocol),
                    m.assignment.data,
                )
                for m in group.members.values()
            ),
        )
        try:
            self.store.save_group(group.group_id, value)
        except OSError as e:
            log.error("group '%s': cannot persist group metadata: %s", group.group_id, e)

    # --- offsets ----------------------------------------------------------------------------------

    def commit_offsets(
        self,
        group_id: str,
        generation: int,
        member_id: str,
        offsets: list[OffsetCommitEntry],
        *,
        group_instance_id: str | None = None,
        group_id_not_found: bool = True,
    ) -> list[str]:
        """One error code per entry. ``group_id_not_found``: what a member commit to an unknown
        group gets — GROUP_ID_NOT_FOUND from OffsetCommit v9, ILLEGAL_GENERATION before."""
        if not group_id:
            return ["invalid_group_id"] * len(offsets)
        group = self.groups.get(group_id)
        if group is None:
            if generation >= 0:
                error = "group_id_not_found" if group_id_not_found else "illegal_generation"
                return [error] * len(offsets)
            # A "simple" group: the AdminClient or a consumer that assigns partitions itself.
            group = self.groups[group_id] = Group(group_id, self.now_ms())
        error = self._validate_commit(group, generation, member_id, group_instance_id)
        if error:
            return [error] * len(offsets)
        member = group.members.get(member_id)
        if member is not None and group.state in (STABLE, PREPARING):
            self._schedule_heartbeat(group, member)  # a commit keeps the session alive
        now = self.now_ms()
        errors: list[str] = []
        accepted: dict[tuple[str, int], CommittedOffset] = {}
        for e in offsets:
            topic = self.cluster.topics.get(e.topic)
            if topic is None or self.cluster.partition(e.topic, e.partition) is None:
                errors.append("unknown_topic_or_partition")
            elif e.metadata is not None and len(e.metadata) > MAX_METADATA_CHARS:
                errors.append("offset_metadata_too_large")
            else:
                errors.append(NONE)
                accepted[(e.topic, e.partition)] = CommittedOffset(
                    e.offset, e.leader_epoch, e.metadata or "", now
                )
        try:
            self.store.commit(group_id, accepted)
        except OSError as exc:
            log.error("group '%s': cannot write committed offsets: %s", group_id, exc)
            errors = ["coordinator_not_available" if x == NONE else x for x in errors]
        return errors

    def txn_commit_offsets(
        self,
        group_id: str,
        producer_id: int,
        producer_epoch: int,
        generation: int,
        member_id: str,
        offsets: list[OffsetCommitEntry],
        *,
        group_instance_id: str | None = None,
    ) -> list[str]:
        """TxnOffsetCommit: one error code per entry. The offsets are written as part of the
        producer's transaction and become visible to the group only with its COMMIT marker.
        A producer that sends no group metadata (generation -1, no member) is not checked
        against the group's members, as in Kafka's validateOffsetCommit."""
        if not group_id:
            return ["invalid_group_id"] * len(offsets)
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = Group(group_id, self.now_ms())
        anonymous = generation < 0 and not member_id and group_instance_id is None
        if not anonymous:
            error = self._validate_commit(group, generation, member_id, group_instance_id)
            if error:
                return [error] * len(offsets)
        elif group.state is DEAD:
            return ["coordinator_not_available"] * len(offsets)
        now = self.now_ms()
        errors: list[str] = []
        accepted: dict[tuple[str, int], CommittedOffset] = {}
        for e in offsets:
            if self.cluster.partition(e.topic, e.partition) is None:
                errors.append("unknown_topic_or_partition")
            elif e.metadata is not None and len(e.metadata) > MAX_METADATA_CHARS:
                errors.append("offset_metadata_too_large")
            else:
                errors.append(NONE)
                accepted[(e.topic, e.partition)] = CommittedOffset(
                    e.offset, e.leader_epoch, e.metadata or "", now
                )
        try:
            self.store.txn_commit(group_id, producer_id, producer_epoch, accepted)
        except OSError as exc:
            log.error("group '%s': cannot write transactional offsets: %s", group_id, exc)
            errors = ["coordinator_not_available" if x == NONE else x for x in errors]
        return errors

    def has_pending_offsets(self, group_id: str, topic: str, partition: int) -> bool:
        """An open transaction holds an uncommitted offset for this partition (OffsetFetch
        with require_stable answers UNSTABLE_OFFSET_COMMIT then, KIP-447)."""
        return self.store.has_pending(group_id, (topic, partition))

    def _validate_commit(
        self, group: Group, generation: int, member_id: str, instance_id: str | None
    ) -> str | None:
        """ClassicGroup.validateOffsetCommit."""
        if group.state is DEAD:
            return "coordinator_not_available"
        if generation < 0 and group.state is EMPTY:
            return None  # simple/admin commit to a group without members
        if generation >= 0 or member_id or instance_id is not None:
            error = self._validate_member(group, member_id, instance_id)
            if error:
                return error
            if generation != group.generation:
                return "illegal_generation"
        elif group.state is not EMPTY:
            return "unknown_member_id"
        rule = STATE_RULES[group.state]["commit"]
        return None if rule == OK else rule

    def fetch_offsets(
        self, group_id: str, partitions: list[tuple[str, int]] | None
    ) -> list[tuple[str, int, CommittedOffset | None]]:
        """Committed offsets (None: nothing committed); ``partitions=None`` means all."""
        committed = self._live_offsets(group_id)
        if partitions is None:
            return [(t, p, o) for (t, p), o in sorted(committed.items())]
        return [(t, p, committed.get((t, p))) for t, p in partitions]

    def _live_offsets(self, group_id: str) -> dict[tuple[str, int], CommittedOffset]:
        """A group's offsets, minus those of partitions that no longer exist (deleting a topic
        writes their tombstones; this catches what a crash in between left behind)."""
        offsets = self.store.group_offsets(group_id)
        stale = [(t, p) for t, p in offsets if self.cluster.partition(t, p) is None]
        if stale:
            try:
                self.store.delete(group_id, stale)
            except OSError as e:
                log.warning("group '%s': cannot forget offsets of deleted topics: %s", group_id, e)
                return {tp: o for tp, o in offsets.items() if tp not in stale}
        return dict(offsets)

    def delete_offsets(
        self, group_id: str, partitions: list[tuple[str, int]]
    ) -> tuple[str, list[str]]:
        """OffsetDelete: group-level error and one error per partition."""
        group = self.groups.get(group_id)
        if group is None or group.state is DEAD:
            return "group_id_not_found", []
        if group.state is not EMPTY and group.protocol_type != CONSUMER_PROTOCOL:
            return "non_empty_group", []
        errors, doomed = [], []
        for t, p in partitions:
            if self.cluster.partition(t, p) is None:
                errors.append("unknown_topic_or_partition")
            elif group.is_subscribed(t):
                errors.append("group_subscribed_to_topic")
            else:
                errors.append(NONE)
                doomed.append((t, p))
        try:
            self.store.delete(group_id, doomed)
        except OSError as e:
            log.error("group '%s': cannot delete offsets: %s", group_id, e)
            return "coordinator_not_available", []
        return NONE, errors

    # --- admin ------------------------------------------------------------------------------------

    def list_groups(
        self,
        node_id: int | None = None,
        states: set[str] | None = None,
        types: set[str] | None = None,
    ) -> list[tuple[str, str, str, str]]:
        """``(group id, protocol type, state, group type)`` of the groups ``node_id``
        coordinates (all when None). Filters are lower-case, empty means no filter."""
        if types and GROUP_TYPE not in types:
            return []
        out = []
        for g in self.groups.values():
            if node_id is not None and not self.is_coordinator(g.group_id, node_id):
                continue
            if states and g.state.value.lower() not in states:
                continue
            out.append((g.group_id, g.protocol_type or "", g.state.value, GROUP_TYPE))
        return out

    def describe_group(self, group_id: str) -> GroupDescription:
        """Kafka's describe: metadata and assignments only when Stable; unknown groups are Dead."""
        group = self.groups.get(group_id)
        if group is None:
            return GroupDescription(group_id, DEAD.value, "", "", ())
        stable = group.state is STABLE
        members = tuple(
            MemberDescription(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                m.metadata(group.protocol) if stable else b"",
                m.assignment.data if stable else b"",
            )
            for m in group.members.values()
        )
        return GroupDescription(
            group_id,
            group.state.value,
            group.protocol_type or "",
            (group.protocol or "") if stable else "",
            members,
        )

    def delete_groups(self, group_ids: list[str]) -> list[str]:
        errors = []
        for group_id in group_ids:
            group = self.groups.get(group_id)
            if not group_id:
                errors.append("invalid_group_id")
            elif group is None or group.state is DEAD:
                errors.append("group_id_not_found")
            elif group.state is not EMPTY:
                errors.append("non_empty_group")
            else:
                try:
                    self.store.delete_group(group_id)
                except OSError as e:
                    log.error("group '%s': cannot delete: %s", group_id, e)
                    errors.append("coordinator_not_available")
                    continue
                group.transition_to(DEAD, "deleted", self.now_ms())
                self.timers.cancel(f"join-{group_id}")
                self.timers.cancel(f"sync-{group_id}")
                del self.groups[group_id]
                errors.append(NONE)
        return errors

    # --- observability ----------------------------------------------------------------------------

    def snapshot(self) -> list[dict]:
        """Every group with its members, assignments, committed offsets and lag (plain dicts)."""
        out = []
        for g in sorted(self.groups.values(), key=lambda g: g.group_id):
            offsets, total = [], 0
            for (t, p), o in sorted(self._live_offsets(g.group_id).items()):
                part = self.cluster.partition(t, p)
                end = part.log.end_offset if part is not None else None
                lag = max(end - o.offset, 0) if end is not None and o.offset >= 0 else None
                total += lag or 0
                offsets.append(
                    {
                        "topic": t,
                        "partition": p,
                        "committed": o.offset,
                        "end_offset": end,
                        "lag": lag,
                    }
                )
            out.append(
                {
                    "group_id": g.group_id,
                    "state": g.state.value,
                    "protocol_type": g.protocol_type or "",
                    "protocol": g.protocol or "",
                    "generation": g.generation,
                    "leader": g.leader or "",
                    "coordinator": self.coordinator_id(g.group_id),
                    "members": [
                        {
                            "member_id": m.member_id,
                            "group_instance_id": m.group_instance_id,
                            "client_id": m.client_id,
                            "client_host": m.client_host,
                            "assignment": [
                                {"topic": t, "partitions": list(ps)}
                                for t, ps in (m.assignment.partitions or ())
                            ],
                        }
                        for m in g.members.values()
                    ],
                    "offsets": offsets,
                    "lag": total,
                }
            )
        return out
