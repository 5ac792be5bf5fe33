"""Kafka event source mappings against the emulated cluster: the event, batching, commits after
success, retries, destinations, filters, starting positions, and the producer-flush lesson."""

from __future__ import annotations

import base64
import json
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.awslambda.testing import vendor
from streamlab.kafka.testing import ClusterProcess

from .lambda_helpers import source, wait_until

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    with ClusterProcess(str(tmp_path_factory.mktemp("kafka"))) as cluster:
        yield cluster


@pytest.fixture
def topic(kafka, request):
    name = request.node.name.replace("[", "-").replace("]", "")[:60]
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.create_topics([NewTopic(name, 2, 1)])[name].result(30)
    return name


def produce(kafka, topic, records):
    """records: (partition, key, value, headers) tuples."""
    p = Producer({"bootstrap.servers": kafka.bootstrap})
    for partition, key, value, headers in records:
        p.produce(topic, key=key, value=value, headers=headers, partition=partition)
    assert p.flush(30) == 0


def mapping(lam, fn, kafka, topic, **kwargs):
    args = {
        "FunctionName": fn,
        "Topics": [topic],
        "StartingPosition": "TRIM_HORIZON",
        "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka.bootstrap]}},
        "MaximumBatchingWindowInSeconds": 0,
    }
    args.update(kwargs)
    return lam.create_event_source_mapping(**args)


def events(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def delivered(path):
    return [r for e in events(path) for recs in e["records"].values() for r in recs]


def committed(kafka, group, topic, partitions=(0, 1)):
    c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group})
    try:
        return {
            tp.partition: tp.offset
            for tp in c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        }
    finally:
        c.close()


def test_event_shape_matches_aws_and_parses_with_powertools(deploy, lam, kafka, topic, tmp_path):
    from aws_lambda_powertools.utilities.data_classes import KafkaEvent
    from aws_lambda_powertools.utilities.parser.models import KafkaSelfManagedEventModel

    out = tmp_path / "events.jsonl"
    fn = deploy(RECORDER, Environment={"Variables": {"OUT": str(out)}})
    produce(
        kafka,
        topic,
        [
            (0, b"order-1", b'{"id": 1}', [("source", b"web"), ("note", "café".encode())]),
            (0, None, b'{"id": 2}', []),  # no key
            (1, b"order-3", None, None),  # tombstone
        ],
    )
    mapping(lam, fn, kafka, topic)
    wait_until(lambda: len(delivered(out)) == 3)
    event = events(out)[0] if len(events(out)) == 1 else None
    records = {r["offset"] + 100 * r["partition"]: r for r in delivered(out)}
    first, keyless, tombstone = records[0], records[1], records[100]
    assert set(first) == {
        "topic",
        "partition",
        "offset",
        "timestamp",
        "timestampType",
        "key",
        "value",
        "headers",
    }
    assert first["topic"] == topic and first["partition"] == 0
    assert base64.b64decode(first["key"]) == b"order-1"
    assert base64.b64decode(first["value"]) == b'{"id": 1}'
    assert first["timestampType"] == "CREATE_TIME"
    assert first["timestamp"] > 1_600_000_000_000  # epoch milliseconds
    assert first["headers"] == [{"source": [119, 101, 98]}, {"note": [99, 97, 102, -61, -87]}]
    assert "key" not in keyless and keyless["headers"] == []
    assert "value" not in tombstone
    for e in events(out):
        assert e["eventSource"] == "SelfManagedKafka"
        assert "eventSourceArn" not in e
        assert e["bootstrapServers"] == kafka.bootstrap
        assert all(k in (f"{topic}-0", f"{topic}-1") for k in e["records"])
        # Powertools' parser model still requires "value", so a tombstone (no value, as AWS sends
        # it) fails validation there: a real pitfall for learners. The rest parses.
        without_tombstones = {
            **e,
            "records": {
                k: [r for r in recs if "value" in r]
                for k, recs in e["records"].items()
                if any("value" in r for r in recs)
            },
        }
        parsed = KafkaSelfManagedEventModel.model_validate(without_tombstones)
        assert parsed.bootstrapServers == kafka.bootstrap.split(",")
        for r in KafkaEvent(e).records:
            assert r.topic == topic
    if event is not None:
        assert list(event) == ["eventSource", "bootstrapServers", "records"]


