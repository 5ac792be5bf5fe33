"""Operators: the runtime form of execution steps, pushing rows downstream one at a time.

:func:`build_topology` turns a step chain (``StreamSource → ... → StreamSink``) into a
:class:`Topology`. A topology is fed :class:`~streamlab.ksql.runtime.records.Record` objects
from its source topic and hands every output record to an ``emit`` callback, so the same
topology runs under the in-process driver (QTT, tests) and under a Kafka consumer/producer
loop. The operators here keep no state; the stateful ones are :class:`Processor` subclasses in
:mod:`~streamlab.ksql.runtime.aggregate` (GROUP BY, windows, HAVING; registered in
``_BUILDERS``) and :mod:`~streamlab.ksql.runtime.joins` (a join topology has two sources).

Bad input never stops a topology: records that fail to deserialize, timestamps that cannot be
extracted, expressions that fail and rows that cannot be serialized are reported to the
processing log and skipped (or given NULL values, as ksqlDB does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlab.ksql.errors import SerializationError
from streamlab.ksql.expressions import CompiledExpression, ExpressionCompiler
from streamlab.ksql.formats import FormatInfo, RowSerde, ValueFormat, get_format, serde
from streamlab.ksql.formats.varint import read_zigzag, write_zigzag
from streamlab.ksql.functions import FUNCTIONS, FunctionRegistry
from streamlab.ksql.functions.timeformat import pattern
from streamlab.ksql.planner import steps
from streamlab.ksql.runtime.processing_log import ProcessingLog
from streamlab.ksql.runtime.records import Record, Row
from streamlab.ksql.runtime.streamtime import Clocks
from streamlab.ksql.schema import Column, LogicalSchema, Namespace
from streamlab.ksql.state.caching import ENTRY_BYTES, StoreCache
from streamlab.ksql.types import SqlBaseType

Emit = Callable[[Record], None]

#: the commit cache's size with the record cache off: room for every clock of a query
COMMIT_CACHE_BYTES = 1000 * ENTRY_BYTES


class Processor:
    """One operator; ``process`` handles a row and passes results to ``downstream``."""

    downstream: Processor | None = None

    def process(self, row: Row) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class QueryContext:
    """What operators of one query share: its id, the processing log, the stream time."""

    def __init__(self, query_id: str, log: ProcessingLog, functions: FunctionRegistry) -> None:
        self.query_id = query_id
        self.log = log
        self.functions = functions
        self.stream_time = -1
        # the query's stream time in a store (set by a sink that needs it after a restart)
        self.stream_clock: Any = None
        # the record cache in front of the aggregations' stores (None: the cache is off), and
        # the cache of the stores only a commit needs to see (stream time; None in-process)
        self.cache: StoreCache | None = None
        self.commit_cache: StoreCache | None = None

    def expression_error(self, what: str) -> Callable[[CompiledExpression, Exception, Any], None]:
        def report(compiled: CompiledExpression, error: Exception, row: Any) -> None:
            detail = str(error) or type(error).__name__
            self.log.processing_error(
                self.query_id,
                f"Error computing expression {compiled.expression} for {what}: {detail}",
                row,
            )

        return report


# ---- source -------------------------------------------------------------------------------------


def decode(source: Any, record: Record) -> tuple[Any, Any] | None:
    """``record``'s key and value through ``source``'s serdes, or None after logging a
    deserialization error to the processing log (the record is skipped, as ksqlDB does)."""
    context = source.context
    try:
        key = source.key_serde.deserialize(record.key, source.topic)
    except SerializationError as error:
        context.log.deserialization_error(context.query_id, "key", error, source.topic, record.key)
        return None
    try:
        value = source.value_serde.deserialize(record.value, source.topic)
    except SerializationError as error:
        context.log.deserialization_error(
            context.query_id, "value", error, source.topic, record.value
        )
        return None
    return key, value


class SourceProcessor:
    """Deserializes records, extracts timestamps and builds processing rows."""

    def __init__(self, step: steps.StreamSource, context: QueryContext) -> None:
        self.step = step
        self.context = context
        self.topic = step.topic
        schema = step.source_schema
        self.key_columns = list(schema.key)
        self.value_columns = [c for c in schema.columns if c.namespace is Namespace.VALUE]
        self.header_columns = [c for c in schema.columns if c.namespace is Namespace.HEADERS]
        self.row_columns = list(schema.value)  # value + header columns, declaration order
        assert step.key_format is not None and step.value_format is not None
        self.key_serde: RowSerde = serde(
            get_format(step.key_format.format),
            step.key_format.info,
            self.key_columns,
            step.key_format.features,
            is_key=True,
        )
        self.value_serde: RowSerde = serde(
            get_format(step.value_format.format),
            step.value_format.info,
            self.value_columns,
            step.value_format.features,
            is_key=False,
        )
        self.is_table = step.is_table
        self.key_count = len(self.key_columns)
        self.simple_value = not self.header_columns
        self.timestamp = self._timestamp_extractor(step, schema)
        self.downstream: Processor | None = None

    def _timestamp_extractor(
        self, step: steps.StreamSource, schema: LogicalSchema
    ) -> Callable[[list[Any] | None, list[Any], Record], int] | None:
        column = step.timestamp_column
        if column is None:
            return None
        target = schema.find_column(column.column)
        assert target is not None
        if target.namespace is Namespace.KEY:
            index = self.key_columns.index(target)

            def get(value, key, record):
                return key[index]
        else:
            index = self.row_columns.index(target)

            def get(value, key, record):
                if value is None:
                    raise ValueError("value is null")
                return value[index]

        if target.type.base is SqlBaseType.STRING:
            fmt = pattern(column.format or "")

            def extract(value, key, record):
                text = get(value, key, record)
                if text is None:
                    raise ValueError("timestamp column is null")
                return fmt.parse_millis(text, "UTC")

            return extract

        def extract_long(value, key, record):
            millis = get(value, key, record)
            if millis is None:
                raise ValueError("timestamp column is null")
            return int(millis)

        return extract_long

    def process_record(self, record: Record) -> None:
        context = self.context
        decoded = decode(self, record)
        if decoded is None:
            return
        key, value = decoded
        if key is not None and self.key_count == 0:
            key = None
        if self.is_table and (key is None or self.key_count == 0):
            return  # tables ignore records without a key
        key_values = key if key is not None else [None] * self.key_count
        if value is not None and not self.simple_value:
            value = self._with_headers(value, record)
        timestamp = record.timestamp
        if self.timestamp is not None:
            try:
                timestamp = self.timestamp(value, key_values, record)
            except Exception as error:
                context.log.processing_error(
                    context.query_id, f"Failed to extract timestamp from row: {error}", value
                )
                return
        if timestamp < 0:
            context.log.processing_error(
                context.query_id, f"Skipping record with negative timestamp {timestamp}", value
            )
            return
        context.stream_time = max(context.stream_time, timestamp)
        if context.stream_clock is not None:
            context.stream_clock.advance("streamTime", timestamp)
        if value is not None:
            row_value = [*value, timestamp, record.partition, record.offset, *key_values]
        else:
            row_value = None
        if self.downstream is not None:
            self.downstream.process(
                Row(key, row_value, timestamp, record.partition, record.offset, record.headers)
            )

    def _with_headers(self, value: list[Any], record: Record) -> list[Any]:
        values = iter(value)
        out = []
        for column in self.row_columns:
            if column.namespace is Namespace.VALUE:
                out.append(next(values))
            elif column.header_key is None:
                out.append([{"KEY": k, "VALUE": v} for k, v in record.headers])
            else:
                found = None
                for k, v in record.headers:
                    if k == column.header_key:
                        found = v
                out.append(found)
        return out


# ---- stateless operators ------------------------------------------------------------------------


class FilterProcessor(Processor):
    """WHERE on a stream: NULL values and rows that are not TRUE are dropped."""

    def __init__(self, predicate: CompiledExpression, context: QueryContext) -> None:
        self.predicate = predicate
        self.on_error = context.expression_error("WHERE")

    def process(self, row: Row) -> None:
        if row.value is None:
            return
        if self.predicate.evaluate(row.value, self.on_error) is True and self.downstream:
            self.downstream.process(row)


class TableFilterProcessor(FilterProcessor):
    """WHERE on a table: a row that does not pass is forwarded as a delete (tombstone)."""

    def process(self, row: Row) -> None:
        if row.value is not None and self.predicate.evaluate(row.value, self.on_error) is not True:
            row = Row(row.key, None, row.timestamp, row.partition, row.offset, row.headers)
        if self.downstream:
            self.downstream.process(row)


class SelectKeyProcessor(Processor):
    """PARTITION BY: compute the new key; non-column keys are appended to the value."""

    def __init__(self, step: steps.StreamSelectKey, context: QueryContext) -> None:
        parent = step.source
        assert parent is not None
        self.null_key = step.partition_by_null
        value_compiler = ExpressionCompiler(parent.columns(), context.functions)
        key_compiler = ExpressionCompiler(
            [(c.name, c.type) for c in parent.schema.key], context.functions
        )
        self.evaluators: list[tuple[bool, CompiledExpression]] = []
        for expression, key_only in zip(step.key_expressions, step.key_only, strict=True):
            compiler = key_compiler if key_only else value_compiler
            self.evaluators.append((key_only, compiler.compile(expression, "SelectKey")))
        self.appended = step.appended
        self.key_count = len(parent.schema.key)
        self.on_error = context.expression_error("PARTITION BY")

    def process(self, row: Row) -> None:
        if self.null_key:
            new_key = None
            value = row.value
        else:
            key_row = row.key if row.key is not None else [None] * self.key_count
            new_key = []
            for key_only, compiled in self.evaluators:
                if key_only:
                    new_key.append(compiled.evaluate(key_row, self.on_error))
                elif row.value is None:
                    new_key.append(None)
                else:
                    new_key.append(compiled.evaluate(row.value, self.on_error))
            value = row.value
            if value is not None and any(self.appended):
                value = value + [k for k, a in zip(new_key, self.appended, strict=True) if a]
        if self.downstream:
            self.downstream.process(
                Row(new_key, value, row.timestamp, row.partition, row.offset, row.headers)
            )


class FlatMapProcessor(Processor):
    """Table functions: zip the lists they return into rows; shorter lists pad with NULL.

    A NULL value produces nothing; a table function that fails (or whose arguments fail) is
    reported to the processing log and contributes no elements, as in ksqlDB.
    """

    def __init__(self, step: steps.StreamFlatMap, context: QueryContext) -> None:
        parent = step.source
        assert parent is not None
        compiler = ExpressionCompiler(parent.columns(), context.functions)
        self.functions = [compiler.compile(e, "TableFunction") for e in step.table_functions]
        self.on_error = context.expression_error("table function")

    def process(self, row: Row) -> None:
        if row.value is None or self.downstream is None:
            return
        results = []
        for function in self.functions:
            produced = function.evaluate(row.value, self.on_error)
            results.append(produced if isinstance(produced, list) else [])
        for i in range(max((len(r) for r in results), default=0)):
            extra = [r[i] if i < len(r) else None for r in results]
            self.downstream.process(
                Row(
                    row.key,
                    [*row.value, *extra],
                    row.timestamp,
                    row.partition,
                    row.offset,
                    row.headers,
                )
            )


class SelectProcessor(Processor):
    """The projection: value columns from expressions; NULL values stay NULL."""

    def __init__(self, step: steps.StreamSelect, context: QueryContext) -> None:
        parent = step.source
        assert parent is not None
        compiler = ExpressionCompiler(parent.columns(), context.functions)
        self.selects = [compiler.compile(e, "Select") for _, e in step.selects]
        self.fns = [s.fn for s in self.selects]
        self.drop_key = step.drop_key
        self.on_error = context.expression_error("SELECT")

    def process(self, row: Row) -> None:
        key = None if self.drop_key else row.key
        value = row.value
        if value is not None:
            try:
                value = [fn(value) for fn in self.fns]
            except Exception:
                value = [s.evaluate(row.value, self.on_error) for s in self.selects]
        if self.downstream:
            self.downstream.process(
                Row(key, value, row.timestamp, row.partition, row.offset, row.headers)
            )


# ---- sink ---------------------------------------------------------------------------------------


class SinkProcessor(Processor):
    """Serializes rows and emits records to the sink topic."""

    def __init__(self, step: steps.StreamSink, context: QueryContext, emit: Emit) -> None:
        self.context = context
        self.emit = emit
        self.topic = step.topic
        schema = step.schema
        assert step.key_format is not None and step.value_format is not None
        self.key_serde = serde(
            get_format(step.key_format.format),
            step.key_format.info,
            list(schema.key),
            step.key_format.features,
            is_key=True,
            topic=step.topic,
        )
        self.value_serde = serde(
            get_format(step.value_format.format),
            step.value_format.info,
            list(schema.value),
            step.value_format.features,
            is_key=False,
            topic=step.topic,
        )
        self.timestamp = self._timestamp(step, schema)
        self.windowed = step.key_format.window is not None
        table = isinstance(step, steps.TableSink)
        if self.timestamp is not None and table and context.stream_clock is None:
            # tombstones are stamped with the query's stream time: keep it across restarts
            # (a stream's NULL values pass through; they keep it in memory, with no store)
            context.stream_clock = Clocks(context, "KsqlTopic-StreamTime")

    @staticmethod
    def _timestamp(step: steps.StreamSink, schema: LogicalSchema):
        column = step.timestamp_column
        if column is None:
            return None
        target: Column | None = schema.find_column(column.column)
        assert target is not None
        in_key = target.namespace is Namespace.KEY
        index = (list(schema.key) if in_key else list(schema.value)).index(target)
        fmt = pattern(column.format) if target.type.base is SqlBaseType.STRING else None

        def extract(row: Row) -> int:
            source = row.key if in_key else row.value
            raw = source[index] if source is not None else None
            if raw is None:
                raise ValueError("timestamp column is null")
            return fmt.parse_millis(raw, "UTC") if fmt is not None else int(raw)

        return extract

    def process(self, row: Row) -> None:
        context = self.context
        timestamp = row.timestamp
        if self.timestamp is not None:
            if row.value is None:
                clock = context.stream_clock
                stream_time = clock.get("streamTime") if clock else context.stream_time
                timestamp = max(stream_time, 0)
            else:
                try:
                    timestamp = self.timestamp(row)
                except Exception as error:
                    context.log.processing_error(
                        context.query_id,
                        f"Error writing row with extracted timestamp: {error}",
                        row.value,
                    )
                    return
            if timestamp < 0:
                context.log.processing_error(
                    context.query_id,
                    "Error writing row with extracted timestamp: Timestamp cannot be negative",
                    row.value,
                )
                return
        try:
            if self.windowed and row.key is not None:
                from streamlab.ksql.runtime.windows import encode_windowed_key

                inner = self.key_serde.serialize(row.key[:-1]) or b""
                key = encode_windowed_key(inner, row.key[-1])
            else:
                key = self.key_serde.serialize(row.key) if row.key is not None else None
        except SerializationError as error:
            context.log.serialization_error(context.query_id, "key", error, self.topic)
            return
        try:
            value = self.value_serde.serialize(row.value)
        except SerializationError as error:
            context.log.serialization_error(context.query_id, "value", error, self.topic)
            return
        self.emit(Record(self.topic, key, value, timestamp, headers=row.headers))


# ---- repartition (Kafka Streams sub-topologies) --------------------------------------------------

#: The value format of a repartition topic whose source's value format cannot hold the processing
#: row (e.g. KAFKA and several columns, DELIMITED and a header column): JSON holds any row.
INTERNAL_VALUE_FORMAT = FormatInfo("JSON")

#: ``ConnectProperties.SCHEMA_ID``: ksqlDB's ``InternalFormats.of`` drops it from internal formats
SCHEMA_ID_PROPERTY = "schemaId"


class RepartitionSink(Processor):
    """The end of an upstream sub-topology: each row goes to the repartition topic keyed by its
    new key (the group or join key), its value the whole processing row (a table's GROUP BY:
    the row's :class:`~streamlab.ksql.runtime.aggregate.Change`, see :func:`changed_serde`).

    The record's partition is left to the producer, whose ``murmur2_random`` partitioner is the
    Java client's (``murmur2(key) % partitions``). Rows the downstream operator would drop (NULL
    value, NULL new key) are dropped here, as Kafka Streams' ``selectKey``/``groupBy`` do.
    """

    def __init__(
        self,
        topic: str,
        key_of: Callable[[Row], list[Any] | None],
        key_serde: RowSerde,
        value_serde: RowSerde,
        context: QueryContext,
        emit: Emit,
    ) -> None:
        self.topic = topic
        self.key_of = key_of
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.context = context
        self.emit = emit

    def process(self, row: Row) -> None:
        if row.value is None:
            return
        new_key = self.key_of(row)
        if new_key is None:
            return
        context = self.context
        try:
            key = self.key_serde.serialize(new_key)
        except SerializationError as error:
            context.log.serialization_error(context.query_id, "key", error, self.topic)
            return
        try:
            value = self.value_serde.serialize(row.value)
        except SerializationError as error:
            context.log.serialization_error(context.query_id, "value", error, self.topic)
            return
        self.emit(Record(self.topic, key, value, row.timestamp, headers=row.headers))


class RepartitionSource:
    """The start of a downstream sub-topology: reads a repartition topic back into rows."""

    def __init__(
        self, topic: str, key_serde: RowSerde, value_serde: RowSerde, context: QueryContext
    ) -> None:
        self.topic = topic
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.context = context
        self.downstream: Processor | None = None

    def process_record(self, record: Record) -> None:
        context = self.context
        # only records another writer put on the topic can fail here
        decoded = decode(self, record)
        if decoded is None:
            return
        key, value = decoded
        context.stream_time = max(context.stream_time, record.timestamp)
        if self.downstream is not None:
            self.downstream.process(
                Row(key, value, record.timestamp, record.partition, record.offset, record.headers)
            )


class SubTopologies:
    """A query split at its repartition topics: records of a repartition topic go to the
    sub-topology reading it, all others to the one reading the sources.

    ``downstream`` is the first operator of the last sub-topology (the one holding the
    aggregate or join), so walks from ``topology.source`` still find the stateful operators.
    """

    def __init__(
        self, sources: Any, topics: list[str], repartitions: dict[str, RepartitionSource]
    ) -> None:
        self.sources = sources
        self.topics = topics  # the source topics
        self.repartitions = repartitions

    @property
    def downstream(self) -> Processor | None:
        last = list(self.repartitions.values())[-1]
        return last.downstream

    def process_record(self, record: Record) -> None:
        found = self.repartitions.get(record.topic)
        (found if found is not None else self.sources).process_record(record)


def _repartition_serdes(
    topic: str,
    key_columns: list[Column],
    key_format: Any,
    value_columns: list[Column],
    value_format: ValueFormat | None,
) -> tuple[RowSerde, RowSerde]:
    """The internal key format is the query's (``key_format``), JSON when that format cannot
    hold the key (e.g. KAFKA and several key columns); the value format is ``value_format``
    (the source's, see :func:`_internal_value_serde`)."""
    try:
        key_serde = serde(
            get_format(key_format.format), key_format.info, key_columns,
            key_format.features, is_key=True, topic=topic,
        )  # fmt: skip
    except Exception:
        key_serde = serde(get_format("JSON"), FormatInfo("JSON"), key_columns, frozenset(), True)
    return key_serde, _internal_value_serde(topic, value_format, value_columns)


def _internal_value_serde(
    topic: str, value_format: ValueFormat | None, columns: list[Column]
) -> RowSerde:
    """ksqlDB's ``InternalFormats.of(keyFormat, valueFormat)``: a repartition topic's values are
    in the source's value format with its properties (but no schema id) and no serde features
    (the format's defaults: JSON, PROTOBUF and JSON_SR wrap a single column).

    The processing row this engine repartitions (all the source's columns, pseudo columns
    included) is wider than ksqlDB's (only the columns the query needs), so where the source's
    format cannot hold it (KAFKA or NONE and several columns, DELIMITED and a header column)
    the topic is JSON rather than the query failing.

    The Schema Registry formats register the row's schema under ``<topic>-value`` when the
    first record is written, as the Confluent serializers ksqlDB builds for internal topics
    (``auto.register.schemas`` left on) do."""
    if value_format is not None:
        properties = tuple(p for p in value_format.info.properties if p[0] != SCHEMA_ID_PROPERTY)
        info = FormatInfo(value_format.format, properties)
        try:
            fmt = get_format(info.format)
            fmt.validate(columns, frozenset(), is_key=False)
            reader = serde(fmt, info, columns, frozenset(), is_key=False)
        except Exception:
            pass
        else:
            if not fmt.requires_schema_registry:
                return reader
            writers: list[RowSerde] = []

            def serialize(values: Any) -> bytes | None:
                if not writers:  # registers the schema (a failure is retried on the next row)
                    try:
                        writers.append(serde(fmt, info, columns, frozenset(), False, topic=topic))
                    except Exception as error:
                        raise SerializationError(f"Error serializing value: {error}") from error
                return writers[0].serialize(values)

            return RowSerde(serialize, reader.deserialize)
    return serde(get_format("JSON"), INTERNAL_VALUE_FORMAT, columns, frozenset(), is_key=False)


def _leftmost_value_format(step: Any) -> ValueFormat | None:
    """The value format of the leftmost source under ``step`` (ksqlDB's
    ``getLeftmostSourceNode().getDataSource().getKsqlTopic().getValueFormat()``)."""
    while getattr(step, "value_format", None) is None and getattr(step, "left", None) is not None:
        step = step.left
    return getattr(step, "value_format", None)


#: the trailing byte of a serialized Change: which of old and new it holds
CHANGE_OLD, CHANGE_NEW, CHANGE_BOTH = 0, 1, 2


def changed_serde(inner: RowSerde) -> RowSerde:
    """Kafka Streams' ``ChangedSerializer`` / ``ChangedDeserializer`` (3.5+) around ``inner``
    (the processing row, in the source's value format): the value of a table GROUP BY's
    repartition record is

    * ``old ‖ 0x00``: the row leaves the group (a retraction),
    * ``new ‖ 0x01``: the row joins the group,
    * ``varint(len(new)) ‖ new ‖ old ‖ 0x02``: both, the row stays in its group (KIP-904);

    ``varint`` is Kafka's zig-zag varint (:mod:`streamlab.ksql.formats.varint`). Kafka Streams
    rejects a change with neither."""
    from streamlab.ksql.runtime.aggregate import Change  # aggregate imports this module

    def serialize(change: Any) -> bytes:
        new = inner.serialize(change.new) if change.new is not None else None
        old = inner.serialize(change.old) if change.old is not None else None
        if new is not None and old is not None:
            return write_zigzag(len(new)) + new + old + bytes([CHANGE_BOTH])
        if new is not None:
            return new + bytes([CHANGE_NEW])
        if old is not None:
            return old + bytes([CHANGE_OLD])
        raise SerializationError("Both old and new values are null in a Change")

    def deserialize(data: bytes | None, topic: str) -> Any:
        flag = data[-1] if data else None
        if data and flag in (CHANGE_OLD, CHANGE_NEW):
            row = inner.deserialize(data[:-1], topic)
            return Change(row, None) if flag == CHANGE_NEW else Change(None, row)
        if data and flag == CHANGE_BOTH:
            try:
                size, at = read_zigzag(data)
            except ValueError:
                size, at = -1, 0
            if 0 <= size <= len(data) - at - 1:
                new = inner.deserialize(data[at : at + size], topic)
                old = inner.deserialize(data[at + size : -1], topic)
                return Change(new, old)
        raise SerializationError(
            f"Failed to deserialize value from topic: {topic}. Not a serialized Change "
            f"(flag {flag})"
        )

    return RowSerde(serialize, deserialize)  # type: ignore[arg-type]


def _split_aggregate(
    step: Any, aggregate: Any, previous: Any, topic: str, key_format: Any,
    value_format: ValueFormat | None, context: QueryContext, emit: Emit,
) -> RepartitionSource:  # fmt: skip
    """``previous → RepartitionSink`` | ``RepartitionSource → aggregate``: GROUP BY's
    ``Aggregate-GroupBy-repartition``, keyed by the group key.

    Over a table (Kafka Streams' ``KTable.groupBy``) the upstream part is the aggregate's
    ``group_by`` (the source table, materialized): the topic carries its changes, encoded by
    :func:`changed_serde`, and the aggregate downstream applies them."""
    parent = step.source
    key_serde, value_serde = _repartition_serdes(
        topic, list(step.schema.key), key_format, list(parent.schema.value), value_format
    )
    if step.from_table:
        value_serde = changed_serde(value_serde)  # the Change framing around the row's bytes
        group_by = aggregate.group_by
        previous.downstream = group_by
        group_by.downstream = RepartitionSink(
            topic, lambda row: row.key, key_serde, value_serde, context, emit
        )
    else:

        def key_of(row: Row) -> list[Any] | None:
            key = aggregate.group_key(row.value)  # NULL parts are logged and dropped there
            return list(key) if key is not None else None

        previous.downstream = RepartitionSink(topic, key_of, key_serde, value_serde, context, emit)
    source = RepartitionSource(topic, key_serde, value_serde, context)
    source.downstream = aggregate
    return source


class TableRepartitionSink(RepartitionSink):
    """A re-keyed table's end of its upstream sub-topology (ksqlDB's ``TableSelectKey``:
    ``toStream().map(...)`` then ``toTable(...)`` through the repartition topic): every
    update goes, tombstones too, since the table downstream must see its deletes."""

    def process(self, row: Row) -> None:
        if row.value is not None:
            super().process(row)
            return
        key = self.key_of(row)
        if key is None:
            return
        try:
            data = self.key_serde.serialize(key)
        except SerializationError as error:
            context = self.context
            context.log.serialization_error(context.query_id, "key", error, self.topic)
            return
        self.emit(Record(self.topic, data, None, row.timestamp, headers=row.headers))


def _split_table_side(
    join_step: Any, side: Any, topic: str, context: QueryContext, emit: Emit
) -> RepartitionSource:
    """The right table of a join whose key format differs from the left side's goes through
    ``RightSourceKeyed-SelectKey-repartition``: its key, unchanged, written in the left side's
    key format (so it lands on the partition the left side's records for it have), read back
    and materialized by the join (``RightSourceKeyed-Materialize``)."""
    key_columns = list(join_step.right.source_schema.key)
    value_columns = [Column(name, sql_type) for name, sql_type in join_step.right_columns]
    key_serde, value_serde = _repartition_serdes(
        topic, key_columns, join_step.left.key_format, value_columns,
        _leftmost_value_format(join_step.right),
    )  # fmt: skip
    reader = RepartitionSource(topic, key_serde, value_serde, context)
    reader.downstream = side.downstream  # the join's side input
    side.downstream = TableRepartitionSink(
        topic, lambda row: row.key, key_serde, value_serde, context, emit
    )
    return reader


def _split_join(
    join_step: Any, source: Any, internal_topic: Callable[[str], str | None],
    key_format: Any, context: QueryContext, emit: Emit,
) -> dict[str, RepartitionSource]:  # fmt: skip
    """Re-keyed stream sides of a join go through ``Join-repartition`` (stream-table) or
    ``Join-left-repartition`` / ``Join-right-repartition`` (stream-stream), keyed by the join
    key; a right table in another key format than the left side's through
    ``RightSourceKeyed-SelectKey-repartition`` (:func:`_split_table_side`)."""
    routes: dict[str, RepartitionSource] = {}
    if join_step.kind != "stream-stream":
        topic = internal_topic("RightSourceKeyed-SelectKey-repartition")
        if topic is not None:
            routes[topic] = _split_table_side(join_step, source.right, topic, context, emit)
    if join_step.kind == "stream-table":
        suffixes = {True: "Join-repartition", False: None}  # the table is keyed already
    elif join_step.kind == "stream-stream":
        suffixes = {True: "Join-left-repartition", False: "Join-right-repartition"}
    else:
        return routes
    topics = {side: internal_topic(s) if s else None for side, s in suffixes.items()}
    sides = [
        (True, source.left, join_step.left, join_step.right),
        (False, source.right, join_step.right, join_step.left),
    ]
    for is_left, side, own, other in sides:
        topic = topics[is_left]
        if topic is None:
            continue
        # the key as the other side's records have it, unless both are re-keyed
        side_format = other.key_format if topics[not is_left] is None else key_format
        columns = join_step.left_columns if is_left else join_step.right_columns
        compiler = ExpressionCompiler(columns, context.functions)
        expression = join_step.left_key if is_left else join_step.right_key
        compiled = compiler.compile(expression, "JoinKey")
        key_columns = [Column("ROWKEY", compiler.type_of(expression), Namespace.KEY)]
        value_columns = [Column(name, sql_type) for name, sql_type in columns]
        key_serde, value_serde = _repartition_serdes(
            topic, key_columns, side_format, value_columns, _leftmost_value_format(own)
        )
        on_error = context.expression_error("JOIN key")

        def key_of(row: Row, compiled=compiled, on_error=on_error) -> list[Any] | None:
            key = compiled.evaluate(row.value, on_error)
            return [key] if key is not None else None

        reader = RepartitionSource(topic, key_serde, value_serde, context)
        reader.downstream = side.downstream  # the join's side input
        side.downstream = RepartitionSink(topic, key_of, key_serde, value_serde, context, emit)
        routes[topic] = reader
    return routes


# ---- topology -----------------------------------------------------------------------------------


class Topology:
    """A built query: feed it source records with :meth:`process`."""

    def __init__(self, query_id: str, source: SourceProcessor, context: QueryContext) -> None:
        self.query_id = query_id
        self.source = source
        self.context = context
        self.source_topics = list(getattr(source, "topics", None) or [source.topic])
        #: the internal topics the query also consumes (its downstream sub-topologies)
        self.repartition_topics: list[str] = []

    def process(self, record: Record) -> None:
        self.source.process_record(record)

    def flush(self) -> None:
        """Before a commit: the record cache's entries into the stores, changelogs and
        downstream (see :mod:`streamlab.ksql.state.caching`)."""
        if self.context.commit_cache is not None:
            self.context.commit_cache.flush()


_BUILDERS: dict[type, Callable[..., Processor]] = {
    steps.TableFilter: lambda step, ctx, emit: TableFilterProcessor(
        ExpressionCompiler(step.source.columns(), ctx.functions).compile(
            step.predicate, "Predicate"
        ),
        ctx,
    ),
    steps.StreamFilter: lambda step, ctx, emit: FilterProcessor(
        ExpressionCompiler(step.source.columns(), ctx.functions).compile(
            step.predicate, "Predicate"
        ),
        ctx,
    ),
    steps.StreamSelectKey: lambda step, ctx, emit: SelectKeyProcessor(step, ctx),
    steps.StreamFlatMap: lambda step, ctx, emit: FlatMapProcessor(step, ctx),
    steps.TableSelect: lambda step, ctx, emit: SelectProcessor(step, ctx),
    steps.StreamSelect: lambda step, ctx, emit: SelectProcessor(step, ctx),
    steps.TableSink: lambda step, ctx, emit: SinkProcessor(step, ctx, emit),
    steps.StreamSink: lambda step, ctx, emit: SinkProcessor(step, ctx, emit),
}


def build_topology(
    final_step: steps.ExecutionStep,
    query_id: str,
    emit: Emit,
    log: ProcessingLog,
    functions: FunctionRegistry = FUNCTIONS,
    store_factory: Callable[[str], Any] | None = None,
    internal_topic: Callable[[str], str | None] | None = None,
    cache_max_bytes: int | None = None,
) -> Topology:
    """Build the operators of a step chain; outputs of the last step go to ``emit``.

    ``store_factory(name)`` makes the state stores (see :func:`streamlab.ksql.state.open_store`).
    ``internal_topic(suffix)`` (the Kafka runtime) names the query's internal topic with that
    suffix, None if it has none: the topology is then split at its repartition points, as
    Kafka Streams' sub-topologies, and ``repartition_topics`` lists what it also consumes.
    Without it (in-process, QTT) one topology runs from the sources to the sink.
    ``cache_max_bytes`` (the Kafka runtime, which calls :meth:`Topology.flush` before each
    commit): > 0 puts Kafka Streams' record cache in front of the aggregations' stores (they
    then forward at the flush); with any value the stream-time stores are written at the flush.
    """
    import streamlab.ksql.runtime.aggregate  # noqa: F401  (registers the stateful operators)
    from streamlab.ksql.planner.aggregate import Aggregate

    context = QueryContext(query_id, log, functions)
    if store_factory is not None:
        context.store_factory = store_factory  # type: ignore[attr-defined]
    if cache_max_bytes is not None:
        context.commit_cache = StoreCache(max(cache_max_bytes, COMMIT_CACHE_BYTES))
        if cache_max_bytes > 0:
            context.cache = context.commit_cache  # one budget, as Kafka Streams' thread cache
    chain = final_step.chain()
    source_step = chain[0]
    previous: SourceProcessor | Processor
    if isinstance(source_step, steps.StreamSource):
        source: Any = SourceProcessor(source_step, context)
        previous = source
        topics = [source.topic]
    else:  # a join: two sources feeding one join operator
        from streamlab.ksql.runtime.joins import build_join

        source, previous, topics = build_join(source_step, context)  # type: ignore[arg-type]
    routes: dict[str, RepartitionSource] = {}
    key_format = getattr(final_step, "key_format", None)
    if key_format is not None and key_format.window is not None:  # the group key, unwindowed
        key_format = type(key_format)(key_format.info, key_format.features)
    if internal_topic is not None and not isinstance(source_step, steps.StreamSource):
        routes.update(_split_join(source_step, source, internal_topic, key_format, context, emit))
    for step in chain[1:]:
        builder = _BUILDERS.get(type(step))
        if builder is None:
            raise NotImplementedError(f"No operator for step {type(step).__name__}")
        processor = builder(step, context, emit)
        topic = None
        if internal_topic is not None and isinstance(step, Aggregate) and step.repartition:
            topic = internal_topic("Aggregate-GroupBy-repartition")
        if topic is not None:
            routes[topic] = _split_aggregate(
                step, processor, previous, topic, key_format,
                _leftmost_value_format(source_step), context, emit,
            )  # fmt: skip
        else:
            previous.downstream = processor
        previous = processor
    topology = Topology(
        query_id, SubTopologies(source, topics, routes) if routes else source, context
    )
    topology.source_topics = topics
    topology.repartition_topics = list(routes)
    return topology
