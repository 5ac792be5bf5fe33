"""Bad input on the wire: the broker answers with Kafka's error code or closes that one connection
with a clear log line, and keeps serving everyone else.

Requests are built by hand with kio entities (``entity_writer``, request header v1/v2 as each
entity's ``__header_schema__`` says) and sent over raw sockets. After every bad client a good
confluent-kafka client must still produce and consume. The last test is a seeded fuzzer that
mutates valid frames; set STREAMLAB_FUZZ_SEED / STREAMLAB_FUZZ_FRAMES to replay or widen it.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import os
import random
import re
import socket
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kio.index import load_request_schema, load_response_schema
from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0
from kio.schema.errors import ErrorCode
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32Timedelta

from streamlab.kafka.apis import VERSIONS, ApiKey
from streamlab.kafka.protocol.entities import make
from streamlab.kafka.testing import ClusterProcess, raw_batch

CLIENT_ID = "bad-input-test"
# Lines that mean a bug in the broker, never an expected reaction to bad input.
BUG_LINES = re.compile(r"internal error|Traceback|Task exception was never retrieved")


# --- frames ---------------------------------------------------------------------------------------


def request(key: int, version: int, **fields):
    """A kio request entity of (key, version); fields not given get Kafka's neutral values."""
    return make(load_request_schema(key, version), **fields)


def frame(req, correlation_id: int = 1, *, api_key: int | None = None, version: int | None = None):
    """A size-prefixed request frame; api_key/version override the header only."""
    header_cls = req.__header_schema__
    buf = io.BytesIO()
    header = header_cls(
        request_api_key=req.__api_key__ if api_key is None else api_key,
        request_api_version=req.__version__ if version is None else version,
        correlation_id=correlation_id,
        client_id=CLIENT_ID,
    )
    entity_writer(header_cls)(buf, header)
    entity_writer(type(req))(buf, req)
    return sized(buf.getvalue())


