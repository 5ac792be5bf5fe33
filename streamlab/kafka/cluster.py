"""Cluster state: brokers, topics, partitions, configs and their persistence.

One process holds the whole cluster. Each broker is a listener with its own node id; every
partition has a preferred leader spread over the brokers, and when a broker is stopped its
partitions move to a live one (the log is shared, as if every partition were fully replicated),
with the leader epoch bumped as Kafka does on a leader change. Metadata lives in
``<data-dir>/cluster.json`` (written atomically), logs in ``<data-dir>/<topic>-<n>/``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import uuid
import zlib
from dataclasses import dataclass, field

from streamlab.kafka.configs import TOPIC_CONFIGS, ConfigError, validate_topic_configs
from streamlab.kafka.coordinator.records import OFFSETS_TOPIC, partition_for
from streamlab.kafka.coordinator.txn_records import TRANSACTION_TOPIC
from streamlab.kafka.log import PartitionLog

log = logging.getLogger("streamlab.kafka")

LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
# Kafka 4.x's Topic.INTERNAL_TOPICS: internal by name, whether they exist yet or not (the
# emulator has no share groups, but their state topic's name is reserved all the same)
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state", "__share_group_state"})
# Kafka's GroupCoordinatorService.groupMetadataTopicConfigs (offsets.topic.segment.bytes 100 MiB)
OFFSETS_TOPIC_CONFIGS = {
    "cleanup.policy": "compact",
    "compression.type": "producer",
    "segment.bytes": "104857600",
}
# Kafka's TransactionLog topic configs (transaction.state.log.segment.bytes 100 MiB)
TRANSACTION_TOPIC_CONFIGS = {
    "cleanup.policy": "compact",
    "compression.type": "producer",
    "segment.bytes": "104857600",
}


class TopicError(Exception):
    """A topic operation Kafka refuses; ``code`` names the kio ErrorCode member."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Broker:
    node_id: int
    host: str
    port: int
    alive: bool = True
    rack: str | None = None


@dataclass
class Partition:
    topic: str
    index: int
    log: PartitionLog
    leader_epoch: int = 0
    leader: int | None = None  # None until the first election after start; -1 when offline
    replicas: list[int] = field(default_factory=list)  # assigned at creation, preferred first


@dataclass
class Topic:
    name: str
    topic_id: uuid.UUID
    replication_factor: int = 1
    partitions: list[Partition] = field(default_factory=list)
    configs: dict[str, str] = field(default_factory=dict)  # only the values set explicitly

    @property
    def internal(self) -> bool:
        return self.name in INTERNAL_TOPICS

    def config(self, name: str) -> str:
        return self.configs.get(name, TOPIC_CONFIGS[name].default)


