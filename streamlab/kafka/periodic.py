"""A broker's periodic background work (Kafka's ``KafkaScheduler.schedule(name, fun, delay,
period)``): the log cleaner's and retention's passes, the transaction coordinator's abort of
timed-out transactions.

One asyncio task per job, on the broker's event loop: it sleeps ``initial_delay_ms`` (default:
the interval), runs the job, then sleeps ``interval_ms`` and runs it again. A failing run is
logged and the next one still comes, as a scheduled task in Kafka keeps running after an
exception.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    """Runs ``job`` (a function or a coroutine function) every ``interval_ms`` between
    :meth:`start` and :meth:`stop`; a failure is logged on ``log`` as ``"<name> failed"``."""

    def __init__(
        self,
        name: str,
        interval_ms: int,
        job: Callable[[], Awaitable[None] | None],
        log: logging.Logger,
        initial_delay_ms: int | None = None,
    ) -> None:
        self.name = name
        self.interval_ms = interval_ms
        # Kafka's scheduler: first run after this delay, then every interval_ms
        self.initial_delay_ms = interval_ms if initial_delay_ms is None else initial_delay_ms
        self.job = job
        self.log = log
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _loop(self) -> None:
        delay_ms = self.initial_delay_ms
        while True:
            await asyncio.sleep(delay_ms / 1000)
            delay_ms = self.interval_ms
            try:
                done = self.job()
                if inspect.isawaitable(done):
                    await done
            except Exception:
                self.log.exception("%s failed", self.name)