def sized(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def raw_header(key: int, version: int, correlation_id: int = 1, flexible: bool = True) -> bytes:
    """Request header v1 (+ empty tagged fields for v2) for a (key, version) kio may not know."""
    client = CLIENT_ID.encode()
    head = struct.pack(">hhih", key, version, correlation_id, len(client)) + client
    return head + (b"\0" if flexible else b"")


def decode_response(data: bytes, cls: type):
    header, used = entity_reader(cls.__header_schema__)(data, 0)
    body, _ = entity_reader(cls)(data, used)
    return header.correlation_id, body


class Wire:
    """One raw client connection."""

    def __init__(self, cluster: ClusterProcess) -> None:
        host, port = cluster.bootstrap.split(",")[0].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_frame(self) -> bytes | None:
        """The next response frame without its size prefix; None once the broker closed."""
        size = self._recv_exactly(4)
        if size is None:
            return None
        return self._recv_exactly(struct.unpack(">i", size)[0])

    def _recv_exactly(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def call(self, req, correlation_id: int = 7):
        self.send(frame(req, correlation_id))
        data = self.recv_frame()
        assert data is not None, f"broker closed the connection on a valid {type(req).__name__}"
        cid, body = decode_response(data, load_response_schema(req.__api_key__, req.__version__))
        assert cid == correlation_id
        return body

    def assert_closed(self) -> None:
        """The broker closes without answering (anything it sent first would be a reply)."""
        assert self.recv_frame() is None, "broker answered instead of closing the connection"

    def close(self) -> None:
        self.sock.close()


# --- the broker and its health --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = ClusterProcess(str(tmp_path_factory.mktemp("bad-input"))).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def known_topic(cluster) -> tuple[str, uuid.UUID]:
    """A topic with data, and its id (from a hand-made Metadata v13)."""
    name = "known"
    produce_and_consume(cluster, name)
    wire = Wire(cluster)
    topic = request(3, 13, topics=(request_nested(3, 13, "MetadataRequestTopic", name=name),))
    (meta,) = wire.call(topic).topics
    wire.close()
    assert meta.error_code == ErrorCode.none
    return name, meta.topic_id


def request_nested(key: int, version: int, entity: str, **fields):
    """A nested entity (e.g. a topic or partition) of the (key, version) request module."""
    module = sys.modules[load_request_schema(key, version).__module__]
    return make(getattr(module, entity), **fields)


class BrokerLog:
    """What the broker logged since this object was made."""

    def __init__(self, cluster: ClusterProcess) -> None:
        self.cluster = cluster
        self.path = cluster.log_path
        self.start = os.path.getsize(self.path)

    def text(self) -> str:
        with open(self.path, errors="replace") as f:
            f.seek(self.start)
            return f.read()

    def wait_for(self, pattern: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(f".*{pattern}.*", self.text())
            if m:
                return m.group(0)
            if self.cluster.proc.poll() is not None:
                pytest.fail(f"the broker died; its last words:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no broker log line matching {pattern!r}; new lines:\n{self.text()}")
            time.sleep(0.05)


@pytest.fixture
def broker_log(cluster) -> BrokerLog:
    return BrokerLog(cluster)


_topics = iter(range(10**6))


def produce_and_consume(cluster: ClusterProcess, topic: str | None = None, n: int = 5) -> None:
    """A good confluent-kafka client still works: produce n records and read them back."""
    topic = topic or f"good-{next(_topics)}"
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "client.id": "good-client"})
    sent = [f"{topic}-{i}".encode() for i in range(n)]
    for v in sent:
        producer.produce(topic, v)
    assert producer.flush(20) == 0, "good producer could not deliver"
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": "good-client",
            "enable.auto.commit": False,
            "client.id": "good-client",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        got: list[bytes] = []
        deadline = time.monotonic() + 20
        while len(got) < n and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                got.append(msg.value())
        assert got == sent
    finally:
        consumer.close()


def assert_still_serving(cluster: ClusterProcess, log: BrokerLog) -> None:
    assert cluster.proc.poll() is None, f"broker exited:\n{cluster.tail()}"
    produce_and_consume(cluster)
    assert not BUG_LINES.search(log.text()), f"broker hit an internal error:\n{log.text()}"


# --- malformed frames: the connection is closed with a log line -----------------------------------


@pytest.mark.parametrize(
    ("data", "logged"),
    [
        (b"GET / HTTP/1.1\r\nHost: kafka\r\n\r\n", "invalid request size 1195725856"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40), "invalid request size"),
        (sized(b"\x7f\xff" + random.Random(1).randbytes(30)), "unknown API key 32767"),
        (sized(b"\x00\x03\x00\x0d" + random.Random(2).randbytes(12)), "cannot decode"),
    ],
    ids=["http", "tls-hello", "random-key", "random-body"],
)
def test_garbage_bytes(cluster, broker_log, data, logged):
    wire = Wire(cluster)
    wire.send(data)
    wire.assert_closed()
    broker_log.wait_for(re.escape(logged))
    assert_still_serving(cluster, broker_log)


@pytest.mark.parametrize("keep", [2, 4, 20], ids=["in-size", "size-only", "in-body"])
def test_truncated_frame_then_close(cluster, broker_log, keep):
    data = frame(request(18, 3, client_software_name="x", client_software_version="1"))
    wire = Wire(cluster)
    wire.send(data[:keep])
    wire.sock.shutdown(socket.SHUT_WR)
    wire.assert_closed()
    broker_log.wait_for("closed mid-request")
    assert_still_serving(cluster, broker_log)


@pytest.mark.parametrize("size", [-1, -(2**31), 0, 7, 100 * 1024 * 1024 + 1, 2**31 - 1], ids=str)
def test_negative_tiny_or_huge_size_prefix(cluster, broker_log, size):
    wire = Wire(cluster)
    wire.send(struct.pack(">i", size) + bytes(16))
    wire.assert_closed()
    broker_log.wait_for(f"invalid request size {size};")
    assert_still_serving(cluster, broker_log)


@pytest.mark.parametrize("key", [-1, 4, 99, 32767], ids=str)
def test_unknown_api_key(cluster, broker_log, key):
    wire = Wire(cluster)
    wire.send(frame(request(18, 3), api_key=key))
    wire.assert_closed()
    broker_log.wait_for(f"unknown API key {key};")
    assert_still_serving(cluster, broker_log)


@pytest.mark.parametrize(
    ("key", "version"),
    [(ApiKey.METADATA, 14), (ApiKey.PRODUCE, 2), (ApiKey.FETCH, 17), (ApiKey.FETCH, -1)],
    ids=["metadata-v14", "produce-v2", "fetch-v17", "fetch-v-1"],
)
def test_unsupported_version_of_a_known_api(cluster, broker_log, key, version):
    lo, hi = VERSIONS[key]
    wire = Wire(cluster)
    wire.send(sized(raw_header(key, version) + bytes(20)))
    wire.assert_closed()
    broker_log.wait_for(rf"{key.name} v{version} is not supported \({lo}-{hi}\)")
    assert_still_serving(cluster, broker_log)


