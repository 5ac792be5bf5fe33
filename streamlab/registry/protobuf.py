"""Protobuf schemas: parse .proto text or a base64 FileDescriptorProto, normalise, print.

confluent-kafka's ProtobufSerializer registers the base64 of a serialized FileDescriptorProto and
reads schemas back with ``format=serialized``; ksqlDB, the Java serdes and people register
``.proto`` text. Every schema becomes a ``FileDescriptorProto`` here, so both forms dedupe, get
compared and can be answered in either form.

Text is compiled by the protoc bundled in grpcio-tools, run as a child process: a parser with
protoc's exact grammar and error messages, that can never take the registry down on a hostile
input (it is C++), and costs a few tens of milliseconds per new schema (results are cached by
the caller). Descriptors become text with :func:`to_text`, a small printer that round-trips
through protoc (tests check it), in the style Confluent answers: types fully qualified.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping

from google.protobuf import descriptor_pb2, descriptor_pool, text_encoding, text_format
from google.protobuf.message import DecodeError

log = logging.getLogger("streamlab.registry")

FileDescriptorProto = descriptor_pb2.FileDescriptorProto
FieldDescriptorProto = descriptor_pb2.FieldDescriptorProto

PROTOC_TIMEOUT_S = 30.0

# Files every Confluent client resolves by itself (never sent as references when
# skip.known.types is on, the default): google/protobuf, google/type and confluent.
_BUILTIN_MODULES = (
    *(
        f"google.protobuf.{m}_pb2"
        for m in [
            "any",
            "api",
            "descriptor",
            "duration",
            "empty",
            "field_mask",
            "source_context",
            "struct",
            "timestamp",
            "type",
            "wrappers",
        ]
    ),
    *(
        f"google.type.{m}_pb2"
        for m in [
            "calendar_period",
            "color",
            "date",
            "datetime",
            "dayofweek",
            "decimal",
            "expr",
            "fraction",
            "interval",
            "latlng",
            "localized_text",
            "money",
            "month",
            "phone_number",
            "postal_address",
            "quaternion",
            "timeofday",
        ]
    ),
    "confluent_kafka.schema_registry.confluent.meta_pb2",
    "confluent_kafka.schema_registry.confluent.type.decimal_pb2",
    "confluent_kafka.schema_registry.confluent.types.decimal_pb2",
    "confluent_kafka.schema_registry.confluent.type.variant_pb2",
)

_BUILTIN_PREFIXES = ("google/protobuf/", "google/type/", "confluent/")

# What a base64 FileDescriptorProto looks like; .proto text always has spaces, ';' or '{'.
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


# protoc's own log lines ("W0000 00:00:... parser.cc:659] No syntax specified ..."), not errors.
_ABSL_LOG = re.compile(r"^[IWEF]\d{4} ")


class ProtobufError(ValueError):
    """The schema is not valid Protobuf; the message says why, like protoc would."""


def is_builtin(name: str) -> bool:
    return name.startswith(_BUILTIN_PREFIXES)


@functools.cache
def builtin_files() -> dict[str, FileDescriptorProto]:
    files: dict[str, FileDescriptorProto] = {}
    for module_name in _BUILTIN_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an optional package (googleapis-common-protos) is missing
            continue
        fdp = FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        files[fdp.name] = fdp
    return files


# --- parsing -----------------------------------------------------------------------------------


def parse(schema: str, deps: Mapping[str, FileDescriptorProto]) -> FileDescriptorProto:
    """Text or base64 → a FileDescriptorProto whose imports all resolve.

    ``deps`` maps import names (a reference's ``name``) to the referenced files; builtins are
    added here. Raises :class:`ProtobufError`.
    """
    compact = serialized_form(schema)
    if compact is None:  # text, or base64-looking text such as "hello": protoc says what's wrong
        return _compile_text(schema, deps)
    fdp = _from_serialized(compact)
    check_builds(fdp, deps)
    return fdp


def serialized_form(schema: str) -> str | None:
    """The base64 (without whitespace) if ``schema`` is a serialized FileDescriptorProto."""
    compact = "".join(schema.split())
    if _BASE64.match(compact) and _from_serialized(compact) is not None:
        return compact
    return None


def _from_serialized(compact: str) -> FileDescriptorProto | None:
    try:
        fdp = FileDescriptorProto.FromString(base64.b64decode(compact, validate=True))
    except (binascii.Error, ValueError, DecodeError):
        return None
    if not (fdp.message_type or fdp.enum_type or fdp.service or fdp.extension):
        return None
    return fdp


def check_builds(fdp: FileDescriptorProto, deps: Mapping[str, FileDescriptorProto]) -> None:
    """Build the file in a fresh descriptor pool: every type it uses must resolve."""
    pool = descriptor_pool.DescriptorPool()
    files = {**builtin_files(), **deps}
    added: set[str] = set()

    def add(name: str, file: FileDescriptorProto, stack: tuple[str, ...]) -> None:
        if name in added:
            return
        if name in stack:
            raise ProtobufError(f"import cycle through {name}")
        for dep in file.dependency:
            if dep not in files:
                raise ProtobufError(
                    f'{name}: import "{dep}" was not found (no reference named '
                    "so, and not a well-known type)"
                )
            add(dep, files[dep], (*stack, name))
        copy = FileDescriptorProto()
        copy.CopyFrom(file)
        copy.name = name
        try:
            pool.Add(copy)
        except (TypeError, ValueError) as e:
            raise ProtobufError(str(e)) from None
        added.add(name)

    name = fdp.name or "schema.proto"
    add(name if name not in files else f"streamlab/{name}", fdp, ())


def _compile_text(text: str, deps: Mapping[str, FileDescriptorProto]) -> FileDescriptorProto:
    files = {**builtin_files(), **deps}
    main = "schema.proto"
    n = 0
    while main in files:
        n += 1
        main = f"schema{n}.proto"
    with tempfile.TemporaryDirectory(prefix="streamlab-protoc-") as tmp:
        src = os.path.join(tmp, "src")
        os.mkdir(src)
        with open(os.path.join(src, main), "w", encoding="utf-8") as f:
            f.write(text)
        depset = descriptor_pb2.FileDescriptorSet()
        for name, file in files.items():
            copy = depset.file.add()
            copy.CopyFrom(file)
            copy.name = name
        depset_path = os.path.join(tmp, "deps.pb")
        with open(depset_path, "wb") as f:
            f.write(depset.SerializeToString())
        out = os.path.join(tmp, "out.pb")
        # protoc.main, not `-m grpc_tools.protoc`: that entry point adds its own include path,
        # which would clash with the well-known files given in deps.pb.
        code = "import sys; from grpc_tools import protoc; sys.exit(protoc.main(sys.argv))"
        args = [
            sys.executable,
            "-c",
            code,
            f"--descriptor_set_in={depset_path}",
            f"--proto_path={src}",
            f"--descriptor_set_out={out}",
            main,
        ]
        try:
            proc = subprocess.run(
                args, capture_output=True, timeout=PROTOC_TIMEOUT_S, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise ProtobufError(f"protoc did not finish within {PROTOC_TIMEOUT_S:.0f}s") from None
        if proc.returncode != 0 or not os.path.exists(out):
            stderr = proc.stderr.decode("utf-8", "replace").replace(src + os.sep, "")
            raise ProtobufError(_protoc_message(stderr, main))
        with open(out, "rb") as f:
            result = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    fdp = result.file[-1]
    fdp.ClearField("name")
    return fdp


def _protoc_message(stderr: str, main: str) -> str:
    lines = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line or "warning:" in line.lower() or _ABSL_LOG.match(line):
            continue
        if line.startswith(main + ":"):
            line = "line " + line[len(main) + 1 :]
        lines.append(line)
    return "; ".join(lines) or "protoc rejected the schema"


# --- identity ----------------------------------------------------------------------------------


def canonical_bytes(fdp: FileDescriptorProto, normalize: bool = False) -> bytes:
    """What makes two registrations "the same schema": the descriptor without its file name,
    source info and the json_names protoc fills in; ``normalize`` also sorts declarations."""
    f = FileDescriptorProto()
    f.CopyFrom(fdp)
    f.ClearField("name")
    f.ClearField("source_code_info")
    if f.syntax == "proto2":
        f.ClearField("syntax")
    for msg in f.message_type:
        _tidy_message(msg, normalize)
    for enum in f.enum_type:
        _tidy_enum(enum, normalize)
    for ext in f.extension:
        _tidy_field(ext)
    for svc in f.service:
        _drop_empty_options(svc)
        for m in svc.method:
            _drop_empty_options(m)
    _drop_empty_options(f)
    if normalize:
        _sort(f.message_type, key=lambda m: m.name)
        _sort(f.enum_type, key=lambda e: e.name)
        _sort(f.service, key=lambda s: s.name)
        deps = sorted(f.dependency)
        public = {fdp.dependency[i] for i in fdp.public_dependency}
        weak = {fdp.dependency[i] for i in fdp.weak_dependency}
        f.ClearField("dependency")
        f.ClearField("public_dependency")
        f.ClearField("weak_dependency")
        f.dependency.extend(deps)
        f.public_dependency.extend(i for i, d in enumerate(deps) if d in public)
        f.weak_dependency.extend(i for i, d in enumerate(deps) if d in weak)
    return f.SerializeToString(deterministic=True)


def _tidy_message(msg: descriptor_pb2.DescriptorProto, normalize: bool) -> None:
    for field in (*msg.field, *msg.extension):
        _tidy_field(field)
    for nested in msg.nested_type:
        _tidy_message(nested, normalize)
    for enum in msg.enum_type:
        _tidy_enum(enum, normalize)
    for oneof in msg.oneof_decl:
        _drop_empty_options(oneof)
    _drop_empty_options(msg)
    if normalize:
        _sort(msg.field, key=lambda f: f.number)
        _sort(msg.nested_type, key=lambda m: m.name)
        _sort(msg.enum_type, key=lambda e: e.name)


def _tidy_field(field: FieldDescriptorProto) -> None:
    if field.HasField("json_name") and field.json_name == json_name(field.name):
        field.ClearField("json_name")
    _drop_empty_options(field)


def _tidy_enum(enum: descriptor_pb2.EnumDescriptorProto, normalize: bool) -> None:
    _drop_empty_options(enum)
    for value in enum.value:
        _drop_empty_options(value)
    if normalize:
        _sort(enum.value, key=lambda v: v.number)


def _drop_empty_options(proto) -> None:
    if proto.HasField("options") and proto.options.ByteSize() == 0:
        proto.ClearField("options")


def _sort(repeated, key) -> None:
    items = sorted((type(x).FromString(x.SerializeToString()) for x in repeated), key=key)
    del repeated[:]
    repeated.extend(items)


def json_name(name: str) -> str:
    """protoc's default json_name: underscores dropped, the next letter upper-cased."""
    out, upper = [], False
    for c in name:
        if c == "_":
            upper = True
        elif upper:
            out.append(c.upper())
            upper = False
        else:
            out.append(c)
    return "".join(out)


def to_serialized(fdp: FileDescriptorProto) -> str:
    return base64.standard_b64encode(fdp.SerializeToString()).decode("ascii")


# --- printing ----------------------------------------------------------------------------------

_SCALARS = {
    FieldDescriptorProto.TYPE_DOUBLE: "double",
    FieldDescriptorProto.TYPE_FLOAT: "float",
    FieldDescriptorProto.TYPE_INT64: "int64",
    FieldDescriptorProto.TYPE_UINT64: "uint64",
    FieldDescriptorProto.TYPE_INT32: "int32",
    FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    FieldDescriptorProto.TYPE_FIXED32: "fixed32",
    FieldDescriptorProto.TYPE_BOOL: "bool",
    FieldDescriptorProto.TYPE_STRING: "string",
    FieldDescriptorProto.TYPE_BYTES: "bytes",
    FieldDescriptorProto.TYPE_UINT32: "uint32",
    FieldDescriptorProto.TYPE_SFIXED32: "sfixed32",
    FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    FieldDescriptorProto.TYPE_SINT32: "sint32",
    FieldDescriptorProto.TYPE_SINT64: "sint64",
}

_MAX_FIELD_NUMBER = 536870911  # 2^29 - 1; message ranges store end exclusive
_MAX_ENUM_NUMBER = 2147483647  # enum reserved ranges store end inclusive


def scalar_name(field: FieldDescriptorProto) -> str | None:
    return _SCALARS.get(field.type)


def to_text(fdp: FileDescriptorProto) -> str:
    """Print a FileDescriptorProto as .proto source (what the default ``format`` answers)."""
    return _Printer(fdp).file()


class _Printer:
    def __init__(self, fdp: FileDescriptorProto) -> None:
        self.fdp = fdp
        self.syntax = fdp.syntax or "proto2"
        self.lines: list[str] = []

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text if text else "")

    def file(self) -> str:
        f = self.fdp
        if self.syntax == "editions":
            edition = descriptor_pb2.Edition.Name(f.edition).removeprefix("EDITION_")
            self.emit(0, f'edition = "{edition}";')
        else:
            self.emit(0, f'syntax = "{self.syntax}";')
        if f.package:
            self.emit(0, f"package {f.package};")
        if f.dependency or f.option_dependency:
            self.emit(0, "")
        for i, dep in enumerate(f.dependency):
            kind = (
                "public " if i in f.public_dependency else "weak " if i in f.weak_dependency else ""
            )
            self.emit(0, f'import {kind}"{_quote(dep)}";')
        for dep in f.option_dependency:
            self.emit(0, f'import option "{_quote(dep)}";')
        opts = _options(f.options) if f.HasField("options") else []
        if opts:
            self.emit(0, "")
            for name, value in opts:
                self.emit(0, f"option {name} = {value};")
        for msg in f.message_type:
            self.emit(0, "")
            self.message(msg, 0)
        for enum in f.enum_type:
            self.emit(0, "")
            self.enum(enum, 0)
        self.extensions(f.extension, 0, separate=True)
        for svc in f.service:
            self.emit(0, "")
            self.service(svc)
        return "\n".join(self.lines) + "\n"

    def message(self, msg: descriptor_pb2.DescriptorProto, depth: int, head: str = "") -> None:
        self.emit(depth, head or f"message {msg.name} {{")
        inner = depth + 1
        for name, value in _options(msg.options) if msg.HasField("options") else []:
            self.emit(inner, f"option {name} = {value};")
        if msg.reserved_range:
            ranges = ", ".join(
                _range(r.start, r.end - 1, _MAX_FIELD_NUMBER) for r in msg.reserved_range
            )
            self.emit(inner, f"reserved {ranges};")
        if msg.reserved_name:
            self.emit(inner, "reserved " + ", ".join(f'"{n}"' for n in msg.reserved_name) + ";")
        entries = {n.name: n for n in msg.nested_type if n.options.map_entry}
        groups = {
            f.type_name.rsplit(".", 1)[-1]
            for f in msg.field
            if f.type == FieldDescriptorProto.TYPE_GROUP
        }
        synthetic = {f.oneof_index for f in msg.field if f.proto3_optional}
        printed_oneofs: set[int] = set()
        for field in msg.field:
            if field.HasField("oneof_index") and field.oneof_index not in synthetic:
                index = field.oneof_index
                if index in printed_oneofs:
                    continue
                printed_oneofs.add(index)
                oneof = msg.oneof_decl[index]
                self.emit(inner, f"oneof {oneof.name} {{")
                for name, value in _options(oneof.options) if oneof.HasField("options") else []:
                    self.emit(inner + 1, f"option {name} = {value};")
                for member in msg.field:
                    if member.HasField("oneof_index") and member.oneof_index == index:
                        self.field(member, msg, entries, inner + 1, in_oneof=True)
                self.emit(inner, "}")
            else:
                self.field(field, msg, entries, inner)
        for nested in msg.nested_type:
            if nested.name not in entries and nested.name not in groups:
                self.message(nested, inner)
        for enum in msg.enum_type:
            self.enum(enum, inner)
        for r in msg.extension_range:
            self.emit(inner, f"extensions {_range(r.start, r.end - 1, _MAX_FIELD_NUMBER)};")
        self.extensions(msg.extension, inner)
        self.emit(depth, "}")

    def field(self, field, msg, entries, depth: int, in_oneof: bool = False) -> None:
        label = "" if in_oneof else self.label(field)
        local = field.type_name.rsplit(".", 1)[-1]
        if field.type == FieldDescriptorProto.TYPE_MESSAGE and local in entries:
            entry = entries[local]
            key = next(f for f in entry.field if f.number == 1)
            value = next(f for f in entry.field if f.number == 2)
            kind = f"map<{self.type_of(key)}, {self.type_of(value)}>"
            label = ""
        else:
            kind = self.type_of(field)
        opts = self.field_options(field)
        suffix = f" [{', '.join(opts)}]" if opts else ""
        if field.type == FieldDescriptorProto.TYPE_GROUP:
            group = next(n for n in msg.nested_type if n.name == local)
            self.message(group, depth, head=f"{label}group {local} = {field.number}{suffix} {{")
            return
        self.emit(depth, f"{label}{kind} {field.name} = {field.number}{suffix};")

    def label(self, field: FieldDescriptorProto) -> str:
        if field.label == FieldDescriptorProto.LABEL_REPEATED:
            return "repeated "
        if self.syntax == "proto2" and not field.HasField("oneof_index"):
            return (
                "required " if field.label == FieldDescriptorProto.LABEL_REQUIRED else "optional "
            )
        if self.syntax == "proto3" and field.proto3_optional:
            return "optional "
        return ""

    @staticmethod
    def type_of(field: FieldDescriptorProto) -> str:
        return _SCALARS.get(field.type) or field.type_name

    def field_options(self, field: FieldDescriptorProto) -> list[str]:
        opts = []
        if field.HasField("default_value"):
            opts.append(f"default = {self.default(field)}")
        if field.HasField("json_name") and field.json_name != json_name(field.name):
            opts.append(f'json_name = "{_quote(field.json_name)}"')
        if field.HasField("options"):
            opts.extend(f"{name} = {value}" for name, value in _options(field.options))
        return opts

    @staticmethod
    def default(field: FieldDescriptorProto) -> str:
        if field.type == FieldDescriptorProto.TYPE_STRING:
            return f'"{_quote(field.default_value)}"'
        if field.type == FieldDescriptorProto.TYPE_BYTES:
            return f'"{field.default_value}"'  # descriptors keep bytes defaults C-escaped
        return field.default_value

    def enum(self, enum: descriptor_pb2.EnumDescriptorProto, depth: int) -> None:
        self.emit(depth, f"enum {enum.name} {{")
        inner = depth + 1
        for name, value in _options(enum.options) if enum.HasField("options") else []:
            self.emit(inner, f"option {name} = {value};")
        if enum.reserved_range:
            ranges = ", ".join(
                _range(r.start, r.end, _MAX_ENUM_NUMBER) for r in enum.reserved_range
            )
            self.emit(inner, f"reserved {ranges};")
        if enum.reserved_name:
            self.emit(inner, "reserved " + ", ".join(f'"{n}"' for n in enum.reserved_name) + ";")
        for value in enum.value:
            opts = _options(value.options) if value.HasField("options") else []
            suffix = " [" + ", ".join(f"{n} = {v}" for n, v in opts) + "]" if opts else ""
            self.emit(inner, f"{value.name} = {value.number}{suffix};")
        self.emit(depth, "}")

    def extensions(self, fields, depth: int, separate: bool = False) -> None:
        by_extendee: dict[str, list] = {}
        for field in fields:
            by_extendee.setdefault(field.extendee, []).append(field)
        for extendee, members in by_extendee.items():
            if separate:
                self.emit(depth, "")
            self.emit(depth, f"extend {extendee} {{")
            for field in members:
                self.field(field, descriptor_pb2.DescriptorProto(), {}, depth + 1)
            self.emit(depth, "}")

    def service(self, svc: descriptor_pb2.ServiceDescriptorProto) -> None:
        self.emit(0, f"service {svc.name} {{")
        for name, value in _options(svc.options) if svc.HasField("options") else []:
            self.emit(1, f"option {name} = {value};")
        for m in svc.method:
            inp = ("stream " if m.client_streaming else "") + m.input_type
            out = ("stream " if m.server_streaming else "") + m.output_type
            opts = _options(m.options) if m.HasField("options") else []
            if not opts:
                self.emit(1, f"rpc {m.name}({inp}) returns ({out});")
                continue
            self.emit(1, f"rpc {m.name}({inp}) returns ({out}) {{")
            for name, value in opts:
                self.emit(2, f"option {name} = {value};")
            self.emit(1, "}")
        self.emit(0, "}")


