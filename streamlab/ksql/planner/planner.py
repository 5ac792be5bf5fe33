"""From an analyzed query to execution steps: ksqlDB's ``LogicalPlanner`` for stateless queries.

The plan mirrors ksqlDB's nodes: ``DataSourceNode`` (processing schema with pseudo and key
columns copied into the value) → ``FilterNode`` (WHERE) → ``UserRepartitionNode``
(PARTITION BY) → ``FlatMapNode`` (table functions) → ``FinalProjectNode`` (SELECT) →
``KsqlStructuredDataOutputNode`` (sink), with the same schema rules and the same validation
messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamlab.ksql.catalog import DataSource, DataSourceType, KsqlTopic, TimestampColumn
from streamlab.ksql.errors import KsqlException, KsqlStatementException
from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.formats import (
    FormatInfo,
    KeyFormat,
    ValueFormat,
    check_key_types,
    check_registry,
    get_format,
    key_features,
    value_features,
)
from streamlab.ksql.functions import FUNCTIONS, FunctionRegistry
from streamlab.ksql.functions.timeformat import parse_partial_timestamp
from streamlab.ksql.parser.ast import Node, transform, walk
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.planner import steps
from streamlab.ksql.planner.analyzer import Analysis, ColumnAliasGenerator, strip_qualifiers
from streamlab.ksql.planner.properties import SourceProperties
from streamlab.ksql.schema import (
    PSEUDO_COLUMN_NAMES,
    WINDOWEND,
    WINDOWSTART,
    Column,
    LogicalSchema,
    Namespace,
)
from streamlab.ksql.types import SqlBaseType, SqlStruct, SqlType, quote_identifier

MAGIC_TIMESTAMP_COLUMNS = frozenset({"ROWTIME", WINDOWSTART, WINDOWEND})


@dataclass
class Sink:
    """Where a persistent query writes: a new source (CSAS/CTAS) or an existing stream."""

    name: str
    properties: SourceProperties
    create: bool = True
    table: bool = False  # CREATE TABLE AS (vs CREATE STREAM AS / INSERT INTO)
    existing: DataSource | None = None


@dataclass
class QueryPlan:
    """A planned persistent query: its step chain and the source it writes."""

    physical: steps.ExecutionStep
    sink_source: DataSource
    source: DataSource
    partitions: int | None
    replicas: int | None


def synthesised_column(index: int) -> str:
    """ksqlDB's ``ColumnNames.synthesisedSchemaColumn``."""
    return f"KSQL_SYNTH_{index}"


def grammatical_and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def rewrite_magic_timestamps(expression: ex.Expression) -> ex.Expression:
    """``ROWTIME > '2018-01-01'``: string literals compared with ROWTIME become epoch millis."""

    def is_time_column(node: ex.Expression) -> bool:
        return isinstance(node, ex.ColumnReference) and node.name in MAGIC_TIMESTAMP_COLUMNS

    def to_millis(node: ex.Expression) -> ex.Expression:
        if isinstance(node, ex.StringLiteral):
            return ex.LongLiteral(parse_partial_timestamp(node.value), location=node.location)
        return node

    def rewrite(node: Node) -> Node | None:
        if isinstance(node, ex.BetweenPredicate) and is_time_column(node.value):
            return ex.BetweenPredicate(
                node.value, to_millis(node.min), to_millis(node.max), location=node.location
            )
        if isinstance(node, ex.ComparisonExpression):
            if is_time_column(node.left):
                return ex.ComparisonExpression(
                    node.operator, node.left, to_millis(node.right), location=node.location
                )
            if is_time_column(node.right):
                return ex.ComparisonExpression(
                    node.operator, to_millis(node.left), node.right, location=node.location
                )
        return None

    return transform(expression, rewrite)  # type: ignore[return-value]


