"""Protobuf schema differences, after Confluent's ``protobuf.diff`` package (Schema Registry 8.x).

The same walk as ``SchemaDiff``/``MessageSchemaDiff``/``FieldSchemaDiff``/``EnumSchemaDiff``,
over ``FileDescriptorProto``s instead of parsed ``.proto`` elements: messages and enums by name,
fields by tag, oneofs by name; every difference gets a type and a path such as
``#/TradeSettlement/3``, and a change is compatible when its type is in
:data:`COMPATIBLE_CHANGES`. Notably (and like the real registry) removing a field, renumbering
one (a removal plus an addition) and renaming one are *compatible*; changing a field's kind
(string → double), a message's package, or removing/renaming a message are not.

``compare(old, new)`` answers "can a reader with ``new`` read data written with ``old``" (the
BACKWARD direction); ``compatibility`` swaps the arguments for FORWARD.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf import descriptor_pb2

from streamlab.registry.protobuf import FieldDescriptorProto, FileDescriptorProto, scalar_name

# Difference types (the names are Confluent's, so messages read the same).
PACKAGE_CHANGED = "PACKAGE_CHANGED"
MESSAGE_ADDED = "MESSAGE_ADDED"
MESSAGE_REMOVED = "MESSAGE_REMOVED"
MESSAGE_MOVED = "MESSAGE_MOVED"
ENUM_ADDED = "ENUM_ADDED"
ENUM_REMOVED = "ENUM_REMOVED"
ENUM_CONST_ADDED = "ENUM_CONST_ADDED"
ENUM_CONST_CHANGED = "ENUM_CONST_CHANGED"
ENUM_CONST_REMOVED = "ENUM_CONST_REMOVED"
FIELD_ADDED = "FIELD_ADDED"
FIELD_REMOVED = "FIELD_REMOVED"
FIELD_NAME_CHANGED = "FIELD_NAME_CHANGED"
FIELD_KIND_CHANGED = "FIELD_KIND_CHANGED"
FIELD_SCALAR_KIND_CHANGED = "FIELD_SCALAR_KIND_CHANGED"
FIELD_NAMED_TYPE_CHANGED = "FIELD_NAMED_TYPE_CHANGED"
FIELD_NUMERIC_LABEL_CHANGED = "FIELD_NUMERIC_LABEL_CHANGED"
FIELD_STRING_OR_BYTES_LABEL_CHANGED = "FIELD_STRING_OR_BYTES_LABEL_CHANGED"
REQUIRED_FIELD_ADDED = "REQUIRED_FIELD_ADDED"
REQUIRED_FIELD_REMOVED = "REQUIRED_FIELD_REMOVED"
ONEOF_ADDED = "ONEOF_ADDED"
ONEOF_REMOVED = "ONEOF_REMOVED"
ONEOF_FIELD_ADDED = "ONEOF_FIELD_ADDED"
ONEOF_FIELD_REMOVED = "ONEOF_FIELD_REMOVED"
ONEOF_FIELD_MOVED_TO_TOP_LEVEL = "ONEOF_FIELD_MOVED_TO_TOP_LEVEL"
MULTIPLE_FIELDS_MOVED_TO_ONEOF = "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
FIELD_MOVED_TO_EXISTING_ONEOF = "FIELD_MOVED_TO_EXISTING_ONEOF"

COMPATIBLE_CHANGES = frozenset(
    {
        MESSAGE_ADDED,
        MESSAGE_MOVED,
        ENUM_ADDED,
        ENUM_REMOVED,
        ENUM_CONST_ADDED,
        ENUM_CONST_CHANGED,
        ENUM_CONST_REMOVED,
        FIELD_ADDED,
        FIELD_REMOVED,
        FIELD_NAME_CHANGED,
        FIELD_STRING_OR_BYTES_LABEL_CHANGED,
        ONEOF_ADDED,
        ONEOF_REMOVED,
        ONEOF_FIELD_ADDED,
        ONEOF_FIELD_MOVED_TO_TOP_LEVEL,
    }
)

# Descriptions with Confluent's wording; %s is filled with "new"/"old" by the caller.
_DESCRIPTIONS = {
    PACKAGE_CHANGED: "The package at '{p}' in the %s schema does not match the package in the "
    "%s schema",
    MESSAGE_REMOVED: "The %s schema is missing a MESSAGE type at path '{p}' in the %s schema",
    FIELD_KIND_CHANGED: "The type of a field at path '{p}' in the %s schema does not match the "
    "%s schema",
    FIELD_SCALAR_KIND_CHANGED: "The kind of a SCALAR field at path '{p}' in the %s schema does "
    "not match its kind in the %s schema",
    FIELD_NAMED_TYPE_CHANGED: "The type of a MESSAGE field at path '{p}' in the %s schema does "
    "not match its type in the %s schema",
    FIELD_NUMERIC_LABEL_CHANGED: "The label for a NUMERIC field at path '{p}' in the %s schema "
    "does not match its label in the %s schema",
    REQUIRED_FIELD_ADDED: "A required field  at path '{p}' in the %s schema is missing in the "
    "%s schema",
    REQUIRED_FIELD_REMOVED: "The %s schema is missing a required field at path: '{p}' in the "
    "%s schema",
    ONEOF_FIELD_REMOVED: "The %s schema is missing a oneof field at path '{p}' in the %s schema",
    ONEOF_FIELD_MOVED_TO_TOP_LEVEL: "The oneof field at path '{p}' in the %s schema was moved "
    "out of its oneof to a top-level field in the %s schema",
    MULTIPLE_FIELDS_MOVED_TO_ONEOF: "Multiple fields in the oneof at path '{p}' in the %s schema "
    "are outside a oneof in the %s schema",
    FIELD_MOVED_TO_EXISTING_ONEOF: "A field in the oneof at path '{p}' in the %s schema is "
    "outside an existing oneof in the %s schema",
}


@dataclass(frozen=True)
class Difference:
    type: str
    path: str

    @property
    def compatible(self) -> bool:
        return self.type in COMPATIBLE_CHANGES

    def error(self) -> str:
        """Confluent's ``Difference.toString()``, with ``%s`` left for reader/writer names."""
        description = _DESCRIPTIONS.get(self.type, "").replace("{p}", self.path)
        return f'{{errorType:"{self.type}", description:"{description}"}}'

    def __str__(self) -> str:
        return f"{self.type} {self.path}"


