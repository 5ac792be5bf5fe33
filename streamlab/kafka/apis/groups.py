"""Group APIs: FindCoordinator (10), JoinGroup (11), Heartbeat (12), LeaveGroup (13),
SyncGroup (14), DescribeGroups (15), ListGroups (16), DeleteGroups (42).

Thin translations between kio entities and ``streamlab.kafka.coordinator``: each handler checks
request-level conditions (is this broker the group's coordinator?), makes one coordinator call
and encodes the answer. Requests the coordinator parks (JoinGroup, SyncGroup) are awaited here;
the connection serves nothing else meanwhile, as on Kafka. Consumer-protocol metadata and
assignments stay opaque bytes on the wire; they are decoded (kio's consumer_protocol_* schemas)
only so the coordinator can show assignments and know subscribed topics.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from functools import cache

from kio.schema.errors import ErrorCode
from kio.serial import entity_reader

from streamlab.kafka.apis import ApiKey, RequestContext, handles
from streamlab.kafka.coordinator import (
    CONSUMER_PROTOCOL,
    Assignment,
    JoinRequest,
    Protocol,
)

KEY_TYPE_GROUP, KEY_TYPE_TRANSACTION = 0, 1
# Kafka's AclOperation codes allowed on a group: READ (3), DELETE (6), DESCRIBE (8).
GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)


def _ms(value) -> int:
    if isinstance(value, datetime.timedelta):
        return round(value / datetime.timedelta(milliseconds=1))
    return int(value)


def _client_host(ctx: RequestContext) -> str:
    # Kafka prints the client address as InetAddress.toString(): "/127.0.0.1".
    return "/" + ctx.conn.peer.rsplit(":", 1)[0]


def not_coordinator(ctx: RequestContext, group_id: str) -> bool:
    return not ctx.emulator.coordinator.is_coordinator(group_id, ctx.node_id)


async def _parked(start: Callable[[Callable], None]):
    """Run a coordinator call that answers through a callback, now or later."""
    fut = asyncio.get_running_loop().create_future()

    def respond(result) -> None:
        if not fut.done():
            fut.set_result(result)

    start(respond)
    return await fut


# --- consumer protocol (display only) -------------------------------------------------------------


@cache
def _data_schema(kind: str, version: int):
    import importlib

    module = importlib.import_module(f"kio.schema.consumer_protocol_{kind}.v{version}.data")
    return getattr(module, f"ConsumerProtocol{kind.capitalize()}")


def _decode(kind: str, data: bytes):
    """A versioned consumer-protocol blob (int16 version, then the body), or None. Newer
    versions than kio knows are read with its newest one: later versions only append fields."""
    if len(data) < 2:
        return None
    version = min(int.from_bytes(data[:2], "big", signed=True), 3)
    if version < 0:
        return None
    try:
        value, _ = entity_reader(_data_schema(kind, version))(data, 2)
    except Exception:
        return None
    return value


def _subscribed_topics(protocol_type: str, metadata: bytes) -> frozenset[str] | None:
    if protocol_type != CONSUMER_PROTOCOL:
        return None
    sub = _decode("subscription", metadata)
    return None if sub is None else frozenset(str(t) for t in sub.topics)


def _assignment(data: bytes) -> Assignment:
    value = _decode("assignment", data)
    if value is None:
        return Assignment(data)
    parts = tuple(
        (str(tp.topic), tuple(int(p) for p in tp.partitions)) for tp in value.assigned_partitions
    )
    return Assignment(data, parts)


# --- FindCoordinator ------------------------------------------------------------------------------


def _find(ctx: RequestContext, key_type: int, key: str):
    """(error, message, broker or None)"""
    if key_type == KEY_TYPE_TRANSACTION:
        # The leader of the id's __transaction_state partition (created on first use). Kafka
        # answers an empty id too; InitProducerId refuses it.
        broker = ctx.cluster.txn_coordinator_for(key)
        if broker is None:
            return ErrorCode.coordinator_not_available, "The coordinator is not available.", None
        return ErrorCode.none, None, broker
    if key_type != KEY_TYPE_GROUP:
        return ErrorCode.invalid_request, f"Unsupported key type {key_type}.", None
    # The leader of the group's __consumer_offsets partition (the topic is created on first use).
    broker = ctx.cluster.coordinator_for(key)
    if broker is None:
        return ErrorCode.coordinator_not_available, "The coordinator is not available.", None
    return ErrorCode.none, None, broker


@handles(ApiKey.FIND_COORDINATOR)
async def find_coordinator(ctx: RequestContext, req) -> object:
    key_type = int(getattr(req, "key_type", KEY_TYPE_GROUP))
    if ctx.api_version >= 4:  # batched: one answer per key
        coordinators = []
        for key in req.coordinator_keys:
            code, message, b = _find(ctx, key_type, key)
            coordinators.append(
                ctx.new(
                    "Coordinator",
                    key=key,
                    node_id=b.node_id if b else -1,
                    host=b.host if b else "",
                    port=b.port if b else -1,
                    error_code=code,
                    error_message=message,
                )
            )
        return ctx.response(coordinators=tuple(coordinators))
    code, message, b = _find(ctx, key_type, req.key)
    return ctx.response(
        error_code=code,
        error_message=message,
        node_id=b.node_id if b else -1,
        host=b.host if b else "",
        port=b.port if b else -1,
    )


# --- JoinGroup / SyncGroup / Heartbeat / LeaveGroup -----------------------------------------------


@handles(ApiKey.JOIN_GROUP)
async def join_group(ctx: RequestContext, req) -> object:
    if not_coordinator(ctx, req.group_id):
        return ctx.response(error_code=ErrorCode.not_coordinator, member_id=req.member_id)
    request = JoinRequest(
        group_id=req.group_id,
        member_id=req.member_id,
        protocol_type=req.protocol_type,
        protocols=tuple(
            Protocol(p.name, bytes(p.metadata), _subscribed_topics(req.protocol_type, p.metadata))
            for p in req.protocols
        ),
        session_timeout_ms=_ms(req.session_timeout),
        rebalance_timeout_ms=_ms(getattr(req, "rebalance_timeout", -1)),
        group_instance_id=getattr(req, "group_instance_id", None),
        client_id=ctx.client_id or "",
        client_host=_client_host(ctx),
        require_known_member_id=ctx.api_version >= 4,
    )
    coordinator = ctx.emulator.coordinator
    result = await _parked(lambda respond: coordinator.join_group(request, respond))
    nullable = ctx.api_version >= 7  # protocol name became nullable in v7
    return ctx.response(
        error_code=ErrorCode[result.error],
        generation_id=result.generation,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol if nullable else (result.protocol or ""),
        leader=result.leader,
        member_id=result.member_id,
        members=tuple(
            ctx.new(
                "JoinGroupResponseMember",
                member_id=member_id,
                group_instance_id=instance_id,
                metadata=metadata,
            )
            for member_id, instance_id, metadata in result.members
        ),
    )


@handles(ApiKey.SYNC_GROUP)
async def sync_group(ctx: RequestContext, req) -> object:
    if not_coordinator(ctx, req.group_id):
        return ctx.response(error_code=ErrorCode.not_coordinator, assignment=b"")
    assignments = {a.member_id: _assignment(bytes(a.assignment)) for a in req.assignments}
    coordinator = ctx.emulator.coordinator
    result = await _parked(
        lambda respond: coordinator.sync_group(
            req.group_id,
            int(req.generation_id),
            req.member_id,
            respond,
            group_instance_id=getattr(req, "group_instance_id", None),
            protocol_type=getattr(req, "protocol_type", None),
            protocol=getattr(req, "protocol_name", None),
            assignments=assignments,
        )
    )
    return ctx.response(
        error_code=ErrorCode[result.error],
        protocol_type=result.protocol_type,
        protocol_name=result.protocol,
        assignment=result.assignment,
    )


@handles(ApiKey.HEARTBEAT)
async def heartbeat(ctx: RequestContext, req) -> object:
    if not_coordinator(ctx, req.group_id):
        return ctx.response(error_code=ErrorCode.not_coordinator)
    error = ctx.emulator.coordinator.heartbeat(
        req.group_id,
        int(req.generation_id),
        req.member_id,
        getattr(req, "group_instance_id", None),
    )
    return ctx.response(error_code=ErrorCode[error])


@handles(ApiKey.LEAVE_GROUP)
async def leave_group(ctx: RequestContext, req) -> object:
    batched = ctx.api_version >= 3
    if batched:
        members = [(m.member_id, getattr(m, "group_instance_id", None)) for m in req.members]
    else:
        members = [(req.member_id, None)]
    if not_coordinator(ctx, req.group_id):
        error, errors = "not_coordinator", []
    else:
        error, errors = ctx.emulator.coordinator.leave_group(req.group_id, members)
    if not batched:
        # v0-2 name one member: its outcome is the answer.
        return ctx.response(error_code=ErrorCode[error if error != "none" else errors[0]])
    return ctx.response(
        error_code=ErrorCode[error],
        members=tuple(
            ctx.new(
                "MemberResponse",
                member_id=member_id,
                group_instance_id=instance_id,
                error_code=ErrorCode[member_error],
            )
            for (member_id, instance_id), member_error in zip(members, errors, strict=False)
        ),
    )


# --- admin: DescribeGroups / ListGroups / DeleteGroups --------------------------------------------


@handles(ApiKey.DESCRIBE_GROUPS)
async def describe_groups(ctx: RequestContext, req) -> object:
    coordinator = ctx.emulator.coordinator
    with_ops = bool(getattr(req, "include_authorized_operations", False))
    groups = []
    for group_id in req.groups:
        if not_coordinator(ctx, group_id):
            groups.append(
                ctx.new(
                    "DescribedGroup",
                    error_code=ErrorCode.not_coordinator,
                    group_id=group_id,
                    members=(),
                )
            )
            continue
        d = coordinator.describe_group(group_id)
        groups.append(
            ctx.new(
                "DescribedGroup",
                error_code=ErrorCode.none,
                group_id=group_id,
                group_state=d.state,
                protocol_type=d.protocol_type,
                protocol_data=d.protocol,
                members=tuple(
                    ctx.new(
                        "DescribedGroupMember",
                        member_id=m.member_id,
                        group_instance_id=m.group_instance_id,
                        client_id=m.client_id,
                        client_host=m.client_host,
                        member_metadata=m.metadata,
                        member_assignment=m.assignment,
                    )
                    for m in d.members
                ),
                authorized_operations=GROUP_OPERATIONS if with_ops else -(2**31),
            )
        )
    return ctx.response(groups=tuple(groups))


@handles(ApiKey.LIST_GROUPS)
async def list_groups(ctx: RequestContext, req) -> object:
    states = {s.lower() for s in getattr(req, "states_filter", ())}
    types = {t.lower() for t in getattr(req, "types_filter", ())}
    listed = ctx.emulator.coordinator.list_groups(ctx.node_id, states, types)
    return ctx.response(
        error_code=ErrorCode.none,
        groups=tuple(
            ctx.new(
                "ListedGroup",
                group_id=group_id,
                protocol_type=protocol_type,
                group_state=state,
                group_type=group_type,
            )
            for group_id, protocol_type, state, group_type in listed
        ),
    )


@handles(ApiKey.DELETE_GROUPS)
async def delete_groups(ctx: RequestContext, req) -> object:
    # Every requested group is echoed: librdkafka aborts the process otherwise.
    coordinator = ctx.emulator.coordinator
    names = list(req.groups_names)
    mine = [g for g in names if not not_coordinator(ctx, g)]
    errors = dict(zip(mine, coordinator.delete_groups(mine), strict=True))
    return ctx.response(
        results=tuple(
            ctx.new(
                "DeletableGroupResult",
                group_id=g,
                error_code=ErrorCode[errors.get(g, "not_coordinator")],
            )
            for g in names
        )
    )