def validate_topic_name(name: str) -> None:
    """Kafka's Topic.validate, with its messages."""
    if not name:
        message = "Topic name is illegal, it can't be empty"
    elif name in (".", ".."):
        message = 'Topic name cannot be "." or ".."'
    elif len(name) > 249:
        message = (
            f"Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        )
    elif not LEGAL_TOPIC.match(name):
        message = (
            f'Topic name "{name}" is illegal, it contains a character other than ASCII '
            "alphanumerics, '.', '_' and '-'"
        )
    else:
        return
    raise TopicError("invalid_topic_exception", message)


class Cluster:
    def __init__(
        self,
        data_dir: str,
        brokers: list[Broker],
        auto_create: bool = True,
        num_partitions: int = 1,
        offsets_topic_partitions: int = 50,
        transaction_topic_partitions: int = 50,
    ) -> None:
        self.data_dir = data_dir
        # transaction.state.log.num.partitions
        self.transaction_topic_partitions = transaction_topic_partitions
        self.brokers = {b.node_id: b for b in brokers}
        self.auto_create = auto_create
        self.num_partitions = num_partitions
        self.offsets_topic_partitions = offsets_topic_partitions  # offsets.topic.num.partitions
        self.topic_deleted_hooks: list = []  # called with the name (the group coordinator's)
        self.topics: dict[str, Topic] = {}
        self.cluster_id = ""
        self.next_producer_id = 1000
        os.makedirs(data_dir, exist_ok=True)
        self._meta_path = os.path.join(data_dir, "cluster.json")
        self._load()

    # --- persistence --------------------------------------------------------------------------

    def _load(self) -> None:
        meta: dict = {}
        if os.path.exists(self._meta_path):
            with open(self._meta_path) as f:
                meta = json.load(f)
        # Kafka's cluster ids are 22-char URL-safe base64 of 16 random bytes.
        self.cluster_id = meta.get("cluster_id") or _random_cluster_id()
        self.next_producer_id = meta.get("next_producer_id", 1000)
        for name, t in meta.get("topics", {}).items():
            topic = Topic(
                name,
                uuid.UUID(t["id"]),
                t.get("replication_factor", 1),
                configs=t.get("configs", {}),
            )
            epochs = t.get("leader_epochs", [])
            assigned = t.get("replicas", [])
            for i in range(t["partitions"]):
                plog = self._open_log(topic, i)
                epoch = epochs[i] if i < len(epochs) else 0
                replicas = assigned[i] if i < len(assigned) else self._assign(topic, i, all=True)
                topic.partitions.append(Partition(name, i, plog, epoch, replicas=replicas))
            self.topics[name] = topic
        self.elect_leaders()
        self.save()

    def save(self) -> None:
        meta = {
            "cluster_id": self.cluster_id,
            "next_producer_id": self.next_producer_id,
            "topics": {
                t.name: {
                    "id": str(t.topic_id),
                    "partitions": len(t.partitions),
                    "replication_factor": t.replication_factor,
                    "configs": t.configs,
                    "leader_epochs": [p.leader_epoch for p in t.partitions],
                    "replicas": [p.replicas for p in t.partitions],
                }
                for t in self.topics.values()
            },
        }
        tmp = self._meta_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(meta, f, indent=1)
        os.replace(tmp, self._meta_path)

    def _open_log(self, topic: Topic, index: int) -> PartitionLog:
        return PartitionLog(
            os.path.join(self.data_dir, f"{topic.name}-{index}"),
            int(topic.config("segment.bytes")),
            int(topic.config("segment.ms")),
        )

    # --- brokers and leaders --------------------------------------------------------------------

    def live_brokers(self) -> list[Broker]:
        return [b for b in sorted(self.brokers.values(), key=lambda b: b.node_id) if b.alive]

    @property
    def controller_id(self) -> int:
        live = self.live_brokers()
        return live[0].node_id if live else -1

    def replicas(self, topic: Topic, index: int) -> list[int]:
        """Replica brokers of a partition, preferred leader first, as assigned at creation."""
        return topic.partitions[index].replicas

    def _assign(self, topic: Topic, index: int, all: bool = False) -> list[int]:
        """Kafka's controller spreads new replicas round-robin over the brokers registered
        (live) at creation time, and the assignment then stays put."""
        ids = sorted(self.brokers) if all else [b.node_id for b in self.live_brokers()]
        start = zlib.crc32(topic.name.encode()) + index
        rf = min(topic.replication_factor, len(ids))
        return [ids[(start + k) % len(ids)] for k in range(rf)]

    def in_sync(self, topic: Topic, index: int) -> list[int]:
        return [r for r in self.replicas(topic, index) if self.brokers[r].alive]

    def elect_leaders(self) -> None:
        """Give every partition a live leader: the first live replica, preferred one first.
        With all replicas down the partition is offline (leader -1), as on a real cluster.
        A change of leader bumps the partition's leader epoch."""
        changed = False
        for topic in self.topics.values():
            for p in topic.partitions:
                isr = self.in_sync(topic, p.index)
                leader = isr[0] if isr else -1
                if leader != p.leader:
                    if p.leader is not None:
                        p.leader_epoch += 1
                        changed = True
                    p.leader = leader
        if changed:
            self.save()

    def set_broker_alive(self, node_id: int, alive: bool) -> None:
        self.brokers[node_id].alive = alive
        self.elect_leaders()

    def coordinator_for(self, key: str) -> Broker | None:
        """The broker coordinating a group: the leader of the group's __consumer_offsets
        partition (Kafka's partitionFor), None while that partition has no live leader."""
        try:
            topic = self.offsets_topic()
        except TopicError as e:
            log.error("cannot create %s: %s", OFFSETS_TOPIC, e)
            return None
        p = topic.partitions[partition_for(key, len(topic.partitions))]
        broker = self.brokers.get(p.leader)
        return broker if broker is not None and broker.alive else None

    def txn_coordinator_for(self, transactional_id: str) -> Broker | None:
        """The broker coordinating a transactional id: the leader of its
        __transaction_state partition (created on first use), None while it has none."""
        from streamlab.kafka.coordinator.txn_records import txn_partition_for

        try:
            topic = self.transaction_topic()
        except TopicError as e:
            log.error("cannot create %s: %s", TRANSACTION_TOPIC, e)
            return None
        p = topic.partitions[txn_partition_for(transactional_id, len(topic.partitions))]
        broker = self.brokers.get(p.leader)
        return broker if broker is not None and broker.alive else None

    def transaction_topic(self) -> Topic:
        """__transaction_state, created on first use like __consumer_offsets:
        transaction.state.log.num.partitions partitions, compacted."""
        topic = self.topics.get(TRANSACTION_TOPIC)
        if topic is None:
            rf = min(3, len(self.brokers))
            n = self.transaction_topic_partitions
            topic = self.create_topic(TRANSACTION_TOPIC, n, rf, dict(TRANSACTION_TOPIC_CONFIGS))
        return topic

    def offsets_topic(self) -> Topic:
        """__consumer_offsets, created on first use as Kafka's AutoTopicCreationManager does:
        offsets.topic.num.partitions partitions, replication factor min(3, brokers), compacted.
        An existing topic keeps its partition count."""
        topic = self.topics.get(OFFSETS_TOPIC)
        if topic is None:
            rf = min(3, len(self.brokers))
            n = self.offsets_topic_partitions
            topic = self.create_topic(OFFSETS_TOPIC, n, rf, dict(OFFSETS_TOPIC_CONFIGS))
        return topic

    # --- topics -----------------------------------------------------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int = -1,
        replication_factor: int = -1,
        configs: dict[str, str | None] | None = None,
        validate_only: bool = False,
    ) -> Topic | None:
        # Checks in the order of Kafka's ReplicationControlManager.createTopics, with its words.
        validate_topic_name(name)
        if name in self.topics:
            raise TopicError("topic_already_exists", f"Topic '{name}' already exists.")
        for other in self.topics:
            if other.replace(".", "_") == name.replace(".", "_"):
                raise TopicError(
                    "invalid_topic_exception",
                    f"Topic '{name}' collides with existing topic: {other}",
                )
        try:
            clean = validate_topic_configs(configs or {})
        except ConfigError as e:
            raise TopicError("invalid_config", str(e)) from None
        if replication_factor == 0 or replication_factor < -1:
            raise TopicError(
                "invalid_replication_factor",
                "Replication factor must be larger than 0, or -1 to use the default value.",
            )
        if partitions == 0 or partitions < -1:
            raise TopicError(
                "invalid_partitions",
                "Number of partitions was set to an invalid non-positive value.",
            )
        if partitions == -1:
            partitions = self.num_partitions
        if partitions > 10000:
            raise TopicError("invalid_partitions", "Number of partitions must be at most 10000.")
        if replication_factor == -1:
            replication_factor = 1
        live = len(self.live_brokers())
        if replication_factor > live:
            raise TopicError(
                "invalid_replication_factor",
                f"Unable to replicate the partition {replication_factor} time(s): The target "
                f"replication factor of {replication_factor} cannot be reached because only "
                f"{live} broker(s) are registered.",
            )
        if validate_only:
            return None
        topic = Topic(name, uuid.uuid4(), replication_factor, configs=clean)
        for i in range(partitions):
            replicas = self._assign(topic, i)
            topic.partitions.append(Partition(name, i, self._open_log(topic, i), replicas=replicas))
        self.topics[name] = topic
        self.elect_leaders()
        self.save()
        log.info("created topic %s with %d partition(s)", name, partitions)
        return topic

    def delete_topic(self, name: str) -> None:
        topic = self.topics.pop(name, None)
        if topic is None:
            raise TopicError(
                "unknown_topic_or_partition", "This server does not host this topic-partition."
            )
        for p in topic.partitions:
            p.log.truncate_all()
        self.save()
        log.info("deleted topic %s", name)
        for hook in self.topic_deleted_hooks:
            hook(name)

    def create_partitions(self, name: str, count: int, validate_only: bool = False) -> None:
        topic = self.topics.get(name)
        if topic is None:
            raise TopicError("unknown_topic_or_partition", f"The topic '{name}' does not exist.")
        if count == len(topic.partitions):
            raise TopicError("invalid_partitions", f"Topic already has {count} partition(s).")
        if count < len(topic.partitions):
            raise TopicError(
                "invalid_partitions",
                f"The topic {name} currently has {len(topic.partitions)} partition(s); {count} "
                "would not be an increase.",
            )
        if validate_only:
            return
        for i in range(len(topic.partitions), count):
            replicas = self._assign(topic, i)
            topic.partitions.append(Partition(name, i, self._open_log(topic, i), replicas=replicas))
        self.elect_leaders()
        self.save()

    def alter_topic_configs(
        self, name: str, configs: dict[str, str], validate_only: bool = False
    ) -> None:
        """Replace a topic's explicit configs (AlterConfigs/IncrementalAlterConfigs compute the
        new set). segment.bytes and segment.ms apply to the open logs' next roll; other configs
        are read when used."""
        topic = self.topics.get(name)
        if topic is None:
            raise TopicError(
                "unknown_topic_or_partition", "This server does not host this topic-partition."
            )
        try:
            clean = validate_topic_configs(configs)
        except ConfigError as e:
            raise TopicError("invalid_config", str(e)) from None
        if validate_only:
            return
        topic.configs = clean
        seg_bytes, seg_ms = int(topic.config("segment.bytes")), int(topic.config("segment.ms"))
        for p in topic.partitions:
            p.log.segment_bytes, p.log.segment_ms = seg_bytes, seg_ms
        self.save()
        log.info("altered configs of topic %s: %s", name, clean or "all defaults")

    def topic_by_id(self, topic_id: uuid.UUID) -> Topic | None:
        for t in self.topics.values():
            if t.topic_id == topic_id:
                return t
        return None

    def partition(self, topic: str, index: int) -> Partition | None:
        t = self.topics.get(topic)
        if t is None or not 0 <= index < len(t.partitions):
            return None
        return t.partitions[index]

    def allocate_producer_id(self) -> int:
        pid = self.next_producer_id
        self.next_producer_id += 1
        self.save()
        return pid

    def close(self) -> None:
        for t in self.topics.values():
            for p in t.partitions:
                p.log.close()


def _random_cluster_id() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