def order_columns(columns: tuple[Column, ...], schema: LogicalSchema) -> list[str]:
    """``SELECT *`` order: key columns first, then value columns (no pseudo columns)."""
    by_name = {c.name: c for c in columns}
    keys = [k.name for k in schema.key if k.name in by_name]
    bounds = [c.name for c in columns if c.name in (WINDOWSTART, WINDOWEND)]
    values = [
        c.name
        for c in columns
        if c.name not in (WINDOWSTART, WINDOWEND)
        and c.name not in PSEUDO_COLUMN_NAMES
        and not schema.is_key_column(c.name)
    ]
    return keys + bounds + values


class LogicalPlanner:
    """Plans persistent (and transient) stateless queries."""

    def __init__(
        self,
        functions: FunctionRegistry = FUNCTIONS,
        config: dict[str, object] | None = None,
    ) -> None:
        self.functions = functions
        self.config = config or {}

    def _flag(self, name: str) -> bool:
        value = self.config.get(name)
        return str(value).lower() == "true" if value is not None else False

    # ---- source, filter, partition by -----------------------------------------------------------

    def _source_step(self, analysis: Analysis) -> steps.StreamSource:
        source = analysis.source
        processing = LogicalSchema(
            [
                *source.schema.key,
                *(Column(n, t) for n, t in source.schema.processing_columns(source.is_windowed)),
            ]
        )
        kind = steps.TableSource if source.is_table else steps.StreamSource
        return kind(
            schema=processing,
            topic=source.topic.name,
            source_name=source.name,
            alias=analysis.alias,
            source_schema=source.schema,
            key_format=source.topic.key_format,
            value_format=source.topic.value_format,
            timestamp_column=source.timestamp_column,
        )

    def _compiler(self, step: steps.ExecutionStep) -> ExpressionCompiler:
        return ExpressionCompiler(step.columns(), self.functions)

    def _filter_step(self, parent: steps.ExecutionStep, where: ex.Expression, is_table: bool):
        predicate = rewrite_magic_timestamps(strip_qualifiers(where))  # type: ignore[arg-type]
        compiler = self._compiler(parent)
        try:
            sql_type = compiler.type_of(predicate)
        except KsqlStatementException as error:
            raise KsqlStatementException(
                "Error in WHERE expression",
                statement=str(where),
                unlogged_details=f"Error in WHERE expression: {error.unlogged_message}",
            ) from error
        except KsqlException as error:
            raise KsqlStatementException(
                "Error in WHERE expression",
                statement=str(where),
                unlogged_details=f"Error in WHERE expression: {error.message}",
            ) from error
        if sql_type is None or sql_type.base is not SqlBaseType.BOOLEAN:
            raise KsqlStatementException(
                f"Type error in WHERE expression: Should evaluate to boolean but is ({sql_type}) "
                "instead.",
                statement=str(where),
                unlogged_details=(
                    f"Type error in WHERE expression: Should evaluate to boolean but is {where} "
                    f"({sql_type}) instead."
                ),
            )
        compiler.compile(predicate, "Predicate")
        kind = steps.TableFilter if is_table else steps.StreamFilter
        return kind(schema=parent.schema, source_step=parent, predicate=predicate)

    def _partition_step(
        self, parent: steps.ExecutionStep, partition_by: tuple[ex.Expression, ...]
    ) -> steps.StreamSelectKey:
        expressions = tuple(strip_qualifiers(e) for e in partition_by)
        has_null = any(isinstance(e, ex.NullLiteral) for e in expressions)
        if has_null and len(expressions) > 1:
            raise KsqlException("Cannot PARTITION BY multiple columns including NULL")
        parent_schema = parent.schema
        compiler = self._compiler(parent)
        if has_null:
            schema = LogicalSchema(list(parent_schema.value))
            return steps.StreamSelectKey(
                schema=schema, source_step=parent, key_expressions=(), partition_by_null=True
            )
        generator = ColumnAliasGenerator({c.name for c in parent_schema})
        keys: list[Column] = []
        appended: list[bool] = []
        key_only: list[bool] = []
        for expression in expressions:
            sql_type = compiler.type_of(expression)
            compiler.compile(expression, "SelectKey")
            if isinstance(expression, ex.ColumnReference):
                column = parent_schema.find_value_column(expression.name)
                if column is None:
                    raise KsqlException(f"Unknown partition by column: {expression.name}")
                name = column.name
                appended.append(False)
            else:
                name = generator.alias_for(expression)
                appended.append(True)
            refs = [n for n in walk(expression) if isinstance(n, ex.ColumnReference)]
            key_only.append(all(parent_schema.is_key_column(r.name) for r in refs))
            keys.append(Column(name, sql_type, Namespace.KEY))
        value = list(parent_schema.value) + [
            Column(k.name, k.type) for k, a in zip(keys, appended, strict=True) if a
        ]
        return steps.StreamSelectKey(
            schema=LogicalSchema([*keys, *value]),
            source_step=parent,
            key_expressions=expressions,
            appended=tuple(appended),
            key_only=tuple(key_only),
        )

    def _flat_map_step(
        self, parent: steps.ExecutionStep, calls: list[ex.FunctionCall]
    ) -> steps.StreamFlatMap:
        """ksqlDB's ``FlatMapNode``: one ``KSQL_SYNTH_<n>`` column per table function call."""
        compiler = self._compiler(parent)
        functions = tuple(strip_qualifiers(call) for call in calls)
        synthesised = []
        for i, call in enumerate(functions):
            sql_type = compiler.type_of(call)  # type: ignore[arg-type]
            assert sql_type is not None
            synthesised.append(Column(synthesised_column(i), sql_type))
        schema = LogicalSchema([*parent.schema.key, *parent.schema.value, *synthesised])
        return steps.StreamFlatMap(
            schema=schema,
            source_step=parent,
            table_functions=functions,  # type: ignore[arg-type]
        )

    # ---- projection -----------------------------------------------------------------------------

    def _select_expressions(
        self,
        parent: steps.ExecutionStep,
        analysis: Analysis,
        partition: steps.StreamSelectKey | None,
        flat_map: steps.StreamFlatMap | None = None,
    ) -> list[tuple[str, ex.Expression]]:
        schema = parent.schema
        star_schema = flat_map.source.schema if flat_map and flat_map.source else schema
        synthesised = iter(range(len(flat_map.table_functions) if flat_map else 0))

        def replace_table_function(node: Node) -> Node | None:
            if isinstance(node, ex.FunctionCall) and self.functions.is_table_function(node.name):
                return ex.ColumnReference(
                    synthesised_column(next(synthesised)), location=node.location
                )
            return None

        selects: list[tuple[str, ex.Expression]] = []
        for item in analysis.select:
            if isinstance(item, st.SingleColumn):
                expression = strip_qualifiers(item.expression)
                if partition is not None and not partition.partition_by_null:
                    for i, key_expression in enumerate(partition.key_expressions):
                        if key_expression == expression:
                            expression = ex.ColumnReference(schema.key[i].name)
                            break
                if flat_map is not None:
                    expression = transform(expression, replace_table_function)
                selects.append((item.alias or "", expression))  # type: ignore[arg-type]
            elif isinstance(item, st.AllColumns):
                for name in order_columns(star_schema.value, star_schema):
                    selects.append((name, ex.ColumnReference(name)))
            else:
                assert isinstance(item, st.StructAll)
                base = strip_qualifiers(item.base)
                struct = self._compiler(parent).type_of(base)  # type: ignore[arg-type]
                if not isinstance(struct, SqlStruct):
                    raise KsqlException(f"Column {base} is not a STRUCT type.")
                for field_name, _ in struct.fields:
                    selects.append(
                        (field_name, ex.DereferenceExpression(base, field_name))  # type: ignore[arg-type]
                    )
        return selects

    def _projection(
        self,
        parent: steps.ExecutionStep,
        selects: list[tuple[str, ex.Expression]],
        persistent: bool,
    ) -> tuple[list[Column], list[tuple[str, ex.Expression]], list[Column]]:
        """``(key columns, value selects, value columns)`` of the projection."""
        schema = parent.schema
        compiler = self._compiler(parent)
        key_selects: dict[int, list[str]] = {}
        value_selects: list[tuple[str, ex.Expression]] = []
        value_columns: list[Column] = []
        key_index = {c.name: i for i, c in enumerate(schema.key)}
        for alias, expression in selects:
            if (
                persistent
                and isinstance(expression, ex.ColumnReference)
                and expression.name in key_index
            ):
                key_selects.setdefault(key_index[expression.name], []).append(alias)
                continue
            sql_type = compiler.type_of(expression)
            if sql_type is None:
                raise KsqlException(
                    "Can't infer a type of null. Please explicitly cast it to a required type, "
                    "e.g. CAST(null AS VARCHAR)."
                )
            compiler.compile(expression, "Select")
            value_selects.append((alias, expression))
            value_columns.append(Column(alias, sql_type))
        keys: list[Column] = []
        for index in sorted(key_selects):
            aliases = key_selects[index]
            if len(aliases) > 1:
                key_name = quote_identifier(schema.key[index].name)
                raise KsqlException(
                    f"The projection contains a key column ({key_name}) more than once, aliased "
                    f"as: {grammatical_and(sorted(aliases))}.\n"
                    "Each key column must only be in the projection once. If you intended to "
                    "copy the key into the value, then consider using the AS_VALUE function to "
                    "indicate which key reference should be copied."
                )
            keys.append(Column(aliases[0], schema.key[index].type, Namespace.KEY))
        if persistent and not value_columns:
            raise KsqlException("The projection contains no value columns.")
        return keys, value_selects, value_columns

    def _validate_key_present(
        self,
        sink_name: str,
        analysis: Analysis,
        partition: steps.StreamSelectKey | None,
    ) -> None:
        singles = {item.expression for item in analysis.select if isinstance(item, st.SingleColumn)}
        includes_all = any(
            isinstance(i, st.AllColumns) and i.source is None for i in analysis.select
        )
        include_sources = {
            i.source for i in analysis.select if isinstance(i, st.AllColumns) and i.source
        }

        def contains(expression: ex.Expression) -> bool:
            if includes_all:
                return True
            if isinstance(expression, ex.ColumnReference) and expression.source in include_sources:
                return True
            return expression in singles

        sink = quote_identifier(sink_name)
        if partition is not None:
            if partition.partition_by_null:
                return
            required = list(analysis.partition_by or ())
            if not all(contains(e) for e in required):
                raise _keys_not_included(
                    sink, "partitioning expression", [str(e) for e in required]
                )
            return
        keys = analysis.source.schema.key
        for key in keys:
            if not contains(ex.ColumnReference(key.name, analysis.alias)) and not contains(
                ex.ColumnReference(key.name)
            ):
                raise _keys_not_included(sink, "key column", [k.name for k in keys])

    # ---- persistent queries ---------------------------------------------------------------------

    def plan_persistent(self, analysis: Analysis, sink: Sink) -> QueryPlan:
        if analysis.join is not None and analysis.group_by is None:
            from streamlab.ksql.planner.join import plan_join

            return plan_join(self, analysis, sink)
        if analysis.group_by is not None:
            from streamlab.ksql.planner.aggregate import plan_aggregate

            return plan_aggregate(self, analysis, sink)
        source = analysis.source
        is_table = source.is_table
        step: steps.ExecutionStep = self._source_step(analysis)
        if analysis.where is not None:
            step = self._filter_step(step, analysis.where, is_table)
        partition = None
        if analysis.partition_by is not None:
            if is_table:
                key_names = ", ".join(c.name for c in source.schema.key)
                raise KsqlException(
                    "Cannot repartition a TABLE source. If this is a join, make sure that the "
                    f"criteria uses the TABLE's key column {key_names} instead of "
                    f"{', '.join(str(strip_qualifiers(e)) for e in analysis.partition_by)}"
                )
            partition = self._partition_step(step, analysis.partition_by)
            step = partition
        flat_map = None
        if analysis.table_functions:
            flat_map = self._flat_map_step(step, analysis.table_functions)
            step = flat_map

        selects = self._select_expressions(step, analysis, partition, flat_map)
        keys, value_selects, value_columns = self._projection(step, selects, persistent=True)
        new_planner = self._flag("ksql.new.query.planner.enabled") and (
            analysis.where is None and analysis.partition_by is None
        )
        drop_key = False
        output_schema = LogicalSchema([*keys, *value_columns])
        timestamp = self._sink_timestamp(sink.properties, output_schema)
        if new_planner and not keys and step.schema.key:
            drop_key = True
        else:
            self._validate_key_present(sink.name, analysis, partition)
        self._check_clashes(output_schema)

        select_kind = steps.TableSelect if is_table else steps.StreamSelect
        step = select_kind(
            schema=output_schema,
            source_step=step,
            selects=tuple(value_selects),
            drop_key=drop_key,
        )

        result_type = DataSourceType.TABLE if is_table else DataSourceType.STREAM
        if sink.create:
            if not sink.table and result_type is DataSourceType.TABLE:
                raise KsqlException(
                    "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE "
                    "TABLE AS SELECT statement instead."
                )
            if sink.table and result_type is DataSourceType.STREAM:
                raise KsqlException(
                    "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE "
                    "STREAM AS SELECT statement instead."
                )
        sink_source, physical, partitions, replicas = self._sink(
            sink, source, result_type, output_schema, timestamp, partition, step, is_table
        )
        return QueryPlan(physical, sink_source, source, partitions, replicas)

    def _sink(self, sink, source, result_type, output_schema, timestamp, partition, step, is_table):
        """The sink of a persistent query: a new source and topic (CSAS/CTAS), or an existing
        one whose type and schema must match the result (INSERT INTO). Returns the sink source,
        the physical sink step, and the new topic's partitions and replicas (None to inherit)."""
        if sink.create:
            topic = self._new_sink_topic(sink, source, output_schema, partition)
            sink_source = DataSource(
                name=sink.name,
                source_type=result_type,
                schema=output_schema,
                topic=topic,
                timestamp_column=timestamp,
                casted=True,
            )
            partitions = sink.properties.partitions
            replicas = sink.properties.replicas
        else:
            existing = sink.existing
            assert existing is not None
            if existing.source_type is not result_type:
                raise KsqlException(
                    f"Incompatible data sink and query result. Data sink ({existing.name}) type is "
                    f"{existing.source_type.value} but select query result is "
                    f"{result_type.value}."
                )
            if existing.schema != output_schema:
                raise KsqlException(
                    "Incompatible schema between results and sink.\n"
                    f"Result schema is {output_schema}\n"
                    f"Sink schema is {existing.schema}"
                )
            sink_source = existing
            topic = existing.topic
            partitions = replicas = None
        sink_kind = steps.TableSink if is_table else steps.StreamSink
        physical = sink_kind(
            schema=output_schema,
            source_step=step,
            topic=topic.name,
            key_format=topic.key_format,
            value_format=topic.value_format,
            timestamp_column=timestamp,
        )
        return sink_source, physical, partitions, replicas

    @staticmethod
    def _check_clashes(schema: LogicalSchema) -> None:
        names = [c.name for c in schema]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise KsqlException(
                "Value columns clash with key columns: "
                + ", ".join(quote_identifier(n) for n in duplicates)
            )

    def _sink_timestamp(
        self, properties: SourceProperties, schema: LogicalSchema
    ) -> TimestampColumn | None:
        column = properties.timestamp_column
        if column is None:
            return None
        return validate_timestamp_column(
            TimestampColumn(column, properties.timestamp_format), schema
        )

    def _new_sink_topic(
        self,
        sink: Sink,
        source: DataSource,
        schema: LogicalSchema,
        partition: steps.StreamSelectKey | None,
    ) -> KsqlTopic:
        props = sink.properties
        source_key = source.topic.key_format.info
        source_value = source.topic.value_format.info
        explicit_key = props.key_format_name
        if partition is not None and partition.partition_by_null:
            if explicit_key is not None and explicit_key != "NONE":
                raise KsqlException("Key format specified for stream without key columns.")
            key_name = "NONE"
        else:
            key_name = explicit_key or source_key.format
            if explicit_key is None and key_name == "NONE" and schema.key:
                key_name = str(self.config.get("ksql.persistence.default.format.key", "KAFKA"))
        value_name = props.value_format_name or source_value.format
        key_info = _inherit(key_name, props.key_format_info(key_name), source_key)
        value_info = _inherit(value_name, props.value_format_info(value_name), source_value)
        key_fmt, value_fmt = get_format(key_name), get_format(value_name)
        k_features = key_features(key_fmt, len(schema.key))
        v_features = value_features(
            value_fmt, len(schema.value), props.wrap_single_value, _wrap_default(self.config)
        )
        topic_name = (
            props.kafka_topic
            or str(self.config.get("ksql.output.topic.name.prefix") or "") + sink.name
        )
        check_registry(key_name, topic_name)
        check_registry(value_name, topic_name)
        check_key_types(list(schema.key))
        key_fmt.validate(list(schema.key), k_features, is_key=True)
        value_fmt.validate(list(schema.value), v_features, is_key=False)
        return KsqlTopic(
            topic_name,
            KeyFormat(key_info, k_features),
            ValueFormat(value_info, v_features),
        )


