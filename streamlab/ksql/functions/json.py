"""JSON functions: EXTRACTJSONFIELD and friends."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from decimal import Decimal

from streamlab.ksql.errors import KsqlFunctionException
from streamlab.ksql.functions.registry import (
    BIGINT,
    BOOLEAN,
    DOUBLE,
    INTEGER,
    STRING,
    Generic,
    udf,
)
from streamlab.ksql.jvm import hash_map_order
from streamlab.ksql.types import SqlArray, SqlBaseType, SqlMap, SqlStruct, SqlType

_CAT = "JSON"
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[\s*(\d+)\s*\]|\[\s*['\"]([^'\"]+)['\"]\s*\]")


def _path(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise ValueError(f"Invalid JsonPath: {path}")
    tokens: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None:
            raise ValueError(f"Invalid JsonPath: {path}")
        if match.group(1) is not None:
            tokens.append(match.group(1))
        elif match.group(2) is not None:
            tokens.append(int(match.group(2)))
        else:
            tokens.append(match.group(3))
        pos = match.end()
    return tokens


def _load(text: str) -> object:
    """The first JSON value of ``text`` (trailing text is ignored, as Jackson does)."""
    value, _ = _DECODER.raw_decode(text.strip())
    return value


_DECODER = json.JSONDecoder(parse_float=Decimal)


@udf("extractjsonfield", STRING, STRING, returns=STRING, category=_CAT)
def extract_json_field(text: str, path: str) -> str | None:
    """The value at a JSON path (``$.a.b[0]``): strings bare, other values as JSON text."""
    try:
        node = _load(text)
    except ValueError:
        return None
    for token in _path(path):
        if (isinstance(token, int) and isinstance(node, list) and 0 <= token < len(node)) or (
            isinstance(token, str) and isinstance(node, dict) and token in node
        ):
            node = node[token]
        else:
            return None
    if node is None:
        return None
    if isinstance(node, str):
        return node
    from streamlab.ksql.formats.json import to_json_text

    return to_json_text(node)


@udf("json_array_length", STRING, returns=INTEGER, category=_CAT)
def json_array_length(text: str) -> int | None:
    """The length of a JSON array, or NULL."""
    try:
        node = _load(text)
    except ValueError:
        return None
    return len(node) if isinstance(node, list) else None


@udf("json_keys", STRING, returns=SqlArray(STRING), category=_CAT)
def json_keys(text: str) -> list[str] | None:
    """The keys of a JSON object, or NULL."""
    try:
        node = _load(text)
    except ValueError:
        return None
    return list(node) if isinstance(node, dict) else None


def _array_contains(text: str | None, value: object) -> bool:
    if text is None:
        return False
    try:
        node = _load(text)
    except ValueError:
        return False
    if not isinstance(node, list):
        return False
    for item in node:
        if value is None and item is None:
            return True
        if isinstance(value, bool) or isinstance(item, bool):
            if isinstance(value, bool) and isinstance(item, bool) and value == item:
                return True
            continue
        if isinstance(value, str) and isinstance(item, str) and value == item:
            return True
        if isinstance(value, int | float) and isinstance(item, int | float | Decimal):
            if isinstance(value, int) and isinstance(item, int) and value == item:
                return True
            if isinstance(value, float) and not isinstance(item, int) and float(item) == value:
                return True
    return False


for _type in (STRING, INTEGER, BIGINT, DOUBLE, BOOLEAN):
    udf("json_array_contains", STRING, _type, returns=BOOLEAN, null_on_null=False, category=_CAT)(
        _array_contains
    )


# ---- TO_JSON_STRING, JSON_CONCAT, JSON_ITEMS, JSON_RECORDS --------------------------------------


def _write(value: object) -> str:
    """Jackson as ksqlDB's ``UdfJsonMapper`` configures it: compact, plain BigDecimals."""
    from streamlab.ksql.formats.json import to_json_text
    from streamlab.ksql.jvm import big_decimal_to_plain_string

    if isinstance(value, Decimal):
        return big_decimal_to_plain_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_json_text(str(k))}:{_write(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_write(v) for v in value) + "]"
    return to_json_text(value)


def _parse(text: str) -> object:
    """``UdfJsonMapper.parseJson``; raises for invalid JSON, ``_MISSING`` for empty input."""
    if not text.strip():
        return _MISSING
    try:
        return _load(text)
    except ValueError as error:
        raise KsqlFunctionException(f"Invalid JSON format:{text}") from error


_MISSING = object()


def _local_time(millis: int) -> str:
    """``LocalTime.ofSecondOfDay(s).toString()``: seconds are omitted when zero."""
    seconds = millis // 1000
    hours, minutes, secs = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _json_preparer(sql_type: SqlType | None) -> Callable[[object], object]:
    """Converts a value of ``sql_type`` to what ``TO_JSON_STRING`` serializes."""
    from streamlab.ksql.functions.timeformat import pattern

    base = sql_type.base if sql_type is not None else None
    if base is SqlBaseType.TIMESTAMP:
        fmt = pattern("yyyy-MM-dd'T'HH:mm:ss.SSS")
        return lambda v: fmt.format_millis(v, "UTC")
    if base is SqlBaseType.DATE:
        fmt = pattern("yyyy-MM-dd")
        return lambda v: fmt.format_millis(v * 86_400_000, "UTC")
    if base is SqlBaseType.TIME:
        return _local_time
    if base is SqlBaseType.BYTES:
        return lambda v: base64.b64encode(v).decode("ascii")
    if isinstance(sql_type, SqlArray):
        item = _json_preparer(sql_type.item_type)
        return lambda v: [None if x is None else item(x) for x in v]
    if isinstance(sql_type, SqlMap):
        value = _json_preparer(sql_type.value_type)
        return lambda v: {
            str(k): (None if v[k] is None else value(v[k])) for k in sorted(v, key=str)
        }
    if isinstance(sql_type, SqlStruct):
        fields = {name: _json_preparer(t) for name, t in sql_type.fields}
        return lambda v: {
            name: (None if v.get(name) is None else fields[name](v.get(name)))
            for name in sorted(fields)
        }
    return lambda v: v


@udf("to_json_string", Generic("T"), returns=STRING, null_on_null=False, typed=True, category=_CAT)
def to_json_string(arg_types: list[SqlType | None]) -> Callable[[object], str]:
    """The value as JSON text (structs and maps with sorted keys, times as ISO text)."""
    prepare = _json_preparer(arg_types[0])
    return lambda value: "null" if value is None else _write(prepare(value))


@udf("json_concat", STRING, returns=STRING, variadic=True, null_on_null=False, category=_CAT)
def json_concat(*texts: str | None) -> str | None:
    """Merges JSON objects (later keys win), or concatenates everything else as arrays."""
    if not texts:
        return None
    nodes = []
    for text in texts:
        if text is None:
            return None
        node = _parse(text)
        if node is _MISSING:
            return None
        nodes.append(node)
    if all(isinstance(n, dict) for n in nodes):
        merged: dict = {}
        for node in nodes:
            merged.update(node)  # type: ignore[arg-type]
        return _write(merged)
    result: list = []
    for node in nodes:
        result.extend(node if isinstance(node, list) else [node])
    return _write(result)


@udf("json_items", STRING, returns=SqlArray(STRING), category=_CAT)
def json_items(text: str) -> list[str]:
    """The elements of a JSON array, each as JSON text."""
    try:
        node = _load(text)
    except ValueError as error:
        raise KsqlFunctionException(f"Invalid JSON format:{text}") from error
    if not isinstance(node, list):
        raise KsqlFunctionException(f"Invalid JSON format:{text}")
    return [_write(item) for item in node]


@udf("json_records", STRING, returns=SqlMap(STRING, STRING), category=_CAT)
def json_records(text: str) -> dict[str, str] | None:
    """The entries of a JSON object: strings bare, other values as JSON text."""
    node = _parse(text)
    if not isinstance(node, dict):
        return None
    records = {k: v if isinstance(v, str) else _write(v) for k, v in node.items()}
    return {k: records[k] for k in hash_map_order(list(records), len(records))}
