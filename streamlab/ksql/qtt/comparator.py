"""Expected versus actual values, as ksqlDB's ``ExpectedRecordComparator`` compares them.

Expected values come from the test file (integers as ``int``, other numbers as ``Decimal``);
actual values are what the harness read back from the output bytes. Objects must have the same
number of fields (looked up by exact name, then upper-cased); doubles match within 1e-6;
decimals must match in value *and* scale.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from streamlab.ksql.jvm import wrap_int, wrap_long

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _int_value(expected: int | Decimal, bits: int) -> int:
    """Jackson's ``intValue()``/``longValue()`` of an expected number."""
    integral = int(expected)  # truncates decimals toward zero
    return wrap_int(integral) if bits == 32 else wrap_long(integral)


def _same_decimal(a: Decimal, b: Decimal) -> bool:
    """``BigDecimal.equals``: same value and same scale."""
    if a != b:
        return False
    return a.as_tuple().exponent == b.as_tuple().exponent


def _compare_number(actual: Any, expected: int | Decimal) -> bool:
    if isinstance(actual, bool):
        return False
    if isinstance(actual, int):
        bits = 32 if _INT_MIN <= actual <= _INT_MAX else 64
        return _int_value(expected, bits) == actual
    if isinstance(actual, float):
        return abs(float(expected) - actual) < 0.000_001
    if isinstance(actual, Decimal):
        if isinstance(expected, int):
            if -actual.as_tuple().exponent > 0:  # scale > 0
                return False
            return int(actual) == expected
        return _same_decimal(expected, actual)
    return False


def _compare_text(actual: Any, expected: str) -> bool:
    if isinstance(actual, str):
        return actual == expected
    if isinstance(actual, Decimal):
        try:
            return _same_decimal(Decimal(expected), actual)
        except ArithmeticError:
            return False
    if isinstance(actual, bytes | bytearray):
        return base64.b64encode(actual).decode() == expected
    return False


def matches(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` matches the ``expected`` JSON node."""
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual == expected
    if isinstance(expected, int | Decimal):
        return _compare_number(actual, expected)
    if isinstance(expected, str):
        return _compare_text(actual, expected)
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return False
        return all(matches(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or len(actual) != len(expected):
            return False
        for name, value in expected.items():
            found = actual.get(name)
            if found is None:
                found = actual.get(name.upper())
            if not matches(found, value):
                return False
        return True
    raise ValueError(f"KSQL Testing Tool cannot expect JSON node type: {type(expected).__name__}")


def headers_match(actual: tuple[tuple[str, bytes | None], ...], expected: list[dict]) -> bool:
    if len(actual) != len(expected):
        return False
    for (key, value), node in zip(actual, expected, strict=True):
        want_value = node.get("VALUE")
        want = base64.b64decode(want_value) if want_value is not None else None
        if key != node.get("KEY") or value != want:
            return False
    return True
