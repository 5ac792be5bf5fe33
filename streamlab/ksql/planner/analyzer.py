"""Query analysis: resolve sources, qualify and name columns, validate references.

This is ksqlDB's ``AstSanitizer`` plus ``Analyzer`` for the queries this engine runs:

* the FROM source must exist (``Source `X` does not exist.``); joins are analysed by
  :func:`streamlab.ksql.planner.join.analyze_join`;
* unqualified column references are qualified with the source alias (``ID`` → ``INPUT.ID``),
  which is how ksqlDB prints expressions in its messages;
* every SELECT expression gets a name: its column name, struct field name, or ``KSQL_COL_<n>``;
* system columns (``ROWTIME``, ``ROWPARTITION``, ...) must be aliased in persistent queries;
* every referenced column must exist (``SELECT column 'I.BOB' cannot be resolved.``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamlab.ksql.catalog import DataSource, MetaStore
from streamlab.ksql.errors import InvalidColumnError, KsqlException, KsqlStatementException
from streamlab.ksql.functions import FUNCTIONS, FunctionRegistry
from streamlab.ksql.parser.ast import Node, transform, walk
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.schema import PSEUDO_COLUMNS, SYSTEM_COLUMN_NAMES, WINDOW_BOUNDS


class UnsupportedFeature(KsqlStatementException):
    """The statement is valid ksqlDB but uses a feature this engine does not run yet."""


@dataclass
class Analysis:
    """A query's resolved parts; expressions are qualified with the source alias."""

    source: DataSource
    alias: str
    select: list[st.SelectItem]
    where: ex.Expression | None = None
    partition_by: tuple[ex.Expression, ...] | None = None
    group_by: tuple[ex.Expression, ...] | None = None
    having: ex.Expression | None = None
    window: st.WindowExpression | None = None
    refinement: st.ResultMaterialization | None = None
    limit: int | None = None
    source_columns: dict[str, object] = field(default_factory=dict)
    table_functions: list[ex.FunctionCall] = field(default_factory=list)
    join: object | None = None  # planner.join.JoinInfo for JOIN queries


def source_columns(source: DataSource) -> list[tuple[str, object]]:
    """Every column a query over ``source`` may reference (value, pseudo, key columns)."""
    return source.schema.processing_columns(windowed=source.is_windowed)


