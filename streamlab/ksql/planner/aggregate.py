"""Planning GROUP BY queries: ksqlDB's ``AggregateNode`` with its rewrites and checks.

The plan is ``source → [filter] → Aggregate → [Having] → TableSelect → TableSink``:

* the **Aggregate** step groups rows by the GROUP BY expressions (its key columns; named after
  the SELECT alias of the same expression, else the column, else ``KSQL_COL_<n>``) and keeps one
  accumulator per aggregate call. Its output row is ``[key copies..., KSQL_AGG_VARIABLE_<i>...,
  WINDOWSTART, WINDOWEND]``;
* SELECT and HAVING are rewritten over that row: a GROUP BY expression becomes a reference to
  its key column, an aggregate call a reference to its ``KSQL_AGG_VARIABLE_<i>``. Anything
  left that references a source column is "not part of GROUP BY".

Grouping by anything other than exactly the source's key columns repartitions the data through
``<app id>-Aggregate-GroupBy-repartition`` (in-process it is only recorded as an internal topic).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from streamlab.ksql.catalog import DataSource, DataSourceType
from streamlab.ksql.errors import KsqlException
from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.formats import KeyFormat, WindowInfo, WindowType
from streamlab.ksql.functions.udaf import TABLE_UDAFS, Udaf, make_udaf
from streamlab.ksql.parser.ast import Node, transform, walk
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.planner import steps
from streamlab.ksql.planner.analyzer import Analysis, ColumnAliasGenerator, strip_qualifiers
from streamlab.ksql.schema import WINDOWEND, WINDOWSTART, Column, LogicalSchema, Namespace
from streamlab.ksql.types import SqlTypes

#: 24 hours: Kafka Streams' default window store retention, so default grace = 24h - size.
DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000


#: Aggregates whose intermediate state is a STRUCT/ARRAY/MAP (DELIMITED cannot hold it).
STRUCTURED_INTERMEDIATE = frozenset({"AVG"})


def agg_column(index: int) -> str:
    return f"KSQL_AGG_VARIABLE_{index}"


@dataclass
class WindowSpec:
    """A window definition as the runtime needs it (all in milliseconds)."""

    type: WindowType
    size_ms: int
    advance_ms: int
    grace_ms: int
    retention_ms: int
    emit_final: bool = False

    @classmethod
    def from_expression(cls, window: st.WindowExpression, emit_final: bool) -> WindowSpec:
        wtype = WindowType(window.window_type.value)
        size = window.size_ms
        advance = window.advance_ms if window.advance_ms is not None else size
        if window.grace_ms is not None:
            grace = window.grace_ms
        elif emit_final:
            grace = 0  # ksqlDB's RewrittenAnalysis.zeroGracePeriod
        else:
            grace = max(DEFAULT_RETENTION_MS - size, 0)
        retention = window.retention_ms if window.retention_ms is not None else size + grace
        if size + grace > retention:
            # Kafka Streams refuses such a store when ksqlDB builds the query's topology
            store = "Aggregate-Aggregate-Materialize"
            if wtype is WindowType.SESSION:
                raise KsqlException(
                    f"The retention period of the session store {store} must be no smaller "
                    "than the session inactivity gap plus the grace period. "
                    f"Got gap=[{size}], grace=[{grace}], retention=[{retention}]"
                )
            raise KsqlException(
                f"The retention period of the window store {store} must be no smaller than its "
                f"window size plus the grace period. Got size=[{size}], grace=[{grace}], "
                f"retention=[{retention}]"
            )
        return cls(wtype, size, advance, grace, retention, emit_final)


@dataclass
class AggregateCall:
    """One aggregate call: the udaf, the compiled-later argument expressions, literal params."""

    call: ex.FunctionCall
    arguments: tuple[ex.Expression, ...]
    params: tuple[Any, ...]
    udaf: Udaf


@dataclass
class Aggregate(steps.ExecutionStep):
    """GROUP BY + aggregate calls (+ window). ``schema.key`` are the group key columns."""

    source_step: steps.ExecutionStep | None = None
    group_by: tuple[ex.Expression, ...] = ()
    aggregates: tuple[AggregateCall, ...] = ()
    window: WindowSpec | None = None
    from_table: bool = False
    repartition: bool = False

    @property
    def is_table(self) -> bool:
        return True


@dataclass
class Having(steps.ExecutionStep):
    """HAVING: a row that stops matching becomes a tombstone (if it was emitted before)."""

    source_step: steps.ExecutionStep | None = None
    predicate: ex.Expression | None = None


@dataclass
class _Rewriter:
    group_by: list[ex.Expression]
    key_names: list[str]
    calls: list[ex.FunctionCall] = field(default_factory=list)
    functions: Any = None

    def __call__(self, node: Node) -> Node | None:
        for expression, name in zip(self.group_by, self.key_names, strict=True):
            if node == expression:
                return ex.ColumnReference(name)
        if isinstance(node, ex.FunctionCall) and self.functions.is_aggregate(node.name):
            if node not in self.calls:
                self.calls.append(node)
            return ex.ColumnReference(agg_column(self.calls.index(node)))
        return None

    def rewrite(self, expression: ex.Expression) -> ex.Expression:
        return transform(expression, self)  # type: ignore[return-value]


def _source_refs(expression: ex.Expression, allowed: set[str]) -> list[ex.ColumnReference]:
    return [
        n for n in walk(expression) if isinstance(n, ex.ColumnReference) and n.name not in allowed
    ]


def plan_aggregate(planner, analysis: Analysis, sink) -> Any:
    """Plan a GROUP BY query; ``planner`` is the :class:`LogicalPlanner` (for shared helpers)."""
    from streamlab.ksql.planner.planner import QueryPlan

    source = analysis.source
    is_table = source.is_table
    if analysis.where is not None and not source.is_windowed:
        for node in walk(analysis.where):
            if isinstance(node, ex.ColumnReference) and node.name in (WINDOWSTART, WINDOWEND):
                raise KsqlException(f"Error in WHERE expression: Unknown column {node.name}.")
    step: steps.ExecutionStep
    if analysis.join is not None:
        from streamlab.ksql.planner.join import internal_topics, join_source_step

        step = join_source_step(planner, analysis)
        is_table = step.is_table
    else:
        step = planner._source_step(analysis)
    if analysis.where is not None:
        step = planner._filter_step(step, analysis.where, is_table)
    if analysis.partition_by is not None:
        raise KsqlException("PARTITION BY and GROUP BY in the same query is not supported.")
    if is_table and analysis.window is not None:
        raise KsqlException("Windowing not supported for table aggregations.")
    final = analysis.refinement is st.ResultMaterialization.FINAL
    if final and analysis.window is None:
        raise KsqlException("EMIT FINAL is only supported for windowed aggregations.")

    group_by = [strip_qualifiers(e) for e in analysis.group_by or ()]
    seen: list[ex.Expression] = []
    for original, expression in zip(analysis.group_by or (), group_by, strict=True):
        if expression in seen:
            raise KsqlException(f"Duplicate GROUP BY expression: {original}")
        seen.append(expression)  # type: ignore[arg-type]

    parent_columns = step.columns()
    compiler = ExpressionCompiler(parent_columns, planner.functions)

    # ---- key columns ----------------------------------------------------------------------------
    singles = [
        (item.alias, strip_qualifiers(item.expression))
        for item in analysis.select
        if isinstance(item, st.SingleColumn)
    ]
    taken = {name for name, _ in parent_columns} | {a for a, _ in singles if a}
    generator = ColumnAliasGenerator(taken)
    key_names: list[str] = []
    key_columns: list[Column] = []
    for expression in group_by:
        name = next((alias for alias, e in singles if e == expression and alias), None)
        if name is None:
            if isinstance(expression, ex.ColumnReference):
                name = expression.name
            else:
                name = generator.next_alias()
        if name in (WINDOWSTART, WINDOWEND):
            raise KsqlException(
                f"Window bounds column {name} can only be used in the SELECT clause of windowed "
                "aggregations and can not be passed to aggregate functions."
            )
        sql_type = compiler.type_of(expression)  # type: ignore[arg-type]
        if sql_type is None:
            raise KsqlException(f"GROUP BY expression {expression} has no type (NULL).")
        compiler.compile(expression, "GroupBy")  # type: ignore[arg-type]
        key_names.append(name)
        key_columns.append(Column(name, sql_type, Namespace.KEY))

    rewriter = _Rewriter(group_by, key_names, functions=planner.functions)  # type: ignore[arg-type]
    window_names = {WINDOWSTART, WINDOWEND} if analysis.window is not None else set()
    allowed_after = set(key_names) | window_names

    selects: list[tuple[str, ex.Expression]] = []
    not_grouped: list[str] = []
    for item in analysis.select:
        if isinstance(item, st.AllColumns):
            from streamlab.ksql.planner.planner import order_columns

            schema = source.schema
            columns = [c for c in schema.columns if c.namespace is not Namespace.HEADERS]
            for name in order_columns(tuple(columns), schema):
                reference = ex.ColumnReference(name)
                if reference not in group_by:
                    not_grouped.append(name)
            continue
        if isinstance(item, st.StructAll):
            not_grouped.append(f"{strip_qualifiers(item.base)}->*")
            continue
        if isinstance(item, st.SingleColumn):
            original = strip_qualifiers(item.expression)
            rewritten = rewriter.rewrite(original)  # type: ignore[arg-type]
            bad = [
                r
                for r in _source_refs(rewritten, allowed_after)
                if not r.name.startswith("KSQL_AGG_VARIABLE_")
            ]
            if bad:
                not_grouped.append(str(original))
            selects.append((item.alias or "", rewritten))
    key_refs_selected: dict[str, list[str]] = {}
    for alias, rewritten in selects:
        if isinstance(rewritten, ex.ColumnReference) and rewritten.name in key_names:
            key_refs_selected.setdefault(rewritten.name, []).append(alias)
    for aliases in key_refs_selected.values():
        if len(aliases) > 1:
            shown = " and ".join(f"`{a}`" for a in aliases)
            raise KsqlException(f"The projection contains a key column more than once: {shown}.")
    if not_grouped:
        raise KsqlException(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: " + ", ".join(not_grouped)
        )
    having = None
    if analysis.having is not None:
        having_original = strip_qualifiers(analysis.having)
        having = rewriter.rewrite(having_original)  # type: ignore[arg-type]
        bad = [
            r
            for r in _source_refs(having, allowed_after - window_names)
            if not r.name.startswith("KSQL_AGG_VARIABLE_")
        ]
        if bad:
            raise KsqlException(
                f"Non-aggregate HAVING expression not part of GROUP BY: {bad[0].name}"
            )
    if not rewriter.calls:
        raise KsqlException(
            "GROUP BY requires aggregate functions in either the SELECT or HAVING clause."
        )

    # ---- aggregate calls ------------------------------------------------------------------------
    calls: list[AggregateCall] = []
    for call in rewriter.calls:
        for node in walk(call):
            if isinstance(node, ex.ColumnReference) and node.name in (WINDOWSTART, WINDOWEND):
                raise KsqlException(
                    f"Window bounds column {node.name} can only be used in the SELECT clause of "
                    "windowed aggregations and can not be passed to aggregate functions."
                )
        args = [strip_qualifiers(a) for a in call.arguments]
        upper = call.name.upper()
        if (
            upper == "COUNT"
            and len(args) == 1
            and isinstance(args[0], ex.Literal)
            and not isinstance(args[0], ex.NullLiteral)
        ):
            args = []  # COUNT(1) counts rows, like COUNT(*)
        value_args = args[:1]
        for position, extra in enumerate(args[1:], start=2):
            if not isinstance(extra, ex.Literal):
                raise KsqlException(
                    f"Parameter {position} passed to function {upper} must be a literal "
                    f"constant, but was expression: '{extra}'"
                )
        params = [a.value for a in args[1:] if isinstance(a, ex.Literal)]  # type: ignore[union-attr]
        arg_types = []
        for a in value_args:
            if any(
                isinstance(n, ex.FunctionCall) and planner.functions.is_aggregate(n.name)
                for n in walk(a)
            ):
                raise KsqlException(f"Aggregate functions can not be nested: {call}")
            arg_types.append(compiler.type_of(a))  # type: ignore[arg-type]
            compiler.compile(a, "Aggregate")  # type: ignore[arg-type]
        udaf = make_udaf(upper, arg_types, params)
        calls.append(AggregateCall(call, tuple(value_args), tuple(params), udaf))  # type: ignore[arg-type]
    if is_table:
        bad_calls = []
        for c in calls:
            name = c.call.name.upper()
            if name not in TABLE_UDAFS and name not in bad_calls:
                bad_calls.append(name)
        if bad_calls:
            from streamlab.ksql.planner.planner import grammatical_and

            raise KsqlException(
                f"The aggregation function{'s' if len(bad_calls) > 1 else ''} "
                f"{grammatical_and(bad_calls)} cannot be applied to a table source, only to a "
                "stream source."
            )

    if source.topic.value_format.format == "DELIMITED" and any(
        c.call.name.upper() in STRUCTURED_INTERMEDIATE for c in calls
    ):
        raise KsqlException(
            "One of the functions used in the statement has an intermediate type that the value "
            "format can not handle. Please remove the function or change the format."
        )
    window = (
        WindowSpec.from_expression(analysis.window, final) if analysis.window is not None else None
    )
    value_columns = [Column(n, c.type) for n, c in zip(key_names, key_columns, strict=True)]
    value_columns += [Column(agg_column(i), c.udaf.return_type) for i, c in enumerate(calls)]
    if window is not None:
        value_columns += [Column(WINDOWSTART, SqlTypes.BIGINT), Column(WINDOWEND, SqlTypes.BIGINT)]
    key_refs = [e for e in group_by if isinstance(e, ex.ColumnReference)]
    repartition = (
        is_table
        or [r.name for r in key_refs] != [c.name for c in source.schema.key]
        or len(key_refs) != len(group_by)
    )
    step = Aggregate(
        schema=LogicalSchema([*key_columns, *value_columns]),
        source_step=step,
        group_by=tuple(group_by),  # type: ignore[arg-type]
        aggregates=tuple(calls),
        window=window,
        from_table=is_table,
        repartition=repartition,
    )
    if having is not None:
        having_compiler = ExpressionCompiler(step.columns(), planner.functions)
        try:
            sql_type = having_compiler.type_of(having)
        except KsqlException as error:
            message = getattr(error, "raw_unlogged_details", None) or error.message
            for i, c in reversed(list(enumerate(calls))):
                message = message.replace(agg_column(i), str(strip_qualifiers(c.call)))
            raise KsqlException(f"Error in HAVING expression: {message}") from error
        if sql_type is None or sql_type.base.value != "BOOLEAN":
            raise KsqlException(
                f"Type error in HAVING expression: Should evaluate to boolean but is "
                f"({sql_type}) instead."
            )
        having_compiler.compile(having, "Having")
        step = Having(schema=step.schema, source_step=step, predicate=having)

    keys, value_selects, value_cols = planner._projection(step, selects, persistent=True)
    if len(keys) != len(key_names):
        selected = {k.name for k in keys}
        missing = [
            str(strip_qualifiers(o))
            for o, n in zip(analysis.group_by or (), key_names, strict=True)
            if n not in selected
        ]
        postfix = "s" if len(missing) > 1 else ""
        from streamlab.ksql.planner.planner import grammatical_and

        raise KsqlException(
            "Key missing from projection (ie, SELECT). \n"
            f"The query used to build `{sink.name}` must include the grouping "
            f"expression{postfix} {grammatical_and(missing)} in its projection (eg, SELECT "
            f"{', '.join(missing)}...)."
        )
    # key columns keep the GROUP BY order
    order = {n: i for i, n in enumerate(key_names)}
    keys.sort(key=lambda k: order.get(k.name, 0))
    output_schema = LogicalSchema([*keys, *value_cols])
    planner._check_clashes(output_schema)
    step = steps.TableSelect(schema=output_schema, source_step=step, selects=tuple(value_selects))
    if sink.create and not sink.table:
        raise KsqlException(
            "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE "
            "TABLE AS SELECT statement instead."
        )
    timestamp = planner._sink_timestamp(sink.properties, output_schema)
    if sink.create:
        topic = planner._new_sink_topic(sink, source, output_schema, None)
        if window is not None:
            size = None if window.type is WindowType.SESSION else window.size_ms
            topic = dataclasses.replace(
                topic,
                key_format=KeyFormat(
                    topic.key_format.info,
                    topic.key_format.features,
                    WindowInfo(window.type, size),
                ),
            )
        sink_source = DataSource(
            name=sink.name,
            source_type=DataSourceType.TABLE,
            schema=output_schema,
            topic=topic,
            timestamp_column=timestamp,
            casted=True,
        )
        partitions, replicas = sink.properties.partitions, sink.properties.replicas
    else:
        existing = sink.existing
        raise KsqlException(
            f"Incompatible data sink and query result. Data sink ({existing.name}) type is "
            f"{existing.source_type.value} but select query result is TABLE."
        )
    physical = steps.TableSink(
        schema=output_schema,
        source_step=step,
        topic=topic.name,
        key_format=topic.key_format,
        value_format=topic.value_format,
        timestamp_column=timestamp,
    )
    plan = QueryPlan(physical, sink_source, source, partitions, replicas)
    internal = []
    if is_table:
        internal.append("KsqlTopic-Reduce-changelog")
    if repartition:
        internal.append("Aggregate-GroupBy-repartition")
    internal.append("Aggregate-Aggregate-Materialize-changelog")
    if analysis.join is not None:
        internal = internal_topics(analysis.join) + internal  # type: ignore[arg-type]
        plan.sources = [analysis.join.left.source, analysis.join.right.source]  # type: ignore
        plan.join = analysis.join  # type: ignore[attr-defined]
    plan.internal_topics = internal  # type: ignore[attr-defined]
    return plan
