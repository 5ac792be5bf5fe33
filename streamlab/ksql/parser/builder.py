"""Turns lark's parse tree into the AST (ksqlDB's ``AstBuilder``).

One method per grammar rule (or rule alias), named after it. Besides building nodes it applies
the few rules ksqlDB enforces while building the tree: identifier case, numeric literal ranges
(``Invalid numeric literal``, ``Number overflows DOUBLE``) and KEY versus PRIMARY KEY columns.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from lark import Token, Transformer, v_args

from streamlab.ksql.errors import KsqlException, ParseFailedException, ParsingError
from streamlab.ksql.parser.ast import Location
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.parser.keywords import RESERVED
from streamlab.ksql.parser.properties import validate_properties
from streamlab.ksql.types import (
    LONG_MAX,
    LONG_MIN,
    PRIMITIVE_TYPE_NAMES,
    SqlArray,
    SqlCustomType,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
    SqlTypes,
)

TIME_UNITS_MS = {
    "MILLISECOND": 1,
    "MILLISECONDS": 1,
    "SECOND": 1000,
    "SECONDS": 1000,
    "MINUTE": 60_000,
    "MINUTES": 60_000,
    "HOUR": 3_600_000,
    "HOURS": 3_600_000,
    "DAY": 86_400_000,
    "DAYS": 86_400_000,
}


class _Identifier(str):
    """An identifier's resolved text, remembering whether it was quoted."""

    quoted: bool = False


def _ident(text: str, quoted: bool) -> _Identifier:
    ident = _Identifier(text)
    ident.quoted = quoted
    return ident


def _loc(meta: Any) -> Location | None:
    if getattr(meta, "empty", True):
        return None
    return Location(meta.line, meta.column)


def _tokens(children: list[Any]) -> set[str]:
    """The upper-cased keyword tokens among a rule's children (for optional flags)."""
    return {c.type for c in children if isinstance(c, Token)}


class _Duration(int):
    """Milliseconds, remembering the text for error messages."""

    text: str = ""


class _NumberText:
    """The text of a numeric literal whose node may still absorb a leading minus sign."""

    __slots__ = ("kind", "text")

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text


_BLANKS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)+", re.S)


