"""Math functions. Integer results wrap like Java; ROUND follows ``Math.round`` (half up)."""

from __future__ import annotations

import math
import random
from decimal import ROUND_DOWN, Decimal

from streamlab.ksql.functions.registry import (
    BIGINT,
    DOUBLE,
    INTEGER,
    STRING,
    AnyDecimal,
    same_as,
    udf,
)
from streamlab.ksql.jvm import (
    CEILING,
    FLOOR,
    big_decimal_from_double,
    math_round,
    round_like_math_round,
    set_scale,
    wrap_int,
    wrap_long,
)
from streamlab.ksql.types import SqlDecimal, SqlTypes

_CAT = "MATHEMATICAL"
DECIMAL = AnyDecimal()


def _decimal_integral(args, bindings):
    arg = args[0]
    return SqlDecimal(max(arg.precision - arg.scale, 1), 0) if isinstance(arg, SqlDecimal) else arg


# ---- ABS, SIGN ----------------------------------------------------------------------------------

udf("abs", INTEGER, returns=INTEGER, category=_CAT)(lambda v: wrap_int(abs(v)))
udf("abs", BIGINT, returns=BIGINT, category=_CAT)(lambda v: wrap_long(abs(v)))
udf("abs", DOUBLE, returns=DOUBLE, category=_CAT)(lambda v: abs(v))
udf("abs", DECIMAL, returns=same_as(0), category=_CAT)(lambda v: abs(v))

udf("sign", INTEGER, returns=INTEGER, category=_CAT)(lambda v: (v > 0) - (v < 0))
udf("sign", BIGINT, returns=INTEGER, category=_CAT)(lambda v: (v > 0) - (v < 0))
udf("sign", DOUBLE, returns=INTEGER, category=_CAT)(
    lambda v: 0 if math.isnan(v) else (v > 0) - (v < 0)
)


# ---- ROUND, FLOOR, CEIL, TRUNC ------------------------------------------------------------------


def _round_double(value: float, places: int) -> float:
    if math.isnan(value) or math.isinf(value):
        return value
    return float(round_like_math_round(big_decimal_from_double(value), places))


udf("round", INTEGER, returns=INTEGER, category=_CAT)(lambda v: v)
udf("round", BIGINT, returns=BIGINT, category=_CAT)(lambda v: v)
udf("round", DOUBLE, returns=BIGINT, category=_CAT)(math_round)
udf("round", DOUBLE, INTEGER, returns=DOUBLE, category=_CAT)(_round_double)
udf("round", DECIMAL, returns=_decimal_integral, category=_CAT)(
    lambda v: round_like_math_round(v, 0)
)
udf("round", DECIMAL, INTEGER, returns=same_as(0), category=_CAT)(
    lambda v, places: set_scale(round_like_math_round(v, places), -v.as_tuple().exponent)
)

udf("floor", INTEGER, returns=INTEGER, category=_CAT)(lambda v: v)
udf("floor", BIGINT, returns=BIGINT, category=_CAT)(lambda v: v)
udf("floor", DOUBLE, returns=DOUBLE, category=_CAT)(
    lambda v: v if math.isnan(v) or math.isinf(v) else float(math.floor(v))
)
udf("floor", DECIMAL, returns=same_as(0), category=_CAT)(
    lambda v: set_scale(set_scale(v, 0, FLOOR), -v.as_tuple().exponent)
)

udf("ceil", INTEGER, returns=INTEGER, category=_CAT)(lambda v: v)
udf("ceil", BIGINT, returns=BIGINT, category=_CAT)(lambda v: v)
udf("ceil", DOUBLE, returns=DOUBLE, category=_CAT)(
    lambda v: v if math.isnan(v) or math.isinf(v) else float(math.ceil(v))
)
udf("ceil", DECIMAL, returns=same_as(0), category=_CAT)(
    lambda v: set_scale(set_scale(v, 0, CEILING), -v.as_tuple().exponent)
)

udf("trunc", INTEGER, returns=INTEGER, category=_CAT)(lambda v: v)
udf("trunc", BIGINT, returns=BIGINT, category=_CAT)(lambda v: v)
udf("trunc", DOUBLE, returns=BIGINT, category=_CAT)(lambda v: wrap_long(int(v)))
udf("trunc", DOUBLE, INTEGER, returns=DOUBLE, category=_CAT)(
    lambda v, places: float(set_scale(big_decimal_from_double(v), places, ROUND_DOWN))
)
udf("trunc", DECIMAL, returns=_decimal_integral, category=_CAT)(
    lambda v: set_scale(v, 0, ROUND_DOWN)
)
udf("trunc", DECIMAL, INTEGER, returns=same_as(0), category=_CAT)(
    lambda v, places: set_scale(set_scale(v, places, ROUND_DOWN), -v.as_tuple().exponent)
)


