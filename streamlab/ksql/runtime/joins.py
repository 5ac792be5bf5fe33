"""Join operators: stream-table, table-table and windowed stream-stream joins.

A join query has two :class:`~streamlab.ksql.runtime.operators.SourceProcessor` inputs feeding
one :class:`JoinProcessor`; :class:`JoinSource` routes each record to its side by topic. The
joined row is ``left processing row + right processing row`` (NULLs for a missing side), plus the
synthetic ``ROWKEY`` for FULL OUTER / expression joins; its key is the join key.

Semantics (Kafka Streams as ksqlDB runs it, one task):

* **stream-table**: only stream records produce output, joined with the table row current at
  processing time; table updates and deletes only change the table state. NULL join keys and
  NULL stream values are dropped. Output timestamp: the stream record's.
* **table-table**: an update on either side emits the joined row for that key (tombstones when
  the join result disappears); timestamp: the max of the two rows'.
* **stream-stream**: a record joins the other side's records whose timestamps lie in
  ``[ts - before, ts + after]`` (mirrored for the right side); timestamp: the max of the two.
  Without GRACE PERIOD, LEFT/RIGHT/FULL emit the NULL-padded row eagerly when a record finds no
  match; with GRACE PERIOD they are emitted once the window plus grace has closed (and only if
  the record never matched). Records are kept ``before + after + grace`` ms of stream time.
"""

from __future__ import annotations

from typing import Any

from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.planner.join import DEFAULT_GRACE_TOTAL_MS, JoinStep
from streamlab.ksql.runtime.buffer import TimeOrderedBuffer
from streamlab.ksql.runtime.operators import Processor, QueryContext, SourceProcessor
from streamlab.ksql.runtime.records import Record, Row
from streamlab.ksql.runtime.streamtime import Clocks, expiry_due
from streamlab.ksql.state import Store, open_store


class _SideInput(Processor):
    def __init__(self, join: JoinProcessor, left: bool) -> None:
        self.join = join
        self.left = left

    def process(self, row: Row) -> None:
        if self.left:
            self.join.process_left(row)
        else:
            self.join.process_right(row)


class JoinSource:
    """Routes records to the left or right source processor by topic."""

    def __init__(self, left: SourceProcessor, right: SourceProcessor) -> None:
        self.left = left
        self.right = right
        self.topics = [left.topic, right.topic]

    def process_record(self, record: Record) -> None:
        if record.topic == self.left.topic:
            self.left.process_record(record)
        elif record.topic == self.right.topic:
            self.right.process_record(record)


