"""Windowed aggregation: window assignment, key encoding, grace, EMIT FINAL, sessions."""

from __future__ import annotations

import re

import pytest

from streamlab.ksql.runtime.windows import (
    Window,
    decode_session_key,
    decode_time_key,
    encode_windowed_key,
    time_windows,
)
from tests.ksql._stateful import STREAM, run

ASSIGN = [
    (0, 10, 10, [0]),
    (9, 10, 10, [0]),
    (10, 10, 10, [10]),
    (7, 10, 5, [0, 5]),
    (12, 10, 5, [5, 10]),
    (3, 10, 5, [0]),
]


@pytest.mark.parametrize(("ts", "size", "advance", "starts"), ASSIGN)
def test_time_windows(ts: int, size: int, advance: int, starts: list[int]) -> None:
    assert time_windows(ts, size, advance) == starts


def test_windowed_key_encoding() -> None:
    time_key = encode_windowed_key(b"k", Window(10, 20))
    assert time_key == b"k" + (10).to_bytes(8, "big")
    assert decode_time_key(time_key, 10) == (b"k", Window(10, 20))
    session_key = encode_windowed_key(b"k", Window(1, 5, True))
    assert session_key == b"k" + (5).to_bytes(8, "big") + (1).to_bytes(8, "big")
    assert decode_session_key(session_key) == (b"k", Window(1, 5, True))


def rec(key: str, ts: int, v: int = 1):
    return ("s", key, {"G": key, "V": v}, ts)


CASES = [
    (
        "tumbling emit changes with window bounds",
        "SELECT k, COUNT(*) AS c, WINDOWSTART AS ws, WINDOWEND AS we FROM s "
        "WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k",
        [rec("a", 1), rec("a", 12), rec("a", 5)],
        [
            (("a", 0, 10), {"C": 1, "WS": 0, "WE": 10}, 1),
            (("a", 10, 20), {"C": 1, "WS": 10, "WE": 20}, 12),
            (("a", 0, 10), {"C": 2, "WS": 0, "WE": 10}, 5),
        ],
    ),
    (
        "late records dropped after grace",
        "SELECT k, COUNT(*) AS c FROM s WINDOW TUMBLING (SIZE 10 MILLISECONDS, "
        "GRACE PERIOD 5 MILLISECONDS) GROUP BY k",
        [rec("a", 1), rec("a", 14), rec("a", 2), rec("a", 15), rec("a", 3)],
        [
            (("a", 0, 10), {"C": 1}, 1),
            (("a", 10, 20), {"C": 1}, 14),
            (("a", 0, 10), {"C": 2}, 2),
            (("a", 10, 20), {"C": 2}, 15),
        ],
    ),
    (
        "hopping",
        "SELECT k, COUNT(*) AS c FROM s WINDOW HOPPING (SIZE 10 MILLISECONDS, "
        "ADVANCE BY 5 MILLISECONDS) GROUP BY k",
        [rec("a", 7)],
        [(("a", 0, 10), {"C": 1}, 7), (("a", 5, 15), {"C": 1}, 7)],
    ),
    (
        "emit final waits for the window to close",
        "SELECT k, COUNT(*) AS c FROM s WINDOW TUMBLING (SIZE 10 MILLISECONDS, "
        "GRACE PERIOD 0 MILLISECONDS) GROUP BY k EMIT FINAL",
        [rec("a", 1), rec("a", 3), rec("b", 9), rec("a", 10), rec("a", 25)],
        [(("a", 0, 10), {"C": 2}, 3), (("b", 0, 10), {"C": 1}, 9), (("a", 10, 20), {"C": 1}, 10)],
    ),
    (
        "sessions merge with a tombstone for the old session",
        "SELECT k, COUNT(*) AS c FROM s WINDOW SESSION (5 MILLISECONDS) GROUP BY k",
        [rec("a", 0), rec("a", 20), rec("a", 4)],
        [
            (("a", 0, 0), {"C": 1}, 0),
            (("a", 20, 20), {"C": 1}, 20),
            (("a", 0, 0), None, 0),
            (("a", 0, 4), {"C": 2}, 4),
        ],
    ),
]


@pytest.mark.parametrize(("name", "query", "inputs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_windowed_aggregation(name: str, query: str, inputs: list, expected: list) -> None:
    assert run(STREAM + f"CREATE TABLE o AS {query};", inputs, "O") == expected


@pytest.mark.parametrize(
    ("window", "message"),
    [
        # no GRACE PERIOD: Kafka Streams' default grace makes size + grace a whole day
        (
            "TUMBLING (SIZE 1 MINUTE, RETENTION 1 HOUR)",
            "window store Aggregate-Aggregate-Materialize must be no smaller than its window "
            "size plus the grace period. Got size=[60000], grace=[86340000], retention=[3600000]",
        ),
        (
            "HOPPING (SIZE 10 MINUTES, ADVANCE BY 1 MINUTE, RETENTION 10 MINUTES, "
            "GRACE PERIOD 1 SECOND)",
            "Got size=[600000], grace=[1000], retention=[600000]",
        ),
        (
            "SESSION (5 MINUTES, RETENTION 1 MINUTE, GRACE PERIOD 0 SECONDS)",
            "session store Aggregate-Aggregate-Materialize must be no smaller than the session "
            "inactivity gap plus the grace period. Got gap=[300000], grace=[0], retention=[60000]",
        ),
    ],
)
def test_retention_below_size_plus_grace_is_refused(window: str, message: str) -> None:
    from streamlab.ksql.engine import KsqlEngine
    from streamlab.ksql.errors import KsqlError

    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM S (K STRING KEY, V INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', "
        "PARTITIONS=1);"
    )
    with pytest.raises(KsqlError, match=re.escape(message)):
        engine.execute(f"CREATE TABLE T AS SELECT K, COUNT(*) FROM S WINDOW {window} GROUP BY K;")
    assert engine.metastore.get_source("T") is None  # nothing half-made
    engine.execute(
        "CREATE TABLE T AS SELECT K, COUNT(*) FROM S "
        "WINDOW TUMBLING (SIZE 1 MINUTE, RETENTION 1 HOUR, GRACE PERIOD 59 MINUTES) GROUP BY K;"
    )
