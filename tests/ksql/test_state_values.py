"""State values (streamlab.ksql.state.values): every kind of value an accumulator or row holds
comes back equal, and bytes that would build anything else are refused without running code."""

from __future__ import annotations

import os
import pickle
from decimal import Decimal

import pytest

from streamlab.ksql.state import values
from streamlab.ksql.state.rocksdb import RocksDBStore


class _Exploit:
    def __init__(self, path: str = os.devnull) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize(
    "value",
    [
        None, True, 7, -2**70, 2.5, float("inf"), "é", b"\x00\xff", Decimal("-12.340"),
        [1, [2, None]], (3, "x", (4,)), {"k": [1, 2], "n": None}, {1, 2}, frozenset({"a"}),
        {"hist": {"a": 1}, "avg": (Decimal("1.5"), 2)},
    ],
)  # fmt: skip
def test_plain_values_round_trip(value) -> None:
    assert values.loads(values.dumps(value)) == value


def test_bytes_that_would_build_an_object_are_refused_and_nothing_runs(tmp_path) -> None:
    pwned = tmp_path / "pwned"
    with pytest.raises(values.StateValueError, match=r"may not hold posix\.system"):
        values.loads(pickle.dumps(_Exploit(str(pwned))))
    assert not pwned.exists()
    with pytest.raises(values.StateValueError, match=r"may not hold collections\.OrderedDict"):
        values.loads(pickle.dumps(__import__("collections").OrderedDict(a=1)))


@pytest.mark.parametrize("data", [b"", b"\x80\x05", b"not a pickle", b"\x80\x05K"])
def test_garbage_is_refused_with_a_clear_error(data) -> None:
    with pytest.raises(values.StateValueError, match="not a state value"):
        values.loads(data)


def test_a_store_holding_a_foreign_value_refuses_to_read_it(tmp_path) -> None:
    store = RocksDBStore("counts", str(tmp_path))
    part = store.partition(0)
    part.put(("a",), 1)
    store.restore_raw([(part._key(("b",)), pickle.dumps(_Exploit()))])
    assert part.get(("a",)) == 1
    with pytest.raises(values.StateValueError):
        part.get(("b",))
    store.close()
