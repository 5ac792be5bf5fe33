"""Looking at topics and groups from a notebook or a check, on any profile (plain clients),
plus the emulator's observability API when it runs."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from streamlab import config, stack
from streamlab.config import StreamlabError, kafka_config
from streamlab.ksql.runtime.topics import murmur2

_RUN_ID = uuid.uuid4().hex[:6]


def run_id() -> str:
    """A short id, the same for the whole kernel session: suffix topic and group names with it
    so a lab can be run again without meeting the previous run's data."""
    return _RUN_ID


def observe():
    """An ObserveClient for the running emulated cluster (``/api/topics``, ``/api/groups``)."""
    from streamlab.kafka.observe import ObserveClient

    state = stack.running_state(config.load(), "kafka")
    url = (state or {}).get("endpoints", {}).get("observability")
    if url is None:
        raise StreamlabError(
            "the emulated cluster's observability API is not running; start the lab with "
            "`streamlab up` (the jvm profile has no observability API: use the Kafka clients)"
        )
    return ObserveClient(url)


def java_partition(key: bytes | str, partitions: int) -> int:
    """The partition Kafka's Java client (and ksqlDB, and ``producer_config()``) picks."""
    data = key.encode() if isinstance(key, str) else key
    return (murmur2(data) & 0x7FFFFFFF) % partitions


def create_topic(topic: str, partitions: int, replication_factor: int = 1) -> bool:
    """Create ``topic`` unless it exists (so a cell can run twice); True when it was created."""
    from confluent_kafka.admin import NewTopic

    admin = AdminClient(kafka_config())  # kept alive until the future resolves
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor)]
    )
    try:
        futures[topic].result(15)
    except KafkaException as e:
        if e.args[0].name() == "TOPIC_ALREADY_EXISTS":
            return False
        raise
    return True


def topic_partitions(topic: str, timeout: float = 10) -> int | None:
    """How many partitions ``topic`` has, or None when it does not exist."""
    md = AdminClient(kafka_config()).list_topics(topic=None, timeout=timeout)
    t = md.topics.get(topic)
    return None if t is None or t.error is not None else len(t.partitions)


def watermarks(topic: str, timeout: float = 10) -> dict[int, tuple[int, int]]:
    """Partition -> (low, high) offsets."""
    n = topic_partitions(topic, timeout)
    if n is None:
        return {}
    c = Consumer(kafka_config(**{"group.id": f"streamlab-peek-{run_id()}"}))
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout) for p in range(n)}
    finally:
        c.close()


def read_topic(topic: str, timeout: float = 15) -> list[dict[str, Any]]:
    """Every record of ``topic`` (all partitions, from the start), without joining a group."""
    marks = watermarks(topic)
    wanted = {p: hi for p, (lo, hi) in marks.items() if hi > lo}
    if not wanted:
        return []
    c = Consumer(
        kafka_config(**{"group.id": f"streamlab-peek-{run_id()}", "enable.auto.commit": False})
    )
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in wanted])
    out: list[dict[str, Any]] = []
    done: set[int] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(done) < len(wanted) and time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is None or msg.error():
                continue
            out.append(
                {
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "key": msg.key(),
                    "value": msg.value(),
                    "timestamp": msg.timestamp()[1],
                    "headers": msg.headers() or [],
                }
            )
            if msg.offset() + 1 >= wanted[msg.partition()]:
                done.add(msg.partition())
    finally:
        c.close()
    return sorted(out, key=lambda r: (r["partition"], r["offset"]))


def committed_offsets(group: str, topic: str, timeout: float = 10) -> dict[int, int]:
    """Partition -> the group's committed offset (partitions without a commit are left out)."""
    n = topic_partitions(topic, timeout)
    if n is None:
        return {}
    c = Consumer(kafka_config(**{"group.id": group, "enable.auto.commit": False}))
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(n)], timeout=timeout)
    except KafkaException:
        return {}
    finally:
        c.close()
    return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}


# librdkafka's enum names -> the names Kafka itself (and the emulator's API) shows
_GROUP_STATES = {
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "DEAD": "Dead",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
}


def group_lag(group: str, topic: str, timeout: float = 10) -> dict[str, Any]:
    """A group's state, members and lag on ``topic``, from the Kafka admin API alone, so it
    works on every profile. The same shape as the emulator's ``observe().group(group)``:
    ``{"group_id", "state", "members", "offsets": [{"partition", "committed", "lag"}], "lag"}``.
    A partition without a commit has read nothing: its lag is its high watermark."""
    admin = AdminClient(kafka_config())
    described = admin.describe_consumer_groups([group], request_timeout=timeout)[group]
    info = described.result(timeout)
    committed = committed_offsets(group, topic, timeout)
    offsets = []
    for p, (_, high) in sorted(watermarks(topic, timeout).items()):
        done = committed.get(p)
        offsets.append({"partition": p, "committed": done, "lag": high - (done or 0)})
    return {
        "group_id": group,
        "state": _GROUP_STATES.get(getattr(info.state, "name", ""), "Unknown"),
        "members": [m.member_id for m in info.members],
        "offsets": offsets,
        "lag": sum(o["lag"] for o in offsets),
    }
