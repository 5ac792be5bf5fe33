"""Topic and broker configuration: names, defaults, validation, and how they are described.

A subset of Apache Kafka 4.x's LogConfig and broker configs, with Kafka's wording for errors
(``ConfigException``: "Invalid value X for configuration Y: ..."), so a lesson's mistake reads the
same here as on a real cluster. Plain Python: the handlers in ``apis/configs.py`` and
``apis/admin.py`` translate to and from the wire.
"""

from __future__ import annotations

from dataclasses import dataclass


class ConfigError(ValueError):
    pass


# DescribeConfigs ConfigSource ids (Kafka's DescribeConfigsResponse.ConfigSource).
DYNAMIC_TOPIC_CONFIG = 1
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5

# DescribeConfigs v3+ ConfigType ids.
CONFIG_TYPE_IDS = {
    "boolean": 1,
    "string": 2,
    "int": 3,
    "short": 4,
    "long": 5,
    "double": 6,
    "list": 7,
    "class": 8,
    "password": 9,
}

# IncrementalAlterConfigs operations.
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
OP_NAMES = {SET: "SET", DELETE: "DELETE", APPEND: "APPEND", SUBTRACT: "SUBTRACT"}

_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


@dataclass(frozen=True)
class ConfigDef:
    name: str
    default: str
    type: str  # string | int | long | double | boolean | list | class | password
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    synonym: str | None = None  # the broker config that supplies the default (Kafka's synonym)
    sensitive: bool = False

    def validate(self, value: str) -> str:
        """Kafka's ConfigDef.parse + validator, with its messages. Returns the value as stored."""
        value = value.strip() if self.type != "password" else value
        if self.type in ("int", "long"):
            try:
                number = int(value)
            except ValueError:
                raise self._error(value, f"Not a number of type {self.type.upper()}") from None
            lo, hi = _INT_RANGE[self.type]
            if not lo <= number <= hi:
                raise self._error(value, f"Not a number of type {self.type.upper()}")
            self._check_range(value, number)
        elif self.type == "double":
            try:
                number = float(value)
            except ValueError:
                raise self._error(value, "Not a number of type DOUBLE") from None
            self._check_range(value, number)
        elif self.type == "boolean" and value.lower() not in ("true", "false"):
            raise self._error(value, "Expected value to be either true or false")
        if self.choices:
            items = split_list(value) if self.type == "list" else [value]
            for item in items:
                if item not in self.choices:
                    # ValidList checks item by item, so Kafka names the offending item
                    raise self._error(item, f"String must be one of: {', '.join(self.choices)}")
        return value

    def _check_range(self, value: str, number: float) -> None:
        if self.min is not None and number < self.min:
            raise self._error(value, f"Value must be at least {_num(self.min)}")
        if self.max is not None and number > self.max:
            raise self._error(value, f"Value must be no more than {_num(self.max)}")

    def _error(self, value: str, message: str) -> ConfigError:
        return ConfigError(f"Invalid value {value} for configuration {self.name}: {message}")


