"""AdminClient: topics, partitions, configs, groups and group offsets."""

from __future__ import annotations

import pytest
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
)
from confluent_kafka import TopicPartition as TP
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourceType,
)
from conformance_helpers import error_of, poll_n, result, unique, wait_for


def _configs(kafka, topic: str) -> dict[str, ConfigEntry]:
    res = ConfigResource(ResourceType.TOPIC, topic)
    return result(kafka.admin.describe_configs([res])[res])


def _configs_once(kafka, topic: str, changed: dict[str, str]) -> dict[str, ConfigEntry]:
    """The topic's configs once they show ``changed``. Real Kafka answers an alter when the
    controller has committed it; the broker that answers DescribeConfigs applies it a moment
    later, so a client that reads its own write must wait for it."""

    def shown() -> dict[str, ConfigEntry] | None:
        cfg = _configs(kafka, topic)
        return cfg if all(cfg[k].value == v for k, v in changed.items()) else None

    return wait_for(shown, what=f"{topic} to show {changed}")


def _partitions(kafka, topic: str) -> int:
    return len(kafka.admin.list_topics(topic, timeout=10).topics[topic].partitions)


# --- topics -----------------------------------------------------------------------------------


def test_create_topic_with_partitions_and_configs(kafka):
    name = kafka.topic()
    config = {"cleanup.policy": "compact", "retention.ms": "123456"}
    fut = kafka.admin.create_topics([NewTopic(name, 3, replication_factor=1, config=config)])
    assert result(fut[name]) is None
    kafka.wait_topic(name, 3)
    cfg = _configs(kafka, name)
    for key, value in config.items():
        assert cfg[key].value == value
        assert cfg[key].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        assert not cfg[key].is_default
    assert cfg["compression.type"].value == "producer"
    assert cfg["compression.type"].is_default
    assert cfg["max.message.bytes"].value == "1048588"


def test_create_topic_validate_only(kafka):
    name = kafka.topic()
    fut = kafka.admin.create_topics([NewTopic(name, 2)], validate_only=True)
    assert result(fut[name]) is None
    assert name not in kafka.topic_names()


def test_create_topic_default_partitions(kafka):
    if kafka.kind == "external":
        pytest.skip("depends on the external cluster's num.partitions")
    name = kafka.topic()
    result(kafka.admin.create_topics([NewTopic(name)])[name])  # -1: the broker's default
    kafka.wait_topic(name, 1)


def test_create_topic_errors(kafka):
    existing = kafka.create_topic()
    cases = {
        existing: (NewTopic(existing, 1), KafkaError.TOPIC_ALREADY_EXISTS),
        "bad name!": (NewTopic("bad name!", 1), KafkaError.TOPIC_EXCEPTION),
        "x" * 250: (NewTopic("x" * 250, 1), KafkaError.TOPIC_EXCEPTION),  # max is 249
    }
    for label, config in [("unknown", {"no.such.config": "1"}), ("bad", {"retention.ms": "x"})]:
        name = unique(label)
        cases[name] = (NewTopic(name, 1, config=config), KafkaError.INVALID_CONFIG)
    name = unique("zero")
    cases[name] = (NewTopic(name, 0), KafkaError.INVALID_PARTITIONS)
    name = unique("rf")
    cases[name] = (NewTopic(name, 1, replication_factor=3), KafkaError.INVALID_REPLICATION_FACTOR)

    futures = kafka.admin.create_topics([new for new, _ in cases.values()], request_timeout=15)
    assert set(futures) == set(cases)  # one answer per requested topic
    for name, (_, code) in cases.items():
        assert error_of(futures[name]).code() == code, name
    assert not (set(cases) - {existing}) & kafka.topic_names()


