"""CAST between SQL types, with ksqlDB's conversions (``CastEvaluator``) and text forms.

:func:`caster` returns a function converting a non-NULL value of one type into another;
:func:`to_string` renders any value as ``String.valueOf`` would in ksqlDB.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.jvm import (
    DECIMAL_CONTEXT,
    big_decimal_from_double,
    big_decimal_to_plain_string,
    double_to_string,
    set_scale,
    wrap_int,
    wrap_long,
)
from streamlab.ksql.types import (
    SqlArray,
    SqlBaseType,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
)

B = SqlBaseType


class CastError(KsqlException):
    """A value could not be cast (at runtime): the expression evaluates to NULL."""


def java_boolean_text(text: str) -> bool:
    """``SqlBooleans.parseBoolean``: true for any prefix of 'true' or 'yes' (any case)."""
    lowered = text.lower()
    return bool(lowered) and ("true".startswith(lowered) or "yes".startswith(lowered))


def parse_boolean_exact(text: str) -> bool | None:
    """``SqlBooleans.parseBooleanExact``: True/False for prefixes of true/yes/false/no."""
    lowered = text.lower()
    if not lowered:
        return None
    if "true".startswith(lowered) or "yes".startswith(lowered):
        return True
    if "false".startswith(lowered) or "no".startswith(lowered):
        return False
    return None


_JAVA_INT = re.compile(r"[+-]?[0-9]+")


def parse_java_int(text: str, bits: int = 32) -> int:
    """``Integer.parseInt`` / ``Long.parseLong``: optional sign then digits, in range."""
    if not _JAVA_INT.fullmatch(text):
        raise CastError(f'For input string: "{text}"')
    value = int(text)
    limit = 2 ** (bits - 1)
    if not -limit <= value < limit:
        raise CastError(f'For input string: "{text}"')
    return value


def parse_java_double(text: str) -> float:
    """``SqlDoubles.parseDouble``: Java number syntax, no NaN or Infinity."""
    stripped = text.strip()
    candidate = stripped[:-1] if stripped[-1:] in ("d", "D", "f", "F") else stripped
    try:
        value = float(candidate)
    except ValueError as error:
        raise CastError(f'For input string: "{text}"') from error
    if (
        math.isnan(value)
        or math.isinf(value)
        or candidate.lower().lstrip("+-")
        in (
            "nan",
            "inf",
            "infinity",
        )
    ):
        raise CastError(f'For input string: "{text}"')
    return value


def to_decimal(value: Any, target: SqlDecimal) -> Decimal:
    """``DecimalUtil.cast``: to the target precision and scale, failing when it does not fit."""
    if isinstance(value, bool):
        raise CastError(f"Cannot cast BOOLEAN to {target}")
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise CastError(f"Cannot cast {value} to {target}")
        decimal = Decimal(value)  # new BigDecimal(double): the exact binary value
        decimal = decimal.normalize(DECIMAL_CONTEXT) if decimal else Decimal(0)
        rounded = _to_precision(decimal, target.precision)
        return _fit(set_scale(rounded, target.scale), target, value)
    if isinstance(value, int):
        return _fit(set_scale(Decimal(value), target.scale), target, value)
    if isinstance(value, str):
        try:
            decimal = Decimal(value.strip())
        except InvalidOperation as error:
            raise CastError(f"Cannot cast '{value}' to {target}") from error
        return _fit(set_scale(decimal, target.scale), target, value)
    if isinstance(value, Decimal):
        return _fit(set_scale(value, target.scale), target, value)
    raise CastError(f"Cannot cast {value!r} to {target}")


def _to_precision(value: Decimal, precision: int) -> Decimal:
    from decimal import Context

    return Context(prec=precision).plus(value)


def _fit(value: Decimal, target: SqlDecimal, original: Any) -> Decimal:
    digits = len(value.as_tuple().digits)
    scale = -value.as_tuple().exponent  # type: ignore[operator]
    integer_digits = max(digits - scale, 0) if value else 0
    if integer_digits > target.precision - target.scale:
        raise CastError(
            f"Numeric field overflow: A field with precision {target.precision} and scale "
            f"{target.scale} must round to an absolute value less than "
            f"10^{target.precision - target.scale}. Got {original}"
        )
    return value


def to_string(value: Any) -> str:
    """A value as ksqlDB's ``String.valueOf`` prints it (``1.0E10``, ``[1, 2]``, ``{a=1}``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return double_to_string(value)
    if isinstance(value, Decimal):
        from streamlab.ksql.jvm import big_decimal_to_string

        return big_decimal_to_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(to_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_string(k)}={to_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    return str(value)


def _struct_to_string(value: dict) -> str:
    return (
        "Struct{" + ",".join(f"{k}={to_string(v)}" for k, v in value.items() if v is not None) + "}"
    )


def caster(from_type: SqlType | None, to_type: SqlType) -> Callable[[Any], Any]:
    """A function casting a non-NULL value of ``from_type`` to ``to_type``.

    Raises KsqlException (at compile time) when ksqlDB does not support the cast.
    """
    if from_type is None or from_type == to_type:
        return _identity
    f, t = from_type.base, to_type.base
    if t is B.STRING:
        if f is B.DECIMAL:
            return big_decimal_to_plain_string
        if f is B.STRUCT:
            return _struct_to_string
        if f is B.TIMESTAMP:
            from streamlab.ksql.functions.timeformat import pattern

            fmt = pattern("yyyy-MM-dd'T'HH:mm:ss.SSS")
            return lambda v: fmt.format_millis(v, "UTC")
        if f is B.DATE:
            from streamlab.ksql.functions.timeformat import pattern

            fmt = pattern("yyyy-MM-dd")
            return lambda v: fmt.format_millis(v * 86_400_000, "UTC")
        if f is B.TIME:
            from streamlab.ksql.functions.timeformat import pattern

            fmt = pattern("HH:mm:ss.SSS")
            return lambda v: fmt.format_millis(v, "UTC")
        if f is B.BYTES:
            raise _unsupported(from_type, to_type)
        return to_string
    if isinstance(to_type, SqlDecimal):
        if f in (B.INTEGER, B.BIGINT, B.DOUBLE, B.STRING, B.DECIMAL):
            return lambda v: to_decimal(v, to_type)
        raise _unsupported(from_type, to_type)
    table = _SIMPLE.get((f, t))
    if table is not None:
        return table
    if isinstance(to_type, SqlArray) and isinstance(from_type, SqlArray):
        item = caster(from_type.item_type, to_type.item_type)
        return lambda v: [None if x is None else item(x) for x in v]
    if isinstance(to_type, SqlMap) and isinstance(from_type, SqlMap):
        key = caster(from_type.key_type, to_type.key_type)
        val = caster(from_type.value_type, to_type.value_type)
        return lambda v: {
            (None if k is None else key(k)): (None if x is None else val(x)) for k, x in v.items()
        }
    if isinstance(to_type, SqlStruct) and isinstance(from_type, SqlStruct):
        casts = {}
        for name, field_type in to_type.fields:
            source = from_type.field(name)
            casts[name] = caster(source, field_type) if source is not None else None

        def cast_struct(v: dict) -> dict:
            out = {}
            for name, fn in casts.items():
                x = v.get(name)
                out[name] = None if x is None or fn is None else fn(x)
            return out

        return cast_struct
    raise _unsupported(from_type, to_type)


def _unsupported(from_type: SqlType, to_type: SqlType) -> KsqlException:
    return KsqlException(f"Cast of {from_type} to {to_type} is not supported")


def _identity(value: Any) -> Any:
    return value


def _timestamp_from_string(text: str) -> int:
    from streamlab.ksql.functions.timeformat import parse_partial_timestamp

    return parse_partial_timestamp(text.strip())


def _date_from_string(text: str) -> int:
    from streamlab.ksql.functions.timeformat import pattern

    return pattern("yyyy-MM-dd").parse_millis(text.strip(), "UTC") // 86_400_000


_ISO_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?")


def _time_from_string(text: str) -> int:
    """``LocalTime.parse`` (ISO ``HH:mm[:ss[.fraction]]``) in milliseconds of the day."""
    match = _ISO_TIME.fullmatch(text.strip())
    hours, minutes = (int(match.group(i)) for i in (1, 2)) if match else (99, 99)
    if match is None or hours > 23 or minutes > 59 or int(match.group(3) or 0) > 59:
        raise KsqlException(
            f"Failed to parse time '{text}': Text '{text}' could not be parsed at index 0\n"
            "Required format is: \"HH:mm:ss.SSS\", for example: '01:34:20.123' or "
            "'01:34:20'. Partials are also supported, for example '01:34'"
        )
    seconds = int(match.group(3) or 0)
    millis = int((match.group(4) or "0").ljust(9, "0")[:3])
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def _bytes_from_string(text: str) -> bytes:
    import base64

    return base64.b64decode(text.strip())


def _decimal_to_int(value: Decimal, bits: int) -> int:
    integral = int(value)  # truncates toward zero, like BigDecimal.intValue()
    return wrap_int(integral) if bits == 32 else wrap_long(integral)


def _double_to_int(value: float, bits: int) -> int:
    """Java's narrowing of double: NaN → 0, saturating at the type's range."""
    if math.isnan(value):
        return 0
    limit = 2 ** (bits - 1)
    if math.isinf(value):
        return limit - 1 if value > 0 else -limit
    return max(min(int(value), limit - 1), -limit)


_SIMPLE: dict[tuple[SqlBaseType, SqlBaseType], Callable[[Any], Any]] = {
    (B.INTEGER, B.BIGINT): _identity,
    (B.INTEGER, B.DOUBLE): float,
    (B.BIGINT, B.INTEGER): wrap_int,
    (B.BIGINT, B.DOUBLE): float,
    (B.DECIMAL, B.INTEGER): lambda v: _decimal_to_int(v, 32),
    (B.DECIMAL, B.BIGINT): lambda v: _decimal_to_int(v, 64),
    (B.DECIMAL, B.DOUBLE): float,
    (B.DOUBLE, B.INTEGER): lambda v: _double_to_int(v, 32),
    (B.DOUBLE, B.BIGINT): lambda v: _double_to_int(v, 64),
    (B.STRING, B.BOOLEAN): lambda v: java_boolean_text(v.strip()),
    (B.STRING, B.INTEGER): lambda v: parse_java_int(v.strip(), 32),
    (B.STRING, B.BIGINT): lambda v: parse_java_int(v.strip(), 64),
    (B.STRING, B.DOUBLE): parse_java_double,
    (B.STRING, B.TIMESTAMP): _timestamp_from_string,
    (B.STRING, B.DATE): _date_from_string,
    (B.STRING, B.TIME): _time_from_string,
    (B.STRING, B.BYTES): _bytes_from_string,
    (B.TIMESTAMP, B.TIME): lambda v: v % 86_400_000,
    (B.TIMESTAMP, B.DATE): lambda v: v // 86_400_000,
    (B.DATE, B.TIMESTAMP): lambda v: v * 86_400_000,
}

_ = big_decimal_from_double