# A type's origin: LOCAL for the schema's own file, (subject, version) for a referenced file,
# None for a file with no reference (well-known types, transitive imports).
LOCAL = ("", -1)


@dataclass(frozen=True)
class ProtoFile:
    """A schema as the diff sees it: its file plus every file it imports, transitively."""

    fdp: FileDescriptorProto
    deps: tuple[tuple[FileDescriptorProto, tuple[str, int] | None], ...] = ()


@dataclass
class _TypeInfo:
    package: str
    syntax: str
    ref: tuple[str, int] | None
    proto: descriptor_pb2.DescriptorProto | descriptor_pb2.EnumDescriptorProto
    is_map: bool = False

    @property
    def is_enum(self) -> bool:
        return isinstance(self.proto, descriptor_pb2.EnumDescriptorProto)


@dataclass
class _Context:
    types: tuple[dict[str, _TypeInfo], dict[str, _TypeInfo]] = field(
        default_factory=lambda: ({}, {})
    )
    packages: list[str] = field(default_factory=lambda: ["", ""])
    syntax: list[str] = field(default_factory=lambda: ["proto3", "proto3"])
    path: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # the part of path that names types
    visiting: set = field(default_factory=set)
    diffs: list[Difference] = field(default_factory=list)

    def sub(self) -> _Context:
        return _Context(
            types=self.types,
            packages=list(self.packages),
            syntax=list(self.syntax),
            path=list(self.path),
            names=list(self.names),
            visiting=set(self.visiting),
        )

    def add(self, kind: str, *extra: str) -> None:
        self.diffs.append(Difference(kind, "#/" + "/".join([*self.path, *extra])))

    def compatible(self) -> bool:
        return all(d.compatible for d in self.diffs)

    # --- type table ------------------------------------------------------------------------

    def collect(self, file: ProtoFile, side: int) -> None:
        for dep, ref in file.deps:
            self._collect_file(dep, ref, side)
        self._collect_file(file.fdp, LOCAL, side)

    def _collect_file(self, fdp: FileDescriptorProto, ref, side: int) -> None:
        self.packages[side] = fdp.package
        self.syntax[side] = fdp.syntax or "proto2"
        prefix = fdp.package + "." if fdp.package else ""
        for msg in fdp.message_type:
            self._collect_message(msg, prefix, ref, side)
        for enum in fdp.enum_type:
            self.types[side][prefix + enum.name] = self._info(ref, enum, side)

    def _info(self, ref, proto, side: int, is_map: bool = False) -> _TypeInfo:
        return _TypeInfo(self.packages[side], self.syntax[side], ref, proto, is_map)

    def _collect_message(self, msg, prefix: str, ref, side: int) -> None:
        name = prefix + msg.name
        self.types[side][name] = self._info(ref, msg, side, msg.options.map_entry)
        for nested in msg.nested_type:
            self._collect_message(nested, name + ".", ref, side)
        for enum in msg.enum_type:
            self.types[side][f"{name}.{enum.name}"] = self._info(ref, enum, side)

    def resolve(self, name: str, side: int) -> str | None:
        """A type name as written in a field → its full name (protobuf's scoping rules)."""
        table = self.types[side]
        if name.startswith("."):
            return name[1:] if name[1:] in table else None
        scope = (
            [*self.packages[side].split("."), *self.names] if self.packages[side] else [*self.names]
        )
        while scope:
            candidate = ".".join(scope) + "." + name
            if candidate in table:
                return candidate
            scope.pop()
        return name if name in table else None

    def type_info(self, name: str, side: int) -> _TypeInfo | None:
        full = self.resolve(name, side)
        return self.types[side][full] if full is not None else None


