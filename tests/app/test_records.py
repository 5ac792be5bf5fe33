"""Decoding the event's records (lambda_fn/records.py): keys, tombstones, headers, poison."""

from __future__ import annotations

import pytest

from lambda_fn.records import PoisonRecord, decode_headers, parse_trade, records

from .events import event, record, trade


def test_records_in_partition_and_offset_order_with_topic_containing_hyphens():
    ev = event(
        record(0, value=trade(), topic="user-trades-v2", partition=1),
        record(1, value=trade(), topic="user-trades-v2", partition=1),
        record(5, value=trade(), topic="user-trades-v2", partition=0),
    )
    got = [(r.topic, r.partition, r.offset) for r in records(ev)]
    assert sorted(got) == [
        ("user-trades-v2", 0, 5),
        ("user-trades-v2", 1, 0),
        ("user-trades-v2", 1, 1),
    ]
    assert [r.offset for r in records(ev) if r.partition == 1] == [0, 1]


@pytest.mark.parametrize("key_null", [False, True], ids=["key-absent", "key-null"])
def test_missing_key_is_no_user(key_null):
    (r,) = records(event(record(3, key=None, key_null=key_null, value=trade())))
    assert r.key is None
    assert parse_trade(r).user is None


def test_tombstone_has_no_value():
    raw = record(4, value=None)
    assert "value" not in raw
    (r,) = records(event(raw))
    assert r.value is None
    with pytest.raises(PoisonRecord, match="tombstone"):
        parse_trade(r)
    raw["value"] = None  # "value": null is accepted too
    assert next(records(event(raw))).value is None


def test_headers_signed_bytes_order_and_duplicates():
    raw = [{"source": [119, 101, 98]}, {"note": [99, 97, 102, -61, -87]}, {"source": [120]}]
    assert decode_headers(raw) == [("source", b"web"), ("note", "café".encode()), ("source", b"x")]
    (r,) = records(event(record(0, value=trade(), headers=raw)))
    assert r.headers[1] == ("note", "café".encode())
    assert decode_headers([]) == [] and decode_headers(None) == []


def test_trade_fields_and_user_from_key():
    (r,) = records(event(record(7, key=b"User_9", value=trade(quantity=12, price=34))))
    tr = parse_trade(r)
    assert (tr.user, tr.regionid, tr.quantity, tr.price, tr.symbol) == (
        "User_9",
        "Region_1",
        12,
        34,
        "ZVV",
    )
    assert r.source == "user_trades-0@7"


def test_left_join_miss_has_null_region():
    (r,) = records(event(record(0, value=trade(REGIONID=None))))
    assert parse_trade(r).regionid is None


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        ({"QUANTITY": 1, "PRICE": 2}, "SYMBOL is missing"),
        ({"SYMBOL": "ZVV", "QUANTITY": "10", "PRICE": 2}, "QUANTITY must be an integer"),
        ({"SYMBOL": "ZVV", "QUANTITY": 1, "PRICE": -2}, "PRICE must not be negative"),
        ({"SYMBOL": "ZVV", "QUANTITY": True, "PRICE": 2}, "QUANTITY must be an integer"),
    ],
)
def test_poison_values(value, match):
    (r,) = records(event(record(0, value=value)))
    with pytest.raises(PoisonRecord, match=match):
        parse_trade(r)


def test_bad_base64_is_poison():
    raw = record(0, value=trade())
    raw["value"] = "%%%not-base64"
    with pytest.raises(PoisonRecord, match="base64"):
        list(records(event(raw)))