def test_delete_topics(kafka):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"x"])
    missing = unique("missing")
    futures = kafka.admin.delete_topics([topic, missing], operation_timeout=20)
    assert result(futures[topic]) is None
    assert error_of(futures[missing]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    wait_for(lambda: topic not in kafka.topic_names(), what=f"{topic} gone from metadata")


def test_create_partitions(kafka):
    topic = kafka.create_topic()
    fut = kafka.admin.create_partitions([NewPartitions(topic, 3)], validate_only=True)
    assert result(fut[topic]) is None
    assert _partitions(kafka, topic) == 1

    assert result(kafka.admin.create_partitions([NewPartitions(topic, 3)])[topic]) is None
    kafka.wait_topic(topic, 3)
    kafka.produce(topic, [{"value": b"p2", "partition": 2}])
    assert kafka.read(topic, 1, partitions=(2,))[0].value() == b"p2"

    missing = unique("missing")
    futures = kafka.admin.create_partitions([NewPartitions(topic, 2), NewPartitions(missing, 4)])
    assert error_of(futures[topic]).code() == KafkaError.INVALID_PARTITIONS  # no shrinking
    assert error_of(futures[missing]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert _partitions(kafka, topic) == 3


# --- configs ----------------------------------------------------------------------------------


def test_describe_configs(kafka):
    topic = kafka.create_topic()
    cfg = _configs(kafka, topic)
    for key, value in {
        "cleanup.policy": "delete",
        "retention.ms": "604800000",
        "message.timestamp.type": "CreateTime",
        "segment.bytes": "1073741824",
    }.items():
        assert cfg[key].value == value, key
        assert cfg[key].is_default and cfg[key].source == ConfigSource.DEFAULT_CONFIG.value, key
        assert cfg[key].name == key
    missing = ConfigResource(ResourceType.TOPIC, unique("missing"))
    err = error_of(kafka.admin.describe_configs([missing])[missing])
    assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_describe_broker_configs(kafka):
    md = kafka.admin.list_topics(timeout=10)
    res = ConfigResource(ResourceType.BROKER, str(next(iter(md.brokers))))
    cfg = result(kafka.admin.describe_configs([res])[res])
    assert "num.partitions" in cfg
    if kafka.kind != "external":
        assert cfg["num.partitions"].value == "1"
        assert cfg["auto.create.topics.enable"].value == "true"


def test_alter_configs_replaces_the_whole_set(kafka):
    topic = kafka.create_topic(config={"cleanup.policy": "compact"})
    res = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "1000"})
    with pytest.warns(DeprecationWarning):
        fut = kafka.admin.alter_configs([res])
    assert result(fut[res]) is None
    cfg = _configs_once(kafka, topic, {"retention.ms": "1000"})
    assert cfg["cleanup.policy"].value == "delete"  # not in the request: back to default
    assert cfg["cleanup.policy"].is_default


def _incremental(kafka, topic: str, *ops: tuple[str, str | None, AlterConfigOpType]):
    entries = [ConfigEntry(n, v, incremental_operation=op) for n, v, op in ops]
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=entries)
    return kafka.admin.incremental_alter_configs([res])[res]


def test_incremental_alter_configs(kafka):
    topic = kafka.create_topic(config={"retention.ms": "5000"})
    S, D, A = AlterConfigOpType.SET, AlterConfigOpType.DELETE, AlterConfigOpType.APPEND
    assert result(_incremental(kafka, topic, ("max.message.bytes", "2000", S))) is None
    cfg = _configs_once(kafka, topic, {"max.message.bytes": "2000"})
    assert cfg["retention.ms"].value == "5000"

    fut = _incremental(kafka, topic, ("retention.ms", None, D), ("cleanup.policy", "compact", A))
    assert result(fut) is None
    cfg = _configs_once(kafka, topic, {"retention.ms": "604800000"})
    assert cfg["retention.ms"].is_default
    assert cfg["cleanup.policy"].value == "delete,compact"  # appended to the default list

    for bad in [("no.such.config", "1", S), ("retention.ms", "soon", S)]:
        assert error_of(_incremental(kafka, topic, bad)).code() == KafkaError.INVALID_CONFIG
    missing = unique("missing")
    err = error_of(_incremental(kafka, missing, ("retention.ms", "1", S)))
    assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_altered_limit_is_enforced(kafka):
    topic = kafka.create_topic()
    result(_incremental(kafka, topic, ("max.message.bytes", "1000", AlterConfigOpType.SET)))
    _configs_once(kafka, topic, {"max.message.bytes": "1000"})
    reports = kafka.produce(topic, [b"x" * 5000], check=False)
    assert reports[0][0].code() == KafkaError.MSG_SIZE_TOO_LARGE


# --- groups -----------------------------------------------------------------------------------


def _joined(kafka, topic: str, group: str, **conf):
    c = kafka.consumer(conf or None, group=group)
    c.subscribe([topic])
    wait_for(lambda: c.poll(0.1) is None and c.assignment(), 30, what="group join")
    return c


