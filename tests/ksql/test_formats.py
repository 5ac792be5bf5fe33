"""Formats: exact bytes, round trips, lenient reads and ksqlDB's error wording (table-driven)."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest

from streamlab.ksql.errors import KsqlException, SerializationError
from streamlab.ksql.formats import FormatInfo, SerdeFeature, get_format, serde
from streamlab.ksql.formats.delimited import format_record, parse_record
from streamlab.ksql.jvm import double_to_string, hash_map_order
from streamlab.ksql.schema import Column, Namespace
from streamlab.ksql.types import SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlTypes

UNWRAP = frozenset({SerdeFeature.UNWRAP_SINGLES})
NONE: frozenset[SerdeFeature] = frozenset()


def cols(*specs):
    return [Column(name, sql_type) for name, sql_type in specs]


def make(fmt: str, columns, features=NONE, is_key=False, delimiter=None):
    info = FormatInfo(fmt, (("delimiter", delimiter),) if delimiter else ())
    return serde(get_format(fmt), info, columns, features, is_key)


# (format, columns, features, values, bytes)
ROUND_TRIPS = [
    (
        "JSON",
        cols(("A", SqlTypes.INTEGER), ("B", SqlTypes.STRING)),
        NONE,
        [1, "x"],
        b'{"A":1,"B":"x"}',
    ),
    ("JSON", cols(("V", SqlTypes.DOUBLE)), NONE, [1e10], b'{"V":1.0E10}'),
    ("JSON", cols(("V", SqlTypes.DOUBLE)), UNWRAP, [0.5], b"0.5"),
    ("JSON", cols(("K", SqlTypes.STRING)), UNWRAP, ["foo"], b'"foo"'),
    ("JSON", cols(("D", SqlDecimal(4, 2))), NONE, [Decimal("1.50")], b'{"D":1.50}'),
    ("JSON", cols(("A", SqlArray(SqlTypes.STRING))), NONE, [["x", None]], b'{"A":["x",null]}'),
    (
        "JSON",
        cols(("M", SqlMap(SqlTypes.STRING, SqlTypes.BIGINT))),
        NONE,
        [{"k": 1}],
        b'{"M":{"k":1}}',
    ),
    (
        "JSON",
        cols(("S", SqlStruct((("F", SqlTypes.BOOLEAN),)))),
        NONE,
        [{"F": True}],
        b'{"S":{"F":true}}',
    ),
    ("JSON", cols(("U", SqlTypes.STRING)), NONE, ["é\n"], '{"U":"é\\n"}'.encode()),
    ("KAFKA", cols(("V", SqlTypes.INTEGER)), NONE, [8], struct.pack(">i", 8)),
    ("KAFKA", cols(("V", SqlTypes.BIGINT)), NONE, [8], struct.pack(">q", 8)),
    ("KAFKA", cols(("V", SqlTypes.DOUBLE)), NONE, [2.5], struct.pack(">d", 2.5)),
    ("KAFKA", cols(("V", SqlTypes.STRING)), NONE, ["ü"], "ü".encode()),
    (
        "DELIMITED",
        cols(("A", SqlTypes.BIGINT), ("B", SqlTypes.STRING), ("C", SqlTypes.DOUBLE)),
        NONE,
        [1, "zero", 0.5],
        b"1,zero,0.5",
    ),
    (
        "DELIMITED",
        cols(("A", SqlTypes.STRING), ("B", SqlTypes.STRING)),
        NONE,
        ["a,b", 'q"'],
        b'"a,b","q"""',
    ),
    ("DELIMITED", cols(("A", SqlTypes.STRING), ("B", SqlTypes.INTEGER)), NONE, [None, 1], b",1"),
    (
        "DELIMITED",
        cols(("A", SqlTypes.INTEGER), ("B", SqlTypes.INTEGER)),
        NONE,
        [-10, -10],
        b'"-10",-10',
    ),
    ("DELIMITED", cols(("D", SqlDecimal(5, 2))), NONE, [Decimal("1.20")], b"1.20"),
]