@pytest.mark.parametrize("version", [4, 5, 127, -1])
def test_too_new_api_versions_gets_the_kip511_answer(cluster, broker_log, version):
    """Kafka answers in v0 format: UNSUPPORTED_VERSION and only the ApiVersions range, so the
    client can retry with a version we speak, on the same connection."""
    wire = Wire(cluster)
    body = (
        frame(request(18, 4), 42, version=version)[4:]
        if version == 4
        else raw_header(18, version, 42)
    )
    wire.send(sized(body + bytes(3)))
    data = wire.recv_frame()
    assert data is not None, "broker closed instead of answering with UNSUPPORTED_VERSION"
    cid, resp = decode_response(data, ApiVersionsResponseV0)
    assert cid == 42
    assert resp.error_code == ErrorCode.unsupported_version
    hi = VERSIONS[ApiKey.API_VERSIONS][1]
    assert [(k.api_key, k.min_version, k.max_version) for k in resp.api_keys] == [(18, 0, hi)]
    # the retry at the advertised version succeeds on the same connection
    full = wire.call(request(18, hi, client_software_name="x", client_software_version="1"))
    assert full.error_code == ErrorCode.none
    assert {k.api_key for k in full.api_keys} >= {0, 1, 2, 3, 18}
    wire.close()
    assert_still_serving(cluster, broker_log)


@pytest.mark.parametrize(
    "body",
    [
        raw_header(3, 13) + b"\x02",  # one topic, then nothing
        raw_header(3, 13) + b"\x01\x00\x00\x01\x07\x00",  # unknown tagged field 7 (kio trap)
        raw_header(0, 10) + b"\x00\x7f\xff",  # Produce: body cut after transactional_id
        raw_header(1, 4, flexible=False) + b"\xff" * 3,  # Fetch v4, non-flexible, cut short
        raw_header(18, 3)[:-1] + b"\x05\x01",  # header tagged fields claim more than is there
        struct.pack(">hhih", 18, 3, 1, 200) + b"abc",  # client_id longer than the frame
    ],
    ids=[
        "short-array",
        "unknown-tag",
        "produce-cut",
        "fetch-v4-cut",
        "header-tags",
        "client-id-length",
    ],
)
def test_a_body_that_does_not_decode(cluster, broker_log, body):
    wire = Wire(cluster)
    wire.send(sized(body))
    wire.assert_closed()
    broker_log.wait_for("cannot decode")
    assert_still_serving(cluster, broker_log)


def test_a_huge_array_count_does_not_kill_the_broker(tmp_path):
    # kio's native reader reserves memory from the count on the wire (2**32-2 topics asks for
    # 32 GiB and Rust aborts); protocol/guard.py refuses the count first. Own broker, to be safe.
    with ClusterProcess(str(tmp_path)) as own:
        log = BrokerLog(own)
        wire = Wire(own)
        wire.send(sized(raw_header(3, 13) + b"\xff\xff\xff\xff\x0f"))  # Metadata, 2**32-2 topics
        wire.assert_closed()
        log.wait_for("cannot decode")
        assert_still_serving(own, log)


# --- well-formed requests for things that do not exist: Kafka's error codes -----------------


def produce_request(topic: str, partition: int, records: bytes, version: int = 10):
    pd = request_nested(0, version, "PartitionProduceData", index=partition, records=records)
    td = request_nested(0, version, "TopicProduceData", name=topic, partition_data=(pd,))
    return request(0, version, acks=-1, timeout=i32ms(5000), topic_data=(td,))


def i32ms(ms: int) -> i32Timedelta:
    return i32Timedelta.parse(datetime.timedelta(milliseconds=ms))


def only_partition(resp, topics_attr: str, parts_attr: str):
    (topic,) = getattr(resp, topics_attr)
    (part,) = getattr(topic, parts_attr)
    return part


