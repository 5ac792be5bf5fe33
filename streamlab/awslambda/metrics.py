"""Per-function counters, named like the AWS/Lambda CloudWatch metrics; concurrency over time."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

KEEP_SAMPLES = 10_000


@dataclass
class FunctionMetrics:
    invocations: int = 0
    errors: int = 0  # function errors: exceptions, timeouts, crashes, init failures
    throttles: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    duration_ms_total: float = 0.0
    concurrent_executions: int = 0
    max_concurrent_executions: int = 0
    # (epoch seconds, concurrent executions) after every change, for "scaling over time" plots
    concurrency: collections.deque[tuple[float, int]] = field(
        default_factory=lambda: collections.deque(maxlen=KEEP_SAMPLES)
    )

    def busy(self, delta: int) -> None:
        self.concurrent_executions += delta
        self.max_concurrent_executions = max(
            self.max_concurrent_executions, self.concurrent_executions
        )
        self.concurrency.append((time.time(), self.concurrent_executions))

    def snapshot(self) -> dict[str, Any]:
        return {
            "Invocations": self.invocations,
            "Errors": self.errors,
            "Throttles": self.throttles,
            "Timeouts": self.timeouts,
            "ColdStarts": self.cold_starts,
            "Duration": self.duration_ms_total,
            "ConcurrentExecutions": self.concurrent_executions,
            "MaxConcurrentExecutions": self.max_concurrent_executions,
            "ConcurrencyOverTime": [[round(t, 3), n] for t, n in self.concurrency],
        }
