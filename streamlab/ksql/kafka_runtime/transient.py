"""Transient queries: push queries (``SELECT … EMIT CHANGES``) and pull queries (no EMIT).

Both are planned like a persistent query without a sink (source → filter → PARTITION BY →
table functions → projection) and built into the same operators; a collector at the end hands
each output row to a callback. A push query is a fresh consumer group reading from
``auto.offset.reset`` (default latest) until stopped; a pull query scans the source topic from
the beginning to its current end and keeps, for a table, the latest row per key.
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

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.kafka_runtime.engine import KafkaKsqlEngine, offset_reset
from streamlab.ksql.kafka_runtime.runner import consumer_config, next_batch, to_record
from streamlab.ksql.kafka_runtime.state import KeyedStore
from streamlab.ksql.kafka_runtime.topics import TIMEOUT
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.planner import LogicalPlanner, QueryAnalyzer, Sink, steps
from streamlab.ksql.planner.analyzer import UnsupportedFeature
from streamlab.ksql.planner.properties import SourceProperties
from streamlab.ksql.runtime.operators import _BUILDERS, Processor, Topology, build_topology
from streamlab.ksql.runtime.records import Row
from streamlab.ksql.schema import LogicalSchema
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
        planner = LogicalPlanner(engine.functions, config)
        # aggregations and joins: planned as a persistent query without its sink step; rows
        # leave it as key columns + value columns
        self.stateful = analysis.group_by is not None or analysis.join is not None
        if self.stateful:
            if not self.push:
                raise KsqlException(
                    "Pull queries don't support GROUP BY or JOIN here: query the table a "
                    "CREATE TABLE AS SELECT maintains instead, or add EMIT CHANGES."
                )
            self.select, columns = self._plan_stateful(analysis, planner)
        else:
            self.select = self._plan(analysis, planner)
            columns = list(self.select.schema.value)
        self.query_id = f"transient_{self.source.name}_{random.getrandbits(63)}"
        self.column_names = [c.name for c in columns]
        self.column_types = [str(c.type) for c in columns]
        self.key_count = len(columns) - len(self.select.schema.value)
        key_names = {c.name for c in self.source.schema.key}
        key_index = {c.name: i for i, c in enumerate(self.source.schema.key)}
        selects = list(getattr(self.select, "selects", ()))
        # where each output column finds its value in the key, for tombstone rows
        self.key_positions: list[int | None] = (
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
        """A deleted table row: key columns filled in, value columns NULL."""
        return [
            key[i] if key is not None and i is not None and i < len(key) else None
            for i in self.key_positions
        ]

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
        return build_topology(
            CollectRows(schema=self.select.schema, source_step=self.select),
            self.query_id,
            on_row,  # type: ignore[arg-type]  (CollectRows hands it rows, not records)
            self.engine.processing_log,
            self.engine.functions,
            store_factory=KeyedStore,
        )

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


def transient_query(
    engine: KafkaKsqlEngine, statement: st.Statement, properties: dict[str, object]
) -> TransientQuery:
    if not isinstance(statement, st.QueryStatement):
        raise KsqlException("Only SELECT statements can be run as queries on this endpoint.")
    try:
        return TransientQuery(engine, statement, properties)
    except UnsupportedFeature:
        raise
