"""The Lambda entry point: ``lambda_fn.handler.handler``.

Module-level code runs once per execution environment (the Init phase): the settings and the
secret are read and the producer is created here, never inside ``handler`` (a producer per
invocation means thousands of short-lived clients, each with its own connections and buffers).
Between invocations the environment is frozen, so the producer's background thread stops; every
invocation therefore flushes before it returns (see app.py).
"""

from __future__ import annotations

import logging
from typing import Any

from lambda_fn.app import SettlementApp

logging.getLogger("lambda_fn").setLevel(logging.INFO)

app = SettlementApp.from_environment()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.handle(event, context)