def compare(original: ProtoFile, update: ProtoFile) -> list[Difference]:
    ctx = _Context()
    ctx.collect(original, 0)
    ctx.collect(update, 1)
    if original.fdp.package != update.fdp.package:
        ctx.add(PACKAGE_CHANGED)
    _compare_types(ctx, original.fdp, update.fdp)
    return ctx.diffs


def _messages(container) -> list:
    # Map entries are synthesized by protoc for map<K, V>; Confluent's parser never sees them.
    return (
        [m for m in container.message_type if not m.options.map_entry]
        if isinstance(container, FileDescriptorProto)
        else [m for m in container.nested_type if not m.options.map_entry]
    )


def _compare_types(ctx: _Context, original, update) -> None:
    old_msgs, new_msgs = _messages(original), _messages(update)
    old_index = {m.name: i for i, m in enumerate(old_msgs)}
    new_index = {m.name: i for i, m in enumerate(new_msgs)}
    old_by_name = {m.name: m for m in old_msgs}
    new_by_name = {m.name: m for m in new_msgs}
    for name in sorted(old_by_name.keys() | new_by_name.keys()):
        ctx.path.append(name)
        ctx.names.append(name)
        if name not in new_by_name:
            ctx.add(MESSAGE_REMOVED)
        elif name not in old_by_name:
            ctx.add(MESSAGE_ADDED)
        else:
            _compare_message(ctx, old_by_name[name], new_by_name[name])
            if old_index[name] != new_index[name]:
                # Indexes in the wire format refer to the writer's schema: moving is harmless.
                ctx.add(MESSAGE_MOVED)
        ctx.path.pop()
        ctx.names.pop()
    old_enums = {e.name: e for e in original.enum_type}
    new_enums = {e.name: e for e in update.enum_type}
    for name in sorted(old_enums.keys() | new_enums.keys()):
        ctx.path.append(name)
        ctx.names.append(name)
        if name not in new_enums:
            ctx.add(ENUM_REMOVED)
        elif name not in old_enums:
            ctx.add(ENUM_ADDED)
        else:
            _compare_enum(ctx, old_enums[name], new_enums[name])
        ctx.path.pop()
        ctx.names.pop()


def _compare_enum(ctx: _Context, original, update) -> None:
    old = {v.number: v for v in original.value}
    new = {v.number: v for v in update.value}
    for number in sorted(old.keys() | new.keys()):
        if number not in new:
            ctx.add(ENUM_CONST_REMOVED, str(number))
        elif number not in old:
            ctx.add(ENUM_CONST_ADDED, str(number))
        elif old[number].name != new[number].name:
            ctx.add(ENUM_CONST_CHANGED, str(number))


@dataclass
class _Fields:
    """A message's fields by tag, each tag's (real) oneof, and the oneofs by name."""

    by_tag: dict[int, FieldDescriptorProto]
    oneof_of: dict[int, str]
    oneofs: dict[str, list[FieldDescriptorProto]]
    order: list[str]  # oneof names in declaration order

    @classmethod
    def of(cls, msg) -> _Fields:
        by_tag, oneof_of, oneofs, order = {}, {}, {}, []
        synthetic = {f.oneof_index for f in msg.field if f.proto3_optional}
        for index, decl in enumerate(msg.oneof_decl):
            if index not in synthetic:
                oneofs[decl.name] = []
                order.append(decl.name)
        for f in msg.field:
            by_tag[f.number] = f
            if f.HasField("oneof_index") and f.oneof_index not in synthetic:
                name = msg.oneof_decl[f.oneof_index].name
                oneof_of[f.number] = name
                oneofs[name].append(f)
        return cls(by_tag, oneof_of, oneofs, order)


