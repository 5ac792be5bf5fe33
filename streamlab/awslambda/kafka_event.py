"""The event Lambda builds from Kafka records (research/lambda-kafka.md §1), and its filtering.

Self-managed Kafka::

    {"eventSource": "SelfManagedKafka", "bootstrapServers": "h1:9092,h2:9092",
     "records": {"orders-0": [{"topic": "orders", "partition": 0, "offset": 41,
                               "timestamp": 1767225600123, "timestampType": "CREATE_TIME",
                               "key": "<base64>", "value": "<base64>",
                               "headers": [{"note": [99, 97, 102, -61, -87]}]}]}}

MSK adds ``"eventSourceArn"`` and says ``"aws:kafka"``. A record without a key has no ``key``
member and a tombstone has no ``value`` member (what AWS sends in the reports we found); header
values are arrays of *signed* bytes, as the JVM pollers serialise them. One event may hold several
partitions; within one ``"topic-partition"`` key the offsets ascend.
"""

from __future__ import annotations

import base64
import json
from typing import Any

# librdkafka's timestamp types: 0 none, 1 create time, 2 log append time
TIMESTAMP_TYPES = {0: "NO_TIMESTAMP_TYPE", 1: "CREATE_TIME", 2: "LOG_APPEND_TIME"}
MAX_PAYLOAD = 6 * 1024 * 1024  # an ESM invoke is synchronous: the 6 MB request limit


def signed_bytes(data: bytes) -> list[int]:
    """Java's ``byte``: 0x80..0xFF become -128..-1."""
    return [b - 256 if b > 127 else b for b in data]


def record_entry(msg: Any) -> dict[str, Any]:
    """One record of the ``records`` map from a confluent-kafka Message."""
    ts_type, ts = msg.timestamp()
    entry: dict[str, Any] = {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "timestamp": ts,
        "timestampType": TIMESTAMP_TYPES.get(ts_type, "CREATE_TIME"),
    }
    key = msg.key()
    if key is not None:
        entry["key"] = base64.b64encode(key).decode()
    value = msg.value()
    if value is not None:
        entry["value"] = base64.b64encode(value).decode()
    entry["headers"] = [{name: signed_bytes(v or b"")} for name, v in (msg.headers() or [])]
    return entry


def entry_size(entry: dict[str, Any]) -> int:
    """Bytes the entry adds to the serialised event (its JSON plus a separator)."""
    return len(json.dumps(entry, separators=(", ", ": "))) + 2


def build_event(
    entries: list[dict[str, Any]], bootstrap_servers: list[str], source_arn: str | None = None
) -> dict[str, Any]:
    records: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        records.setdefault(f"{e['topic']}-{e['partition']}", []).append(e)
    for recs in records.values():
        recs.sort(key=lambda r: r["offset"])
    event: dict[str, Any] = {"eventSource": "aws:kafka" if source_arn else "SelfManagedKafka"}
    if source_arn:
        event["eventSourceArn"] = source_arn
    event["bootstrapServers"] = ",".join(bootstrap_servers)
    event["records"] = records
    return event


# --- FilterCriteria: EventBridge-style patterns, on the record's value only ------------------


def _decode_value(entry: dict[str, Any]) -> tuple[bool, Any]:
    """(decoded?, the value as JSON or str) for matching."""
    raw = entry.get("value")
    if raw is None:
        return False, None
    try:
        text = base64.b64decode(raw).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False, None
    try:
        return True, json.loads(text)
    except ValueError:
        return True, text


def _numeric(rule: list[Any], value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    ops = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "=": lambda a, b: a == b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return all(ops[rule[i]](value, rule[i + 1]) for i in range(0, len(rule) - 1, 2))


def _match_one(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        if "exists" in rule:
            return present == bool(rule["exists"])
        if not present:
            return False
        if "prefix" in rule:
            p = rule["prefix"]
            if isinstance(p, dict):  # {"prefix": {"equals-ignore-case": ...}}
                return isinstance(value, str) and value.lower().startswith(
                    p.get("equals-ignore-case", "").lower()
                )
            return isinstance(value, str) and value.startswith(p)
        if "suffix" in rule:
            return isinstance(value, str) and value.endswith(rule["suffix"])
        if "equals-ignore-case" in rule:
            return isinstance(value, str) and value.lower() == rule["equals-ignore-case"].lower()
        if "numeric" in rule:
            return _numeric(rule["numeric"], value)
        if "anything-but" in rule:
            but = rule["anything-but"]
            if isinstance(but, dict):
                if "prefix" in but:
                    return not (isinstance(value, str) and value.startswith(but["prefix"]))
                return True
            excluded = but if isinstance(but, list) else [but]
            return value not in excluded
        return False
    return present and value == rule


def _match_values(rules: list[Any], value: Any, present: bool) -> bool:
    candidates = value if isinstance(value, list) and present else [value]
    return any(_match_one(r, v, present) for r in rules for v in candidates)


def _match(pattern: dict[str, Any], data: Any) -> bool:
    for key, rule in pattern.items():
        present = isinstance(data, dict) and key in data
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(rule, dict):
            if not present or not _match(rule, value):
                return False
        elif isinstance(rule, list):
            if not _match_values(rule, value, present):
                return False
        else:
            return False
    return True


def matches(filters: list[dict[str, Any]], entry: dict[str, Any]) -> bool:
    """Does the record pass ``FilterCriteria.Filters`` (any filter matching is enough)?"""
    if not filters:
        return True
    decoded, value = _decode_value(entry)
    for f in filters:
        try:
            pattern = json.loads(f.get("Pattern", "{}"))
        except ValueError:
            continue
        rule = pattern.get("value")
        if rule is None:
            if _match({k: v for k, v in pattern.items() if k != "value"}, entry):
                return True
            continue
        if not decoded:
            continue  # not UTF-8: only metadata rules could apply
        if isinstance(rule, dict) and isinstance(value, dict):
            if _match(rule, value):
                return True
        elif isinstance(rule, list) and _match_values(rule, value, True):
            return True
    return False
