"""Aggregation operators: stream and table GROUP BY, time and session windows, HAVING.

Every operator keeps its state in a :class:`~streamlab.ksql.state.Store` (in memory here; the
Kafka runtime gives it a RocksDB backend and a changelog). Rows leaving an aggregation are
``key = [group key values...]`` (plus a trailing :class:`~streamlab.ksql.runtime.windows.Window`
when windowed) and ``value = [key copies..., aggregate results..., (WINDOWSTART, WINDOWEND)]``.

Semantics follow Kafka Streams as ksqlDB runs it with the record cache off (QTT):

* stream aggregation: every accepted record emits the group's new row; the timestamp is
  ``max(record ts, previous aggregate ts)``; NULL values and NULL group keys are skipped;
* table aggregation: an update *undoes* the old row in its old group and adds the new row to
  its new group, each group emitted once (one emit when the group stays);
* time windows: a record updates window W only if ``W.end > streamTime - grace``; EMIT FINAL
  emits a window once ``W.end <= streamTime - grace``, and never emits one that fell out of the
  store's retention first (``W.start < maxStartSeen - retention``);
* session windows: a record merges every session of its key within ``gap``; under EMIT CHANGES
  each merged-away session is deleted with a tombstone first; EMIT FINAL emits a session once
  ``end < streamTime - grace``.

With the cache on (the Kafka runtime's ``cache.max.bytes.buffering`` > 0, ksqlDB's default),
the aggregates sit behind it (:mod:`streamlab.ksql.state.caching`): an update waits there with
the row that made it and is forwarded when the cache flushes at the commit
(:meth:`AggregateProcessor.flushed`), so downstream sees each key's last update per commit
interval, as in ksqlDB with its defaults. Session windows are cached per group key (all its
sessions in one entry); the flush forwards what changed against the store, as Kafka Streams'
``CachingSessionStore`` forwards each dirty session: a tombstone for a flushed session merged
away since, the new value of a new or grown session, nothing for a session that was created
and merged away between two flushes (:meth:`SessionWindowAggregateProcessor.flushed`).

Nothing is kept between records outside the stores, so a restore of their changelogs brings
an operator back exactly (``tests/ksql/test_operator_restore.py``):

==================================== ===========================================================
store                                entries
==================================== ===========================================================
``Aggregate-Aggregate-Materialize``  the aggregates (windows stay after they close, until
                                     retention: pull queries read them)
``KsqlTopic-Reduce``                 table aggregation: each source key's current row
``Aggregate-Aggregate-StreamTime``   windows: stream time, largest window start seen
``Suppress-store``                   EMIT FINAL: the windows awaiting their close, in close order
``Aggregate-HavingFilter``           HAVING: the keys whose last row passed (owed a tombstone)
==================================== ===========================================================
"""

from __future__ import annotations

from typing import Any, NamedTuple

from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.formats import WindowType
from streamlab.ksql.planner.aggregate import Aggregate, Having
from streamlab.ksql.runtime.buffer import TimeOrderedBuffer
from streamlab.ksql.runtime.operators import _BUILDERS, Processor, QueryContext
from streamlab.ksql.runtime.records import Row
from streamlab.ksql.runtime.streamtime import Clocks, expiry_due
from streamlab.ksql.runtime.windows import Window, time_windows
from streamlab.ksql.state import Store, open_store
from streamlab.ksql.state.caching import CachingStore, CachingStorePartition

#: the aggregates (ksqlDB's name for an aggregation's materialized store)
MATERIALIZE = "Aggregate-Aggregate-Materialize"
#: the EMIT FINAL suppression buffer (Kafka Streams: ``<suppress name>-store``)
SUPPRESS_STORE = "Suppress-store"


