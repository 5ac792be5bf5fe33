"""Configs: DescribeConfigs (32), AlterConfigs (33) and IncrementalAlterConfigs (44).

Topic configs are described, altered and persisted (``cluster.alter_topic_configs``); broker
configs are described (as static, read-only values reflecting how the emulator was started) and
refused for alteration. Every requested resource is answered (research note §1.6 trap 3).
Checks and messages follow Kafka 4's ConfigHelper and ConfigAdminManager.
"""

from __future__ import annotations

from collections import Counter

from kio.schema.errors import ErrorCode

from streamlab.kafka import configs
from streamlab.kafka.apis import ApiKey, RequestContext, handles
from streamlab.kafka.cluster import TopicError, validate_topic_name

# ConfigResource.Type ids
TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP = 2, 4, 8, 16, 32
TYPE_NAMES = {
    TOPIC: "TOPIC",
    BROKER: "BROKER",
    BROKER_LOGGER: "BROKER_LOGGER",
    CLIENT_METRICS: "CLIENT_METRICS",
    GROUP: "GROUP",
}


class _Refused(Exception):
    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- DescribeConfigs ------------------------------------------------------------------------------


@handles(ApiKey.DESCRIBE_CONFIGS)
async def describe_configs(ctx: RequestContext, req) -> object:
    synonyms = bool(getattr(req, "include_synonyms", False))
    results = []
    for r in req.resources:
        rtype, name = int(r.resource_type), r.resource_name
        keys = list(r.configuration_keys) if r.configuration_keys else None
        try:
            entries = _describe(ctx, rtype, name, keys)
            code, message = ErrorCode.none, None
        except _Refused as e:
            entries, code, message = [], ErrorCode[e.code], e.message
        results.append(
            ctx.new(
                "DescribeConfigsResult",
                error_code=code,
                error_message=message,
                resource_type=rtype,
                resource_name=name,
                configs=tuple(_entry(ctx, e, synonyms) for e in entries),
            )
        )
    return ctx.response(results=tuple(results))


def _describe(ctx: RequestContext, rtype: int, name: str, keys) -> list[configs.ConfigEntry]:
    if rtype == TOPIC:
        _check_topic_name(name)
        topic = ctx.cluster.topics.get(name)
        if topic is None:
            raise _Refused("unknown_topic_or_partition")
        return configs.describe_topic(topic.configs, keys)
    if rtype == BROKER:
        if not name:
            return []  # cluster-wide dynamic defaults: none are set here
        if _broker_id(name) != ctx.node_id:
            raise _Refused(
                "invalid_request",
                f"Unexpected broker id, expected {ctx.node_id} or empty string, but received "
                f"{name}",
            )
        return configs.describe_broker(_broker_values(ctx), keys)
    raise _Refused("invalid_request", f"Unsupported resource type: {_type_name(rtype)}")


def _entry(ctx: RequestContext, e: configs.ConfigEntry, synonyms: bool):
    return ctx.new(
        "DescribeConfigsResourceResult",
        name=e.name,
        value=e.value,
        read_only=e.read_only,
        config_source=e.source,
        is_sensitive=e.sensitive,
        synonyms=tuple(
            ctx.new("DescribeConfigsSynonym", name=n, value=v, source=s) for n, v, s in e.synonyms
        )
        if synonyms
        else (),
        config_type=e.type_id,
        documentation=None,
    )


def _broker_values(ctx: RequestContext) -> dict[str, str]:
    em, broker = ctx.emulator, ctx.cluster.brokers[ctx.node_id]
    return configs.broker_values(
        ctx.node_id,
        broker.host,
        broker.port,
        ctx.cluster.auto_create,
        ctx.cluster.num_partitions,
        em.sasl_users is not None,
    )


# --- AlterConfigs (legacy: replaces the whole set) -----------------------------------------------


@handles(ApiKey.ALTER_CONFIGS)
async def alter_configs(ctx: RequestContext, req) -> object:
    def change(r) -> None:
        _check_keys(r.configs, lambda c: c.value is None)
        wanted = {c.name: c.value for c in r.configs}
        if int(r.resource_type) == TOPIC:
            _topic(ctx, r.resource_name)
            ctx.cluster.alter_topic_configs(r.resource_name, wanted, bool(req.validate_only))
        else:
            _refuse_non_topic(ctx, int(r.resource_type), r.resource_name, list(wanted))

    return ctx.response(responses=_alter_each(ctx, req.resources, change))


