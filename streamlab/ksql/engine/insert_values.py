"""INSERT INTO ... VALUES: one record built from literal expressions (``InsertValuesExecutor``)."""

from __future__ import annotations

import time
from typing import Any

from streamlab.ksql.catalog import DataSource, MetaStore
from streamlab.ksql.errors import KsqlException
from streamlab.ksql.expressions import ExpressionCompiler
from streamlab.ksql.expressions.cast import caster
from streamlab.ksql.expressions.coercion import can_coerce, coerce_literal
from streamlab.ksql.formats import get_format, serde
from streamlab.ksql.functions import FUNCTIONS, FunctionRegistry
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.runtime.records import Record
from streamlab.ksql.schema import ROWTIME, Namespace
from streamlab.ksql.types import SqlType


def _source(statement: st.InsertValues, metastore: MetaStore) -> DataSource:
    source = metastore.get_source(statement.target)
    if source is None:
        hint = metastore.check_alternatives(statement.target)
        raise KsqlException(
            f"Cannot insert values into an unknown stream/table: `{statement.target}`{hint}"
        )
    if source.is_source:
        raise KsqlException(
            f"Cannot insert values into read-only {source.source_type.lower}: {source.name}"
        )
    return source


def _value(
    expression: ex.Expression, target: SqlType, column: str, functions: FunctionRegistry
) -> Any:
    compiler = ExpressionCompiler([], functions)
    if isinstance(expression, ex.Literal) and not isinstance(expression, ex.NullLiteral):
        source_type = compiler.type_of(expression)
        if source_type != target and can_coerce(source_type, target, lax=True) is not None:
            try:
                expression = coerce_literal(expression, target)
            except KsqlException as error:
                raise KsqlException(
                    f"Expected type {target} for field {column} but got "
                    f"{expression.value!r}({source_type})"
                ) from error
    compiled = compiler.compile(expression, "Insert")
    value = compiled.evaluate([])
    source_type = compiled.sql_type
    if value is None or source_type == target:
        return value
    if source_type is not None and can_coerce(source_type, target, lax=False) is None:
        raise KsqlException(
            f"Expected type {target} for field {column} but got {value!r}({source_type})"
        )
    return caster(source_type, target)(value)


def build_record(
    statement: st.InsertValues,
    metastore: MetaStore,
    functions: FunctionRegistry = FUNCTIONS,
) -> Record:
    """The record an INSERT VALUES statement writes (serialized with the source's formats)."""
    source = _source(statement, metastore)
    schema = source.schema
    columns = list(statement.columns) or [c.name for c in schema.columns]
    headers = [c.name for c in schema.headers if c.name in columns]
    if headers:
        raise KsqlException(f"Cannot insert into HEADER columns: {', '.join(headers)}")
    if len(columns) != len(statement.values):
        raise KsqlException(
            f"Failed to prepare statement: Expected number columns and values to match: "
            f"{columns}, {[str(v) for v in statement.values]}"
        )
    values: dict[str, Any] = {}
    timestamp: int | None = None
    for name, expression in zip(columns, statement.values, strict=True):
        if name == ROWTIME:
            timestamp = _value(expression, schema_type_bigint(), name, functions)
            continue
        column = schema.find_column(name)
        if column is None:
            raise KsqlException(f"Column name {name} does not exist.")
        values[name] = _value(expression, column.type, name, functions)
    key_columns = list(schema.key)
    value_columns = [c for c in schema.columns if c.namespace is Namespace.VALUE]
    if source.is_table and any(values.get(c.name) is None for c in key_columns):
        missing = ", ".join(c.name for c in key_columns if values.get(c.name) is None)
        raise KsqlException(
            f"Failed to insert values into '{source.name}'. Value for primary key column(s) "
            f"{missing} is required for tables"
        )
    key_format, value_format = source.topic.key_format, source.topic.value_format
    key_serde = serde(
        get_format(key_format.format),
        key_format.info,
        key_columns,
        key_format.features,
        is_key=True,
        topic=source.topic.name,
    )
    value_serde = serde(
        get_format(value_format.format),
        value_format.info,
        value_columns,
        value_format.features,
        is_key=False,
        topic=source.topic.name,
    )
    key_values = [values.get(c.name) for c in key_columns]
    key = key_serde.serialize(key_values) if key_columns else None
    value = value_serde.serialize([values.get(c.name) for c in value_columns])
    if timestamp is None:
        timestamp = int(time.time() * 1000)
    return Record(source.topic.name, key, value, timestamp)


def schema_type_bigint() -> SqlType:
    from streamlab.ksql.types import SqlTypes

    return SqlTypes.BIGINT
