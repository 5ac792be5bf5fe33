"""Transient queries: push queries (``SELECT … EMIT CHANGES``) and pull queries (no EMIT).

Both are planned like a persistent query without a sink (source → filter → PARTITION BY →
table functions → projection) and built into the same operators; a collector at the end hands
each output row to a callback. A push query is a fresh consumer group reading from
``auto.offset.reset`` (default latest) until stopped.

A pull query on a table that an aggregation maintains reads that query's state store, as ksqlDB
reads its materialization: key equalities and IN become ``get``s, key ranges and window bounds
``range``s, anything else a scan of the store (:mod:`streamlab.ksql.engine.pull` decides which).
Each stored aggregate goes through the rest of the persistent query (HAVING, projection) and then
through the pull query's own WHERE and SELECT. Pull queries on streams, on ``CREATE SOURCE
TABLE`` and on tables without an aggregation scan the topic from the beginning to its current end
(keeping, for a table, the latest row per key).

Windowed sources (the topic of a windowed aggregation) carry ``inner key ‖ window bounds`` keys;
their rows get WINDOWSTART and WINDOWEND, as ksqlDB shows them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streamlab.ksql.engine import pull
from streamlab.ksql.errors import KsqlException
from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.formats import WindowType
from streamlab.ksql.kafka_runtime.engine import KafkaKsqlEngine, offset_reset
from streamlab.ksql.kafka_runtime.runner import consumer_config, next_batch, to_record
from streamlab.ksql.kafka_runtime.state import KeyedStore
from streamlab.ksql.kafka_runtime.topics import TIMEOUT
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.planner import LogicalPlanner, QueryAnalyzer, Sink, steps
from streamlab.ksql.planner.aggregate import Aggregate
from streamlab.ksql.planner.analyzer import UnsupportedFeature, strip_qualifiers
from streamlab.ksql.planner.planner import rewrite_magic_timestamps
from streamlab.ksql.planner.properties import SourceProperties
from streamlab.ksql.runtime.aggregate import AggregateProcessor, SessionWindowAggregateProcessor
from streamlab.ksql.runtime.operators import (
    _BUILDERS,
    Processor,
    QueryContext,
    SourceProcessor,
    Topology,
    build_topology,
)
from streamlab.ksql.runtime.records import Record, Row
from streamlab.ksql.runtime.windows import Window, decode_session_key, decode_time_key
from streamlab.ksql.schema import WINDOWEND, WINDOWSTART, LogicalSchema
from streamlab.ksql.types import quote_identifier

log = logging.getLogger(__name__)

OnRow = Callable[[list[Any] | None, list[Any] | None], None]  # (key, columns or None=tombstone)


@dataclass
class CollectRows(steps.ExecutionStep):
    """The last step of a transient query: rows go to the topology's ``emit`` as they are."""

    source_step: steps.ExecutionStep | None = None


class _Collector(Processor):
    def __init__(self, on_row: OnRow) -> None:
        self.on_row = on_row

    def process(self, row: Row) -> None:
        self.on_row(row.key, row.value)


# Registered like the other operators, so any plan (joins too) can end with it.
_BUILDERS[CollectRows] = lambda step, context, emit: _Collector(emit)


