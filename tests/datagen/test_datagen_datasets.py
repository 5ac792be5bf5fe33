"""The datasets: shapes against the Datagen quickstart definitions, ranges, determinism."""

from __future__ import annotations

import collections
import json
import re

import pytest

from streamlab import datagen
from streamlab.datagen import datasets
from streamlab.datagen.datasets import geo_distance_km

N = 3000  # records checked per dataset

# Copied by hand from kafka-connect-datagen HEAD (research/reference-app.md §6): the test must not
# read the expectations from the code under test.
QUICKSTARTS = {
    "stock_trades": {
        "key": "symbol",
        "fields": [
            ("side", "string", {"options": ["BUY", "SELL"]}),
            ("quantity", "int", {"range": (1, 5000)}),
            ("symbol", "string",
             {"options": ["ZBZX", "ZJZZT", "ZTEST", "ZVV", "ZVZZT", "ZWZZT", "ZXZZT"]}),
            ("price", "int", {"range": (5, 1000)}),
            ("account", "string", {"options": ["ABC123", "LMN456", "XYZ789"]}),
            ("userid", "string", {"regex": r"User_[1-9]"}),
        ],
    },
    "users": {
        "key": "userid",
        "fields": [
            ("registertime", "long", {"range": (1487715775521, 1519273364600)}),
            ("userid", "string", {"regex": r"User_[1-9]"}),
            ("regionid", "string", {"regex": r"Region_[1-9]"}),
            ("gender", "string", {"options": ["MALE", "FEMALE", "OTHER"]}),
        ],
    },
}  # fmt: skip

JSON_TYPES = {"string": str, "int": int, "long": int, "double": float, "boolean": bool}
INT32 = (-(2**31), 2**31)


def records(name: str, seed: int = 0, count: int = N):
    return list(datagen.generate(name, seed=seed, count=count))


@pytest.mark.parametrize("name", sorted(QUICKSTARTS))
def test_quickstart_values_follow_the_datagen_definition(name: str) -> None:
    spec = QUICKSTARTS[name]
    rows = records(name)
    seen = collections.defaultdict(set)
    for key, value in rows:
        assert list(value) == [f for f, _, _ in spec["fields"]]  # every field, in schema order
        assert key == value[spec["key"]]
        for field, type_, rule in spec["fields"]:
            v = value[field]
            assert type(v) is JSON_TYPES[type_], (field, v)
            if type_ == "int":
                assert INT32[0] <= v < INT32[1]
            if "options" in rule:
                assert v in rule["options"], (field, v)
            if "range" in rule:  # avro-random-generator: min inclusive, max exclusive
                assert rule["range"][0] <= v < rule["range"][1], (field, v)
            if "regex" in rule:
                assert re.fullmatch(rule["regex"], v), (field, v)
            seen[field].add(v)
    for field, _, rule in spec["fields"]:
        if "options" in rule:  # 3000 uniform draws reach every option
            assert seen[field] == set(rule["options"]), field
        if "regex" in rule:
            assert len(seen[field]) == 9, field  # User_1..User_9, Region_1..Region_9
        if "range" in rule:  # the draws spread over the whole range
            lo, hi = rule["range"]
            span = hi - lo
            assert min(seen[field]) < lo + span * 0.01 and max(seen[field]) > hi - span * 0.01


@pytest.mark.parametrize("name", sorted(QUICKSTARTS))
def test_the_registry_describes_the_quickstart(name: str) -> None:
    ds = datagen.get(name)
    spec = QUICKSTARTS[name]
    assert ds.key == spec["key"]
    assert [(f.name, f.type) for f in ds.fields] == [(f, t) for f, t, _ in spec["fields"]]
    assert ds.topic == {"stock_trades": "stocktrade", "users": "users"}[name]
    for f, _, rule in spec["fields"]:
        if "options" in rule:
            assert list(ds.field(f).options) == rule["options"]
        if "range" in rule:
            assert tuple(ds.field(f).range) == rule["range"]


@pytest.mark.parametrize("name", sorted(datagen.DATASETS))
def test_every_dataset_matches_its_own_documented_fields(name: str) -> None:
    ds = datagen.get(name)
    for key, value in records(name, count=1000):
        assert list(value) == [f.name for f in ds.fields]
        assert key == str(value[ds.key])
        for f in ds.fields:
            v = value[f.name]
            assert type(v) is JSON_TYPES[f.type], (f.name, v)
            if f.options:
                assert v in f.options
            if f.range:
                assert f.range[0] <= v < f.range[1]
            if f.pattern:
                assert re.fullmatch(f.pattern, v), (f.name, v)


@pytest.mark.parametrize("name", sorted(datagen.DATASETS))
def test_encoding_is_compact_utf8_json_with_a_string_key(name: str) -> None:
    for key, value in records(name, count=50):
        k, v = datagen.encode(key, value)
        assert k == key.encode("utf-8")
        assert json.loads(v.decode("utf-8")) == value
        assert b" " not in v  # as Kafka Connect's JsonConverter writes it
        assert v.startswith(b"{") and not v.startswith(b'{"schema"')  # schemas disabled


# --- determinism ----------------------------------------------------------------------------------


def encoded(name: str, seed: int, start: int = 0, count: int = 200) -> list[tuple[bytes, bytes]]:
    return [datagen.encode(k, v) for k, v in datagen.generate(name, seed, start, count)]


@pytest.mark.parametrize("name", sorted(datagen.DATASETS))
def test_same_seed_same_bytes_other_seed_other_bytes(name: str) -> None:
    assert encoded(name, 7) == encoded(name, 7)
    assert encoded(name, 7) != encoded(name, 8)


