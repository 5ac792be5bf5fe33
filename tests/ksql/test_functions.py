"""Built-in functions: one row per call, with ksqlDB's expected result (table-driven)."""

from __future__ import annotations

import math

import pytest

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.functions import FUNCTIONS
from streamlab.ksql.parser import parse_expression
from streamlab.ksql.types import SqlArray, SqlMap, SqlTypes

CALLS = [
    # table functions (the list of produced elements)
    ("EXPLODE(ARRAY[1, 2])", [1, 2]),
    ("EXPLODE(CAST(NULL AS ARRAY<INT>))", []),
    ("CUBE_EXPLODE(ARRAY[1, 2])", [[None, None], [None, 2], [1, None], [1, 2]]),
    ("CUBE_EXPLODE(ARRAY[1, NULL])", [[None, None], [1, None]]),
    # string
    ("UCASE('abc')", "ABC"),
    ("LCASE('ABC')", "abc"),
    ("CONCAT('a', 'b', 'c')", "abc"),
    ("CONCAT_WS('-', 'a', NULL, 'c')", "a-c"),
    ("SUBSTRING('some_string', 6)", "string"),
    ("SUBSTRING('short', 6)", ""),
    ("SUBSTRING('lower', 2, 5)", "ower"),
    ("SUBSTRING('hello', -3)", "llo"),
    ("LEN('four')", 4),
    ("TRIM(' \t x \t')", "x"),
    ("LTRIM('  x ')", "x "),
    ("RTRIM('  x ')", "  x"),
    ("REPLACE('anaconda', 'a', 'o')", "onocondo"),
    ("REPLACE('anaconda', NULL, 'o')", None),
    ("SPLIT('a,b,,c', ',')", ["a", "b", "", "c"]),
    ("SPLIT('abc', '')", ["a", "b", "c"]),
    ("LPAD('hi', 5, 'ab')", "abahi"),
    ("RPAD('hi', 5, 'ab')", "hiaba"),
    ("LPAD('hello', 2, 'x')", "he"),
    ("INSTR('CORPORATE FLOOR', 'OR')", 2),
    ("INSTR('CORPORATE FLOOR', 'OR', 3)", 5),
    ("INSTR('CORPORATE FLOOR', 'OR', 3, 2)", 14),
    ("INSTR('CORPORATE FLOOR', 'OR', -3, 2)", 2),
    ("INSTR('CORPORATE FLOOR', 'MISSING')", 0),
    ("INITCAP('the quick BROWN fox')", "The Quick Brown Fox"),
    ("MASK('AbCd#$123xy Z')", "XxXx--nnnxx-X"),
    ("MASK_KEEP_LEFT('AbCd#$123xy Z', 5)", "AbCd#-nnnxx-X"),
    ("MASK_RIGHT('AbCd#$123xy Z', 3, '*', '*', '*', '*')", "AbCd#$123x***"),
    ("REGEXP_EXTRACT('(\\d+)', 'abc123def')", "123"),
    ("REGEXP_REPLACE('aaa', 'a', 'b')", "bbb"),
    ("CHR(75)", "K"),
    ("ELT(2, 'a', 'b')", "b"),
    ("FIELD('b', 'a', 'b')", 2),
    # math
    ("ABS(-5)", 5),
    ("ABS(-2147483648)", -2147483648),
    ("ROUND(1.5E0)", 2),
    ("ROUND(-1.5E0)", -1),
    ("ROUND(12345.678E0, -1)", 12350.0),
    ("ROUND(-12345.678E0, 2)", -12345.68),
    ("ROUND(1.55, 1)", __import__("decimal").Decimal("1.60")),
    ("FLOOR(-1.5E0)", -2.0),
    ("CEIL(1.2E0)", 2.0),
    ("SQRT(16)", 4.0),
    ("POWER(2, 10)", 1024.0),
    ("SIGN(-3)", -1),
    ("EXP(0)", 1.0),
    ("LN(1)", 0.0),
    ("LOG(10, 100)", 2.0),
    ("GREATEST(1, 5, 3)", 5),
    ("LEAST('b', 'a', NULL)", "a"),
    ("TRUNC(1.99E0)", 1),
    # geo
    ("GEO_DISTANCE(37.4439, -122.1663, 51.5257, -0.1122)", 8634.659796579544),
    ("GEO_DISTANCE(37.4439, -122.1663, 51.5257, -0.1122, 'mi')", 5365.659729188264),
    # nulls
    ("IFNULL(NULL, 'x')", "x"),
    ("COALESCE(NULL, NULL, 3)", 3),
    ("NULLIF(1, 1)", None),
    ("NULLIF(1, 2)", 1),
    ("AS_VALUE(7)", 7),
    # date / time
    ("TIMESTAMPTOSTRING(1514764800001, 'yyyy-MM-dd''T''HH:mm:ss.SSS')", "2018-01-01T00:00:00.001"),
    ("TIMESTAMPTOSTRING(0, 'yyyy-MM-dd HH:mm', 'America/New_York')", "1969-12-31 19:00"),
    ("STRINGTOTIMESTAMP('2018-05-11T21:58:33Z', 'yyyy-MM-dd''T''HH:mm:ssX')", 1526075913000),
    ("STRINGTOTIMESTAMP('2018-05-11 21:58:33', 'yyyy-MM-dd HH:mm:ss', 'UTC')", 1526075913000),
    ("DATETOSTRING(17000, 'yyyy-MM-dd')", "2016-07-18"),
    ("STRINGTODATE('2016-07-18', 'yyyy-MM-dd')", 17000),
    ("UNIX_TIMESTAMP(FROM_UNIXTIME(1000))", 1000),
    ("FORMAT_TIMESTAMP(FROM_UNIXTIME(0), 'yyyy')", "1970"),
    ("PARSE_DATE('2003-12-24-01-01', 'yyyy-MM-dd')", 12410),
    # collections
    ("ARRAY_LENGTH(ARRAY[1, 2, 3])", 3),
    ("ARRAY_CONTAINS(ARRAY['a', 'b'], 'b')", True),
    ("ARRAY_MAX(ARRAY[1, 5, 2])", 5),
    ("ARRAY_DISTINCT(ARRAY[1, 1, 2])", [1, 2]),
    ("ARRAY_JOIN(ARRAY[1, 2], '|')", "1|2"),
    ("MAP_KEYS(MAP('a' := 1, 'b' := 2))", ["a", "b"]),
    # json
    ("EXTRACTJSONFIELD('{\"a\": {\"b\": [1, 2.50]}}', '$.a.b[1]')", "2.50"),
    ("EXTRACTJSONFIELD('{\"name\": \"x\"}}', '$.name')", "x"),
    ("EXTRACTJSONFIELD('{\"a\": 1}', '$.missing')", None),
    ("JSON_ARRAY_LENGTH('[1, 2]')", 2),
    ("JSON_ARRAY_CONTAINS('[\"Pink\", null]', 'Pink')", True),
    ("IS_JSON_STRING('{}')", True),
    ("TO_JSON_STRING(STRUCT(B := 1, A := 'x'))", '{"A":"x","B":1}'),
    ("TO_JSON_STRING(CAST(NULL AS INT))", "null"),
    ("TO_JSON_STRING(PARSE_TIME('16:43:00', 'HH:mm:ss'))", '"16:43"'),
    ("JSON_CONCAT('{\"a\": 1}', '{\"b\": 2}')", '{"a":1,"b":2}'),
    ("JSON_CONCAT('[1]', '2')", "[1,2]"),
    ("JSON_ITEMS('[{\"a\": 1}, 2]')", ['{"a":1}', "2"]),
    ('JSON_RECORDS(\'{"a": "x", "b": [1]}\')', {"a": "x", "b": "[1]"}),
    # lambdas
    ("TRANSFORM(ARRAY[1, 2], x => x * 10)", [10, 20]),
    ("TRANSFORM(MAP('a' := 1), (k, v) => UCASE(k), (k, v) => v + 1)", {"A": 2}),
    ("FILTER(ARRAY[1, 6, 10], (x) => x > 5)", [6, 10]),
    ("REDUCE(ARRAY[1, 2, 3], 0, (s, x) => s + x)", 6),
    ("REDUCE(CAST(NULL AS ARRAY<INT>), 7, (s, x) => s + x)", 7),
    ("TRANSFORM(ARRAY[ARRAY[1]], a => TRANSFORM(a, b => b + 1))", [[2]]),
    # bytes
    ("FROM_BYTES(TO_BYTES('hi', 'utf8'), 'hex')", "6869"),
    ("FROM_BYTES(TO_BYTES('aGk=', 'base64'), 'ascii')", "hi"),
    ("INT_FROM_BYTES(TO_BYTES('00000102', 'hex'))", 258),
    ("INT_FROM_BYTES(TO_BYTES('02010000', 'hex'), 'LITTLE_ENDIAN')", 258),
    ("LEN(TO_BYTES('abc', 'utf8'))", 3),
    ("ENCODE('4b', 'hex', 'utf8')", "K"),
    ("MD5('a')", "0cc175b9c0f1b6a831c399e269772661"),
    # url
    ("URL_EXTRACT_HOST('http://Example.com:8080/a%20b?x=1#f')", "Example.com"),
    ("URL_EXTRACT_PORT('http://example.com:8080/')", 8080),
    ("URL_EXTRACT_PATH('http://example.com/a%20b')", "/a b"),
    ("URL_EXTRACT_PARAMETER('http://e.com/?a=1&b', 'b')", ""),
    ("URL_ENCODE_PARAM('a b&c~')", "a+b%26c%7E"),
    ("URL_DECODE_PARAM('a+b%26c')", "a b&c"),
    # date / time arithmetic with interval units
    ("TIMESTAMPADD(SECONDS, 5, FROM_UNIXTIME(1000))", 6000),
    ("DATEADD(DAYS, 2, FROM_DAYS(10))", 12),
    ("TIMESUB(HOURS, 1, PARSE_TIME('00:30', 'HH:mm'))", 84_600_000),
    # collections
    ("SLICE(ARRAY[1, 2, 3], 2, 3)", [2, 3]),
    ("SLICE(ARRAY[1, 2, 3], 0, 3)", None),
    ("GENERATE_SERIES(1, 7, 3)", [1, 4, 7]),
    ("ENTRIES(MAP('b' := 1, 'a' := 2), true)", [{"K": "a", "V": 2}, {"K": "b", "V": 1}]),
    ("MAP_UNION(MAP('a' := 1), MAP('a' := 2))", {"a": 2}),
    ("SPLIT_TO_MAP('a=1;b=2', ';', '=')", {"a": "1", "b": "2"}),
    ("REGEXP_SPLIT_TO_ARRAY('a1b22c', '[0-9]+')", ["a", "b", "c"]),
    ("REGEXP_EXTRACT_ALL('[0-9]+', 'a1b22')", ["1", "22"]),
    ("GREATEST(1, NULL, 3)", 3),
    ("LEAST('b', 'a')", "a"),
]


