"""Topic administration: CreateTopics (19), DeleteTopics (20), DeleteRecords (21),
CreatePartitions (37) and DescribeCluster (60).

Every requested item gets an answer, in request order (librdkafka asserts otherwise and takes
the client process down, research note §1.6 trap 3). Errors and their messages are Kafka's
(KRaft controller: ControllerApis / ReplicationControlManager). Controller-bound calls are
answered on any broker: the cluster state is shared, as if every broker forwarded to the
controller the way Kafka 4 brokers do.
"""

from __future__ import annotations

import uuid
from collections import Counter

from kio.schema.errors import ErrorCode

from streamlab.kafka import configs
from streamlab.kafka.apis import ApiKey, RequestContext, handles
from streamlab.kafka.apis.metadata import CLUSTER_OPS, OPS_OMITTED, _bits
from streamlab.kafka.cluster import TopicError

ZERO_UUID = uuid.UUID(int=0)
BROKERS_ENDPOINT, CONTROLLERS_ENDPOINT = 1, 2  # DescribeCluster v1 endpoint_type


# --- CreateTopics ---------------------------------------------------------------------------------


@handles(ApiKey.CREATE_TOPICS)
async def create_topics(ctx: RequestContext, req) -> object:
    counts = Counter(t.name for t in req.topics)
    results, seen = [], set()
    for t in req.topics:
        if t.name in seen:
            continue  # Kafka answers a duplicated name once, with INVALID_REQUEST
        seen.add(t.name)
        if counts[t.name] > 1:
            results.append(_create_error(ctx, t.name, "invalid_request", "Duplicate topic name."))
            continue
        try:
            results.append(_create_one(ctx, t, bool(req.validate_only)))
        except TopicError as e:
            results.append(_create_error(ctx, t.name, e.code, str(e)))
    return ctx.response(topics=tuple(results))


def _create_one(ctx: RequestContext, t, validate_only: bool):
    nulls = [c.name for c in t.configs if c.value is None]
    if nulls:
        raise TopicError(
            "invalid_config", f"Null value not supported for topic configs: {','.join(nulls)}"
        )
    partitions, rf = int(t.num_partitions), int(t.replication_factor)
    if t.assignments:
        partitions, rf = _manual_assignment(ctx, t)
    requested = {c.name: c.value for c in t.configs}
    topic = ctx.cluster.create_topic(t.name, partitions, rf, requested, validate_only)
    if topic is None:  # validate_only: report what would have been created
        partitions = ctx.cluster.num_partitions if partitions == -1 else partitions
        rf = 1 if rf == -1 else rf
        explicit = configs.validate_topic_configs(requested)
        topic_id = ZERO_UUID
    else:
        partitions, rf = len(topic.partitions), topic.replication_factor
        explicit, topic_id = topic.configs, topic.topic_id
    # v5+ also returns the new topic's partitions, replication factor and configs
    topic_configs = None
    if ctx.api_version >= 5:
        topic_configs = tuple(
            ctx.new(
                "CreatableTopicConfigs",
                name=e.name,
                value=e.value,
                read_only=e.read_only,
                config_source=e.source,
                is_sensitive=e.sensitive,
            )
            for e in configs.describe_topic(explicit)
        )
    return ctx.new(
        "CreatableTopicResult",
        name=t.name,
        topic_id=topic_id,
        error_code=ErrorCode.none,
        error_message=None,
        num_partitions=partitions,
        replication_factor=rf,
        configs=topic_configs,
    )


def _manual_assignment(ctx: RequestContext, t) -> tuple[int, int]:
    """Validate a manual replica assignment as Kafka does. The emulator places replicas itself
    (every broker shares the log), so only the partition count and replication factor are used."""
    if int(t.replication_factor) != -1:
        raise TopicError(
            "invalid_request",
            "A manual partition assignment was specified, but replication factor was not set "
            "to -1.",
        )
    if int(t.num_partitions) != -1:
        raise TopicError(
            "invalid_request",
            "A manual partition assignment was specified, but numPartitions was not set to -1.",
        )
    indexes = [int(a.partition_index) for a in t.assignments]
    for a in t.assignments:
        if indexes.count(int(a.partition_index)) > 1:
            raise TopicError(
                "invalid_replica_assignment",
                f"Found multiple manual partition assignments for partition {a.partition_index}",
            )
    rf = _check_replicas(ctx, [list(map(int, a.broker_ids)) for a in t.assignments], None)
    if sorted(indexes) != list(range(len(indexes))):
        raise TopicError(
            "invalid_replica_assignment",
            "partitions should be a consecutive 0-based integer sequence",
        )
    return len(indexes), rf


