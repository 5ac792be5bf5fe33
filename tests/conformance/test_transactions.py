"""Transactions: a transactional producer and read_committed / read_uncommitted consumers,
exactly as ``processing.guarantee=exactly_once_v2`` uses them, on both systems.

librdkafka 2.16 speaks the classic transaction protocol (InitProducerId v4, AddPartitionsToTxn
v0, AddOffsetsToTxn v0, TxnOffsetCommit v3, EndTxn v1, Produce v10). The last tests send
requests by hand (kio entities over a socket) to check the error codes for bad input.

Kafka writes the COMMIT/ABORT markers after EndTxn has been answered, so what a commit makes
visible (records past the last stable offset, group offsets) shows up a moment later; the
emulator writes them before answering. Checks after a commit therefore wait (``settles``).
"""

from __future__ import annotations

import datetime
import importlib
import io
import socket
import struct
import time

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
)
from confluent_kafka import TopicPartition as TP
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from conformance_helpers import poll_n, result, unique, wait_for
from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32Timedelta

from streamlab.kafka.protocol.entities import make

TXN_TIMEOUT = 60  # seconds for init/commit/abort: real Kafka creates __transaction_state first


def txn_producer(kafka, txn_id: str | None = None, **overrides):
    p = kafka.producer({"transactional.id": txn_id or unique("tx"), **overrides})
    p.init_transactions(TXN_TIMEOUT)
    return p


def read_all(kafka, topic: str, isolation: str, partitions=(0,), timeout: float = 15) -> list:
    """(partition, offset, value) of every record up to each partition's end, as seen with
    ``isolation``; stops at the first end-of-partition event of every partition."""
    c = kafka.consumer({"isolation.level": isolation, "enable.partition.eof": True})
    c.assign([TP(topic, p, OFFSET_BEGINNING) for p in partitions])
    out, eof = [], set()
    deadline = time.monotonic() + timeout
    while len(eof) < len(partitions):
        assert time.monotonic() < deadline, f"no end of partition within {timeout}s: {out}"
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
            eof.add(m.partition())
            continue
        out.append((m.partition(), m.offset(), m.value()))
    c.close()
    return sorted(out)


def settles(read, expected, what: str):
    """Wait until ``read()`` returns ``expected`` (markers are written asynchronously)."""
    seen = []

    def check():
        seen[:] = [read()]
        return seen[0] == expected

    wait_for(check, what=f"{what} == {expected!r} (last seen {seen[0] if seen else None!r})")


def values(records) -> list[bytes]:
    return [v for _, _, v in records]


def end_offsets(kafka, topic: str, isolation) -> int:
    from confluent_kafka import IsolationLevel

    level = IsolationLevel.READ_COMMITTED if isolation == "committed" else None
    kw = {"isolation_level": level} if level is not None else {}
    futures = kafka.admin.list_offsets({TP(topic, 0): OffsetSpec.latest()}, **kw)
    return result(futures[TP(topic, 0)]).offset


def group_offset(kafka, group: str, topic: str, partition: int = 0) -> int:
    request = ConsumerGroupTopicPartitions(group, [TP(topic, partition)])
    answer = result(kafka.admin.list_consumer_group_offsets([request])[group])
    return answer.topic_partitions[0].offset


# --- producer and consumers --------------------------------------------------------------------


def test_commit_is_visible_to_read_committed(kafka):
    topic = kafka.create_topic(partitions=2)
    p = txn_producer(kafka)
    p.begin_transaction()
    for i in range(6):
        p.produce(topic, f"v{i}".encode(), partition=i % 2)
    p.commit_transaction(TXN_TIMEOUT)
    expected = [f"v{i}".encode() for i in range(6)]

    def read():
        return sorted(values(read_all(kafka, topic, "read_committed", (0, 1))))

    settles(read, expected, "committed values")
    committed = read_all(kafka, topic, "read_committed", (0, 1))
    # Each partition got three records and then the COMMIT marker, which takes an offset.
    assert [o for part, o, _ in committed if part == 0] == [0, 1, 2]
    c = kafka.consumer()
    assert c.get_watermark_offsets(TP(topic, 0), timeout=10) == (0, 4)


