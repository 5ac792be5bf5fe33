"""The RocksDB store backend: the key encoding keeps key order, the store behaves as the memory
store (the same tests run on both), persists across opens, and the checkpoint file format."""

from __future__ import annotations

import os
import random
from decimal import Decimal

import pytest

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.state import MemoryStore, key_order
from streamlab.ksql.state.checkpoint import CheckpointError, OffsetCheckpoint
from streamlab.ksql.state.keys import KeyEncodingError, decode_key, encode_key
from streamlab.ksql.state.rocksdb import RocksDBStore, StoreClosedError

# one SQL type per group, as a key column has; key_order sorts groups by type name
VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    255,
    256,
    -255,
    -256,
    2**63 - 1,
    -(2**63),
    2**200,
    -(2**200),
    0.0,
    -0.5,
    1.5,
    -1e300,
    1e300,
    float("inf"),
    float("-inf"),
    "",
    "a",
    "a\x00",
    "a\x00b",
    "ab",
    "b",
    "é",
    "日本",
    "\U0001f600",
    b"",
    b"\x00",
    b"\x00\x01",
    b"\xff",
    b"a",
    Decimal("0"),
    Decimal("0.00"),
    Decimal("1.5"),
    Decimal("1.55"),
    Decimal("-1.5"),
    Decimal("-1.55"),
    Decimal("10"),
    Decimal("9.99"),
    Decimal("-10"),
    Decimal("-9.99"),
    Decimal("123.4500"),
    Decimal("0.001"),
    Decimal("-0.001"),
    [],
    [1],
    [1, 2],
    [2],
    ["a", None],
    (1, "x"),
]


def test_every_value_round_trips():
    for value in VALUES:
        key = (value, "tail")
        decoded = decode_key(encode_key(key))
        assert decoded == key and type(decoded[0]) is type(value), value
    assert decode_key(encode_key(({"A": 1, "B": None},))) == ({"A": 1, "B": None},)
    assert str(decode_key(encode_key((Decimal("1.50"),)))[0]) == "1.50"  # the scale is kept


def _comparable(values):
    """The values whose order Python defines under key_order (lists of one element type)."""
    return [v for v in values if not isinstance(v, list | tuple) or all(type(e) is int for e in v)]


def test_byte_order_is_key_order():
    keys = [(v,) for v in _comparable(VALUES)]
    keys += [(1, None), (1, 2), (1, "a"), ("a", 1), ("a",), (None, None), (None,), ()]
    rng = random.Random(7)
    for _ in range(300):  # random tuples of mixed types and lengths
        keys.append(tuple(rng.choice(_comparable(VALUES)) for _ in range(rng.randint(0, 3))))
    by_bytes = sorted(keys, key=encode_key)
    by_order = sorted(keys, key=key_order)
    assert [key_order(k) for k in by_bytes] == [key_order(k) for k in by_order]


def test_one_key_for_equal_floats():
    assert encode_key((-0.0,)) == encode_key((0.0,))
    assert encode_key((float("nan"),)) == encode_key((-float("nan"),))


def test_unsupported_key_elements_are_rejected():
    with pytest.raises(KeyEncodingError, match=r"type 'set'.*supported: None, Decimal, bool"):
        encode_key(({1},))
    with pytest.raises(KeyEncodingError, match="must be a tuple, got list"):
        encode_key([1])  # type: ignore[arg-type]
    with pytest.raises(KeyEncodingError, match="non-finite DECIMAL"):
        encode_key((Decimal("NaN"),))
    with pytest.raises(KeyEncodingError, match="too large"):
        encode_key((2**2000,))


# ---- the store, on both backends ----------------------------------------------------------------


@pytest.fixture(params=["memory", "rocksdb"])
def store_factory(request, tmp_path):
    opened = []

    def make(name="S", changelog=None):
        if request.param == "memory":
            return MemoryStore(name, changelog)
        store = RocksDBStore(name, str(tmp_path / name), changelog)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_get_put_delete_and_changelog(store_factory):
    logged = []
    part = store_factory(changelog=lambda p, k, v: logged.append((p, k, v))).partition(3)
    assert part.get(("a",)) is None
    assert part.get(("a",), "missing") == "missing"
    part.put(("a",), {"n": 1, "rows": [1, 2]})
    part.put(("b", 5), (Decimal("1.50"), 7))
    assert part.get(("a",)) == {"n": 1, "rows": [1, 2]}
    assert part.get(("b", 5)) == (Decimal("1.50"), 7)
    part.delete(("a",))
    part.delete(("never",))  # nothing there: no tombstone
    assert part.get(("a",)) is None
    assert logged == [
        (3, ("a",), {"n": 1, "rows": [1, 2]}),
        (3, ("b", 5), (Decimal("1.50"), 7)),
        (3, ("a",), None),
    ]


