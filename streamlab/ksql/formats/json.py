"""The JSON format, as ksqlDB's ``KsqlJsonSerializer`` / ``KsqlJsonDeserializer``.

Reading is lenient the way ksqlDB's is: object fields match column names exactly, then
upper-cased; numbers and strings convert into each other where they parse; an object or array
read into a STRING column becomes its JSON text. Writing uses column names as they are and
Java's number formatting (``1.0E10``), without spaces.
"""

from __future__ import annotations

import base64
import json
import math
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
from streamlab.ksql.jvm import (
    big_decimal_to_string,
    double_to_string,
    hash_map_order,
    wrap_int,
    wrap_long,
)
from streamlab.ksql.schema import Column
from streamlab.ksql.types import (
    SqlArray,
    SqlBaseType,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
)

B = SqlBaseType

# ---- writing ------------------------------------------------------------------------------------

_encode_string = json.JSONEncoder(ensure_ascii=False).encode


def to_json_text(value: Any) -> str:
    """JSON text as Jackson writes it for ksqlDB values (compact, Java number formatting)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _encode_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return '"' + double_to_string(value) + '"'
        return double_to_string(value)
    if isinstance(value, Decimal):
        return big_decimal_to_string(value)
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                _encode_string(_key_text(k)) + ":" + to_json_text(v) for k, v in value.items()
            )
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json_text(v) for v in value) + "]"
    if isinstance(value, bytes):
        return '"' + base64.b64encode(value).decode() + '"'
    raise KsqlException(f"Cannot write {type(value).__name__} as JSON")


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    from streamlab.ksql.expressions.cast import to_string

    return to_string(key)


# ---- reading ------------------------------------------------------------------------------------


def _node_type(node: Any) -> str:
    """Jackson's node class name, for error messages."""
    if isinstance(node, bool):
        return "BooleanNode"
    if isinstance(node, int):
        return "IntNode" if -(2**31) <= node < 2**31 else "LongNode"
    if isinstance(node, Decimal | float):
        return "DoubleNode"
    if isinstance(node, str):
        return "TextNode"
    if isinstance(node, dict):
        return "ObjectNode"
    if isinstance(node, list):
        return "ArrayNode"
    return type(node).__name__


def _cannot_convert(node: Any, sql_type: SqlType | str) -> ValueError:
    return ValueError(
        f"Can't convert type. sourceType: {_node_type(node)}, requiredType: {sql_type}"
    )


def _cannot_coerce(sql_type: str) -> ValueError:
    return ValueError(f"Can't coerce string to type. targetType: {sql_type}")


def _is_number(node: Any) -> bool:
    return isinstance(node, int | float | Decimal) and not isinstance(node, bool)


def _to_int(node: Any) -> int:
    if _is_number(node):
        if isinstance(node, int):
            return wrap_int(node)
        value = float(node)
        if math.isnan(value):
            return 0
        return max(min(int(value), 2**31 - 1), -(2**31))
    if isinstance(node, str):
        try:
            return _parse_int(node, 32)
        except ValueError:
            raise _cannot_coerce("INTEGER") from None
    raise _cannot_convert(node, "INTEGER")


def _to_long(node: Any, name: str = "BIGINT") -> int:
    if _is_number(node):
        if isinstance(node, int):
            return wrap_long(node)
        value = float(node)
        if math.isnan(value):
            return 0
        return max(min(int(value), 2**63 - 1), -(2**63))
    if isinstance(node, str):
        try:
            return _parse_int(node, 64)
        except ValueError:
            raise _cannot_coerce(name) from None
    raise _cannot_convert(node, name)


def _parse_int(text: str, bits: int) -> int:
    from streamlab.ksql.expressions.cast import CastError, parse_java_int

    try:
        return parse_java_int(text, bits)
    except CastError as error:
        raise ValueError(str(error)) from None


