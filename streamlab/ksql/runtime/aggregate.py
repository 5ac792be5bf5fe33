"""Aggregation operators: stream and table GROUP BY, time and session windows, HAVING.

Every operator keeps its state in a :class:`~streamlab.ksql.state.Store` (in memory here; the
Kafka runtime gives it a RocksDB backend and a changelog). Rows leaving an aggregation are
``key = [group key values...]`` (plus a trailing :class:`~streamlab.ksql.runtime.windows.Window`
when windowed) and ``value = [key copies..., aggregate results..., (WINDOWSTART, WINDOWEND)]``.

Semantics follow Kafka Streams as ksqlDB runs it with the record cache off (QTT):

* stream aggregation: every accepted record emits the group's new row; the timestamp is
  ``max(record ts, previous aggregate ts)``; NULL values and NULL group keys are skipped;
* table aggregation: an update first *undoes* the old row in its old group (emitting that
  group), then adds the new row (emitting that group);
* time windows: a record updates window W only if ``W.end > streamTime - grace``; EMIT FINAL
  emits a window once ``W.end <= streamTime - grace``, and never emits one that fell out of the
  store's retention first (``W.start < maxStartSeen - retention``);
* session windows: a record merges every session of its key within ``gap``; under EMIT CHANGES
  each merged-away session is deleted with a tombstone first; EMIT FINAL emits a session once
  ``end < streamTime - grace``.
"""

from __future__ import annotations

import heapq
from typing import Any

from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.formats import WindowType
from streamlab.ksql.planner.aggregate import Aggregate, Having
from streamlab.ksql.runtime.operators import _BUILDERS, Processor, QueryContext
from streamlab.ksql.runtime.records import Row
from streamlab.ksql.runtime.windows import Window, time_windows
from streamlab.ksql.state import Store, key_order, open_store


class AggregateProcessor(Processor):
    """Non-windowed stream aggregation (and the base of the other aggregations)."""

    def __init__(self, step: Aggregate, context: QueryContext, store: Store | None = None):
        parent = step.source
        assert parent is not None
        compiler = ExpressionCompiler(parent.columns(), context.functions)
        self.context = context
        self.step = step
        self.keys = [compiler.compile(e, "GroupBy") for e in step.group_by]
        self.args = [
            [compiler.compile(a, "Aggregate") for a in c.arguments] for c in step.aggregates
        ]
        self.udafs = [c.udaf for c in step.aggregates]
        self.store = (
            store if store is not None else open_store(context, "Aggregate-Aggregate-Materialize")
        )
        self.on_error = context.expression_error("GROUP BY")
        self.on_arg_error = context.expression_error("aggregate argument")

    # ---- helpers --------------------------------------------------------------------------------

    def group_key(self, value: list[Any]) -> tuple[Any, ...] | None:
        key = tuple(k.evaluate(value, self.on_error) for k in self.keys)
        for index, part in enumerate(key):
            if part is None:
                self.context.log.processing_error(
                    self.context.query_id,
                    f"Group-by column with index {index} resolved to null. The source row will "
                    "be excluded from the table.",
                    value,
                )
                return None
        return key

    def arguments(self, value: list[Any]) -> list[list[Any]]:
        return [[a.evaluate(value, self.on_arg_error) for a in args] for args in self.args]

    def initial(self) -> list[Any]:
        return [u.initial() for u in self.udafs]

    def add(self, accs: list[Any], args: list[list[Any]]) -> list[Any]:
        return [u.add(acc, a) for u, acc, a in zip(self.udafs, accs, args, strict=True)]

    def undo(self, accs: list[Any], args: list[list[Any]]) -> list[Any]:
        return [
            u.undo(acc, a) if u.undo is not None else acc
            for u, acc, a in zip(self.udafs, accs, args, strict=True)
        ]

    def merge(self, left: list[Any], right: list[Any]) -> list[Any]:
        return [
            u.merge(x, y) if u.merge is not None else y
            for u, x, y in zip(self.udafs, left, right, strict=True)
        ]

    def output(
        self, key: tuple[Any, ...], accs: list[Any], timestamp: int, row: Row, window=None
    ) -> None:
        value = [*key, *(u.result(a) for u, a in zip(self.udafs, accs, strict=True))]
        out_key: list[Any] = list(key)
        if window is not None:
            value += [window.start, window.end]
            out_key.append(window)
        self.forward(Row(out_key, value, timestamp, row.partition, row.offset))

    def forward(self, row: Row) -> None:
        if self.downstream is not None:
            self.downstream.process(row)

    # ---- processing -----------------------------------------------------------------------------

    def process(self, row: Row) -> None:
        if row.value is None:
            return
        key = self.group_key(row.value)
        if key is None:
            return
        store = self.store.partition(row.partition)
        accs, ts = store.get(key) or (self.initial(), row.timestamp)
        accs = self.add(accs, self.arguments(row.value))
        ts = max(ts, row.timestamp)
        store.put(key, (accs, ts))
        self.output(key, accs, ts, row)