# --- IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT) ------------------------------------


@handles(ApiKey.INCREMENTAL_ALTER_CONFIGS)
async def incremental_alter_configs(ctx: RequestContext, req) -> object:
    def change(r) -> None:
        _check_keys(r.configs, lambda c: c.value is None and c.config_operation != configs.DELETE)
        for c in r.configs:
            if int(c.config_operation) not in configs.OP_NAMES:
                raise _Refused("invalid_request", f"Unknown operations type {c.config_operation}")
        ops = [(c.name, int(c.config_operation), c.value) for c in r.configs]
        if int(r.resource_type) == TOPIC:
            topic = _topic(ctx, r.resource_name)
            try:
                new = configs.incremental_alter(topic.configs, ops)
            except configs.ConfigError as e:
                raise _Refused("invalid_config", str(e)) from None
            ctx.cluster.alter_topic_configs(topic.name, new, bool(req.validate_only))
        else:
            names = [c.name for c in r.configs]
            _refuse_non_topic(ctx, int(r.resource_type), r.resource_name, names)

    return ctx.response(responses=_alter_each(ctx, req.resources, change))


# --- shared ---------------------------------------------------------------------------------------


def _alter_each(ctx: RequestContext, resources, change) -> tuple:
    """Run ``change`` per resource, answering every one; a resource named twice is refused."""
    counts = Counter((int(r.resource_type), r.resource_name) for r in resources)
    out = []
    for r in resources:
        try:
            if counts[(int(r.resource_type), r.resource_name)] > 1:
                raise _Refused("invalid_request", "Each resource must appear at most once.")
            change(r)
            code, message = ErrorCode.none, None
        except _Refused as e:
            code, message = ErrorCode[e.code], e.message
        except TopicError as e:
            code, message = ErrorCode[e.code], str(e)
        out.append(
            ctx.new(
                "AlterConfigsResourceResponse",
                error_code=code,
                error_message=message,
                resource_type=r.resource_type,
                resource_name=r.resource_name,
            )
        )
    return tuple(out)


def _check_keys(entries, is_null) -> None:
    names = [c.name for c in entries]
    if len(set(names)) != len(names):
        raise _Refused("invalid_request", "Error due to duplicate config keys")
    nulls = [c.name for c in entries if is_null(c)]
    if nulls:
        raise _Refused("invalid_request", f"Null value not supported for : {', '.join(nulls)}")


def _check_topic_name(name: str) -> None:
    if not name:
        raise _Refused("invalid_request", "Default topic resources are not allowed.")
    validate_topic_name(name)  # TopicError -> INVALID_TOPIC_EXCEPTION


def _topic(ctx: RequestContext, name: str):
    _check_topic_name(name)
    topic = ctx.cluster.topics.get(name)
    if topic is None:
        raise _Refused(
            "unknown_topic_or_partition", "This server does not host this topic-partition."
        )
    return topic


def _refuse_non_topic(ctx: RequestContext, rtype: int, name: str, names: list[str]) -> None:
    if rtype != BROKER:
        raise _Refused("invalid_request", f"Unknown resource type {rtype}")
    if name and _broker_id(name) != ctx.node_id:
        raise _Refused(
            "invalid_request", f"Unexpected broker id, expected {ctx.node_id}, but received {name}"
        )
    # Kafka refuses configs that are not dynamically updatable with these words; here every
    # broker config is static (set when the emulator starts).
    listed = ", ".join(sorted(names))
    raise _Refused(
        "invalid_request",
        f"Cannot update these configs dynamically: Set({listed}) (broker configs are read-only "
        "in the streamlab emulator; set them when starting it)",
    )


def _broker_id(name: str) -> int:
    try:
        return int(name)
    except ValueError:
        raise _Refused(
            "invalid_request", f"Broker id must be an integer, but it is: {name}"
        ) from None


def _type_name(rtype: int) -> str:
    return TYPE_NAMES.get(rtype, str(rtype))
