"""Metadata (3): brokers, controller, topics and partition leaders; auto-creates topics.

Auto-creation follows Kafka: only for a named topic, when the request allows it (librdkafka's
producers and its producer-type AdminClient do; consumers only with allow.auto.create.topics)
and the broker's auto.create.topics.enable is on.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from streamlab.kafka.apis import ApiKey, RequestContext, handles
from streamlab.kafka.cluster import OFFSETS_TOPIC, TopicError, validate_topic_name

# Kafka's AclOperation codes, as bit positions in the *_authorized_operations bitfields.
TOPIC_OPS = (
    3,
    4,
    5,
    6,
    7,
    8,
    10,
    11,
)  # read write create delete alter describe (alter|describe)_configs
CLUSTER_OPS = (
    5,
    7,
    8,
    9,
    10,
    11,
    12,
)  # create alter describe cluster_action ...configs idempotent_write
OPS_OMITTED = -(2**31)


def _bits(ops: tuple[int, ...]) -> int:
    return sum(1 << op for op in ops)


@handles(ApiKey.METADATA)
async def metadata(ctx: RequestContext, req) -> object:
    cluster = ctx.cluster
    brokers = tuple(
        ctx.new("MetadataResponseBroker", node_id=b.node_id, host=b.host, port=b.port, rack=b.rack)
        for b in cluster.live_brokers()
    )
    allow_create = getattr(req, "allow_auto_topic_creation", True) and cluster.auto_create
    want_ops = getattr(req, "include_topic_authorized_operations", False)

    if req.topics is None:  # all topics; never auto-creates
        wanted = [(name, None) for name in sorted(cluster.topics)]
    else:
        wanted = []
        for t in req.topics:
            name = getattr(t, "name", None)
            topic_id = getattr(t, "topic_id", None)
            if name is None and topic_id is not None:
                found = cluster.topic_by_id(topic_id)
                wanted.append((found.name if found else None, topic_id))
            else:
                wanted.append((name, topic_id))

    topics = []
    for name, topic_id in wanted:
        topic = cluster.topics.get(name) if name is not None else None
        if topic is None and name is not None and allow_create:
            try:
                validate_topic_name(name)
                if name == OFFSETS_TOPIC:  # Kafka creates the internal topic, not a plain one
                    cluster.offsets_topic()
                else:
                    cluster.create_topic(name)
                # Kafka 4.x creates the topic asynchronously and answers this first request
                # UNKNOWN_TOPIC_OR_PARTITION; the client asks again and finds it.
                code = ErrorCode.unknown_topic_or_partition
            except TopicError as e:
                code = ErrorCode[e.code]
            topics.append(_topic_error(ctx, name, topic_id, code))
            continue
        if topic is None:
            code = (
                ErrorCode.unknown_topic_id if name is None else ErrorCode.unknown_topic_or_partition
            )
            if name is not None:
                try:
                    validate_topic_name(name)
                except TopicError:
                    code = ErrorCode.invalid_topic_exception
            topics.append(_topic_error(ctx, name, topic_id, code))
            continue
        partitions = []
        for p in topic.partitions:
            replicas = cluster.replicas(topic, p.index)
            isr = cluster.in_sync(topic, p.index)
            leader = p.leader if p.leader is not None else -1
            partitions.append(
                ctx.new(
                    "MetadataResponsePartition",
                    error_code=ErrorCode.none if leader >= 0 else ErrorCode.leader_not_available,
                    partition_index=p.index,
                    leader_id=leader,
                    leader_epoch=p.leader_epoch,
                    replica_nodes=tuple(replicas),
                    isr_nodes=tuple(isr),
                    offline_replicas=tuple(r for r in replicas if r not in isr),
                )
            )
        topics.append(
            ctx.new(
                "MetadataResponseTopic",
                error_code=ErrorCode.none,
                name=topic.name,
                topic_id=topic.topic_id,
                is_internal=topic.internal,
                partitions=tuple(partitions),
                topic_authorized_operations=_bits(TOPIC_OPS) if want_ops else OPS_OMITTED,
            )
        )
    want_cluster_ops = getattr(req, "include_cluster_authorized_operations", False)
    return ctx.response(
        brokers=brokers,
        cluster_id=cluster.cluster_id,
        controller_id=cluster.controller_id,
        topics=tuple(topics),
        cluster_authorized_operations=_bits(CLUSTER_OPS) if want_cluster_ops else OPS_OMITTED,
        error_code=ErrorCode.none,
    )


def _topic_error(ctx: RequestContext, name, topic_id, code: ErrorCode):
    import uuid

    return ctx.new(
        "MetadataResponseTopic",
        error_code=code,
        name=name,
        topic_id=topic_id or uuid.UUID(int=0),
        partitions=(),
        topic_authorized_operations=OPS_OMITTED,
    )