@v_args(meta=True)
class AstBuilder(Transformer):
    """Build AST nodes from a lark tree. ``sql`` is the full text, for statement texts."""

    def __init__(self, sql: str) -> None:
        super().__init__()
        self.sql = sql
        self._numbers: dict[int, _NumberText] = {}
        self._pending: dict[int, ParsingError] = {}

    def __default__(self, data, children, meta):
        raise NotImplementedError(f"no AST rule for {data!r}")

    def _statement(self, meta, node: st.Statement) -> st.Statement:
        if self._pending:
            raise next(iter(self._pending.values()))
        object.__setattr__(node, "location", _loc(meta))
        return node

    # ---- statements -----------------------------------------------------------------------------

    def query_statement(self, meta, children):
        return self._statement(meta, st.QueryStatement(children[0]))

    def list_properties(self, meta, children):
        return self._statement(meta, st.ListProperties())

    def list_topics(self, meta, children):
        flags = _tokens(children)
        return self._statement(meta, st.ListTopics("ALL" in flags, "EXTENDED" in flags))

    def list_streams(self, meta, children):
        return self._statement(meta, st.ListStreams("EXTENDED" in _tokens(children)))

    def list_tables(self, meta, children):
        return self._statement(meta, st.ListTables("EXTENDED" in _tokens(children)))

    def list_functions(self, meta, children):
        return self._statement(meta, st.ListFunctions())

    def list_types(self, meta, children):
        return self._statement(meta, st.ListTypes())

    def list_variables(self, meta, children):
        return self._statement(meta, st.ListVariables())

    def list_queries(self, meta, children):
        return self._statement(meta, st.ListQueries("EXTENDED" in _tokens(children)))

    def describe_source(self, meta, children):
        name = children[1]
        return self._statement(meta, st.ShowColumns(str(name), "EXTENDED" in _tokens(children)))

    def describe_streams(self, meta, children):
        return self._statement(meta, st.DescribeStreams("EXTENDED" in _tokens(children)))

    def describe_tables(self, meta, children):
        return self._statement(meta, st.DescribeTables("EXTENDED" in _tokens(children)))

    def describe_function(self, meta, children):
        return self._statement(meta, st.DescribeFunction(str(children[2]).upper()))

    def print_topic(self, meta, children):
        topic, clause = children[1], children[2]
        return self._statement(meta, st.PrintTopic(str(topic), *clause))

    def resource_name(self, meta, children):
        child = children[0]
        if isinstance(child, Token):  # a quoted string: the exact topic name
            return _unquote_string(child)
        return child

    def print_clause(self, meta, children):
        from_beginning = "BEGINNING" in _tokens(children)
        interval = limit = None
        for child in children:
            if isinstance(child, tuple):
                if child[0] == "interval":
                    interval = child[1]
                else:
                    limit = child[1]
        return (from_beginning, interval, limit)

    def interval_clause(self, meta, children):
        return ("interval", int(children[1]))

    def limit_clause(self, meta, children):
        return ("limit", int(children[1]))

    def terminate_query(self, meta, children):
        return self._statement(meta, st.TerminateQuery(_query_id(children[1])))

    def pause_query(self, meta, children):
        return self._statement(meta, st.PauseQuery(_query_id(children[1])))

    def resume_query(self, meta, children):
        return self._statement(meta, st.ResumeQuery(_query_id(children[1])))

    def set_property(self, meta, children):
        return self._statement(
            meta, st.SetProperty(_unquote_string(children[1]), _unquote_string(children[3]))
        )

    def alter_system_property(self, meta, children):
        return self._statement(
            meta,
            st.AlterSystemProperty(_unquote_string(children[2]), _unquote_string(children[4])),
        )

    def unset_property(self, meta, children):
        return self._statement(meta, st.UnsetProperty(_unquote_string(children[1])))

    def define_variable(self, meta, children):
        return self._statement(
            meta, st.DefineVariable(str(children[1]), _unquote_string(children[3]))
        )

    def undefine_variable(self, meta, children):
        return self._statement(meta, st.UndefineVariable(str(children[1])))

    def _create_source(self, meta, children, kind):
        flags = {str(c) for c in children if isinstance(c, _Flag)}
        name = next(c for c in children if isinstance(c, _Identifier))
        elements = next((c for c in children if isinstance(c, _Elements)), _Elements())
        props = next((c for c in children if isinstance(c, _Properties)), _Properties())
        self._check_properties(props, create_as=False)
        if kind is st.CreateTable:
            _throw_on_key_constraint(elements, st.ColumnConstraint.KEY)
        else:
            _throw_on_key_constraint(elements, st.ColumnConstraint.PRIMARY_KEY)
        return self._statement(
            meta,
            kind(
                str(name),
                tuple(elements),
                tuple(props),
                or_replace="OR_REPLACE" in flags,
                not_exists="IF_NOT_EXISTS" in flags,
                is_source="SOURCE" in _tokens(children),
            ),
        )

    def create_stream(self, meta, children):
        return self._create_source(meta, children, st.CreateStream)

    def create_table(self, meta, children):
        return self._create_source(meta, children, st.CreateTable)

    def _create_as(self, meta, children, kind):
        flags = {str(c) for c in children if isinstance(c, _Flag)}
        name = next(c for c in children if isinstance(c, _Identifier))
        props = next((c for c in children if isinstance(c, _Properties)), _Properties())
        self._check_properties(props, create_as=True)
        query = next(c for c in children if isinstance(c, st.Query))
        return self._statement(
            meta,
            kind(
                str(name),
                query,
                tuple(props),
                or_replace="OR_REPLACE" in flags,
                not_exists="IF_NOT_EXISTS" in flags,
            ),
        )

    def create_stream_as(self, meta, children):
        return self._create_as(meta, children, st.CreateStreamAsSelect)

    def create_table_as(self, meta, children):
        return self._create_as(meta, children, st.CreateTableAsSelect)

    def insert_into(self, meta, children):
        name = next(c for c in children if isinstance(c, _Identifier))
        props = next((c for c in children if isinstance(c, _Properties)), _Properties())
        query = next(c for c in children if isinstance(c, st.Query))
        return self._statement(meta, st.InsertInto(str(name), query, tuple(props)))

    def insert_values(self, meta, children):
        name = next(c for c in children if isinstance(c, _Identifier))
        columns = next((c for c in children if isinstance(c, _Columns)), _Columns())
        values = next(c for c in children if isinstance(c, _Values))
        return self._statement(
            meta, st.InsertValues(str(name), tuple(str(c) for c in columns), tuple(values))
        )

    def _drop(self, meta, children, kind):
        flags = {str(c) for c in children if isinstance(c, _Flag)}
        name = next(c for c in children if isinstance(c, _Identifier))
        return self._statement(
            meta,
            kind(str(name), if_exists="IF_EXISTS" in flags, delete_topic="DELETE_TOPIC" in flags),
        )

    def drop_stream(self, meta, children):
        return self._drop(meta, children, st.DropStream)

    def drop_table(self, meta, children):
        return self._drop(meta, children, st.DropTable)

    def explain(self, meta, children):
        target = children[1]
        if isinstance(target, _Identifier):
            return self._statement(meta, st.Explain(query_id=str(target)))
        inner_start = meta.start_pos + len(str(children[0]))
        object.__setattr__(target, "text", self.sql[inner_start : meta.end_pos].strip())
        return self._statement(meta, st.Explain(statement=target))

    def register_type(self, meta, children):
        flags = {str(c) for c in children if isinstance(c, _Flag)}
        name = next(c for c in children if isinstance(c, _Identifier))
        sql_type = next(c for c in children if isinstance(c, SqlType))
        return self._statement(
            meta, st.RegisterType(str(name), sql_type, if_not_exists="IF_NOT_EXISTS" in flags)
        )

    def drop_type(self, meta, children):
        flags = {str(c) for c in children if isinstance(c, _Flag)}
        name = next(c for c in children if isinstance(c, _Identifier))
        return self._statement(meta, st.DropType(str(name), if_exists="IF_EXISTS" in flags))

    def alter_source(self, meta, children):
        name = next(c for c in children if isinstance(c, _Identifier))
        columns = tuple(c for c in children if isinstance(c, st.TableElement))
        return self._statement(
            meta, st.AlterSource(str(name), "STREAM" in _tokens(children), columns)
        )

    def alter_option(self, meta, children):
        name = next(c for c in children if isinstance(c, _Identifier))
        sql_type = next(c for c in children if isinstance(c, SqlType))
        return st.TableElement(str(name), sql_type, location=_loc(meta))

    # flags of CREATE / DROP
    def or_replace(self, meta, children):
        return _Flag("OR_REPLACE")

    def if_not_exists(self, meta, children):
        return _Flag("IF_NOT_EXISTS")

    def if_exists(self, meta, children):
        return _Flag("IF_EXISTS")

    def delete_topic(self, meta, children):
        return _Flag("DELETE_TOPIC")

    def with_properties(self, meta, children):
        return children[1]

    # ---- query ----------------------------------------------------------------------------------

    def query(self, meta, children):
        select = tuple(c for c in children if isinstance(c, st.SelectItem))
        parts: dict[str, Any] = {}
        for child in children:
            if isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], str):
                parts[child[0]] = child[1]
        relation = next(c for c in children if isinstance(c, st.AliasedRelation | st.Join))
        return st.Query(
            select,
            relation,
            window=parts.get("window"),
            where=parts.get("where"),
            group_by=parts.get("group_by"),
            partition_by=parts.get("partition_by"),
            having=parts.get("having"),
            refinement=parts.get("emit"),
            limit=parts.get("limit"),
            location=_loc(meta),
        )

    def window_clause(self, meta, children):
        return ("window", children[1])

    def where_clause(self, meta, children):
        return ("where", children[1])

    def group_by_clause(self, meta, children):
        return ("group_by", children[2])

    def partition_by_clause(self, meta, children):
        return ("partition_by", children[2])

    def having_clause(self, meta, children):
        return ("having", children[1])

    def emit_clause(self, meta, children):
        return ("emit", st.ResultMaterialization(children[1].type))

    def grouping_list(self, meta, children):
        return tuple(c for c in children if isinstance(c, ex.Expression))

    def grouping_empty(self, meta, children):
        return ()

    def select_single(self, meta, children):
        alias = next((c for c in children[1:] if isinstance(c, _Identifier)), None)
        return st.SingleColumn(
            children[0], str(alias) if alias is not None else None, location=_loc(meta)
        )

    def select_struct_all(self, meta, children):
        return st.StructAll(children[0], location=_loc(meta))

    def select_all(self, meta, children):
        source = children[0] if isinstance(children[0], _Identifier) else None
        return st.AllColumns(str(source) if source is not None else None, location=_loc(meta))

    def relation(self, meta, children):
        current = children[0]
        for join_type, right, within, criteria, loc in children[1:]:
            current = st.Join(current, right, join_type, criteria, within, location=loc)
        return current

    def joined_source(self, meta, children):
        join_type = children[0]
        right = next(c for c in children if isinstance(c, st.AliasedRelation))
        within = next((c for c in children if isinstance(c, st.WithinExpression)), None)
        criteria = children[-1]
        return (join_type, right, within, criteria, _loc(meta))

    def inner_join(self, meta, children):
        return st.JoinType.INNER

    def full_join(self, meta, children):
        return st.JoinType.OUTER

    def left_join(self, meta, children):
        return st.JoinType.LEFT

    def right_join(self, meta, children):
        return st.JoinType.RIGHT

    def within_before_after(self, meta, children):
        durations = [c for c in children if isinstance(c, _Duration)]
        grace = next((c for c in children if isinstance(c, _Grace)), None)
        return st.WithinExpression(
            int(durations[0]),
            int(durations[1]),
            int(grace) if grace is not None else None,
            text=self.sql[meta.start_pos : meta.end_pos],
            location=_loc(meta),
        )

    def within_single(self, meta, children):
        duration = next(c for c in children if isinstance(c, _Duration))
        grace = next((c for c in children if isinstance(c, _Grace)), None)
        return st.WithinExpression(
            int(duration),
            int(duration),
            int(grace) if grace is not None else None,
            text=self.sql[meta.start_pos : meta.end_pos],
            location=_loc(meta),
        )

    def aliased_relation(self, meta, children):
        name = children[0]
        alias = next((c for c in children[1:] if isinstance(c, _Identifier)), None)
        return st.AliasedRelation(
            str(name), str(alias) if alias is not None else None, location=_loc(meta)
        )

    def window_expression(self, meta, children):
        name = None
        if isinstance(children[0], Token) and children[0].type == "IDENTIFIER":
            name = children[0].upper()
        window = children[-1]
        return st.WindowExpression(
            window["type"],
            window["size"],
            window.get("advance"),
            window.get("retention"),
            window.get("grace"),
            name=name,
            text=self.sql[meta.start_pos : meta.end_pos],
            location=_loc(meta),
        )

    def _window(self, kind, children):
        durations = [c for c in children if type(c) is _Duration]
        window = {"type": kind, "size": int(durations[0])}
        if kind is st.WindowType.HOPPING:
            window["advance"] = int(durations[1])
        for child in children:
            if isinstance(child, _Retention):
                window["retention"] = int(child)
            elif isinstance(child, _Grace):
                window["grace"] = int(child)
        return window

    def tumbling_window(self, meta, children):
        return self._window(st.WindowType.TUMBLING, children)

    def hopping_window(self, meta, children):
        return self._window(st.WindowType.HOPPING, children)

    def session_window(self, meta, children):
        return self._window(st.WindowType.SESSION, children)

    def retention(self, meta, children):
        return _Retention(children[1])

    def grace_period(self, meta, children):
        return _Grace(children[2])

    def duration(self, meta, children):
        value = int(children[0]) * TIME_UNITS_MS[children[1]]
        duration = _Duration(value)
        duration.text = f"{int(children[0])} {children[1]}"
        return duration

    def time_unit(self, meta, children):
        return children[0].type

    def values(self, meta, children):
        return _Values(c for c in children if isinstance(c, ex.Expression))

    def column_list(self, meta, children):
        return _Columns(c for c in children if isinstance(c, _Identifier))

    # ---- DDL elements ---------------------------------------------------------------------------

    def table_elements(self, meta, children):
        return _Elements(c for c in children if isinstance(c, st.TableElement))

    def table_element(self, meta, children):
        name, sql_type = children[0], children[1]
        constraint, header_key = children[2] if len(children) > 2 else (None, None)
        if constraint is st.ColumnConstraint.HEADER and sql_type != SqlTypes.BYTES:
            raise KsqlException(
                f"Invalid type for HEADER('{header_key}') column: expected BYTES, got {sql_type}"
            )
        if constraint is st.ColumnConstraint.HEADERS and sql_type != SqlTypes.HEADERS:
            raise KsqlException(
                f"Invalid type for HEADERS column: expected {SqlTypes.HEADERS}, got {sql_type}"
            )
        return st.TableElement(str(name), sql_type, constraint, header_key, location=_loc(meta))

    def primary_key(self, meta, children):
        return (st.ColumnConstraint.PRIMARY_KEY, None)

    def key(self, meta, children):
        return (st.ColumnConstraint.KEY, None)

    def headers(self, meta, children):
        return (st.ColumnConstraint.HEADERS, None)

    def header(self, meta, children):
        return (st.ColumnConstraint.HEADER, _unquote_string(children[1]))

    def table_properties(self, meta, children):
        return _Properties(c for c in children if isinstance(c, st.Property))

    @staticmethod
    def _check_properties(props: list[st.Property], create_as: bool) -> None:
        validate_properties({p.name: p.value.value for p in props}, create_as)

    def table_property(self, meta, children):
        name = children[0]
        if isinstance(name, Token):  # 'quoted' property name
            name = _unquote_string(name)
        value = children[-1]
        if isinstance(value, _NumberText):
            value = self._number(value.kind, value.text, meta)
        return st.Property(str(name).upper(), value, location=_loc(meta))

    def negative_property(self, meta, children):
        raw = self._numbers.pop(id(children[1]), None)
        if raw is None:
            return children[1]
        self._pending.pop(id(children[1]), None)
        return self._number(raw.kind, "-" + raw.text, meta)

    # ---- types ----------------------------------------------------------------------------------

    def array_type(self, meta, children):
        return SqlArray(children[2])

    def map_type(self, meta, children):
        return SqlMap(children[2], children[3])

    def struct_type(self, meta, children):
        return SqlStruct(tuple(c for c in children if isinstance(c, tuple)))

    def struct_field(self, meta, children):
        return (str(children[0]), children[1])

    def decimal_type(self, meta, children):
        return SqlDecimal(int(children[1]), int(children[2]))

    def base_type(self, meta, children):
        name = str(children[0])
        return PRIMITIVE_TYPE_NAMES.get(name.upper()) or SqlCustomType(name)

    def type_parameter(self, meta, children):
        return children[0]

    # ---- expressions ----------------------------------------------------------------------------

    def logical_or(self, meta, children):
        return ex.LogicalBinaryExpression(
            ex.LogicalOperator.OR, children[0], children[2], location=_loc(meta)
        )

    def logical_and(self, meta, children):
        return ex.LogicalBinaryExpression(
            ex.LogicalOperator.AND, children[0], children[2], location=_loc(meta)
        )

    def logical_not(self, meta, children):
        return ex.NotExpression(children[1], location=_loc(meta))

    def comparison(self, meta, children):
        return ex.ComparisonExpression(children[1], children[0], children[2], location=_loc(meta))

    def comparison_operator(self, meta, children):
        return ex.COMPARISON_SYMBOLS[str(children[0])]

    def between(self, meta, children):
        exprs = [c for c in children if isinstance(c, ex.Expression)]
        node = ex.BetweenPredicate(exprs[0], exprs[1], exprs[2], location=_loc(meta))
        if "NOT" in _tokens(children):
            return ex.NotExpression(node, location=_loc(meta))
        return node

    def in_list(self, meta, children):
        exprs = [c for c in children if isinstance(c, ex.Expression)]
        node = ex.InPredicate(exprs[0], tuple(exprs[1:]), location=_loc(meta))
        if "NOT" in _tokens(children):
            return ex.NotExpression(node, location=_loc(meta))
        return node

    def like(self, meta, children):
        exprs = [c for c in children if isinstance(c, ex.Expression)]
        escape_tokens = [c for c in children if isinstance(c, Token) and c.type == "STRING"]
        escape = _unquote_string(escape_tokens[0]) if escape_tokens else None
        if escape is not None and len(escape) != 1:
            raise self._parse_error(
                f"Expected single character escape but got: {escape}", escape_tokens[0]
            )
        node = ex.LikePredicate(exprs[0], exprs[1], escape, location=_loc(meta))
        if "NOT" in _tokens(children):
            return ex.NotExpression(node, location=_loc(meta))
        return node

    def is_null(self, meta, children):
        if "NOT" in _tokens(children):
            return ex.IsNotNullPredicate(children[0], location=_loc(meta))
        return ex.IsNullPredicate(children[0], location=_loc(meta))

    def is_distinct_from(self, meta, children):
        exprs = [c for c in children if isinstance(c, ex.Expression)]
        op = (
            ex.ComparisonOperator.IS_NOT_DISTINCT_FROM
            if "NOT" in _tokens(children)
            else ex.ComparisonOperator.IS_DISTINCT_FROM
        )
        return ex.ComparisonExpression(op, exprs[0], exprs[1], location=_loc(meta))

    def concatenation(self, meta, children):
        return ex.FunctionCall("CONCAT", (children[0], children[2]), location=_loc(meta))

    def arithmetic_binary(self, meta, children):
        return ex.ArithmeticBinaryExpression(
            ex.ArithmeticOperator(str(children[1])),
            children[0],
            children[2],
            location=_loc(meta),
        )

    def arithmetic_unary(self, meta, children):
        sign, value = str(children[0]), children[1]
        raw = self._numbers.pop(id(value), None)
        if raw is not None:
            self._pending.pop(id(value), None)
            if sign == "-":
                return self._number(raw.kind, "-" + raw.text, meta)
            return self._number(raw.kind, raw.text, meta)
        return ex.ArithmeticUnaryExpression(ex.Sign(sign), value, location=_loc(meta))

    def simple_case(self, meta, children):
        exprs = [c for c in children if isinstance(c, ex.Expression)]
        whens = tuple(c for c in exprs if isinstance(c, ex.WhenClause))
        others = [c for c in exprs if not isinstance(c, ex.WhenClause)]
        default = others[1] if len(others) > 1 else None
        return ex.SimpleCaseExpression(others[0], whens, default, location=_loc(meta))

    def searched_case(self, meta, children):
        exprs = [c for c in children if isinstance(c, ex.Expression)]
        whens = tuple(c for c in exprs if isinstance(c, ex.WhenClause))
        others = [c for c in exprs if not isinstance(c, ex.WhenClause)]
        return ex.SearchedCaseExpression(whens, others[0] if others else None, location=_loc(meta))

    def when_clause(self, meta, children):
        return ex.WhenClause(children[1], children[3], location=_loc(meta))

    def cast(self, meta, children):
        return ex.Cast(children[1], children[3], location=_loc(meta))

    def array_constructor(self, meta, children):
        return ex.CreateArrayExpression(
            tuple(c for c in children if isinstance(c, ex.Expression)), location=_loc(meta)
        )

    def map_constructor(self, meta, children):
        return ex.CreateMapExpression(
            tuple(c for c in children if isinstance(c, tuple)), location=_loc(meta)
        )

    def map_entry(self, meta, children):
        return (children[0], children[2])

    def struct_constructor(self, meta, children):
        return ex.CreateStructExpression(
            tuple(c for c in children if isinstance(c, tuple)), location=_loc(meta)
        )

    def struct_entry(self, meta, children):
        return (str(children[0]), children[2])

    def function_call_star(self, meta, children):
        return ex.FunctionCall(str(children[0]).upper(), (), location=_loc(meta))

    def function_call(self, meta, children):
        name = str(children[0]).upper()
        args = tuple(c for c in children[1:] if isinstance(c, ex.Expression))
        args = tuple(_interval_unit(a) for a in args)
        return ex.FunctionCall(name, args, location=_loc(meta))

    def lambda_function(self, meta, children):
        first = children[0]
        if isinstance(first, ex.Expression):  # `(x) => ...`: the parenthesised form
            if not isinstance(first, ex.ColumnReference) or first.source is not None:
                line, column = meta.line, meta.column
                raise ParseFailedException(
                    f"line {line}:{column}: Syntax Error\n"
                    f"Syntax error at or near '=>' at line {line}:{column}",
                    statement="",
                )
            names: tuple[str, ...] = (first.name,)
        else:
            names = tuple(str(c) for c in children if isinstance(c, _Identifier))
        body = children[-1]

        def bind(node):
            if isinstance(node, ex.ColumnReference) and node.source is None and node.name in names:
                return ex.LambdaVariable(node.name, location=node.location)
            return None

        from streamlab.ksql.parser.ast import transform

        return ex.LambdaFunctionCall(names, transform(body, bind), location=_loc(meta))

    def subscript(self, meta, children):
        return ex.SubscriptExpression(children[0], children[1], location=_loc(meta))

    def column_reference(self, meta, children):
        return ex.ColumnReference(str(children[0]), location=_loc(meta))

    def keyword_column_reference(self, meta, children):
        """``map``, ``array``, ``struct``: non-reserved keywords used as column names."""
        return ex.ColumnReference(str(children[0]).upper(), location=_loc(meta))

    def qualified_column_reference(self, meta, children):
        return ex.ColumnReference(str(children[1]), str(children[0]), location=_loc(meta))

    def dereference(self, meta, children):
        return ex.DereferenceExpression(children[0], str(children[2]), location=_loc(meta))

    # ---- literals -------------------------------------------------------------------------------

    def null_literal(self, meta, children):
        return ex.NullLiteral(location=_loc(meta))

    def true_literal(self, meta, children):
        return ex.BooleanLiteral(True, location=_loc(meta))

    def false_literal(self, meta, children):
        return ex.BooleanLiteral(False, location=_loc(meta))

    def string_literal(self, meta, children):
        return ex.StringLiteral(_unquote_string(children[0]), location=_loc(meta))

    def integer_literal(self, meta, children):
        return self._raw_number("integer", children[0], meta)

    def decimal_literal(self, meta, children):
        return self._raw_number("decimal", children[0], meta)

    def float_literal(self, meta, children):
        return self._raw_number("float", children[0], meta)

    def _raw_number(self, kind: str, token: Token, meta) -> ex.Literal:
        text = str(token)
        try:
            node = self._number(kind, text, meta)
        except ParsingError as error:
            node = ex.LongLiteral(0, location=_loc(meta))
            self._pending[id(node)] = error
        self._numbers[id(node)] = _NumberText(kind, text)
        return node

    def _number(self, kind: str, text: str, meta) -> ex.Literal:
        loc = _loc(meta)
        line, column = (loc.line, loc.column) if loc else (1, 1)
        if kind == "integer":
            value = int(text)
            if not LONG_MIN <= value <= LONG_MAX:
                raise ParsingError(f"Invalid numeric literal: {text}", line, column + 1)
            if -(2**31) <= value <= 2**31 - 1:
                return ex.IntegerLiteral(value, location=loc)
            return ex.LongLiteral(value, location=loc)
        if kind == "decimal":
            try:
                return ex.DecimalLiteral(Decimal(text), location=loc)
            except InvalidOperation as error:
                raise ParsingError(f"Invalid numeric literal: {text}", line, column + 1) from error
        value_f = float(text)
        if math.isinf(value_f):
            raise ParsingError(f"Number overflows DOUBLE: {text}", line, column + 1)
        return ex.DoubleLiteral(value_f, location=loc)

    def _parse_error(self, message: str, token: Token) -> ParsingError:
        return ParsingError(message, token.line or 1, (token.column or 1) + 1)

    # ---- identifiers ----------------------------------------------------------------------------

    def unquoted_identifier(self, meta, children):
        token = children[0]
        text = str(token).upper()
        if text in RESERVED and text not in TIME_UNITS_MS:
            line, column = token.line or 1, token.column or 1
            original = str(token)
            if self._identifier_follows(token):
                # ANTLR's "extraneous input": dropping the keyword would leave an identifier.
                details = (
                    f'"{original}" is a reserved keyword and it can\'t be used as an '
                    f"identifier. You can use it as an identifier by escaping it as '{original}' "
                )
            else:
                details = f"Syntax error at or near '{original}' at line {line}:{column}"
            raise ParseFailedException(
                f"line {line}:{column}: Syntax Error\n{details}", statement=self.sql
            )
        return _ident(text, False)

    def _identifier_follows(self, token: Token) -> bool:
        """Whether the token after ``token`` (skipping blanks and comments) is identifier-like."""
        rest = self.sql[token.end_pos :] if token.end_pos is not None else ""
        rest = _BLANKS.sub("", rest, count=1)
        return bool(rest) and (rest[0].isalpha() or rest[0] in '_`"')

    def quoted_identifier(self, meta, children):
        text = str(children[0])[1:-1].replace('""', '"')
        return _ident(text, True)

    def backquoted_identifier(self, meta, children):
        text = str(children[0])[1:-1].replace("``", "`")
        return _ident(text, True)

    def source_name(self, meta, children):
        return children[0]