@pytest.mark.parametrize("version", [3, 9, 10])
def test_produce_to_unknown_topic_or_partition(cluster, broker_log, known_topic, version):
    name, _ = known_topic
    wire = Wire(cluster)
    for topic, partition in [("no-such-topic", 0), (name, 7), (name, -1)]:
        resp = wire.call(produce_request(topic, partition, raw_batch([b"x"]), version))
        part = only_partition(resp, "responses", "partition_responses")
        assert part.error_code == ErrorCode.unknown_topic_or_partition, (topic, partition)
    t = request_nested(3, 13, "MetadataRequestTopic", name="no-such-topic")
    (meta,) = wire.call(request(3, 13, topics=(t,), allow_auto_topic_creation=False)).topics
    assert meta.error_code == ErrorCode.unknown_topic_or_partition  # produce never creates
    wire.close()
    assert_still_serving(cluster, broker_log)


def fetch_request(version: int, topic: str | None, topic_id, partition: int, offset: int = 0):
    fp = request_nested(
        1, version, "FetchPartition", partition=partition, fetch_offset=offset,
        partition_max_bytes=1 << 20,
    )  # fmt: skip
    ft = request_nested(1, version, "FetchTopic", topic=topic, topic_id=topic_id, partitions=(fp,))
    return request(1, version, replica_id=-1, max_wait=i32ms(10), min_bytes=1, topics=(ft,))


def test_fetch_by_unknown_topic_id(cluster, broker_log, known_topic):
    _, topic_id = known_topic
    wire = Wire(cluster)
    resp = wire.call(fetch_request(16, None, uuid.uuid4(), 0))
    assert only_partition(resp, "responses", "partitions").error_code == ErrorCode.unknown_topic_id
    # a known topic id with a partition it does not have: Kafka says unknown partition
    resp = wire.call(fetch_request(16, None, topic_id, 3))
    part = only_partition(resp, "responses", "partitions")
    assert part.error_code == ErrorCode.unknown_topic_or_partition
    # the known partition answers, so the request shape is right
    resp = wire.call(fetch_request(16, None, topic_id, 0))
    part = only_partition(resp, "responses", "partitions")
    assert part.error_code == ErrorCode.none and part.high_watermark == 5
    wire.close()
    assert_still_serving(cluster, broker_log)


def test_fetch_by_unknown_topic_name(cluster, broker_log, known_topic):
    name, _ = known_topic
    wire = Wire(cluster)
    for topic, partition in [("no-such-topic", 0), (name, 3)]:
        resp = wire.call(fetch_request(12, topic, None, partition))
        part = only_partition(resp, "responses", "partitions")
        assert part.error_code == ErrorCode.unknown_topic_or_partition, (topic, partition)
    wire.close()
    assert_still_serving(cluster, broker_log)


def test_list_offsets_for_unknown_topic_or_partition(cluster, broker_log, known_topic):
    name, _ = known_topic
    wire = Wire(cluster)
    for topic, partition, code in [
        ("no-such-topic", 0, ErrorCode.unknown_topic_or_partition),
        (name, 3, ErrorCode.unknown_topic_or_partition),
        (name, 0, ErrorCode.none),
    ]:
        lp = request_nested(2, 7, "ListOffsetsPartition", partition_index=partition, timestamp=-1)
        lt = request_nested(2, 7, "ListOffsetsTopic", name=topic, partitions=(lp,))
        resp = wire.call(request(2, 7, replica_id=-1, isolation_level=1, topics=(lt,)))
        assert only_partition(resp, "topics", "partitions").error_code == code, (topic, partition)
    wire.close()
    assert_still_serving(cluster, broker_log)


def test_metadata_for_unknown_topic_without_auto_create(cluster, broker_log):
    wire = Wire(cluster)
    t = request_nested(3, 13, "MetadataRequestTopic", name="never-created")
    resp = wire.call(request(3, 13, topics=(t,), allow_auto_topic_creation=False))
    (topic,) = resp.topics
    assert topic.error_code == ErrorCode.unknown_topic_or_partition
    wire.close()
    assert_still_serving(cluster, broker_log)


def latest_offset(wire: Wire, topic: str) -> int:
    lp = request_nested(2, 7, "ListOffsetsPartition", partition_index=0, timestamp=-1)
    lt = request_nested(2, 7, "ListOffsetsTopic", name=topic, partitions=(lp,))
    resp = wire.call(request(2, 7, replica_id=-1, isolation_level=0, topics=(lt,)))
    return only_partition(resp, "topics", "partitions").offset


CORRUPT, INVALID = ErrorCode.corrupt_message, ErrorCode.invalid_record