def test_batches_respect_batch_size_and_keep_partition_order(deploy, lam, kafka, topic, tmp_path):
    out = tmp_path / "events.jsonl"
    fn = deploy(RECORDER, Environment={"Variables": {"OUT": str(out)}})
    produce(kafka, topic, [(i % 2, None, str(i).encode(), []) for i in range(40)])
    m = mapping(lam, fn, kafka, topic, BatchSize=7, MaximumBatchingWindowInSeconds=1)
    wait_until(lambda: len(delivered(out)) == 40)
    for e in events(out):
        assert sum(len(v) for v in e["records"].values()) <= 7
    for partition in (0, 1):
        offsets = [r["offset"] for r in delivered(out) if r["partition"] == partition]
        assert offsets == list(range(20))
    wait_until(lambda: committed(kafka, m["UUID"], topic) == {0: 20, 1: 20})
    got = lam.get_event_source_mapping(UUID=m["UUID"])
    assert got["LastProcessingResult"] == "OK"
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_failed_batch_is_retried_and_not_committed_until_it_succeeds(
    deploy, lam, kafka, topic, tmp_path
):
    out, attempts, broken = tmp_path / "events.jsonl", tmp_path / "attempts", tmp_path / "broken"
    broken.write_text("yes")
    fn = deploy(
        """
        import json, os
        def handler(event, context):
            with open(os.environ["ATTEMPTS"], "a") as f:
                f.write("x")
            if os.path.exists(os.environ["BROKEN"]):
                raise RuntimeError("downstream unavailable")
            with open(os.environ["OUT"], "a") as f:
                f.write(json.dumps(event) + "\\n")
        """,
        Environment={
            "Variables": {"OUT": str(out), "ATTEMPTS": str(attempts), "BROKEN": str(broken)}
        },
    )
    produce(kafka, topic, [(0, None, b"a", []), (0, None, b"b", []), (0, None, b"c", [])])
    m = mapping(lam, fn, kafka, topic)
    wait_until(lambda: attempts.exists() and len(attempts.read_text()) >= 3)
    assert committed(kafka, m["UUID"], topic)[0] < 0  # nothing committed while failing
    assert lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"] == (
        "PROBLEM: Function call failed"
    )
    broken.unlink()
    wait_until(lambda: len(delivered(out)) == 3)
    assert [base64.b64decode(r["value"]) for r in delivered(out)] == [b"a", b"b", b"c"]
    wait_until(lambda: committed(kafka, m["UUID"], topic)[0] == 3)
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_exhausted_retries_go_to_the_kafka_destination(deploy, lam, kafka, topic):
    fn = deploy("def handler(e, c):\n    raise ValueError('poison')\n")
    dlq = topic + "-dlq"
    produce(kafka, topic, [(1, b"k", b"poison-pill", [("trace", b"1")])])
    m = mapping(
        lam,
        fn,
        kafka,
        topic,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": f"kafka://{dlq}"}},
    )
    wait_until(lambda: committed(kafka, m["UUID"], topic)[1] == 1)
    c = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": "dlq-reader",
            "auto.offset.reset": "earliest",
        }
    )
    c.subscribe([dlq])
    msg = wait_until(lambda: next(iter(c.consume(1, 1.0)), None))
    c.close()
    assert (msg.key(), msg.value()) == (b"k", b"poison-pill")
    headers = dict(msg.headers())
    assert headers["trace"] == b"1"
    assert headers["x-amzn-lambda-failure-condition"] == b"RetryAttemptsExhausted"
    assert headers["x-amzn-lambda-source-offset"] == b"0"
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_filtered_records_are_skipped_but_committed(deploy, lam, kafka, topic, tmp_path):
    out = tmp_path / "events.jsonl"
    fn = deploy(RECORDER, Environment={"Variables": {"OUT": str(out)}})
    produce(
        kafka,
        topic,
        [
            (0, None, json.dumps({"status": s, "n": i}).encode(), [])
            for i, s in enumerate(["NEW", "OLD", "NEW", "OLD"])
        ]
        + [(0, None, b"not json", [])],
    )
    m = mapping(
        lam,
        fn,
        kafka,
        topic,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"value": {"status": ["NEW"]}})}]},
    )
    wait_until(lambda: committed(kafka, m["UUID"], topic)[0] == 5)
    values = [json.loads(base64.b64decode(r["value"])) for r in delivered(out)]
    assert values == [{"status": "NEW", "n": 0}, {"status": "NEW", "n": 2}]
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_at_timestamp_starts_from_that_time(deploy, lam, kafka, topic, tmp_path):
    out = tmp_path / "events.jsonl"
    fn = deploy(RECORDER, Environment={"Variables": {"OUT": str(out)}})
    produce(kafka, topic, [(0, None, b"old", [])])
    time.sleep(1.1)  # record timestamps are in milliseconds; leave a clear gap
    start = time.time()
    time.sleep(0.1)
    produce(kafka, topic, [(0, None, b"new", []), (1, None, b"new", [])])
    mapping(lam, fn, kafka, topic, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=start)
    wait_until(lambda: len(delivered(out)) == 2)
    assert {base64.b64decode(r["value"]) for r in delivered(out)} == {b"new"}