class TableAggregateProcessor(AggregateProcessor):
    """GROUP BY over a table: undo the previous row of the source key, then add the new one."""

    def __init__(self, step: Aggregate, context: QueryContext, store: Store | None = None):
        super().__init__(step, context, store)
        self.rows = open_store(context, "KsqlTopic-Reduce")

    def process(self, row: Row) -> None:
        source_key = tuple(row.key or ())
        rows = self.rows.partition(row.partition)
        store = self.store.partition(row.partition)
        old = rows.get(source_key)
        if row.value is None:
            rows.delete(source_key)
        else:
            rows.put(source_key, row.value)
        new_key = self.group_key(row.value) if row.value is not None else None
        if old is not None and new_key is not None and self.group_key(old) == new_key:
            # same group (Kafka Streams >= 3.5): undo and add in one step, emit once
            found = store.get(new_key) or (self.initial(), row.timestamp)
            accs = self.add(self.undo(found[0], self.arguments(old)), self.arguments(row.value))
            ts = max(found[1], row.timestamp)
            store.put(new_key, (accs, ts))
            self.output(new_key, accs, ts, row)
            return
        if old is not None:
            old_key = self.group_key(old)
            if old_key is not None:
                found = store.get(old_key)
                if found is not None:
                    accs = self.undo(found[0], self.arguments(old))
                    ts = max(found[1], row.timestamp)
                    store.put(old_key, (accs, ts))
                    self.output(old_key, accs, ts, row)
        if row.value is None:
            return
        key = new_key
        if key is None:
            return
        accs, ts = store.get(key) or (self.initial(), row.timestamp)
        accs = self.add(accs, self.arguments(row.value))
        ts = max(ts, row.timestamp)
        store.put(key, (accs, ts))
        self.output(key, accs, ts, row)


class TimeWindowAggregateProcessor(AggregateProcessor):
    """TUMBLING / HOPPING windows; state keyed by ``(group key, window start)``."""

    def __init__(self, step: Aggregate, context: QueryContext, store: Store | None = None):
        super().__init__(step, context, store)
        window = step.window
        assert window is not None
        self.window = window
        self.stream_time = -1
        self.max_start = -1
        # EMIT FINAL: open windows by end time, so closing them does not scan the store
        # (a restored store must rebuild this index from its entries)
        self.open_windows: list[tuple[int, int, int, tuple[Any, ...]]] = []
        self.sequence = 0

    def process(self, row: Row) -> None:
        if row.value is None:
            return
        key = self.group_key(row.value)
        if key is None:
            return
        spec = self.window
        timestamp = row.timestamp
        self.stream_time = max(self.stream_time, timestamp)
        close_time = self.stream_time - spec.grace_ms
        store = self.store.partition(row.partition)
        args = self.arguments(row.value)
        for start in time_windows(timestamp, spec.size_ms, spec.advance_ms):
            end = start + spec.size_ms
            if end <= close_time:
                self.context.log.processing_error(
                    self.context.query_id,
                    f"Skipping record for expired window. window=[{start},{end}) "
                    f"expiration={close_time} streamTime={self.stream_time}",
                    row.value,
                )
                continue
            state_key = (*key, start)
            found = store.get(state_key)
            if found is None and spec.emit_final:
                self.sequence += 1
                heapq.heappush(self.open_windows, (end, self.sequence, row.partition, state_key))
            accs, ts = found or (self.initial(), timestamp)
            accs = self.add(accs, args)
            ts = max(ts, timestamp)
            store.put(state_key, (accs, ts))
            self.max_start = max(self.max_start, start)
            if not spec.emit_final:
                self.output(key, accs, ts, row, Window(start, end))
        if spec.emit_final:
            self._emit_closed(store, close_time, row)

    def _emit_closed(self, store, close_time: int, row: Row) -> None:
        spec = self.window
        closed = []
        while self.open_windows and self.open_windows[0][0] <= close_time:
            _, _, partition, state_key = heapq.heappop(self.open_windows)
            found = self.store.partition(partition).get(state_key)
            if found is not None:
                closed.append((state_key[-1], state_key, found[0], found[1], partition))
        closed.sort(key=lambda c: (c[0], key_order(c[1])))
        horizon = self.max_start - spec.retention_ms
        for start, state_key, accs, ts, partition in closed:
            self.store.partition(partition).delete(state_key)
            if start < horizon:
                continue  # fell out of the window store's retention before it closed
            self.output(state_key[:-1], accs, ts, row, Window(start, start + spec.size_ms))