def _num(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def split_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _defs(*defs: ConfigDef) -> dict[str, ConfigDef]:
    return {d.name: d for d in defs}


_LONG_MAX = "9223372036854775807"

# Defaults, ranges and broker synonyms as in Apache Kafka 4.x (LogConfig,
# ServerTopicConfigSynonyms). Configs of features the emulator lacks (remote storage, throttling)
# are accepted and stored so that settings copied from a real cluster do not fail.
TOPIC_CONFIGS = _defs(
    ConfigDef(
        "cleanup.policy", "delete", "list", ("compact", "delete"), synonym="log.cleanup.policy"
    ),
    ConfigDef("compression.gzip.level", "-1", "int", synonym="compression.gzip.level"),
    ConfigDef("compression.lz4.level", "9", "int", min=1, max=17, synonym="compression.lz4.level"),
    ConfigDef(
        "compression.type",
        "producer",
        "string",
        ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
        synonym="compression.type",
    ),
    ConfigDef(
        "compression.zstd.level", "3", "int", min=-131072, max=22, synonym="compression.zstd.level"
    ),
    ConfigDef(
        "delete.retention.ms", "86400000", "long", min=0, synonym="log.cleaner.delete.retention.ms"
    ),
    ConfigDef(
        "file.delete.delay.ms", "60000", "long", min=0, synonym="log.segment.delete.delay.ms"
    ),
    ConfigDef("flush.messages", _LONG_MAX, "long", min=1, synonym="log.flush.interval.messages"),
    ConfigDef("flush.ms", _LONG_MAX, "long", min=0, synonym="log.flush.interval.ms"),
    ConfigDef("follower.replication.throttled.replicas", "", "list"),
    ConfigDef("index.interval.bytes", "4096", "int", min=0, synonym="log.index.interval.bytes"),
    ConfigDef("leader.replication.throttled.replicas", "", "list"),
    ConfigDef("local.retention.bytes", "-2", "long", min=-2, synonym="log.local.retention.bytes"),
    ConfigDef("local.retention.ms", "-2", "long", min=-2, synonym="log.local.retention.ms"),
    ConfigDef(
        "max.compaction.lag.ms",
        _LONG_MAX,
        "long",
        min=1,
        synonym="log.cleaner.max.compaction.lag.ms",
    ),
    ConfigDef("max.message.bytes", "1048588", "int", min=0, synonym="message.max.bytes"),
    ConfigDef(
        "message.timestamp.after.max.ms",
        "3600000",
        "long",
        min=0,
        synonym="log.message.timestamp.after.max.ms",
    ),
    ConfigDef(
        "message.timestamp.before.max.ms",
        _LONG_MAX,
        "long",
        min=0,
        synonym="log.message.timestamp.before.max.ms",
    ),
    ConfigDef(
        "message.timestamp.type",
        "CreateTime",
        "string",
        ("CreateTime", "LogAppendTime"),
        synonym="log.message.timestamp.type",
    ),
    ConfigDef(
        "min.cleanable.dirty.ratio",
        "0.5",
        "double",
        min=0,
        max=1,
        synonym="log.cleaner.min.cleanable.ratio",
    ),
    ConfigDef(
        "min.compaction.lag.ms", "0", "long", min=0, synonym="log.cleaner.min.compaction.lag.ms"
    ),
    ConfigDef("min.insync.replicas", "1", "int", min=1, synonym="min.insync.replicas"),
    ConfigDef("preallocate", "false", "boolean", synonym="log.preallocate"),
    ConfigDef("remote.log.copy.disable", "false", "boolean"),
    ConfigDef("remote.log.delete.on.disable", "false", "boolean"),
    ConfigDef("remote.storage.enable", "false", "boolean"),
    ConfigDef("retention.bytes", "-1", "long", synonym="log.retention.bytes"),
    ConfigDef("retention.ms", "604800000", "long", min=-1, synonym="log.retention.ms"),
    # Kafka's minimum is the legacy record overhead (14 bytes); tiny segments help lessons
    ConfigDef("segment.bytes", "1073741824", "int", min=14, synonym="log.segment.bytes"),
    ConfigDef("segment.index.bytes", "10485760", "int", min=4, synonym="log.index.size.max.bytes"),
    ConfigDef("segment.jitter.ms", "0", "long", min=0, synonym="log.roll.jitter.ms"),
    ConfigDef("segment.ms", "604800000", "long", min=1, synonym="log.roll.ms"),
    ConfigDef(
        "unclean.leader.election.enable",
        "false",
        "boolean",
        synonym="unclean.leader.election.enable",
    ),
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

BROKER_CONFIG_TYPES = {
    "auto.create.topics.enable": "boolean",
    "num.partitions": "int",
    "default.replication.factor": "int",
    "log.retention.hours": "int",
    "log.segment.bytes": "int",
    "offsets.retention.minutes": "int",
    "group.initial.rebalance.delay.ms": "int",
    "group.min.session.timeout.ms": "int",
    "group.max.session.timeout.ms": "int",
    "message.max.bytes": "int",
    "socket.request.max.bytes": "int",
    "sasl.enabled.mechanisms": "list",
    "broker.id": "int",
    "node.id": "int",
    "listeners": "string",
    "advertised.listeners": "string",
    "process.roles": "list",
    "listener.security.protocol.map": "string",
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


def incremental_alter(
    current: dict[str, str], ops: list[tuple[str, int, str | None]]
) -> dict[str, str]:
    """Apply IncrementalAlterConfigs operations (name, op, value) to a topic's explicit configs,
    as Kafka's ConfigurationControlManager does, and validate the result. APPEND and SUBTRACT
    start from the default when the config is not set. Returns the new explicit set."""
    out = dict(current)
    for name, op, value in ops:
        if op == SET:
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        elif op == DELETE:
            out.pop(name, None)
        elif op in (APPEND, SUBTRACT):
            d = TOPIC_CONFIGS.get(name)
            if d is None or d.type != "list":
                raise ConfigError(
                    f"Can't {OP_NAMES[op]} to key {name} because its type is not LIST."
                )
            items = split_list(out.get(name, d.default))
            for v in (value or "").split(","):
                if op == APPEND and v not in items:
                    items.append(v)
                elif op == SUBTRACT and v in items:
                    items.remove(v)
            out[name] = ",".join(items)
        else:
            raise ValueError(f"Unknown operations type {op}")
    return validate_topic_configs(out)


# --- describing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigEntry:
    """One row of a DescribeConfigs answer."""

    name: str
    value: str | None
    source: int
    type: str
    read_only: bool = False
    sensitive: bool = False
    synonyms: tuple[tuple[str, str | None, int], ...] = ()  # (name, value, source), winner first

    @property
    def type_id(self) -> int:
        return CONFIG_TYPE_IDS.get(self.type, 0)


def describe_topic(explicit: dict[str, str], names: list[str] | None = None) -> list[ConfigEntry]:
    """Every topic config with its effective value, sorted by name (``names`` filters).

    Like Kafka's ConfigHelper: a value set on the topic comes from DYNAMIC_TOPIC_CONFIG, anything
    else from the broker default (DEFAULT_CONFIG), which is also listed as a synonym."""
    entries = []
    for name in sorted(TOPIC_CONFIGS):
        if names and name not in names:
            continue
        d = TOPIC_CONFIGS[name]
        synonyms: list[tuple[str, str | None, int]] = []
        if name in explicit:
            synonyms.append((name, explicit[name], DYNAMIC_TOPIC_CONFIG))
        if d.synonym:
            synonyms.append((d.synonym, d.default, DEFAULT_CONFIG))
        value = explicit.get(name, d.default)
        source = synonyms[0][2] if synonyms else DEFAULT_CONFIG
        entries.append(
            ConfigEntry(
                name,
                None if d.sensitive else value,
                source,
                d.type,
                sensitive=d.sensitive,
                synonyms=tuple(synonyms),
            )
        )
    return entries


def describe_broker(values: dict[str, str], names: list[str] | None = None) -> list[ConfigEntry]:
    """A broker's configs: all static (as if from server.properties) and read-only here."""
    return [
        ConfigEntry(
            name,
            value,
            STATIC_BROKER_CONFIG,
            BROKER_CONFIG_TYPES.get(name, "string"),
            read_only=True,
            synonyms=((name, value, STATIC_BROKER_CONFIG),),
        )
        for name, value in sorted(values.items())
        if not names or name in names
    ]


def broker_values(
    node_id: int,
    host: str,
    port: int,
    auto_create: bool,
    num_partitions: int,
    sasl: bool,
) -> dict[str, str]:
    """The configs a broker reports about itself, reflecting how the emulator was started."""
    protocol = "SASL_PLAINTEXT" if sasl else "PLAINTEXT"
    values = dict(BROKER_CONFIGS)
    values.update(
        {
            "broker.id": str(node_id),
            "node.id": str(node_id),
            "process.roles": "broker,controller",
            "listeners": f"{protocol}://{host}:{port}",
            "advertised.listeners": f"{protocol}://{host}:{port}",
            "listener.security.protocol.map": f"{protocol}:{protocol}",
            "auto.create.topics.enable": "true" if auto_create else "false",
            "num.partitions": str(num_partitions),
        }
    )
    if not sasl:
        values.pop("sasl.enabled.mechanisms")
    return values