def _check_replicas(ctx: RequestContext, lists: list[list[int]], rf: int | None) -> int:
    """Kafka's validateManualPartitionAssignment over every partition's replica list."""
    for replicas in lists:
        if not replicas:
            raise TopicError(
                "invalid_replica_assignment",
                "The manual partition assignment includes an empty replica list.",
            )
        for b in replicas:
            if b not in ctx.cluster.brokers:
                raise TopicError(
                    "invalid_replica_assignment",
                    f"The manual partition assignment includes broker {b}, but no such broker "
                    "is registered.",
                )
            if replicas.count(b) > 1:
                raise TopicError(
                    "invalid_replica_assignment",
                    f"The manual partition assignment includes the broker {b} more than once.",
                )
        if rf is not None and len(replicas) != rf:
            raise TopicError(
                "invalid_replica_assignment",
                f"The manual partition assignment includes a partition with {len(replicas)} "
                f"replica(s), but this is not consistent with previous partitions, which have "
                f"{rf} replica(s).",
            )
        rf = len(replicas)
    return rf or 1


def _create_error(ctx: RequestContext, name: str, code: str, message: str | None):
    return ctx.new(
        "CreatableTopicResult",
        name=name,
        topic_id=ZERO_UUID,
        error_code=ErrorCode[code],
        error_message=message,
        num_partitions=-1,
        replication_factor=-1,
        configs=None,
    )


# --- DeleteTopics ---------------------------------------------------------------------------------


@handles(ApiKey.DELETE_TOPICS)
async def delete_topics(ctx: RequestContext, req) -> object:
    if ctx.api_version >= 6:
        wanted = [(t.name, t.topic_id or ZERO_UUID) for t in req.topics]
    else:
        wanted = [(name, ZERO_UUID) for name in req.topic_names]
    names = Counter(n for n, i in wanted if n is not None and i == ZERO_UUID)
    ids = Counter(i for n, i in wanted if n is None and i != ZERO_UUID)
    results, answered = [], set()
    for name, topic_id in wanted:
        key = (name, topic_id)
        if key in answered:
            continue
        answered.add(key)

        def answer(code: str, message: str | None = None, name=name, topic_id=topic_id):
            return ctx.new(
                "DeletableTopicResult",
                name=name,
                topic_id=topic_id,
                error_code=ErrorCode[code],
                error_message=message,
            )

        if name is None and topic_id == ZERO_UUID:
            results.append(answer("invalid_request", "Neither topic name nor id were specified."))
        elif name is not None and topic_id != ZERO_UUID:
            results.append(
                answer("invalid_request", "You may not specify both topic name and topic id.")
            )
        elif name is not None and names[name] > 1:
            results.append(answer("invalid_request", "Duplicate topic name."))
        elif name is None and ids[topic_id] > 1:
            results.append(answer("invalid_request", "Duplicate topic id."))
        else:
            results.append(_delete_one(ctx, name, topic_id))
    return ctx.response(responses=tuple(results))


def _delete_one(ctx: RequestContext, name: str | None, topic_id: uuid.UUID):
    topic = ctx.cluster.topics.get(name) if name is not None else ctx.cluster.topic_by_id(topic_id)
    if topic is None:
        code, message = (
            ("unknown_topic_or_partition", "This server does not host this topic-partition.")
            if name is not None
            else ("unknown_topic_id", "This server does not host this topic ID.")
        )
        return ctx.new(
            "DeletableTopicResult",
            name=name,
            topic_id=topic_id,
            error_code=ErrorCode[code],
            error_message=message,
        )
    ctx.cluster.delete_topic(topic.name)
    return ctx.new(
        "DeletableTopicResult",
        name=topic.name,
        topic_id=topic.topic_id,
        error_code=ErrorCode.none,
        error_message=None,
    )


# --- DeleteRecords --------------------------------------------------------------------------------