@pytest.mark.parametrize(
    ("records", "logged", "codes"),
    [
        (raw_batch([b"a", b"b"], corrupt_crc=True), "CRC mismatch", {CORRUPT}),
        (b"\0" * 16 + b"\x01" + bytes(60), "magic 1", {CORRUPT}),
        # a torn record set: INVALID_RECORD, as Kafka 4.1 (tests/conformance/test_invalid_batches)
        (raw_batch([b"a", b"b"])[:-2], "does not fit", {INVALID}),
        (raw_batch([b"a"])[:40], "not a whole batch header", {INVALID}),
    ],
    ids=["bad-crc", "magic-1", "truncated-batch", "truncated-header"],
)
def test_produce_with_a_corrupt_batch(cluster, broker_log, known_topic, records, logged, codes):
    name, _ = known_topic
    wire = Wire(cluster)
    before = latest_offset(wire, name)
    resp = wire.call(produce_request(name, 0, records))
    part = only_partition(resp, "responses", "partition_responses")
    assert part.error_code in codes
    assert latest_offset(wire, name) == before  # nothing appended
    # the same connection still takes a good batch
    resp = wire.call(produce_request(name, 0, raw_batch([b"fine"])))
    part = only_partition(resp, "responses", "partition_responses")
    assert (part.error_code, part.base_offset) == (ErrorCode.none, before)
    wire.close()
    line = broker_log.wait_for(re.escape(logged))
    assert f"{name}-0 refused" in line and CLIENT_ID in line
    assert_still_serving(cluster, broker_log)


# --- the fuzzer -----------------------------------------------------------------------------------

FUZZ_SEED = int(os.environ.get("STREAMLAB_FUZZ_SEED", "20261126"))
FUZZ_FRAMES = int(os.environ.get("STREAMLAB_FUZZ_FRAMES", "5000"))
FUZZ_SECONDS = 120.0  # stop early on a slow machine; coverage shrinks, the test never fails on time
FUZZ_PARALLEL = 16


