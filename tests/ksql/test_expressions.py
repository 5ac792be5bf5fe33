"""Expressions: typing, evaluation with ksqlDB's NULL, overflow and coercion rules.

Table-driven.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.parser import parse_expression
from streamlab.ksql.types import SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlTypes

COLUMNS = [
    ("I", SqlTypes.INTEGER),
    ("L", SqlTypes.BIGINT),
    ("D", SqlTypes.DOUBLE),
    ("S", SqlTypes.STRING),
    ("B", SqlTypes.BOOLEAN),
    ("DEC", SqlDecimal(4, 2)),
    ("A", SqlArray(SqlTypes.INTEGER)),
    ("M", SqlMap(SqlTypes.STRING, SqlTypes.INTEGER)),
    ("ST", SqlStruct((("F", SqlTypes.STRING),))),
    ("TS", SqlTypes.BIGINT),
]
ROW = [7, 10_000_000_000, 1.5, "hello", True, Decimal("10.10"), [1, 2, 3], {"a": 1}, {"F": "x"}, 0]
NULLS = [None] * len(COLUMNS)
COMPILER = ExpressionCompiler(COLUMNS)

# (expression, row, expected value, expected SQL type)
CASES = [
    # arithmetic: Java int/long rules
    ("I * 2 + 1", ROW, 15, "INTEGER"),
    ("2147483647 + I", ROW, -2147483642, "INTEGER"),
    ("I + L", ROW, 10_000_000_007, "BIGINT"),
    ("-7 / 2", ROW, -3, "INTEGER"),
    ("-7 % 2", ROW, -1, "INTEGER"),
    ("I / 0", ROW, None, "INTEGER"),
    ("D / 0", ROW, float("inf"), "DOUBLE"),
    ("I + D", ROW, 8.5, "DOUBLE"),
    ("1.5 + 1", ROW, Decimal("2.5"), "DECIMAL(12, 1)"),
    ("DEC * 2", ROW, Decimal("20.20"), "DECIMAL(15, 2)"),
    ("DEC / DEC", ROW, Decimal("1.0000000"), "DECIMAL(11, 7)"),
    ("S + '!'", ROW, "hello!", "STRING"),
    ("'a' + S", NULLS, "anull", "STRING"),
    ("I + 1", NULLS, None, "INTEGER"),
    ("-I", ROW, -7, "INTEGER"),
    # comparisons: NULL compares false
    ("I > 5", ROW, True, "BOOLEAN"),
    ("I = L", NULLS, False, "BOOLEAN"),
    ("I <> I", NULLS, False, "BOOLEAN"),
    ("D > 0.1", ROW, True, "BOOLEAN"),
    ("S < 'world'", ROW, True, "BOOLEAN"),
    ("I IS DISTINCT FROM L", NULLS, False, "BOOLEAN"),
    ("I IS DISTINCT FROM 1", NULLS, True, "BOOLEAN"),
    ("I IS NOT DISTINCT FROM L", NULLS, True, "BOOLEAN"),
    ("I BETWEEN 5 AND 10", ROW, True, "BOOLEAN"),
    ("I NOT BETWEEN 5 AND 10", ROW, False, "BOOLEAN"),
    ("I BETWEEN 5 AND 10", NULLS, False, "BOOLEAN"),
    ("I IS NULL", NULLS, True, "BOOLEAN"),
    ("S IS NOT NULL", ROW, True, "BOOLEAN"),
    # logic: a NULL operand fails like Java unboxing, unless short-circuited
    ("B AND I > 1", ROW, True, "BOOLEAN"),
    ("B AND I > 1", NULLS, None, "BOOLEAN"),
    ("I > 100 AND B", NULLS, False, "BOOLEAN"),
    ("NOT B", NULLS, None, "BOOLEAN"),
    ("B OR I > 1", ROW, True, "BOOLEAN"),
    # IN with literal coercion
    ("I IN (1, '7', 9)", ROW, True, "BOOLEAN"),
    ("I IN (1, NULL)", NULLS, False, "BOOLEAN"),
    ("S IN (true, 10, 'hello')", ROW, True, "BOOLEAN"),
    ("B IN ('tr', false)", ROW, True, "BOOLEAN"),
    # LIKE
    ("S LIKE 'h%'", ROW, True, "BOOLEAN"),
    ("S LIKE '_ello'", ROW, True, "BOOLEAN"),
    ("'%' LIKE '!%' ESCAPE '!'", ROW, True, "BOOLEAN"),
    ("S NOT LIKE 'x%'", ROW, True, "BOOLEAN"),
    # CASE
    ("CASE WHEN D < 2.0 THEN 'small' ELSE 'large' END", ROW, "small", "STRING"),
    ("CASE WHEN D > 2.0 THEN 'big' ELSE 'default' END", NULLS, "default", "STRING"),
    ("CASE I WHEN 7 THEN 'seven' END", ROW, "seven", "STRING"),
    ("CASE WHEN I > 100 THEN 1 END", ROW, None, "INTEGER"),
    # CAST
    ("CAST(D AS STRING)", ROW, "1.5", "STRING"),
    ("CAST(1e10 AS STRING)", ROW, "1.0E10", "STRING"),
    ("CAST(S AS INT)", ROW, None, "INTEGER"),
    ("CAST('12' AS INT)", ROW, 12, "INTEGER"),
    ("CAST(D AS INT)", ROW, 1, "INTEGER"),
    ("CAST(I AS DECIMAL(5, 2))", ROW, Decimal("7.00"), "DECIMAL(5, 2)"),
    ("CAST('yes' AS BOOLEAN)", ROW, True, "BOOLEAN"),
    ("CAST(DEC AS STRING)", ROW, "10.10", "STRING"),
    ("CAST(NULL AS STRING)", ROW, None, "STRING"),
    # structures
    ("A[1]", ROW, 1, "INTEGER"),
    ("A[-1]", ROW, 3, "INTEGER"),
    ("A[10]", ROW, None, "INTEGER"),
    ("M['a']", ROW, 1, "INTEGER"),
    ("ST->F", ROW, "x", "STRING"),
    ("ST->F", NULLS, None, "STRING"),
    ("ARRAY[1, 2]", ROW, [1, 2], "ARRAY<INTEGER>"),
    ("MAP('k' := I)", ROW, {"k": 7}, "MAP<STRING, INTEGER>"),
    ("STRUCT(X := I, Y := 'y')", ROW, {"X": 7, "Y": "y"}, "STRUCT<`X` INTEGER, `Y` STRING>"),
    # functions
    ("UCASE(S)", ROW, "HELLO", "STRING"),
    ("SUBSTRING(S, 2, 3)", ROW, "ell", "STRING"),
    ("CONCAT('a', S, 'b')", NULLS, "ab", "STRING"),
    ("COALESCE(S, 'z')", NULLS, "z", "STRING"),
    ("IFNULL(I, 0)", NULLS, 0, "INTEGER"),
    ("ABS(-I)", ROW, 7, "INTEGER"),
    ("ROUND(D)", ROW, 2, "BIGINT"),
    ("ROUND(-1.5E0)", ROW, -1, "BIGINT"),
    ("ROUND(D, 0)", ROW, 2.0, "DOUBLE"),
    # lambdas see columns and the variables of enclosing lambdas
    ("TRANSFORM(A, x => x + I)", ROW, [8, 9, 10], "ARRAY<INTEGER>"),
    ("TRANSFORM(A, x => TRANSFORM(A, y => x * y))[2]", ROW, [2, 4, 6], "ARRAY<INTEGER>"),
    # constructors coerce struct elements to the union of their fields
    (
        "ARRAY[STRUCT(X := 1), STRUCT(Y := 'a')]",
        ROW,
        [{"X": 1, "Y": None}, {"X": None, "Y": "a"}],
        "ARRAY<STRUCT<`Y` STRING, `X` INTEGER>>",  # source fields first, as ksqlDB
    ),
    ("CAST('09:16' AS TIME)", ROW, 33_360_000, "TIME"),
]


@pytest.mark.parametrize(
    ("text", "row", "value", "sql_type"),
    CASES,
    ids=[c[0] + (" [nulls]" if c[1] is NULLS else "") for c in CASES],
)
def test_evaluate(text: str, row: list, value: object, sql_type: str) -> None:
    compiled = COMPILER.compile(parse_expression(text))
    assert str(compiled.sql_type) == sql_type
    result = compiled.evaluate(row)
    assert result == value
    assert type(result) is type(value)


def test_failures_are_reported_and_null() -> None:
    errors = []
    compiled = COMPILER.compile(parse_expression("I / 0"))
    assert compiled.evaluate(ROW, lambda expr, error, row: errors.append(error)) is None
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)


TYPE_ERRORS = [
    ("I >= 'x'", "Cannot compare I (INTEGER) to 'x' (STRING) with GREATER_THAN_OR_EQUAL."),
    ("NULL <> NULL", "Comparison with NULL not supported: NULL <> NULL"),
    ("B > true", "Cannot compare B (BOOLEAN) to true (BOOLEAN) with GREATER_THAN."),
    ("UNKNOWN + 1", "Unknown column UNKNOWN."),
    ("S * 2", "Error processing expression: (S * 2). Unsupported arithmetic types. STRING"),
    ("CASE WHEN I > 1 THEN null ELSE null END", "All case branches have NULL type"),
    ("CASE WHEN I > 1 THEN 1 ELSE 'x' END", "Type for the default clause should be the same"),
    ("I IN (1, true)", "operator does not exist: INTEGER = BOOLEAN (true)"),
    ("I IN (1, 'x')", 'invalid input syntax for type INTEGER: "x".'),
    ("GEO_DISTANCE(D, D, 'x', 0)", "Function 'geo_distance' does not accept parameters"),
    ("NO_SUCH_FN(1)", "Can't find any functions with the name 'NO_SUCH_FN'"),
    ("CAST(A AS INT)", "Cast of ARRAY<INTEGER> to INTEGER is not supported"),
]


@pytest.mark.parametrize(("text", "message"), TYPE_ERRORS, ids=[t for t, _ in TYPE_ERRORS])
def test_type_errors(text: str, message: str) -> None:
    with pytest.raises(KsqlException) as caught:
        COMPILER.compile(parse_expression(text), "Predicate")
    assert message in caught.value.unlogged_message