@pytest.mark.parametrize("name", sorted(datagen.DATASETS))
def test_a_sequence_can_resume_at_any_index(name: str) -> None:
    whole = encoded(name, 3, 0, 120)
    assert encoded(name, 3, 50, 70) == whole[50:]


def test_the_seed_zero_sequences_are_pinned() -> None:
    # Lessons and hidden tests quote these values; changing them is a breaking change.
    first = {name: encoded(name, 0, 0, 1)[0] for name in datagen.DATASETS}
    assert first == {
        "stock_trades": (
            b"ZWZZT",
            b'{"side":"SELL","quantity":1844,"symbol":"ZWZZT","price":874,'
            b'"account":"XYZ789","userid":"User_2"}',
        ),
        "users": (
            b"User_9",
            b'{"registertime":1518675384830,"userid":"User_9","regionid":"Region_2",'
            b'"gender":"OTHER"}',
        ),
        "rides": (
            b"ride_1",
            b'{"rideId":"ride_1","latitude":37.326457,"longitude":-122.073339,'
            b'"dstLatitude":37.2784,"dstLongitude":-122.035722}',
        ),
        "logins": (b"User_6", b'{"userid":"User_6","ip":"198.51.100.6","success":true}'),
    }


def test_users_table_has_one_row_per_user() -> None:
    rows = datagen.users_table(seed=0)
    assert [k for k, _ in rows] == [f"User_{n}" for n in range(1, 10)]
    spec = dict((f, r) for f, _, r in QUICKSTARTS["users"]["fields"])
    for key, value in rows:
        assert value["userid"] == key
        assert spec["registertime"]["range"][0] <= value["registertime"]
        assert value["registertime"] < spec["registertime"]["range"][1]
        assert re.fullmatch(r"Region_[1-9]", value["regionid"])
        assert value["gender"] in spec["gender"]["options"]
    assert datagen.users_table(seed=0) == rows
    assert datagen.users_table(seed=1) != rows
    assert datagen.users_table(seed=0, users=3) == rows[:3]


# --- the lesson datasets --------------------------------------------------------------------------


def test_rides_move_towards_their_destination() -> None:
    rows = records("rides", count=datasets.RIDE_SLOTS * datasets.RIDE_UPDATES * 4)
    by_ride = collections.defaultdict(list)
    for key, value in rows:
        by_ride[key].append(value)
    assert list(by_ride) == [f"ride_{n}" for n in range(1, len(by_ride) + 1)]
    over_10, under_10 = 0, 0
    for updates in by_ride.values():
        assert len(updates) == datasets.RIDE_UPDATES
        dst = {(u["dstLatitude"], u["dstLongitude"]) for u in updates}
        assert len(dst) == 1  # one destination per ride
        ((dst_lat, dst_lon),) = dst
        km = [geo_distance_km(u["latitude"], u["longitude"], dst_lat, dst_lon) for u in updates]
        assert 1.99 <= km[0] <= 30.01  # RIDE_KM, up to rounding
        assert km == sorted(km, reverse=True)  # always getting closer
        assert km[-1] == pytest.approx(km[0] / datasets.RIDE_UPDATES, rel=0.01)
        over_10 += sum(k > 10 for k in km)
        under_10 += sum(k <= 10 for k in km)
    assert over_10 and under_10  # RIDES_OVER_10K has something to count, and to leave out


def test_rides_interleave_five_at_a_time() -> None:
    keys = [k for k, _ in records("rides", count=12)]
    assert keys == ["ride_1", "ride_2", "ride_3", "ride_4", "ride_5"] * 2 + ["ride_1", "ride_2"]


def test_geo_distance_matches_a_known_distance() -> None:
    # San Francisco Ferry Building to San Jose Diridon station: about 68 km great-circle.
    assert geo_distance_km(37.7955, -122.3937, 37.3297, -121.9027) == pytest.approx(67.5, abs=1)


def test_logins_single_out_the_attacked_user() -> None:
    failures = collections.Counter()
    attempts = collections.Counter()
    for key, value in records("logins", count=N):
        assert key == value["userid"]
        attempts[key] += 1
        failures[key] += not value["success"]
        if value["ip"].startswith("203.0.113."):
            assert key == datasets.attacked_user(0)
    target = datasets.attacked_user(0)
    assert failures.most_common(1)[0][0] == target
    assert failures[target] / attempts[target] > 0.5
    others = sum(failures[u] for u in attempts if u != target)
    assert others / sum(attempts[u] for u in attempts if u != target) < 0.2
    assert datasets.attacked_user(0) == datasets.attacked_user(0)


# --- bad input ------------------------------------------------------------------------------------


def test_unknown_generator_is_a_clear_error() -> None:
    with pytest.raises(datagen.DatagenError, match=r"unknown generator 'trades'.*stock_trades"):
        next(datagen.generate("trades"))


def test_quickstart_spellings_are_accepted() -> None:
    assert datagen.get("STOCK_TRADES").name == "stock_trades"
    assert datagen.get("USERS").name == "users"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": "1"}, "seed must be an integer"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"count": -1}, "count must be at least 0"),
        ({"start": -3}, "start must be at least 0"),
        ({"count": True}, "count must be an integer"),
    ],
)
def test_bad_numbers_are_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(datagen.DatagenError, match=message):
        next(datagen.generate("users", **kwargs))


def test_users_table_beyond_nine_users_is_refused() -> None:
    with pytest.raises(datagen.DatagenError, match=r"User_1\.\.User_9"):
        datagen.users_table(users=10)