@pytest.mark.parametrize(
    ("fmt", "columns", "features", "values", "data"),
    ROUND_TRIPS,
    ids=[f"{r[0]}:{r[3]}" for r in ROUND_TRIPS],
)
def test_round_trip(fmt, columns, features, values, data) -> None:
    row_serde = make(fmt, columns, features)
    assert row_serde.serialize(values) == data
    assert row_serde.deserialize(data, "t") == values


def test_null_values_and_keyless() -> None:
    assert make("JSON", cols(("A", SqlTypes.INTEGER))).serialize(None) is None
    assert make("JSON", cols(("A", SqlTypes.INTEGER))).deserialize(None, "t") is None
    keyless = make("KAFKA", [], is_key=True)
    assert keyless.serialize([]) is None
    assert keyless.deserialize(b"anything", "t") == []


# (format, columns, features, bytes, values): what ksqlDB accepts on input
LENIENT_READS = [
    ("JSON", cols(("NAME", SqlTypes.STRING)), NONE, b'{"name": "bob"}', ["bob"]),
    ("JSON", cols(("A", SqlTypes.INTEGER)), NONE, b'{"A": "42"}', [42]),
    ("JSON", cols(("A", SqlTypes.INTEGER)), NONE, b'{"A": 1.9}', [1]),
    ("JSON", cols(("S", SqlTypes.STRING)), NONE, b'{"S": 10}', ["10"]),
    ("JSON", cols(("S", SqlTypes.STRING)), NONE, b'{"S": {"x": 1}}', ['{"x":1}']),
    ("JSON", cols(("S", SqlTypes.STRING)), NONE, b'{"S": ["a", 1]}', ["[a, 1]"]),
    ("JSON", cols(("A", SqlTypes.INTEGER), ("B", SqlTypes.INTEGER)), NONE, b"{}", [None, None]),
    ("DELIMITED", cols(("A", SqlTypes.BOOLEAN)), NONE, b'"true"', [True]),
    (
        "DELIMITED",
        cols(("A", SqlTypes.STRING), ("B", SqlTypes.STRING)),
        NONE,
        b"foo,bar\r\n",
        ["foo", "bar"],
    ),
    ("DELIMITED", cols(("A", SqlTypes.STRING), ("B", SqlTypes.INTEGER)), NONE, b"x|1", ["x", 1]),
]


@pytest.mark.parametrize(
    ("fmt", "columns", "features", "data", "values"),
    LENIENT_READS,
    ids=[f"{r[0]}:{r[3]!r}" for r in LENIENT_READS],
)
def test_lenient_reads(fmt, columns, features, data, values) -> None:
    delimiter = "|" if b"|" in data else None
    assert make(fmt, columns, features, delimiter=delimiter).deserialize(data, "t") == values


BAD_READS = [
    (
        "JSON",
        cols(("A", SqlTypes.INTEGER)),
        b"not json",
        "Failed to deserialize value from topic: t",
    ),
    (
        "JSON",
        cols(("A", SqlTypes.INTEGER)),
        b'{"A": "x"}',
        "Can't coerce string to type. targetType: INTEGER",
    ),
    (
        "JSON",
        cols(("B", SqlTypes.BOOLEAN)),
        b'{"B": "true"}',
        "Can't convert type. sourceType: TextNode, requiredType: BOOLEAN",
    ),
    ("KAFKA", cols(("V", SqlTypes.INTEGER)), b"\x00\x01", "Size of data received by"),
    (
        "DELIMITED",
        cols(("A", SqlTypes.INTEGER), ("B", SqlTypes.INTEGER)),
        b"1",
        "Column count mismatch",
    ),
    ("DELIMITED", cols(("A", SqlTypes.INTEGER)), b"x", "Error deserializing delimited"),
]


@pytest.mark.parametrize(
    ("fmt", "columns", "data", "message"), BAD_READS, ids=[f"{r[0]}:{r[2]!r}" for r in BAD_READS]
)
def test_bad_reads(fmt, columns, data, message) -> None:
    with pytest.raises(SerializationError) as caught:
        make(fmt, columns).deserialize(data, "t")
    assert message in str(caught.value)


