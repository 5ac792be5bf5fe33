"""Aggregate functions (UDAFs): typing and the accumulate / undo / result steps.

Each aggregate is a :class:`Udaf` built for one call site from its argument types (and literal
parameters, such as the ``n`` of ``LATEST_BY_OFFSET(col, n)``). Accumulators are plain Python
values so state stores can serialize them; every step returns a *new* accumulator (no in-place
mutation), which keeps store backends simple (a put per update).

``undo`` exists only for the "table UDAFs" ksqlDB allows over a table source (COUNT, SUM, AVG,
COLLECT_LIST, HISTOGRAM); the others raise the ksqlDB error at planning time.

>>> u = make_udaf("COUNT", [], [])
>>> acc = u.add(u.initial(), [])
>>> u.result(u.add(acc, []))
2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.types import SqlArray, SqlBaseType, SqlDecimal, SqlMap, SqlType, SqlTypes

#: Aggregates that can be undone, so they may aggregate a TABLE (ksqlDB's TableUdaf).
TABLE_UDAFS = frozenset({"COUNT", "SUM", "AVG", "COLLECT_LIST", "HISTOGRAM"})

#: ksqlDB caps COLLECT_LIST / COLLECT_SET at this many elements by default.
COLLECT_LIMIT = 1000


@dataclass
class Udaf:
    """One aggregate call: how to start, add a row, undo a row and read the result."""

    name: str
    return_type: SqlType
    initial: Callable[[], Any]
    add: Callable[[Any, list[Any]], Any]
    result: Callable[[Any], Any] = field(default=lambda acc: acc)
    undo: Callable[[Any, list[Any]], Any] | None = None
    merge: Callable[[Any, Any], Any] | None = None


def _count(args_types: list[SqlType | None], star: bool) -> Udaf:
    if star:
        return Udaf(
            "COUNT",
            SqlTypes.BIGINT,
            lambda: 0,
            lambda acc, a: acc + 1,
            undo=lambda acc, a: acc - 1,
            merge=lambda x, y: x + y,
        )
    return Udaf(
        "COUNT",
        SqlTypes.BIGINT,
        lambda: 0,
        lambda acc, a: acc + (a[0] is not None),
        undo=lambda acc, a: acc - (a[0] is not None),
        merge=lambda x, y: x + y,
    )


def _numeric(t: SqlType | None, name: str) -> SqlType:
    if t is None or t.base not in (
        SqlBaseType.INTEGER,
        SqlBaseType.BIGINT,
        SqlBaseType.DOUBLE,
        SqlBaseType.DECIMAL,
    ):
        raise KsqlException(f"Function '{name}' does not accept parameters ({t}).")
    return t


def _sum(types: list[SqlType | None]) -> Udaf:
    t = _numeric(types[0], "SUM")
    zero: Any = (
        Decimal(0) if isinstance(t, SqlDecimal) else 0.0 if t.base is SqlBaseType.DOUBLE else 0
    )
    return Udaf(
        "SUM",
        t,
        lambda: zero,
        lambda acc, a: acc if a[0] is None else acc + a[0],
        undo=lambda acc, a: acc if a[0] is None else acc - a[0],
        merge=lambda x, y: x + y,
    )


def _avg(types: list[SqlType | None]) -> Udaf:
    _numeric(types[0], "AVG")

    def add(acc, a):
        return acc if a[0] is None else (acc[0] + a[0], acc[1] + 1)

    def undo(acc, a):
        return acc if a[0] is None else (acc[0] - a[0], acc[1] - 1)

    def result(acc):
        return None if acc[1] == 0 else float(acc[0]) / acc[1]

    return Udaf(
        "AVG",
        SqlTypes.DOUBLE,
        lambda: (0, 0),
        add,
        result,
        undo,
        merge=lambda x, y: (x[0] + y[0], x[1] + y[1]),
    )


def _extreme(name: str, types: list[SqlType | None]) -> Udaf:
    pick = min if name == "MIN" else max

    def add(acc, a):
        if a[0] is None:
            return acc
        return a[0] if acc is None else pick(acc, a[0])

    def merge(x, y):
        if x is None or y is None:
            return y if x is None else x
        return pick(x, y)

    t = types[0]
    if t is None:
        raise KsqlException(f"Function '{name}' does not accept parameters (null).")
    return Udaf(name, t, lambda: None, add, merge=merge)


def _by_offset(name: str, types: list[SqlType | None], params: list[Any]) -> Udaf:
    """LATEST_BY_OFFSET / EARLIEST_BY_OFFSET ``(col [, n] [, ignoreNulls])``.

    The accumulator is a list of ``(sequence, value)``; the sequence orders merges of sessions.
    """
    t = types[0]
    if t is None:
        raise KsqlException(f"Function '{name}' does not accept parameters (null).")
    n: int | None = None
    ignore_nulls = True
    for p in params:
        if isinstance(p, bool):
            ignore_nulls = p
        elif isinstance(p, int):
            n = p
    if n is not None and n <= 0:
        raise KsqlException(f"{name} must have a positive number of values to return")
    latest = name == "LATEST_BY_OFFSET"
    counter = iter(range(1 << 62))
    keep = n or 1

    def add(acc, a):
        value = a[0]
        if value is None and ignore_nulls:
            return acc
        entry = (next(counter), value)
        if latest:
            return ([*acc, entry])[-keep:]
        return acc if len(acc) >= keep else [*acc, entry]

    def merge(x, y):
        both = sorted([*x, *y])
        return both[-keep:] if latest else both[:keep]

    if n is None:
        return Udaf(name, t, list, add, lambda acc: acc[-1][1] if acc else None, merge=merge)
    return Udaf(name, SqlArray(t), list, add, lambda acc: [v for _, v in acc], merge=merge)


def _collect_list(types: list[SqlType | None]) -> Udaf:
    t = types[0]
    if t is None:
        raise KsqlException("Function 'COLLECT_LIST' does not accept parameters (null).")

    def add(acc, a):
        return acc if len(acc) >= COLLECT_LIMIT else [*acc, a[0]]

    def undo(acc, a):
        if a[0] in acc:
            index = acc.index(a[0])
            return acc[:index] + acc[index + 1 :]
        return acc

    return Udaf(
        "COLLECT_LIST",
        SqlArray(t),
        list,
        add,
        undo=undo,
        merge=lambda x, y: (x + y)[:COLLECT_LIMIT],
    )


def _collect_set(types: list[SqlType | None]) -> Udaf:
    t = types[0]
    if t is None:
        raise KsqlException("Function 'COLLECT_SET' does not accept parameters (null).")

    def add(acc, a):
        if a[0] is None or a[0] in acc or len(acc) >= COLLECT_LIMIT:
            return acc
        return [*acc, a[0]]

    def merge(x, y):
        out = list(x)
        for v in y:
            if v not in out:
                out.append(v)
        return out

    return Udaf("COLLECT_SET", SqlArray(t), list, add, merge=merge)


def _count_distinct(types: list[SqlType | None]) -> Udaf:
    def add(acc, a):
        if a[0] is None or a[0] in acc:
            return acc
        return [*acc, a[0]]

    return Udaf(
        "COUNT_DISTINCT",
        SqlTypes.BIGINT,
        list,
        add,
        len,
        merge=lambda x, y: x + [v for v in y if v not in x],
    )


def _topk(types: list[SqlType | None], params: list[Any], distinct: bool) -> Udaf:
    t = types[0]
    if t is None:
        raise KsqlException("Function 'TOPK' does not accept parameters (null).")
    k = int(params[0]) if params else 1

    def add(acc, a):
        if a[0] is None or (distinct and a[0] in acc):
            return acc
        return sorted([*acc, a[0]], reverse=True)[:k]

    name = "TOPKDISTINCT" if distinct else "TOPK"
    return Udaf(name, SqlArray(t), list, add, merge=lambda x, y: sorted(x + y, reverse=True)[:k])


def _histogram(types: list[SqlType | None]) -> Udaf:
    def add(acc, a):
        if a[0] is None:
            return acc
        out = dict(acc)
        out[a[0]] = out.get(a[0], 0) + 1
        return out

    def undo(acc, a):
        if a[0] is None or a[0] not in acc:
            return acc
        out = dict(acc)
        out[a[0]] -= 1
        if out[a[0]] <= 0:
            del out[a[0]]
        return out

    def merge(x, y):
        out = dict(x)
        for k, v in y.items():
            out[k] = out.get(k, 0) + v
        return out

    return Udaf(
        "HISTOGRAM",
        SqlMap(SqlTypes.STRING, SqlTypes.BIGINT),
        dict,
        add,
        undo=undo,
        merge=merge,
    )


def make_udaf(name: str, arg_types: list[SqlType | None], params: list[Any]) -> Udaf:
    """The aggregate for a call ``name(args...)``; ``params`` are trailing literal arguments."""
    upper = name.upper()
    if upper == "COUNT":
        return _count(arg_types, star=not arg_types)
    if upper == "SUM":
        return _sum(arg_types)
    if upper == "AVG":
        return _avg(arg_types)
    if upper in ("MIN", "MAX"):
        return _extreme(upper, arg_types)
    if upper in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"):
        return _by_offset(upper, arg_types, params)
    if upper == "COLLECT_LIST":
        return _collect_list(arg_types)
    if upper == "COLLECT_SET":
        return _collect_set(arg_types)
    if upper == "COUNT_DISTINCT":
        return _count_distinct(arg_types)
    if upper in ("TOPK", "TOPKDISTINCT"):
        return _topk(arg_types, params, upper == "TOPKDISTINCT")
    if upper == "HISTOGRAM":
        return _histogram(arg_types)
    raise KsqlException(f"Aggregate function {upper} is not supported yet by this engine")
