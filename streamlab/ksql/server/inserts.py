"""``POST /inserts-stream``: rows as JSON objects turned into ``INSERT INTO … VALUES``.

The body is newline-delimited JSON: ``{"target":"S"}`` then one object per row (column →
value). Each row becomes an INSERT VALUES statement run by the engine, so validation, coercion
and serialization are exactly those of INSERT VALUES; the response has one ack per row:
``{"status":"ok","seq":n}`` or ``{"status":"error","seq":n,"error_code":…,"message":…}``.
"""

from __future__ import annotations

import math
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.types import SqlArray, SqlMap, SqlStruct, SqlType, quote_identifier


def sql_literal(value: Any, sql_type: SqlType | None) -> str:
    """A JSON value as a ksqlDB literal of (roughly) the target type."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise KsqlException(f"Invalid number: {value}")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list):
        item = sql_type.item_type if isinstance(sql_type, SqlArray) else None
        return "ARRAY[" + ", ".join(sql_literal(v, item) for v in value) + "]"
    if isinstance(value, dict):
        if isinstance(sql_type, SqlStruct):
            types = {n.upper(): t for n, t in sql_type.fields}
            names = {n.upper(): n for n, _ in sql_type.fields}
            return (
                "STRUCT("
                + ", ".join(
                    f"{quote_identifier(names.get(k.upper(), k))} := "
                    f"{sql_literal(v, types.get(k.upper()))}"
                    for k, v in value.items()
                )
                + ")"
            )
        inner = sql_type.value_type if isinstance(sql_type, SqlMap) else None
        entries = [
            f"{sql_literal(str(k), None)} := {sql_literal(v, inner)}" for k, v in value.items()
        ]
        return "MAP(" + ", ".join(entries) + ")"
    raise KsqlException(f"Unsupported JSON value: {value!r}")


def insert_statement(target: str, columns: dict[str, SqlType], row: dict[str, Any]) -> str:
    """``INSERT INTO target (cols) VALUES (…)``; names match exactly, else upper-cased."""
    if not any(v is not None for v in row.values()):
        raise KsqlException("A row needs at least one non-null column")
    names, values = [], []
    for key, value in row.items():
        name = key if key in columns else key.upper()
        if name not in columns:
            raise KsqlException(f"Column name {key} does not exist.")
        if value is None:
            continue  # an omitted column is NULL (INSERT VALUES rejects a bare NULL)
        names.append(quote_identifier(name))
        values.append(sql_literal(value, columns[name]))
    return (
        f"INSERT INTO {quote_identifier(target)} ({', '.join(names)}) VALUES ({', '.join(values)});"
    )