class AggregateProcessor(Processor):
    """Non-windowed stream aggregation (and the base of the other aggregations)."""

    def __init__(
        self,
        step: Aggregate,
        context: QueryContext,
        store: Store | None = None,
        cached: bool = False,
        forward_on_flush: bool = True,
    ):
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
        if store is None:
            # with the record cache on, the aggregates wait in it and are forwarded when it
            # flushes (a commit): the latest row per key, as ksqlDB with its defaults
            listener = self.flushed if forward_on_flush else None
            store = open_store(context, MATERIALIZE, context.cache if cached else None, listener)
        self.store = store
        self.deferred = isinstance(store, CachingStore) and store.listener is not None
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

    def update(self, store: Any, key: tuple[Any, ...], accs: list[Any], ts: int, row: Row) -> None:
        """Store a group's new aggregate and forward it: at once, or, behind the record cache,
        when the cache lets it go (:meth:`flushed`, with ``row`` as its origin)."""
        if self.deferred:
            store.put(key, (accs, ts), row)
        else:
            store.put(key, (accs, ts))
            self.flushed(key, (accs, ts), row)

    def flushed(self, key: tuple[Any, ...], value: Any, origin: Row) -> None:
        """Forward a stored aggregate (``key`` is the store's: windowed, it ends with the start)."""
        if value is not None:  # stream aggregates are never deleted but by retention
            self.output(key, value[0], value[1], origin)

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
        self.update(store, key, accs, ts, row)


class Change(NamedTuple):
    """Kafka Streams' ``Change<V>``: what one update of a table sends to its GROUP BY's
    aggregation, keyed by a group key: the row ``new`` joins the group, ``old`` leaves it.

    Either may be None, never both; both are set only when the old and the new row are in the
    same group (Kafka Streams >= 3.5, KIP-904: undone and added in one step, emitted once).
    """

    new: list[Any] | None
    old: list[Any] | None


class TableGroupBy(Processor):
    """The upstream half of a table's GROUP BY (Kafka Streams' materialized KTable source and
    ``KTableRepartitionMap``): keeps each source key's current row in ``KsqlTopic-Reduce`` and,
    per update, forwards :class:`Change` rows keyed by group key: the old row's retraction
    under its old group and the new row's addition under its new group, or one change holding
    both when the group stays. A NULL group key is logged and that side is dropped.

    ``downstream`` is the aggregation itself in one topology, the repartition topic's sink when
    the Kafka runtime splits the query (``Aggregate-GroupBy-repartition``).
    """

    def __init__(self, aggregate: TableAggregateProcessor, context: QueryContext) -> None:
        self.aggregate = aggregate
        self.rows = open_store(context, "KsqlTopic-Reduce")

    def process(self, row: Row) -> None:
        source_key = tuple(row.key or ())
        rows = self.rows.partition(row.partition)
        old = rows.get(source_key)
        new = row.value
        if new is None:
            rows.delete(source_key)
        else:
            rows.put(source_key, new)
        group_key = self.aggregate.group_key
        new_key = group_key(new) if new is not None else None
        old_key = group_key(old) if old is not None else None
        if old_key is not None and old_key == new_key:
            self._forward(new_key, Change(new, old), row)
            return
        if old_key is not None:  # the retraction first, as Kafka Streams forwards it
            self._forward(old_key, Change(None, old), row)
        if new_key is not None:
            self._forward(new_key, Change(new, None), row)

    def _forward(self, key: tuple[Any, ...], change: Change, row: Row) -> None:
        if self.downstream is not None:
            self.downstream.process(
                Row(list(key), change, row.timestamp, row.partition, row.offset, row.headers)
            )


