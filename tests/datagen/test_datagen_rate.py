"""Rates and pacing, on a fake clock (behaviour, not timing)."""

from __future__ import annotations

import threading

import pytest

from streamlab import datagen
from streamlab.datagen.rate import MAX_CATCH_UP, RateLimiter, parse_rate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.now += seconds


def limiter(rate: str) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(parse_rate(rate), clock=clock, sleep=clock.sleep), clock


@pytest.mark.parametrize(
    "text, per_second",
    [("10/s", 10), ("100/m", 100 / 60), ("2/h", 2 / 3600), (" 5 / sec ", 5), ("0.5/s", 0.5),
     ("30/min", 0.5), ("7", 7), (3, 3), ("unlimited", None), ("MAX", None), (None, None)],
)  # fmt: skip
def test_parse_rate(text, per_second) -> None:
    assert parse_rate(text) == (pytest.approx(per_second) if per_second else None)


@pytest.mark.parametrize("text", ["10/x", "10/", "/s", "abc", "", "0/s", "-1/s", "1e3/s", 0, -2])
def test_bad_rates_are_clear_errors(text) -> None:
    with pytest.raises(datagen.DatagenError, match="bad rate"):
        parse_rate(text)


def test_records_are_spaced_one_interval_apart() -> None:
    lim, clock = limiter("10/s")
    start = clock.now
    times = []
    for _ in range(50):
        assert lim.wait()
        times.append(clock.now - start)
    assert times[0] == 0  # the first record goes at once
    assert times == pytest.approx([i / 10 for i in range(50)])


def test_slow_rates_wait_in_short_slices() -> None:
    lim, clock = limiter("100/m")
    lim.wait()
    lim.wait()
    assert sum(clock.slept) == pytest.approx(0.6)
    assert max(clock.slept) <= RateLimiter.SLICE  # so stop and rate changes act at once


def test_falling_behind_does_not_cause_a_burst() -> None:
    lim, clock = limiter("10/s")
    for _ in range(5):
        lim.wait()
    clock.now += 60  # a frozen process or a stalled broker
    before = clock.now
    for _ in range(11):
        lim.wait()
    # The backlog (600 records) is dropped, not sent in a burst: the pace stays 10/s.
    assert clock.now - before == pytest.approx(1.0)


def test_a_short_stall_is_made_up() -> None:
    lim, clock = limiter("10/s")
    lim.wait()
    clock.now += MAX_CATCH_UP / 2
    before = clock.now
    for _ in range(int(MAX_CATCH_UP / 2 * 10)):
        lim.wait()
    assert clock.now == before  # the records that were due go out at once


def test_unlimited_never_waits() -> None:
    lim, clock = limiter("unlimited")
    for _ in range(1000):
        assert lim.wait()
    assert clock.slept == []


def test_stop_ends_a_wait() -> None:
    stop = threading.Event()
    lim = RateLimiter(parse_rate("1/h"))
    assert lim.wait(stop)  # the first record is due at once
    threading.Timer(0.05, stop.set).start()
    assert lim.wait(stop) is False  # returns when stop is set, not in an hour


def test_a_new_rate_applies_to_the_next_record() -> None:
    lim, clock = limiter("1/h")
    lim.wait()
    lim.set_rate(parse_rate("10/s"))
    before = clock.now
    for _ in range(10):
        lim.wait()
    assert clock.now - before == pytest.approx(0.9)
