"""The observability API (HTTP/JSON, and ObserveClient over it) reflects what clients did:
topics and their figures, the records themselves, connected clients, consumer groups, and
broker stop/start. The in-process builders in ``observe`` are checked without HTTP too.
"""

from __future__ import annotations

import json
import struct
import time
import urllib.error
import urllib.request
import uuid

import crc32c
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.kafka import observe
from streamlab.kafka.observe import ObserveClient, ObserveError
from streamlab.kafka.server import Emulator
from streamlab.kafka.testing import ClusterProcess

pytestmark = pytest.mark.timeout(120)
WAIT = 30  # seconds a bounded wait may take before the test fails (never a speed assertion)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = ClusterProcess(tmp_path_factory.mktemp("observe"), brokers=2).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def obs(cluster) -> ObserveClient:
    return ObserveClient(cluster.http_url)


@pytest.fixture(scope="module")
def admin(cluster) -> AdminClient:
    return AdminClient({"bootstrap.servers": cluster.bootstrap})


def create(admin: AdminClient, partitions: int = 1, **configs: str) -> str:
    name = unique()
    admin.create_topics([NewTopic(name, partitions, config=configs)])[name].result(timeout=WAIT)
    return name


def http_error(url: str, method: str = "GET") -> tuple[int, dict]:
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10)
    return err.value.code, json.load(err.value)


# --- topics -----------------------------------------------------------------------------------


def test_topics_reflect_produced_data(cluster, obs, admin):
    name = create(admin, 2, **{"retention.ms": "3600000"})
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "compression.type": "gzip"})
    for i in range(7):
        producer.produce(name, f"a{i}".encode(), partition=0)
    for i in range(3):
        producer.produce(name, f"b{i}".encode(), partition=1)
    assert producer.flush(WAIT) == 0

    listed = {t["name"]: t for t in obs.topics()}
    topic = listed[name]
    assert topic == obs.topic(name)
    assert topic["id"] == str(uuid.UUID(topic["id"]))
    assert (topic["partitions"], topic["replication_factor"]) == (2, 1)
    assert topic["configs"] == {"retention.ms": "3600000"}
    assert topic["messages"] == 10
    leaders = admin.list_topics(name, timeout=WAIT).topics[name].partitions
    for part, expected in zip(topic["partition_details"], (7, 3), strict=True):
        assert part["leader"] == leaders[part["partition"]].leader
        assert part["log_start_offset"] == 0
        assert part["high_watermark"] == part["records_in"] == expected
        assert part["bytes_in"] == part["size_bytes"] > 0
    assert obs.cluster()["topics"] == len(listed)


def test_peek_at_records(cluster, obs, admin):
    name = create(admin)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "linger.ms": 50})
    producer.produce(name, b"first", key=b"k1", headers=[("source", b"test"), ("bin", b"\xff")])
    producer.produce(name, b"\x00\xff binary", key=None)
    for i in range(8):
        producer.produce(name, f"v{i}".encode(), key=f"k{i}".encode(), timestamp=1_700_000_000_000)
    assert producer.flush(WAIT) == 0

    page = obs.records(name, 0)
    assert (page["log_start_offset"], page["high_watermark"]) == (0, 10)
    recs = page["records"]
    assert [r["offset"] for r in recs] == list(range(10))
    first, binary = recs[0], recs[1]
    assert (first["key"], first["value"], first["value_encoding"]) == ("k1", "first", "utf-8")
    assert first["headers"] == [
        {"key": "source", "value": "test", "encoding": "utf-8"},
        {"key": "bin", "value": "/w==", "encoding": "base64"},
    ]
    assert (binary["key"], binary["key_encoding"]) == (None, None)
    assert binary["value_encoding"] == "base64"
    assert binary["value"] == "AP8gYmluYXJ5"  # base64 of b"\x00\xff binary"
    assert recs[2]["timestamp"] == 1_700_000_000_000
    assert recs[2]["time"].startswith("2023-11-14T22:13:20")

    # paging: limit, next_offset, and negative offsets counting back from the high watermark
    page = obs.records(name, 0, offset=3, limit=4)
    assert [r["offset"] for r in page["records"]] == [3, 4, 5, 6]
    assert page["next_offset"] == 7
    page = obs.records(name, 0, offset=page["next_offset"], limit=100)
    assert [r["value"] for r in page["records"]] == ["v5", "v6", "v7"]
    assert [r["offset"] for r in obs.records(name, 0, offset=-2)["records"]] == [8, 9]
    assert obs.records(name, 0, offset=10)["records"] == []

    # after DeleteRecords the peek starts at the new log start
    tp = TopicPartition(name, 0, 6)
    admin.delete_records([tp])[tp].result(timeout=WAIT)
    page = obs.records(name, 0, offset=0, limit=2)
    assert page["log_start_offset"] == 6
    assert [r["offset"] for r in page["records"]] == [6, 7]


