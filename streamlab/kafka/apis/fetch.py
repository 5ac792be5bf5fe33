"""Fetch (1): whole batches from the requested offsets, with long-poll.

The answer goes out as soon as at least ``min_bytes`` are ready or ``max_wait`` has passed;
an append to any requested partition wakes the waiting fetch (librdkafka's mock does not do
this, Kafka does). The first partition with data always gets at least one whole batch, even if
it is larger than the limits (KIP-74).
"""

from __future__ import annotations

import asyncio
import uuid

from kio.schema.errors import ErrorCode

from streamlab.kafka.apis import ApiKey, RequestContext, handles
from streamlab.kafka.protocol.batches import iter_batches

READ_COMMITTED = 1


@handles(ApiKey.FETCH)
async def fetch(ctx: RequestContext, req) -> object:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, req.max_wait.total_seconds())
    min_bytes = max(1, int(req.min_bytes))
    while True:
        responses, total, logs, errored = _collect(ctx, req)
        remaining = deadline - loop.time()
        if total >= min_bytes or errored or remaining <= 0 or not logs:
            return ctx.response(error_code=ErrorCode.none, session_id=0, responses=responses)
        fut = loop.create_future()
        for plog in logs:
            plog.add_waiter(fut)
        try:
            await asyncio.wait_for(fut, remaining)
        except TimeoutError:
            pass


def _collect(ctx: RequestContext, req):
    cluster = ctx.cluster
    by_id = ctx.api_version >= 13
    max_bytes = int(req.max_bytes) if int(req.max_bytes) > 0 else 2**31 - 1
    read_committed = int(getattr(req, "isolation_level", 0)) == READ_COMMITTED
    total = 0
    logs = []
    errored = False
    responses = []
    for t in req.topics:
        if by_id:
            topic = cluster.topic_by_id(t.topic_id)
            # Kafka: UNKNOWN_TOPIC_ID only for an unknown id, not for a known id's unknown partition
            missing = ErrorCode.unknown_topic_or_partition if topic else ErrorCode.unknown_topic_id
        else:
            topic = cluster.topics.get(t.topic)
            missing = ErrorCode.unknown_topic_or_partition
        parts = []
        for fp in t.partitions:
            p = None
            if topic is not None and 0 <= fp.partition < len(topic.partitions):
                p = topic.partitions[fp.partition]

            def answer(code, records=b"", aborted=(), p=p, fp=fp):  # never null records
                plog = p.log if p is not None else None
                hw = plog.end_offset if plog else -1
                return ctx.new(
                    "PartitionData",
                    partition_index=fp.partition,
                    error_code=code,
                    high_watermark=hw,
                    last_stable_offset=plog.last_stable_offset if plog else -1,
                    log_start_offset=plog.log_start_offset if plog else -1,
                    aborted_transactions=aborted if read_committed else None,
                    preferred_read_replica=-1,
                    records=records,
                )

            if p is None:
                parts.append(answer(missing))
                errored = True
                continue
            if p.leader != ctx.node_id:
                parts.append(answer(ErrorCode.not_leader_or_follower))
                errored = True
                continue
            epoch = int(getattr(fp, "current_leader_epoch", -1))
            if epoch >= 0 and epoch != p.leader_epoch:
                code = (
                    ErrorCode.fenced_leader_epoch
                    if epoch < p.leader_epoch
                    else ErrorCode.unknown_leader_epoch
                )
                parts.append(answer(code))
                errored = True
                continue
            plog = p.log
            offset = int(fp.fetch_offset)
            if offset < plog.log_start_offset or offset > plog.end_offset:
                parts.append(answer(ErrorCode.offset_out_of_range))
                errored = True
                continue
            logs.append(plog)
            budget = min(int(fp.partition_max_bytes), max_bytes - total)
            records = b""
            # READ_COMMITTED reads stop at the last stable offset (open transactions).
            limit = plog.last_stable_offset if read_committed else None
            if offset < plog.end_offset:
                # KIP-74: the first partition with data gets at least one batch
                records = plog.read(offset, budget if total > 0 else max(budget, 1), limit)
                if total > 0 and len(records) > budget:
                    records = b""
            aborted = ()
            if read_committed and records and plog.aborted:
                upper = max(h.next_offset for _, h in iter_batches(records))
                aborted = tuple(
                    ctx.new("AbortedTransaction", producer_id=pid, first_offset=first)
                    for pid, first in plog.aborted_between(offset, upper)
                )
            total += len(records)
            parts.append(answer(ErrorCode.none, records, aborted))
        if by_id:
            responses.append(
                ctx.new(
                    "FetchableTopicResponse",
                    topic_id=t.topic_id or uuid.UUID(int=0),
                    partitions=tuple(parts),
                )
            )
        else:
            responses.append(
                ctx.new("FetchableTopicResponse", topic=t.topic, partitions=tuple(parts))
            )
    return tuple(responses), total, logs, errored