@handles(ApiKey.DELETE_RECORDS)
async def delete_records(ctx: RequestContext, req) -> object:
    topics = []
    for t in req.topics:
        parts = []
        for dp in t.partitions:
            code, low = _delete_records_one(ctx, t.name, int(dp.partition_index), int(dp.offset))
            parts.append(
                ctx.new(
                    "DeleteRecordsPartitionResult",
                    partition_index=dp.partition_index,
                    low_watermark=low,
                    error_code=code,
                )
            )
        topics.append(ctx.new("DeleteRecordsTopicResult", name=t.name, partitions=tuple(parts)))
    return ctx.response(topics=tuple(topics))


def _delete_records_one(ctx: RequestContext, topic: str, index: int, offset: int):
    """Kafka's Partition.deleteRecordsOnLeader: -1 means the high watermark; anything before the
    log start is a no-op; beyond the high watermark is OFFSET_OUT_OF_RANGE."""
    p = ctx.cluster.partition(topic, index)
    if p is None:
        return ErrorCode.unknown_topic_or_partition, -1
    if ctx.cluster.topics[topic].internal:  # Kafka's ReplicaManager refuses it
        return ErrorCode.invalid_topic_exception, -1
    if p.leader != ctx.node_id:
        return ErrorCode.not_leader_or_follower, -1
    policy = configs.split_list(ctx.cluster.topics[topic].config("cleanup.policy"))
    if "delete" not in policy:
        return ErrorCode.policy_violation, -1
    if offset < -1 or offset > p.log.end_offset:
        return ErrorCode.offset_out_of_range, -1
    return ErrorCode.none, p.log.delete_records(offset)


# --- CreatePartitions -----------------------------------------------------------------------------


@handles(ApiKey.CREATE_PARTITIONS)
async def create_partitions(ctx: RequestContext, req) -> object:
    results = []
    for t in req.topics:
        try:
            _create_partitions_one(ctx, t, bool(req.validate_only))
            code, message = ErrorCode.none, None
        except TopicError as e:
            code, message = ErrorCode[e.code], str(e)
        results.append(
            ctx.new(
                "CreatePartitionsTopicResult", name=t.name, error_code=code, error_message=message
            )
        )
    return ctx.response(results=tuple(results))


def _create_partitions_one(ctx: RequestContext, t, validate_only: bool) -> None:
    topic = ctx.cluster.topics.get(t.name)
    if topic is not None and t.assignments is not None and int(t.count) > len(topic.partitions):
        additional = int(t.count) - len(topic.partitions)
        if len(t.assignments) != additional:
            raise TopicError(
                "invalid_replica_assignment",
                f"Attempted to add {additional} additional partition(s), but only "
                f"{len(t.assignments)} assignment(s) were specified.",
            )
        lists = [list(map(int, a.broker_ids)) for a in t.assignments]
        _check_replicas(ctx, lists, topic.replication_factor)
    ctx.cluster.create_partitions(t.name, int(t.count), validate_only)


# --- DescribeCluster ------------------------------------------------------------------------------


@handles(ApiKey.DESCRIBE_CLUSTER)
async def describe_cluster(ctx: RequestContext, req) -> object:
    cluster = ctx.cluster
    endpoint = int(getattr(req, "endpoint_type", BROKERS_ENDPOINT))
    if endpoint != BROKERS_ENDPOINT:
        # Kafka's AuthHelper.computeDescribeClusterResponse; this endpoint serves brokers only
        if endpoint == CONTROLLERS_ENDPOINT:
            code = ErrorCode.mismatched_endpoint_type
            message = (
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint "
                "of type CONTROLLER"
            )
        else:
            code = ErrorCode.unsupported_endpoint_type
            message = f"Unsupported endpoint type {endpoint}"
        return ctx.response(
            error_code=code,
            error_message=message,
            endpoint_type=endpoint,
            controller_id=-1,
            brokers=(),
            cluster_authorized_operations=OPS_OMITTED,
        )
    want_ops = bool(req.include_cluster_authorized_operations)
    return ctx.response(
        error_code=ErrorCode.none,
        error_message=None,
        endpoint_type=BROKERS_ENDPOINT,
        cluster_id=cluster.cluster_id,
        controller_id=cluster.controller_id,
        brokers=tuple(
            ctx.new(
                "DescribeClusterBroker", broker_id=b.node_id, host=b.host, port=b.port, rack=b.rack
            )
            for b in cluster.live_brokers()
        ),
        cluster_authorized_operations=_bits(CLUSTER_OPS) if want_ops else OPS_OMITTED,
    )
