"""Topic administration and configs through confluent_kafka.admin against the emulated cluster
(two brokers, so controller and leader routing are real), plus a few raw requests for what
librdkafka never sends (newer versions, duplicates, DescribeCluster API 60).

Every admin call must answer each requested item: librdkafka aborts the process otherwise.
"""

from __future__ import annotations

import io
import socket
import struct
import sys
import time
import uuid

import pytest
from confluent_kafka import (
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourceType,
)
from kio.index import load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.serial import entity_reader, entity_writer

from streamlab.kafka.protocol.entities import make
from streamlab.kafka.testing import ClusterProcess

pytestmark = pytest.mark.timeout(120)


# --- helpers ----------------------------------------------------------------------------------


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def result(future, timeout: float = 30):
    return future.result(timeout=timeout)


def error_of(future, timeout: float = 30) -> KafkaError:
    exc = future.exception(timeout=timeout)
    assert exc is not None, f"expected an error, got {future.result()!r}"
    return exc.args[0]


def request(key: int, version: int, **fields):
    return make(load_request_schema(key, version), **fields)


def nested(key: int, version: int, entity: str, **fields):
    module = sys.modules[load_request_schema(key, version).__module__]
    return make(getattr(module, entity), **fields)


def raw_call(address: str, req, correlation_id: int = 11):
    """Send one request on a fresh socket; the decoded response."""
    header_cls = req.__header_schema__
    buf = io.BytesIO()
    header = header_cls(
        request_api_key=req.__api_key__,
        request_api_version=req.__version__,
        correlation_id=correlation_id,
        client_id="admin-test",
    )
    entity_writer(header_cls)(buf, header)
    entity_writer(type(req))(buf, req)
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(struct.pack(">i", buf.tell()) + buf.getvalue())
        size = struct.unpack(">i", _recv(sock, 4))[0]
        data = _recv(sock, size)
    cls = load_response_schema(req.__api_key__, req.__version__)
    head, used = entity_reader(cls.__header_schema__)(data, 0)
    assert head.correlation_id == correlation_id
    return entity_reader(cls)(data, used)[0]


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "broker closed the connection instead of answering"
        data += chunk
    return data


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = ClusterProcess(tmp_path_factory.mktemp("admin"), brokers=2).start()
    yield c
    log = c.tail(400)  # read before stopping: only what happened while serving counts
    c.stop()
    assert "Traceback" not in log and "internal error" not in log, log


@pytest.fixture(scope="module")
def admin(cluster):
    return AdminClient({"bootstrap.servers": cluster.bootstrap})


def address(cluster: ClusterProcess, node_id: int) -> str:
    return f"127.0.0.1:{cluster.broker_ports()[node_id]}"


def create(admin: AdminClient, name: str, partitions: int = 1, **configs: str) -> str:
    result(admin.create_topics([NewTopic(name, partitions, config=configs)])[name])
    return name


def describe(admin: AdminClient, topic: str) -> dict[str, ConfigEntry]:
    res = ConfigResource(ResourceType.TOPIC, topic)
    return result(admin.describe_configs([res])[res])


def produce(cluster: ClusterProcess, topic: str, n: int, partition: int = 0) -> None:
    p = Producer({"bootstrap.servers": cluster.bootstrap})
    for i in range(n):
        p.produce(topic, f"v{i}".encode(), partition=partition)
    assert p.flush(30) == 0


# --- CreateTopics -----------------------------------------------------------------------------


