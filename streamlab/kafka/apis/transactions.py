"""Transaction APIs: InitProducerId (22), AddPartitionsToTxn (24), AddOffsetsToTxn (25),
EndTxn (26), TxnOffsetCommit (28).

Thin translations to ``coordinator.transactions.TransactionCoordinator`` (and, for
TxnOffsetCommit, the group coordinator). Versions that predate KIP-588 get
INVALID_PRODUCER_EPOCH where newer ones get PRODUCER_FENCED, as Kafka's request classes do.
"""

from __future__ import annotations

import datetime

from kio.schema.errors import ErrorCode

from streamlab.kafka.apis import ApiKey, RequestContext, handles
from streamlab.kafka.apis.groups import not_coordinator
from streamlab.kafka.cluster import INTERNAL_TOPICS
from streamlab.kafka.coordinator import OffsetCommitEntry

# First version of each API that may carry PRODUCER_FENCED (KIP-588).
_FENCED_SINCE = {
    ApiKey.INIT_PRODUCER_ID: 4,
    ApiKey.ADD_PARTITIONS_TO_TXN: 2,
    ApiKey.ADD_OFFSETS_TO_TXN: 2,
    ApiKey.END_TXN: 2,
    ApiKey.TXN_OFFSET_COMMIT: 3,
}


def _code(ctx: RequestContext, error: str) -> ErrorCode:
    if error == "producer_fenced" and ctx.api_version < _FENCED_SINCE[ApiKey(ctx.api_key)]:
        error = "invalid_producer_epoch"
    return ErrorCode[error]


def _ms(value) -> int:
    if isinstance(value, datetime.timedelta):
        return round(value / datetime.timedelta(milliseconds=1))
    return int(value)


def _txn_not_coordinator(ctx: RequestContext, transactional_id: str) -> bool:
    return not ctx.emulator.transactions.is_coordinator(transactional_id, ctx.node_id)


@handles(ApiKey.INIT_PRODUCER_ID)
async def init_producer_id(ctx: RequestContext, req) -> object:
    pid, epoch = int(getattr(req, "producer_id", -1)), int(getattr(req, "producer_epoch", -1))
    txn_id = req.transactional_id
    if txn_id is None:
        # Idempotent producer: a new id, or (KIP-360) the next epoch of the one it has.
        if pid >= 0 and 0 <= epoch < 32767:
            return ctx.response(
                error_code=ErrorCode.none, producer_id=pid, producer_epoch=epoch + 1
            )
        return ctx.response(
            error_code=ErrorCode.none,
            producer_id=ctx.cluster.allocate_producer_id(),
            producer_epoch=0,
        )
    if txn_id and _txn_not_coordinator(ctx, txn_id):
        return ctx.response(error_code=ErrorCode.not_coordinator, producer_id=-1, producer_epoch=-1)
    result = ctx.emulator.transactions.init_producer_id(
        txn_id, _ms(req.transaction_timeout), pid, epoch
    )
    return ctx.response(
        error_code=_code(ctx, result.error),
        producer_id=result.producer_id,
        producer_epoch=result.producer_epoch,
    )


@handles(ApiKey.ADD_PARTITIONS_TO_TXN)
async def add_partitions_to_txn(ctx: RequestContext, req) -> object:
    txn_id = req.v3_and_below_transactional_id
    topics = [(t.name, [int(p) for p in t.partitions]) for t in req.v3_and_below_topics]
    requested = [(name, p) for name, parts in topics for p in parts]
    # Kafka's KafkaApis: internal topics (refused by name, whether or not they exist yet: no
    # client may write them) and unknown partitions fail alone, the others are not attempted.
    refused = {}
    for tp in requested:
        if tp[0] in INTERNAL_TOPICS:
            refused[tp] = "topic_authorization_failed"
        elif ctx.cluster.partition(*tp) is None:
            refused[tp] = "unknown_topic_or_partition"
    if refused:
        errors = {tp: refused.get(tp, "operation_not_attempted") for tp in requested}
    else:
        if txn_id and _txn_not_coordinator(ctx, txn_id):
            error = "not_coordinator"
        else:
            error = ctx.emulator.transactions.add_partitions(
                txn_id,
                int(req.v3_and_below_producer_id),
                int(req.v3_and_below_producer_epoch),
                requested,
            )
        errors = dict.fromkeys(requested, error)
    return ctx.response(
        results_by_topic_v3_and_below=tuple(
            ctx.new(
                "AddPartitionsToTxnTopicResult",
                name=name,
                results_by_partition=tuple(
                    ctx.new(
                        "AddPartitionsToTxnPartitionResult",
                        partition_index=p,
                        partition_error_code=_code(ctx, errors[(name, p)]),
                    )
                    for p in parts
                ),
            )
            for name, parts in topics
        )
    )


@handles(ApiKey.ADD_OFFSETS_TO_TXN)
async def add_offsets_to_txn(ctx: RequestContext, req) -> object:
    if req.transactional_id and _txn_not_coordinator(ctx, req.transactional_id):
        return ctx.response(error_code=ErrorCode.not_coordinator)
    error = ctx.emulator.transactions.add_offsets(
        req.transactional_id, int(req.producer_id), int(req.producer_epoch), req.group_id
    )
    return ctx.response(error_code=_code(ctx, error))


@handles(ApiKey.END_TXN)
async def end_txn(ctx: RequestContext, req) -> object:
    if req.transactional_id and _txn_not_coordinator(ctx, req.transactional_id):
        return ctx.response(error_code=ErrorCode.not_coordinator)
    error = ctx.emulator.transactions.end_txn(
        req.transactional_id, int(req.producer_id), int(req.producer_epoch), bool(req.committed)
    )
    return ctx.response(error_code=_code(ctx, error))


@handles(ApiKey.TXN_OFFSET_COMMIT)
async def txn_offset_commit(ctx: RequestContext, req) -> object:
    from streamlab.kafka.coordinator.records import OFFSETS_TOPIC, partition_for

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
    pid, epoch = int(req.producer_id), int(req.producer_epoch)
    if not_coordinator(ctx, req.group_id):
        errors = ["not_coordinator"] * len(entries)
    else:
        # KIP-890 part 1: the group's partition must be in the producer's transaction.
        n = len(ctx.cluster.offsets_topic().partitions)
        tp = (OFFSETS_TOPIC, partition_for(req.group_id, n))
        verified = ctx.emulator.transactions.verify(pid, epoch, tp)
        if verified != "none":
            errors = [verified] * len(entries)
        else:
            errors = ctx.emulator.coordinator.txn_commit_offsets(
                req.group_id,
                pid,
                epoch,
                int(getattr(req, "generation_id", -1)),
                getattr(req, "member_id", ""),
                entries,
                group_instance_id=getattr(req, "group_instance_id", None),
            )
    by_topic: dict[str, list] = {}
    for e, error in zip(entries, errors, strict=True):
        by_topic.setdefault(e.topic, []).append(
            ctx.new(
                "TxnOffsetCommitResponsePartition",
                partition_index=e.partition,
                error_code=_code(ctx, error),
            )
        )
    return ctx.response(
        topics=tuple(
            ctx.new("TxnOffsetCommitResponseTopic", name=name, partitions=tuple(parts))
            for name, parts in by_topic.items()
        )
    )
