"""Table functions (UDTFs): one input row becomes zero or more output rows.

A table function's implementation returns a list; its declared return type is the type of one
element (the column the function produces). The planner replaces each call in the SELECT by a
synthesised column that the flat-map operator fills (see ``runtime.operators.FlatMapProcessor``).
As in ksqlDB, a NULL argument yields no rows.
"""

from __future__ import annotations

from typing import Any

from streamlab.ksql.errors import KsqlFunctionException
from streamlab.ksql.functions.registry import AnyDecimal, ArrayOf, Generic, bound, udf
from streamlab.ksql.types import SqlArray

_CAT = "TABLE"
_T = Generic("T")
TABLE_FUNCTION_NAMES = frozenset({"EXPLODE", "CUBE_EXPLODE"})

MAX_CUBE_COLUMNS = 20


def _item_type(args, bindings):
    array = args[0]
    return array.item_type if isinstance(array, SqlArray) else None


def explode(values: list[Any] | None) -> list[Any]:
    """Explodes an array: one output row per element."""
    return [] if values is None else list(values)


def cube(columns: list[Any] | None) -> list[list[Any]]:
    """Every combination of the elements being NULL or kept (NULLs are not duplicated)."""
    if columns is None:
        return []
    size = len(columns)
    if size > MAX_CUBE_COLUMNS:
        raise KsqlFunctionException(
            f"cube_explode: too many columns ({size}); max is {MAX_CUBE_COLUMNS}"
        )
    null_mask = 0
    for i, value in enumerate(columns):
        if value is not None:
            null_mask |= 1 << (size - 1 - i)
    result = []
    for mask in range(1 << size):
        if mask & null_mask != mask:
            continue
        result.append([columns[i] if mask & (1 << (size - 1 - i)) else None for i in range(size)])
    return result


udf(
    "explode",
    ArrayOf(AnyDecimal()),
    returns=_item_type,
    null_on_null=False,
    category=_CAT,
    param_names=("input",),
)(explode)
udf(
    "explode",
    ArrayOf(_T),
    returns=bound("T"),
    null_on_null=False,
    category=_CAT,
    param_names=("list",),
)(explode)
udf(
    "cube_explode",
    ArrayOf(_T),
    returns=lambda args, b: SqlArray(b["T"]) if "T" in b else None,
    null_on_null=False,
    category=_CAT,
    param_names=("columns",),
)(cube)