def test_range_in_key_order_with_bounds(store_factory):
    part = store_factory().partition(0)
    keys = [("b", 2), ("a", 10), (None, 1), ("a", 2), ("a", None), ("b",), (1.5, 0), (True, 0)]
    for i, key in enumerate(keys):
        part.put(key, i)
    ordered = sorted(keys, key=key_order)
    assert [k for k, _ in part.range()] == ordered
    assert dict(part.range()) == {k: i for i, k in enumerate(keys)}
    # all windows of group "a": from ("a",) up to the next group
    assert [k for k, _ in part.range(("a",), ("a\x00",))] == [("a", None), ("a", 2), ("a", 10)]
    assert [k for k, _ in part.range(("a", 2), ("b",))] == [("a", 2), ("a", 10)]
    below_a = [k for k in ordered if key_order(k) < key_order(("a",))]
    assert below_a == [(None, 1), (True, 0), (1.5, 0)]  # NULL first, then by type name
    assert [k for k, _ in part.range(None, ("a",))] == below_a
    assert list(part.range(("z",))) == []


def test_partitions_are_separate(store_factory):
    store = store_factory()
    store.partition(0).put(("k",), "zero")
    store.partition(1).put(("k",), "one")
    store.partition(1).put(("l",), "one-l")
    assert store.partition(0).get(("k",)) == "zero"
    assert list(store.partition(0).range()) == [(("k",), "zero")]
    assert [k for k, _ in store.partition(1).range()] == [("k",), ("l",)]


def test_restore_applies_without_logging(store_factory):
    logged = []
    part = store_factory(changelog=lambda *entry: logged.append(entry)).partition(0)
    part.restore(("a",), 1)
    part.restore(("b",), 2)
    part.restore(("a",), None)
    assert list(part.range()) == [(("b",), 2)]
    assert logged == []


# ---- RocksDB only -------------------------------------------------------------------------------


def test_rocksdb_persists_and_reports_fresh(tmp_path):
    path = str(tmp_path / "counts")
    store = RocksDBStore("counts", path)
    assert store.fresh
    store.partition(0).put(("x",), 41)
    store.partition(0).restore_batch([(("y",), b"\x80\x04K*."), (("x",), None)])  # pickled 42
    store.close()
    with pytest.raises(StoreClosedError, match=r"'counts' at .* is closed"):
        store.partition(0).get(("x",))

    again = RocksDBStore("counts", path)
    assert not again.fresh
    assert list(again.partition(0).range()) == [(("y",), 42)]
    again.wipe()
    assert again.fresh and list(again.partition(0).range()) == []
    again.destroy()
    assert not os.path.exists(path)


def test_rocksdb_store_in_use_is_a_clear_error(tmp_path):
    path = str(tmp_path / "s")
    first = RocksDBStore("s", path)
    try:
        with pytest.raises(KsqlException, match=r"Could not open the state store 's'.*state dir"):
            RocksDBStore("s", path)
    finally:
        first.close()


# ---- the checkpoint file ------------------------------------------------------------------------


def test_checkpoint_round_trip_and_kafka_streams_format(tmp_path):
    path = str(tmp_path / ".checkpoint")
    checkpoint = OffsetCheckpoint(path)
    assert checkpoint.read() == {}  # none: nothing covered
    checkpoint.write({("a-changelog", 0): 5, ("a-changelog", 1): 0})
    with open(path) as f:
        assert f.read() == "0\n2\na-changelog 0 5\na-changelog 1 0\n"
    assert checkpoint.read() == {("a-changelog", 0): 5, ("a-changelog", 1): 0}
    checkpoint.delete()
    checkpoint.delete()  # already gone: fine
    assert checkpoint.read() == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\n0\n", "Unknown checkpoint version 1"),
        ("0\n2\nt 0 5\n", "2 entries expected, 1 found; delete it"),
        ("0\nx\n", "Corrupt checkpoint file"),
        ("0\n1\nt zero 5\n", "Corrupt checkpoint file"),
        ("", "Corrupt checkpoint file"),
    ],
)
def test_bad_checkpoint_files(tmp_path, text, message):
    path = tmp_path / ".checkpoint"
    path.write_text(text)
    with pytest.raises(CheckpointError, match=message):
        OffsetCheckpoint(str(path)).read()


def test_rocksdb_raw_changelog_replays_into_an_equal_store(tmp_path):
    logged: list[tuple[bytes, bytes | None]] = []
    source = RocksDBStore(
        "s", str(tmp_path / "a"), raw_changelog=lambda k, v: logged.append((k, v))
    )
    part = source.partition(0)
    part.put(("User_1", 5), [1, 2])
    part.put(("User_2", 6), [3])
    part.delete(("User_1", 5))
    assert b"User_1" in logged[0][0]  # keys stay readable in the changelog
    assert logged[2][1] is None  # a tombstone
    copy = RocksDBStore("s", str(tmp_path / "b"))
    assert copy.restore_raw(logged) == 3
    assert list(copy.partition(0).range()) == list(part.range()) == [(("User_2", 6), [3])]
    source.close()
    copy.close()
