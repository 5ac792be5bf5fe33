"""The broker's scheduler (``streamlab.kafka.periodic``): a first run after the initial delay,
then one per interval; a failing run is logged and the next one still comes."""

from __future__ import annotations

import asyncio
import logging

from streamlab.kafka.periodic import Periodic


def test_first_run_after_the_initial_delay_not_the_interval() -> None:
    async def main() -> int:
        ran = asyncio.Event()
        runs = 0

        def job() -> None:
            nonlocal runs
            runs += 1
            ran.set()

        # an hour's interval: only the initial delay can make the job run within the test
        task = Periodic("job", 3_600_000, job, logging.getLogger("t"), initial_delay_ms=0)
        await task.start()
        await asyncio.wait_for(ran.wait(), 10)
        await task.stop()
        return runs

    assert asyncio.run(main()) == 1


def test_a_failing_run_is_logged_and_the_next_one_comes(caplog) -> None:
    async def main() -> int:
        calls = 0
        second = asyncio.Event()

        async def job() -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("boom")
            second.set()

        task = Periodic("flaky pass", 1, job, logging.getLogger("t.periodic"))
        await task.start()
        await asyncio.wait_for(second.wait(), 10)
        await task.stop()
        return calls

    with caplog.at_level(logging.ERROR, "t.periodic"):
        assert asyncio.run(main()) >= 2
    assert "flaky pass failed" in caplog.text
