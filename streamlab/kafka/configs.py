"""Topic and broker configuration names, defaults and validation (a subset of Kafka's)."""

from __future__ import annotations

from dataclasses import dataclass


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ConfigDef:
    name: str
    default: str
    type: str  # string | int | long | double | boolean | list | class | password
    choices: tuple[str, ...] = ()
    sensitive: bool = False

    def validate(self, value: str) -> str:
        if self.type in ("int", "long"):
            try:
                int(value)
            except ValueError:
                raise ConfigError(
                    f"Invalid value {value} for configuration {self.name}: Not a number of type "
                    f"{self.type.upper()}"
                ) from None
        elif self.type == "double":
            try:
                float(value)
            except ValueError:
                raise ConfigError(
                    f"Invalid value {value} for configuration {self.name}: Not a number of type "
                    "DOUBLE"
                ) from None
        elif self.type == "boolean" and value.lower() not in ("true", "false"):
            raise ConfigError(
                f"Invalid value {value} for configuration {self.name}: Expected value to be "
                "either true or false"
            )
        if self.choices:
            items = [v.strip() for v in value.split(",")] if self.type == "list" else [value]
            for item in items:
                if item not in self.choices:
                    raise ConfigError(
                        f"Invalid value {value} for configuration {self.name}: String must be "
                        f"one of: {', '.join(self.choices)}"
                    )
        return value


def _defs(*defs: ConfigDef) -> dict[str, ConfigDef]:
    return {d.name: d for d in defs}


# Defaults as in Apache Kafka 4.x (TopicConfig / LogConfig).
TOPIC_CONFIGS = _defs(
    ConfigDef("cleanup.policy", "delete", "list", ("delete", "compact")),
    ConfigDef(
        "compression.type",
        "producer",
        "string",
        ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
    ),
    ConfigDef("delete.retention.ms", "86400000", "long"),
    ConfigDef("file.delete.delay.ms", "60000", "long"),
    ConfigDef("flush.messages", "9223372036854775807", "long"),
    ConfigDef("flush.ms", "9223372036854775807", "long"),
    ConfigDef("index.interval.bytes", "4096", "int"),
    ConfigDef("max.compaction.lag.ms", "9223372036854775807", "long"),
    ConfigDef("max.message.bytes", "1048588", "int"),
    ConfigDef("message.timestamp.after.max.ms", "3600000", "long"),
    ConfigDef("message.timestamp.before.max.ms", "9223372036854775807", "long"),
    ConfigDef("message.timestamp.type", "CreateTime", "string", ("CreateTime", "LogAppendTime")),
    ConfigDef("min.cleanable.dirty.ratio", "0.5", "double"),
    ConfigDef("min.compaction.lag.ms", "0", "long"),
    ConfigDef("min.insync.replicas", "1", "int"),
    ConfigDef("preallocate", "false", "boolean"),
    ConfigDef("retention.bytes", "-1", "long"),
    ConfigDef("retention.ms", "604800000", "long"),
    ConfigDef("segment.bytes", "1073741824", "int"),
    ConfigDef("segment.index.bytes", "10485760", "int"),
    ConfigDef("segment.jitter.ms", "0", "long"),
    ConfigDef("segment.ms", "604800000", "long"),
    ConfigDef("unclean.leader.election.enable", "false", "boolean"),
)

# A few broker configs, read-only here, so DescribeConfigs on a broker answers something real.
BROKER_CONFIGS = {
    "auto.create.topics.enable": "true",
    "num.partitions": "1",
    "default.replication.factor": "1",
    "log.retention.hours": "168",
    "log.segment.bytes": "1073741824",
    "offsets.retention.minutes": "10080",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "6000",
    "group.max.session.timeout.ms": "1800000",
    "message.max.bytes": "1048588",
    "socket.request.max.bytes": "104857600",
    "sasl.enabled.mechanisms": "PLAIN",
}


def validate_topic_configs(configs: dict[str, str | None]) -> dict[str, str]:
    """Check names and values; returns only the explicitly set (non-null) values."""
    clean: dict[str, str] = {}
    for name, value in configs.items():
        d = TOPIC_CONFIGS.get(name)
        if d is None:
            raise ConfigError(f"Unknown topic config name: {name}")
        if value is not None:
            clean[name] = d.validate(str(value))
    return clean
