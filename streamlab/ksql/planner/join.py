"""Analysing and planning joins: ksqlDB's ``JoinNode`` with its checks and naming rules.

* Every column of a side is available in the joined row as ``<ALIAS>_<COLUMN>`` (value, pseudo
  and key columns); ``T.ID`` and an unambiguous unqualified ``ID`` resolve to it.
* An unaliased column reference in the SELECT is named after its column, or
  ``<ALIAS>_<COLUMN>`` when both sides have that column; ``T.*`` gives ``T_<COLUMN>`` each.
* The join criteria must be one equality whose sides each reference exactly one source.
* The result key is the join key. It is named after the first join expression that is a plain
  column and appears in the projection (``L.A`` or ``R.A``); when neither side is a column, or
  the join is FULL OUTER, it is a synthetic ``ROWKEY`` column that must be projected.
* stream-stream joins need ``WITHIN``; stream-table joins are INNER or LEFT with the stream on
  the left and the table's primary key on the right; table-table joins use both primary keys.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from streamlab.ksql.catalog import DataSource, DataSourceType
from streamlab.ksql.errors import InvalidColumnError, KsqlException
from streamlab.ksql.parser.ast import Node, transform, walk
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.planner import steps
from streamlab.ksql.planner.analyzer import Analysis, ColumnAliasGenerator, UnsupportedFeature
from streamlab.ksql.schema import PSEUDO_COLUMNS, Column, LogicalSchema, Namespace

#: Kafka Streams' default join window grace: 24 hours minus the window size of the deprecated
#: ``JoinWindows.of(before)`` (twice ``before``), which ksqlDB uses without a GRACE PERIOD.
DEFAULT_GRACE_TOTAL_MS = 24 * 60 * 60 * 1000

SYNTHETIC_KEY = "ROWKEY"

_TYPE_TEXT = {
    st.JoinType.INNER: "[INNER] JOIN",
    st.JoinType.LEFT: "LEFT [OUTER] JOIN",
    st.JoinType.RIGHT: "RIGHT [OUTER] JOIN",
    st.JoinType.OUTER: "[FULL] OUTER JOIN",
}


@dataclass
class JoinSide:
    source: DataSource
    alias: str

    @property
    def columns(self) -> dict[str, Any]:
        return dict(self.source.schema.processing_columns(self.source.is_windowed))

    def prefixed(self, name: str) -> str:
        return f"{self.alias}_{name}"


@dataclass
class JoinInfo:
    left: JoinSide
    right: JoinSide
    join_type: st.JoinType
    left_expression: ex.Expression  # over prefixed columns
    right_expression: ex.Expression
    left_text: str  # qualified, for messages
    right_text: str
    within: st.WithinExpression | None
    kind: str  # "stream-stream", "stream-table", "table-table"
    synthetic: bool = False
    candidates: list[ex.Expression] = field(default_factory=list)


@dataclass
class JoinStep(steps.ExecutionStep):
    """Joins two sources; ``schema`` is the joined row (left side, right side[, ROWKEY])."""

    left: steps.StreamSource | None = None
    right: steps.StreamSource | None = None
    join_type: str = "INNER"
    kind: str = "stream-stream"
    left_key: ex.Expression | None = None
    right_key: ex.Expression | None = None
    left_columns: list[tuple[str, Any]] = field(default_factory=list)
    right_columns: list[tuple[str, Any]] = field(default_factory=list)
    before_ms: int = 0
    after_ms: int = 0
    grace_ms: int | None = None
    synthetic_key: bool = False
    #: stream-stream: Kafka Streams' names of the window stores (this side, other side and,
    #: with a GRACE PERIOD, the outer join's shared store), as in :func:`internal_topics`
    window_stores: tuple[str, ...] = ()
    #: the right table is re-keyed into the left side's key format (:func:`right_table_rekeyed`)
    right_rekeyed: bool = False

    @property
    def is_table(self) -> bool:
        return self.kind == "table-table"


def _qualified_text(expression: ex.Expression, sides: list[JoinSide]) -> str:
    def rewrite(node: Node) -> Node | None:
        if isinstance(node, ex.ColumnReference) and node.source is None:
            for side in sides:
                if node.name in side.columns:
                    return ex.ColumnReference(node.name, side.alias)
        return None

    return str(transform(expression, rewrite))


def analyze_join(analyzer, query: st.Query, persistent: bool) -> Analysis:
    join = query.from_
    assert isinstance(join, st.Join)
    if isinstance(join.left, st.Join):
        raise UnsupportedFeature("Joins of more than two sources are not supported yet.")
    sides: list[JoinSide] = []
    for relation in (join.left, join.right):
        assert isinstance(relation, st.AliasedRelation)
        source = analyzer.metastore.get_source(relation.name)
        if source is None:
            hint = analyzer.metastore.check_alternatives(relation.name)
            raise KsqlException(f"{relation.name} does not exist.{hint}")
        sides.append(JoinSide(source, relation.alias or relation.name))
    left, right = sides
    if left.source.name == right.source.name:
        raise KsqlException(
            f"Can not join '{left.source.name}' to '{right.source.name}': self joins are not yet "
            "supported."
        )
    by_alias = {left.alias: left, right.alias: right, left.source.name: left}
    by_alias.setdefault(right.source.name, right)
    counts = Counter(n for s in sides for n in s.columns)
    synthetic_allowed = {"value": False}
    taken = {n for side in sides for n in side.columns}
    synthetic_name, index = SYNTHETIC_KEY, 0
    while synthetic_name in taken:  # ksqlDB's ROWKEY_<n> when ROWKEY is a source column
        index += 1
        synthetic_name = f"{SYNTHETIC_KEY}_{index}"

    def resolver(clause: str):
        def rewrite(node: Node) -> Node | None:
            if not isinstance(node, ex.ColumnReference):
                return None
            if node.source is not None:
                side = by_alias.get(node.source)
                if side is None:
                    prefix = "Failed to prepare statement: " if clause == "JOIN ON" else ""
                    raise KsqlException(
                        f"{prefix}'{node.source}' is not a valid stream/table name or alias."
                    )
                if node.name not in side.columns:
                    raise InvalidColumnError(
                        f"{node.location_prefix()}{clause} column '{node.source}.{node.name}' "
                        "cannot be resolved."
                    )
                return ex.ColumnReference(side.prefixed(node.name), location=node.location)
            matches = [s for s in sides if node.name in s.columns]
            if not matches:
                if node.name == synthetic_name and synthetic_allowed["value"]:
                    return ex.ColumnReference(synthetic_name, location=node.location)
                raise InvalidColumnError(
                    f"{node.location_prefix()}{clause} column '{node.name}' cannot be resolved."
                )
            if len(matches) > 1:
                raise KsqlException(
                    f"{node.location_prefix()}Column '{node.name}' is ambiguous. Could be "
                    f"{left.alias}.{node.name} or {right.alias}.{node.name}."
                )
            return ex.ColumnReference(matches[0].prefixed(node.name), location=node.location)

        return lambda e: transform(e, rewrite)

    # ---- criteria -------------------------------------------------------------------------------
    criteria = join.criteria
    if isinstance(criteria, ex.LogicalBinaryExpression):
        raise KsqlException(
            "Invalid join condition: joins on multiple conditions are not yet supported. "
            f"Got {criteria}."
        )
    if not (
        isinstance(criteria, ex.ComparisonExpression)
        and criteria.operator is ex.ComparisonOperator.EQUAL
    ):
        raise KsqlException(f"Unsupported join expression: {criteria}")
    on = resolver("JOIN ON")
    parts = []
    for expression in (criteria.left, criteria.right):
        resolved = on(expression)
        owner_sides = {
            s.alias
            for n in walk(resolved)
            if isinstance(n, ex.ColumnReference)
            for s in sides
            if n.name.startswith(s.alias + "_")
        }
        if len(owner_sides) != 1:
            raise KsqlException(
                f"Invalid comparison expression '{expression}' in join '{criteria}'. Each side of "
                "the join comparision must contain references from exactly one source."
            )
        parts.append((owner_sides.pop(), resolved, expression))
    if parts[0][0] == right.alias and parts[1][0] == left.alias:
        parts.reverse()
    if parts[0][0] == parts[1][0]:
        raise KsqlException(
            f"Invalid comparison expression '{criteria.right}' in join '{criteria}'. Each side of "
            "the join comparision must contain references from exactly one source."
        )
    left_expression, right_expression = parts[0][1], parts[1][1]
    left_text = _qualified_text(parts[0][2], sides)
    right_text = _qualified_text(parts[1][2], sides)
    as_written = (
        f"{_qualified_text(criteria.left, sides)} = {_qualified_text(criteria.right, sides)}"
    )
    join_type = join.join_type

    # ---- join kinds -----------------------------------------------------------------------------
    got = f"{left.source.name} {_TYPE_TEXT[join_type]} {right.source.name}"
    if left.source.is_table and right.source.is_stream:
        raise KsqlException(
            "Invalid join order: table-stream joins are not supported; only stream-table joins. "
            f"Got {got}."
        )
    if left.source.is_stream and right.source.is_stream:
        kind = "stream-stream"
    elif left.source.is_stream:
        kind = "stream-table"
        if join_type is st.JoinType.OUTER:
            raise KsqlException(
                f"Invalid join type: full-outer join not supported for stream-table join. "
                f"Got {got}."
            )
        if join_type is st.JoinType.RIGHT:
            raise KsqlException(
                f"Invalid join type: right-outer join not supported for stream-table join. "
                f"Got {got}."
            )
        keys = right.source.schema.key
        if not (
            len(keys) == 1
            and isinstance(right_expression, ex.ColumnReference)
            and right_expression.name == right.prefixed(keys[0].name)
        ):
            raise KsqlException(
                "Invalid join condition: stream-table joins require to join on the table's "
                f"primary key. Got {as_written}."
            )
    else:
        kind = "table-table"
        keys = right.source.schema.key
        if not (
            len(keys) == 1
            and isinstance(right_expression, ex.ColumnReference)
            and right_expression.name == right.prefixed(keys[0].name)
        ):
            raise KsqlException(
                "Invalid join condition: table-table joins require to join on the primary key of "
                f"the right input table. Got {as_written}."
            )
        lkeys = left.source.schema.key
        if not (
            len(lkeys) == 1
            and isinstance(left_expression, ex.ColumnReference)
            and left_expression.name == left.prefixed(lkeys[0].name)
        ):
            raise UnsupportedFeature("Foreign-key table-table joins are not supported yet.")
    kafka = [s.source.name for s in sides if s.source.topic.value_format.format == "KAFKA"]
    if kafka:
        raise KsqlException(
            f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. This format does "
            "not yet support JOIN."
        )
    if kind == "stream-stream" and join.within is None:
        raise KsqlException(
            "Stream-Stream joins must have a WITHIN clause specified. None was provided. To "
            "learn about how to specify a WITHIN clause with a stream-stream join, please visit: "
            "https://docs.confluent.io/current/ksql/docs/syntax-reference.html"
            "#create-stream-as-select"
        )
    if kind != "stream-stream" and join.within is not None:
        what = "Stream-Table" if kind == "stream-table" else "Table-Table"
        raise KsqlException(
            f"A window definition was provided for a {what} join. These joins are not windowed. "
            "Please drop the window definition (ie. the WITHIN clause) and try to submit your "
            "query again."
        )

    candidates = [
        e for e in (left_expression, right_expression) if isinstance(e, ex.ColumnReference)
    ]
    synthetic = join_type is st.JoinType.OUTER or not candidates
    if synthetic:
        synthetic_allowed["value"] = True
        candidates = [ex.ColumnReference(synthetic_name)]

    # ---- select ---------------------------------------------------------------------------------
    select_resolve = resolver("SELECT")
    generator = ColumnAliasGenerator({n for s in sides for n in s.columns})
    select: list[st.SelectItem] = []
    for item in query.select:
        if isinstance(item, st.SingleColumn):
            expression = select_resolve(item.expression)
            name = item.alias
            if name is None:
                original = item.expression
                if isinstance(original, ex.ColumnReference):
                    if counts[original.name] > 1 and isinstance(expression, ex.ColumnReference):
                        name = expression.name
                    else:
                        name = original.name
                else:
                    name = generator.alias_for(expression)
            analyzer._check_reserved(
                st.SingleColumn(item.expression, name, location=item.location), persistent
            )
            select.append(st.SingleColumn(expression, name, location=item.location))
        elif isinstance(item, st.AllColumns):
            if item.source is not None and item.source not in by_alias:
                raise KsqlException(f"'{item.source}' is not a valid stream/table name or alias.")
            select.append(item)
        else:
            raise UnsupportedFeature("STRUCT.* is not supported in joins yet.")
    where = select_resolve(query.where) if query.where is not None else None
    group_by = None
    having = None
    if query.group_by is not None:
        group_by = tuple(resolver("GROUP BY")(e) for e in query.group_by)
        having = resolver("HAVING")(query.having) if query.having is not None else None
    elif query.window is not None:
        raise KsqlException(
            f"{query.window.location_prefix()}WINDOW clause requires a GROUP BY clause."
        )
    partition_by = None
    if query.partition_by is not None:
        if kind == "table-table":
            raise KsqlException("Cannot repartition a TABLE source.")
        partition_by = tuple(resolver("PARTITION BY")(e) for e in query.partition_by)

    analysis = Analysis(
        source=left.source,
        alias=left.alias,
        select=select,
        where=where,
        group_by=group_by,
        having=having,
        window=query.window,
        partition_by=partition_by,
        refinement=query.refinement,
        limit=query.limit,
    )
    analysis.join = JoinInfo(  # type: ignore[attr-defined]
        left,
        right,
        join_type,
        left_expression,
        right_expression,
        left_text,
        right_text,
        join.within,
        kind,
        synthetic,
        candidates,
    )
    return analysis


def _side_step(planner, side: JoinSide) -> steps.StreamSource:
    return planner._source_step(SimpleNamespace(source=side.source, alias=side.alias))


def _join_step(info: JoinInfo, key_name: str, key_type, left_step, right_step) -> JoinStep:
    left_columns = [(info.left.prefixed(n), t) for n, t in left_step.columns()]
    right_columns = [(info.right.prefixed(n), t) for n, t in right_step.columns()]
    value_columns = [Column(n, t) for n, t in left_columns + right_columns]
    if info.synthetic:
        key = info.candidates[0]
        assert isinstance(key, ex.ColumnReference)
        value_columns.append(Column(key.name, key_type))
    within = info.within
    return JoinStep(
        schema=LogicalSchema([Column(key_name, key_type, Namespace.KEY), *value_columns]),
        left=left_step,
        right=right_step,
        join_type=info.join_type.name,
        kind=info.kind,
        left_key=info.left_expression,
        right_key=info.right_expression,
        left_columns=left_columns,
        right_columns=right_columns,
        before_ms=within.before_ms if within else 0,
        after_ms=within.after_ms if within else 0,
        grace_ms=within.grace_ms if within else None,
        synthetic_key=info.synthetic,
        window_stores=tuple(
            t.removesuffix("-changelog") for t in internal_topics(info) if t.startswith("KSTREAM-")
        ),
        right_rekeyed=right_table_rekeyed(info),
    )


def join_source_step(planner, analysis: Analysis) -> JoinStep:
    """The join as the input of another operator (an aggregation): keyed on the join key."""
    info: JoinInfo = analysis.join  # type: ignore[assignment]
    left_step, right_step = _side_step(planner, info.left), _side_step(planner, info.right)
    left_columns = [(info.left.prefixed(n), t) for n, t in left_step.columns()]
    from streamlab.ksql.expressions import ExpressionCompiler

    key_type = ExpressionCompiler(left_columns, planner.functions).type_of(info.left_expression)
    key = info.candidates[0]
    assert isinstance(key, ex.ColumnReference)
    return _join_step(info, key.name, key_type, left_step, right_step)


def plan_join(planner, analysis: Analysis, sink) -> Any:
    from streamlab.ksql.planner.planner import QueryPlan, grammatical_and, order_columns

    info: JoinInfo = analysis.join  # type: ignore[attr-defined]
    left, right = info.left, info.right
    left_step, right_step = _side_step(planner, left), _side_step(planner, right)
    left_columns = [(left.prefixed(n), t) for n, t in left_step.columns()]
    right_columns = [(right.prefixed(n), t) for n, t in right_step.columns()]
    from streamlab.ksql.expressions import ExpressionCompiler

    left_compiler = ExpressionCompiler(left_columns, planner.functions)
    right_compiler = ExpressionCompiler(right_columns, planner.functions)
    left_type = left_compiler.type_of(info.left_expression)
    right_type = right_compiler.type_of(info.right_expression)
    if left_type != right_type:
        raise KsqlException(
            f"Invalid join condition: types don't match. Got {info.left_text}{{{left_type}}} = "
            f"{info.right_text}{{{right_type}}}."
        )
    left_compiler.compile(info.left_expression, "JoinKey")
    right_compiler.compile(info.right_expression, "JoinKey")

    # ---- the key: the first join expression in the projection ---------------------------------
    partitioned = analysis.partition_by is not None
    selects: list[tuple[str, ex.Expression]] = []
    for item in analysis.select:
        if partitioned and isinstance(item, st.AllColumns):
            # after PARTITION BY a star is every joined column (pseudo columns too) but the key
            chosen = [s for s in (left, right) if item.source in (None, s.alias, s.source.name)]
            for expression in analysis.partition_by or ():
                if isinstance(expression, ex.ColumnReference):
                    selects.append((expression.name, expression))
            for side_columns in (left_columns, right_columns):
                for name, _ in side_columns:
                    if any(name.startswith(s.alias + "_") for s in chosen) and (
                        ex.ColumnReference(name) not in analysis.partition_by
                    ):
                        selects.append((name, ex.ColumnReference(name)))
            continue
        if isinstance(item, st.SingleColumn):
            selects.append((item.alias or "", item.expression))
        elif isinstance(item, st.AllColumns):
            if item.source is None and info.synthetic:
                selects.append((info.candidates[0].name, info.candidates[0]))  # type: ignore
            chosen = [s for s in (left, right) if item.source in (None, s.alias, s.source.name)]
            for side in chosen:
                columns = [
                    c for c in side.source.schema.columns if c.namespace is not Namespace.HEADERS
                ]
                for name in order_columns(tuple(columns), side.source.schema):
                    if name in dict(PSEUDO_COLUMNS):
                        continue
                    prefixed = side.prefixed(name)
                    selects.append((prefixed, ex.ColumnReference(prefixed)))
    projected = [e for _, e in selects]
    key_expression = next((c for c in info.candidates if c in projected), None)
    if key_expression is None and partitioned:
        key_expression = info.candidates[0]
    if key_expression is None:
        if info.synthetic:
            name = info.candidates[0].name  # type: ignore[attr-defined]
            raise KsqlException(
                "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
                f"The query used to build `{sink.name}` must include the join expression {name} "
                f"in its projection (eg, SELECT {name}...).\n"
                f"{name} was added as a synthetic key column because the join criteria did not "
                "match any source column. This expression must be included in the projection and "
                "may be aliased. "
            )
        texts = [
            t
            for t, e in (
                (info.left_text, info.left_expression),
                (info.right_text, info.right_expression),
            )
            if e in info.candidates
        ]
        plural = "s" if len(texts) > 1 else ""
        joined = " or ".join(texts)
        raise KsqlException(
            "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n"
            f"The query used to build `{sink.name}` must include the join expression{plural} "
            f"{joined} in its projection (eg, SELECT {texts[0]}...)."
        )
    assert isinstance(key_expression, ex.ColumnReference)
    join_step = _join_step(info, key_expression.name, left_type, left_step, right_step)
    is_table = info.kind == "table-table"
    step: steps.ExecutionStep = join_step
    if analysis.where is not None:
        step = planner._filter_step(step, analysis.where, is_table)
    if analysis.partition_by is not None:
        partition = planner._partition_step(step, analysis.partition_by)
        step = partition
        if not partition.partition_by_null:
            replaced = []
            for alias, expression in selects:
                for index, key_expression in enumerate(partition.key_expressions):
                    if expression == key_expression:
                        expression = ex.ColumnReference(partition.schema.key[index].name)
                        break
                replaced.append((alias, expression))
            selects = replaced
            key_names = {c.name for c in partition.schema.key}
            present = {e.name for _, e in selects if isinstance(e, ex.ColumnReference)}
            if not key_names <= present:
                from streamlab.ksql.planner.planner import _keys_not_included

                raise _keys_not_included(
                    f"`{sink.name}`",
                    "partitioning expression",
                    [str(e) for e in analysis.partition_by],
                )
    keys, value_selects, value_cols = planner._projection(step, selects, persistent=True)
    del grammatical_and
    output_schema = LogicalSchema([*keys, *value_cols])
    planner._check_clashes(output_schema)
    select_kind = steps.TableSelect if is_table else steps.StreamSelect
    step = select_kind(schema=output_schema, source_step=step, selects=tuple(value_selects))
    result_type = DataSourceType.TABLE if is_table else DataSourceType.STREAM
    if sink.create:
        if not sink.table and is_table:
            raise KsqlException(
                "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE "
                "TABLE AS SELECT statement instead."
            )
        if sink.table and not is_table:
            raise KsqlException(
                "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE "
                "STREAM AS SELECT statement instead."
            )
    timestamp = planner._sink_timestamp(sink.properties, output_schema)
    sink_source, physical, partitions, replicas = planner._sink(
        sink, left.source, result_type, output_schema, timestamp, None, step, is_table
    )
    plan = QueryPlan(physical, sink_source, left.source, partitions, replicas)
    plan.sources = [left.source, right.source]  # type: ignore[attr-defined]
    plan.internal_topics = internal_topics(info)  # type: ignore[attr-defined]
    plan.join = info  # type: ignore[attr-defined]
    return plan


def _keyed_on(side: JoinSide, expression: ex.Expression) -> bool:
    keys = side.source.schema.key
    return (
        len(keys) == 1
        and isinstance(expression, ex.ColumnReference)
        and expression.name == side.prefixed(keys[0].name)
    )


def _key_formats_differ(info: JoinInfo) -> bool:
    lk, rk = info.left.source.topic.key_format, info.right.source.topic.key_format
    return (lk.format, lk.features) != (rk.format, rk.features)


def right_table_rekeyed(info: JoinInfo) -> bool:
    """ksqlDB re-keys a right *table* (``TableSelectKey``: ``RightSourceKeyed-SelectKey-
    repartition``, materialized as ``RightSourceKeyed-Materialize``) when its key format differs
    from the left side's, unless the left side is a stream re-keyed itself (its repartition topic
    is then written in the table's key format)."""
    if info.kind == "stream-stream" or not _key_formats_differ(info):
        return False
    return info.kind == "table-table" or _keyed_on(info.left, info.left_expression)