class ColumnAliasGenerator:
    """``KSQL_COL_<n>`` names that do not clash with existing columns."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken)
        self.next = 0

    def next_alias(self) -> str:
        while True:
            name = f"KSQL_COL_{self.next}"
            self.next += 1
            if name not in self.taken:
                self.taken.add(name)
                return name

    def alias_for(self, expression: ex.Expression) -> str:
        if isinstance(expression, ex.DereferenceExpression):
            base = expression.field_name
            name, i = base, 1
            while name in self.taken:
                name = f"{base}_{i}"
                i += 1
            self.taken.add(name)
            return name
        return self.next_alias()


def strip_qualifiers(expression: Node) -> Node:
    """Rewrite ``ALIAS.COL`` to ``COL`` (single-source queries)."""

    def rewrite(node: Node) -> Node | None:
        if isinstance(node, ex.ColumnReference) and node.source is not None:
            return ex.ColumnReference(node.name, location=node.location)
        return None

    return transform(expression, rewrite)


class QueryAnalyzer:
    """Analyzes SELECT queries against a metastore."""

    def __init__(self, metastore: MetaStore, functions: FunctionRegistry = FUNCTIONS) -> None:
        self.metastore = metastore
        self.functions = functions

    def analyze(self, query: st.Query, persistent: bool) -> Analysis:
        relation = query.from_
        if isinstance(relation, st.Join):
            from streamlab.ksql.planner.join import analyze_join

            return analyze_join(self, query, persistent)
        assert isinstance(relation, st.AliasedRelation)
        source = self.metastore.get_source(relation.name)
        if source is None:
            hint = self.metastore.check_alternatives(relation.name)
            raise KsqlException(f"{relation.name} does not exist.{hint}")
        alias = relation.alias or relation.name
        windowed = source.is_windowed or source.properties.get("WINDOW_TYPE") is not None
        if persistent and source.is_table and windowed:
            raise KsqlException("KSQL does not support persistent queries on windowed tables.")
        columns = dict(source_columns(source))

        def qualify(expression: ex.Expression) -> ex.Expression:
            def rewrite(node: Node) -> Node | None:
                if (
                    isinstance(node, ex.ColumnReference)
                    and node.source is None
                    and node.name in columns
                ):
                    return ex.ColumnReference(node.name, alias, location=node.location)
                return None

            return transform(expression, rewrite)  # type: ignore[return-value]

        if query.partition_by is not None and len(query.partition_by) == 0:
            raise KsqlException("PARTITION BY requires at least one expression")

        generator = ColumnAliasGenerator(set(columns))
        select: list[st.SelectItem] = []
        for item in query.select:
            if isinstance(item, st.SingleColumn):
                expression = qualify(item.expression)
                alias_name = item.alias
                if alias_name is None:
                    if isinstance(expression, ex.ColumnReference):
                        alias_name = expression.name
                    else:
                        alias_name = generator.alias_for(expression)
                select.append(st.SingleColumn(expression, alias_name, location=item.location))
            elif isinstance(item, st.AllColumns):
                if item.source is not None and item.source != alias:
                    raise KsqlException(
                        f"'{item.source}' is not a valid stream/table name or alias."
                    )
                select.append(item)
            else:
                assert isinstance(item, st.StructAll)
                select.append(st.StructAll(qualify(item.base), location=item.location))

        analysis = Analysis(
            source=source,
            alias=alias,
            select=select,
            where=qualify(query.where) if query.where is not None else None,
            partition_by=(
                tuple(qualify(e) for e in query.partition_by)
                if query.partition_by is not None
                else None
            ),
            group_by=(
                tuple(qualify(e) for e in query.group_by) if query.group_by is not None else None
            ),
            having=qualify(query.having) if query.having is not None else None,
            window=query.window,
            refinement=query.refinement,
            limit=query.limit,
            source_columns=columns,
        )
        for item in select:
            if isinstance(item, st.SingleColumn):
                self._check_reserved(item, persistent)
        self._check_aggregation(analysis)
        self._collect_table_functions(analysis)
        self._check_columns(analysis, columns)
        if analysis.table_functions and source.is_table:
            raise KsqlException("Table source is not supported with table functions")
        return analysis

    # ---- checks ---------------------------------------------------------------------------------

    @staticmethod
    def _check_reserved(item: st.SingleColumn, persistent: bool) -> None:
        alias = item.alias or ""
        for reserved in sorted(SYSTEM_COLUMN_NAMES):
            if alias.upper() != reserved:
                continue
            text = str(item.expression)
            unqualified = text[text.find(".") + 1 :]
            if unqualified.upper() != alias.upper():
                raise KsqlException(
                    f"`{reserved}` is a reserved column name. "
                    "You cannot use it as an alias for a column."
                )
            if persistent:
                raise KsqlException(
                    f"Reserved column name in select: `{reserved}`. "
                    "Please remove or alias the column."
                )

    def _check_aggregation(self, analysis: Analysis) -> None:
        nodes: list[Node] = [i for i in analysis.select if isinstance(i, st.SingleColumn)]
        if analysis.having is not None:
            nodes.append(analysis.having)
        aggregates = [
            n.name
            for node in nodes
            for n in walk(node)
            if isinstance(n, ex.FunctionCall) and self.functions.is_aggregate(n.name)
        ]
        for expression in analysis.group_by or ():
            for n in walk(expression):
                if isinstance(n, ex.FunctionCall) and self.functions.is_aggregate(n.name):
                    raise KsqlException(
                        f"GROUP BY does not support aggregate functions: {n.name} is an "
                        "aggregate function."
                    )
        if aggregates and analysis.group_by is None:
            loose = [
                str(strip_qualifiers(i.expression))
                for i in analysis.select
                if isinstance(i, st.SingleColumn)
                and not any(
                    isinstance(n, ex.FunctionCall) and self.functions.is_aggregate(n.name)
                    for n in walk(i.expression)
                )
                and any(isinstance(n, ex.ColumnReference) for n in walk(i.expression))
            ]
            if loose:
                raise KsqlException(
                    "Non-aggregate SELECT expression(s) not part of GROUP BY: " + ", ".join(loose)
                )
            calls = [
                str(strip_qualifiers(n))
                for node in nodes
                for n in walk(node)
                if isinstance(n, ex.FunctionCall) and self.functions.is_aggregate(n.name)
            ]
            shown = calls[0].replace("(*)", "(ROWTIME)").replace("()", "(ROWTIME)")
            raise KsqlException(
                "CREATE TABLE AS SELECT statement does not support aggregate function "
                f"[{shown}] without a GROUP BY clause."
            )
        if analysis.group_by is not None:
            if not aggregates:
                raise KsqlException(
                    "GROUP BY requires aggregate functions in either the SELECT or HAVING clause."
                )
            bound_clauses: list = [("HAVING", analysis.having)]
            bound_clauses += [("GROUP BY", e) for e in analysis.group_by]
            for _clause, expression in bound_clauses:
                for n in walk(expression) if expression is not None else ():
                    if isinstance(n, ex.ColumnReference) and n.name in WINDOW_BOUND_NAMES:
                        if analysis.source.is_windowed:
                            continue
                        raise KsqlException(
                            f"Window bounds column {n.name} can only be used in the SELECT "
                            "clause of windowed aggregations and can not be passed to aggregate "
                            "functions."
                        )
            return
        if analysis.window is not None:
            prefix = analysis.window.location_prefix()
            raise KsqlException(f"{prefix}WINDOW clause requires a GROUP BY clause.")
        if analysis.having is not None:
            raise KsqlException("HAVING requires a GROUP BY clause.")
        if analysis.refinement is st.ResultMaterialization.FINAL:
            raise KsqlException("EMIT FINAL is only supported for windowed aggregations.")

    def _collect_table_functions(self, analysis: Analysis) -> None:
        """ksqlDB's ``TableFunctionVisitor``: table function calls of the SELECT, in order."""

        def visit(node: Node, outer: str | None, case: Node | None) -> None:
            if isinstance(node, ex.SearchedCaseExpression | ex.SimpleCaseExpression):
                case = node
            is_table_function = isinstance(
                node, ex.FunctionCall
            ) and self.functions.is_table_function(node.name)
            if is_table_function:
                assert isinstance(node, ex.FunctionCall)
                if outer is not None:
                    raise KsqlException(f"Table functions cannot be nested: {outer}({node.name}())")
                if analysis.group_by is not None:
                    raise KsqlException("Table functions cannot be used with aggregations.")
                if case is not None:
                    raise KsqlException(f"Table functions cannot be used in CASE: {case}")
                analysis.table_functions.append(node)
                outer = node.name
            for child in node.child_nodes():
                visit(child, outer, case)

        for item in analysis.select:
            if isinstance(item, st.SingleColumn):
                visit(item.expression, None, None)

    @staticmethod
    def _check_columns(analysis: Analysis, columns: dict[str, object]) -> None:
        def check(expression: ex.Expression, clause: str, suffix: str = "") -> None:
            for node in walk(expression):
                if isinstance(node, ex.ColumnReference) and not _known(node):
                    raise InvalidColumnError(
                        f"{node.location_prefix()}{clause} column '{node}' cannot be resolved."
                        + suffix.format(column=node)
                    )

        def _known(node: ex.ColumnReference) -> bool:
            if node.source is not None and node.source not in (
                analysis.alias,
                analysis.source.name,
            ):
                raise KsqlException(f"'{node.source}' is not a valid stream/table name or alias.")
            return node.name in columns

        if analysis.window is not None and analysis.group_by is not None:
            columns = {**columns, **dict(WINDOW_BOUNDS)}
        if analysis.where is not None:
            check(analysis.where, "WHERE")
        for expression in analysis.partition_by or ():
            check(
                expression,
                "PARTITION BY",
                " '{column}' must be a column in the source schema since PARTITION BY is "
                "applied on the input.",
            )
        for item in analysis.select:
            if isinstance(item, st.SingleColumn):
                check(item.expression, "SELECT")


PSEUDO = dict(PSEUDO_COLUMNS) | dict(WINDOW_BOUNDS)
WINDOW_BOUND_NAMES = frozenset(dict(WINDOW_BOUNDS))