class TableAggregateProcessor(AggregateProcessor):
    """GROUP BY over a table, the downstream half (Kafka Streams' ``KTableAggregate``): a
    :class:`Change` keyed by group key undoes its old row and adds its new row, then emits the
    group once. A change whose old row finds no aggregate (it was never added) is ignored.

    Source rows are first mapped by :attr:`group_by` (:class:`TableGroupBy`), directly in one
    topology; the Kafka runtime routes its changes through ``Aggregate-GroupBy-repartition``.
    """

    def __init__(
        self,
        step: Aggregate,
        context: QueryContext,
        store: Store | None = None,
        cached: bool = False,
    ):
        super().__init__(step, context, store, cached)
        self.group_by = TableGroupBy(self, context)
        self.group_by.downstream = self

    def process(self, row: Row) -> None:
        change = row.value
        if not isinstance(change, Change):  # a source row: one topology
            self.group_by.process(row)
            return
        key = tuple(row.key or ())
        store = self.store.partition(row.partition)
        found = store.get(key)
        if change.old is not None:
            if found is None and change.new is None:
                return
            accs, ts = found or (self.initial(), row.timestamp)
            accs = self.undo(accs, self.arguments(change.old))
        else:
            accs, ts = found or (self.initial(), row.timestamp)
        if change.new is not None:
            accs = self.add(accs, self.arguments(change.new))
        ts = max(ts, row.timestamp)
        self.update(store, key, accs, ts, row)


class TimeWindowAggregateProcessor(AggregateProcessor):
    """TUMBLING / HOPPING windows; state keyed by ``(group key, window start)``.

    Every piece of state is in a store: the windows in ``Aggregate-Aggregate-Materialize``
    (kept after they close, until retention, so pull queries see them), stream time and the
    largest window start seen in ``Aggregate-Aggregate-StreamTime``, and under EMIT FINAL the
    windows awaiting their close in ``Suppress-store`` (the suppression buffer; ksqlDB names
    its suppress operator ``Suppress``, Kafka Streams its buffer ``<name>-store``).
    """

    def __init__(
        self,
        step: Aggregate,
        context: QueryContext,
        store: Store | None = None,
        cached: bool = False,
    ):
        window = step.window
        assert window is not None
        # EMIT FINAL forwards from the suppression buffer, not from the cache
        super().__init__(step, context, store, cached, forward_on_flush=not window.emit_final)
        self.window = window
        self.clocks = Clocks(context, "Aggregate-Aggregate-StreamTime")
        # EMIT FINAL: (window end, start, partition, *group key) -> 1, in close order
        self.buffer = (
            TimeOrderedBuffer(open_store(context, SUPPRESS_STORE)) if window.emit_final else None
        )
        self.retention = max(window.retention_ms, window.size_ms + window.grace_ms)
        self.swept: dict[int, int] = {}

    def process(self, row: Row) -> None:
        if row.value is None:
            return
        key = self.group_key(row.value)
        if key is None:
            return
        spec = self.window
        timestamp = row.timestamp
        stream_time = self.clocks.advance("streamTime", timestamp)
        close_time = stream_time - spec.grace_ms
        store = self.store.partition(row.partition)
        args = self.arguments(row.value)
        for start in time_windows(timestamp, spec.size_ms, spec.advance_ms):
            end = start + spec.size_ms
            if end <= close_time:
                self.context.log.processing_error(
                    self.context.query_id,
                    f"Skipping record for expired window. window=[{start},{end}) "
                    f"expiration={close_time} streamTime={stream_time}",
                    row.value,
                )
                continue
            state_key = (*key, start)
            found = store.get(state_key)
            if found is None and self.buffer is not None:
                self.buffer.put((end, start, row.partition, *key), 1)
            accs, ts = found or (self.initial(), timestamp)
            accs = self.add(accs, args)
            ts = max(ts, timestamp)
            if spec.emit_final:
                store.put(state_key, (accs, ts))
                self.clocks.advance("maxWindowStart", start)
            else:
                self.update(store, state_key, accs, ts, row)
        if spec.emit_final:
            self._emit_closed(close_time, row)
        if expiry_due(self.swept, row.partition, stream_time, self.retention):
            horizon = stream_time - self.retention
            for state_key, _ in list(store.range()):
                if state_key[-1] <= horizon:  # as Kafka Streams: by window start
                    store.delete(state_key)

    def flushed(self, key: tuple[Any, ...], value: Any, origin: Row) -> None:
        if value is not None:  # a window expired from the store: nothing to forward
            start = key[-1]
            window = Window(start, start + self.window.size_ms)
            self.output(key[:-1], value[0], value[1], origin, window)

    def _emit_closed(self, close_time: int, row: Row) -> None:
        assert self.buffer is not None
        horizon = self.clocks.get("maxWindowStart") - self.window.retention_ms
        for entry, _ in self.buffer.take(close_time + 1):
            _, start, partition, *key = entry
            found = self.store.partition(partition).get((*key, start))
            if found is None or start < horizon:
                continue  # fell out of the window store's retention before it closed
            window = Window(start, start + self.window.size_ms)
            self.output(tuple(key), found[0], found[1], row, window)