# ---- powers, logs, roots ------------------------------------------------------------------------


def _nan_on_domain_error(fn):
    def run(*args):
        try:
            return fn(*args)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf

    return run


udf("sqrt", DOUBLE, returns=DOUBLE, category=_CAT)(_nan_on_domain_error(math.sqrt))
udf("cbrt", DOUBLE, returns=DOUBLE, category=_CAT)(
    lambda v: math.copysign(abs(v) ** (1.0 / 3.0), v)
)
udf("exp", DOUBLE, returns=DOUBLE, category=_CAT)(_nan_on_domain_error(math.exp))


def _ln(value: float) -> float:
    if value == 0:
        return -math.inf
    if value < 0 or math.isnan(value):
        return math.nan
    return math.log(value)


udf("ln", DOUBLE, returns=DOUBLE, category=_CAT)(_ln)
udf("log", DOUBLE, returns=DOUBLE, category=_CAT)(_ln)
udf("log", DOUBLE, DOUBLE, returns=DOUBLE, category=_CAT)(
    lambda base, value: math.nan if base <= 0 or base == 1 else _ln(value) / math.log(base)
)


def _power(base: float, exponent: float) -> float:
    try:
        return math.pow(base, exponent)
    except ValueError:
        return math.nan
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.inf


udf("power", DOUBLE, DOUBLE, returns=DOUBLE, category=_CAT)(_power)

udf("random", returns=DOUBLE, category=_CAT)(lambda: random.random())
udf("pi", returns=DOUBLE, category=_CAT)(lambda: math.pi)

for _name, _fn in {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "degrees": math.degrees,
    "radians": math.radians,
}.items():
    udf(_name, DOUBLE, returns=DOUBLE, category=_CAT)(_nan_on_domain_error(_fn))
udf("cot", DOUBLE, returns=DOUBLE, category=_CAT)(
    lambda v: math.inf if math.tan(v) == 0 else 1.0 / math.tan(v)
)
udf("atan2", DOUBLE, DOUBLE, returns=DOUBLE, category=_CAT)(math.atan2)


# ---- GREATEST, LEAST ----------------------------------------------------------------------------
# One variadic overload per type, as in ksqlDB (so GREATEST(INTEGER, BIGINT) is ambiguous there
# too). NULL arguments are ignored; all NULL gives NULL.


def _extreme(pick, key=None):
    def run(first, *rest):
        values = [v for v in (first, *rest) if v is not None]
        if not values:
            return None
        return pick(values, key=key) if key is not None else pick(values)

    return run


def _double_order(value: float):
    """``Double.compareTo``: -0.0 < 0.0 and NaN above everything."""
    return (math.isnan(value), value, math.copysign(1.0, value))


def _bytes_order(value: bytes) -> bytes:
    """``ByteBuffer.compareTo`` compares bytes as signed values."""
    return bytes(b ^ 0x80 for b in value)


def _widest_decimal(args, bindings):
    decimals = [a for a in args if isinstance(a, SqlDecimal)]
    if not decimals:
        return None
    scale = max(d.scale for d in decimals)
    digits = max(d.precision - d.scale for d in decimals)
    return SqlDecimal(digits + scale, scale)


for _name, _pick in (("greatest", max), ("least", min)):
    for _type, _key in (
        (INTEGER, None),
        (BIGINT, None),
        (DOUBLE, _double_order),
        (STRING, None),
        (SqlTypes.BYTES, _bytes_order),
        (SqlTypes.DATE, None),
        (SqlTypes.TIME, None),
        (SqlTypes.TIMESTAMP, None),
    ):
        udf(_name, _type, _type, returns=_type, variadic=True, null_on_null=False, category=_CAT)(
            _extreme(_pick, _key)
        )
    udf(
        _name,
        DECIMAL,
        DECIMAL,
        returns=_widest_decimal,
        variadic=True,
        null_on_null=False,
        category=_CAT,
    )(_extreme(_pick))

_ = Decimal  # re-exported for type checkers of lambdas above