def seed_frames(topic: str, topic_id: uuid.UUID) -> list[bytes]:
    """Valid frames: every served API at a few versions with neutral fields, plus requests that
    reach real data (produce, fetch, offsets, metadata of an existing topic)."""
    seeds: list[bytes] = []
    for key, (lo, hi) in VERSIONS.items():
        for version in sorted({lo, (lo + hi) // 2, hi}):
            try:
                seeds.append(frame(request(key, version), 100 + len(seeds)))
            except Exception:
                pass  # a required nested entity has no neutral value; covered below or skipped
    for version in (3, 8, 10):
        seeds.append(frame(produce_request(topic, 0, raw_batch([b"fuzz-seed"] * 3), version)))
    for version in (4, 12, 16):
        seeds.append(frame(fetch_request(version, topic, topic_id, 0)))
    for version in (1, 7):
        lp = request_nested(2, version, "ListOffsetsPartition", partition_index=0, timestamp=-2)
        lt = request_nested(2, version, "ListOffsetsTopic", name=topic, partitions=(lp,))
        seeds.append(frame(request(2, version, replica_id=-1, topics=(lt,))))
    for version in (1, 9, 13):
        t = request_nested(3, version, "MetadataRequestTopic", name=topic)
        seeds.append(frame(request(3, version, topics=(t,), allow_auto_topic_creation=False)))
    seeds.append(frame(request(18, 3, client_software_name="fuzz", client_software_version="1")))
    return seeds


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rng.choice(seeds))
    body = data[4:]
    op = rng.randrange(10)
    if op == 0:  # flip a few bytes
        for _ in range(rng.randint(1, 6)):
            body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
    elif op == 1:  # overwrite a few bytes with boundary values
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(body))
            body[i : i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\0\0\0\0"])
    elif op == 2:  # truncate the body, size prefix consistent
        body = body[: rng.randrange(len(body))]
    elif op == 3:  # another api key
        struct.pack_into(">h", body, 0, rng.choice([-1, 4, 99, 32767, *map(int, VERSIONS)]))
    elif op == 4:  # another version
        struct.pack_into(">h", body, 2, rng.choice([-1, 0, 1, 2, 5, 9, 13, 17, 32767]))
    elif op == 5:  # a size prefix that lies (the stream desynchronises)
        return struct.pack(">i", rng.choice([-1, 0, 5, len(body) - 3, len(body) + 3])) + body
    elif op == 6:  # trailing or inserted random bytes
        i = rng.randrange(len(body) + 1) if rng.random() < 0.5 else len(body)
        body[i:i] = rng.randbytes(rng.randint(1, 40))
    elif op == 7:  # splice two seeds
        other = rng.choice(seeds)[4:]
        body = body[: rng.randrange(len(body))] + other[rng.randrange(len(other)) :]
    elif op == 8:  # random bytes behind a real header
        body = body[:8] + rng.randbytes(rng.randint(0, 80))
    else:  # delete a slice
        i = rng.randrange(len(body))
        del body[i : i + rng.randint(1, 8)]
    return sized(bytes(body))


@dataclass
class FuzzStats:
    connections: int = 0
    frames: int = 0
    responses: int = 0
    closed_by_broker: int = 0
    timeouts: int = 0
    sent_by_port: dict[int, list[bytes]] = field(default_factory=dict)


async def fuzz(host: str, port: int, seeds: list[bytes], stats: FuzzStats) -> None:
    rng = random.Random(FUZZ_SEED)
    deadline = time.monotonic() + FUZZ_SECONDS
    sem = asyncio.Semaphore(FUZZ_PARALLEL)

    async def one(frames: list[bytes]) -> None:
        async with sem:
            reader, writer = await asyncio.open_connection(host, port)
            stats.sent_by_port[writer.get_extra_info("sockname")[1]] = frames
            try:
                writer.write(b"".join(frames))
                await writer.drain()
                writer.write_eof()
                while True:  # read answers until the broker closes
                    size = await asyncio.wait_for(reader.readexactly(4), 3)
                    await asyncio.wait_for(reader.readexactly(int.from_bytes(size, "big")), 3)
                    stats.responses += 1
            except (asyncio.IncompleteReadError, ConnectionError):
                stats.closed_by_broker += 1
            except TimeoutError:
                stats.timeouts += 1  # e.g. a long-poll fetch with a mutated max_wait
            finally:
                writer.close()

    tasks = []
    while stats.frames < FUZZ_FRAMES and time.monotonic() < deadline:
        frames = [
            rng.choice(seeds) if rng.random() < 0.25 else mutate(rng, seeds)
            for _ in range(rng.randint(1, 6))
        ]
        stats.frames += len(frames)
        stats.connections += 1
        tasks.append(asyncio.create_task(one(frames)))
        if len(tasks) >= 4 * FUZZ_PARALLEL:
            await asyncio.gather(*tasks)
            tasks = []
    await asyncio.gather(*tasks)


def internal_errors(log_text: str) -> list[tuple[int, str, str]]:
    """(client port, where, exception line) of every internal error the broker logged."""
    found = []
    pattern = r"connection 127\.0\.0\.1:(\d+) .*internal error.*\nTraceback.*\n((?:  .*\n)+)(\S.*)"
    for m in re.finditer(pattern, log_text):
        port, tb, exc = m.groups()
        file, line, func = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', tb)[-1]
        found.append((int(port), f"{os.path.basename(file)}:{line} {func}", exc))
    return found


def test_fuzzed_frames_never_crash_the_broker(cluster, broker_log, known_topic):
    name, topic_id = known_topic
    seeds = seed_frames(name, topic_id)
    host, port = cluster.bootstrap.split(",")[0].rsplit(":", 1)
    stats = FuzzStats()
    asyncio.run(fuzz(host, int(port), seeds, stats))
    print(
        f"fuzz seed={FUZZ_SEED}: {stats.frames} frames over {stats.connections} connections "
        f"({len(seeds)} seeds), {stats.responses} responses, {stats.closed_by_broker} closed "
        f"by the broker, {stats.timeouts} timed out"
    )
    assert stats.responses > 0, "no fuzzed frame got an answer: the seeds are not valid"
    assert cluster.proc.poll() is None, f"broker died under fuzzing:\n{cluster.tail()}"
    produce_and_consume(cluster)

    text = broker_log.text()
    errors = internal_errors(text)
    if errors or BUG_LINES.search(text):
        report = [
            f"{where}: {exc}\n  frames sent on that connection (hex):\n    "
            + "\n    ".join(f.hex() for f in stats.sent_by_port.get(port, []))
            for port, where, exc in errors[:5]
        ]
        pytest.fail(
            f"internal errors under fuzzing (STREAMLAB_FUZZ_SEED={FUZZ_SEED}):\n"
            + "\n".join(report)
            + f"\nbroker log (tail):\n{text[-3000:]}"
        )