def test_errors_are_json_with_proper_status(cluster, obs, admin):
    name = create(admin)
    base = cluster.http_url
    cases = [
        (f"/api/topics/{unique()}", 404, "no topic"),
        (f"/api/topics/{name}/partitions/3/records", 404, "has no partition 3"),
        (f"/api/topics/{name}/partitions/x/records", 400, "partition must be an integer"),
        (f"/api/topics/{name}/partitions/0/records?offset=abc", 400, "offset must be an integer"),
        (f"/api/topics/{name}/partitions/0/records?limit=501", 400, "limit must be between"),
        (f"/api/topics/{name}/partitions/0/records?limit=0", 400, "limit must be between"),
        (f"/api/groups/{unique()}", 404, "no group"),
        ("/api/nothing-here", 404, "Not Found"),
    ]
    for path, status, text in cases:
        code, body = http_error(base + path)
        assert code == status, path
        assert text in body["error"], path
    with pytest.raises(ObserveError) as err:
        obs.topic(unique())
    assert err.value.status == 404
    assert obs.health() == {"status": "ok", "brokers": 2}


# --- clients and groups -----------------------------------------------------------------------


def test_clients_show_connections_and_request_counts(cluster, obs, admin):
    name = create(admin)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "client.id": "obs-producer"})
    for i in range(5):
        producer.produce(name, f"v{i}".encode())
    assert producer.flush(WAIT) == 0

    mine = [c for c in obs.clients() if c["client_id"] == "obs-producer"]
    assert mine, obs.clients()
    assert sum(c["requests"].get("PRODUCE", 0) for c in mine) >= 1
    leader = admin.list_topics(name, timeout=WAIT).topics[name].partitions[0].leader
    producing = [c for c in mine if c["requests"].get("PRODUCE")]
    assert {c["broker"] for c in producing} == {leader}
    for c in mine:
        assert c["peer"].startswith("127.0.0.1:")
        assert c["principal"] is None
        assert c["bytes_in"] > 0 and c["bytes_out"] > 0
        assert c["requests_total"] == sum(c["requests"].values())
        assert c["connected_at"].endswith("+00:00")
    opened = {c["client_id"]: c for c in obs.client_ids()}["obs-producer"]
    assert opened["connections_open"] == len(mine) <= opened["connections_opened"], opened
    del producer
    # the producer's connections go away once it is gone; the count of opened ones stays
    deadline = time.monotonic() + WAIT
    while any(c["client_id"] == "obs-producer" for c in obs.clients()):
        assert time.monotonic() < deadline, "connections of a closed client are still listed"
        time.sleep(0.1)
    after = {c["client_id"]: c for c in obs.client_ids()}["obs-producer"]
    assert after == {**opened, "connections_open": 0}, after


