"""ListOffsets (2): earliest (-2), latest (-1; the last stable offset for READ_COMMITTED),
max timestamp (-3), or by timestamp."""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from streamlab.kafka.apis import ApiKey, RequestContext, handles

EARLIEST, LATEST, MAX_TIMESTAMP = -2, -1, -3


@handles(ApiKey.LIST_OFFSETS)
async def list_offsets(ctx: RequestContext, req) -> object:
    committed = int(getattr(req, "isolation_level", 0)) == 1  # READ_COMMITTED
    topics = []
    for t in req.topics:
        parts = []
        for lp in t.partitions:
            p = ctx.cluster.partition(t.name, lp.partition_index)

            def answer(code, ts=-1, offset=-1, epoch=-1, lp=lp):
                return ctx.new(
                    "ListOffsetsPartitionResponse",
                    partition_index=lp.partition_index,
                    error_code=code,
                    timestamp=ts,
                    offset=offset,
                    leader_epoch=epoch,
                )

            if p is None:
                parts.append(answer(ErrorCode.unknown_topic_or_partition))
                continue
            if p.leader != ctx.node_id:
                parts.append(answer(ErrorCode.not_leader_or_follower))
                continue
            requested = int(getattr(lp, "current_leader_epoch", -1))
            if requested >= 0 and requested != p.leader_epoch:
                parts.append(
                    answer(
                        ErrorCode.fenced_leader_epoch
                        if requested < p.leader_epoch
                        else ErrorCode.unknown_leader_epoch
                    )
                )
                continue
            ts = int(lp.timestamp)
            if ts == EARLIEST:
                parts.append(answer(ErrorCode.none, -1, p.log.log_start_offset, p.leader_epoch))
            elif ts == LATEST:
                # READ_COMMITTED sees the end as the last stable offset
                end = p.log.last_stable_offset if committed else p.log.end_offset
                parts.append(answer(ErrorCode.none, -1, end, p.leader_epoch))
            elif ts == MAX_TIMESTAMP:
                offset, found_ts = p.log.max_timestamp()
                parts.append(answer(ErrorCode.none, found_ts, offset, p.leader_epoch))
            elif ts < 0:
                parts.append(answer(ErrorCode.unsupported_version))
            else:
                offset, found_ts = p.log.offset_for_timestamp(ts)
                epoch = p.leader_epoch if offset >= 0 else -1
                parts.append(answer(ErrorCode.none, found_ts, offset, epoch))
        topics.append(ctx.new("ListOffsetsTopicResponse", name=t.name, partitions=tuple(parts)))
    return ctx.response(topics=tuple(topics))