class TransientQuery:
    """A planned push or pull query; ``start(on_row, on_done)`` runs it in a thread."""

    def __init__(
        self, engine: KafkaKsqlEngine, statement: st.QueryStatement, properties: dict[str, object]
    ) -> None:
        self.engine = engine
        self.statement = statement
        query = statement.query
        self.push = query.refinement is not None
        config = {**engine.config, **engine.session.properties, **properties}
        self.offset_reset = offset_reset({**properties, **engine.session.properties})
        analysis = QueryAnalyzer(engine.metastore, engine.functions).analyze(
            query, persistent=False
        )
        self.source = analysis.source
        self.limit = analysis.limit
        self.windowed = self.source.is_windowed
        planner = LogicalPlanner(engine.functions, config)
        self.materialized: Materialization | None = None
        self.pull_plan: pull.PullPlan | None = None
        if not self.push:
            pull.validate(analysis)
            if self.source.is_table:
                self.materialized = Materialization.of(engine, self.source.name)
                if self.materialized is None and not self._scannable(engine):
                    raise pull.not_queryable(self.source.name)
                where = analysis.where
                if where is not None:
                    where = rewrite_magic_timestamps(strip_qualifiers(where))  # type: ignore[arg-type]
                self.pull_plan = pull.plan_pull(
                    where,
                    self.source.schema,
                    self.windowed,
                    pull.table_scans_enabled(config),
                    self._constant,
                )
        # aggregations and joins: planned as a persistent query without its sink step; rows
        # leave it as key columns + value columns
        self.stateful = analysis.group_by is not None or analysis.join is not None
        if self.stateful:
            self.select, columns = self._plan_stateful(analysis, planner)
        else:
            self.select = self._plan(analysis, planner)
            columns = list(self.select.schema.value)
        # ksqlDB's ids: a push query's names its source, a pull query's is its start time
        self.query_id = (
            f"transient_{self.source.name}_{random.getrandbits(63)}"
            if self.push
            else f"query_{int(time.time() * 1000)}"
        )
        self.column_names = [c.name for c in columns]
        self.column_types = [str(c.type) for c in columns]
        self.key_count = len(columns) - len(self.select.schema.value)
        key_names = {c.name for c in self.source.schema.key}
        if self.windowed:  # part of a windowed table's key (pull queries mark them KEY)
            key_names |= {WINDOWSTART, WINDOWEND}
        key_index: dict[str, int | str] = {c.name: i for i, c in enumerate(self.source.schema.key)}
        key_index |= {WINDOWSTART: WINDOWSTART, WINDOWEND: WINDOWEND}
        selects = list(getattr(self.select, "selects", ()))
        # where each output column finds its value in the key, for tombstone rows
        self.key_positions: list[int | str | None] = (
            list(range(self.key_count))
            + [
                key_index.get(e.name) if isinstance(e, ex.ColumnReference) else None
                for _, e in selects
            ][: len(self.column_names) - self.key_count]
        )
        self.key_columns = [False] * self.key_count + [
            not self.push
            and self.source.is_table
            and isinstance(e, ex.ColumnReference)
            and e.name in key_names
            for _, e in selects
        ][: len(self.column_names) - self.key_count]
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    @staticmethod
    def _plan(analysis, planner: LogicalPlanner) -> steps.StreamSelect:
        step: steps.ExecutionStep = planner._source_step(analysis)
        if analysis.where is not None:
            step = planner._filter_step(step, analysis.where, analysis.source.is_table)
        partition = None
        if analysis.partition_by is not None:
            partition = step = planner._partition_step(step, analysis.partition_by)
        flat_map = None
        if analysis.table_functions:
            flat_map = step = planner._flat_map_step(step, analysis.table_functions)
        selects = planner._select_expressions(step, analysis, partition, flat_map)
        _, value_selects, value_columns = planner._projection(step, selects, persistent=False)
        kind = steps.TableSelect if analysis.source.is_table else steps.StreamSelect
        return kind(
            schema=LogicalSchema(value_columns), source_step=step, selects=tuple(value_selects)
        )

    def tombstone(self, key: list[Any] | None) -> list[Any]:
        """A deleted table row: key columns (and window bounds) filled in, value columns NULL."""
        window = key[-1] if key and isinstance(key[-1], Window) else None
        out = []
        for i in self.key_positions:
            if i in (WINDOWSTART, WINDOWEND):
                bounds = {WINDOWSTART: window.start, WINDOWEND: window.end} if window else {}
                out.append(bounds.get(i))
            elif isinstance(i, int) and key is not None and i < len(key):
                out.append(None if isinstance(key[i], Window) else key[i])
            else:
                out.append(None)
        return out

    def _constant(self, expression: ex.Expression) -> Any:
        """The value of a column-free expression (``SYMBOL = UCASE('acme')``)."""
        if isinstance(expression, ex.Literal):
            return expression.value
        compiled = ExpressionCompiler([], self.engine.functions).compile(expression, "Predicate")
        return compiled.fn([])

    def _scannable(self, engine: KafkaKsqlEngine) -> bool:
        """A table whose topic a pull query may scan: ``CREATE SOURCE TABLE`` or a table a
        persistent query writes (ksqlDB refuses plain ``CREATE TABLE``: no store to read)."""
        writers = engine.metastore.writers_of(self.source.name)
        return self.source.is_source or any(q in engine.queries for q in writers)

    @staticmethod
    def _plan_stateful(analysis, planner: LogicalPlanner):
        properties = SourceProperties.parse({}, create_as=True)
        try:
            plan = planner.plan_persistent(analysis, Sink("KSQL_TRANSIENT", properties, table=True))
        except KsqlException as error:
            if "Invalid result type" not in error.message:
                raise
            plan = planner.plan_persistent(analysis, Sink("KSQL_TRANSIENT", properties))
        final = plan.physical.source
        assert final is not None
        schema = plan.sink_source.schema
        return final, [*schema.key, *schema.value]

    def output(self, key: list[Any] | None, value: list[Any] | None) -> list[Any] | None:
        """The row a client sees: key columns first for aggregations and joins."""
        if value is None or not self.key_count:
            return value
        keys = [k for k in (key or []) if not hasattr(k, "start")][: self.key_count]
        return [*keys, *([None] * (self.key_count - len(keys))), *value]

    def schema_string(self) -> str:
        """The header schema: `` `ID` INTEGER, `V` STRING`` (KEY marks pull-query table keys)."""
        return ", ".join(
            f"{quote_identifier(n)} {t}{' KEY' if k else ''}"
            for n, t, k in zip(self.column_names, self.column_types, self.key_columns, strict=True)
        )

    # ---- running --------------------------------------------------------------------------------

    def start(self, on_row: OnRow, on_done: Callable[[Exception | None], None]) -> None:
        run = self._push if self.push else self._pull

        def main() -> None:
            error = None
            try:
                run(on_row)
            except Exception as exc:
                log.exception("transient query %s failed", self.query_id)
                error = exc
            on_done(error)

        self.thread = threading.Thread(target=main, name=self.query_id, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def _consumer(self, group: str, reset: str) -> Consumer:
        return Consumer(consumer_config(self.engine.bootstrap, group, reset))

    def _topology(self, on_row: OnRow) -> Topology:
        topology = build_topology(
            CollectRows(schema=self.select.schema, source_step=self.select),
            self.query_id,
            on_row,  # type: ignore[arg-type]  (CollectRows hands it rows, not records)
            self.engine.processing_log,
            self.engine.functions,
            store_factory=KeyedStore,
        )
        window = self.source.topic.key_format.window
        if window is not None and isinstance(topology.source, SourceProcessor):
            topology.source = WindowedSource(topology.source, window)  # type: ignore[assignment]
        return topology

    def _push(self, on_row: OnRow) -> None:
        topology = self._topology(lambda key, value: on_row(key, self.output(key, value)))
        group = (
            f"_confluent-ksql-{self.engine.service_id}transient_{self.query_id}_"
            f"{int(time.time() * 1000)}"
        )
        consumer = self._consumer(group, self.offset_reset)
        try:
            consumer.subscribe(list(topology.source_topics))
            while not self.stopping.is_set():
                for message in next_batch(consumer):
                    if message.error() is None and not self.stopping.is_set():
                        topology.process(to_record(message))
        finally:
            consumer.close()

    def _pull(self, on_row: OnRow) -> None:
        if self.materialized is not None:
            self._pull_store(on_row)
        else:
            self._pull_topic(on_row)

    def _pull_store(self, on_row: OnRow) -> None:
        """Read the aggregation's store; every stored row goes through the rest of the
        persistent query and then through this query's WHERE and SELECT."""
        rows: list[list[Any]] = []

        def collect(key, value) -> None:
            if value is not None:
                rows.append(value)

        topology = self._topology(collect)
        source = topology.source
        # the pull query's filter/projection (rows from the store come with their bounds)
        entry = (
            source.bounds.downstream if isinstance(source, WindowedSource) else source.downstream
        )
        assert self.materialized is not None and self.pull_plan is not None and entry is not None
        to_source_row = self.materialized.source_row(len(self.source.schema.value))
        feed = self.materialized.pipeline(self.engine, self.query_id, to_source_row, entry)
        for key, value, timestamp in self.materialized.read(self.engine, self.pull_plan):
            if self.stopping.is_set() or (self.limit is not None and len(rows) >= self.limit):
                break
            feed.process(Row(key, value, timestamp))
        for i, value in enumerate(rows):
            if self.limit is not None and i >= self.limit:
                break
            on_row(None, value)

    def _pull_topic(self, on_row: OnRow) -> None:
        """Scan to the current end; a table keeps the latest row per key."""
        rows: dict[Any, list[Any]] = {}
        ordered: list[list[Any]] = []
        is_table = self.source.is_table

        def collect(key, value) -> None:
            if not is_table:
                ordered.append(value)
                return
            marker = repr(key)
            rows.pop(marker, None)
            if value is not None:
                rows[marker] = value

        topology = self._topology(collect)
        topic = self.source.topic.name
        consumer = self._consumer(f"_confluent-ksql-{self.engine.service_id}pull_", "earliest")
        try:
            metadata = consumer.list_topics(timeout=TIMEOUT).topics.get(topic)
            if metadata is None or metadata.error is not None:
                raise KsqlException(f"Topic '{topic}' does not exist.")
            ends = {}
            for p in metadata.partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), TIMEOUT)
                if high > 0:
                    ends[p] = high
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
            while ends and not self.stopping.is_set():
                for message in consumer.consume(1000, 0.5):
                    if message.error() is not None:
                        continue
                    p = message.partition()
                    if p in ends and message.offset() < ends[p]:
                        topology.process(to_record(message))
                    if p in ends and message.offset() + 1 >= ends[p]:
                        del ends[p]
        finally:
            consumer.close()
        results = ordered if not is_table else list(rows.values())
        for i, value in enumerate(results):
            if self.limit is not None and i >= self.limit:
                break
            on_row(None, value)


