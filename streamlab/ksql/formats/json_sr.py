"""The JSON_SR format: JSON behind the Confluent wire prefix (magic 0 + schema id).

Reading strips the 5-byte prefix (the schema id must be known to the registry) and reads the
JSON as the JSON format does. Writing registers a JSON Schema generated from the columns as
Connect's ``JsonSchemaData`` does for ksqlDB (``{"type":"object","properties":{"NAME":
{"connect.index":0,"oneOf":[{"type":"null"},{"type":"string"}]}}}``) under ``<topic>-value`` /
``-key`` unless the subject's latest schema already names every column. Columns are inferred
from a registered schema's ``properties`` (names upper-cased).
"""

from __future__ import annotations

import json as _json
import threading
from collections.abc import Sequence
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.formats import schema_registry as sr
from streamlab.ksql.formats.base import (
    Deserializer,
    FormatInfo,
    SerdeFeature,
    Serializer,
    register_format,
)
from streamlab.ksql.formats.json import JsonFormat
from streamlab.ksql.schema import Column
from streamlab.ksql.types import (
    SqlArray,
    SqlBaseType,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
    SqlTypes,
)

B = SqlBaseType

_known_ids: dict[tuple[str | None, int], bool] = {}


def _type_schema(sql_type: SqlType) -> dict[str, Any]:
    base = sql_type.base
    if base is B.INTEGER:
        return {"type": "integer", "connect.type": "int32"}
    if base is B.BIGINT:
        return {"type": "integer", "connect.type": "int64"}
    if base is B.DOUBLE:
        return {"type": "number", "connect.type": "float64"}
    if base is B.BOOLEAN:
        return {"type": "boolean"}
    if base is B.STRING:
        return {"type": "string"}
    if base is B.BYTES:
        return {"type": "string", "connect.type": "bytes"}
    if base is B.TIMESTAMP:
        return {
            "type": "integer",
            "title": "org.apache.kafka.connect.data.Timestamp",
            "connect.type": "int64",
        }
    if base is B.DATE:
        return {
            "type": "integer",
            "title": "org.apache.kafka.connect.data.Date",
            "connect.type": "int32",
        }
    if base is B.TIME:
        return {
            "type": "integer",
            "title": "org.apache.kafka.connect.data.Time",
            "connect.type": "int32",
        }
    if isinstance(sql_type, SqlDecimal):
        return {
            "type": "number",
            "title": "org.apache.kafka.connect.data.Decimal",
            "connect.parameters": {
                "scale": str(sql_type.scale),
                "connect.decimal.precision": str(sql_type.precision),
            },
        }
    if isinstance(sql_type, SqlArray):
        return {"type": "array", "items": _nullable(_type_schema(sql_type.item_type))}
    if isinstance(sql_type, SqlMap):
        return {
            "type": "object",
            "additionalProperties": _nullable(_type_schema(sql_type.value_type)),
            "connect.type": "map",
        }
    if isinstance(sql_type, SqlStruct):
        return _object_schema(list(sql_type.fields))
    raise KsqlException(f"The 'JSON_SR' format does not support type '{sql_type}'")


def _nullable(schema: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if index is not None:
        out["connect.index"] = index
    out["oneOf"] = [{"type": "null"}, schema]
    return out


def _object_schema(fields: list[tuple[str, SqlType]]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: _nullable(_type_schema(t), i) for i, (name, t) in enumerate(fields)},
    }


def generate(columns: Sequence[Column]) -> dict[str, Any]:
    return _object_schema([(c.name, c.type) for c in columns])