def _inherit(name: str, explicit: FormatInfo, source: FormatInfo) -> FormatInfo:
    if explicit.properties or name != source.format:
        return explicit
    return FormatInfo(name, source.properties)


def _wrap_default(config: dict[str, object]) -> bool | None:
    value = config.get("ksql.persistence.wrap.single.values")
    if value is None:
        return None
    return str(value).lower() == "true"


def _keys_not_included(sink: str, kind: str, required: list[str]) -> KsqlException:
    postfix = "s" if len(required) > 1 else ""
    kinds = kind + ("" if len(required) == 1 else "s")
    return KsqlException(
        f"Key{postfix} missing from projection (ie, SELECT). \n"
        f"The query used to build {sink} must include the {kinds} {grammatical_and(required)} "
        f"in its projection (eg, SELECT {', '.join(required)}...)."
    )


def validate_timestamp_column(timestamp: TimestampColumn, schema: LogicalSchema) -> TimestampColumn:
    """``TimestampExtractionPolicyFactory``: the column must exist and hold a time."""
    column = schema.find_column(timestamp.column)
    if column is None:
        raise KsqlException(
            "The TIMESTAMP column set in the WITH clause does not exist in the schema: "
            f"'{timestamp.column}'"
        )
    base = column.type.base
    if base is SqlBaseType.STRING:
        if timestamp.format is None:
            raise KsqlException(
                "A String timestamp field has been specified without also specifying the "
                "timestamp_format"
            )
        return timestamp
    if timestamp.format is not None:
        raise KsqlException(
            "'TIMESTAMP_FORMAT' set in the WITH clause can only be used when the timestamp "
            "column is of type STRING."
        )
    if base in (SqlBaseType.BIGINT, SqlBaseType.TIMESTAMP):
        return timestamp
    raise KsqlException(
        f"Timestamp column, {quote_identifier(timestamp.column)}, should be LONG(INT64), "
        "TIMESTAMP, or a String with a timestamp_format specified."
    )


def column_types(schema: LogicalSchema) -> dict[str, SqlType]:
    return {c.name: c.type for c in schema}