def test_abort_is_invisible_to_read_committed_but_not_to_read_uncommitted(kafka):
    topic = kafka.create_topic()
    p = txn_producer(kafka)
    p.begin_transaction()
    p.produce(topic, b"first")
    p.commit_transaction(TXN_TIMEOUT)
    p.begin_transaction()
    p.produce(topic, b"aborted-1")
    p.produce(topic, b"aborted-2")
    p.flush()
    p.abort_transaction(TXN_TIMEOUT)
    p.begin_transaction()
    p.produce(topic, b"last")
    p.commit_transaction(TXN_TIMEOUT)
    settles(
        lambda: read_all(kafka, topic, "read_committed"),
        [(0, 0, b"first"), (0, 5, b"last")],
        "read_committed",
    )
    # read_uncommitted gets the aborted data, never the markers (offsets 1, 4 and 6).
    assert read_all(kafka, topic, "read_uncommitted") == [
        (0, 0, b"first"),
        (0, 2, b"aborted-1"),
        (0, 3, b"aborted-2"),
        (0, 5, b"last"),
    ]


def test_open_transaction_holds_read_committed_at_the_last_stable_offset(kafka):
    topic = kafka.create_topic()
    kafka.produce(topic, [b"before"])
    p = txn_producer(kafka)
    p.begin_transaction()
    p.produce(topic, b"pending")
    p.flush()
    kafka.produce(topic, [b"after"])  # a plain producer writes behind the open transaction
    assert end_offsets(kafka, topic, "uncommitted") == 3
    assert end_offsets(kafka, topic, "committed") == 1  # the LSO: the transaction's start
    assert values(read_all(kafka, topic, "read_committed")) == [b"before"]
    assert values(read_all(kafka, topic, "read_uncommitted")) == [b"before", b"pending", b"after"]
    p.commit_transaction(TXN_TIMEOUT)
    settles(lambda: end_offsets(kafka, topic, "committed"), 4, "read_committed end offset")
    assert values(read_all(kafka, topic, "read_committed")) == [b"before", b"pending", b"after"]


def test_read_committed_consumer_waiting_at_the_end_gets_the_commit(kafka):
    topic = kafka.create_topic()
    c = kafka.consumer({"isolation.level": "read_committed"})
    c.assign([TP(topic, 0, OFFSET_BEGINNING)])
    assert c.poll(1) is None
    p = txn_producer(kafka)
    p.begin_transaction()
    p.produce(topic, b"x")
    p.produce(topic, b"y")
    p.commit_transaction(TXN_TIMEOUT)
    assert [m.value() for m in poll_n(c, 2)] == [b"x", b"y"]


def test_interleaved_transactions_only_the_aborted_one_is_hidden(kafka):
    """Two producers write into one partition at once; read_committed drops exactly the
    records of the aborted one (the fetch's aborted_transactions names its producer id)."""
    topic = kafka.create_topic()
    keep, drop = txn_producer(kafka), txn_producer(kafka)
    keep.begin_transaction()
    drop.begin_transaction()
    for i in range(3):
        keep.produce(topic, f"keep-{i}".encode())
        keep.flush()
        drop.produce(topic, f"drop-{i}".encode())
        drop.flush()
    drop.abort_transaction(TXN_TIMEOUT)
    keep.commit_transaction(TXN_TIMEOUT)
    expected = [b"keep-0", b"keep-1", b"keep-2"]
    settles(lambda: values(read_all(kafka, topic, "read_committed")), expected, "committed")
    assert len(read_all(kafka, topic, "read_uncommitted")) == 6


# --- offsets in a transaction --------------------------------------------------------------------