def internal_topics(info: JoinInfo) -> list[str]:
    """Suffixes of the internal topics ksqlDB creates for this join (after ``query_<id>-``)."""
    left, right = info.left, info.right
    left_rekey = not _keyed_on(left, info.left_expression)
    right_rekey = not _keyed_on(right, info.right_expression) or _key_formats_differ(info)
    topics: list[str] = []
    if info.kind == "stream-stream":
        if left_rekey:
            topics.append("Join-left-repartition")
        if right_rekey:
            topics.append("Join-right-repartition")
        node = 8 + 4 * (int(left_rekey) + int(right_rekey))
        this, other = ("JOINTHIS", "JOINOTHER")
        if info.join_type in (st.JoinType.LEFT, st.JoinType.OUTER):
            other = "OUTEROTHER"
        if info.join_type in (st.JoinType.RIGHT, st.JoinType.OUTER):
            this = "OUTERTHIS"
        topics.append(f"KSTREAM-{this}-{node:010d}-store-changelog")
        topics.append(f"KSTREAM-{other}-{node + 1:010d}-store-changelog")
        if info.within is not None and info.within.grace_ms is not None:
            topics.append(f"KSTREAM-OUTERSHARED-{node:010d}-store-changelog")
        return topics
    if info.kind == "stream-table" and left_rekey:
        topics.append("Join-repartition")
    if info.kind == "table-table":
        topics.append("KafkaTopic_Left-Reduce-changelog")
    if right_table_rekeyed(info):
        topics += [
            "RightSourceKeyed-SelectKey-repartition",
            "RightSourceKeyed-Materialize-changelog",
        ]
    else:
        topics.append("KafkaTopic_Right-Reduce-changelog")
    return topics


def check_copartitioning(info: JoinInfo, partitions_of) -> None:
    """ksqlDB's ``ensureMatchingPartitionCounts``: sides joined without a repartition must have
    as many partitions (``partitions_of(topic)`` gives a topic's count, None if unknown)."""
    left, right = info.left, info.right
    lk, rk = left.source.topic.key_format, right.source.topic.key_format
    formats_differ = (lk.format, lk.features) != (rk.format, rk.features)
    if not _keyed_on(left, info.left_expression) or not _keyed_on(right, info.right_expression):
        return  # a repartition topic is created with the other side's partition count
    if formats_differ:
        return
    lp = partitions_of(left.source.topic.name)
    rp = partitions_of(right.source.topic.name)
    if lp is None or rp is None or lp == rp:
        return
    ln, rn = left.source.name, right.source.name
    raise KsqlException(
        f"Can't join `{ln}` with `{rn}` since the number of partitions don't match. `{ln}` "
        f"partitions = {lp}; `{rn}` partitions = {rp}. Please repartition either one so that "
        "the number of partitions match."
    )
