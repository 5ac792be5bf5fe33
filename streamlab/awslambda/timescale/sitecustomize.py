"""Put on an execution environment's PYTHONPATH by ``python -m streamlab.awslambda --time-scale N
--scale-sleeps``: the function's ``time.sleep`` (and ``asyncio.sleep``) last 1/N of what they ask,
so a handler written like the article's (``time.sleep(5)``) replays the scaling experiment fast.
Only sleeping is scaled: clocks, timeouts and the REPORT durations stay real."""

import os


def _install() -> None:
    try:
        scale = float(os.environ.get("STREAMLAB_TIME_SCALE") or 1)
    except ValueError:
        return
    if not scale > 1:
        return
    import asyncio
    import time

    real_sleep = time.sleep
    real_async_sleep = asyncio.sleep

    def sleep(seconds: float) -> None:
        real_sleep(max(0.0, seconds) / scale)

    async def async_sleep(delay: float, result=None):  # type: ignore[no-untyped-def]
        return await real_async_sleep(max(0.0, delay) / scale, result)

    sleep.__doc__ = real_sleep.__doc__
    time.sleep = sleep
    asyncio.sleep = async_sleep  # type: ignore[assignment]


_install()