@pytest.mark.parametrize(("call", "expected"), CALLS, ids=[c for c, _ in CALLS])
def test_function(call: str, expected: object) -> None:
    compiled = ExpressionCompiler([]).compile(parse_expression(call))
    result = compiled.evaluate([], lambda expr, error, row: pytest.fail(f"{call}: {error}"))
    if isinstance(expected, float):
        assert math.isclose(result, expected, rel_tol=1e-12)
    else:
        assert result == expected


RESOLUTION = [
    ("ROUND", [SqlTypes.DOUBLE], "BIGINT"),
    ("ROUND", [SqlTypes.DOUBLE, SqlTypes.INTEGER], "DOUBLE"),
    ("ROUND", [SqlTypes.INTEGER], "INTEGER"),
    ("ABS", [SqlTypes.BIGINT], "BIGINT"),
    ("GEO_DISTANCE", [SqlTypes.DOUBLE, SqlTypes.DOUBLE, SqlTypes.INTEGER, None], "DOUBLE"),
    ("COALESCE", [None, SqlTypes.STRING], "STRING"),
    ("SUBSTRING", [SqlTypes.STRING, SqlTypes.INTEGER], "STRING"),
    ("SUBSTRING", [SqlTypes.BYTES, SqlTypes.INTEGER], "BYTES"),
    ("GREATEST", [SqlTypes.INTEGER, SqlTypes.DOUBLE], "DOUBLE"),  # only DOUBLE fits both
    ("GREATEST", [SqlTypes.DATE, SqlTypes.STRING], "DATE"),  # STRING casts to DATE
    ("EXPLODE", [SqlArray(SqlTypes.STRING)], "STRING"),
]

