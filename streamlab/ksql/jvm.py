"""Java conventions ksqlDB inherits and users can see: integer overflow and division, the text
of doubles and decimals, and Java's rounding modes.

ksqlDB evaluates SQL with Java arithmetic, so ``2147483647 + 1`` on INTEGER columns wraps to
``-2147483648``, ``-7 / 2`` is ``-3`` and ``-7 % 2`` is ``-1``; a double prints as
``Double.toString`` does (``1.0E10``, ``4.9E-324``).

>>> java_int_div(-7, 2), java_mod(-7, 2), double_to_string(1e10), double_to_string(0.001)
(-3, -1, '1.0E10', '0.001')
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, Context, Decimal

#: Enough precision for any DECIMAL(38, s) arithmetic without rounding surprises.
DECIMAL_CONTEXT = Context(prec=200)


def wrap_int(value: int) -> int:
    """Wrap to a 32-bit signed integer, like Java ``int`` arithmetic."""
    return ((value + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def wrap_long(value: int) -> int:
    """Wrap to a 64-bit signed integer, like Java ``long`` arithmetic."""
    return ((value + 0x8000000000000000) & 0xFFFFFFFFFFFFFFFF) - 0x8000000000000000


def java_int_div(a: int, b: int) -> int:
    """Integer division truncating toward zero; raises ZeroDivisionError like Java."""
    if b == 0:
        raise ZeroDivisionError("/ by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def java_mod(a: int, b: int) -> int:
    """Integer remainder with the sign of the dividend (Java ``%``)."""
    if b == 0:
        raise ZeroDivisionError("/ by zero")
    return a - b * java_int_div(a, b)


def java_double_div(a: float, b: float) -> float:
    """Floating division with IEEE results for a zero divisor (Java never raises)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def java_double_mod(a: float, b: float) -> float:
    if b == 0:
        return math.nan
    return math.fmod(a, b)


def math_round(value: float) -> int:
    """``java.lang.Math.round(double)``: half up toward positive infinity, NaN → 0."""
    if math.isnan(value):
        return 0
    if math.isinf(value):
        return 2**63 - 1 if value > 0 else -(2**63)
    result = math.floor(value + 0.5)
    return max(min(result, 2**63 - 1), -(2**63))


def double_to_string(value: float) -> str:
    """Java's ``Double.toString``: shortest digits, scientific outside [1e-3, 1e7)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    digits_text = repr(magnitude)
    decimal = Decimal(digits_text)
    _, digit_tuple, exponent = decimal.normalize().as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    assert isinstance(exponent, int)
    point = len(digits) + exponent  # position of the decimal point in ``digits``
    if 1e-3 <= magnitude < 1e7:
        if point <= 0:
            text = "0." + "0" * (-point) + digits
        elif point >= len(digits):
            text = digits + "0" * (point - len(digits)) + ".0"
        else:
            text = digits[:point] + "." + digits[point:]
        return sign + text
    if len(digits) == 1:
        # Java always prints two significant digits in scientific notation and picks the
        # two-digit decimal closest to the exact binary value (4.9E-324, not 5.0E-324).
        exact = Decimal(magnitude)
        two = exact.quantize(Decimal(1).scaleb(exact.adjusted() - 1), context=DECIMAL_CONTEXT)
        _, two_digits, two_exponent = two.as_tuple()
        digits = "".join(str(d) for d in two_digits)[:2]
        point = len("".join(str(d) for d in two_digits)) + two_exponent  # type: ignore[operator]
        digits = digits.rstrip("0") or "0"
    exp10 = point - 1
    mantissa = digits[0] + "." + (digits[1:] or "0")
    return f"{sign}{mantissa}E{exp10}"


def float_to_string(value: float) -> str:
    """Java's ``Float.toString`` is not needed by ksqlDB; doubles are all we print."""
    return double_to_string(value)


def big_decimal_to_string(value: Decimal) -> str:
    """Java's ``BigDecimal.toString()`` (scientific notation for very small/large scales)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    unscaled = "".join(str(d) for d in digits) or "0"
    scale = -exponent
    adjusted = len(unscaled) - 1 - scale
    if scale >= 0 and adjusted >= -6:
        if scale == 0:
            text = unscaled
        else:
            padded = unscaled.rjust(scale + 1, "0")
            text = padded[:-scale] + "." + padded[-scale:]
    else:
        text = unscaled[0] + ("." + unscaled[1:] if len(unscaled) > 1 else "")
        text += "E" + ("+" if adjusted > 0 else "") + str(adjusted)
    return ("-" if sign else "") + text


def big_decimal_to_plain_string(value: Decimal) -> str:
    """Java's ``BigDecimal.toPlainString()``."""
    return format(value, "f")


def big_decimal_from_double(value: float) -> Decimal:
    """``BigDecimal.valueOf(double)``: the decimal of ``Double.toString``."""
    return Decimal(repr(value))


def set_scale(value: Decimal, scale: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``BigDecimal.setScale(scale, rounding)``."""
    return value.quantize(Decimal(1).scaleb(-scale), rounding=rounding, context=DECIMAL_CONTEXT)


def round_like_math_round(value: Decimal, scale: int) -> Decimal:
    """ksqlDB's ROUND on decimals: HALF_UP for positives, HALF_DOWN otherwise."""
    return set_scale(value, scale, ROUND_HALF_UP if value > 0 else ROUND_HALF_DOWN)


FLOOR, CEILING = ROUND_FLOOR, ROUND_CEILING


def string_hash_code(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as an unsigned 32-bit value."""
    h = 0
    for char in text:
        code = ord(char)
        if code > 0xFFFF:  # a surrogate pair in UTF-16
            code -= 0x10000
            h = (31 * h + 0xD800 + (code >> 10)) & 0xFFFFFFFF
            code = 0xDC00 + (code & 0x3FF)
        h = (31 * h + code) & 0xFFFFFFFF
    return h


def hash_map_order(keys: list[str], initial_capacity: int = 16) -> list[str]:
    """The iteration order of a ``java.util.HashMap(initial_capacity)`` after inserting ``keys``.

    ksqlDB's JSON deserializer builds maps as ``new HashMap<>(size)``, so functions that walk a
    map (``REDUCE``, ``TRANSFORM``) and the re-serialized output see its keys in this order.
    Keys that are not strings keep their order.
    """
    if len(keys) < 2 or not all(isinstance(k, str) for k in keys):
        return list(keys)
    capacity = 1
    while capacity < max(initial_capacity, 1):
        capacity <<= 1
    spread = []
    for key in keys:
        h = string_hash_code(key)
        spread.append((h ^ (h >> 16), key))
    for size in range(1, len(spread) + 1):
        if size > capacity * 3 // 4:  # resize after the put that crossed the threshold
            capacity <<= 1
    order = list(spread)
    # Iteration goes bucket by bucket; within a bucket, in insertion order (resizes keep it).
    order.sort(key=lambda e: e[0] & (capacity - 1))
    return [key for _, key in order]
