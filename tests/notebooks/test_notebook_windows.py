"""streamlab.notebook.windows without a stack: windowed keys as Kafka Streams writes them, the
current rows of a windowed table (latest value per window, tombstones), and bad keys."""

from __future__ import annotations

import json
import struct
import time

import pytest

from streamlab.notebook import windows

BASE = 1_767_258_000_000  # 2026-01-01 09:00:00 UTC


def _time_key(key: str, start: int) -> bytes:
    return key.encode() + struct.pack(">q", start)


def _session_key(key: str, start: int, end: int) -> bytes:
    return key.encode() + struct.pack(">qq", end, start)  # Kafka Streams: end, then start


def test_time_and_session_keys_decode() -> None:
    assert windows.decode_window_key(_time_key("ZVV", BASE)) == ("ZVV", BASE, None)
    assert windows.decode_window_key(_session_key("A", BASE, BASE + 5), session=True) == (
        "A",
        BASE,
        BASE + 5,
    )


@pytest.mark.parametrize("key", [None, b"", b"short"])
def test_a_key_too_short_for_a_window_is_refused(key) -> None:
    with pytest.raises(ValueError, match="not a windowed key"):
        windows.decode_window_key(key)
    with pytest.raises(ValueError, match="not a windowed key"):
        windows.decode_window_key(b"12345678", session=True)  # a time key is not a session key


def test_window_rows_keep_the_latest_value_and_drop_tombstones(monkeypatch) -> None:
    records = [
        (_time_key("B", BASE + 60_000), {"N": 1}),
        (_time_key("A", BASE), {"N": 1}),
        (_time_key("A", BASE), {"N": 2}),
        (_time_key("C", BASE), {"N": 1}),
        (_time_key("C", BASE), None),  # a tombstone: the row is gone
    ]
    rows = [{"key": k, "value": None if v is None else json.dumps(v).encode()} for k, v in records]
    monkeypatch.setattr(windows, "read_topic", lambda topic, timeout=15: rows)
    assert windows.window_rows("T", size_ms=60_000) == [
        {"KEY": "A", "WINDOWSTART": BASE, "WINDOWEND": BASE + 60_000, "N": 2},
        {"KEY": "B", "WINDOWSTART": BASE + 60_000, "WINDOWEND": BASE + 120_000, "N": 1},
    ]
    updates = windows.window_updates("T")
    assert [u["DELETED"] for u in updates] == [False, False, False, False, True]
    assert updates[0]["WINDOWEND"] is None  # a time window's end is not in the key


def test_times_print_as_utc() -> None:
    assert windows.hhmmss(BASE + 65_000) == "09:01:05"


def test_recent_morning_is_nine_utc_at_least_ten_minutes_back() -> None:
    minute = 60_000
    # 09:10 or later: this morning
    assert windows.recent_morning(now_ms=BASE + 10 * minute) == BASE
    assert windows.recent_morning(now_ms=BASE + 23 * 3_600_000) == BASE
    # before 09:10: yesterday's, so the lab's last events (09:05 or so) are not in the future
    assert windows.recent_morning(now_ms=BASE + 10 * minute - 1) == BASE - windows.DAY_MS
    assert windows.recent_morning(now_ms=BASE - 9 * 3_600_000) == BASE - windows.DAY_MS
    assert windows.hhmmss(windows.recent_morning()) == "09:00:00"
    assert windows.recent_morning() == windows.recent_morning()  # fixed for the kernel session
    assert windows.recent_morning(hour=0, lead_ms=0, now_ms=BASE) == BASE - 9 * 3_600_000


def test_settle_group_waits_out_a_rebalance_a_late_member_started(tmp_path) -> None:
    """A member that joins a settled group starts a rebalance the owners only hear of at their
    next heartbeat; settle_group must not call the group settled in between (lab 08 read its
    orders twice once, when a rebalance finished during the read)."""
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient, NewTopic

    from streamlab.kafka.testing import ClusterProcess

    with ClusterProcess(str(tmp_path / "kafka")) as kafka:
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        admin.create_topics([NewTopic("orders", 3, 1)])["orders"].result(10)

        def member(name: str) -> Consumer:
            c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "g", "client.id": name})
            c.subscribe(["orders"])
            return c

        members = {name: member(name) for name in ("a", "b", "c")}
        try:
            assert sorted(map(len, windows.settle_group(members, 3).values())) == [1, 1, 1]
            members["d"] = member("d")  # the late one
            settled = windows.settle_group(members, 3)
            assert sorted(map(len, settled.values())) == [0, 1, 1, 1]
            deadline = time.monotonic() + 2 * windows.SETTLED_FOR
            while time.monotonic() < deadline:  # and it stays so: no rebalance was pending
                for c in members.values():
                    c.poll(0.05)
                now = {n: sorted(tp.partition for tp in c.assignment()) for n, c in members.items()}
                assert now == settled
        finally:
            for c in members.values():
                c.close()