def _range(start: int, end: int, maximum: int) -> str:
    if start == end:
        return str(start)
    return f"{start} to {'max' if end >= maximum else end}"


def _quote(text: str) -> str:
    return text_encoding.CEscape(text, as_utf8=True)


def _options(options) -> list[tuple[str, str]]:
    """(name, value) pairs for every set option, nested messages flattened with dots, custom
    (extension) options in parentheses; uninterpreted options are protoc's own business."""
    out: list[tuple[str, str]] = []
    for fd, value in options.ListFields():
        if fd.name == "uninterpreted_option":
            continue
        name = f"({fd.full_name})" if fd.is_extension else fd.name
        values = value if _is_repeated(fd) else [value]
        for v in values:
            if fd.message_type is not None and not fd.is_extension:
                out.extend((f"{name}.{n}", val) for n, val in _options(v))
            elif fd.message_type is not None:
                out.append((name, "{ " + text_format.MessageToString(v, as_one_line=True) + " }"))
            else:
                out.append((name, _option_value(fd, v)))
    return out


def _is_repeated(fd) -> bool:
    is_repeated = getattr(fd, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return fd.label == fd.LABEL_REPEATED


def _option_value(fd, value) -> str:
    if fd.enum_type is not None:
        number = fd.enum_type.values_by_number.get(value)
        return number.name if number is not None else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{_quote(value)}"'
    if isinstance(value, bytes):
        return f'"{text_encoding.CEscape(value, as_utf8=False)}"'
    return repr(value) if isinstance(value, float) else str(value)