AMBIGUOUS = [
    ("GREATEST", [SqlTypes.INTEGER, SqlTypes.BIGINT], "(INTEGER, BIGINT)"),
    ("GREATEST", [None, None], "(null, null)"),
]


@pytest.mark.parametrize(("name", "args", "shown"), AMBIGUOUS, ids=[s for _, _, s in AMBIGUOUS])
def test_ambiguous_calls(name: str, args: list, shown: str) -> None:
    with pytest.raises(KsqlException) as caught:
        FUNCTIONS.resolve(name, args)
    assert caught.value.message.startswith(
        f"Function '{name.lower()}' cannot be resolved due to ambiguous method parameters {shown}."
    )


def test_no_matching_overload_lists_alternatives() -> None:
    with pytest.raises(KsqlException) as caught:
        FUNCTIONS.resolve("EXPLODE", [SqlMap(SqlTypes.STRING, SqlTypes.INTEGER)])
    assert caught.value.message.startswith(
        "Function 'explode' does not accept parameters (MAP<STRING, INTEGER>).\n"
        "Valid alternatives are:\nexplode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)"
    )


@pytest.mark.parametrize(
    ("name", "args", "returns"),
    RESOLUTION,
    ids=[f"{n}{tuple(str(a) for a in args)}" for n, args, _ in RESOLUTION],
)
def test_overload_resolution(name: str, args: list, returns: str) -> None:
    assert str(FUNCTIONS.resolve(name, args).return_type) == returns


def test_registry_knows_families() -> None:
    names = set(FUNCTIONS.names())
    for expected in (
        "UCASE",
        "GEO_DISTANCE",
        "TIMESTAMPTOSTRING",
        "IFNULL",
        "ARRAY_LENGTH",
        "EXTRACTJSONFIELD",
        "MASK_LEFT",
        "SQRT",
    ):
        assert expected in names
    assert FUNCTIONS.is_aggregate("COUNT")
