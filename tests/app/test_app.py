"""One invocation (lambda_fn/app.py) with a fake producer: what is produced, flushed, raised."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_fn.app import DeliveryFailed, SettlementApp
from lambda_fn.config import Settings
from lambda_fn.proto import TradeSettlement
from lambda_fn.records import PoisonRecord
from lambda_fn.settlement import COMPLETED, PENDING, REJECTED, Rules
from streamlab.awslambda.kafka_event import build_event, record_entry

from .events import event, record, trade


class FakeMessage:
    def __init__(self, topic, key, value, headers, partition=0, offset=0, ts=1_767_225_600_000):
        self._t, self._k, self._v, self._h = topic, key, value, headers
        self._p, self._o, self._ts = partition, offset, ts

    def topic(self):
        return self._t

    def key(self):
        return self._k

    def value(self):
        return self._v

    def headers(self):
        return self._h

    def partition(self):
        return self._p

    def offset(self):
        return self._o

    def timestamp(self):
        return (1, self._ts)


class FakeProducer:
    """Delivers on flush; ``fail`` topics get an error, ``stuck`` leaves records unsent."""

    def __init__(self, fail: set[str] = frozenset(), stuck: bool = False) -> None:
        self.queued: list[tuple[FakeMessage, Any]] = []
        self.sent: list[FakeMessage] = []
        self.flushes = 0
        self.fail, self.stuck = fail, stuck

    def produce(self, topic, key=None, value=None, headers=None, on_delivery=None):
        self.queued.append((FakeMessage(topic, key, value, headers), on_delivery))

    def poll(self, timeout):
        return 0

    def flush(self, timeout):
        self.flushes += 1
        if self.stuck:
            return len(self.queued)
        for msg, cb in self.queued:
            err = "KafkaError{code=MSG_TIMED_OUT}" if msg.topic() in self.fail else None
            cb(err, msg)
            if err is None:
                self.sent.append(msg)
        self.queued = []
        return 0


def serialize(message: TradeSettlement) -> bytes:
    return message.SerializeToString()


def settled(producer: FakeProducer) -> list[TradeSettlement]:
    return [
        TradeSettlement.FromString(m.value())
        for m in producer.sent
        if m.topic() == "trade-settlements"
    ]


SETTINGS = Settings("Creds", "us-east-1", rules=Rules(review_share=0.0))


def app(producer: FakeProducer, settings: Settings = SETTINGS) -> SettlementApp:
    return SettlementApp(producer, serialize, settings)


def test_batch_settled_keyed_by_symbol_flushed_once():
    p = FakeProducer()
    ev = event(
        record(0, b"User_1", trade(quantity=10, price=500, symbol="ZVV"), timestamp=111),
        record(1, b"User_2", trade(quantity=5000, price=999, symbol="ZTEST"), timestamp=222),
        record(0, None, trade(symbol="ZBZX"), partition=3, timestamp=333),
    )
    result = app(p).handle(ev)
    assert p.flushes == 1
    assert result["settled"] == 3 and result["records"] == 3
    assert result["dispositions"] == {COMPLETED: 1, PENDING: 1, REJECTED: 1}
    got = settled(p)
    assert [(s.user, s.symbol, s.disposition, s.amount, s.timestamp) for s in got] == [
        ("User_1", "ZVV", COMPLETED, 50.0, 111),
        ("User_2", "ZTEST", PENDING, 49950.0, 222),
        ("", "ZBZX", REJECTED, 50.0, 333),
    ]
    assert [m.key() for m in p.sent] == [b"ZVV", b"ZTEST", b"ZBZX"]
    assert [dict(m.headers())["source"] for m in p.sent] == [
        b"user_trades-0@0", b"user_trades-0@1", b"user_trades-3@0",
    ]  # fmt: skip


def test_tombstone_skipped_and_poison_dead_lettered_the_rest_settled():
    p = FakeProducer()
    ev = event(
        record(0, value=trade()),
        record(1, value=None),
        record(2, b"User_5", b"{oops", headers=[{"trace": [1, -1]}]),
        record(3, value=trade(symbol="ZXZZT")),
    )
    result = app(p).handle(ev)
    assert (result["settled"], result["tombstones"], result["dead_lettered"]) == (2, 1, 1)
    (dead,) = [m for m in p.sent if m.topic() == "user_trades-dlq"]
    assert (dead.key(), dead.value()) == (b"User_5", b"{oops")
    headers = dict(dead.headers())
    assert headers["trace"] == bytes([1, 255])
    assert headers["source"] == b"user_trades-0@2"
    assert b"not JSON" in headers["error"]
    assert [s.symbol for s in settled(p)] == ["ZVV", "ZXZZT"]


def test_poison_without_dead_letter_topic_fails_the_invocation():
    settings = Settings("Creds", "us-east-1", dead_letter_topic=None)
    with pytest.raises(PoisonRecord):
        app(FakeProducer(), settings).handle(event(record(0, value=b"nope")))


def test_delivery_error_fails_the_invocation():
    p = FakeProducer(fail={"trade-settlements"})
    with pytest.raises(DeliveryFailed, match=r"1 settlements failed.*MSG_TIMED_OUT.*retried"):
        app(p).handle(event(record(0, value=trade())))


def test_undelivered_at_flush_timeout_fails_the_invocation():
    class Context:
        def get_remaining_time_in_millis(self):
            return 4_000

    with pytest.raises(DeliveryFailed, match=r"1 were not delivered in 2\.0 s"):
        app(FakeProducer(stuck=True)).handle(event(record(0, value=trade())), Context())


def test_retry_settles_identically():
    """A retried batch (same records, same offsets) gives the same settlements, byte for byte."""
    ev = event(*(record(i, value=trade(quantity=1 + i, price=7)) for i in range(50)))
    a, b = FakeProducer(), FakeProducer()
    settings = Settings("Creds", "us-east-1", rules=Rules(review_share=0.5))
    app(a, settings).handle(ev)
    app(b, settings).handle(ev)
    assert [m.value() for m in a.sent] == [m.value() for m in b.sent]
    assert {s.disposition for s in settled(a)} == {COMPLETED, "SEC Flagged"}


def test_event_built_by_the_emulator():
    """The emulator's own event builder (streamlab.awslambda.kafka_event) feeds the handler."""
    import json

    msgs = [
        FakeMessage("user_trades", b"User_1", json.dumps(trade()).encode(), [("h", b"\xc3\xa9")]),
        FakeMessage("user_trades", None, json.dumps(trade(symbol="ZWZZT")).encode(), None, 2, 9),
        FakeMessage("user_trades", b"User_2", None, None, 1, 4),
    ]
    ev = build_event([record_entry(m) for m in msgs], ["127.0.0.1:9092"])
    p = FakeProducer()
    result = app(p).handle(ev)
    assert (result["settled"], result["tombstones"]) == (2, 1)
    assert {(s.user, s.symbol) for s in settled(p)} == {("User_1", "ZVV"), ("", "ZWZZT")}