def _sql_type(schema: Any) -> SqlType:
    if not isinstance(schema, dict):
        return SqlTypes.STRING
    for combo in ("oneOf", "anyOf"):
        options = [s for s in schema.get(combo, []) if s.get("type") != "null"]
        if options:
            return _sql_type(options[0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    title = schema.get("title", "")
    if kind == "integer":
        if title.endswith("Timestamp"):
            return SqlTypes.TIMESTAMP
        if title.endswith("connect.data.Date"):
            return SqlTypes.DATE
        if title.endswith("connect.data.Time"):
            return SqlTypes.TIME
        if schema.get("connect.type") in ("int8", "int16", "int32"):
            return SqlTypes.INTEGER
        return SqlTypes.BIGINT
    if kind == "number":
        if title.endswith("Decimal"):
            params = schema.get("connect.parameters", {})
            return SqlDecimal(
                int(params.get("connect.decimal.precision", 64)), int(params.get("scale", 0))
            )
        return SqlTypes.DOUBLE
    if kind == "boolean":
        return SqlTypes.BOOLEAN
    if kind == "string":
        return SqlTypes.BYTES if schema.get("connect.type") == "bytes" else SqlTypes.STRING
    if kind == "array":
        return SqlArray(_sql_type(schema.get("items", {})))
    if kind == "object":
        if "properties" in schema:
            return SqlStruct(
                tuple((n.upper(), _sql_type(s)) for n, s in schema["properties"].items())
            )
        extra = schema.get("additionalProperties")
        return SqlMap(SqlTypes.STRING, _sql_type(extra if isinstance(extra, dict) else {}))
    return SqlTypes.STRING


class JsonSrFormat(JsonFormat):
    name = "JSON_SR"
    requires_schema_registry = True

    def validate(self, columns, features, is_key) -> None:
        sr.require(self.name)
        super().validate(columns, features, is_key)

    def serializer(
        self, columns, features, info: FormatInfo, is_key: bool, topic: str | None = None
    ) -> Serializer:
        inner = super().serializer(columns, features, info, is_key)
        if not columns:
            return inner
        state: dict[str, bytes] = {}
        lock = threading.Lock()
        unwrapped = self._unwrapped(columns, features)

        def prefix() -> bytes:
            with lock:
                if "prefix" not in state:
                    if topic is None:
                        raise KsqlException("JSON_SR serializer needs the topic name")
                    state["prefix"] = sr.header(self._schema_id(topic, columns, is_key, unwrapped))
                return state["prefix"]

        if topic is not None:
            try:
                prefix()
            except Exception:  # retried (and reported) on the first record
                pass

        def write(values: Sequence[Any] | None) -> bytes | None:
            data = inner(values)
            return None if data is None else prefix() + data

        return write

    @staticmethod
    def _schema_id(topic: str, columns: Sequence[Column], is_key: bool, unwrapped: bool) -> int:
        from confluent_kafka.schema_registry import Schema

        latest = sr.latest(topic, is_key)
        if latest is not None and latest.schema.schema_type == "JSON" and not unwrapped:
            try:
                props = _json.loads(latest.schema.schema_str).get("properties", {})
            except ValueError:
                props = {}
            upper = {k.upper() for k in props}
            if all(c.name in props or c.name.upper() in upper for c in columns):
                return latest.schema_id
        schema = _type_schema(columns[0].type) if unwrapped else generate(columns)
        if unwrapped:
            schema = _nullable(schema)
        try:
            return sr.client().register_schema(
                sr.subject(topic, is_key), Schema(_json.dumps(schema), "JSON")
            )
        except Exception as error:
            raise KsqlException(f"Could not register schema for topic: {topic}. {error}") from error

    def deserializer(self, columns, features, info: FormatInfo, is_key: bool) -> Deserializer:
        inner = super().deserializer(columns, features, info, is_key)

        def read(data: bytes | None) -> list[Any] | None:
            if data is None:
                return None
            schema_id, payload = sr.split(data)
            key = (sr.url(), schema_id)
            if key not in _known_ids:
                try:
                    sr.client().get_schema(schema_id)
                except Exception as error:
                    raise ValueError(
                        f"Error retrieving JSON schema for id {schema_id}: {error}"
                    ) from None
                _known_ids[key] = True
            return inner(payload)

        return read

    def infer(self, topic: str, is_key: bool) -> list[tuple[str, SqlType]]:
        latest = sr.latest(topic, is_key)
        if latest is None:
            raise sr.missing_schema_error(topic, is_key)
        schema = _json.loads(latest.schema.schema_str)
        sql_type = _sql_type(schema)
        if isinstance(sql_type, SqlStruct):
            return list(sql_type.fields)
        return [("ROWVAL" if not is_key else "ROWKEY", sql_type)]


JSON_SR = register_format(JsonSrFormat())
_ = SerdeFeature