def test_send_offsets_to_transaction_commits_group_offsets_only_on_commit(kafka):
    source = kafka.create_topic()
    kafka.produce(source, [b"a", b"b", b"c"])
    group = unique("g")
    c = kafka.consumer(group=group)
    c.subscribe([source])
    poll_n(c, 3)
    p = txn_producer(kafka)
    p.begin_transaction()
    p.send_offsets_to_transaction([TP(source, 0, 2)], c.consumer_group_metadata(), TXN_TIMEOUT)
    assert group_offset(kafka, group, source) < 0  # nothing committed while the txn is open
    p.abort_transaction(TXN_TIMEOUT)
    time.sleep(0.5)  # let Kafka write its markers: an abort must not commit anything
    assert group_offset(kafka, group, source) < 0
    p.begin_transaction()
    p.send_offsets_to_transaction([TP(source, 0, 3)], c.consumer_group_metadata(), TXN_TIMEOUT)
    p.commit_transaction(TXN_TIMEOUT)
    settles(lambda: group_offset(kafka, group, source), 3, "committed group offset")
    assert c.committed([TP(source, 0)], timeout=10)[0].offset == 3


def test_pending_transactional_offsets_are_unstable(kafka):
    """While a transaction holds offsets for a partition, a fetch of committed offsets that
    asks for stable ones gets UNSTABLE_OFFSET_COMMIT (KIP-447); a plain fetch the old value."""
    source = kafka.create_topic()
    group = unique("g")
    c = kafka.consumer(group=group)
    c.commit(offsets=[TP(source, 0, 1)], asynchronous=False)
    p = txn_producer(kafka)
    p.begin_transaction()
    p.send_offsets_to_transaction([TP(source, 0, 5)], c.consumer_group_metadata(), TXN_TIMEOUT)
    request = ConsumerGroupTopicPartitions(group, [TP(source, 0)])
    stable = kafka.admin.list_consumer_group_offsets([request], require_stable=True)[group]
    answer = result(stable).topic_partitions[0]
    assert (answer.offset, answer.error and answer.error.code()) == (
        -1001,
        KafkaError.UNSTABLE_OFFSET_COMMIT,
    )
    assert group_offset(kafka, group, source) == 1
    p.commit_transaction(TXN_TIMEOUT)
    settles(lambda: group_offset(kafka, group, source), 5, "committed group offset")


def test_consume_transform_produce_loop(kafka):
    """The exactly-once loop: read, transform, write the result and the input position in one
    transaction. One transaction is aborted midway; its work is redone after a rewind."""
    source = kafka.create_topic()
    sink = kafka.create_topic()
    kafka.produce(source, [f"{i}".encode() for i in range(10)])
    group = unique("g")
    c = kafka.consumer({"isolation.level": "read_committed"}, group=group)
    c.subscribe([source])
    p = txn_producer(kafka)
    done, aborted_once = 0, False
    deadline = time.monotonic() + 60
    while done < 10:
        assert time.monotonic() < deadline, f"only {done} of 10 records processed"
        batch = c.consume(3, 1)
        batch = [m for m in batch if not m.error()]
        if not batch:
            continue
        p.begin_transaction()
        for m in batch:
            p.produce(sink, str(int(m.value()) * 10).encode())
        positions = c.position([TP(source, 0)])
        p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), TXN_TIMEOUT)
        if not aborted_once and done > 0:
            aborted_once = True
            p.flush()  # the records reach the log (abort would drop unsent ones)
            p.abort_transaction(TXN_TIMEOUT)
            # back to what the group last committed, as an EOS application does
            committed = c.committed([TP(source, 0)], timeout=10)
            c.seek(committed[0])
            continue
        p.commit_transaction(TXN_TIMEOUT)
        done = positions[0].offset
    assert aborted_once
    expected = [str(i * 10).encode() for i in range(10)]
    settles(lambda: values(read_all(kafka, sink, "read_committed")), expected, "sink")
    settles(lambda: group_offset(kafka, group, source), 10, "committed group offset")
    # the aborted attempt's records are still in the log, hidden by the ABORT marker
    assert len(read_all(kafka, sink, "read_uncommitted")) > 10


