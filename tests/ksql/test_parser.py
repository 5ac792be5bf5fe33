"""Parser: SQL text to AST, expression formatting, identifiers, syntax errors (table-driven)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streamlab.ksql.errors import ParseFailedException
from streamlab.ksql.parser import parse, parse_expression, parse_statement, parse_statements
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.types import SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlTypes

# ---- statements --------------------------------------------------------------

STATEMENTS = [
    ("SHOW STREAMS;", st.ListStreams()),
    ("list tables extended;", st.ListTables(extended=True)),
    ("SHOW ALL TOPICS;", st.ListTopics(show_all=True)),
    ("SHOW QUERIES;", st.ListQueries()),
    ("SHOW PROPERTIES;", st.ListProperties()),
    ("SHOW FUNCTIONS;", st.ListFunctions()),
    ("DESCRIBE rides EXTENDED;", st.ShowColumns("RIDES", extended=True)),
    ("DESCRIBE FUNCTION ucase;", st.DescribeFunction("UCASE")),
    (
        "DROP STREAM IF EXISTS s DELETE TOPIC;",
        st.DropStream("S", if_exists=True, delete_topic=True),
    ),
    ("DROP TABLE t;", st.DropTable("T")),
    ("TERMINATE CSAS_X_0;", st.TerminateQuery("CSAS_X_0")),
    ("TERMINATE ALL;", st.TerminateQuery(None)),
    ("SET 'auto.offset.reset' = 'earliest';", st.SetProperty("auto.offset.reset", "earliest")),
    ("UNSET 'auto.offset.reset';", st.UnsetProperty("auto.offset.reset")),
    (
        "CREATE STREAM s (id INT KEY, v STRING) WITH (kafka_topic='t', value_format='JSON', "
        "partitions=2);",
        st.CreateStream(
            "S",
            (
                st.TableElement("ID", SqlTypes.INTEGER, st.ColumnConstraint.KEY),
                st.TableElement("V", SqlTypes.STRING),
            ),
            (
                st.Property("KAFKA_TOPIC", ex.StringLiteral("t")),
                st.Property("VALUE_FORMAT", ex.StringLiteral("JSON")),
                st.Property("PARTITIONS", ex.IntegerLiteral(2)),
            ),
        ),
    ),
    (
        "CREATE OR REPLACE TABLE IF NOT EXISTS `t` (`Id` BIGINT PRIMARY KEY, "
        "m MAP<STRING, ARRAY<DECIMAL(4, 2)>>, s STRUCT<a INT, `b` VARCHAR(STRING)>) "
        "WITH (kafka_topic='t', format='JSON');",
        st.CreateTable(
            "t",
            (
                st.TableElement("Id", SqlTypes.BIGINT, st.ColumnConstraint.PRIMARY_KEY),
                st.TableElement("M", SqlMap(SqlTypes.STRING, SqlArray(SqlDecimal(4, 2)))),
                st.TableElement("S", SqlStruct((("A", SqlTypes.INTEGER), ("b", SqlTypes.STRING)))),
            ),
            (
                st.Property("KAFKA_TOPIC", ex.StringLiteral("t")),
                st.Property("FORMAT", ex.StringLiteral("JSON")),
            ),
            or_replace=True,
            not_exists=True,
        ),
    ),
    (
        "CREATE STREAM h (b BYTES HEADER('k'), hs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS)"
        " WITH (kafka_topic='h');",
        st.CreateStream(
            "H",
            (
                st.TableElement("B", SqlTypes.BYTES, st.ColumnConstraint.HEADER, "k"),
                st.TableElement("HS", SqlTypes.HEADERS, st.ColumnConstraint.HEADERS),
            ),
            (st.Property("KAFKA_TOPIC", ex.StringLiteral("h")),),
        ),
    ),
    (
        "INSERT INTO s (id, v) VALUES (1, 'a');",
        st.InsertValues("S", ("ID", "V"), (ex.IntegerLiteral(1), ex.StringLiteral("a"))),
    ),
    (
        "INSERT INTO out SELECT * FROM s;",
        st.InsertInto("OUT", st.Query((st.AllColumns(),), st.AliasedRelation("S"))),
    ),
]


@pytest.mark.parametrize(("sql", "expected"), STATEMENTS, ids=[s for s, _ in STATEMENTS])
def test_statement_ast(sql: str, expected: st.Statement) -> None:
    assert parse_statement(sql) == expected


QUERIES = [
    (
        "SELECT a.id, ucase(v) AS up, * FROM s a WHERE id > 1 PARTITION BY v EMIT CHANGES LIMIT 3;",
        st.Query(
            (
                st.SingleColumn(ex.ColumnReference("ID", "A")),
                st.SingleColumn(ex.FunctionCall("UCASE", (ex.ColumnReference("V"),)), "UP"),
                st.AllColumns(),
            ),
            st.AliasedRelation("S", "A"),
            where=ex.ComparisonExpression(
                ex.ComparisonOperator.GREATER_THAN, ex.ColumnReference("ID"), ex.IntegerLiteral(1)
            ),
            partition_by=(ex.ColumnReference("V"),),
            refinement=st.ResultMaterialization.CHANGES,
            limit=3,
        ),
    ),
    (
        "SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 30 SECONDS, GRACE PERIOD 1 MINUTE) "
        "GROUP BY k HAVING COUNT(*) > 1 EMIT FINAL;",
        st.Query(
            (
                st.SingleColumn(ex.ColumnReference("K")),
                st.SingleColumn(ex.FunctionCall("COUNT", ())),
            ),
            st.AliasedRelation("S"),
            window=st.WindowExpression(st.WindowType.TUMBLING, 30_000, grace_ms=60_000),
            group_by=(ex.ColumnReference("K"),),
            having=ex.ComparisonExpression(
                ex.ComparisonOperator.GREATER_THAN,
                ex.FunctionCall("COUNT", ()),
                ex.IntegerLiteral(1),
            ),
            refinement=st.ResultMaterialization.FINAL,
        ),
    ),
    (
        "SELECT * FROM l LEFT JOIN r WITHIN (1 HOUR, 2 HOURS) ON l.id = r.id;",
        st.Query(
            (st.AllColumns(),),
            st.Join(
                st.AliasedRelation("L"),
                st.AliasedRelation("R"),
                st.JoinType.LEFT,
                ex.ComparisonExpression(
                    ex.ComparisonOperator.EQUAL,
                    ex.ColumnReference("ID", "L"),
                    ex.ColumnReference("ID", "R"),
                ),
                st.WithinExpression(3_600_000, 7_200_000),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("sql", "expected"), QUERIES, ids=[s for s, _ in QUERIES])
def test_query_ast(sql: str, expected: st.Query) -> None:
    statement = parse_statement(sql)
    assert isinstance(statement, st.QueryStatement)
    assert statement.query == expected


def test_window_hopping_and_session() -> None:
    hopping = parse_statement(
        "SELECT k FROM s WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 10 SECONDS, RETENTION 2 DAYS) "
        "GROUP BY k;"
    )
    window = hopping.query.window  # type: ignore[attr-defined]
    assert (window.size_ms, window.advance_ms, window.retention_ms) == (60_000, 10_000, 172_800_000)
    session = parse_statement("SELECT k FROM s WINDOW SESSION (5 MINUTES) GROUP BY k;")
    assert session.query.window.window_type is st.WindowType.SESSION  # type: ignore[attr-defined]


# ---- expressions: precedence, literals, formatting -----------------------------------------------

EXPRESSIONS = [
    ("2 * 3 + 4", "((2 * 3) + 4)"),
    ("2 + 3 * 4", "(2 + (3 * 4))"),
    ("10 - 2 + 5", "((10 - 2) + 5)"),
    ("6 % 4 / 2 * 6", "(((6 % 4) / 2) * 6)"),
    ("-a * 2", "(-A * 2)"),
    ("NOT a AND b OR c", "(((NOT A) AND B) OR C)"),
    ("a OR b AND c", "(A OR (B AND C))"),
    (
        "1 BETWEEN 0 AND 2 AND 'b' BETWEEN 'a' AND 'c'",
        "((1 BETWEEN 0 AND 2) AND ('b' BETWEEN 'a' AND 'c'))",
    ),
    ("'this' LIKE '%hi%' AND true", "(('this' LIKE '%hi%') AND true)"),
    ("x NOT IN (1, 2)", "(NOT (X IN (1, 2)))"),
    ("x IS NOT NULL", "(X IS NOT NULL)"),
    ("x IS DISTINCT FROM y", "(X IS DISTINCT FROM Y)"),
    ("a || 'b'", "CONCAT(A, 'b')"),
    ("s->f[1]", "S->F[1]"),
    ("CAST(x AS DECIMAL(4, 2))", "CAST(X AS DECIMAL(4, 2))"),
    ("CASE WHEN a > 1 THEN 'x' ELSE 'y' END", "(CASE WHEN (A > 1) THEN 'x' ELSE 'y' END)"),
    ("CASE a WHEN 1 THEN 'x' END", "(CASE A WHEN 1 THEN 'x' END)"),
    ("ARRAY[1, 2]", "ARRAY[1, 2]"),
    ("MAP('a' := 1)", "MAP('a':=1)"),
    ("STRUCT(f := 1)", "STRUCT(F:=1)"),
    ("count(*)", "COUNT(*)"),
    ("`with.dot` + `SELECT`", "(`with.dot` + `SELECT`)"),
    ("'it''s'", "'it''s'"),
    ("TRANSFORM(xs, x => x + 1)", "TRANSFORM(XS, (X) => (X + 1))"),
    ("REDUCE(m, 0, (s, k, v) => s + v)", "REDUCE(M, 0, (S, K, V) => (S + V))"),
    ("FILTER(xs, (x) => x > 1)", "FILTER(XS, (X) => (X > 1))"),
    ("map['k'] + array[1]", "(MAP['k'] + ARRAY[1])"),  # non-reserved keywords as columns
]


@pytest.mark.parametrize(("text", "formatted"), EXPRESSIONS, ids=[t for t, _ in EXPRESSIONS])
def test_expression_formatting(text: str, formatted: str) -> None:
    assert str(parse_expression(text)) == formatted


LITERALS = [
    ("1", ex.IntegerLiteral(1)),
    ("-00002147483647", ex.IntegerLiteral(-2147483647)),
    ("2147483648", ex.LongLiteral(2147483648)),
    ("-9223372036854775808", ex.LongLiteral(-(2**63))),
    ("1.50", ex.DecimalLiteral(Decimal("1.50"))),
    ("1e-1", ex.DoubleLiteral(0.1)),
    ("04.90E-324", ex.DoubleLiteral(4.9e-324)),
    ("'x'", ex.StringLiteral("x")),
    ("null", ex.NullLiteral()),
    ("TRUE", ex.BooleanLiteral(True)),
]


@pytest.mark.parametrize(("text", "literal"), LITERALS, ids=[t for t, _ in LITERALS])
def test_literals(text: str, literal: ex.Literal) -> None:
    assert parse_expression(text) == literal


IDENTIFIERS = [
    ("SELECT foo FROM bar;", "FOO", "BAR"),
    ("SELECT `foo` FROM `bar`;", "foo", "bar"),
    ('SELECT "foo" FROM "bar";', "foo", "bar"),
    ("SELECT `a``b` FROM s;", "a`b", "S"),
    ("SELECT key FROM source;", "KEY", "SOURCE"),
]


@pytest.mark.parametrize(
    ("sql", "column", "source"), IDENTIFIERS, ids=[s for s, _, _ in IDENTIFIERS]
)
def test_identifier_case_rules(sql: str, column: str, source: str) -> None:
    query = parse_statement(sql).query  # type: ignore[attr-defined]
    assert query.select[0].expression.name == column
    assert query.from_.name == source


def test_comments_and_statement_texts() -> None:
    sql = "-- a comment\nSHOW STREAMS; /* block\ncomment */ SHOW TABLES;\nSHOW QUERIES"
    parsed = parse(sql)
    assert [p.text for p in parsed] == ["SHOW STREAMS;", "SHOW TABLES;", "SHOW QUERIES"]
    assert [type(s).__name__ for s in parse_statements(sql)] == [
        "ListStreams",
        "ListTables",
        "ListQueries",
    ]


# ---- errors ------------------------------------------------------------------

SYNTAX_ERRORS = [
    (
        "CREATE STREAM INPUT (K INTEGER (KEY)) WITH (kafka_topic='input',value_format='JSON');",
        "line 1:33: Syntax Error\nExpecting {'STRING', INTEGER_VALUE}",
        (1, 33),
    ),
    (
        "CREATE STREAM INPUT (K VARCHAR(STRING) (KEY)) WITH (kafka_topic='input');",
        "line 1:40: Syntax Error\nExpecting {',', ')'}",
        (1, 40),
    ),
    (
        "SELEC * FROM x;",
        "line 1:1: Syntax Error\nUnknown statement 'SELEC'\nDid you mean 'SELECT'?",
        (1, 1),
    ),
    ("SHOW STREAMS;\nSELECT * FROM s PARTITION BY a AND b;", "line 2:32: Syntax Error", (2, 32)),
    # ANTLR's "extraneous input": the keyword could simply be dropped -> reserved-word message.
    (
        "CREATE STREAM ORDERS (c1 VARCHAR, size INTEGER) WITH (kafka_topic='o');",
        'line 1:35: Syntax Error\n"size" is a reserved keyword and it can\'t be used as an '
        "identifier. You can use it as an identifier by escaping it as 'size' ",
        None,
    ),
    ("SELECT * FROM from;", "Syntax error at or near 'from' at line 1:15", None),
    ("SELECT CAST(x AS NULL) FROM t;", "Syntax error at or near 'NULL' at line 1:18", None),
]


@pytest.mark.parametrize(
    ("sql", "message", "position"), SYNTAX_ERRORS, ids=[s for s, _, _ in SYNTAX_ERRORS]
)
def test_syntax_errors(sql: str, message: str, position: tuple[int, int] | None) -> None:
    with pytest.raises(ParseFailedException) as caught:
        parse_statements(sql)
    assert message in caught.value.message
    assert caught.value.unlogged_message.endswith(f"Statement: {sql}")
    if position is not None:
        assert (caught.value.line, caught.value.column) == position  # type: ignore[attr-defined]


PREPARE_ERRORS = [
    ("SELECT -9223372036854775809 FROM t;", "Invalid numeric literal: -9223372036854775809"),
    (
        "SHOW STREAMS;\nSELECT 1.7976931348623159E308 FROM t;",
        "Failed to prepare statement: line 2:9: Number overflows DOUBLE: 1.7976931348623159E308",
    ),
    (
        "CREATE TABLE INPUT (ID INT KEY, NAME STRING) WITH (kafka_topic='input');",
        "Line: 1, Col: 21: Column `ID` is a 'KEY' column: please use 'PRIMARY KEY' for tables.",
    ),
    (
        "CREATE STREAM S (ID INT PRIMARY KEY) WITH (kafka_topic='s');",
        "Column `ID` is a 'PRIMARY KEY' column: please use 'KEY' for streams.",
    ),
    (
        "CREATE STREAM S (ID INT) WITH (kafka_topic='s', value_delimiter='<~>');",
        "Failed to prepare statement: Configuration VALUE_DELIMITER is invalid: Invalid delimiter",
    ),
    (
        "CREATE STREAM S (ID INT) WITH (kafka_topic='s', foo='bar');",
        "Invalid config variable(s) in the WITH clause: FOO",
    ),
]


@pytest.mark.parametrize(("sql", "message"), PREPARE_ERRORS, ids=[s for s, _ in PREPARE_ERRORS])
def test_prepare_errors(sql: str, message: str) -> None:
    with pytest.raises(ParseFailedException) as caught:
        parse_statements(sql)
    assert message in caught.value.unlogged_message
