"""Stream time (and an operator's other clocks) kept in a state store, so a restore brings it back.

Stream time is the largest record timestamp an operator has seen; it drives grace (late records
are dropped), EMIT FINAL (windows close) and the retention of window stores. Kafka Streams
recovers it after a restart from the partition time it writes into the committed offsets'
metadata and from the timestamps in restored window segments. Here each stateful operator that
needs it keeps its clocks in a small store of its own (``<operator>-StreamTime``): one entry
per clock, written only when the clock moves, so it is in the changelog with the state it goes
with and a restore (from a checkpoint or in full) recovers exactly what the operator had seen.

Clocks are global to the operator (one topology consumes every partition of a query; see
:class:`streamlab.ksql.kafka_runtime.state.KeyedStore`), so they live in store partition 0.
They are read from the store once, on first use: that is after the runtime has restored the
stores (topologies are built first, restored, then fed), never before.
"""

from __future__ import annotations

from streamlab.ksql.state import open_store


class Clocks:
    """Named integer clocks (``-1`` until set) of one operator, in the store ``name``."""

    def __init__(self, context, name: str) -> None:
        # moved by nearly every record: written at the commit (``commit_cache``), so a restart
        # resumes from the stream time of the committed input, which is then replayed
        self.store = open_store(context, name, getattr(context, "commit_cache", None))
        self._values: dict[str, int] | None = None

    def _load(self) -> dict[str, int]:
        if self._values is None:
            self._values = {key[0]: value for key, value in self.store.partition(0).range()}
        return self._values

    def get(self, clock: str) -> int:
        return self._load().get(clock, -1)

    def advance(self, clock: str, timestamp: int) -> int:
        """Move ``clock`` forward to ``timestamp`` (never back); returns its value."""
        values = self._load()
        current = values.get(clock, -1)
        if timestamp <= current:
            return current
        values[clock] = timestamp
        self.store.partition(0).put((clock,), timestamp)
        return timestamp

    def next(self, clock: str) -> int:
        """A counter: the next value of ``clock`` (0, 1, 2, ...), e.g. arrival order."""
        return self.advance(clock, self.get(clock) + 1)


def expiry_due(marks: dict[int, int], partition: int, stream_time: int, retention: int) -> bool:
    """Whether a store partition should drop entries older than ``stream_time - retention`` now.

    Kafka Streams drops whole segments of a window store (segment interval ``max(retention / 2,
    60 s)``) as stream time passes; likewise a partition is swept when its horizon enters a new
    segment interval. ``marks`` (the last sweep per partition) is only a cache of work done:
    after a restart the first record sweeps again, which changes nothing but the store.
    """
    horizon = stream_time - retention
    if horizon < 0:
        return False
    mark = horizon // max(retention // 2, 60_000)
    if marks.get(partition, -1) >= mark:
        return False
    marks[partition] = mark
    return True