class WindowedSource:
    """The source of a windowed topic: decodes ``inner key ‖ window`` keys (Kafka Streams'
    layout), deserializes the inner key as usual and puts the window bounds into the row
    (after the pseudo columns, where :meth:`LogicalSchema.processing_columns` has them) and
    the :class:`Window` at the end of the key."""

    def __init__(self, source: SourceProcessor, window) -> None:
        self.source = source
        self.topic = source.topic
        self.session = window.type is WindowType.SESSION
        self.size = window.size_ms
        self.bounds = _WindowBounds(len(source.row_columns) + 3)  # + ROWTIME/PARTITION/OFFSET
        self.bounds.downstream = source.downstream
        source.downstream = self.bounds

    def process_record(self, record: Record) -> None:
        key = record.key
        if key is None or len(key) < (16 if self.session else 8):
            context = self.source.context
            context.log.processing_error(context.query_id, f"Windowed key too short: {key!r}", None)
            return
        if self.session:
            inner, window = decode_session_key(key)
        else:
            inner, window = decode_time_key(key, self.size)
        self.bounds.window = window
        self.source.process_record(
            Record(record.topic, inner, record.value, record.timestamp, record.partition,
                   record.offset, record.headers)
        )  # fmt: skip


class _WindowBounds(Processor):
    def __init__(self, at: int) -> None:
        self.at = at
        self.window = Window(0, 0)

    def process(self, row: Row) -> None:
        window = self.window
        value = row.value
        if value is not None:
            value = [*value[: self.at], window.start, window.end, *value[self.at :]]
        if self.downstream is not None:
            key = [*(row.key or []), window]
            self.downstream.process(
                Row(key, value, row.timestamp, row.partition, row.offset, row.headers)
            )


