"""The Kafka event builder and FilterCriteria matching, without Kafka (pure functions)."""

from __future__ import annotations

import base64
import json

import pytest

from streamlab.awslambda.kafka_event import build_event, matches, record_entry, signed_bytes


class Msg:
    """The parts of a confluent-kafka Message that the builder reads."""

    def __init__(self, partition, offset, key, value, headers=None, ts=(1, 1767225600123)):
        self._p, self._o, self._k, self._v, self._h, self._ts = (
            partition,
            offset,
            key,
            value,
            headers,
            ts,
        )

    def topic(self):
        return "orders"

    def partition(self):
        return self._p

    def offset(self):
        return self._o

    def key(self):
        return self._k

    def value(self):
        return self._v

    def headers(self):
        return self._h

    def timestamp(self):
        return self._ts


def test_signed_bytes_like_the_jvm():
    assert signed_bytes("é".encode()) == [-61, -87]
    assert signed_bytes(bytes([0, 127, 128, 255])) == [0, 127, -128, -1]


def test_the_research_note_example_event():
    entries = [
        record_entry(
            Msg(0, 41, None, b'{"id": 1}', [("source", b"web"), ("note", "café".encode())])
        ),
        record_entry(Msg(1, 7, b"order-7", None, None, ts=(2, 1767225600456))),
    ]
    event = build_event(entries, ["localhost:9092"])
    assert event == {
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": "localhost:9092",
        "records": {
            "orders-0": [
                {
                    "topic": "orders",
                    "partition": 0,
                    "offset": 41,
                    "timestamp": 1767225600123,
                    "timestampType": "CREATE_TIME",
                    "value": "eyJpZCI6IDF9",
                    "headers": [{"source": [119, 101, 98]}, {"note": [99, 97, 102, -61, -87]}],
                }
            ],
            "orders-1": [
                {
                    "topic": "orders",
                    "partition": 1,
                    "offset": 7,
                    "timestamp": 1767225600456,
                    "timestampType": "LOG_APPEND_TIME",
                    "key": "b3JkZXItNw==",
                    "headers": [],
                }
            ],
        },
    }


def test_msk_event_has_the_arn():
    arn = "arn:aws:kafka:us-east-1:123456789012:cluster/lab/uuid-1"
    event = build_event([record_entry(Msg(0, 1, b"k", b"v"))], ["b1:9098", "b2:9098"], arn)
    assert list(event)[:3] == ["eventSource", "eventSourceArn", "bootstrapServers"]
    assert event["eventSource"] == "aws:kafka" and event["eventSourceArn"] == arn
    assert event["bootstrapServers"] == "b1:9098,b2:9098"


def entry(value):
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return {"topic": "t", "partition": 0, "offset": 0, "value": base64.b64encode(raw).decode()}


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ({"value": {"status": ["NEW"]}}, {"status": "NEW"}, True),
        ({"value": {"status": ["NEW"]}}, {"status": "OLD"}, False),
        ({"value": {"n": [{"numeric": [">", 10, "<=", 20]}]}}, {"n": 15}, True),
        ({"value": {"n": [{"numeric": [">", 10]}]}}, {"n": 5}, False),
        ({"value": {"s": [{"prefix": "AB"}]}}, {"s": "ABC"}, True),
        ({"value": {"s": [{"anything-but": ["X"]}]}}, {"s": "Y"}, True),
        ({"value": {"s": [{"anything-but": ["X"]}]}}, {"s": "X"}, False),
        ({"value": {"s": [{"exists": False}]}}, {"t": 1}, True),
        ({"value": {"a": {"b": ["deep"]}}}, {"a": {"b": "deep"}}, True),
        ({"value": {"tags": ["x"]}}, {"tags": ["y", "x"]}, True),
        ({"value": [{"prefix": "hello"}]}, b"hello world", True),
        ({"value": {"status": ["NEW"]}}, b"\xff\xfe not utf-8", False),
    ],
)
def test_filter_patterns(pattern, value, expected):
    assert matches([{"Pattern": json.dumps(pattern)}], entry(value)) is expected


def test_any_filter_is_enough_and_no_filters_pass_everything():
    filters = [
        {"Pattern": json.dumps({"value": {"s": ["a"]}})},
        {"Pattern": json.dumps({"value": {"s": ["b"]}})},
    ]
    assert matches(filters, entry({"s": "b"}))
    assert not matches(filters, entry({"s": "c"}))
    assert matches([], entry({"s": "c"}))