class SessionWindowAggregateProcessor(AggregateProcessor):
    """SESSION windows: state per group key is a list of ``(start, end, accs, ts)`` sessions.

    Stores as :class:`TimeWindowAggregateProcessor`; the EMIT FINAL buffer holds
    ``(session end, partition, *group key, session start)`` for every live session (a merged
    session's entry is removed, as Kafka Streams' buffer drops a deleted window).

    Behind the record cache a group's sessions wait in one cache entry; at the flush
    :meth:`flushed` compares them with the store's (the flushed state) and forwards the
    difference, session by session, as Kafka Streams' ``CachingSessionStore`` does.
    """

    def __init__(
        self,
        step: Aggregate,
        context: QueryContext,
        store: Store | None = None,
        cached: bool = False,
    ):
        window = step.window
        assert window is not None
        if store is None and cached and context.cache is not None:
            # the flush needs each group's flushed sessions to tell what changed (EMIT FINAL
            # forwards from the suppression buffer: the cache only holds the store's writes)
            listener = None if window.emit_final else self.flushed
            store = context.cache.wrap(open_store(context, MATERIALIZE), listener, True)
        super().__init__(step, context, store)
        self.window = window
        self.clocks = Clocks(context, "Aggregate-Aggregate-StreamTime")
        self.buffer = (
            TimeOrderedBuffer(open_store(context, SUPPRESS_STORE)) if window.emit_final else None
        )
        self.retention = max(window.retention_ms, window.size_ms + window.grace_ms)
        self.swept: dict[int, int] = {}

    def process(self, row: Row) -> None:
        if row.value is None:
            return
        key = self.group_key(row.value)
        if key is None:
            return
        spec = self.window
        gap = spec.size_ms
        timestamp = row.timestamp
        stream_time = self.clocks.advance("streamTime", timestamp)
        close_time = stream_time - spec.grace_ms - gap
        store = self.store.partition(row.partition)
        # sessions that ended before the close time take no more records (kept until retention)
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
                f"expiration={close_time} streamTime={stream_time}",
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
        for s in merged:
            if self.buffer is not None:
                self.buffer.delete((s[1], row.partition, *key, s[0]))
            elif not self.deferred:  # behind the cache: the flush forwards the tombstones
                window = Window(s[0], s[1], True)
                self.forward(Row([*key, window], None, s[1], row.partition, row.offset))
        remaining.append((start, end, accs, ts))
        remaining.sort(key=lambda s: s[0])
        if self.deferred:
            store.put(key, remaining, row)
        else:
            store.put(key, remaining)
        if self.buffer is None:
            if not self.deferred:
                self.output(key, accs, end, row, Window(start, end, True))
        else:
            self.buffer.put((end, row.partition, *key, start), 1)
            self._emit_closed(close_time, row)
        if expiry_due(self.swept, row.partition, stream_time, self.retention):
            self._expire(store, stream_time - self.retention)

    def flushed(self, key: tuple[Any, ...], value: Any, origin: Row, old: Any = None) -> None:
        """A group's sessions leave the cache (``old``: the store's, as last flushed): each
        session that changed since goes downstream, as Kafka Streams' caching session store
        forwards a dirty session (new value, old value read from the store underneath): a
        flushed session that is gone (merged away) gets a tombstone, a new or changed one its
        row; one that was created and merged away between two flushes is in neither, and is
        skipped as Kafka Streams skips a deleted session the store never had."""
        now = {(s[0], s[1]): s for s in value or ()}
        before = {(s[0], s[1]): s for s in old or ()}
        for start, end in sorted(before.keys() - now.keys()):
            window = Window(start, end, True)
            self.forward(Row([*key, window], None, end, origin.partition, origin.offset))
        for bounds in sorted(now):
            start, end, accs, _ = session = now[bounds]
            if before.get(bounds) != session:
                self.output(key, accs, end, origin, Window(start, end, True))

    def _expire(self, store: Any, horizon: int) -> None:
        """Drop the sessions that ended before ``horizon`` (retention); nothing is forwarded."""
        flushed = store.inner if isinstance(store, CachingStorePartition) else store
        for group, kept in list(flushed.range()):
            alive = [s for s in kept if s[1] >= horizon]
            if not alive:
                flushed.delete(group)
            elif len(alive) != len(kept):
                flushed.put(group, alive)
            else:
                continue
            if flushed is not store:
                # the cache's copy of a flushed session goes too; a session changed since the
                # flush stays cached, out of retention's reach as in Kafka Streams (whose
                # segments drop only what the store has), and is forwarded at the flush
                gone = [s for s in kept if s[1] < horizon]
                store.amend(group, lambda ss, gone=gone: [s for s in ss if s not in gone] or None)

    def _emit_closed(self, close_time: int, row: Row) -> None:
        assert self.buffer is not None
        for entry, _ in self.buffer.take(close_time):
            end, partition, *key, start = entry
            for s in self.store.partition(partition).get(tuple(key)) or []:
                if s[0] == start and s[1] == end:
                    self.output(tuple(key), s[2], end, row, Window(start, end, True))