# --- fencing -------------------------------------------------------------------------------------


def test_second_producer_with_same_transactional_id_fences_the_first(kafka):
    topic = kafka.create_topic()
    txn_id = unique("tx")
    old = txn_producer(kafka, txn_id)
    old.begin_transaction()
    old.produce(topic, b"zombie")
    old.flush()
    new = txn_producer(kafka, txn_id)  # aborts the zombie's open transaction
    new.begin_transaction()
    new.produce(topic, b"fresh")
    new.commit_transaction(TXN_TIMEOUT)
    with pytest.raises(KafkaException) as e:
        old.commit_transaction(TXN_TIMEOUT)
    err = e.value.args[0]
    assert err.fatal(), err
    assert err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED), err
    settles(lambda: values(read_all(kafka, topic, "read_committed")), [b"fresh"], "committed")
    assert values(read_all(kafka, topic, "read_uncommitted")) == [b"zombie", b"fresh"]


def test_fenced_producer_cannot_produce(kafka):
    topic = kafka.create_topic()
    txn_id = unique("tx")
    old = txn_producer(kafka, txn_id)
    txn_producer(kafka, txn_id)
    old.begin_transaction()
    with pytest.raises(KafkaException) as e:  # from flush or commit, whichever sees it first
        old.produce(topic, b"zombie")
        old.flush(30)
        old.commit_transaction(TXN_TIMEOUT)
    err = e.value.args[0]
    assert err.fatal(), err
    assert err.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED), err
    assert read_all(kafka, topic, "read_uncommitted") == []


# --- bad input on the wire -----------------------------------------------------------------------


class Wire:
    """One connection sending hand-built requests (kio entities), one at a time."""

    RETRY = {
        "coordinator_load_in_progress",
        "coordinator_not_available",
        "concurrent_transactions",
        "not_coordinator",
    }

    def __init__(self, bootstrap: str) -> None:
        host, port = bootstrap.split(",")[0].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.correlation = 0

    def call(self, api_key: int, version: int, **fields):
        req = make(load_request_schema(api_key, version), **fields)
        self.correlation += 1
        buf = io.BytesIO()
        header = req.__header_schema__(
            request_api_key=api_key,
            request_api_version=version,
            correlation_id=self.correlation,
            client_id="txn-conformance",
        )
        entity_writer(req.__header_schema__)(buf, header)
        entity_writer(type(req))(buf, req)
        self.sock.sendall(struct.pack(">i", len(buf.getvalue())) + buf.getvalue())
        (size,) = struct.unpack(">i", self._read(4))
        frame = self._read(size)
        cls = load_response_schema(api_key, version)
        _, pos = entity_reader(cls.__header_schema__)(frame, 0)
        return entity_reader(cls)(frame, pos)[0]

    def call_until_settled(self, api_key: int, version: int, **fields):
        """Retry while the coordinator is loading/busy (real Kafka creates its topic first)."""
        deadline = time.monotonic() + 60
        while True:
            resp = self.call(api_key, version, **fields)
            if resp.error_code.name not in self.RETRY or time.monotonic() > deadline:
                return resp
            time.sleep(0.2)

    def _read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            out += chunk
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def wire(kafka):
    w = Wire(kafka.bootstrap)
    yield w
    w.close()


def _ms(ms: int):
    return i32Timedelta.parse(datetime.timedelta(milliseconds=ms))


def _init(wire, txn_id: str, timeout_ms: int = 60_000, version: int = 4, **kw):
    found = wire.call_until_settled(10, 2, key=txn_id, key_type=1)
    assert found.error_code.name == "none"
    return wire.call_until_settled(
        22, version, transactional_id=txn_id, transaction_timeout=_ms(timeout_ms), **kw
    )


def _end(wire, txn_id, pid, epoch, commit=True, version=1) -> str:
    resp = wire.call(
        26,
        version,
        transactional_id=txn_id,
        producer_id=pid,
        producer_epoch=epoch,
        committed=commit,
    )
    return resp.error_code.name


