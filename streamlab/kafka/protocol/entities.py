"""Building kio response entities without spelling out every field of every version.

Handlers are written once for the versions librdkafka uses; ``make`` fills required fields the
handler did not set with Kafka's neutral values and drops fields the chosen version lacks, so the
same handler answers older or newer versions correctly.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import MISSING, fields
from functools import cache

from kio.schema.errors import ErrorCode
from kio.static.primitive import i32Timedelta, i64Timedelta

_NEUTRAL_BY_KAFKA_TYPE = {
    "int8": 0,
    "int16": 0,
    "int32": 0,
    "int64": 0,
    "uint16": 0,
    "uint32": 0,
    "uint64": 0,
    "float64": 0.0,
    "string": "",
    "bool": False,
    "bytes": b"",
    "records": None,
    "uuid": uuid.UUID(int=0),
    "error_code": ErrorCode.none,
    "timedelta_i32": i32Timedelta.parse(datetime.timedelta(0)),
    "timedelta_i64": i64Timedelta.parse(datetime.timedelta(0)),
}


@cache
def _required(cls: type) -> dict[str, object]:
    """Field name -> neutral value, for fields without a default."""
    out: dict[str, object] = {}
    for f in fields(cls):
        if f.default is not MISSING or f.default_factory is not MISSING:
            continue
        kafka_type = f.metadata.get("kafka_type")
        out[f.name] = (
            ()
            if kafka_type is None or str(f.type).startswith("tuple")
            else (_NEUTRAL_BY_KAFKA_TYPE.get(kafka_type))
        )
    return out


@cache
def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def make(cls: type, **values: object):
    names = _names(cls)
    kwargs = {k: v for k, v in values.items() if k in names}
    for name, neutral in _required(cls).items():
        kwargs.setdefault(name, neutral)
    return cls(**kwargs)