def _compare_message(ctx: _Context, original, update) -> None:
    key = (ctx.packages[0], tuple(ctx.names))
    if key not in ctx.visiting:
        ctx.visiting.add(key)
        try:
            _compare_fields(ctx, _Fields.of(original), _Fields.of(update))
        finally:
            ctx.visiting.discard(key)
    _compare_types(ctx, original, update)


def _compare_fields(ctx: _Context, old: _Fields, new: _Fields) -> None:
    # A removed oneof none of whose members survive is one (compatible) deletion.
    deleted_oneofs = {
        name
        for name, members in old.oneofs.items()
        if name not in new.oneofs and not any(f.number in new.by_tag for f in members)
    }
    # Fields that were independent and now share a oneof: old data may set several of them.
    for name in new.order:
        groups, moved_in = set(), 0
        for f in new.oneofs[name]:
            if f.number in old.oneof_of:
                groups.add("oneof:" + old.oneof_of[f.number])
            elif f.number in old.by_tag:
                groups.add(f"field:{f.number}")
                moved_in += 1
        if len(groups) > 1:
            ctx.add(
                MULTIPLE_FIELDS_MOVED_TO_ONEOF if moved_in > 1 else FIELD_MOVED_TO_EXISTING_ONEOF,
                name,
            )
    for name in sorted(old.oneofs.keys() | new.oneofs.keys()):
        if name not in new.oneofs:
            ctx.add(ONEOF_REMOVED, name)
        elif name not in old.oneofs:
            ctx.add(ONEOF_ADDED, name)
    for tag in sorted(old.by_tag.keys() | new.by_tag.keys()):
        before, after = old.by_tag.get(tag), new.by_tag.get(tag)
        old_oneof, new_oneof = old.oneof_of.get(tag), new.oneof_of.get(tag)
        if after is None:
            if old_oneof is not None:
                if old_oneof not in deleted_oneofs:
                    ctx.add(ONEOF_FIELD_REMOVED, old_oneof, str(tag))
            else:
                required = before.label == FieldDescriptorProto.LABEL_REQUIRED
                ctx.add(REQUIRED_FIELD_REMOVED if required else FIELD_REMOVED, str(tag))
        elif before is None:
            if new_oneof is not None:
                ctx.add(ONEOF_FIELD_ADDED, new_oneof, str(tag))
            else:
                required = after.label == FieldDescriptorProto.LABEL_REQUIRED
                ctx.add(REQUIRED_FIELD_ADDED if required else FIELD_ADDED, str(tag))
        else:
            if old_oneof is not None and new_oneof is None:
                ctx.add(ONEOF_FIELD_MOVED_TO_TOP_LEVEL, str(tag))
            where = [new_oneof, str(tag)] if new_oneof is not None else [str(tag)]
            ctx.path.extend(where)
            _compare_field(ctx, before, after, old_oneof is not None, new_oneof is not None)
            del ctx.path[-len(where) :]


def _label(ctx: _Context, field_: FieldDescriptorProto, side: int, in_oneof: bool) -> str | None:
    """The label as Confluent's parser sees it: proto3 singular fields and oneof members have
    none, explicit ``optional`` in proto3 is OPTIONAL."""
    if field_.proto3_optional:
        return "OPTIONAL"
    if field_.label == FieldDescriptorProto.LABEL_REPEATED:
        return "REPEATED"
    if in_oneof or ctx.syntax[side] != "proto2":
        return None
    return "REQUIRED" if field_.label == FieldDescriptorProto.LABEL_REQUIRED else "OPTIONAL"


def _compare_field(ctx: _Context, before, after, old_in_oneof: bool, new_in_oneof: bool) -> None:
    if before.name != after.name:
        ctx.add(FIELD_NAME_CHANGED)
    _compare_labels_and_types(
        ctx,
        _label(ctx, before, 0, old_in_oneof),
        _label(ctx, after, 1, new_in_oneof),
        _type(before),
        _type(after),
    )


