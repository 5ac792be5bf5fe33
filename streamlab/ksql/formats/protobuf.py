"""The PROTOBUF format through the Schema Registry, as ksqlDB's ``ProtobufFormat``.

Reading: the Confluent wire format (magic 0, schema id, message indexes); the writer's schema is
fetched from the registry by id (cached) and the payload parsed as a dynamic message of that
descriptor. Fields map to SQL types as Connect's ``ProtobufData`` maps them for ksqlDB:
int32/sint32/sfixed32 → INT, int64/sint64/sfixed64/uint32/uint64/fixed32/fixed64 → BIGINT,
float/double → DOUBLE, bool → BOOLEAN, string/enum → STRING, bytes → BYTES, messages → STRUCT,
repeated → ARRAY, maps → MAP, ``google.protobuf.Timestamp`` → TIMESTAMP, ``google.type.Date`` →
DATE, ``google.type.TimeOfDay`` → TIME, ``confluent.type.Decimal`` → DECIMAL. The
``google.protobuf.*Value`` wrappers are messages like any other (``STRUCT<VALUE …>``: ksqlDB only
unwraps them with ``PROTOBUF_NULLABLE_REPRESENTATION='WRAPPER'``); a column declared with the
primitive type reads the wrapped value (NULL when unset). Inferred column names are the field
names upper-cased; columns match fields exactly, then case-insensitively.

Writing: a schema generated from the columns (``syntax = "proto3"; message ConnectDefault1 {…}``,
nested structs ``ConnectDefault2``…, fields numbered in column order) is registered under
``<topic>-value`` / ``<topic>-key``, unless the subject's latest schema already holds every
column (a source whose columns were inferred), which is then used as is. PROTOBUF values and
keys are always wrapped in a message (no UNWRAP_SINGLES), and proto3 scalars cannot hold NULL:
a NULL scalar is written unset and reads back as its default.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.formats import schema_registry as sr
from streamlab.ksql.formats.base import (
    Deserializer,
    Format,
    FormatInfo,
    SerdeFeature,
    Serializer,
    register_format,
)
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
F = FieldDescriptor

TIMESTAMP = "google.protobuf.Timestamp"
DATE = "google.type.Date"
TIME = "google.type.TimeOfDay"
DECIMAL = "confluent.type.Decimal"
WRAPPERS = {
    "google.protobuf.DoubleValue": SqlTypes.DOUBLE,
    "google.protobuf.FloatValue": SqlTypes.DOUBLE,
    "google.protobuf.Int64Value": SqlTypes.BIGINT,
    "google.protobuf.UInt64Value": SqlTypes.BIGINT,
    "google.protobuf.Int32Value": SqlTypes.INTEGER,
    "google.protobuf.UInt32Value": SqlTypes.BIGINT,
    "google.protobuf.BoolValue": SqlTypes.BOOLEAN,
    "google.protobuf.StringValue": SqlTypes.STRING,
    "google.protobuf.BytesValue": SqlTypes.BYTES,
}
_KNOWN_FILES = {
    TIMESTAMP: "google/protobuf/timestamp.proto",
    DATE: "google/type/date.proto",
    TIME: "google/type/timeofday.proto",
    DECIMAL: "confluent/type/decimal.proto",
}

_SCALARS: dict[int, SqlType] = {
    F.TYPE_INT32: SqlTypes.INTEGER,
    F.TYPE_SINT32: SqlTypes.INTEGER,
    F.TYPE_SFIXED32: SqlTypes.INTEGER,
    F.TYPE_UINT32: SqlTypes.BIGINT,
    F.TYPE_FIXED32: SqlTypes.BIGINT,
    F.TYPE_INT64: SqlTypes.BIGINT,
    F.TYPE_SINT64: SqlTypes.BIGINT,
    F.TYPE_SFIXED64: SqlTypes.BIGINT,
    F.TYPE_UINT64: SqlTypes.BIGINT,
    F.TYPE_FIXED64: SqlTypes.BIGINT,
    F.TYPE_FLOAT: SqlTypes.DOUBLE,
    F.TYPE_DOUBLE: SqlTypes.DOUBLE,
    F.TYPE_BOOL: SqlTypes.BOOLEAN,
    F.TYPE_STRING: SqlTypes.STRING,
    F.TYPE_BYTES: SqlTypes.BYTES,
    F.TYPE_ENUM: SqlTypes.STRING,
}


def _load_known_types() -> None:
    """Put the well-known files into the default pool (their modules register them)."""
    import google.protobuf.timestamp_pb2
    import google.protobuf.wrappers_pb2

    try:
        import google.type.date_pb2
        import google.type.timeofday_pb2  # noqa: F401
    except ImportError:  # pragma: no cover - googleapis-common-protos absent
        pass
    try:
        import confluent_kafka.schema_registry.confluent.type.decimal_pb2  # noqa: F401
    except ImportError:  # pragma: no cover
        pass


# ---- schemas from the registry ------------------------------------------------------------------

_cache_lock = threading.Lock()
_files: dict[tuple[str | None, int], Any] = {}


def _parse_schema(schema_str: str) -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto()
    try:
        fdp.ParseFromString(base64.b64decode(schema_str, validate=True))
        return fdp
    except Exception:
        pass
    from streamlab.registry.protobuf import parse  # .proto text (registries that store text)

    return parse(schema_str, {})


def _build_file(schema: Any, client: Any) -> Any:
    """A FileDescriptor of a registry ``Schema`` (base64 descriptor), with its imports."""
    _load_known_types()
    pool = descriptor_pool.DescriptorPool()
    default = descriptor_pool.Default()
    added: set[str] = set()
    references = {ref.name: ref for ref in (schema.references or [])}

    def add(fdp: descriptor_pb2.FileDescriptorProto) -> None:
        for dependency in fdp.dependency:
            if dependency in added:
                continue
            added.add(dependency)
            if dependency in references:
                ref = references[dependency]
                registered = client.get_version(ref.subject, ref.version, fmt="serialized")
                add(_parse_schema(registered.schema.schema_str))
            else:
                known = descriptor_pb2.FileDescriptorProto()
                default.FindFileByName(dependency).CopyToProto(known)
                add(known)
        pool.Add(fdp)

    fdp = _parse_schema(schema.schema_str)
    if not fdp.name:
        fdp.name = "schema.proto"
    add(fdp)
    return pool.FindFileByName(fdp.name)


def file_for_id(schema_id: int) -> Any:
    key = (sr.url(), schema_id)
    with _cache_lock:
        found = _files.get(key)
    if found is not None:
        return found
    client = sr.client()
    try:
        schema = client.get_schema(schema_id, fmt="serialized")
    except Exception as error:
        raise ValueError(f"Error retrieving Protobuf schema for id {schema_id}: {error}") from None
    built = _build_file(schema, client)
    with _cache_lock:
        _files[key] = built
    return built


def message_at(file_desc: Any, indexes: Sequence[int]) -> Descriptor:
    messages = list(file_desc.message_types_by_name.values())
    if not messages:
        raise ValueError(f"Schema {file_desc.name} has no message")
    desc = messages[indexes[0]]
    for index in indexes[1:]:
        desc = desc.nested_types[index]
    return desc


def _indexes_of(desc: Descriptor) -> list[int]:
    path = []
    while desc.containing_type is not None:
        parent = desc.containing_type
        path.append(list(parent.nested_types).index(desc))
        desc = parent
    path.append(list(desc.file.message_types_by_name.values()).index(desc))
    return path[::-1]


# ---- SQL types of fields --------------------------------------------------------------------


def field_type(field: FieldDescriptor, depth: int = 0) -> SqlType:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        entry = field.message_type
        return SqlMap(
            _single_type(entry.fields_by_name["key"], depth),
            _single_type(entry.fields_by_name["value"], depth),
        )
    single = _single_type(field, depth)
    return SqlArray(single) if _is_repeated(field) else single


def _is_repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def _single_type(field: FieldDescriptor, depth: int) -> SqlType:
    if field.type in _SCALARS:
        return _SCALARS[field.type]
    return message_type(field.message_type, depth + 1)


def message_type(desc: Descriptor, depth: int = 0) -> SqlType:
    name = desc.full_name
    if name == TIMESTAMP:
        return SqlTypes.TIMESTAMP
    if name == DATE:
        return SqlTypes.DATE
    if name == TIME:
        return SqlTypes.TIME
    if name == DECIMAL:
        return SqlDecimal(64, 0)
    if name in WRAPPERS:
        return SqlStruct((("VALUE", WRAPPERS[name]),))
    if depth > 32:
        raise KsqlException(f"Recursive Protobuf message types are not supported: {name}")
    return SqlStruct(tuple((f.name.upper(), field_type(f, depth)) for f in desc.fields))


def columns_of(desc: Descriptor) -> list[tuple[str, SqlType]]:
    """The columns ksqlDB infers from a message: one per field, names upper-cased."""
    return [(f.name.upper(), field_type(f)) for f in desc.fields]


def _match(fields: Sequence[FieldDescriptor], name: str) -> FieldDescriptor | None:
    for field in fields:
        if field.name == name:
            return field
    for field in fields:
        if field.name.upper() == name.upper():
            return field
    return None


# ---- reading --------------------------------------------------------------------------------


def _reader(field: FieldDescriptor, sql_type: SqlType) -> Callable[[Any], Any]:
    """Reads ``field`` of a message as ``sql_type``."""
    name = field.name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        entry = field.message_type
        vtype = sql_type.value_type if isinstance(sql_type, SqlMap) else SqlTypes.STRING
        read_value = _value_reader(entry.fields_by_name["value"], vtype)

        def read_map(msg: Any) -> Any:
            return {k: read_value(v) for k, v in getattr(msg, name).items()}

        return read_map
    if _is_repeated(field):
        item_type = sql_type.item_type if isinstance(sql_type, SqlArray) else SqlTypes.STRING
        read_item = _value_reader(field, item_type)

        def read_list(msg: Any) -> Any:
            return [read_item(v) for v in getattr(msg, name)]

        return read_list
    read_value = _value_reader(field, sql_type)
    if field.type == F.TYPE_MESSAGE or field.has_presence:

        def read_present(msg: Any) -> Any:
            return read_value(getattr(msg, name)) if msg.HasField(name) else None

        return read_present
    return lambda msg: read_value(getattr(msg, name))


def _value_reader(field: FieldDescriptor, sql_type: SqlType) -> Callable[[Any], Any]:
    if field.type == F.TYPE_ENUM:
        values = field.enum_type.values_by_number

        def read_enum(value: int) -> str:
            found = values.get(value)
            return found.name if found is not None else str(value)

        return _convert(read_enum, sql_type, SqlTypes.STRING)
    if field.type != F.TYPE_MESSAGE:
        return _convert(lambda v: v, sql_type, _SCALARS[field.type])
    desc = field.message_type
    name = desc.full_name
    if name == TIMESTAMP:
        return lambda m: m.seconds * 1000 + m.nanos // 1_000_000
    if name == DATE:
        return lambda m: (date(m.year, m.month, m.day) - date(1970, 1, 1)).days
    if name == TIME:
        return lambda m: ((m.hours * 60 + m.minutes) * 60 + m.seconds) * 1000 + m.nanos // 10**6
    if name == DECIMAL:

        def read_decimal(m: Any) -> Decimal:
            unscaled = int.from_bytes(m.value, "big", signed=True) if m.value else 0
            return Decimal(unscaled).scaleb(-m.scale)

        return read_decimal
    if name in WRAPPERS and not isinstance(sql_type, SqlStruct):
        return _convert(lambda m: m.value, sql_type, WRAPPERS[name])
    return struct_reader(desc, sql_type)


def _convert(read: Callable[[Any], Any], sql_type: SqlType, natural: SqlType) -> Callable:
    if sql_type == natural or sql_type.base == natural.base:
        if natural.base is B.BYTES:
            return lambda v: bytes(read(v))
        return read
    from streamlab.ksql.formats.json import coercer

    coerce = coercer(sql_type)
    return lambda v: coerce(read(v))


def struct_reader(desc: Descriptor, sql_type: SqlType) -> Callable[[Any], Any]:
    if not isinstance(sql_type, SqlStruct):
        from streamlab.ksql.formats.json import to_json_text

        plain = struct_reader(desc, message_type(desc))
        return lambda m: to_json_text(plain(m))
    readers = []
    for fname, ftype in sql_type.fields:
        field = _match(desc.fields, fname)
        readers.append((fname, None if field is None else _reader(field, ftype)))

    def read_struct(msg: Any) -> dict:
        return {n: (None if r is None else r(msg)) for n, r in readers}

    return read_struct


# ---- writing ----------------------------------------------------------------------------------


def _writer(field: FieldDescriptor) -> Callable[[Any, Any], None]:
    """Sets ``field`` of a message from a SQL value (None: left unset)."""
    name = field.name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        entry = field.message_type
        value_field = entry.fields_by_name["value"]
        key_field = entry.fields_by_name["key"]
        is_message = value_field.type == F.TYPE_MESSAGE
        fill = _filler(value_field) if is_message else None

        def write_map(msg: Any, value: dict) -> None:
            target = getattr(msg, name)
            for k, v in value.items():
                key = _scalar(key_field, k)
                if is_message:
                    if v is not None:
                        fill(target[key], v)
                elif v is not None:
                    target[key] = _scalar(value_field, v)

        return write_map
    if _is_repeated(field):
        if field.type == F.TYPE_MESSAGE:
            fill = _filler(field)

            def write_messages(msg: Any, value: list) -> None:
                target = getattr(msg, name)
                for item in value:
                    element = target.add()
                    if item is not None:
                        fill(element, item)

            return write_messages

        def write_scalars(msg: Any, value: list) -> None:
            getattr(msg, name).extend(_scalar(field, v) for v in value if v is not None)

        return write_scalars
    if field.type == F.TYPE_MESSAGE:
        fill = _filler(field)

        def write_message(msg: Any, value: Any) -> None:
            sub = getattr(msg, name)
            sub.SetInParent()
            fill(sub, value)

        return write_message

    def write_scalar(msg: Any, value: Any) -> None:
        setattr(msg, name, _scalar(field, value))

    return write_scalar


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == F.TYPE_ENUM:
        if isinstance(value, str):
            found = field.enum_type.values_by_name.get(value)
            if found is None:
                raise ValueError(f"Unknown enum value {value} for {field.enum_type.full_name}")
            return found.number
        return int(value)
    if field.type in (F.TYPE_FLOAT, F.TYPE_DOUBLE):
        return float(value)
    if field.type == F.TYPE_STRING:
        return value if isinstance(value, str) else str(value)
    if field.type == F.TYPE_BOOL:
        return bool(value)
    if field.type == F.TYPE_BYTES:
        return bytes(value)
    return int(value)


def _filler(field: FieldDescriptor) -> Callable[[Any, Any], None]:
    desc = field.message_type
    name = desc.full_name
    if name == TIMESTAMP:

        def fill_timestamp(msg: Any, value: int) -> None:
            msg.seconds, millis = divmod(int(value), 1000)
            msg.nanos = millis * 1_000_000

        return fill_timestamp
    if name == DATE:

        def fill_date(msg: Any, value: int) -> None:
            day = date(1970, 1, 1) + timedelta(days=int(value))
            msg.year, msg.month, msg.day = day.year, day.month, day.day

        return fill_date
    if name == TIME:

        def fill_time(msg: Any, value: int) -> None:
            seconds, millis = divmod(int(value), 1000)
            minutes, msg.seconds = divmod(seconds, 60)
            msg.hours, msg.minutes = divmod(minutes, 60)
            msg.nanos = millis * 1_000_000

        return fill_time
    if name == DECIMAL:

        def fill_decimal(msg: Any, value: Decimal) -> None:
            sign, digits, exponent = Decimal(value).as_tuple()
            unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
            scale = -int(exponent)
            if scale < 0:
                unscaled, scale = unscaled * 10 ** (-scale), 0
            length = max(1, (unscaled.bit_length() + 8) // 8)
            msg.value = unscaled.to_bytes(length, "big", signed=True)
            msg.precision = max(len(digits), scale)
            msg.scale = scale

        return fill_decimal
    if name in WRAPPERS:
        inner = desc.fields_by_name["value"]

        def fill_wrapper(msg: Any, value: Any) -> None:
            if isinstance(value, dict):
                value = next((v for k, v in value.items() if str(k).upper() == "VALUE"), None)
            if value is not None:
                msg.value = _scalar(inner, value)

        return fill_wrapper
    return struct_filler(desc)


def struct_filler(desc: Descriptor) -> Callable[[Any, Any], None]:
    writers = {f.name: _writer(f) for f in desc.fields}
    by_upper = {f.name.upper(): f.name for f in desc.fields}

    def fill(msg: Any, value: dict) -> None:
        for key, item in value.items():
            if item is None:
                continue
            fname = key if key in writers else by_upper.get(str(key).upper())
            if fname is not None:
                writers[fname](msg, item)

    return fill


# ---- schema generation (ksqlDB's sink schemas) ----------------------------------------------


_SCALAR_OF: dict[SqlBaseType, int] = {
    B.BOOLEAN: F.TYPE_BOOL,
    B.INTEGER: F.TYPE_INT32,
    B.BIGINT: F.TYPE_INT64,
    B.DOUBLE: F.TYPE_DOUBLE,
    B.STRING: F.TYPE_STRING,
    B.BYTES: F.TYPE_BYTES,
}
_MESSAGE_OF: dict[SqlBaseType, str] = {
    B.TIMESTAMP: TIMESTAMP,
    B.DATE: DATE,
    B.TIME: TIME,
    B.DECIMAL: DECIMAL,
}


def generate(columns: Sequence[Column]) -> descriptor_pb2.FileDescriptorProto:
    """The schema ksqlDB registers for columns: ``message ConnectDefault1 { … }`` (proto3)."""
    fdp = descriptor_pb2.FileDescriptorProto(name="ConnectDefault1.proto", syntax="proto3")
    counter = [1]
    root = fdp.message_type.add(name="ConnectDefault1")
    deps: list[str] = []

    def set_type(
        field: descriptor_pb2.FieldDescriptorProto,
        parent: descriptor_pb2.DescriptorProto,
        path: str,
        sql_type: SqlType,
    ) -> None:
        base = sql_type.base
        if base in _SCALAR_OF:
            field.type = _SCALAR_OF[base]  # type: ignore[assignment]
        elif base in _MESSAGE_OF:
            full = _MESSAGE_OF[base]
            field.type = F.TYPE_MESSAGE  # type: ignore[assignment]
            field.type_name = "." + full
            if _KNOWN_FILES[full] not in deps:
                deps.append(_KNOWN_FILES[full])
        elif isinstance(sql_type, SqlStruct):
            counter[0] += 1
            nested = parent.nested_type.add(name=f"ConnectDefault{counter[0]}")
            nested_path = f"{path}.{nested.name}"
            for number, (fname, ftype) in enumerate(sql_type.fields, start=1):
                add_field(nested, nested_path, fname, ftype, number)
            field.type = F.TYPE_MESSAGE  # type: ignore[assignment]
            field.type_name = nested_path
        else:
            raise KsqlException(f"The 'PROTOBUF' format does not support type '{sql_type}'")

    def add_field(
        parent: descriptor_pb2.DescriptorProto,
        path: str,
        name: str,
        sql_type: SqlType,
        number: int,
    ) -> None:
        field = parent.field.add(name=name, number=number)
        field.label = F.LABEL_OPTIONAL  # type: ignore[assignment]
        if isinstance(sql_type, SqlArray):
            if isinstance(sql_type.item_type, SqlArray | SqlMap):
                raise KsqlException(
                    f"The 'PROTOBUF' format does not support nested collections: '{sql_type}'"
                )
            field.label = F.LABEL_REPEATED  # type: ignore[assignment]
            set_type(field, parent, path, sql_type.item_type)
        elif isinstance(sql_type, SqlMap):
            entry_name = "".join(p[:1].upper() + p[1:] for p in name.split("_")) + "Entry"
            entry = parent.nested_type.add(name=entry_name)
            entry.options.map_entry = True
            entry_path = f"{path}.{entry_name}"
            key = entry.field.add(name="key", number=1)
            key.label = F.LABEL_OPTIONAL  # type: ignore[assignment]
            if sql_type.key_type.base not in (B.STRING, B.INTEGER, B.BIGINT, B.BOOLEAN):
                raise KsqlException(
                    f"The 'PROTOBUF' format does not support map keys of type '{sql_type.key_type}'"
                )
            set_type(key, entry, entry_path, sql_type.key_type)
            value = entry.field.add(name="value", number=2)
            value.label = F.LABEL_OPTIONAL  # type: ignore[assignment]
            if isinstance(sql_type.value_type, SqlArray | SqlMap):
                raise KsqlException(
                    f"The 'PROTOBUF' format does not support nested collections: '{sql_type}'"
                )
            set_type(value, entry, entry_path, sql_type.value_type)
            field.label = F.LABEL_REPEATED  # type: ignore[assignment]
            field.type = F.TYPE_MESSAGE  # type: ignore[assignment]
            field.type_name = entry_path
        else:
            set_type(field, parent, path, sql_type)

    for number, column in enumerate(columns, start=1):
        add_field(root, ".ConnectDefault1", column.name, column.type, number)
    fdp.dependency.extend(deps)
    return fdp


def _pool_file(fdp: descriptor_pb2.FileDescriptorProto) -> Any:
    _load_known_types()
    pool = descriptor_pool.DescriptorPool()
    default = descriptor_pool.Default()
    for dependency in fdp.dependency:
        known = descriptor_pb2.FileDescriptorProto()
        default.FindFileByName(dependency).CopyToProto(known)
        pool.Add(known)
    pool.Add(fdp)
    return pool.FindFileByName(fdp.name)


def _covers(desc: Descriptor, columns: Sequence[Column]) -> bool:
    return all(_match(desc.fields, c.name) is not None for c in columns)


def writer_schema(topic: str, columns: Sequence[Column], is_key: bool) -> tuple[int, Descriptor]:
    """The schema id and message the sink writes with (registering one when needed)."""
    latest = sr.latest(topic, is_key, fmt="serialized")
    if latest is not None and latest.schema.schema_type == "PROTOBUF":
        file_desc = file_for_id(latest.schema_id)
        desc = message_at(file_desc, [0])
        if _covers(desc, columns):
            return latest.schema_id, desc
    from confluent_kafka.schema_registry import Schema

    fdp = generate(columns)
    file_desc = _pool_file(fdp)
    text = base64.b64encode(fdp.SerializeToString()).decode()
    try:
        schema_id = sr.client().register_schema(sr.subject(topic, is_key), Schema(text, "PROTOBUF"))
    except Exception as error:
        raise KsqlException(f"Could not register schema for topic: {topic}. {error}") from error
    return schema_id, message_at(file_desc, [0])


# ---- the format -------------------------------------------------------------------------------


class ProtobufFormat(Format):
    name = "PROTOBUF"
    supported_features = frozenset({SerdeFeature.WRAP_SINGLES})
    requires_schema_registry = True

    def supports_key_type(self, sql_type: SqlType) -> bool:
        return True

    def validate(self, columns, features, is_key) -> None:
        sr.require(self.name)
        super().validate(columns, features, is_key)

    def check_columns(self, columns: Sequence[Column]) -> None:
        if columns:
            generate(columns)

    def serializer(
        self, columns, features, info: FormatInfo, is_key: bool, topic: str | None = None
    ) -> Serializer:
        if not columns:
            return lambda values: None
        names = [c.name for c in columns]
        state: dict[str, Any] = {}
        lock = threading.Lock()

        def resolve() -> tuple[bytes, Any, Callable]:
            with lock:
                if "schema" not in state:
                    if topic is None:
                        raise KsqlException("PROTOBUF serializer needs the topic name")
                    schema_id, desc = writer_schema(topic, columns, is_key)
                    prefix = sr.header(schema_id) + sr.write_message_indexes(_indexes_of(desc))
                    state["schema"] = (
                        prefix,
                        message_factory.GetMessageClass(desc),
                        struct_filler(desc),
                    )
                return state["schema"]

        if topic is not None:
            try:
                resolve()
            except Exception:  # retried (and reported) on the first record
                pass

        def write(values: Sequence[Any] | None) -> bytes | None:
            if values is None:
                return None
            prefix, cls, fill = resolve()
            msg = cls()
            fill(msg, dict(zip(names, values, strict=True)))
            return prefix + msg.SerializeToString()

        return write

    def deserializer(self, columns, features, info: FormatInfo, is_key: bool) -> Deserializer:
        if not columns:
            return lambda data: None if data is None else []
        struct = SqlStruct(tuple((c.name, c.type) for c in columns))
        readers: dict[tuple[int, tuple[int, ...]], tuple[Any, Callable]] = {}

        def read(data: bytes | None) -> list[Any] | None:
            if data is None:
                return None
            schema_id, rest = sr.split(data)
            indexes, payload = sr.read_message_indexes(rest)
            key = (schema_id, tuple(indexes))
            found = readers.get(key)
            if found is None:
                desc = message_at(file_for_id(schema_id), indexes)
                found = (message_factory.GetMessageClass(desc), struct_reader(desc, struct))
                readers[key] = found
            cls, reader = found
            msg = cls()
            msg.ParseFromString(payload)
            row = reader(msg)
            return [row[c.name] for c in columns]

        return read

    def infer(self, topic: str, is_key: bool) -> list[tuple[str, SqlType]]:
        latest = sr.latest(topic, is_key, fmt="serialized")
        if latest is None:
            raise sr.missing_schema_error(topic, is_key)
        if latest.schema.schema_type != "PROTOBUF":
            raise KsqlException(
                f"Unable to verify if the schema for topic: {topic} is compatible with ksqlDB: "
                f"the registered schema is {latest.schema.schema_type}, not PROTOBUF"
            )
        return columns_of(message_at(file_for_id(latest.schema_id), [0]))


PROTOBUF = register_format(ProtobufFormat())
