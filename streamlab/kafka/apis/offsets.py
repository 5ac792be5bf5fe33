"""Offset APIs: OffsetCommit (8), OffsetFetch (9), OffsetDelete (47).

Thin translations to ``GroupCoordinator.commit_offsets / fetch_offsets / delete_offsets``.
OffsetFetch comes in two shapes: one group per request (v0-7) and a batch of groups (v8+, what
librdkafka 2.16 sends as v9).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from streamlab.kafka.apis import ApiKey, RequestContext, handles
from streamlab.kafka.apis.groups import not_coordinator
from streamlab.kafka.coordinator import OffsetCommitEntry


def _by_topic(items):
    """[(topic, payload)] -> [(topic, [payload, ...])] keeping first-seen topic order."""
    grouped: dict[str, list] = {}
    for topic, payload in items:
        grouped.setdefault(topic, []).append(payload)
    return list(grouped.items())


@handles(ApiKey.OFFSET_COMMIT)
async def offset_commit(ctx: RequestContext, req) -> object:
    entries = [
        OffsetCommitEntry(
            t.name,
            int(p.partition_index),
            int(p.committed_offset),
            int(getattr(p, "committed_leader_epoch", -1)),
            p.committed_metadata or "",
        )
        for t in req.topics
        for p in t.partitions
    ]
    if not_coordinator(ctx, req.group_id):
        errors = ["not_coordinator"] * len(entries)
    else:
        errors = ctx.emulator.coordinator.commit_offsets(
            req.group_id,
            int(req.generation_id_or_member_epoch),
            req.member_id,
            entries,
            group_instance_id=getattr(req, "group_instance_id", None),
            group_id_not_found=ctx.api_version >= 9,
        )
    topics = [
        ctx.new(
            "OffsetCommitResponseTopic",
            name=topic,
            partitions=tuple(
                ctx.new(
                    "OffsetCommitResponsePartition",
                    partition_index=e.partition,
                    error_code=ErrorCode[error],
                )
                for e, error in parts
            ),
        )
        for topic, parts in _by_topic(
            (e.topic, (e, err)) for e, err in zip(entries, errors, strict=True)
        )
    ]
    return ctx.response(topics=tuple(topics))


def _fetch_group(
    ctx: RequestContext, group_id: str, topics, batched: bool, require_stable: bool = False
):
    """(error, [(topic, [partition entity, ...])]) for one group of an OffsetFetch."""
    partition_entity = (
        "OffsetFetchResponsePartitions" if batched else "OffsetFetchResponsePartition"
    )
    requested = None
    if topics is not None:
        requested = [(t.name, int(p)) for t in topics for p in t.partition_indexes]
    if not_coordinator(ctx, group_id):
        error = ErrorCode.not_coordinator
        found = [(t, p, None) for t, p in requested or []]
    else:
        error = ErrorCode.none
        found = ctx.emulator.coordinator.fetch_offsets(group_id, requested)

    coordinator = ctx.emulator.coordinator

    def entity(t: str, p: int, o, partition_error: ErrorCode):
        # KIP-447: an offset still pending in an open transaction is not handed out.
        pending = require_stable and error == ErrorCode.none
        if pending and coordinator.has_pending_offsets(group_id, t, p):
            partition_error, o = ErrorCode.unstable_offset_commit, None
        return ctx.new(
            partition_entity,
            partition_index=p,
            committed_offset=o.offset if o else -1,
            committed_leader_epoch=o.leader_epoch if o else -1,
            metadata=o.metadata if o else "",
            error_code=partition_error,
        )

    # v0/v1 have no group-level error code: the error goes on every partition.
    partition_error = error if ctx.api_version < 2 else ErrorCode.none
    return error, _by_topic((t, entity(t, p, o, partition_error)) for t, p, o in found)


@handles(ApiKey.OFFSET_FETCH)
async def offset_fetch(ctx: RequestContext, req) -> object:
    if ctx.api_version >= 8:
        groups = []
        for g in req.groups:
            error, topics = _fetch_group(
                ctx, g.group_id, g.topics, True, bool(getattr(req, "require_stable", False))
            )
            groups.append(
                ctx.new(
                    "OffsetFetchResponseGroup",
                    group_id=g.group_id,
                    error_code=error,
                    topics=tuple(
                        ctx.new("OffsetFetchResponseTopics", name=name, partitions=tuple(parts))
                        for name, parts in topics
                    ),
                )
            )
        return ctx.response(groups=tuple(groups))
    error, topics = _fetch_group(
        ctx, req.group_id, req.topics, False, bool(getattr(req, "require_stable", False))
    )
    return ctx.response(
        error_code=error,
        topics=tuple(
            ctx.new("OffsetFetchResponseTopic", name=name, partitions=tuple(parts))
            for name, parts in topics
        ),
    )


@handles(ApiKey.OFFSET_DELETE)
async def offset_delete(ctx: RequestContext, req) -> object:
    requested = [(t.name, int(p.partition_index)) for t in req.topics for p in t.partitions]
    if not_coordinator(ctx, req.group_id):
        error, errors = "not_coordinator", []
    else:
        error, errors = ctx.emulator.coordinator.delete_offsets(req.group_id, requested)
    if error != "none":
        return ctx.response(error_code=ErrorCode[error], topics=())
    topics = [
        ctx.new(
            "OffsetDeleteResponseTopic",
            name=topic,
            partitions=tuple(
                ctx.new(
                    "OffsetDeleteResponsePartition",
                    partition_index=p,
                    error_code=ErrorCode[err],
                )
                for p, err in parts
            ),
        )
        for topic, parts in _by_topic(
            (t, (p, err)) for (t, p), err in zip(requested, errors, strict=True)
        )
    ]
    return ctx.response(error_code=ErrorCode.none, topics=tuple(topics))
