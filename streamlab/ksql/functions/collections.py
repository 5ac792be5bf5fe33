"""ARRAY and MAP functions."""

from __future__ import annotations

from streamlab.ksql.errors import KsqlFunctionException
from streamlab.ksql.functions.registry import (
    BIGINT,
    BOOLEAN,
    DOUBLE,
    INTEGER,
    STRING,
    ArrayOf,
    Concrete,
    Generic,
    MapOf,
    bound,
    udf,
)
from streamlab.ksql.jvm import hash_map_order, java_int_div, wrap_int, wrap_long
from streamlab.ksql.types import SqlArray, SqlMap, SqlStruct

_CAT = "ARRAY"
_T, _K, _V = Generic("T"), Generic("K"), Generic("V")


def _array_of(name):
    return lambda args, bindings: SqlArray(bindings[name]) if name in bindings else None


udf("array_length", ArrayOf(_T), returns=INTEGER, category=_CAT)(len)
udf("array_contains", ArrayOf(_T), _T, returns=BOOLEAN, null_on_null=False, category=_CAT)(
    lambda array, value: False if array is None else value in array
)
udf("array_distinct", ArrayOf(_T), returns=_array_of("T"), category=_CAT)(
    lambda array: (
        list(dict.fromkeys(_hashable(v) for v in array))
        if _all_hashable(array)
        else _distinct(array)
    )
)
udf("array_max", ArrayOf(_T), returns=bound("T"), category=_CAT)(
    lambda array: max((v for v in array if v is not None), default=None)
)
udf("array_min", ArrayOf(_T), returns=bound("T"), category=_CAT)(
    lambda array: min((v for v in array if v is not None), default=None)
)
udf("array_sort", ArrayOf(_T), returns=_array_of("T"), category=_CAT)(
    lambda array: sorted(v for v in array if v is not None) + [None] * array.count(None)
)
udf("array_sort", ArrayOf(_T), STRING, returns=_array_of("T"), category=_CAT)(
    lambda array, direction: _sort(array, direction)
)
udf("array_join", ArrayOf(_T), returns=STRING, category=_CAT)(
    lambda array: ",".join("null" if v is None else _text(v) for v in array)
)
udf("array_join", ArrayOf(_T), STRING, returns=STRING, null_on_null=False, category=_CAT)(
    lambda array, sep: (
        None
        if array is None
        else (sep or "").join("null" if v is None else _text(v) for v in array)
    )
)
udf(
    "array_concat",
    ArrayOf(_T),
    ArrayOf(_T),
    returns=_array_of("T"),
    null_on_null=False,
    category=_CAT,
)(lambda a, b: None if a is None and b is None else (a or []) + (b or []))
udf("array_remove", ArrayOf(_T), _T, returns=_array_of("T"), null_on_null=False, category=_CAT)(
    lambda array, value: None if array is None else [v for v in array if v != value]
)
udf("array_union", ArrayOf(_T), ArrayOf(_T), returns=_array_of("T"), category=_CAT)(
    lambda a, b: _distinct(a + b)
)
udf("array_intersect", ArrayOf(_T), ArrayOf(_T), returns=_array_of("T"), category=_CAT)(
    lambda a, b: _distinct([v for v in a if v in b])
)
udf("array_except", ArrayOf(_T), ArrayOf(_T), returns=_array_of("T"), category=_CAT)(
    lambda a, b: _distinct([v for v in a if v not in b])
)
udf("map_keys", MapOf(_K, _V), returns=_array_of("K"), category="MAP")(lambda m: list(m))
udf("map_values", MapOf(_K, _V), returns=_array_of("V"), category="MAP")(lambda m: list(m.values()))
udf(
    "as_map",
    ArrayOf(_K),
    ArrayOf(_V),
    returns=lambda args, b: SqlMap(b["K"], b["V"]) if "K" in b and "V" in b else None,
    category="MAP",
)(lambda keys, values: dict(zip(keys, values, strict=False)))


def _text(value) -> str:
    from streamlab.ksql.expressions.cast import to_string

    return to_string(value)


def _hashable(value):
    return value


def _all_hashable(array) -> bool:
    try:
        for v in array:
            hash(v)
    except TypeError:
        return False
    return True


def _distinct(array):
    out = []
    for value in array:
        if value not in out:
            out.append(value)
    return out


def _sort(array, direction):
    values = sorted(v for v in array if v is not None)
    nulls = [None] * array.count(None)
    if direction.upper() == "DESC":
        return values[::-1] + nulls
    return values + nulls


# ---- SLICE, GENERATE_SERIES, ENTRIES, MAP_UNION -------------------------------------------------


@udf(
    "slice",
    ArrayOf(_T),
    INTEGER,
    INTEGER,
    returns=_array_of("T"),
    null_on_null=False,
    category=_CAT,
)
def slice_(array: list | None, start: int | None, end: int | None) -> list | None:
    """The elements from 1-based position ``start`` to ``end`` (inclusive); NULL if out of range."""
    if array is None:
        return None
    first = 0 if start is None else start - 1
    last = len(array) if end is None else end
    if first < 0 or last > len(array) or first > last:
        return None
    return array[first:last]


def _series(start: int, end: int, step: int | None = None, wrap=wrap_int) -> list[int]:
    if step is None:
        step = 1 if end - start > 0 else -1
    if step == 0:
        raise KsqlFunctionException("GENERATE_SERIES step cannot be zero")
    diff = wrap(end - start)
    if (diff > 0 and step < 0) or (diff < 0 and step > 0):
        raise KsqlFunctionException("GENERATE_SERIES step has wrong sign")
    size = 1 + java_int_div(diff, step)
    return [wrap(start + i * step) for i in range(size)]


udf("generate_series", INTEGER, INTEGER, returns=SqlArray(INTEGER), category=_CAT)(_series)
udf("generate_series", INTEGER, INTEGER, INTEGER, returns=SqlArray(INTEGER), category=_CAT)(_series)
udf("generate_series", BIGINT, BIGINT, returns=SqlArray(BIGINT), category=_CAT)(
    lambda start, end: _series(start, end, wrap=wrap_long)
)
udf("generate_series", BIGINT, BIGINT, INTEGER, returns=SqlArray(BIGINT), category=_CAT)(
    lambda start, end, step: _series(start, end, step, wrap=wrap_long)
)


def _entries(mapping: dict, sort: bool) -> list[dict]:
    items = sorted(mapping.items(), key=lambda e: e[0]) if sort else list(mapping.items())
    return [{"K": k, "V": v} for k, v in items]


for _value_type in (INTEGER, BIGINT, DOUBLE, BOOLEAN, STRING):
    udf(
        "entries",
        SqlMap(STRING, _value_type),
        BOOLEAN,
        returns=SqlArray(SqlStruct((("K", STRING), ("V", _value_type)))),
        category="MAP",
    )(_entries)


@udf(
    "map_union",
    MapOf(Concrete(STRING), _V),
    MapOf(Concrete(STRING), _V),
    returns=lambda args, b: SqlMap(STRING, b["V"]) if "V" in b else None,
    null_on_null=False,
    category="MAP",
)
def map_union(first: dict | None, second: dict | None) -> dict | None:
    """The entries of both maps; the second map's value wins for a shared key."""
    if first is None and second is None:
        return None
    union = {**(first or {}), **(second or {})}
    # ksqlDB collects into a java.util.HashMap: keep its iteration order.
    return {k: union[k] for k in hash_map_order(list(union))}
