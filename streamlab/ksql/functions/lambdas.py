"""Higher-order functions taking lambdas: TRANSFORM, FILTER, REDUCE (over arrays and maps).

A lambda argument arrives as a Python callable; its parameter types are inferred from the
other arguments (``TRANSFORM(ARRAY<T>, (T) => R)``), as ksqlDB does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlab.ksql.functions.registry import (
    BOOLEAN,
    ArrayOf,
    Concrete,
    Generic,
    LambdaParam,
    MapOf,
    bound,
    udf,
)
from streamlab.ksql.types import SqlArray, SqlMap

_CAT = "LAMBDA"
_T, _R, _K, _V, _S = (Generic(n) for n in ("T", "R", "K", "V", "S"))
_K2, _V2 = Generic("R2"), Generic("T2")
_BOOL = Concrete(BOOLEAN)


def _array_of(name):
    return lambda args, b: SqlArray(b[name]) if name in b else None


@udf(
    "transform",
    ArrayOf(_T),
    LambdaParam((_T,), _R),
    returns=_array_of("R"),
    category=_CAT,
)
def transform_array(array: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    """Applies the function to every element of an array."""
    return [fn(v) for v in array]


@udf(
    "transform",
    MapOf(_K, _V),
    LambdaParam((_K, _V), _K2),
    LambdaParam((_K, _V), _V2),
    returns=lambda args, b: SqlMap(b["R2"], b["T2"]) if "R2" in b and "T2" in b else None,
    category=_CAT,
)
def transform_map(
    mapping: dict[Any, Any], key_fn: Callable[[Any, Any], Any], value_fn: Callable[[Any, Any], Any]
) -> dict[Any, Any]:
    """Computes a new key and value for every entry of a map."""
    return {key_fn(k, v): value_fn(k, v) for k, v in mapping.items()}


@udf("filter", ArrayOf(_T), LambdaParam((_T,), _BOOL), returns=_array_of("T"), category=_CAT)
def filter_array(array: list[Any], fn: Callable[[Any], Any]) -> list[Any]:
    """The elements of an array for which the function is true."""
    return [v for v in array if fn(v) is True]


@udf(
    "filter",
    MapOf(_K, _V),
    LambdaParam((_K, _V), _BOOL),
    returns=lambda args, b: SqlMap(b["K"], b["V"]) if "K" in b and "V" in b else None,
    category=_CAT,
)
def filter_map(mapping: dict[Any, Any], fn: Callable[[Any, Any], Any]) -> dict[Any, Any]:
    """The entries of a map for which the function is true."""
    return {k: v for k, v in mapping.items() if fn(k, v) is True}


@udf(
    "reduce",
    ArrayOf(_T),
    _S,
    LambdaParam((_S, _T), _S),
    returns=bound("S"),
    null_on_null=False,
    category=_CAT,
)
def reduce_array(array: list[Any] | None, state: Any, fn: Callable[[Any, Any], Any]) -> Any:
    """Folds an array into a state, starting from the initial state."""
    if state is None:
        return None
    for value in array or ():
        state = fn(state, value)
    return state


@udf(
    "reduce",
    MapOf(_K, _V),
    _S,
    LambdaParam((_S, _K, _V), _S),
    returns=bound("S"),
    null_on_null=False,
    category=_CAT,
)
def reduce_map(mapping: dict[Any, Any] | None, state: Any, fn: Callable[..., Any]) -> Any:
    """Folds a map's entries into a state, starting from the initial state."""
    if state is None:
        return None
    for key, value in (mapping or {}).items():
        state = fn(state, key, value)
    return state
