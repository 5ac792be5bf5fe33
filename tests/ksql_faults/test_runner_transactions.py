"""The runner's exactly_once_v2 loop with fake clients: commit order, abort and re-process,
fencing, and the ``processing.guarantee`` setting itself (values, precedence, errors)."""

from __future__ import annotations

import dataclasses

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from streamlab.ksql.errors import KsqlException, KsqlStatementException
from streamlab.ksql.kafka_runtime import runner as rn


class FakeMessage:
    def __init__(self, topic: str, partition: int, offset: int, value: bytes = b"v") -> None:
        self._where = (topic, partition, offset)
        self._value = value

    def topic(self):
        return self._where[0]

    def partition(self):
        return self._where[1]

    def offset(self):
        return self._where[2]

    def key(self):
        return b"k"

    def value(self):
        return self._value

    def timestamp(self):
        return (1, 1000 + self._where[2])

    def headers(self):
        return None

    def error(self):
        return None


class FakeConsumer:
    def __init__(self, positions: dict[tuple[str, int], int]) -> None:
        self.positions = positions
        self.seeks: list[tuple[str, int, int]] = []

    def position(self, partitions):
        return [
            TopicPartition(p.topic, p.partition, self.positions[(p.topic, p.partition)])
            for p in partitions
        ]

    def consumer_group_metadata(self):
        return "group-metadata"

    def assignment(self):
        return [TopicPartition("in", 0), TopicPartition("in", 1)]

    def committed(self, partitions, timeout=None):
        # partition 0 committed at 5, partition 1 never committed
        return [TopicPartition(p.topic, p.partition, 5 if p.partition == 0 else -1001)
                for p in partitions]  # fmt: skip

    def seek(self, partition):
        self.seeks.append((partition.topic, partition.partition, partition.offset))


class FakeProducer:
    """Records the calls; ``failures`` are raised by successive commit_transaction calls."""

    def __init__(self, failures: list[KafkaError] | None = None) -> None:
        self.calls: list[str] = []
        self.failures = list(failures or [])
        self.offsets: list[TopicPartition] = []

    def begin_transaction(self):
        self.calls.append("begin")

    def produce(self, topic, value=None, key=None, **kwargs):
        self.calls.append(f"produce {topic}")

    def send_offsets_to_transaction(self, offsets, metadata, timeout=None):
        assert metadata == "group-metadata"
        self.offsets = offsets
        self.calls.append("send_offsets")

    def commit_transaction(self, timeout=None):
        self.calls.append("commit")
        if self.failures:
            raise KafkaException(self.failures.pop(0))

    def abort_transaction(self, timeout=None):
        self.calls.append("abort")


def _runner(producer: FakeProducer, consumer: FakeConsumer, resets: list[str]) -> rn.QueryRunner:
    def process(record):
        rn.local.runner.emit(dataclasses.replace(record, topic="out"))

    def on_abort(query_id: str):
        resets.append(query_id)
        return process

    runner = rn.QueryRunner(
        "CSAS_OUT_1", "127.0.0.1:9", "g", ["in"], process, "earliest",
        transactional_id="g-p-1", on_abort=on_abort,
    )  # fmt: skip
    runner.producer, runner.consumer = producer, consumer  # type: ignore[assignment]
    rn.local.runner = runner
    return runner


ABORTABLE = KafkaError(KafkaError._STATE, "Abortable: broker said no", txn_requires_abort=True)
FENCED = KafkaError(KafkaError._FENCED, "Producer fenced by newer instance", fatal=True)
BATCH = [FakeMessage("in", 0, 7), FakeMessage("in", 1, 2), FakeMessage("in", 0, 8)]