def test_end_txn_without_init_producer_id(wire):
    txn_id = unique("tx")
    wire.call_until_settled(10, 2, key=txn_id, key_type=1)
    for version in (1, 4):
        assert _end(wire, txn_id, 12345, 0, version=version) == "invalid_producer_id_mapping"


def test_end_txn_with_nothing_added_is_an_invalid_state(wire):
    txn_id = unique("tx")
    init = _init(wire, txn_id)
    assert (init.error_code.name, init.producer_epoch) == ("none", 0)
    pid = int(init.producer_id)
    assert _end(wire, txn_id, pid, 0, commit=True) == "invalid_txn_state"
    assert _end(wire, txn_id, pid, 0, commit=False) == "invalid_txn_state"


def test_wrong_epoch_and_producer_id(wire):
    txn_id = unique("tx")
    pid = int(_init(wire, txn_id).producer_id)
    again = _init(wire, txn_id)  # a second init bumps the epoch
    assert (again.error_code.name, int(again.producer_id), again.producer_epoch) == ("none", pid, 1)
    # EndTxn v1 predates PRODUCER_FENCED (KIP-588): the same fencing reads INVALID_PRODUCER_EPOCH
    assert _end(wire, txn_id, pid, 0, version=1) == "invalid_producer_epoch"
    assert _end(wire, txn_id, pid, 0, version=4) == "producer_fenced"
    assert _end(wire, txn_id, pid, 5, version=4) == "producer_fenced"
    assert _end(wire, txn_id, pid + 77, 1, version=4) == "invalid_producer_id_mapping"
    offsets = wire.call(
        25, 0, transactional_id=txn_id, producer_id=pid, producer_epoch=0, group_id="g"
    )
    assert offsets.error_code.name == "invalid_producer_epoch"
    # InitProducerId naming an epoch the coordinator never gave (KIP-360 recovery)
    stale = _init(wire, txn_id, producer_id=pid, producer_epoch=7)
    assert stale.error_code.name == "producer_fenced"
    stale_v3 = _init(wire, txn_id, version=3, producer_id=pid, producer_epoch=7)
    assert stale_v3.error_code.name == "invalid_producer_epoch"
    bumped = _init(wire, txn_id, producer_id=pid, producer_epoch=1)
    assert (bumped.error_code.name, int(bumped.producer_id), bumped.producer_epoch) == (
        "none",
        pid,
        2,
    )


@pytest.fixture
def fresh_bootstrap(kafka, tmp_path):
    """A new cluster of the same kind: no group has used it, so no ``__consumer_offsets``."""
    if kafka.kind == "emulator":
        from streamlab.kafka.testing import ClusterProcess

        cluster = ClusterProcess(str(tmp_path / "fresh")).start()
    elif kafka.kind == "realkafka":
        from streamlab.realkafka import RealKafka

        cluster = RealKafka(tmp_path / "fresh").start(timeout=80)
    else:
        pytest.skip("needs a new cluster of its own")
    yield cluster.bootstrap
    cluster.stop()


# Kafka 4.x's Topic.INTERNAL_TOPICS (the share-group state topic came with KIP-932)
INTERNAL = ("__consumer_offsets", "__transaction_state", "__share_group_state")


