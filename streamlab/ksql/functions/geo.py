"""GEO_DISTANCE: great-circle distance between two points (haversine, as ksqlDB)."""

from __future__ import annotations

import math

from streamlab.ksql.errors import KsqlFunctionException
from streamlab.ksql.functions.registry import DOUBLE, STRING, udf

_EARTH_RADIUS_KM = 6371.0
_EARTH_RADIUS_MILES = 3959.0
_MILES = ("mi", "mile", "miles")
_KMS = ("km", "kilometer", "kilometers", "kilometre", "kilometres")


def _radius(units: str | None) -> float:
    if units is None or not units.strip():
        return _EARTH_RADIUS_KM
    unit = units.strip().lower()
    if unit in _MILES:
        return _EARTH_RADIUS_MILES
    if unit in _KMS:
        return _EARTH_RADIUS_KM
    valid = ", ".join(_MILES + _KMS[:-1]) + " or " + _KMS[-1]
    raise KsqlFunctionException(
        f"GeoDistance function units parameter must be one of {valid}. Values are case-insensitive."
    )


def _distance(lat1, lon1, lat2, lon2, units=None) -> float:
    if lat1 < -90 or lat2 < -90 or lat1 > 90 or lat2 > 90:
        raise KsqlFunctionException(
            "valid latitude values for GeoDistance function are in the range of -90 to 90"
            " decimal degrees"
        )
    if lon1 < -180 or lon2 < -180 or lon1 > 180 or lon2 > 180:
        raise KsqlFunctionException(
            "valid longitude values for GeoDistance function are in the range of -180 to +180"
            " decimal degrees"
        )
    radius = _radius(units)
    d_lat = math.radians(lat2 - lat1)
    d_lon = math.radians(lon2 - lon1)
    a = math.pow(math.sin(d_lat / 2), 2) + math.pow(math.sin(d_lon / 2), 2) * math.cos(
        math.radians(lat1)
    ) * math.cos(math.radians(lat2))
    return 2 * math.asin(math.sqrt(a)) * radius


udf("geo_distance", DOUBLE, DOUBLE, DOUBLE, DOUBLE, returns=DOUBLE, category="GEOSPATIAL")(
    _distance
)
udf(
    "geo_distance",
    DOUBLE,
    DOUBLE,
    DOUBLE,
    DOUBLE,
    STRING,
    returns=DOUBLE,
    category="GEOSPATIAL",
    null_on_null=False,
)(lambda a, b, c, d, units: None if None in (a, b, c, d) else _distance(a, b, c, d, units))
