"""Rates ("10/s", "100/m", "2/h", "unlimited") and a limiter that paces records evenly."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from streamlab.datagen.datasets import DatagenError

UNLIMITED = ("unlimited", "max")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|m|min|h|hour))?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}
MAX_CATCH_UP = 1.0  # seconds of backlog the limiter will make up in a burst


def parse_rate(rate: str | float | None) -> float | None:
    """Records per second for a rate like ``"10/s"``; None means as fast as possible.

    A bare number is records per second. Raises DatagenError for anything else.
    """
    if rate is None or (isinstance(rate, str) and rate.strip().lower() in UNLIMITED):
        return None
    if isinstance(rate, int | float) and not isinstance(rate, bool):
        per_second = float(rate)
    else:
        match = _RATE.match(str(rate))
        if not match:
            raise DatagenError(
                f"bad rate {rate!r}: write N/s, N/m or N/h (e.g. 10/s, 100/m), or 'unlimited'"
            )
        per_second = float(match[1]) / _SECONDS[(match[2] or "s").lower()]
    if not per_second > 0 or per_second == float("inf"):
        raise DatagenError(f"bad rate {rate!r}: it must be more than zero")
    return per_second


class RateLimiter:
    """Spaces records 1/rate apart on a fixed schedule.

    If the producer falls behind (a stalled broker, a frozen process), it makes up at most
    MAX_CATCH_UP seconds of backlog and then re-anchors the schedule, so a lesson never sees a
    burst of thousands of records after a pause. It waits in slices of at most SLICE seconds so
    that a stop request or a new rate takes effect at once even at "1/h".
    """

    SLICE = 0.5

    def __init__(
        self,
        per_second: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.clock = clock
        self.sleep = sleep  # tests pass a fake; otherwise stop.wait / time.sleep
        self.anchor: float | None = None
        self._lock = threading.Lock()
        self._next_rate: tuple[float | None] | None = (per_second,)
        self._apply_rate()

    def set_rate(self, per_second: float | None) -> None:
        """Change the pace (safe from another thread): the next record is due at once, later
        ones at the new spacing."""
        with self._lock:  # applied by the waiting thread, between two slices
            self._next_rate = (per_second,)

    def _apply_rate(self) -> None:
        if self._next_rate is not None:
            with self._lock:
                (per_second,), self._next_rate = self._next_rate, None
            self.per_second = per_second
            self.interval = 1.0 / per_second if per_second else 0.0
            self.sent, self.anchor = 0, None

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until the next record is due; False if ``stop`` was set meanwhile."""
        self._apply_rate()
        while self.interval:
            now = self.clock()
            if self.anchor is None:
                self.anchor = now
            due = self.anchor + self.sent * self.interval
            if now - due > MAX_CATCH_UP:
                self.anchor, self.sent = now, 0
                break
            if due <= now:
                break
            pause = min(due - now, self.SLICE)
            if self.sleep is not None:
                self.sleep(pause)
            elif stop is not None:
                if stop.wait(pause):
                    return False
            else:
                time.sleep(pause)
            self._apply_rate()
        self.sent += 1
        return not (stop is not None and stop.is_set())
