"""The records of a Kafka event source mapping's event, decoded (research/lambda-kafka.md §1).

AWS sends ``{"records": {"<topic>-<partition>": [record, ...]}}`` where each record's ``key`` and
``value`` are base64 strings and ``headers`` is a list of one-entry objects whose values are
arrays of *signed* byte values (the pollers are JVM code). Three things real events do that naive
handlers trip over, all handled here:

* a record produced without a key has no ``key`` field (``"key": null`` is accepted too);
* a tombstone (null value) has no ``value`` field (or ``"value": null``);
* header bytes >= 0x80 arrive negative (``bytes([-61])`` raises), so each is masked with 0xFF.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class PoisonRecord(ValueError):
    """A record that can never be processed as it is (retrying it cannot help)."""


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int  # epoch milliseconds
    key: bytes | None
    value: bytes | None  # None: a tombstone
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def source(self) -> str:
        """``topic-partition@offset``: where the record came from, for logs and dead letters."""
        return f"{self.topic}-{self.partition}@{self.offset}"


@dataclass(frozen=True)
class Trade:
    """One USER_TRADES row: the user is the record key, the rest is the JSON value."""

    user: str | None
    regionid: str | None
    quantity: int
    price: int
    symbol: str
    account: str | None
    side: str | None


def _b64(text: Any, what: str, where: str) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError) as e:
        raise PoisonRecord(f"{where}: {what} is not valid base64 ({e})") from e


def decode_headers(raw: Any) -> list[tuple[str, bytes]]:
    """``[{"name": [signed bytes]}, ...]`` -> ``[(name, bytes)]``; order and duplicates kept."""
    out = []
    for entry in raw or []:
        for name, values in entry.items():
            out.append((name, bytes(v & 0xFF for v in values)))
    return out


def records(event: dict[str, Any]) -> Iterator[KafkaRecord]:
    """Every record of the event, partition by partition, in offset order within a partition."""
    for tp, items in (event.get("records") or {}).items():
        for raw in items:
            where = f"{raw.get('topic', tp)}-{raw.get('partition')}@{raw.get('offset')}"
            yield KafkaRecord(
                topic=raw.get("topic") or tp.rsplit("-", 1)[0],  # topics may contain '-'
                partition=int(raw["partition"]),
                offset=int(raw["offset"]),
                timestamp=int(raw.get("timestamp") or 0),
                key=_b64(raw.get("key"), "key", where),
                value=_b64(raw.get("value"), "value", where),
                headers=decode_headers(raw.get("headers")),
            )


def _int(value: dict[str, Any], name: str, where: str) -> int:
    v = value.get(name)
    if isinstance(v, bool) or not isinstance(v, int):
        raise PoisonRecord(f"{where}: {name} must be an integer, got {v!r}")
    if v < 0:
        raise PoisonRecord(f"{where}: {name} must not be negative, got {v}")
    return v


def parse_trade(record: KafkaRecord) -> Trade:
    """The trade in a ``user_trades`` record (not a tombstone: check ``record.value`` first).

    Raises:
        PoisonRecord: the value is not a JSON object with an integer QUANTITY and PRICE and a
            SYMBOL, or the key is not UTF-8.
    """
    where = record.source
    if record.value is None:
        raise PoisonRecord(f"{where}: a tombstone has no trade")
    try:
        value = json.loads(record.value)
    except (UnicodeDecodeError, ValueError) as e:
        raise PoisonRecord(f"{where}: value is not JSON ({e})") from e
    if not isinstance(value, dict):
        raise PoisonRecord(f"{where}: value is not a JSON object: {value!r:.80}")
    symbol = value.get("SYMBOL")
    if not isinstance(symbol, str) or not symbol:
        raise PoisonRecord(f"{where}: SYMBOL is missing")
    try:
        user = record.key.decode("utf-8") if record.key is not None else None
    except UnicodeDecodeError as e:
        raise PoisonRecord(f"{where}: key is not UTF-8 ({e})") from e
    return Trade(
        user=user or None,  # an empty key is no user either
        regionid=value.get("REGIONID"),
        quantity=_int(value, "QUANTITY", where),
        price=_int(value, "PRICE", where),
        symbol=symbol,
        account=value.get("ACCOUNT"),
        side=value.get("SIDE"),
    )
