"""Produce (0). (InitProducerId lives with the transaction APIs.)

A batch is appended as the producer sent it (see protocol/batches.py). Errors per partition are
Kafka's: unknown partition, not the leader, too few in-sync replicas for acks=all, a corrupt or
oversized batch, a timestamp too far in the future, an idempotence sequence gap. acks=0 gets no
response at all.
"""

from __future__ import annotations

import datetime
import logging
import time

from kio.schema.errors import ErrorCode

from streamlab.kafka.apis import ApiKey, RequestContext, handles
from streamlab.kafka.log import InvalidBatch, ProduceError
from streamlab.kafka.protocol.batches import HEADER_SIZE, LOG_OVERHEAD, InvalidRecords

log = logging.getLogger("streamlab.kafka")


@handles(ApiKey.PRODUCE)
async def produce(ctx: RequestContext, req) -> object | None:
    acks = int(req.acks)
    topics = []
    for t in req.topic_data:
        parts = []
        for pd in t.partition_data:
            parts.append(_produce_partition(ctx, t.name, pd, acks))
        topics.append(
            ctx.new("TopicProduceResponse", name=t.name, partition_responses=tuple(parts))
        )
    if acks == 0:
        return None
    return ctx.response(responses=tuple(topics))


def _produce_partition(ctx: RequestContext, topic_name: str, pd, acks: int):
    def answer(
        code: ErrorCode,
        base_offset: int = -1,
        append_time=None,
        start: int = -1,
        message: str | None = None,
    ):
        return ctx.new(
            "PartitionProduceResponse",
            index=pd.index,
            error_code=code,
            base_offset=base_offset,
            log_append_time=append_time,
            log_start_offset=start,
            record_errors=(),
            error_message=message,
        )

    if acks not in (-1, 0, 1):
        return answer(ErrorCode.invalid_required_acks)
    topic = ctx.cluster.topics.get(topic_name)
    p = ctx.cluster.partition(topic_name, pd.index)
    if topic is None or p is None:
        return answer(ErrorCode.unknown_topic_or_partition)
    try:
        # KafkaApis checks the record set's shape before the replica manager sees it.
        records = _the_batch(bytes(pd.records or b""))
    except ProduceError as e:
        log.warning("produce from %s to %s-%d refused: %s", ctx.client_id, topic_name, pd.index, e)
        return answer(ErrorCode[e.code])  # Kafka sends no message for these
    if topic.internal and ctx.client_id != "__admin_client":
        # Kafka's ReplicaManager: "Cannot append to internal topic" (no message on the wire);
        # only the group coordinator writes there (and Kafka's own tools, by that client id).
        return answer(ErrorCode.invalid_topic_exception)
    if p.leader != ctx.node_id:
        return answer(ErrorCode.not_leader_or_follower)
    if acks == -1 and len(ctx.cluster.in_sync(topic, p.index)) < int(
        topic.config("min.insync.replicas")
    ):
        return answer(ErrorCode.not_enough_replicas)
    refused = _check_transactional(ctx, records, topic_name, pd.index)
    if refused is not None:
        return answer(ErrorCode[refused[0]], message=refused[1])
    max_bytes = int(topic.config("max.message.bytes"))
    if len(records) > max_bytes + 12 and _largest_batch(records) > max_bytes:
        return answer(
            ErrorCode.message_too_large, message=f"batch larger than max.message.bytes={max_bytes}"
        )
    now_ms = int(time.time() * 1000)
    log_append = topic.config("message.timestamp.type") == "LogAppendTime"
    try:
        if not log_append:
            _check_timestamps(records, topic, now_ms)
        result = p.log.append(
            records,
            p.leader_epoch,
            now_ms if log_append else None,
            compacted="compact" in topic.config("cleanup.policy"),
        )
    except InvalidBatch as e:
        log.warning("produce from %s to %s-%d refused: %s", ctx.client_id, topic_name, pd.index, e)
        code = (
            ErrorCode.invalid_record if isinstance(e, InvalidRecords) else ErrorCode.corrupt_message
        )
        return answer(code, message=str(e))
    except ProduceError as e:
        return answer(ErrorCode[e.code], message=str(e))
    append_time = None
    if result.log_append_time >= 0:
        append_time = datetime.datetime.fromtimestamp(result.log_append_time / 1000, datetime.UTC)
    return answer(ErrorCode.none, result.base_offset, append_time, p.log.log_start_offset)