class JoinProcessor(Processor):
    def __init__(self, step: JoinStep, context: QueryContext) -> None:
        self.step = step
        self.context = context
        functions = context.functions
        self.left_key = ExpressionCompiler(step.left_columns, functions).compile(
            step.left_key, "JoinKey"
        )
        self.right_key = ExpressionCompiler(step.right_columns, functions).compile(
            step.right_key, "JoinKey"
        )
        self.left_nulls = [None] * len(step.left_columns)
        self.right_nulls = [None] * len(step.right_columns)
        self.on_error = context.expression_error("JOIN key")
        self.join_type = step.join_type
        if step.kind == "table-table":  # the tables' stores (a stream side has none)
            self.left_store = open_store(context, "KafkaTopic_Left-Reduce")
        if step.kind != "stream-stream":
            self.right_store = open_store(context, right_table_store(step))
        # stream-stream
        self.before = step.before_ms
        self.after = step.after_ms
        self.has_grace = step.grace_ms is not None
        # without GRACE PERIOD ksqlDB builds JoinWindows.of(before).after(after): ``of`` sets
        # the grace to 24 h minus its own window (twice ``before``) and ``after`` keeps it
        self.grace = (
            step.grace_ms
            if step.grace_ms is not None
            else max(DEFAULT_GRACE_TOTAL_MS - 2 * step.before_ms, 0)
        )
        if step.kind == "stream-stream":
            this, other, *shared = step.window_stores or _default_window_stores(step)
            self.windows = {True: open_store(context, this), False: open_store(context, other)}
            # only outer joins with a GRACE PERIOD use it (ksqlDB names it for any join with one)
            self.shared = TimeOrderedBuffer(open_store(context, shared[0])) if shared else None
            self.clocks = Clocks(context, "Join-StreamTime")
            self.swept: dict[int, int] = {}

    # ---- output ---------------------------------------------------------------------------------

    def emit(self, key: Any, left: list[Any] | None, right: list[Any] | None, ts: int, row: Row):
        if self.downstream is None:
            return
        if left is None and right is None:
            value = None
        else:
            value = [*(left or self.left_nulls), *(right or self.right_nulls)]
            if self.step.synthetic_key:
                value.append(key)
        self.downstream.process(Row([key], value, ts, row.partition, row.offset, row.headers))

    def _key(self, row: Row, left: bool) -> Any:
        compiled = self.left_key if left else self.right_key
        return compiled.evaluate(row.value, self.on_error)

    # ---- dispatch -------------------------------------------------------------------------------

    def process_left(self, row: Row) -> None:
        kind = self.step.kind
        if kind == "stream-table":
            self._stream_table(row)
        elif kind == "table-table":
            self._table_table(row, True)
        else:
            self._stream_stream(row, True)

    def process_right(self, row: Row) -> None:
        kind = self.step.kind
        if kind == "stream-table":
            self._table_update(self.right_store, row)
        elif kind == "table-table":
            self._table_table(row, False)
        else:
            self._stream_stream(row, False)

    # ---- stream-table ---------------------------------------------------------------------------

    @staticmethod
    def _table_update(store: Store, row: Row) -> tuple[Any, Any]:
        key = row.key[0] if row.key else None
        if key is None:
            return None, None
        partition = store.partition(row.partition)
        old = partition.get((key,))
        if row.value is None:
            partition.delete((key,))
        else:
            partition.put((key,), (row.value, row.timestamp))
        return key, old

    def _stream_table(self, row: Row) -> None:
        if row.value is None:
            return
        key = self._key(row, True)
        if key is None:
            return
        found = self.right_store.partition(row.partition).get((key,))
        if found is None and self.join_type == "INNER":
            return
        self.emit(key, row.value, found[0] if found else None, row.timestamp, row)

    # ---- table-table ----------------------------------------------------------------------------

    def _table_table(self, row: Row, is_left: bool) -> None:
        store = self.left_store if is_left else self.right_store
        key, old = self._table_update(store, row)
        if key is None:
            return
        left = self.left_store.partition(row.partition).get((key,))
        right = self.right_store.partition(row.partition).get((key,))
        lv = left[0] if left else None
        rv = right[0] if right else None
        ts = max(left[1] if left else row.timestamp, right[1] if right else row.timestamp)
        if row.value is None:
            ts = row.timestamp
        kind = self.join_type
        if kind == "RIGHT":
            keep_left, keep_right = False, True
        elif kind == "LEFT":
            keep_left, keep_right = True, False
        elif kind == "OUTER":
            keep_left = keep_right = True
        else:
            keep_left = keep_right = False
        result = (lv is not None or keep_right) and (rv is not None or keep_left)
        result = result and (lv is not None or rv is not None)
        if result:
            self.emit(key, lv, rv, ts, row)
            return
        # no result now: a tombstone if there was one before this update
        if old is None:
            return
        ov = old[0]
        pl, pr = (ov, rv) if is_left else (lv, ov)
        before = (pl is not None or keep_right) and (pr is not None or keep_left)
        if before and (pl is not None or pr is not None):
            self.emit(key, None, None, ts, row)

    # ---- stream-stream --------------------------------------------------------------------------
    #
    # State (all in stores, so a restore brings it back), named as Kafka Streams names them:
    # * ``KSTREAM-JOINTHIS|OUTERTHIS-<n>-store`` / ``KSTREAM-JOINOTHER|OUTEROTHER-<n+1>-store``:
    #   each side's window store, ``(join key,) -> [(ts, seq, value, shared key), ...]`` in
    #   ``(ts, seq)`` order (seq: arrival order);
    # * ``KSTREAM-OUTERSHARED-<n>-store`` (outer joins with GRACE): records that have not
    #   matched yet, ``(ts, seq) -> (is_left, join key, value)``; a match deletes the entry,
    #   the close of its window emits the NULL-padded row;
    # * ``Join-StreamTime``: each side store's observed stream time, the join's stream time
    #   and the arrival counter (see :mod:`streamlab.ksql.runtime.streamtime`).

    def _stream_stream(self, row: Row, is_left: bool) -> None:
        if row.value is None:
            return
        key = self._key(row, is_left)
        if key is None:
            return
        ts = row.timestamp
        clocks = self.clocks
        # 1. the record enters its own side's window store (KStreamJoinWindow), which has its
        #    own observed stream time and drops records older than its retention (the record
        #    is put there after the lookup, with its entry in the shared store)
        retention = self.before + self.after + self.grace
        side = "left" if is_left else "right"
        own_time = clocks.advance(f"{side}StreamTime", ts)
        seq = clocks.next("sequence")
        # 2. the join: shared stream time, closed outer records, then the lookup
        stream_time = clocks.advance("streamTime", ts)
        if self.has_grace and ts == stream_time:
            self._emit_closed(row, stream_time)
        other_time = clocks.get(f"{'right' if is_left else 'left'}StreamTime")
        if is_left:
            low, high = max(0, ts - self.before), max(0, ts + self.after)
        else:
            low, high = max(0, ts - self.after), max(0, ts + self.before)
        low = max(low, other_time - retention)  # older records have left the other store
        other = self.windows[not is_left].partition(0)
        others = other.get((key,)) or []
        matched = False
        changed = False
        for index, (other_ts, other_seq, other_value, shared) in enumerate(others):
            if not low <= other_ts <= high:
                continue
            matched = True
            if shared is not None:  # it has matched now: no NULL-padded row at its close
                assert self.shared is not None
                self.shared.delete(shared)
                others[index] = (other_ts, other_seq, other_value, None)
                changed = True
            if is_left:
                self.emit(key, row.value, other_value, max(ts, other_ts), row)
            else:
                self.emit(key, other_value, row.value, max(ts, other_ts), row)
        if changed:
            other.put((key,), others)
        outer = self.join_type == "OUTER" or self.join_type == ("LEFT" if is_left else "RIGHT")
        shared_key = None
        if outer and not matched:
            if not self.has_grace or high < stream_time:
                if is_left:
                    self.emit(key, row.value, None, ts, row)
                else:
                    self.emit(key, None, row.value, ts, row)
            else:
                shared_key = (ts, seq)
                assert self.shared is not None  # a GRACE PERIOD gives the join a shared store
                self.shared.put(shared_key, (is_left, key, row.value))
        own = self.windows[is_left].partition(0)
        horizon = own_time - retention
        if ts >= horizon:
            kept = [e for e in own.get((key,)) or [] if e[0] >= horizon]
            kept.append((ts, seq, row.value, shared_key))
            kept.sort(key=lambda e: (e[0], e[1]))
            own.put((key,), kept)
        if expiry_due(self.swept, int(is_left), own_time, retention):
            for entry, entries in list(own.range()):  # keys that got no record for a while
                alive = [e for e in entries if e[0] >= horizon]
                if not alive:
                    own.delete(entry)
                elif len(alive) != len(entries):
                    own.put(entry, alive)

    def _emit_closed(self, row: Row, stream_time: int) -> None:
        assert self.shared is not None

        def closed(entry: tuple, buffered: tuple) -> bool:
            look = self.after if buffered[0] else self.before
            return entry[0] + look + self.grace < stream_time

        first_open = stream_time - min(self.before, self.after) - self.grace
        for (ts, _), (is_left, key, value) in self.shared.take(first_open, closed):
            if is_left:
                self.emit(key, value, None, ts, row)
            else:
                self.emit(key, None, value, ts, row)