def test_add_partitions_to_unknown_or_internal_topic(fresh_bootstrap):
    """Internal topics are refused by name, before and after they exist; the request fails as a
    whole, so a good partition in it is not attempted."""
    admin = AdminClient({"bootstrap.servers": fresh_bootstrap})
    topic, missing = unique("t"), unique("missing")
    result(admin.create_topics([NewTopic(topic, 1)])[topic])
    wire = Wire(fresh_bootstrap)
    txn_id = unique("tx")
    init = _init(wire, txn_id)
    topic_cls = importlib.import_module(
        "kio.schema.add_partitions_to_txn.v0.request"
    ).AddPartitionsToTxnTopic

    def add_partitions() -> dict[str, list[str]]:
        resp = wire.call(
            24,
            0,
            v3_and_below_transactional_id=txn_id,
            v3_and_below_producer_id=init.producer_id,
            v3_and_below_producer_epoch=init.producer_epoch,
            v3_and_below_topics=tuple(
                topic_cls(name=name, partitions=(0,)) for name in (topic, missing, *INTERNAL)
            ),
        )
        # by name: Kafka answers the topics in its hash map's order, not the request's
        return {
            str(t.name): [p.partition_error_code.name for p in t.results_by_partition]
            for t in resp.results_by_topic_v3_and_below
        }

    def has_offsets_topic() -> bool:
        return "__consumer_offsets" in admin.list_topics(timeout=10).topics

    expected = {
        topic: ["operation_not_attempted"],
        missing: ["unknown_topic_or_partition"],
        **{name: ["topic_authorization_failed"] for name in INTERNAL},
    }
    wait_for(lambda: topic in admin.list_topics(timeout=10).topics, what=f"topic {topic}")
    try:
        assert not has_offsets_topic()
        assert add_partitions() == expected
        assert not has_offsets_topic()  # the request did not create it
        # the first group coordinator lookup creates __consumer_offsets
        assert wire.call_until_settled(10, 2, key=unique("g"), key_type=0).error_code.name == (
            "none"
        )
        wait_for(has_offsets_topic, what="__consumer_offsets")
        assert add_partitions() == expected
    finally:
        wire.close()


def test_add_partitions_with_an_unknown_partition(kafka, wire):
    topic = kafka.create_topic()
    txn_id = unique("tx")
    init = _init(wire, txn_id)
    topic_cls = importlib.import_module(
        "kio.schema.add_partitions_to_txn.v0.request"
    ).AddPartitionsToTxnTopic
    resp = wire.call(
        24,
        0,
        v3_and_below_transactional_id=txn_id,
        v3_and_below_producer_id=init.producer_id,
        v3_and_below_producer_epoch=init.producer_epoch,
        v3_and_below_topics=(topic_cls(name=topic, partitions=(0, 7)),),
    )
    errors = {
        int(p.partition_index): p.partition_error_code.name
        for p in resp.results_by_topic_v3_and_below[0].results_by_partition
    }
    # the known partition is not added either: the request fails as a whole
    assert errors == {0: "operation_not_attempted", 7: "unknown_topic_or_partition"}


def test_init_producer_id_bad_timeout_and_empty_id(wire):
    for ms in (0, 3_600_000):  # transaction.max.timeout.ms is 15 minutes
        assert _init(wire, unique("tx"), timeout_ms=ms).error_code.name == (
            "invalid_transaction_timeout"
        )
    resp = wire.call(22, 4, transactional_id="", transaction_timeout=_ms(1000))
    assert resp.error_code.name == "invalid_request"


def test_txn_offset_commit_without_add_offsets(kafka, wire):
    topic = kafka.create_topic()
    txn_id, group = unique("tx"), unique("g")
    init = _init(wire, txn_id)
    assert wire.call_until_settled(10, 2, key=group, key_type=0).error_code.name == "none"
    m = importlib.import_module("kio.schema.txn_offset_commit.v3.request")
    resp = wire.call(
        28,
        3,
        transactional_id=txn_id,
        group_id=group,
        producer_id=init.producer_id,
        producer_epoch=init.producer_epoch,
        generation_id=-1,
        member_id="",
        topics=(
            m.TxnOffsetCommitRequestTopic(
                name=topic,
                partitions=(
                    m.TxnOffsetCommitRequestPartition(
                        partition_index=0,
                        committed_offset=1,
                        committed_leader_epoch=-1,
                        committed_metadata="",
                    ),
                ),
            ),
        ),
    )
    assert [p.error_code.name for t in resp.topics for p in t.partitions] == ["invalid_txn_state"]