def test_partial_batch_response_retries_from_the_failed_record(deploy, lam, kafka, topic, tmp_path):
    out, seen = tmp_path / "events.jsonl", tmp_path / "seen"
    fn = deploy(
        """
        import json, os
        def handler(event, context):
            first_time = not os.path.exists(os.environ["SEEN"])
            open(os.environ["SEEN"], "a").close()
            with open(os.environ["OUT"], "a") as f:
                f.write(json.dumps(event) + "\\n")
            if first_time:
                key = next(iter(event["records"]))
                return {"batchItemFailures": [{"itemIdentifier": {"partition": key, "offset": 1}}]}
            return {"batchItemFailures": []}
        """,
        Environment={"Variables": {"OUT": str(out), "SEEN": str(seen)}},
    )
    produce(kafka, topic, [(0, None, v, []) for v in (b"r0", b"r1", b"r2")])
    m = mapping(
        lam,
        fn,
        kafka,
        topic,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumBatchingWindowInSeconds=1,
    )
    wait_until(lambda: committed(kafka, m["UUID"], topic)[0] == 3)
    batches = [[r["offset"] for recs in e["records"].values() for r in recs] for e in events(out)]
    assert batches == [[0, 1, 2], [1, 2]]
    lam.delete_event_source_mapping(UUID=m["UUID"])


PRODUCER_FN = """
import os
from confluent_kafka import Producer

PRODUCER = Producer({"bootstrap.servers": os.environ["BOOTSTRAP"], "linger.ms": 2000})

def handler(event, context):
    PRODUCER.produce(os.environ["TOPIC"], value=event["value"].encode())
    if event.get("flush"):
        PRODUCER.flush()
    return "sent" if event.get("flush") else "buffered"
"""


def topic_values(kafka, topic, settle: float = 0.0) -> list[bytes]:
    """Every value on the topic now, read to the end of each partition (after ``settle``
    seconds, for a check that something was *not* sent: time for it to arrive if it was)."""
    time.sleep(settle)
    c = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": f"count-{time.time()}",
            "enable.partition.eof": True,
        }
    )
    partitions = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    got, open_partitions = [], set(partitions)
    deadline = time.monotonic() + 30
    while open_partitions and time.monotonic() < deadline:
        for m in c.consume(100, 0.2):
            if m.error() is None:
                got.append(m.value())
            elif m.error().code() == KafkaError._PARTITION_EOF:
                open_partitions.discard(m.partition())
    c.close()
    assert not open_partitions, f"{topic}: no end of partitions {sorted(open_partitions)}"
    return got


def test_unflushed_records_wait_for_the_next_invocation_and_die_with_the_environment(
    deploy, lam, aws, kafka, topic
):
    # the function's zip carries confluent_kafka, as on AWS: the runtime does not have it
    fn = deploy(
        {**vendor("confluent-kafka"), "app.py": source(PRODUCER_FN)},
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": {"BOOTSTRAP": kafka.bootstrap, "TOPIC": topic}},
    )
    deploy.invoke(fn, {"value": "warm-up", "flush": True})
    _, answer = deploy.invoke(fn, {"value": "unflushed"})
    assert answer == "buffered"
    wait_until(lambda: [e for e in aws.environments(fn) if e["Frozen"]])
    # frozen: librdkafka's threads cannot send what is still in the producer's buffer
    assert topic_values(kafka, topic, settle=1.5) == [b"warm-up"]
    # thawed by the next invocation, the buffered record finally goes out
    deploy.invoke(fn, {"value": "flushed", "flush": True})
    # (its flush sent both before the invocation returned)
    assert sorted(topic_values(kafka, topic)) == [b"flushed", b"unflushed", b"warm-up"]
    # buffered when the environment is recycled (SIGKILL): lost for good
    deploy.invoke(fn, {"value": "lost"})
    lam.update_function_configuration(
        FunctionName=fn,
        Environment={"Variables": {"BOOTSTRAP": kafka.bootstrap, "TOPIC": topic, "REVISION": "2"}},
    )
    wait_until(lambda: aws.environments(fn) == [])
    assert b"lost" not in topic_values(kafka, topic, settle=1.5)