def _listed(kafka) -> dict:
    return {g.group_id: g for g in result(kafka.admin.list_consumer_groups()).valid}


def test_list_describe_delete_groups(kafka):
    topic = kafka.create_topic(partitions=2)
    group = unique("g")
    c = _joined(kafka, topic, group)

    listing = _listed(kafka)[group]
    assert listing.state == ConsumerGroupState.STABLE
    assert not listing.is_simple_consumer_group

    desc = result(kafka.admin.describe_consumer_groups([group])[group])
    assert (desc.group_id, desc.state, desc.partition_assignor) == (
        group,
        ConsumerGroupState.STABLE,
        "range",  # librdkafka's default list is "range,roundrobin": the first one wins
    )
    assert not desc.is_simple_consumer_group
    md = kafka.admin.list_topics(timeout=10)
    assert desc.coordinator.id in md.brokers
    [member] = desc.members
    assert member.client_id == "rdkafka"
    if kafka.kind != "external":
        assert member.host == "/127.0.0.1"  # Kafka prints the client's InetAddress
    assigned = sorted((tp.topic, tp.partition) for tp in member.assignment.topic_partitions)
    assert assigned == [(topic, 0), (topic, 1)]

    err = error_of(kafka.admin.delete_consumer_groups([group])[group])
    assert err.code() == KafkaError.NON_EMPTY_GROUP

    c.commit(offsets=[TP(topic, 0, 1)], asynchronous=False)
    c.close()
    desc = result(kafka.admin.describe_consumer_groups([group])[group])
    assert (desc.state, desc.members) == (ConsumerGroupState.EMPTY, [])
    assert _listed(kafka)[group].state == ConsumerGroupState.EMPTY

    missing = unique("nogroup")
    futures = kafka.admin.delete_consumer_groups([group, missing])
    assert result(futures[group]) is None
    assert error_of(futures[missing]).code() == KafkaError.GROUP_ID_NOT_FOUND
    assert group not in _listed(kafka)
    # deleting the group deleted its offsets too
    assert kafka.consumer(group=group).committed([TP(topic, 0)], timeout=10)[0].offset < 0


def test_describe_unknown_group_is_dead(kafka):
    group = unique("nogroup")
    desc = result(kafka.admin.describe_consumer_groups([group])[group])
    assert (desc.state, desc.members) == (ConsumerGroupState.DEAD, [])


def _group_offsets(kafka, group: str, partitions=None) -> dict[tuple[str, int], int]:
    req = ConsumerGroupTopicPartitions(group, partitions)
    res = result(kafka.admin.list_consumer_group_offsets([req])[group])
    assert res.group_id == group
    return {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions}


def test_list_and_alter_consumer_group_offsets(kafka):
    topic = kafka.create_topic(partitions=2)
    kafka.produce(topic, [{"value": b"%d" % i, "partition": i % 2} for i in range(10)])
    group = unique("g")
    c = _joined(kafka, topic, group)
    c.commit(offsets=[TP(topic, 0, 3), TP(topic, 1, 1)], asynchronous=False)

    assert _group_offsets(kafka, group) == {(topic, 0): 3, (topic, 1): 1}
    assert _group_offsets(kafka, group, [TP(topic, 1)]) == {(topic, 1): 1}
    assert _group_offsets(kafka, unique("nogroup")) == {}

    # while the group has members, only members may commit
    req = ConsumerGroupTopicPartitions(group, [TP(topic, 0, 4)])
    [tp] = result(kafka.admin.alter_consumer_group_offsets([req])[group]).topic_partitions
    assert tp.error.code() == KafkaError.UNKNOWN_MEMBER_ID
    c.close()

    req = ConsumerGroupTopicPartitions(group, [TP(topic, 0, 4)])
    [tp] = result(kafka.admin.alter_consumer_group_offsets([req])[group]).topic_partitions
    assert (tp.partition, tp.offset, tp.error) == (0, 4, None)
    assert _group_offsets(kafka, group) == {(topic, 0): 4, (topic, 1): 1}

    c = kafka.consumer(group=group)
    c.subscribe([topic])
    firsts = {}
    for m in poll_n(c, 5):  # partition 0 from offset 4, partition 1 from offset 1
        firsts.setdefault(m.partition(), m.offset())
    assert firsts == {0: 4, 1: 1}