class HavingProcessor(Processor):
    """HAVING: rows that pass are forwarded; a key that stops passing gets one tombstone.

    The keys whose last row passed are in the store ``Aggregate-HavingFilter`` (a window
    becomes ``start, end`` in the key), so a restore knows which keys need a tombstone.
    """

    def __init__(self, step: Having, context: QueryContext) -> None:
        parent = step.source
        assert parent is not None and step.predicate is not None
        compiler = ExpressionCompiler(parent.columns(), context.functions)
        self.predicate = compiler.compile(step.predicate, "Having")
        self.on_error = context.expression_error("HAVING")
        self.present = open_store(context, "Aggregate-HavingFilter")

    @staticmethod
    def _state_key(key: list[Any] | None) -> tuple[Any, ...]:
        if key and isinstance(key[-1], Window):
            window = key[-1]
            return (*key[:-1], window.start, window.end)
        return tuple(key or ())

    def process(self, row: Row) -> None:
        key = self._state_key(row.key)
        present = self.present.partition(row.partition)
        passes = row.value is not None and self.predicate.evaluate(row.value, self.on_error) is True
        if passes:
            if present.get(key) is None:
                present.put(key, 1)
        elif present.get(key) is not None:
            present.delete(key)
            row = Row(row.key, None, row.timestamp, row.partition, row.offset, row.headers)
        else:
            return
        if self.downstream is not None:
            self.downstream.process(row)


def build_aggregate(step: Aggregate, context: QueryContext, emit=None) -> Processor:
    # the aggregations run behind the record cache when the query has one
    if step.from_table:
        return TableAggregateProcessor(step, context, cached=True)
    if step.window is None:
        return AggregateProcessor(step, context, cached=True)
    if step.window.type is WindowType.SESSION:
        return SessionWindowAggregateProcessor(step, context, cached=True)
    return TimeWindowAggregateProcessor(step, context, cached=True)


def build_having(step: Having, context: QueryContext, emit=None) -> Processor:
    return HavingProcessor(step, context)


_BUILDERS[Aggregate] = build_aggregate
_BUILDERS[Having] = build_having
