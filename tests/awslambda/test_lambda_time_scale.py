"""``--time-scale 60 --scale-sleeps``: a function's sleeps last 1/60 as long (the article's
``time.sleep(5)`` handler replays fast); without the flag (other modules) they are real."""

from __future__ import annotations

ENDPOINT_ARGS = ("--time-scale", "60", "--scale-sleeps")

CODE = """
import asyncio, os, time
def handler(event, context):
    t = time.monotonic()
    time.sleep(6)
    asyncio.run(asyncio.sleep(6))
    return {"slept": time.monotonic() - t, "scale": os.environ.get("STREAMLAB_TIME_SCALE")}
"""


def test_sleeps_are_scaled_but_timeouts_are_not(deploy):
    # 12 s of sleeping inside a 3 s timeout: only possible if the sleeps are scaled
    fn = deploy(CODE, Timeout=3)
    r, body = deploy.invoke(fn)
    assert "FunctionError" not in r, body
    assert body["scale"] == "60.0"
    assert body["slept"] < 3