class _Flag(str):
    pass


class _Elements(list):
    pass


class _Properties(list):
    pass


class _Columns(list):
    pass


class _Values(list):
    pass


class _Retention(int):
    pass


class _Grace(int):
    pass


def _unquote_string(token: Token | str) -> str:
    return str(token)[1:-1].replace("''", "'")


def _query_id(child: Any) -> str | None:
    if isinstance(child, Token) and child.type == "ALL":
        return None
    return str(child)


def _interval_unit(arg: ex.Expression) -> ex.Expression:
    """A bare time unit passed to a function is an interval unit, not a column."""
    if isinstance(arg, ex.ColumnReference) and arg.source is None and arg.name in TIME_UNITS_MS:
        return ex.IntervalUnit(arg.name, location=arg.location)
    return arg


def _throw_on_key_constraint(elements: list[st.TableElement], wrong: st.ColumnConstraint) -> None:
    for element in elements:
        if element.constraint is not wrong:
            continue
        prefix = element.location_prefix()
        if wrong is st.ColumnConstraint.KEY:
            detail = "is a 'KEY' column: please use 'PRIMARY KEY' for tables."
        else:
            detail = "is a 'PRIMARY KEY' column: please use 'KEY' for streams."
        tail = (
            "\nTables have PRIMARY KEYs, which are unique and NON NULL."
            "\nStreams have KEYs, which have no uniqueness or NON NULL constraints."
        )
        name = "`" + element.name.replace("`", "``") + "`"
        raise ParseFailedException(
            f"{prefix}Column {detail}{tail}",
            statement=name,
            unlogged_details=f"{prefix}Column {name} {detail}{tail}",
        )
