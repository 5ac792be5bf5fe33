"""Statement results, shaped as ksqlDB's REST entities (``@type`` + fields).

The REST layer returns ``StatementResult.entity`` as is; see research/ksqldb.md §4.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamlab.ksql.catalog import DataSource
from streamlab.ksql.schema import Column, Namespace
from streamlab.ksql.types import SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType


@dataclass
class StatementResult:
    """What executing one statement produced; ``entity`` is None for INSERT VALUES."""

    statement_text: str
    entity: dict[str, Any] | None = None
    query_id: str | None = None
    warnings: list[str] = field(default_factory=list)


def current_status(
    statement_text: str,
    command_id: str,
    message: str,
    query_id: str | None = None,
    sequence: int = 0,
) -> StatementResult:
    return StatementResult(
        statement_text,
        {
            "@type": "currentStatus",
            "statementText": statement_text,
            "commandId": command_id,
            "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
            "commandSequenceNumber": sequence,
            "warnings": [],
        },
        query_id,
    )


def schema_json(sql_type: SqlType) -> dict[str, Any]:
    """A column type as ksqlDB's ``SchemaInfo`` JSON."""
    info: dict[str, Any] = {"type": sql_type.base.value, "fields": None, "memberSchema": None}
    if isinstance(sql_type, SqlArray):
        info["memberSchema"] = schema_json(sql_type.item_type)
    elif isinstance(sql_type, SqlMap):
        info["memberSchema"] = schema_json(sql_type.value_type)
    elif isinstance(sql_type, SqlStruct):
        info["fields"] = [{"name": n, "schema": schema_json(t)} for n, t in sql_type.fields]
    elif isinstance(sql_type, SqlDecimal):
        info["parameters"] = {"precision": sql_type.precision, "scale": sql_type.scale}
    return info


def field_json(column: Column) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": column.name, "schema": schema_json(column.type)}
    if column.namespace is Namespace.KEY:
        entry["type"] = "KEY"
    elif column.namespace is Namespace.HEADERS:
        entry["type"] = "HEADER"
        entry["headerKey"] = column.header_key
    return entry


def source_summary(source: DataSource) -> dict[str, Any]:
    return {
        "type": source.source_type.value,
        "name": source.name,
        "topic": source.topic.name,
        "keyFormat": source.topic.key_format.format,
        "valueFormat": source.topic.value_format.format,
        "isWindowed": source.is_windowed,
    }


def source_description(
    source: DataSource,
    extended: bool,
    read_queries: list[dict[str, Any]],
    write_queries: list[dict[str, Any]],
    partitions: int = 0,
    replication: int = 0,
) -> dict[str, Any]:
    return {
        "name": source.name,
        "windowType": None,
        "readQueries": read_queries,
        "writeQueries": write_queries,
        "fields": [field_json(c) for c in source.schema],
        "type": source.source_type.value,
        "timestamp": source.timestamp_column.column if source.timestamp_column else "",
        "statistics": "",
        "errorStats": "",
        "extended": extended,
        "keyFormat": source.topic.key_format.format,
        "valueFormat": source.topic.value_format.format,
        "topic": source.topic.name,
        "partitions": partitions if extended else 0,
        "replication": replication if extended else 0,
        "statement": source.sql,
        "queryOffsetSummaries": [],
        "sourceConstraints": [],
        "clusterStatistics": [],
        "clusterErrorStats": [],
    }
