"""seed_topics: topics created, seed data written once, repaired rather than duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from streamlab import datagen
from streamlab.kafka.testing import ClusterProcess

SEEDED = ("users", "geo_events", "login_attempts")


@pytest.fixture
def conf(tmp_path: Path) -> Iterator[dict]:
    """A broker of its own: seeding writes to the datasets' fixed topic names."""
    with ClusterProcess(str(tmp_path / "kafka")) as c:
        yield {"bootstrap.servers": c.bootstrap}


def expected(name: str, count: int, seed: int = 0) -> list[tuple[bytes, bytes]]:
    return [datagen.encode(k, v) for k, v in datagen.generate(name, seed, 0, count)]


def users_rows(seed: int = 0) -> list[tuple[bytes, bytes]]:
    return [datagen.encode(k, v) for k, v in datagen.users_table(seed)]


def produce(conf: dict, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    # murmur2 as datagen (and Java clients) use: a key must land on the partition it had before.
    producer = Producer({**conf, "partitioner": "murmur2_random"})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def test_seeding_twice_writes_once(conf: dict) -> None:
    first = datagen.seed_topics(conf, users=9, rides=40, logins=15, partitions=2)
    assert first.created == [*datagen.APP_TOPICS, "geo_events", "login_attempts"]
    assert first.written == {"users": 9, "geo_events": 40, "login_attempts": 15}
    before = {t: datagen.read_topic(conf, t) for t in SEEDED}
    assert sorted(before["users"]) == sorted(users_rows())
    assert sorted(before["geo_events"]) == sorted(expected("rides", 40))

    again = datagen.seed_topics(conf, users=9, rides=40, logins=15, partitions=2)
    assert again.created == [] and again.deleted == []
    assert again.written == {"users": 0, "geo_events": 0, "login_attempts": 0}
    assert {t: datagen.read_topic(conf, t) for t in SEEDED} == before
    meta = AdminClient(conf).list_topics(timeout=10).topics
    assert {len(meta[t].partitions) for t in datagen.APP_TOPICS} == {2}


def test_seeding_repairs_instead_of_duplicating(conf: dict) -> None:
    datagen.seed_topics(conf, users=9, seed=5)
    # Someone changed User_3; a rides seed was cut off after 10 of its 30 records; and another
    # producer wrote to geo_events meanwhile.
    produce(conf, "users", [(b"User_3", b'{"userid":"User_3","regionid":"X"}')])
    produce(conf, "geo_events", [*expected("rides", 10, seed=5), (b"ride_x", b"{}")])

    result = datagen.seed_topics(conf, users=9, rides=30, seed=5, topics=())
    assert result.written == {"users": 1, "geo_events": 20}
    assert dict(datagen.read_topic(conf, "users")) == dict(users_rows(seed=5))  # latest per key
    rides = datagen.read_topic(conf, "geo_events")
    assert sorted(rides) == sorted([*expected("rides", 30, seed=5), (b"ride_x", b"{}")])


def test_recreate_gives_a_clean_slate(conf: dict) -> None:
    datagen.seed_topics(conf, users=9)
    produce(conf, "stocktrade", [(None, b"junk")])
    produce(conf, "users", [(b"User_1", b"junk")])
    result = datagen.seed_topics(conf, users=9, logins=5, recreate=True)
    assert result.deleted == list(datagen.APP_TOPICS)  # login_attempts did not exist yet
    assert result.created == [*datagen.APP_TOPICS, "login_attempts"]
    assert datagen.read_topic(conf, "stocktrade") == []
    assert sorted(datagen.read_topic(conf, "users")) == sorted(users_rows())
    assert sorted(datagen.read_topic(conf, "login_attempts")) == sorted(expected("logins", 5))


def test_seed_bad_input(conf: dict) -> None:
    with pytest.raises(datagen.DatagenError, match=r"User_1\.\.User_9"):
        datagen.seed_topics(conf, users=12)
    with pytest.raises(datagen.DatagenError, match="partitions"):
        datagen.seed_topics(conf, partitions=0)


def test_watermarks_wait_for_a_new_topics_leader_but_not_for_other_errors() -> None:
    from confluent_kafka import KafkaError, KafkaException, TopicPartition

    from streamlab.datagen import seed

    class Consumer:
        def __init__(self, errors: list[int]) -> None:
            self.errors = errors

        def get_watermark_offsets(self, tp, timeout):
            if self.errors:
                raise KafkaException(KafkaError(self.errors.pop(0)))
            return (0, 7)

    tp = TopicPartition("users", 0)
    not_leader = KafkaError.NOT_LEADER_FOR_PARTITION
    assert seed._watermarks(Consumer([not_leader, not_leader]), tp, 5) == (0, 7)
    with pytest.raises(KafkaException):
        seed._watermarks(Consumer([KafkaError.TOPIC_AUTHORIZATION_FAILED]), tp, 5)