def test_groups_show_members_offsets_and_lag(cluster, obs, admin):
    name = create(admin)
    group = unique("g")
    producer = Producer({"bootstrap.servers": cluster.bootstrap})
    for i in range(6):
        producer.produce(name, f"v{i}".encode())
    assert producer.flush(WAIT) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": group,
            "client.id": "obs-consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([name])
    got = []
    deadline = time.monotonic() + WAIT
    while len(got) < 4 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            got.append(msg)
    assert len(got) >= 4
    consumer.commit(offsets=[TopicPartition(name, 0, 4)], asynchronous=False)

    groups = obs.groups()
    snapshot = obs.group(group)
    assert snapshot in groups
    assert snapshot["group_id"] == group
    assert snapshot["state"]
    assert [m["client_id"] for m in snapshot["members"]] == ["obs-consumer"]
    assert snapshot["offsets"] == [
        {"topic": name, "partition": 0, "committed": 4, "end_offset": 6, "lag": 2}
    ]
    assert snapshot["lag"] == 2
    consumer.close()


# --- broker control ---------------------------------------------------------------------------


def test_stop_and_start_a_broker(cluster, obs):
    state = obs.stop_broker(2)
    assert {b["id"]: b["alive"] for b in state["brokers"]} == {1: True, 2: False}
    assert obs.health()["brokers"] == 1
    with pytest.raises(ObserveError) as err:
        obs.stop_broker(1)  # the last one running
    assert err.value.status == 409
    state = obs.start_broker(2)
    assert {b["id"]: b["alive"] for b in state["brokers"]} == {1: True, 2: True}

    code, body = http_error(cluster.http_url + "/api/brokers/9/stop", "POST")
    assert code == 404 and "no broker 9" in body["error"]
    code, body = http_error(cluster.http_url + "/api/brokers/1/reboot", "POST")
    assert code == 404 and "use stop or start" in body["error"]
    code, body = http_error(cluster.http_url + "/api/brokers/one/stop", "POST")
    assert code == 400


# --- in-process builders ----------------------------------------------------------------------


def _batch(values: list[bytes], timestamp: int) -> bytes:
    """A minimal uncompressed magic-2 record batch (Kafka's DefaultRecordBatch layout)."""

    def varint(n: int) -> bytes:
        z, out = (n << 1) ^ (n >> 63), bytearray()
        while z >= 0x80:
            out.append((z & 0x7F) | 0x80)
            z >>= 7
        return bytes([*out, z])

    recs = b""
    for i, v in enumerate(values):
        body = b"\0" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        recs += varint(len(body)) + body
    n = len(values)
    after_crc = struct.pack(">hiqqqhii", 0, n - 1, timestamp, timestamp, -1, -1, -1, n) + recs
    crc = crc32c.crc32c(after_crc)
    return struct.pack(">qiibI", 0, 9 + len(after_crc), -1, 2, crc) + after_crc


def test_builders_work_in_process(tmp_path):
    emulator = Emulator(str(tmp_path), ports=[0])
    try:
        topic = emulator.cluster.create_topic("in-process", 1)
        emulator.cluster.elect_leaders()
        plog = topic.partitions[0].log
        plog.append(_batch([b"one", b"two"], 1_700_000_000_000), 0)
        plog.append(_batch([b"three"], 1_700_000_000_001), 0)

        (listed,) = observe.topics(emulator)
        assert listed["name"] == "in-process"
        assert listed["partition_details"][0]["high_watermark"] == 3
        page = observe.records(emulator, "in-process", 0, offset=1, limit=5)
        assert [(r["offset"], r["value"]) for r in page["records"]] == [(1, "two"), (2, "three")]
        assert observe.clients(emulator) == []
        assert isinstance(observe.groups(emulator), list)
        assert observe.cluster(emulator)["topics"] == 1
        with pytest.raises(observe.NotFound):
            observe.topic(emulator, "nope")
        with pytest.raises(observe.BadRequest):
            observe.records(emulator, "in-process", 0, limit=10_000)
    finally:
        emulator.cluster.close()
