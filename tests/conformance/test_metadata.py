"""Metadata: list_topics, describe_cluster, describe_topics, and when topics get auto-created."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, TopicCollection
from confluent_kafka.admin import AdminClient
from conformance_helpers import error_of, result, unique, wait_for


def test_list_topics(kafka):
    topic = kafka.create_topic(partitions=3)
    md = kafka.admin.list_topics(timeout=10)
    assert md.cluster_id
    assert md.brokers and md.controller_id in md.brokers
    for b in md.brokers.values():
        assert b.host and b.port > 0
    if kafka.kind != "external":
        assert {f"{b.host}:{b.port}" for b in md.brokers.values()} == {kafka.bootstrap}
    tmd = md.topics[topic]
    assert tmd.error is None
    assert sorted(tmd.partitions) == [0, 1, 2]
    for pid, p in tmd.partitions.items():
        assert p.id == pid and p.error is None
        assert p.leader in md.brokers
        assert p.leader in p.replicas and p.leader in p.isrs


def test_list_topics_from_producer_and_consumer(kafka):
    topic = kafka.create_topic(partitions=2)
    for client in (kafka.producer(), kafka.consumer()):
        md = client.list_topics(topic, timeout=10)
        assert sorted(md.topics[topic].partitions) == [0, 1]


def test_describe_cluster(kafka):
    desc = result(kafka.admin.describe_cluster(request_timeout=10))
    md = kafka.admin.list_topics(timeout=10)
    assert desc.cluster_id == md.cluster_id
    assert {n.id for n in desc.nodes} == set(md.brokers)
    assert desc.controller is not None and desc.controller.id in md.brokers
    for n in desc.nodes:
        assert (n.host, n.port) == (md.brokers[n.id].host, md.brokers[n.id].port)


def test_describe_topics(kafka):
    topic = kafka.create_topic(partitions=2)
    missing = unique("missing")
    futs = kafka.admin.describe_topics(TopicCollection([topic, missing]), request_timeout=10)
    d = result(futs[topic])
    assert d.name == topic
    assert not d.is_internal
    assert str(d.topic_id) != "AAAAAAAAAAAAAAAAAAAAAA"  # a real, non-zero topic id
    assert [p.id for p in d.partitions] == [0, 1]
    for p in d.partitions:
        assert p.leader is not None
        assert p.leader.id in [r.id for r in p.replicas]
        assert p.leader.id in [r.id for r in p.isr]
    assert error_of(futs[missing]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert missing not in kafka.topic_names()


def test_auto_create_on_produce(kafka):
    if kafka.kind == "external":
        pytest.skip("depends on the external cluster's auto.create.topics.enable")
    topic = kafka.topic()
    reports = kafka.produce(topic, [b"hello"])
    assert (reports[0][1].partition(), reports[0][1].offset()) == (0, 0)
    md = kafka.admin.list_topics(topic, timeout=10).topics[topic]
    assert md.error is None and list(md.partitions) == [0]  # num.partitions=1 on both
    assert kafka.read(topic, 1)[0].value() == b"hello"


def _created(kafka, *topics: str) -> set[str]:
    # Kafka creates auto-created topics in the background: give a wrong creation time to show.
    time.sleep(1)
    return set(topics) & kafka.topic_names()


def _subscribe_error(consumer, topic: str) -> KafkaError:
    consumer.subscribe([topic])

    def error():
        m = consumer.poll(0.2)
        return m.error() if m is not None and m.error() else None

    return wait_for(error, what=f"an error for subscribing to {topic}")


def test_metadata_request_allowing_auto_create(kafka):
    """Metadata for one topic asks the broker to auto-create it from a Producer and an
    AdminClient (both default to allow.auto.create.topics=true in librdkafka) and from a
    Consumer configured so."""
    if kafka.kind == "external":
        pytest.skip("depends on the external cluster's auto.create.topics.enable")
    by_producer, by_admin, by_consumer = kafka.topic(), kafka.topic(), kafka.topic()
    # Real Kafka creates the topic in the background, so the first answer may not have it yet
    # (UNKNOWN_TOPIC_OR_PARTITION): each request must lead to the topic, soon after.
    kafka.producer().list_topics(by_producer, timeout=10)
    kafka.admin.list_topics(by_admin, timeout=10)
    kafka.consumer({"allow.auto.create.topics": True}).list_topics(by_consumer, timeout=10)
    for topic in (by_producer, by_admin, by_consumer):
        wait_for(lambda t=topic: t in kafka.topic_names(), what=f"{topic} auto-created")
        kafka.wait_topic(topic, 1)


def test_first_metadata_answer_for_auto_created_topic(kafka):
    """Kafka 4.x creates the topic in the background and answers the request that caused it
    with UNKNOWN_TOPIC_OR_PARTITION (not LEADER_NOT_AVAILABLE as older brokers did)."""
    if kafka.kind == "external":
        pytest.skip("depends on the external cluster's auto.create.topics.enable")
    topic = kafka.topic()
    md = kafka.admin.list_topics(topic, timeout=10).topics[topic]
    if kafka.kind == "emulator":
        # Intended difference (README): the emulator gives the same first answer but creates
        # the topic at once, so if librdkafka retries before returning, it finds the topic.
        if md.error is None:
            assert len(md.partitions) == 1
        else:
            assert md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    else:
        assert md.error is not None and md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    kafka.wait_topic(topic, 1)


def test_no_auto_create_when_not_allowed(kafka):
    by_consumer, by_admin, subscribed = kafka.topic(), kafka.topic(), kafka.topic()
    md = kafka.consumer().list_topics(by_consumer, timeout=10).topics[by_consumer]
    assert md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    admin = AdminClient(kafka.conf({"allow.auto.create.topics": False}))
    md = admin.list_topics(by_admin, timeout=10).topics[by_admin]
    assert md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    # subscribe never creates, even with allow.auto.create.topics=true (librdkafka #3395)
    c = kafka.consumer({"allow.auto.create.topics": True})
    assert _subscribe_error(c, subscribed).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert not _created(kafka, by_consumer, by_admin, subscribed)


def test_broker_without_auto_create(kafka):
    bootstrap = kafka.no_auto_create_bootstrap()
    topic = unique("t")
    reports = kafka.produce(
        topic, [b"x"], {"topic.metadata.propagation.max.ms": 1000}, check=False,
        bootstrap=bootstrap,
    )  # fmt: skip
    assert reports[0][0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    md = kafka.producer(bootstrap=bootstrap).list_topics(topic, timeout=10).topics[topic]
    assert md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    c = kafka.consumer({"allow.auto.create.topics": True}, bootstrap=bootstrap)
    assert _subscribe_error(c, topic).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    admin = AdminClient(kafka.conf(bootstrap=bootstrap))
    md = admin.list_topics(topic, timeout=10).topics[topic]
    assert md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    time.sleep(1)
    assert topic not in admin.list_topics(timeout=10).topics