class _Feed(Processor):
    """Hands rows to a callback (the start of a pull query's read pipeline)."""

    def __init__(self, fn: Callable[[Row], None]) -> None:
        self.fn = fn

    def process(self, row: Row) -> None:
        self.fn(row)


class Materialization:
    """The state store of the aggregation that maintains a table, and the steps after it.

    Store entries are the aggregate's state (see :mod:`streamlab.ksql.runtime.aggregate`):
    ``group key -> (accumulators, timestamp)``, ``(*group key, window start) -> (…)`` for
    TUMBLING/HOPPING, ``group key -> [(start, end, accumulators, timestamp), …]`` for SESSION.
    Only the :class:`~streamlab.ksql.state.Store` interface is used (``get``/``range``).
    """

    def __init__(self, query, aggregate: AggregateProcessor, after: list[steps.ExecutionStep]):
        self.query = query
        self.aggregate = aggregate
        self.after = after
        self.window = aggregate.step.window

    @classmethod
    def of(cls, engine: KafkaKsqlEngine, table: str) -> Materialization | None:
        for query_id in sorted(engine.metastore.writers_of(table)):
            query = engine.queries.get(query_id)
            if query is None:
                continue
            node = getattr(query.topology.source, "downstream", None)
            while node is not None and not isinstance(node, AggregateProcessor):
                node = getattr(node, "downstream", None)
            if node is None:
                continue
            chain = query.plan.physical.chain()
            at = next(i for i, step in enumerate(chain) if isinstance(step, Aggregate))
            # the steps between the aggregate and the sink: HAVING, the projection
            return cls(query, node, chain[at + 1 : -1])
        return None

    # ---- reading --------------------------------------------------------------------------------

    def partitions(self, engine: KafkaKsqlEngine) -> list[Any]:
        """Every store partition (one per input partition), each once."""
        count = 1
        for topic in self.query.source_topics:
            try:
                count = max(count, engine.topics.get(topic).partitions)
            except KsqlException:
                pass
        store = self.aggregate.store
        found: list[Any] = []
        for p in range(count):
            part = store.partition(p)
            if all(part is not f for f in found):
                found.append(part)
        return found

    def read(self, engine: KafkaKsqlEngine, plan: pull.PullPlan):
        """``(key, aggregate row, timestamp)`` for every stored row the plan asks for."""
        seen: set[Any] = set()
        for part in self.partitions(engine):
            for entry_key, entry in self._entries(part, plan):
                marker = repr(entry_key)
                if marker in seen or entry is None:
                    continue
                seen.add(marker)
                yield from self._rows(entry_key, entry)

    def _entries(self, part, plan: pull.PullPlan):
        time_windowed = self.window is not None and not isinstance(
            self.aggregate, SessionWindowAggregateProcessor
        )
        if plan.table_scan:
            yield from _stable(lambda: part.range(None, None))
            return
        for lookup in plan.lookups:
            if lookup.op is ex.ComparisonOperator.EQUAL:
                if time_windowed:
                    low, high = lookup.window.start_range(self.window.size_ms)
                    if low <= high:
                        start, end = (*lookup.key, low), (*lookup.key, high + 1)
                        yield from _stable(lambda s=start, e=end: part.range(s, e))
                else:
                    yield lookup.key, part.get(lookup.key)
                continue
            yield from _stable(lambda lookup=lookup: part.range(*_key_range(lookup)))

    def _rows(self, entry_key: tuple, entry: Any):
        aggregate = self.aggregate
        results = aggregate.udafs

        def row(key: tuple, accs: list[Any], window: Window | None) -> list[Any]:
            value = [*key, *(u.result(a) for u, a in zip(results, accs, strict=True))]
            return [*value, window.start, window.end] if window is not None else value

        if self.window is None:
            accs, timestamp = entry
            yield list(entry_key), row(entry_key, accs, None), timestamp
        elif isinstance(aggregate, SessionWindowAggregateProcessor):
            for start, end, accs, timestamp in entry:
                window = Window(start, end, True)
                yield [*entry_key, window], row(entry_key, accs, window), timestamp
        else:
            key, start = entry_key[:-1], entry_key[-1]
            window = Window(start, start + self.window.size_ms)
            accs, timestamp = entry
            yield [*key, window], row(key, accs, window), timestamp

    # ---- from a stored row to a row of the table ------------------------------------------------

    def pipeline(
        self, engine: KafkaKsqlEngine, query_id: str, to_source_row, entry: Processor
    ) -> Processor:
        """HAVING and the projection of the persistent query, then the pull query's steps."""
        context = QueryContext(query_id, engine.processing_log, engine.functions)
        first: Processor | None = None
        last: Processor | None = None
        for step in self.after:
            processor = _BUILDERS[type(step)](step, context, None)
            if last is None:
                first = processor
            else:
                last.downstream = processor
            last = processor
        tail = _Feed(lambda row: entry.process(to_source_row(row)))
        if last is None:
            return tail
        last.downstream = tail
        assert first is not None
        return first

    def source_row(self, value_count: int) -> Callable[[Row], Row]:
        """A table row (key, value columns) as the pull query's source builds its rows: value
        columns, ROWTIME, ROWPARTITION, ROWOFFSET, window bounds, key copies."""

        def convert(row: Row) -> Row:
            key = list(row.key or [])
            window = key.pop() if key and isinstance(key[-1], Window) else None
            value = None
            if row.value is not None:
                value = [*row.value[:value_count], row.timestamp, row.partition, -1]
                if window is not None:
                    value += [window.start, window.end]
                value += key
            return Row([*key, window] if window is not None else key, value, row.timestamp)

        return convert


