"""Date and time functions. Timestamps are epoch milliseconds, dates epoch days (UTC)."""

from __future__ import annotations

import time

from streamlab.ksql.functions.registry import BIGINT, INTEGER, STRING, IntervalUnitParam, udf
from streamlab.ksql.functions.timeformat import EPOCH, pattern
from streamlab.ksql.jvm import java_int_div
from streamlab.ksql.types import SqlTypes

_CAT = "DATE / TIME"
TIMESTAMP, DATE, TIME = SqlTypes.TIMESTAMP, SqlTypes.DATE, SqlTypes.TIME
_DAY_MS = 86_400_000
INTERVAL_UNIT_PARAM = IntervalUnitParam()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# ---- legacy BIGINT based functions --------------------------------------------------------------

udf("timestamptostring", BIGINT, STRING, returns=STRING, category=_CAT)(
    lambda millis, fmt: pattern(fmt).format_millis(millis, "UTC")
)
udf("timestamptostring", BIGINT, STRING, STRING, returns=STRING, category=_CAT)(
    lambda millis, fmt, tz: pattern(fmt).format_millis(millis, tz)
)
udf("stringtotimestamp", STRING, STRING, returns=BIGINT, category=_CAT)(
    lambda text, fmt: pattern(fmt).parse_millis(text, "UTC")
)
udf("stringtotimestamp", STRING, STRING, STRING, returns=BIGINT, category=_CAT)(
    lambda text, fmt, tz: pattern(fmt).parse_millis(text, tz)
)
udf("datetostring", INTEGER, STRING, returns=STRING, category=_CAT)(
    lambda days, fmt: pattern(fmt).format_millis(days * _DAY_MS, "UTC")
)
udf("stringtodate", STRING, STRING, returns=INTEGER, category=_CAT)(
    lambda text, fmt: pattern(fmt).parse_millis(text, "UTC") // _DAY_MS
)
udf("unix_timestamp", returns=BIGINT, category=_CAT)(_now_ms)
udf("unix_timestamp", TIMESTAMP, returns=BIGINT, category=_CAT)(lambda ts: ts)
udf("unix_date", returns=INTEGER, category=_CAT)(lambda: _now_ms() // _DAY_MS)
udf("unix_date", DATE, returns=INTEGER, category=_CAT)(lambda days: days)

# ---- TIMESTAMP / DATE / TIME typed functions ----------------------------------------------------

udf("from_unixtime", BIGINT, returns=TIMESTAMP, category=_CAT)(lambda millis: millis)
udf("from_days", INTEGER, returns=DATE, category=_CAT)(lambda days: days)
udf("format_timestamp", TIMESTAMP, STRING, returns=STRING, category=_CAT)(
    lambda ts, fmt: pattern(fmt).format_millis(ts, "UTC")
)
udf("format_timestamp", TIMESTAMP, STRING, STRING, returns=STRING, category=_CAT)(
    lambda ts, fmt, tz: pattern(fmt).format_millis(ts, tz)
)
udf("parse_timestamp", STRING, STRING, returns=TIMESTAMP, category=_CAT)(
    lambda text, fmt: pattern(fmt).parse_millis(text, "UTC")
)
udf("parse_timestamp", STRING, STRING, STRING, returns=TIMESTAMP, category=_CAT)(
    lambda text, fmt, tz: pattern(fmt).parse_millis(text, tz)
)
udf("format_date", DATE, STRING, returns=STRING, category=_CAT)(
    lambda days, fmt: pattern(fmt).format_millis(days * _DAY_MS, "UTC")
)
udf("parse_date", STRING, STRING, returns=DATE, category=_CAT)(
    lambda text, fmt: pattern(fmt).parse_millis(text, "UTC", lenient=True) // _DAY_MS
)
udf("format_time", TIME, STRING, returns=STRING, category=_CAT)(
    lambda millis, fmt: pattern(fmt).format_millis(millis, "UTC")
)
udf("parse_time", STRING, STRING, returns=TIME, category=_CAT)(
    lambda text, fmt: pattern(fmt).parse_millis(text, "UTC") % _DAY_MS
)
udf("convert_tz", TIMESTAMP, STRING, STRING, returns=TIMESTAMP, category=_CAT)(
    lambda ts, src, dst: _convert_tz(ts, src, dst)
)


def _convert_tz(ts: int, src: str, dst: str) -> int:
    import datetime as dt

    from streamlab.ksql.functions.timeformat import zone

    wall = EPOCH.replace(tzinfo=None) + dt.timedelta(milliseconds=ts)
    moment = wall.replace(tzinfo=zone(src)).astimezone(zone(dst))
    shifted = moment.replace(tzinfo=None) - EPOCH.replace(tzinfo=None)
    return shifted.days * _DAY_MS + shifted.seconds * 1000 + shifted.microseconds // 1000


# ---- interval arithmetic: DATEADD(DAYS, 2, d), TIMESTAMPSUB(HOURS, 1, ts), ... -------------------

_UNIT_MS = {
    "MILLISECOND": 1,
    "MILLISECONDS": 1,
    "SECOND": 1000,
    "SECONDS": 1000,
    "MINUTE": 60_000,
    "MINUTES": 60_000,
    "HOUR": 3_600_000,
    "HOURS": 3_600_000,
    "DAY": _DAY_MS,
    "DAYS": _DAY_MS,
}


def _date_shift(sign: int):
    def shift(unit: str, interval: int, days: int) -> int:
        return java_int_div(days * _DAY_MS + sign * _UNIT_MS[unit] * interval, _DAY_MS)

    return shift


def _time_shift(sign: int):
    def shift(unit: str, interval: int, millis: int) -> int:
        return (millis + sign * _UNIT_MS[unit] * interval) % _DAY_MS

    return shift


def _timestamp_shift(sign: int):
    def shift(unit: str, interval: int, millis: int) -> int:
        return millis + sign * _UNIT_MS[unit] * interval

    return shift


for _name, _sign in (("add", 1), ("sub", -1)):
    udf(f"date{_name}", INTERVAL_UNIT_PARAM, INTEGER, DATE, returns=DATE, category=_CAT)(
        _date_shift(_sign)
    )
    udf(f"time{_name}", INTERVAL_UNIT_PARAM, INTEGER, TIME, returns=TIME, category=_CAT)(
        _time_shift(_sign)
    )
    udf(
        f"timestamp{_name}",
        INTERVAL_UNIT_PARAM,
        INTEGER,
        TIMESTAMP,
        returns=TIMESTAMP,
        category=_CAT,
    )(_timestamp_shift(_sign))
