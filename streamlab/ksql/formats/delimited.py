"""The DELIMITED format: one CSV record per key or value (commons-csv ``CSVFormat.DEFAULT``).

Fields are written with commons-csv's minimal quoting as ksqlDB's version does it: a field is
quoted when it contains the delimiter, a quote or a line break, starts with a character up to
``#`` or ends with whitespace; the *first* field of a record is also quoted when it starts with
anything but an ASCII letter or digit (``"-10",5``), and an empty first field is ``""``.
An empty field reads as NULL. The delimiter is ``,`` unless ``VALUE_DELIMITER`` (or
``KEY_DELIMITER``) says otherwise: one character, ``TAB`` or ``SPACE``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.formats.base import (
    Deserializer,
    Format,
    FormatInfo,
    SerdeFeature,
    Serializer,
    register_format,
)
from streamlab.ksql.jvm import big_decimal_to_plain_string, double_to_string
from streamlab.ksql.parser.properties import parse_delimiter
from streamlab.ksql.schema import Column
from streamlab.ksql.types import SqlBaseType, SqlDecimal, SqlType

B = SqlBaseType


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return double_to_string(value)
    if isinstance(value, Decimal):
        return big_decimal_to_plain_string(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def _needs_quotes(text: str, delimiter: str, first: bool) -> bool:
    if not text:
        return first
    head = text[0]
    if first and not ("0" <= head <= "9" or "A" <= head <= "Z" or "a" <= head <= "z"):
        return True  # the first field of a record: anything but [0-9A-Za-z] is quoted
    if head <= "#":
        return True
    for ch in text:
        if ch in ("\n", "\r", '"', delimiter):
            return True
    return text[-1] <= " "


def format_record(values: Sequence[Any], delimiter: str = ",") -> str:
    """One CSV record as ksqlDB writes it (no trailing line break)."""
    parts = []
    for i, value in enumerate(values):
        if value is None:
            parts.append("")
            continue
        text = _field_text(value)
        if _needs_quotes(text, delimiter, i == 0):
            text = '"' + text.replace('"', '""') + '"'
        parts.append(text)
    return delimiter.join(parts)


def parse_record(text: str, delimiter: str = ",") -> list[str | None]:
    """The first CSV record of ``text``; quoted fields may hold delimiters and line breaks."""
    fields: list[str | None] = []
    i, n = 0, len(text)
    while text[i : i + 2] == "\r\n" or text[i : i + 1] == "\n":  # empty lines are skipped
        i += 2 if text[i] == "\r" else 1
    if i >= n:
        return []
    while True:
        if i < n and text[i] == '"':
            i += 1
            chunk = []
            while True:
                if i >= n:
                    raise ValueError("EOF reached before encapsulated token finished")
                ch = text[i]
                if ch == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        chunk.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                chunk.append(ch)
                i += 1
            while i < n and text[i] not in (delimiter, "\n", "\r"):
                if not text[i].isspace():
                    raise ValueError("invalid char between encapsulated token and delimiter")
                i += 1
            fields.append("".join(chunk))
        else:
            start = i
            while i < n and text[i] not in (delimiter, "\n", "\r"):
                i += 1
            fields.append(text[start:i])
        if i < n and text[i] == delimiter:
            i += 1
            if i >= n:
                fields.append("")
                break
            continue
        break
    return fields


def _parser(sql_type: SqlType) -> Callable[[str], Any]:
    base = sql_type.base
    if base is B.BOOLEAN:
        return lambda v: v.lower() == "true"
    if base is B.INTEGER:
        return lambda v: _java_int(v, 32)
    if base in (B.BIGINT, B.TIMESTAMP, B.TIME):
        return lambda v: _java_int(v, 64)
    if base is B.DATE:
        return lambda v: _java_int(v, 32)
    if base is B.DOUBLE:
        from streamlab.ksql.expressions.cast import parse_java_double

        return lambda v: _double(v, parse_java_double)
    if base is B.STRING:
        return lambda v: v
    if base is B.BYTES:
        return lambda v: base64.b64decode(v, validate=True)
    if isinstance(sql_type, SqlDecimal):
        from streamlab.ksql.formats.json import _ensure_fit

        return lambda v: _ensure_fit(Decimal(v), sql_type)
    raise KsqlException(f"The 'DELIMITED' format does not support type '{base.value}'")


def _java_int(text: str, bits: int) -> int:
    from streamlab.ksql.expressions.cast import parse_java_int

    return parse_java_int(text, bits)


def _double(text: str, parse: Callable[[str], float]) -> float:
    if text.strip() != text:
        raise ValueError(f'For input string: "{text}"')
    try:
        return float(text)
    except ValueError:
        return parse(text)


class DelimitedFormat(Format):
    name = "DELIMITED"
    supported_features = frozenset({SerdeFeature.UNWRAP_SINGLES})

    def supports_key_type(self, sql_type: SqlType) -> bool:
        return sql_type.is_primitive() or isinstance(sql_type, SqlDecimal)

    def check_columns(self, columns: Sequence[Column]) -> None:
        for column in columns:
            if not (column.type.is_primitive() or isinstance(column.type, SqlDecimal)):
                raise KsqlException(
                    f"The 'DELIMITED' format does not support type '{column.type.base.value}', "
                    f"column: `{column.name}`"
                )

    def serializer(self, columns, features, info: FormatInfo, is_key: bool) -> Serializer:
        delimiter = parse_delimiter(info.property("delimiter"))
        if not columns:
            return lambda values: None

        def write(values: Sequence[Any] | None) -> bytes | None:
            if values is None:
                return None
            return format_record(values, delimiter).encode("utf-8")

        return write

    def deserializer(self, columns, features, info: FormatInfo, is_key: bool) -> Deserializer:
        delimiter = parse_delimiter(info.property("delimiter"))
        if not columns:
            return lambda data: None if data is None else []
        parsers = [_parser(c.type) for c in columns]

        def read(data: bytes | None) -> list[Any] | None:
            if data is None:
                return None
            try:
                fields = parse_record(data.decode("utf-8"), delimiter)
            except ValueError as error:
                raise ValueError(f"Error deserializing delimited: {error}") from None
            if not fields:
                raise ValueError("Error deserializing delimited: No fields in record")
            if len(fields) != len(parsers):
                relation = "fewer" if len(fields) < len(parsers) else "more"
                raise ValueError(
                    f"Column count mismatch on deserialization. topic: ?, expected: "
                    f"{len(parsers)}, got: {len(fields)} ({relation} columns than expected)"
                )
            values = []
            for text, parse in zip(fields, parsers, strict=True):
                if text is None or text == "":
                    values.append(None)
                else:
                    try:
                        values.append(parse(text))
                    except (ValueError, InvalidOperation, KsqlException) as error:
                        raise ValueError(f"Error deserializing delimited: {error}") from None
            return values

        return read


DELIMITED = register_format(DelimitedFormat())