def _key_range(lookup: pull.KeyLookup) -> tuple[tuple | None, tuple | None]:
    """Store range bounds (``start <= key < end``) for a STRING/BYTES key comparison; the
    WHERE clause, applied afterwards, drops what the bounds let through."""
    (value,) = lookup.key
    after = value + ("\0" if isinstance(value, str) else b"\0")  # the next key up
    op = ex.ComparisonOperator
    if lookup.op is op.GREATER_THAN:
        return (after,), None
    if lookup.op is op.GREATER_THAN_OR_EQUAL:
        return (value,), None
    if lookup.op is op.LESS_THAN:
        return None, (value,)
    return None, (after,)


def _stable(entries: Callable[[], Any]) -> list:
    """A store read while the query's thread keeps writing: retried if the store changed
    under it (an in-memory dict may be resized mid-iteration)."""
    for _ in range(5):
        try:
            return list(entries())
        except (RuntimeError, KeyError):
            time.sleep(0.01)
    return list(entries())


def transient_query(
    engine: KafkaKsqlEngine, statement: st.Statement, properties: dict[str, object]
) -> TransientQuery:
    if not isinstance(statement, st.QueryStatement):
        raise KsqlException("Only SELECT statements can be run as queries on this endpoint.")
    try:
        return TransientQuery(engine, statement, properties)
    except UnsupportedFeature:
        raise