SCHEMA_ERRORS = [
    (
        "KAFKA",
        cols(("V0", SqlTypes.INTEGER), ("V1", SqlTypes.STRING)),
        False,
        "The 'KAFKA' format only supports a single field. Got: [`V0` INTEGER, `V1` STRING]",
    ),
    (
        "KAFKA",
        [Column("K", SqlTypes.BOOLEAN, Namespace.KEY)],
        True,
        "Key format does not support schema.\nformat: KAFKA\nschema: Persistence{columns=[`K` "
        "BOOLEAN KEY], features=[]}\nreason: The 'KAFKA' format does not support type 'BOOLEAN'",
    ),
    (
        "JSON",
        cols(("M", SqlMap(SqlTypes.INTEGER, SqlTypes.STRING))),
        False,
        "JSON only supports MAP types with STRING keys",
    ),
    (
        "DELIMITED",
        cols(("A", SqlArray(SqlTypes.INTEGER))),
        False,
        "The 'DELIMITED' format does not support type 'ARRAY'",
    ),
]


@pytest.mark.parametrize(
    ("fmt", "columns", "is_key", "message"), SCHEMA_ERRORS, ids=[r[3][:40] for r in SCHEMA_ERRORS]
)
def test_schema_validation(fmt, columns, is_key, message) -> None:
    with pytest.raises(KsqlException) as caught:
        get_format(fmt).validate(columns, NONE, is_key)
    assert message in caught.value.message


def test_unknown_and_unsupported_formats() -> None:
    with pytest.raises(KsqlException, match="Unknown format: FOO"):
        get_format("FOO")
    with pytest.raises(KsqlException, match="not supported yet"):
        get_format("AVRO").validate(cols(("A", SqlTypes.INTEGER)), NONE, False)


DOUBLES = [
    (1.0, "1.0"),
    (0.001, "0.001"),
    (1e-4, "1.0E-4"),
    (1e7, "1.0E7"),
    (9999999.0, "9999999.0"),
    (1e10, "1.0E10"),
    (123456789.0, "1.23456789E8"),
    (5e-324, "4.9E-324"),
    (1.7976931348623157e308, "1.7976931348623157E308"),
    (-0.0, "-0.0"),
    (0.1 + 0.2, "0.30000000000000004"),
]


@pytest.mark.parametrize(("value", "text"), DOUBLES, ids=[t for _, t in DOUBLES])
def test_java_double_text(value: float, text: str) -> None:
    assert double_to_string(value) == text


CSV = [
    ([" \t x \t", "y"], '" \t x \t",y'),
    (["", ""], '"",'),
    (["a", "#b"], 'a,"#b"'),
    (["a", '"b'], 'a,"""b"'),
    (["_x", "y"], '"_x",y'),
]


@pytest.mark.parametrize(("values", "text"), CSV, ids=[t for _, t in CSV])
def test_csv_quoting(values, text) -> None:
    assert format_record(values) == text
    assert parse_record(text) == values


HASH_MAP_ORDERS = [
    # (keys in insertion order, initial capacity, java.util.HashMap iteration order)
    (["yes, thanks", "nope", "sure, yeah"], 3, ["yes, thanks", "sure, yeah", "nope"]),
    (["yes, thanks", "nope", "sure, yeah"], 16, ["yes, thanks", "nope", "sure, yeah"]),
    (
        [str(i) for i in range(12)],
        3,
        ["0", "11", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
    ),
]


@pytest.mark.parametrize(("keys", "capacity", "order"), HASH_MAP_ORDERS)
def test_hash_map_order(keys, capacity, order) -> None:
    assert hash_map_order(keys, capacity) == order


def test_json_maps_iterate_like_ksqldb() -> None:
    """ksqlDB reads JSON maps into ``new HashMap<>(size)``; REDUCE and re-serialization see
    that order, so the bytes written back match ksqlDB's."""
    columns = cols(("M", SqlMap(SqlTypes.STRING, SqlTypes.INTEGER)))
    json_serde = make("JSON", columns)
    [value] = json_serde.deserialize(b'{"M": {"yes, thanks": 1, "nope": 2, "sure, yeah": 3}}', "t")
    assert list(value) == ["yes, thanks", "sure, yeah", "nope"]
    assert json_serde.serialize([value]) == b'{"M":{"yes, thanks":1,"sure, yeah":3,"nope":2}}'