class SessionWindowAggregateProcessor(AggregateProcessor):
    """SESSION windows: state per group key is a list of ``(start, end, accs, ts)`` sessions."""

    def __init__(self, step: Aggregate, context: QueryContext, store: Store | None = None):
        super().__init__(step, context, store)
        window = step.window
        assert window is not None
        self.window = window
        self.stream_time = -1
        self.open_sessions: list[tuple[int, int, int, tuple[Any, ...]]] = []
        self.sequence = 0

    def process(self, row: Row) -> None:
        if row.value is None:
            return
        key = self.group_key(row.value)
        if key is None:
            return
        spec = self.window
        gap = spec.size_ms
        timestamp = row.timestamp
        self.stream_time = max(self.stream_time, timestamp)
        close_time = self.stream_time - spec.grace_ms - gap
        store = self.store.partition(row.partition)
        # sessions that ended before the close time have left the store (retention gap+grace)
        sessions = list(store.get(key) or [])
        merged = [
            s
            for s in sessions
            if s[1] >= close_time and s[1] >= timestamp - gap and s[0] <= timestamp + gap
        ]
        start = min([timestamp, *(s[0] for s in merged)])
        end = max([timestamp, *(s[1] for s in merged)])
        if end < close_time:
            self.context.log.processing_error(
                self.context.query_id,
                f"Skipping record for expired session. window=[{start},{end}] "
                f"expiration={close_time} streamTime={self.stream_time}",
                row.value,
            )
            return
        accs = self.initial()
        ts = timestamp
        for s in sorted(merged, key=lambda s: s[0]):
            accs = self.merge(accs, s[2])
            ts = max(ts, s[3])
        accs = self.add(accs, self.arguments(row.value))
        remaining = [s for s in sessions if s not in merged]
        if not spec.emit_final:
            for s in merged:
                window = Window(s[0], s[1], True)
                self.forward(Row([*key, window], None, s[1], row.partition, row.offset))
        remaining.append((start, end, accs, ts))
        remaining.sort(key=lambda s: s[0])
        store.put(key, remaining)
        if spec.emit_final:
            self.sequence += 1
            heapq.heappush(self.open_sessions, (end, self.sequence, row.partition, key))
        if not spec.emit_final:
            self.output(key, accs, end, row, Window(start, end, True))
        else:
            self._emit_closed(store, close_time, row)

    def _emit_closed(self, store, close_time: int, row: Row) -> None:
        closed = []
        candidates = []
        while self.open_sessions and self.open_sessions[0][0] < close_time:
            _, _, partition, key = heapq.heappop(self.open_sessions)
            if (partition, key) not in candidates:
                candidates.append((partition, key))
        for partition, key in candidates:
            store = self.store.partition(partition)
            sessions = store.get(key) or []
            keep = []
            for s in sessions:
                if s[1] < close_time:
                    closed.append((s[1], key, s))
                else:
                    keep.append(s)
            if len(keep) != len(sessions):
                if keep:
                    store.put(key, keep)
                else:
                    store.delete(key)
        closed.sort(key=lambda c: (c[0], key_order(c[1])))
        for _, key, (start, end, accs, _ts) in closed:
            self.output(key, accs, end, row, Window(start, end, True))


class HavingProcessor(Processor):
    """HAVING: rows that pass are forwarded; a key that stops passing gets one tombstone."""

    def __init__(self, step: Having, context: QueryContext) -> None:
        parent = step.source
        assert parent is not None and step.predicate is not None
        compiler = ExpressionCompiler(parent.columns(), context.functions)
        self.predicate = compiler.compile(step.predicate, "Having")
        self.on_error = context.expression_error("HAVING")
        self.present: set[tuple[Any, ...]] = set()

    def process(self, row: Row) -> None:
        key = tuple(row.key or ())
        passes = row.value is not None and self.predicate.evaluate(row.value, self.on_error) is True
        if passes:
            self.present.add(key)
        elif key in self.present:
            self.present.discard(key)
            row = Row(row.key, None, row.timestamp, row.partition, row.offset, row.headers)
        else:
            return
        if self.downstream is not None:
            self.downstream.process(row)


def build_aggregate(step: Aggregate, context: QueryContext, emit=None) -> Processor:
    if step.from_table:
        return TableAggregateProcessor(step, context)
    if step.window is None:
        return AggregateProcessor(step, context)
    if step.window.type is WindowType.SESSION:
        return SessionWindowAggregateProcessor(step, context)
    return TimeWindowAggregateProcessor(step, context)


def build_having(step: Having, context: QueryContext, emit=None) -> Processor:
    return HavingProcessor(step, context)


_BUILDERS[Aggregate] = build_aggregate
_BUILDERS[Having] = build_having
