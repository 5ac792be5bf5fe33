"""Classic consumer groups and committed offsets: the state behind APIs 8-16, 42 and 47.

Modelled on Kafka's ``ClassicGroupState``/``ClassicGroup``/``GroupMetadataManager``. The broker
never looks inside member metadata or assignments (the assignor runs in the leader client); the
handlers in ``apis/groups.py`` decode them only for display. Nothing here knows about kio or
sockets: requests come in as plain values, answers go out as result objects or error-code names
(kio ``ErrorCode`` member names, ``"none"`` for success). Requests that must wait (a JoinGroup
during a rebalance, a follower's SyncGroup before the leader's) take a ``respond`` callback that
is called exactly once, now or later, like Kafka's response futures.

Modules: ``state.py`` (states, the rules table, groups, members, values in and out),
``coordinator.py`` (``GroupCoordinator``, the operations), ``timers.py``, ``records.py``
(Kafka's ``__consumer_offsets`` keys, values and batches, and which partition holds a group) and
``storage.py`` (writes them to that internal topic before a change is acknowledged, replays it
on start). A group's coordinator is the leader of its ``__consumer_offsets`` partition.
Transactions live next door: ``transactions.py`` (``TransactionCoordinator``: transactional ids,
epochs and fencing, commit/abort with markers, timeouts) and ``txn_records.py`` (Kafka's
``__transaction_state`` records); TxnOffsetCommit offsets wait in ``storage.py`` as
transactional records until their transaction's marker.

Group states (each state's answers are the data in ``state.STATE_RULES``)::

    Empty                no members; offsets kept. A join -> PreparingRebalance.
    PreparingRebalance   joins are parked until every known member rejoined (or the rebalance
                         timeout, the largest of the members', removes those that did not);
                         heartbeats and syncs get REBALANCE_IN_PROGRESS.
                         -> CompletingRebalance (members left) or Empty (nobody left).
    CompletingRebalance  joins answered (generation + 1, protocol chosen by vote, the leader gets
                         every member's metadata); followers' syncs parked until the leader's
                         SyncGroup brings the assignment; commits get REBALANCE_IN_PROGRESS.
                         -> Stable, or back to PreparingRebalance on a join/leave/expiry.
    Stable               heartbeats, syncs and commits answered normally.
                         -> PreparingRebalance on a leader rejoin, changed metadata, a new
                         member, a leave or a session expiry.
    Dead                 deleted; only passed through (the group is dropped right after).

Timers are named as in Kafka ("heartbeat-<group>-<member>", "join-<group>", "sync-<group>",
"pending-<group>-<member>"): ``LoopTimers`` on the broker's event loop, ``ManualTimers`` in unit
tests, which move time by hand. Committed offsets and group generations survive restarts; members
are recorded (as Kafka does) but not restored: groups come back Empty, as after a Kafka
coordinator failover once the members' sessions expired.

Static membership (group.instance.id) is supported minimally: a static member skips the
MEMBER_ID_REQUIRED round trip, and a join with a known instance id replaces (fences) the old
member id and triggers an ordinary rebalance (Kafka avoids that rebalance; we do not).
"""

from streamlab.kafka.coordinator.coordinator import GroupCoordinator
from streamlab.kafka.coordinator.state import (
    CONSUMER_PROTOCOL,
    Assignment,
    GroupState,
    JoinRequest,
    JoinResult,
    OffsetCommitEntry,
    Protocol,
    SyncResult,
)
from streamlab.kafka.coordinator.timers import LoopTimers, ManualTimers

__all__ = [
    "CONSUMER_PROTOCOL",
    "Assignment",
    "GroupCoordinator",
    "GroupState",
    "JoinRequest",
    "JoinResult",
    "LoopTimers",
    "ManualTimers",
    "OffsetCommitEntry",
    "Protocol",
    "SyncResult",
]
