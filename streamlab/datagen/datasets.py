"""Every dataset the lab generates: its fields, types, value ranges, key and default topic.

This module is the one place the shapes are defined; tests, lessons and the ksql/ statements
follow it. Records are JSON objects (field order as listed) with a string key, as Confluent's
Datagen connector writes them with ``output.data.format=JSON`` (schemas disabled).

``range`` is half-open, [min, max), because that is how the Datagen connector's generator
(avro-random-generator) reads ``arg.properties.range``: quantity 1..4999, price 5..999.

=============  =================  ======  =====================================================
dataset        default topic      key     fields
=============  =================  ======  =====================================================
stock_trades   stocktrade         symbol  side, quantity, symbol, price, account, userid
users          users              userid  registertime, userid, regionid, gender
rides          geo_events         rideId  rideId, latitude, longitude, dstLatitude, dstLongitude
logins         login_attempts     userid  userid, ip, success
=============  =================  ======  =====================================================

``stock_trades`` and ``users`` are Confluent's Datagen quickstarts STOCK_TRADES and USERS
(kafka-connect-datagen ``stock_trades_schema.avro`` and ``users_schema.avro``; see
research/reference-app.md §6): same names, types and ranges. ``rides`` and ``logins`` are
streamlab's own lesson datasets:

* rides: location updates of taxi rides around the San Francisco Bay Area, for the article's
  ``GEO_DISTANCE(latitude, longitude, dstLatitude, dstLongitude, 'km')`` and ``RIDES_OVER_10K``
  examples. Five rides run at a time; each sends ten updates while it moves in a straight line
  from its origin towards its destination (2 to 30 km away), starting at the origin and ending
  one tenth of the way short; then the next ride takes its slot. Updates of the five rides
  interleave: record i belongs to slot i % 5. Ride ids count up (ride_1, ride_2, ...).
* logins: login attempts of the USERS quickstart's users (User_1..User_9, so they join with the
  users table). Per seed, one user is under attack: 30 % of all attempts target that user from
  an attacker address (203.0.113.0/24) and 90 % of those fail; the other attempts come from the
  user's usual address (198.51.100.N for User_N) and 10 % fail (typos). IPs are documentation
  ranges (RFC 5737).

Each record is a pure function of (dataset, seed, index); see :mod:`streamlab.datagen.draws`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streamlab.config import StreamlabError
from streamlab.datagen.draws import Draws


class DatagenError(StreamlabError):
    """A datagen call failed; the message says what went wrong and what to do."""


@dataclass(frozen=True)
class Field:
    """One JSON field and the rule its values follow.

    Attributes:
        name: JSON key.
        type: the Avro/ksqlDB-style type: string, int (32-bit), long, double or boolean.
        options: the only values it takes, when it is picked from a list.
        range: [min, max) for numbers.
        pattern: a regular expression every value matches (string fields).
        doc: what it means.
    """

    name: str
    type: str
    options: tuple[Any, ...] = ()
    range: tuple[float, float] | None = None
    pattern: str | None = None
    doc: str = ""


@dataclass(frozen=True)
class Dataset:
    name: str
    topic: str
    key: str  # the field whose value, as a string, is the record key
    fields: tuple[Field, ...]
    origin: str
    make: Callable[[int, int], dict[str, Any]] = field(repr=False)  # (seed, index) -> value

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


# --- stock_trades: Datagen quickstart STOCK_TRADES ------------------------------------------------

SIDES = ("BUY", "SELL")
SYMBOLS = ("ZBZX", "ZJZZT", "ZTEST", "ZVV", "ZVZZT", "ZWZZT", "ZXZZT")
ACCOUNTS = ("ABC123", "LMN456", "XYZ789")
USER_IDS = tuple(f"User_{n}" for n in range(1, 10))  # regex User_[1-9]
REGION_IDS = tuple(f"Region_{n}" for n in range(1, 10))  # regex Region_[1-9]
GENDERS = ("MALE", "FEMALE", "OTHER")
QUANTITY = (1, 5000)
PRICE = (5, 1000)
REGISTERTIME = (1487715775521, 1519273364600)  # epoch ms, Feb 2017 .. Feb 2018


def _stock_trade(seed: int, index: int) -> dict[str, Any]:
    d = Draws("stock_trades", seed, index)
    return {
        "side": d.choice(SIDES),
        "quantity": d.between(*QUANTITY),
        "symbol": d.choice(SYMBOLS),
        "price": d.between(*PRICE),
        "account": d.choice(ACCOUNTS),
        "userid": d.choice(USER_IDS),
    }


def _user(seed: int, index: int) -> dict[str, Any]:
    return _user_from(Draws("users", seed, index))


def _user_from(d: Draws, userid: str | None = None) -> dict[str, Any]:
    registertime = d.between(*REGISTERTIME)
    drawn = d.choice(USER_IDS)
    return {
        "registertime": registertime,
        "userid": userid or drawn,
        "regionid": d.choice(REGION_IDS),
        "gender": d.choice(GENDERS),
    }


def users_table(seed: int = 0, users: int = len(USER_IDS)) -> list[tuple[str, dict[str, Any]]]:
    """The initial USERS table: one record for each of User_1..User_<users>, in that order.

    The quickstart itself picks a random user per record, so after a while every user has a row;
    the seed gives a lab that state at once. Values follow the USERS field rules.
    """
    if not 0 <= users <= len(USER_IDS):
        raise DatagenError(
            f"users={users}: the USERS quickstart has user ids User_1..User_9, choose 0..9"
        )
    rows = []
    for userid in USER_IDS[:users]:
        value = _user_from(Draws("users-table", seed, userid), userid=userid)
        rows.append((userid, value))
    return rows


# --- rides: the article's GEO_DISTANCE / RIDES_OVER_10K example ----------------------------------

RIDE_SLOTS = 5  # rides under way at the same time
RIDE_UPDATES = 10  # location updates per ride
RIDE_KM = (2.0, 30.0)  # distance from origin to destination
BAY_AREA = ((37.30, 37.90), (-122.50, -121.90))  # (lat range, lon range) of ride origins
EARTH_KM = 6371.0  # the radius ksqlDB's GEO_DISTANCE uses for 'km'


def _ride(seed: int, index: int) -> dict[str, Any]:
    slot, round_ = index % RIDE_SLOTS, index // RIDE_SLOTS
    trip, step = divmod(round_, RIDE_UPDATES)
    ride = trip * RIDE_SLOTS + slot + 1
    d = Draws("rides", seed, ride)
    lat0, lon0 = d.uniform(*BAY_AREA[0]), d.uniform(*BAY_AREA[1])
    dst_lat, dst_lon = destination(lat0, lon0, d.uniform(*RIDE_KM), d.uniform(0.0, 360.0))
    f = step / RIDE_UPDATES
    return {
        "rideId": f"ride_{ride}",
        "latitude": round(lat0 + (dst_lat - lat0) * f, 6),
        "longitude": round(lon0 + (dst_lon - lon0) * f, 6),
        "dstLatitude": round(dst_lat, 6),
        "dstLongitude": round(dst_lon, 6),
    }


def destination(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """The point ``km`` away from (lat, lon) along ``bearing`` degrees, on a sphere."""
    phi1, lam1, theta = math.radians(lat), math.radians(lon), math.radians(bearing)
    delta = km / EARTH_KM
    phi2 = math.asin(
        math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
    )
    lam2 = lam1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1),
        math.cos(delta) - math.sin(phi1) * math.sin(phi2),
    )
    return math.degrees(phi2), math.degrees(lam2)


def geo_distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance as ksqlDB's GEO_DISTANCE(..., 'km') computes it (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(a))


# --- logins: failed login attempts for the stateful lesson ---------------------------------------

ATTACK_SHARE = 0.3  # share of attempts that target the attacked user
ATTACK_FAILS = 0.9
NORMAL_FAILS = 0.1


def attacked_user(seed: int) -> str:
    """The user under attack in the logins dataset for ``seed``."""
    return Draws("logins", seed, "target").choice(USER_IDS)


def _login(seed: int, index: int) -> dict[str, Any]:
    d = Draws("logins", seed, index)
    if d.chance(ATTACK_SHARE):
        userid, ip, fails = attacked_user(seed), f"203.0.113.{d.between(1, 255)}", ATTACK_FAILS
    else:
        userid = d.choice(USER_IDS)
        ip, fails = f"198.51.100.{userid.removeprefix('User_')}", NORMAL_FAILS
    return {"userid": userid, "ip": ip, "success": not d.chance(fails)}


# --- the registry ---------------------------------------------------------------------------------

_QUICKSTART = "Confluent Datagen quickstart {} (kafka-connect-datagen {})"

DATASETS: dict[str, Dataset] = {
    ds.name: ds
    for ds in (
        Dataset(
            "stock_trades",
            topic="stocktrade",
            key="symbol",
            origin=_QUICKSTART.format("STOCK_TRADES", "stock_trades_schema.avro"),
            make=_stock_trade,
            fields=(
                Field("side", "string", options=SIDES, doc="buy or sell"),
                Field("quantity", "int", range=QUANTITY, doc="shares traded"),
                Field("symbol", "string", options=SYMBOLS, doc="test stock symbols"),
                Field("price", "int", range=PRICE, doc="price; the quickstart says 'in pennies'"),
                Field("account", "string", options=ACCOUNTS),
                Field("userid", "string", options=USER_IDS, pattern=r"User_[1-9]"),
            ),
        ),
        Dataset(
            "users",
            topic="users",
            key="userid",
            origin=_QUICKSTART.format("USERS", "users_schema.avro"),
            make=_user,
            fields=(
                Field("registertime", "long", range=REGISTERTIME, doc="epoch milliseconds"),
                Field("userid", "string", options=USER_IDS, pattern=r"User_[1-9]"),
                Field("regionid", "string", options=REGION_IDS, pattern=r"Region_[1-9]"),
                Field("gender", "string", options=GENDERS),
            ),
        ),
        Dataset(
            "rides",
            topic="geo_events",
            key="rideId",
            origin="streamlab lesson dataset (GEO_DISTANCE, RIDES_OVER_10K)",
            make=_ride,
            fields=(
                Field("rideId", "string", pattern=r"ride_[1-9][0-9]*"),
                Field("latitude", "double", range=(-90.0, 90.0), doc="current position"),
                Field("longitude", "double", range=(-180.0, 180.0)),
                Field("dstLatitude", "double", range=(-90.0, 90.0), doc="ride destination"),
                Field("dstLongitude", "double", range=(-180.0, 180.0)),
            ),
        ),
        Dataset(
            "logins",
            topic="login_attempts",
            key="userid",
            origin="streamlab lesson dataset (stateful counting of failed logins)",
            make=_login,
            fields=(
                Field("userid", "string", options=USER_IDS, pattern=r"User_[1-9]"),
                Field("ip", "string", pattern=r"(203\.0\.113|198\.51\.100)\.[0-9]{1,3}"),
                Field("success", "boolean", options=(True, False)),
            ),
        ),
    )
}

# Quickstart names (as the connector's ``quickstart`` setting spells them) also work.
_ALIASES = {"stock_trades": "stock_trades", "stocktrades": "stock_trades", "users": "users"}


def get(name: str) -> Dataset:
    """The dataset called ``name`` (case-insensitive; STOCK_TRADES and USERS work too)."""
    key = str(name).strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    try:
        return DATASETS[key]
    except KeyError:
        raise DatagenError(
            f"unknown generator {name!r}; choose one of: {', '.join(DATASETS)}"
        ) from None


def generate(
    name: str, seed: int = 0, start: int = 0, count: int | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (key, value) for records ``start``, ``start + 1``, ... of dataset ``name``.

    Args:
        name: a dataset name (see the table above).
        seed: which sequence; the same seed always gives the same records.
        start: index of the first record (resume a sequence without generating its prefix).
        count: how many records; None for an endless stream.
    """
    ds = get(name)
    seed, start = _int("seed", seed), _int("start", start, minimum=0)
    if count is not None:
        count = _int("count", count, minimum=0)
    index = start
    while count is None or index < start + count:
        value = ds.make(seed, index)
        yield str(value[ds.key]), value
        index += 1


def encode(key: str, value: dict[str, Any]) -> tuple[bytes, bytes]:
    """Kafka key and value bytes: UTF-8 string key, compact UTF-8 JSON value (as Kafka Connect's
    JsonConverter with ``schemas.enable=false`` writes it)."""
    return key.encode(), json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _int(what: str, value: Any, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DatagenError(f"{what} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise DatagenError(f"{what} must be at least {minimum}, got {value}")
    return value
