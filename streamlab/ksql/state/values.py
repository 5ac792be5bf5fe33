"""State values as bytes: what a RocksDB store holds and its changelog carries.

Accumulators and rows are plain Python values (None, bool, int, float, str, bytes, Decimal,
and lists, tuples, dicts and sets of them: see :mod:`streamlab.ksql.functions.udaf`), written
with :mod:`pickle` (fast, and exact for every one of them). Reading is where pickle is
dangerous: the bytes come back from a changelog *topic*, and anyone who can write to that topic
could make a plain ``pickle.loads`` run code. So values are read with an unpickler that can
build no object but a ``Decimal`` (the "restricting globals" recipe of the pickle docs): a
record that needs anything else is refused with :class:`StateValueError`, never executed.
"""

from __future__ import annotations

import decimal
import io
import pickle
from typing import Any

from streamlab.ksql.errors import KsqlException

PROTOCOL = 5
_ALLOWED = {("decimal", "Decimal"): decimal.Decimal}


class StateValueError(KsqlException):
    """Bytes in a store or changelog that are not a state value this engine wrote."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise StateValueError(
                f"a state value may not hold {module}.{name}: only plain values are read back"
            )
        return found


def dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=PROTOCOL)


def loads(data: bytes) -> Any:
    """The value ``data`` holds; :class:`StateValueError` for anything that is not one."""
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except StateValueError:
        raise
    except Exception as error:  # truncated or foreign bytes: pickle's errors vary
        raise StateValueError(f"not a state value ({type(error).__name__}: {error})") from None