def test_a_batch_is_one_transaction_with_its_input_offsets():
    producer = FakeProducer()
    # partition 1's consumer already stepped past a transaction marker at offset 3
    runner = _runner(producer, FakeConsumer({("in", 0): 9, ("in", 1): 4}), [])
    runner.transaction(BATCH)
    assert producer.calls == ["begin", *["produce out"] * 3, "send_offsets", "commit"]
    assert {(o.partition, o.offset) for o in producer.offsets} == {(0, 9), (1, 4)}
    assert (runner.transactions, runner.aborts) == (1, 0)


def test_an_abortable_error_aborts_rebuilds_state_and_rewinds_to_committed_offsets():
    producer = FakeProducer([ABORTABLE])
    consumer = FakeConsumer({("in", 0): 9, ("in", 1): 3})
    resets: list[str] = []
    runner = _runner(producer, consumer, resets)
    runner.transaction(BATCH)
    assert producer.calls[-2:] == ["commit", "abort"]
    assert resets == ["CSAS_OUT_1"]  # the state is rebuilt from the committed changelog
    assert consumer.seeks == [("in", 0, 5), ("in", 1, OFFSET_BEGINNING)]  # earliest
    assert (runner.transactions, runner.aborts) == (0, 1)
    runner.transaction(BATCH)  # the batch again, from the committed offsets
    assert producer.calls[-1] == "commit"
    assert (runner.transactions, runner.aborts, runner.aborts_in_a_row) == (1, 1, 0)


def test_a_fenced_producer_stops_the_query():
    runner = _runner(FakeProducer([FENCED]), FakeConsumer({("in", 0): 9, ("in", 1): 3}), [])
    with pytest.raises(KafkaException) as raised:
        runner.transaction(BATCH)
    assert raised.value.args[0].code() == KafkaError._FENCED


def test_aborts_in_a_row_stop_the_query_instead_of_retrying_forever():
    producer = FakeProducer([ABORTABLE] * rn.MAX_ABORTS)
    runner = _runner(producer, FakeConsumer({("in", 0): 9, ("in", 1): 3}), [])
    for _ in range(rn.MAX_ABORTS - 1):
        runner.transaction(BATCH)
    with pytest.raises(KsqlException, match="5 transactions aborted in a row, the last on: "
                       "Abortable: broker said no"):  # fmt: skip
        runner.transaction(BATCH)


# ---- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([{}, {}], "at_least_once"),
        ([{}, {"ksql.streams.processing.guarantee": "exactly_once_v2"}], "exactly_once_v2"),
        ([{"processing.guarantee": "EXACTLY_ONCE_V2"}, {}], "exactly_once_v2"),
        # the query's own setting wins over the server's, whatever the spelling
        (
            [
                {"processing.guarantee": "at_least_once"},
                {"ksql.streams.processing.guarantee": "exactly_once_v2"},
            ],
            "at_least_once",
        ),
    ],
)
def test_processing_guarantee_precedence(layers, expected):
    assert rn.processing_guarantee(*layers) == expected


@pytest.mark.parametrize("value", ["exactly_once", "exactly_once_beta", "at-least-once", ""])
def test_invalid_values_are_rejected_with_kafka_streams_wording(value):
    expected = (
        f"Invalid value {value} for configuration processing.guarantee: String must be one of: "
        "at_least_once, exactly_once_v2"
    )
    with pytest.raises(KsqlStatementException) as raised:
        rn.check_guarantees({"processing.guarantee": value}, "SET 'processing.guarantee'='x';")
    assert raised.value.message == expected
    with pytest.raises(KsqlException) as raised:
        rn.check_guarantees({"ksql.streams.processing.guarantee": value})
    assert raised.value.message == (
        f"Failed to coerce type of value '{value}' for key 'ksql.streams.processing.guarantee'"
        f"\nCaused by: {expected}"
    )


def test_consumer_overrides_take_static_membership_per_query():
    overrides = rn.consumer_overrides(
        {"session.timeout.ms": "6000"},
        {"ksql.streams.group.instance.id": "lab", "ksql.streams.session.timeout.ms": "9000"},
    )
    assert overrides == {"session.timeout.ms": "6000", "group.instance.id": "lab-1"}