#: The store of a right table ksqlDB re-keys into the left side's key format: its
#: ``TableSelectKey`` (``toStream().map(...).toTable(...)``) materializes what it reads back
#: from ``RightSourceKeyed-SelectKey-repartition`` under this name (the Kafka runtime routes
#: it there: ``_split_join`` in :mod:`~streamlab.ksql.runtime.operators`).
RIGHT_REKEYED_STORE = "RightSourceKeyed-Materialize"


def right_table_store(step: JoinStep) -> str:
    """ksqlDB's name of the right table's store (its changelog is ``<name>-changelog``)."""
    return RIGHT_REKEYED_STORE if step.right_rekeyed else "KafkaTopic_Right-Reduce"


def _default_window_stores(step: JoinStep) -> list[str]:
    """Kafka Streams' store names for a join planned without them (node 8, no repartition)."""
    this = "OUTERTHIS" if step.join_type in ("RIGHT", "OUTER") else "JOINTHIS"
    other = "OUTEROTHER" if step.join_type in ("LEFT", "OUTER") else "JOINOTHER"
    names = [f"KSTREAM-{this}-0000000008-store", f"KSTREAM-{other}-0000000009-store"]
    if step.grace_ms is not None:
        names.append("KSTREAM-OUTERSHARED-0000000008-store")
    return names


def build_join(
    step: JoinStep, context: QueryContext
) -> tuple[JoinSource, JoinProcessor, list[str]]:
    assert step.left is not None and step.right is not None
    join = JoinProcessor(step, context)
    left = SourceProcessor(step.left, context)
    right = SourceProcessor(step.right, context)
    left.downstream = _SideInput(join, True)
    right.downstream = _SideInput(join, False)
    source = JoinSource(left, right)
    return source, join, source.topics