# A field's type: ("scalar", "int32") or ("named", ".pkg.Msg") or ("map", key, value).
def _type(field_: FieldDescriptorProto) -> tuple:
    scalar = scalar_name(field_)
    return ("scalar", scalar) if scalar else ("named", field_.type_name)


def _resolve_map(ctx: _Context, kind: tuple, side: int) -> tuple:
    if kind[0] != "named":
        return kind
    info = ctx.type_info(kind[1], side)
    if info is None or not info.is_map:
        return kind
    fields = {f.number: f for f in info.proto.field}
    return ("map", _type(fields[1]), _type(fields[2]))


def _kind(ctx: _Context, kind: tuple, side: int) -> str:
    if kind[0] in ("scalar", "map"):
        return kind[0].upper()
    info = ctx.type_info(kind[1], side)
    return "SCALAR" if info is not None and info.is_enum else "MESSAGE"


# Scalars that share a wire encoding (protobuf's "updating a message type" rules).
_SCALAR_KINDS = {
    **dict.fromkeys(("int32", "int64", "uint32", "uint64", "bool"), "GENERAL_NUMBER"),
    **dict.fromkeys(("sint32", "sint64"), "SIGNED_NUMBER"),
    **dict.fromkeys(("string", "bytes"), "STRING_OR_BYTES"),
    **dict.fromkeys(("fixed32", "sfixed32"), "FIXED32"),
    **dict.fromkeys(("fixed64", "sfixed64"), "FIXED64"),
    "float": "FLOAT",
    "double": "DOUBLE",
}


def _scalar_kind(ctx: _Context, kind: tuple, side: int) -> str:
    if kind[0] == "named":  # an enum
        return "GENERAL_NUMBER"
    return _SCALAR_KINDS[kind[1]]


def _compare_labels_and_types(ctx: _Context, old_label, new_label, old: tuple, new: tuple) -> None:
    old, new = _resolve_map(ctx, old, 0), _resolve_map(ctx, new, 1)
    old_kind, new_kind = _kind(ctx, old, 0), _kind(ctx, new, 1)
    if old_kind != new_kind:
        ctx.add(FIELD_KIND_CHANGED)
    elif old_kind == "SCALAR":
        old_scalar, new_scalar = _scalar_kind(ctx, old, 0), _scalar_kind(ctx, new, 1)
        if old_scalar != new_scalar:
            ctx.add(FIELD_SCALAR_KIND_CHANGED)
        elif old_label is not None and new_label is not None and old_label != new_label:
            if old_scalar == "STRING_OR_BYTES":
                ctx.add(FIELD_STRING_OR_BYTES_LABEL_CHANGED)
            else:
                ctx.add(FIELD_NUMERIC_LABEL_CHANGED)
    elif old_kind == "MESSAGE":
        _compare_message_types(ctx, old[1], new[1])
    else:  # MAP
        _compare_labels_and_types(ctx, None, None, old[1], new[1])
        _compare_labels_and_types(ctx, None, None, old[2], new[2])


def _local_name(full: str, package: str) -> str:
    return full[len(package) + 1 :] if package and full.startswith(package + ".") else full


def _compare_message_types(ctx: _Context, old_name: str, new_name: str) -> None:
    old_full, new_full = ctx.resolve(old_name, 0), ctx.resolve(new_name, 1)
    if old_full is None or new_full is None:
        if old_name.lstrip(".") != new_name.lstrip("."):
            ctx.add(FIELD_NAMED_TYPE_CHANGED)
        return
    old_info, new_info = ctx.types[0][old_full], ctx.types[1][new_full]
    old_local = _local_name(old_full, old_info.package)
    if old_local != _local_name(new_full, new_info.package):
        ctx.add(FIELD_NAMED_TYPE_CHANGED)
        return
    if old_info.ref is not None and new_info.ref is not None and old_info.ref == new_info.ref:
        return  # the same file on both sides (local types are compared by name elsewhere)
    sub = ctx.sub()
    sub.packages = [old_info.package, new_info.package]
    sub.syntax = [old_info.syntax, new_info.syntax]
    sub.path = old_local.split(".")
    sub.names = list(sub.path)
    _compare_message(sub, old_info.proto, new_info.proto)
    ctx.diffs.extend(sub.diffs)
    if not sub.compatible():
        ctx.add(FIELD_NAMED_TYPE_CHANGED)


def incompatible(differences: Iterable[Difference]) -> list[Difference]:
    return [d for d in differences if not d.compatible]
