"""Named one-shot timers ("heartbeat-<group>-<member>", "join-<group>", ...): on the asyncio
loop in the broker, moved by hand in unit tests (``ManualTimers.advance``)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable

log = logging.getLogger("streamlab.kafka.coordinator")


class LoopTimers:
    """Named one-shot timers on the running asyncio loop; scheduling a key again replaces it."""

    def __init__(self) -> None:
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def schedule(self, key: str, delay_ms: int, fn: Callable[[], None]) -> None:
        self.cancel(key)
        loop = asyncio.get_running_loop()
        self._handles[key] = loop.call_later(max(delay_ms, 0) / 1000, self._fire, key, fn)

    def _fire(self, key: str, fn: Callable[[], None]) -> None:
        self._handles.pop(key, None)
        try:
            fn()
        except Exception:
            log.exception("timer %r failed", key)

    def cancel(self, key: str) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for key in list(self._handles):
            self.cancel(key)

    def keys(self) -> set[str]:
        return set(self._handles)


class ManualTimers:
    """Timers driven by hand, for tests: ``advance(ms)`` fires what falls due, in order."""

    def __init__(self, now_ms: int = 1_000_000) -> None:
        self.now = now_ms
        self._timers: dict[str, tuple[int, int, Callable[[], None]]] = {}
        self._seq = itertools.count()

    def now_ms(self) -> int:
        return self.now

    def schedule(self, key: str, delay_ms: int, fn: Callable[[], None]) -> None:
        self._timers[key] = (self.now + max(delay_ms, 0), next(self._seq), fn)

    def cancel(self, key: str) -> None:
        self._timers.pop(key, None)

    def cancel_all(self) -> None:
        self._timers.clear()

    def keys(self) -> set[str]:
        return set(self._timers)

    def advance(self, ms: int) -> None:
        target = self.now + ms
        while True:
            due = [(d, s, k) for k, (d, s, _) in self._timers.items() if d <= target]
            if not due:
                break
            deadline, _, key = min(due)
            self.now = deadline
            _, _, fn = self._timers.pop(key)
            fn()
        self.now = target
