"""Kafka events as AWS documents them (research/lambda-kafka.md §1.4), built for the tests."""

from __future__ import annotations

import base64
import json
from typing import Any


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def record(
    offset: int,
    key: bytes | None = b"User_3",
    value: Any = None,
    *,
    partition: int = 0,
    topic: str = "user_trades",
    timestamp: int = 1_767_225_600_123,
    headers: list[dict[str, list[int]]] | None = None,
    key_null: bool = False,
) -> dict[str, Any]:
    """One record; ``value``: a dict (JSON-encoded), bytes, or None for a tombstone."""
    out: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": timestamp,
        "timestampType": "CREATE_TIME",
        "headers": headers or [],
    }
    if key is not None:
        out["key"] = b64(key)
    elif key_null:
        out["key"] = None
    if isinstance(value, dict):
        out["value"] = b64(json.dumps(value).encode())
    elif isinstance(value, bytes):
        out["value"] = b64(value)
    return out


def trade(quantity: int = 10, price: int = 500, symbol: str = "ZVV", **extra: Any) -> dict:
    value = {
        "REGIONID": "Region_1",
        "QUANTITY": quantity,
        "SYMBOL": symbol,
        "PRICE": price,
        "ACCOUNT": "ABC123",
        "SIDE": "BUY",
    }
    value.update(extra)
    return value


def event(*records: dict[str, Any]) -> dict[str, Any]:
    grouped: dict[str, list] = {}
    for r in records:
        grouped.setdefault(f"{r['topic']}-{r['partition']}", []).append(r)
    return {
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": "b-1.example:9092,b-2.example:9092",
        "records": grouped,
    }