# Kafka's walk over a record set (ByteBufferLogInputStream): a size below the smallest legacy
# record, or a magic byte no format has, is corrupt; a batch that does not fit is not seen.
_MIN_RECORD_SIZE = 14  # LegacyRecord.RECORD_OVERHEAD_V0
_MAGIC_AT = 16  # BaseOffset(8) BatchLength(4) PartitionLeaderEpoch(4), then Magic


def _the_batch(records: bytes) -> bytes:
    """The one whole batch of a partition's record set, checked as Kafka's
    ``ProduceRequest.validateRecords`` does (produce v3+ carries exactly one magic-2 batch).

    Raises ``ProduceError``: corrupt_message for sizes or magic bytes no batch can have,
    invalid_record for no whole batch (cut short), more than one, or a legacy magic. Bytes after
    the whole batch (a torn second one) are dropped, as Kafka's log trims them. The CRC and the
    rest of the header are checked on append (``batches.split``).
    """
    whole: list[tuple[int, int]] = []  # (length, magic)
    pos, end = 0, len(records)
    while end - pos >= LOG_OVERHEAD:
        size = int.from_bytes(records[pos + 8 : pos + 12], "big", signed=True)
        magic = int.from_bytes(records[pos + _MAGIC_AT : pos + _MAGIC_AT + 1], "big", signed=True)
        if size < _MIN_RECORD_SIZE:
            raise ProduceError(
                "corrupt_message",
                f"record size {size} is less than the minimum record overhead "
                f"{_MIN_RECORD_SIZE} (magic {magic})",
            )
        if end - pos < LOG_OVERHEAD + size:
            break
        if not 0 <= magic <= 2:
            raise ProduceError("corrupt_message", f"invalid magic {magic} in record batch")
        whole.append((LOG_OVERHEAD + size, magic))
        pos += LOG_OVERHEAD + size
    if not whole:
        if end == 0:
            problem = "empty record set"
        elif end < HEADER_SIZE:
            problem = f"trailing {end} bytes are not a whole batch header"
        else:
            size = int.from_bytes(records[8:12], "big", signed=True)
            problem = f"batch length {LOG_OVERHEAD + size} does not fit the {end} bytes left"
        raise ProduceError("invalid_record", f"no whole record batch: {problem}")
    if len(whole) > 1:
        raise ProduceError("invalid_record", f"{len(whole)} record batches, Kafka takes one")
    length, magic = whole[0]
    if magic != 2:
        raise ProduceError("invalid_record", f"record batch magic {magic} is not supported (v2)")
    return records[:length]


def _largest_batch(records: bytes) -> int:
    from streamlab.kafka.protocol.batches import iter_batches

    return max((h.length - 12 for _, h in iter_batches(records)), default=len(records))


def _check_timestamps(records: bytes, topic, now_ms: int) -> None:
    from streamlab.kafka.protocol.batches import iter_batches

    after = int(topic.config("message.timestamp.after.max.ms"))
    for _, h in iter_batches(records):
        if h.max_timestamp > now_ms + after:
            raise ProduceError(
                "invalid_timestamp",
                f"timestamp {h.max_timestamp} is more than {after} ms in the future",
            )


def _check_transactional(ctx: RequestContext, records: bytes, topic: str, index: int):
    """(error, message) for batches Kafka refuses before appending: control batches from a
    client, and transactional batches for a partition their transaction has not added
    (Kafka 4.x verifies this with the coordinator, KIP-890 part 1)."""
    from streamlab.kafka.protocol.batches import iter_batches

    for _, h in iter_batches(bytes(records)):
        if h.is_control:
            return "invalid_record", "Clients are not allowed to write control records"
        if h.is_transactional:
            error = ctx.emulator.transactions.verify(
                h.producer_id, h.producer_epoch, (topic, index)
            )
            if error != "none":
                return error, f"producer {h.producer_id}: no open transaction with this partition"
    return None