def test_create_topics_with_partitions_and_configs(admin):
    compacted, plain = unique(), unique()
    futures = admin.create_topics(
        [
            NewTopic(compacted, 3, config={"cleanup.policy": "compact", "retention.ms": "5000"}),
            NewTopic(plain, num_partitions=-1, replication_factor=-1),  # broker defaults
        ]
    )
    assert result(futures[compacted]) is None
    assert result(futures[plain]) is None

    topics = admin.list_topics(timeout=10).topics
    assert len(topics[compacted].partitions) == 3
    assert len(topics[plain].partitions) == 1
    entries = describe(admin, compacted)
    assert entries["cleanup.policy"].value == "compact"
    assert entries["cleanup.policy"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert entries["retention.ms"].value == "5000"
    assert entries["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value


def test_create_topics_answers_every_topic_with_kafkas_error(admin):
    existing = create(admin, unique())
    bad_config, bad_value, bad_rf, good = unique(), unique(), unique(), unique()
    bad_name = "no spaces allowed"
    futures = admin.create_topics(
        [
            NewTopic(existing, 1),
            NewTopic(bad_config, 1, config={"cleanup.polcy": "compact"}),
            NewTopic(bad_value, 1, config={"retention.ms": "a week"}),
            NewTopic(bad_rf, 1, replication_factor=3),
            NewTopic(bad_name, 1),
            NewTopic(good, 2),
        ]
    )
    err = error_of(futures[existing])
    assert err.code() == KafkaError.TOPIC_ALREADY_EXISTS
    assert err.str() == f"Topic '{existing}' already exists."
    err = error_of(futures[bad_config])
    assert err.code() == KafkaError.INVALID_CONFIG
    assert err.str() == "Unknown topic config name: cleanup.polcy"
    err = error_of(futures[bad_value])
    assert err.code() == KafkaError.INVALID_CONFIG
    assert err.str() == (
        "Invalid value a week for configuration retention.ms: Not a number of type LONG"
    )
    err = error_of(futures[bad_rf])
    assert err.code() == KafkaError.INVALID_REPLICATION_FACTOR
    assert "replication factor of 3 cannot be reached because only 2 broker(s)" in err.str()
    err = error_of(futures[bad_name])
    assert err.code() == KafkaError.TOPIC_EXCEPTION
    assert "contains a character other than ASCII alphanumerics" in err.str()
    assert result(futures[good]) is None

    topics = admin.list_topics(timeout=10).topics
    assert good in topics
    assert not {bad_config, bad_value, bad_rf, bad_name} & set(topics)


def test_create_topics_validate_only(admin):
    name, bad = unique(), unique()
    futures = admin.create_topics(
        [NewTopic(name, 4), NewTopic(bad, 1, config={"retention.ms": "x"})], validate_only=True
    )
    assert result(futures[name]) is None
    assert error_of(futures[bad]).code() == KafkaError.INVALID_CONFIG
    assert name not in admin.list_topics(timeout=10).topics
    create(admin, name)  # still free to create for real


def test_manual_replica_assignments(admin):
    # placement is the emulator's own (every broker shares the log); the shape is checked
    name, bad = unique(), unique()
    futures = admin.create_topics(
        [
            NewTopic(name, 3, replica_assignment=[[1, 2], [2, 1], [1, 2]]),
            NewTopic(bad, 2, replica_assignment=[[1], [7]]),
        ]
    )
    assert result(futures[name]) is None
    err = error_of(futures[bad])
    assert err.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT
    assert "includes broker 7, but no such broker is registered" in err.str()
    topic = admin.list_topics(name, timeout=10).topics[name]
    assert len(topic.partitions) == 3
    assert all(len(p.replicas) == 2 for p in topic.partitions.values())

    short = NewPartitions(name, 5, replica_assignment=[[1, 2]])
    err = error_of(admin.create_partitions([short])[name])
    assert err.code() == KafkaError.INVALID_REPLICA_ASSIGNMENT
    assert "Attempted to add 2 additional partition(s), but only 1 assignment(s)" in err.str()
    ok = NewPartitions(name, 5, replica_assignment=[[1, 2], [2, 1]])
    assert result(admin.create_partitions([ok])[name]) is None
    assert len(admin.list_topics(name, timeout=10).topics[name].partitions) == 5


# --- DeleteTopics, CreatePartitions ---------------------------------------------------------


def test_delete_topics(admin, cluster):
    doomed = create(admin, unique(), 2)
    produce(cluster, doomed, 5)
    missing = unique()
    futures = admin.delete_topics([doomed, missing], operation_timeout=10)
    assert result(futures[doomed]) is None
    assert error_of(futures[missing]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert doomed not in admin.list_topics(timeout=10).topics
    assert doomed not in {t["name"] for t in cluster.api("/api/topics")}
    create(admin, doomed, 1)  # the name can be reused, and the new topic starts empty
    assert cluster.api(f"/api/topics/{doomed}")["messages"] == 0


def test_create_partitions(admin, cluster):
    name = create(admin, unique(), 1)
    assert result(admin.create_partitions([NewPartitions(name, 3)])[name]) is None
    assert len(admin.list_topics(name).topics[name].partitions) == 3
    produce(cluster, name, 2, partition=2)  # the new partitions take records

    same, fewer, missing = (
        NewPartitions(name, 3),
        NewPartitions(name, 2),
        NewPartitions(unique(), 5),
    )
    err = error_of(admin.create_partitions([same])[name])
    assert err.code() == KafkaError.INVALID_PARTITIONS
    assert err.str() == "Topic already has 3 partition(s)."
    err = error_of(admin.create_partitions([fewer])[name])
    assert err.code() == KafkaError.INVALID_PARTITIONS
    assert "currently has 3 partition(s); 2 would not be an increase" in err.str()
    err = error_of(admin.create_partitions([missing])[missing.topic])
    assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART

    dry = admin.create_partitions([NewPartitions(name, 6)], validate_only=True)
    assert result(dry[name]) is None
    assert len(admin.list_topics(name).topics[name].partitions) == 3


# --- DescribeConfigs, AlterConfigs, IncrementalAlterConfigs ---------------------------------


def test_describe_configs_of_topics_and_brokers(admin):
    name = create(admin, unique(), 1, **{"max.message.bytes": "2048"})
    topic_res = ConfigResource(ResourceType.TOPIC, name)
    broker_res = ConfigResource(ResourceType.BROKER, "1")
    missing_res = ConfigResource(ResourceType.TOPIC, unique())
    futures = admin.describe_configs([topic_res, broker_res, missing_res])

    topic = result(futures[topic_res])
    assert {"cleanup.policy", "retention.ms", "segment.bytes", "min.insync.replicas"} <= set(topic)
    assert all(not e.is_read_only for e in topic.values())
    assert topic["max.message.bytes"].value == "2048"
    assert not topic["max.message.bytes"].is_default
    assert topic["retention.ms"].value == "604800000"
    assert topic["retention.ms"].is_default
    assert topic["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    assert "log.retention.ms" in topic["retention.ms"].synonyms

    broker = result(futures[broker_res])
    assert broker["node.id"].value == "1"
    assert broker["num.partitions"].value == "1"
    assert broker["num.partitions"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert broker["num.partitions"].is_read_only

    assert error_of(futures[missing_res]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_incremental_alter_configs(admin, cluster):
    name = create(admin, unique(), 1)
    res = ConfigResource(
        ResourceType.TOPIC,
        name,
        incremental_configs=[
            ConfigEntry("retention.ms", "60000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry(
                "cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND
            ),
        ],
    )
    assert result(admin.incremental_alter_configs([res])[res]) is None
    entries = describe(admin, name)
    assert entries["retention.ms"].value == "60000"
    assert entries["cleanup.policy"].value == "delete,compact"
    assert cluster.api(f"/api/topics/{name}")["configs"] == {
        "retention.ms": "60000",
        "cleanup.policy": "delete,compact",
    }

    res = ConfigResource(
        ResourceType.TOPIC,
        name,
        incremental_configs=[
            ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
            ConfigEntry(
                "cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SUBTRACT
            ),
        ],
    )
    assert result(admin.incremental_alter_configs([res])[res]) is None
    entries = describe(admin, name)
    assert entries["retention.ms"].is_default
    assert entries["cleanup.policy"].value == "compact"


def test_incremental_alter_configs_errors_answer_every_resource(admin):
    name = create(admin, unique(), 1)

    def op(topic: str, key: str, value: str, kind: AlterConfigOpType) -> ConfigResource:
        entry = ConfigEntry(key, value, incremental_operation=kind)
        return ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])

    append_long = op(name, "retention.ms", "1", AlterConfigOpType.APPEND)
    unknown_key = op(name, "retention.hours", "1", AlterConfigOpType.SET)
    missing = op(unique(), "retention.ms", "1", AlterConfigOpType.SET)
    for res, code, message in [
        (
            append_long,
            KafkaError.INVALID_CONFIG,
            "Can't APPEND to key retention.ms because its type is not LIST.",
        ),
        (unknown_key, KafkaError.INVALID_CONFIG, "Unknown topic config name: retention.hours"),
        (missing, KafkaError.UNKNOWN_TOPIC_OR_PART, None),
    ]:
        err = error_of(admin.incremental_alter_configs([res])[res])
        assert err.code() == code
        if message:
            assert err.str() == message
    broker = ConfigResource(
        ResourceType.BROKER,
        "1",
        incremental_configs=[
            ConfigEntry("num.partitions", "3", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    err = error_of(admin.incremental_alter_configs([broker])[broker])
    assert err.code() == KafkaError.INVALID_REQUEST
    assert "read-only" in err.str()
    assert describe(admin, name)["retention.ms"].is_default  # nothing changed

    dry = op(name, "retention.ms", "1000", AlterConfigOpType.SET)
    assert result(admin.incremental_alter_configs([dry], validate_only=True)[dry]) is None
    assert describe(admin, name)["retention.ms"].is_default


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")
def test_legacy_alter_configs_replaces_the_whole_set(admin):
    name = create(admin, unique(), 1, **{"retention.ms": "1000", "cleanup.policy": "compact"})
    res = ConfigResource(ResourceType.TOPIC, name, set_config={"max.message.bytes": "4096"})
    assert result(admin.alter_configs([res])[res]) is None
    entries = describe(admin, name)
    assert entries["max.message.bytes"].value == "4096"
    assert entries["retention.ms"].is_default  # not listed, so reset to the default
    assert entries["cleanup.policy"].value == "delete"

    bad = ConfigResource(ResourceType.TOPIC, name, set_config={"retention.ms": "soon"})
    assert error_of(admin.alter_configs([bad])[bad]).code() == KafkaError.INVALID_CONFIG


def test_altered_configs_take_effect_and_survive_a_restart(tmp_path):
    with ClusterProcess(tmp_path) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        name = create(admin, unique(), 1)
        produce(cluster, name, 3)
        # smaller segments apply to the open log from its next roll on
        res = ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry("segment.bytes", "1024", incremental_operation=AlterConfigOpType.SET),
                ConfigEntry(
                    "message.timestamp.type",
                    "LogAppendTime",
                    incremental_operation=AlterConfigOpType.SET,
                ),
            ],
        )
        assert result(admin.incremental_alter_configs([res])[res]) is None
        for _ in range(20):
            produce(cluster, name, 10)
        part = cluster.api(f"/api/topics/{name}")["partition_details"][0]
        assert part["high_watermark"] == 203
        assert part["segments"] > 1

        consumer = Consumer(
            {
                "bootstrap.servers": cluster.bootstrap,
                "group.id": unique("g"),
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(name, 0, 202)])
        msg = None
        deadline = time.monotonic() + 30
        while msg is None and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
        consumer.close()
        assert msg is not None and msg.error() is None
        assert msg.timestamp()[0] == 2  # TIMESTAMP_LOG_APPEND_TIME

        cluster.restart()
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        entries = describe(admin, name)
        assert entries["segment.bytes"].value == "1024"
        assert entries["message.timestamp.type"].value == "LogAppendTime"
        assert cluster.api(f"/api/topics/{name}")["partition_details"][0]["high_watermark"] == 203


# --- DeleteRecords ----------------------------------------------------------------------------


def test_delete_records(admin, cluster):
    name = create(admin, unique(), 1)
    produce(cluster, name, 10)
    tp = TopicPartition(name, 0, 4)
    deleted = result(admin.delete_records([tp])[tp])
    assert deleted.low_watermark == 4

    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": unique("g")})
    assert consumer.get_watermark_offsets(TopicPartition(name, 0)) == (4, 10)

    before = TopicPartition(name, 0, 2)  # already deleted: a no-op
    assert result(admin.delete_records([before])[before]).low_watermark == 4
    beyond = TopicPartition(name, 0, 11)
    assert error_of(admin.delete_records([beyond])[beyond]).code() == KafkaError.OFFSET_OUT_OF_RANGE
    everything = TopicPartition(name, 0, OFFSET_END)  # -1: up to the high watermark
    assert result(admin.delete_records([everything])[everything]).low_watermark == 10
    assert consumer.get_watermark_offsets(TopicPartition(name, 0)) == (10, 10)
    consumer.close()


def test_delete_records_refused_on_compacted_topics(admin, cluster):
    name = create(admin, unique(), 1, **{"cleanup.policy": "compact"})
    produce(cluster, name, 3)
    tp = TopicPartition(name, 0, 1)
    assert error_of(admin.delete_records([tp])[tp]).code() == KafkaError.POLICY_VIOLATION


def test_delete_records_must_go_to_the_leader(admin, cluster):
    name = create(admin, unique(), 1)
    produce(cluster, name, 3)
    leader = admin.list_topics(name).topics[name].partitions[0].leader
    other = 2 if leader == 1 else 1
    req = request(
        21,
        2,
        topics=(
            nested(
                21,
                2,
                "DeleteRecordsTopic",
                name=name,
                partitions=(nested(21, 2, "DeleteRecordsPartition", partition_index=0, offset=1),),
            ),
        ),
    )
    wrong = raw_call(address(cluster, other), req).topics[0].partitions[0]
    assert wrong.error_code == ErrorCode.not_leader_or_follower
    right = raw_call(address(cluster, leader), req).topics[0].partitions[0]
    assert (right.error_code, right.low_watermark) == (ErrorCode.none, 1)


# --- describe_cluster, describe_topics, list_topics -----------------------------------------


def test_describe_cluster_topics_and_list_topics(admin, cluster):
    name = create(admin, unique(), 2)
    desc = result(admin.describe_cluster(include_authorized_operations=True))
    assert desc.cluster_id == cluster.api("/api/cluster")["cluster_id"]
    assert sorted(n.id for n in desc.nodes) == [1, 2]
    assert desc.controller.id == 1
    assert desc.authorized_operations

    topic = result(admin.describe_topics(TopicCollection([name]))[name])
    assert topic.name == name
    assert [p.id for p in topic.partitions] == [0, 1]
    assert all(p.leader.id in (1, 2) for p in topic.partitions)

    meta = admin.list_topics(timeout=10)
    assert name in meta.topics
    assert sorted(meta.brokers) == [1, 2]

    missing = unique()
    err = error_of(admin.describe_topics(TopicCollection([missing]))[missing])
    assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


# --- raw requests: versions and cases librdkafka does not send --------------------------------


def creatable(name: str, partitions: int = 1, **configs: str | None):
    return nested(
        19,
        7,
        "CreatableTopic",
        name=name,
        num_partitions=partitions,
        replication_factor=-1,
        assignments=(),
        configs=tuple(
            nested(19, 7, "CreatableTopicConfig", name=k.replace("_", "."), value=v)
            for k, v in configs.items()
        ),
    )


def test_create_topics_v7_returns_the_new_topic(cluster):
    name = unique()
    resp = raw_call(
        cluster.bootstrap.split(",")[0],
        request(19, 7, topics=(creatable(name, 3, cleanup_policy="compact"),)),
    )
    (res,) = resp.topics
    assert res.error_code == ErrorCode.none
    assert (res.num_partitions, res.replication_factor) == (3, 1)
    assert res.topic_id != uuid.UUID(int=0)
    configs = {c.name: c for c in res.configs}
    assert configs["cleanup.policy"].value == "compact"
    assert configs["cleanup.policy"].config_source == 1  # DYNAMIC_TOPIC_CONFIG
    assert configs["retention.ms"].config_source == 5  # DEFAULT_CONFIG


def test_create_topics_with_a_duplicate_or_null_config(cluster):
    dup, nulled = unique(), unique()
    resp = raw_call(
        cluster.bootstrap.split(",")[0],
        request(
            19,
            7,
            topics=(creatable(dup), creatable(dup), creatable(nulled, retention_ms=None)),
        ),
    )
    by_name = {t.name: t for t in resp.topics}
    assert len(resp.topics) == 2  # a duplicated name is answered once
    assert by_name[dup].error_code == ErrorCode.invalid_request
    assert by_name[dup].error_message == "Duplicate topic name."
    assert by_name[nulled].error_code == ErrorCode.invalid_config
    assert by_name[nulled].error_message == (
        "Null value not supported for topic configs: retention.ms"
    )


def test_delete_topics_v6_by_id(admin, cluster):
    name = create(admin, unique(), 1)
    topic_id = uuid.UUID(cluster.api(f"/api/topics/{name}")["id"])
    missing_id = uuid.uuid4()
    resp = raw_call(
        cluster.bootstrap.split(",")[0],
        request(
            20,
            6,
            topics=(
                nested(20, 6, "DeleteTopicState", name=None, topic_id=topic_id),
                nested(20, 6, "DeleteTopicState", name=None, topic_id=missing_id),
            ),
        ),
    )
    by_id = {r.topic_id: r for r in resp.responses}
    assert by_id[topic_id].error_code == ErrorCode.none
    assert by_id[topic_id].name == name
    assert by_id[missing_id].error_code == ErrorCode.unknown_topic_id
    assert name not in admin.list_topics(timeout=10).topics


def test_describe_configs_v4_types_and_broker_ids(admin, cluster):
    name = create(admin, unique(), 1)
    resources = (
        nested(32, 4, "DescribeConfigsResource", resource_type=2, resource_name=name,
               configuration_keys=("retention.ms", "cleanup.policy")),
        nested(32, 4, "DescribeConfigsResource", resource_type=4, resource_name="2",
               configuration_keys=None),
        nested(32, 4, "DescribeConfigsResource", resource_type=4, resource_name="one",
               configuration_keys=None),
        nested(32, 4, "DescribeConfigsResource", resource_type=4, resource_name="",
               configuration_keys=None),
    )  # fmt: skip
    resp = raw_call(address(cluster, 1), request(32, 4, resources=resources, include_synonyms=True))
    topic, other_broker, bad_id, defaults = resp.results
    assert topic.error_code == ErrorCode.none
    types = {c.name: c.config_type for c in topic.configs}
    assert types == {"cleanup.policy": 7, "retention.ms": 5}  # LIST, LONG
    assert all(c.synonyms for c in topic.configs)
    # a broker describes its own configs only, as Kafka does
    assert other_broker.error_code == ErrorCode.invalid_request
    assert other_broker.error_message == (
        "Unexpected broker id, expected 1 or empty string, but received 2"
    )
    assert bad_id.error_code == ErrorCode.invalid_request
    assert bad_id.error_message == "Broker id must be an integer, but it is: one"
    assert (defaults.error_code, defaults.configs) == (ErrorCode.none, ())


def test_describe_cluster_api(cluster):
    resp = raw_call(
        address(cluster, 2),
        request(60, 1, include_cluster_authorized_operations=False, endpoint_type=1),
    )
    assert resp.error_code == ErrorCode.none
    assert resp.cluster_id == cluster.api("/api/cluster")["cluster_id"]
    assert resp.controller_id == 1
    assert sorted(b.broker_id for b in resp.brokers) == [1, 2]
    assert resp.cluster_authorized_operations == -(2**31)
    wrong = raw_call(
        address(cluster, 1),
        request(60, 1, include_cluster_authorized_operations=False, endpoint_type=2),
    )
    assert wrong.error_code == ErrorCode.mismatched_endpoint_type


def test_admin_calls_on_a_stopped_broker_still_reach_the_controller(tmp_path):
    # Controller-bound calls go to the lowest live broker (Metadata says so); after broker 1
    # stops, broker 2 answers them.
    with ClusterProcess(tmp_path, brokers=2) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        cluster.api("/api/brokers/1/stop", method="POST")
        name = unique()
        deadline = time.monotonic() + 30
        while True:
            try:
                result(admin.create_topics([NewTopic(name, 1)])[name])
                break
            except KafkaException as e:
                if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    break  # an earlier attempt got through, only its answer was lost
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # the client may still think broker 1 is the controller
        assert name in admin.list_topics(timeout=10).topics


def test_new_topics_are_placed_on_live_brokers_and_stay_there(tmp_path):
    """Kafka's controller assigns replicas among the brokers registered at creation time, and
    the assignment is kept: a broker coming back does not take partitions over."""
    with ClusterProcess(str(tmp_path), brokers=3) as cluster:
        cluster.api("/api/brokers/2/stop", "POST")
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        admin.create_topics([NewTopic("placed", 6, 1)])["placed"].result(10)

        def replicas() -> dict[int, list[int]]:
            md = AdminClient({"bootstrap.servers": cluster.bootstrap}).list_topics("placed", 10)
            return {p: list(m.replicas) for p, m in md.topics["placed"].partitions.items()}

        before = replicas()
        assert len(before) == 6
        assert all(r in ([1], [3]) for r in before.values())  # never the stopped broker 2
        cluster.api("/api/brokers/2/start", "POST")
        assert replicas() == before
        cluster.restart()
        assert replicas() == before