def _to_double(node: Any) -> float:
    if _is_number(node):
        return float(node)
    if isinstance(node, str):
        try:
            return float(node.strip())
        except ValueError:
            raise _cannot_coerce("DOUBLE") from None
    raise _cannot_convert(node, "DOUBLE")


def _to_boolean(node: Any) -> bool:
    if isinstance(node, bool):
        return node
    raise _cannot_convert(node, "BOOLEAN")


def _to_string(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, dict):
        return to_json_text(_plain(node))
    if isinstance(node, list):
        return "[" + ", ".join("null" if v is None else _to_string(v) for v in node) + "]"
    if isinstance(node, int):
        return str(node)
    if isinstance(node, Decimal | float):
        return double_to_string(float(node))
    return str(node)


def _plain(node: Any) -> Any:
    """Numbers as Jackson's ``treeToValue(node, Object.class)`` would hold them."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, Decimal):
        return float(node)
    return node


def _to_decimal(node: Any, sql_type: SqlDecimal) -> Decimal:
    from streamlab.ksql.expressions.cast import CastError, to_decimal

    try:
        if _is_number(node):
            value = node if isinstance(node, Decimal) else Decimal(str(node))
            return _ensure_fit(value, sql_type)
        if isinstance(node, str):
            return _ensure_fit(Decimal(node), sql_type)
    except (InvalidOperation, CastError) as error:
        raise ValueError(str(error)) from None
    _ = to_decimal
    raise _cannot_convert(node, str(sql_type))


def _ensure_fit(value: Decimal, sql_type: SqlDecimal) -> Decimal:
    """``DecimalUtil.ensureFit``: rescale without rounding; fail when it does not fit."""
    from streamlab.ksql.jvm import set_scale

    scaled = set_scale(value, sql_type.scale)
    if scaled != value:
        raise ValueError(
            f"Cannot fit decimal '{value}' into DECIMAL({sql_type.precision}, {sql_type.scale}) "
            "without rounding."
        )
    digits = len(scaled.as_tuple().digits)
    if digits > sql_type.precision and scaled != 0:
        raise ValueError(
            f"Cannot fit decimal '{value}' into DECIMAL({sql_type.precision}, "
            f"{sql_type.scale}) without rounding."
        )
    return scaled


def _to_bytes(node: Any) -> bytes:
    if isinstance(node, str):
        try:
            return base64.b64decode(node, validate=True)
        except ValueError:
            raise ValueError(f"Value is not a valid Base64 encoded string: {node}") from None
    raise _cannot_convert(node, "BYTES")


def coercer(sql_type: SqlType) -> Callable[[Any], Any]:
    """A function reading a parsed JSON node as a value of ``sql_type`` (NULL stays NULL)."""
    base = sql_type.base
    if base is B.INTEGER:
        return _nullable(_to_int)
    if base in (B.BIGINT, B.TIMESTAMP):
        name = "TIMESTAMP" if base is B.TIMESTAMP else "BIGINT"
        return _nullable(lambda n: _to_long(n, name))
    if base is B.DATE:
        return _nullable(lambda n: _to_long(n, "DATE"))
    if base is B.TIME:
        return _nullable(lambda n: _to_long(n, "TIME"))
    if base is B.DOUBLE:
        return _nullable(_to_double)
    if base is B.BOOLEAN:
        return _nullable(_to_boolean)
    if base is B.STRING:
        return _nullable(_to_string)
    if base is B.BYTES:
        return _nullable(_to_bytes)
    if isinstance(sql_type, SqlDecimal):
        return _nullable(lambda n: _to_decimal(n, sql_type))
    if isinstance(sql_type, SqlArray):
        item = coercer(sql_type.item_type)

        def to_array(node: Any) -> list:
            if not isinstance(node, list):
                raise _cannot_convert(node, str(sql_type))
            return [item(v) for v in node]

        return _nullable(to_array)
    if isinstance(sql_type, SqlMap):
        value = coercer(sql_type.value_type)
        key = coercer(sql_type.key_type)

        def to_map(node: Any) -> dict:
            if not isinstance(node, dict):
                raise _cannot_convert(node, str(sql_type))
            converted = {key(k): value(v) for k, v in node.items()}
            # ksqlDB builds a java.util.HashMap(size): keep its iteration order.
            return {k: converted[k] for k in hash_map_order(list(converted), len(converted))}

        return _nullable(to_map)
    if isinstance(sql_type, SqlStruct):
        fields = [(name, coercer(t)) for name, t in sql_type.fields]

        def to_struct(node: Any) -> dict:
            if not isinstance(node, dict):
                raise _cannot_convert(node, str(sql_type))
            upper = {k.upper(): v for k, v in node.items()}
            out = {}
            for name, fn in fields:
                raw = node.get(name)
                if raw is None:
                    raw = upper.get(name)
                out[name] = fn(raw)
            return out

        return _nullable(to_struct)
    raise KsqlException(f"Type is not supported: {sql_type}")


def _nullable(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(node: Any) -> Any:
        return None if node is None else fn(node)

    return run


def _has_non_string_map_key(sql_type: SqlType) -> bool:
    if isinstance(sql_type, SqlMap):
        return sql_type.key_type.base is not B.STRING or _has_non_string_map_key(
            sql_type.value_type
        )
    if isinstance(sql_type, SqlArray):
        return _has_non_string_map_key(sql_type.item_type)
    if isinstance(sql_type, SqlStruct):
        return any(_has_non_string_map_key(t) for _, t in sql_type.fields)
    return False


def parse_json(data: bytes) -> Any:
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


class JsonFormat(Format):
    name = "JSON"
    supported_features = frozenset({SerdeFeature.WRAP_SINGLES, SerdeFeature.UNWRAP_SINGLES})

    def check_columns(self, columns: Sequence[Column]) -> None:
        for column in columns:
            if _has_non_string_map_key(column.type):
                raise KsqlException("JSON only supports MAP types with STRING keys")

    @staticmethod
    def _unwrapped(columns: Sequence[Column], features: frozenset[SerdeFeature]) -> bool:
        return len(columns) == 1 and SerdeFeature.UNWRAP_SINGLES in features

    def serializer(self, columns, features, info: FormatInfo, is_key: bool) -> Serializer:
        names = [c.name for c in columns]
        if not columns:
            return lambda values: None
        if self._unwrapped(columns, features):

            def write_single(values: Sequence[Any] | None) -> bytes | None:
                if values is None:
                    return None
                return to_json_text(values[0]).encode()

            return write_single

        def write_object(values: Sequence[Any] | None) -> bytes | None:
            if values is None:
                return None
            return to_json_text(dict(zip(names, values, strict=True))).encode()

        return write_object

    def deserializer(self, columns, features, info: FormatInfo, is_key: bool) -> Deserializer:
        if not columns:
            return lambda data: None if data is None else []
        if self._unwrapped(columns, features):
            single = coercer(columns[0].type)

            def read_single(data: bytes | None) -> list[Any] | None:
                if data is None:
                    return None
                node = parse_json(data)
                return None if node is None else [single(node)]

            return read_single
        struct = SqlStruct(tuple((c.name, c.type) for c in columns))
        fields = [(c.name, coercer(c.type)) for c in columns]

        def read_object(data: bytes | None) -> list[Any] | None:
            if data is None:
                return None
            node = parse_json(data)
            if node is None:
                return None
            if not isinstance(node, dict):
                raise _cannot_convert(node, str(struct))
            upper = None
            values = []
            for name, fn in fields:
                raw = node.get(name)
                if raw is None:
                    if upper is None:
                        upper = {k.upper(): v for k, v in node.items()}
                    raw = upper.get(name)
                values.append(fn(raw))
            return values

        return read_object


JSON = register_format(JsonFormat())
