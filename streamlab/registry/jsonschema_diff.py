"""JSON Schema differences, after Confluent's ``json.diff`` package (Schema Registry 8.x).

:func:`compare` walks two schemas loaded by :mod:`jsonschema_load` (the shapes everit gives
Confluent) like ``SchemaDiff`` does: every difference gets a type and a path such as
``#/properties/amount``, and it is compatible when its type is in :data:`COMPATIBLE_CHANGES`
(Confluent's default, STRICT policy). The table of Confluent's own diff examples was checked
against this port while writing it.

Beware what that means for an *open* object (no ``additionalProperties: false``): adding even
an optional property is refused, since old data may carry that name with any value. Closed
objects accept new optional properties and refuse new required ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streamlab.registry.jsonschema_load import MISSING, Node, UnresolvableRef


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


COMPATIBLE_CHANGES = _names(
    """
    ID_CHANGED DESCRIPTION_CHANGED TITLE_CHANGED DEFAULT_CHANGED SCHEMA_REMOVED TYPE_EXTENDED
    MAX_LENGTH_INCREASED MAX_LENGTH_REMOVED MIN_LENGTH_DECREASED MIN_LENGTH_REMOVED
    PATTERN_REMOVED MAXIMUM_INCREASED MAXIMUM_REMOVED MINIMUM_DECREASED MINIMUM_REMOVED
    EXCLUSIVE_MAXIMUM_INCREASED EXCLUSIVE_MAXIMUM_REMOVED EXCLUSIVE_MINIMUM_DECREASED
    EXCLUSIVE_MINIMUM_REMOVED MULTIPLE_OF_REDUCED MULTIPLE_OF_REMOVED
    REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED REQUIRED_ATTRIBUTE_REMOVED DEPENDENCY_ARRAY_NARROWED
    DEPENDENCY_ARRAY_REMOVED DEPENDENCY_SCHEMA_REMOVED MAX_PROPERTIES_INCREASED
    MAX_PROPERTIES_REMOVED MIN_PROPERTIES_DECREASED MIN_PROPERTIES_REMOVED
    ADDITIONAL_PROPERTIES_ADDED ADDITIONAL_PROPERTIES_EXTENDED UNEVALUATED_PROPERTIES_ADDED
    UNEVALUATED_PROPERTIES_EXTENDED PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
    PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
    PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
    PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL MAX_ITEMS_INCREASED
    MAX_ITEMS_REMOVED MIN_ITEMS_DECREASED MIN_ITEMS_REMOVED MAX_CONTAINS_INCREASED
    MAX_CONTAINS_REMOVED MIN_CONTAINS_DECREASED MIN_CONTAINS_REMOVED UNIQUE_ITEMS_REMOVED
    ADDITIONAL_ITEMS_ADDED ADDITIONAL_ITEMS_EXTENDED UNEVALUATED_ITEMS_ADDED
    UNEVALUATED_ITEMS_EXTENDED ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    ITEM_ADDED_TO_CLOSED_CONTENT_MODEL ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
    ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL ENUM_ARRAY_EXTENDED
    COMBINED_TYPE_EXTENDED PRODUCT_TYPE_NARROWED SUM_TYPE_EXTENDED NOT_TYPE_NARROWED
    """
)

# Description templates by family (Confluent's Difference.error()); %s = reader/writer names.
_KEYWORD_ADDED_OR_REMOVED = _names(
    """
    MAXIMUM_ADDED MINIMUM_ADDED EXCLUSIVE_MAXIMUM_ADDED EXCLUSIVE_MINIMUM_ADDED
    MULTIPLE_OF_ADDED MAX_LENGTH_ADDED MIN_LENGTH_ADDED PATTERN_ADDED REQUIRED_ATTRIBUTE_ADDED
    MAX_PROPERTIES_ADDED MIN_PROPERTIES_ADDED DEPENDENCY_ARRAY_ADDED DEPENDENCY_SCHEMA_ADDED
    MAX_ITEMS_ADDED MIN_ITEMS_ADDED MAX_CONTAINS_ADDED MIN_CONTAINS_ADDED UNIQUE_ITEMS_ADDED
    ADDITIONAL_ITEMS_REMOVED ADDITIONAL_PROPERTIES_REMOVED UNEVALUATED_PROPERTIES_REMOVED
    UNEVALUATED_ITEMS_REMOVED
    """
)
_VALUE_INCREASED = _names(
    """
    MIN_LENGTH_INCREASED MINIMUM_INCREASED EXCLUSIVE_MINIMUM_INCREASED MIN_PROPERTIES_INCREASED
    MULTIPLE_OF_EXPANDED MIN_ITEMS_INCREASED MIN_CONTAINS_INCREASED
    """
)
_VALUE_DECREASED = _names(
    """
    MAX_LENGTH_DECREASED MAXIMUM_DECREASED MAX_ITEMS_DECREASED MAX_CONTAINS_DECREASED
    EXCLUSIVE_MAXIMUM_DECREASED MAX_PROPERTIES_DECREASED
    """
)
_VALUE_CHANGED = _names(
    """
    PATTERN_CHANGED MULTIPLE_OF_CHANGED DEPENDENCY_ARRAY_CHANGED
    """
)
_TYPE_NARROWED = _names(
    """
    ADDITIONAL_ITEMS_NARROWED ENUM_ARRAY_NARROWED SUM_TYPE_NARROWED
    ADDITIONAL_PROPERTIES_NARROWED UNEVALUATED_PROPERTIES_NARROWED UNEVALUATED_ITEMS_NARROWED
    """
)
_TYPE_CHANGED = _names(
    """
    TYPE_CHANGED TYPE_NARROWED COMBINED_TYPE_CHANGED COMBINED_TYPE_SUBSCHEMAS_CHANGED
    ENUM_ARRAY_CHANGED
    """
)
_TYPE_EXTENDED = _names(
    """
    DEPENDENCY_ARRAY_EXTENDED PRODUCT_TYPE_EXTENDED SUM_TYPE_EXTENDED NOT_TYPE_EXTENDED
    """
)
_ADDED_TO_OPEN = _names(
    """
    REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL
    OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL ITEM_ADDED_TO_OPEN_CONTENT_MODEL
    """
)


@dataclass(frozen=True)
class Difference:
    type: str
    path: str

    @property
    def compatible(self) -> bool:
        return self.type in COMPATIBLE_CHANGES

    def description(self) -> str:
        t, p = self.type, self.path
        if t in _KEYWORD_ADDED_OR_REMOVED:
            return f"The keyword at path '{p}' in the %s schema is not present in the %s schema"
        if t in _VALUE_INCREASED:
            return (
                f"The value at path '{p}' in the %s schema is more than its value in the %s schema"
            )
        if t in _VALUE_DECREASED:
            return (
                f"The value at path '{p}' in the %s schema is less than its value in the %s schema"
            )
        if t in _VALUE_CHANGED:
            return f"The value at path '{p}' is different between the %s and %s schema"
        if t in _TYPE_NARROWED:
            return (
                f"An array or combined type at path '{p}' has fewer elements in the %s schema "
                "than the %s schema"
            )
        if t in _TYPE_EXTENDED:
            return (
                f"An array or combined type at path '{p}' has more elements in the %s schema "
                "than the %s schema"
            )
        if t in _TYPE_CHANGED:
            return f"A type at path '{p}' is different between the %s schema and the %s schema"
        if t in _ADDED_TO_OPEN:
            return (
                f"The %s schema has an open content model and has a property or item at path "
                f"'{p}' which is missing in the %s schema"
            )
        if t == "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL":
            return (
                f"The %s schema has an unopen content model and has a required property at "
                f"path '{p}' which is missing in the %s schema"
            )
        if t in (
            "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
            "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        ):
            return (
                f"The %s has a closed content model and is missing a property or item present "
                f"at path '{p}' in the %s schema"
            )
        if t in (
            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        ):
            return (
                f"A property or item is missing in the %s schema but present at path '{p}' in "
                "the %s schema and is not covered by its partially open content model"
            )
        if t in (
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        ):
            return (
                f"The %s schema has a property or item at path '{p}' which is missing in the %s "
                "schema and is not covered by its partially open content model"
            )
        return ""

    def error(self) -> str:
        # The stray quote before the brace is Confluent's.
        return f'{{errorType:"{self.type}", description:"{self.description()}\'}}'

    def __str__(self) -> str:
        return f"{self.type} {self.path}"


# --- comparing ---------------------------------------------------------------------------------


@dataclass
class _Context:
    path: list[str] = field(default_factory=list)
    diffs: list[Difference] = field(default_factory=list)
    active: set = field(default_factory=set)  # (original, update) pairs being compared

    def sub(self) -> _Context:
        return _Context(path=list(self.path), active=set(self.active))

    def add(self, kind: str, *extra: str) -> None:
        self.diffs.append(Difference(kind, "#/" + "/".join([*self.path, *extra])))

    def compatible(self) -> bool:
        return all(d.compatible for d in self.diffs)

    def enter(self, *parts: str) -> _Path:
        return _Path(self, parts)


class _Path:
    def __init__(self, ctx: _Context, parts: tuple[str, ...]) -> None:
        self.ctx, self.parts = ctx, parts

    def __enter__(self) -> None:
        self.ctx.path.extend(self.parts)

    def __exit__(self, *exc: object) -> None:
        del self.ctx.path[len(self.ctx.path) - len(self.parts) :]


def compare(original: Node, update: Node) -> list[Difference]:
    ctx = _Context()
    _compare(ctx, original, update)
    return ctx.diffs


def _deref(node: Node | None, seen: int = 0) -> Node | None:
    while node is not None and node.kind == "ref":
        node = node.target()
        seen += 1
        if seen > 100:
            raise UnresolvableRef("$ref chain does not end")
    return node


def _compare(ctx: _Context, original: Node | None, update: Node | None) -> None:
    if original is None and update is None:
        return
    if original is None:
        ctx.add("SCHEMA_ADDED")
        return
    if update is None:
        ctx.add("SCHEMA_REMOVED")
        return
    original, update = _deref(original), _deref(update)
    pair = (id(original), id(update))
    if pair in ctx.active:
        return  # a recursive schema: this pair is already being compared further up
    ctx.active.add(pair)
    try:
        _compare_types(ctx, original, update)
    finally:
        ctx.active.discard(pair)


def _is_empty(node: Node) -> bool:
    return node.kind in ("empty", "true")  # everit's TrueSchema extends EmptySchema


def _compare_types(ctx: _Context, original: Node, update: Node) -> None:
    if original.kind != "combined" and update.kind == "combined":
        if len(update.subschemas) == 1:
            sub = ctx.sub()
            _compare(sub, original, update.subschemas[0])
            if sub.compatible():
                ctx.diffs.extend(sub.diffs)
                return
        elif update.criterion in ("anyOf", "oneOf"):
            for subschema in update.subschemas:
                sub = ctx.sub()
                _compare(sub, original, subschema)
                if sub.compatible():
                    ctx.diffs.extend(sub.diffs)
                    ctx.add("SUM_TYPE_EXTENDED")
                    return
    elif original.kind == "combined" and update.kind != "combined":
        if len(original.subschemas) == 1:
            sub = ctx.sub()
            _compare(sub, original.subschemas[0], update)
            if sub.compatible():
                ctx.diffs.extend(sub.diffs)
                return
        elif original.criterion == "allOf":
            for subschema in original.subschemas:
                sub = ctx.sub()
                _compare(sub, subschema, update)
                if sub.compatible():
                    ctx.diffs.extend(sub.diffs)
                    ctx.add("PRODUCT_TYPE_NARROWED")
                    return
    if original.kind != update.kind:
        if original.kind == "false" or _is_empty(update):
            return
        if original.get("connect.type") == "bytes" and update.get("connect.type") == "bytes":
            return
        ctx.add("TYPE_CHANGED")
        return
    if original.id != update.id:
        ctx.add("ID_CHANGED")
    if original.title != update.title:
        ctx.add("TITLE_CHANGED")
    if original.description != update.description:
        ctx.add("DESCRIPTION_CHANGED")
    if original.default is not update.default and original.default != update.default:
        ctx.add("DEFAULT_CHANGED")
    compare_kind = _BY_KIND.get(original.kind)
    if compare_kind is not None:
        compare_kind(ctx, original, update)


def _limit(ctx, name: str, old, new, prefix: str) -> None:
    """maxLength/minItems/...: added, removed, increased or decreased."""
    if old == new:
        return
    if old is None:
        ctx.add(f"{prefix}_ADDED", name)
    elif new is None:
        ctx.add(f"{prefix}_REMOVED", name)
    elif old < new:
        ctx.add(f"{prefix}_INCREASED", name)
    elif old > new:
        ctx.add(f"{prefix}_DECREASED", name)


def _num(node: Node, key: str):
    value = node.get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _compare_string(ctx, original: Node, update: Node) -> None:
    _limit(ctx, "maxLength", _num(original, "maxLength"), _num(update, "maxLength"), "MAX_LENGTH")
    _limit(ctx, "minLength", _num(original, "minLength"), _num(update, "minLength"), "MIN_LENGTH")
    old, new = original.get("pattern"), update.get("pattern")
    if old is None and new is not None:
        ctx.add("PATTERN_ADDED", "pattern")
    elif old is not None and new is None:
        ctx.add("PATTERN_REMOVED", "pattern")
    elif old != new:
        ctx.add("PATTERN_CHANGED", "pattern")


def _compare_number(ctx, original: Node, update: Node) -> None:
    _limit(ctx, "maximum", _num(original, "maximum"), _num(update, "maximum"), "MAXIMUM")
    _limit(ctx, "minimum", _num(original, "minimum"), _num(update, "minimum"), "MINIMUM")
    _limit(
        ctx,
        "exclusiveMaximum",
        _num(original, "exclusiveMaximum"),
        _num(update, "exclusiveMaximum"),
        "EXCLUSIVE_MAXIMUM",
    )
    _limit(
        ctx,
        "exclusiveMinimum",
        _num(original, "exclusiveMinimum"),
        _num(update, "exclusiveMinimum"),
        "EXCLUSIVE_MINIMUM",
    )
    old, new = _num(original, "multipleOf"), _num(update, "multipleOf")
    if old != new:
        if old is None:
            ctx.add("MULTIPLE_OF_ADDED", "multipleOf")
        elif new is None:
            ctx.add("MULTIPLE_OF_REMOVED", "multipleOf")
        elif old != 0 and _divides(old, new):
            ctx.add("MULTIPLE_OF_EXPANDED", "multipleOf")
        elif new != 0 and _divides(new, old):
            ctx.add("MULTIPLE_OF_REDUCED", "multipleOf")
        else:
            ctx.add("MULTIPLE_OF_CHANGED", "multipleOf")
    if original.integer != update.integer:
        ctx.add("TYPE_EXTENDED" if original.integer else "TYPE_NARROWED")


def _divides(divisor: float, value: float) -> bool:
    return Decimal(str(value)) % Decimal(str(divisor)) == 0


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _compare_enum(ctx, original: Node, update: Node) -> None:
    old = {_json_key(v) for v in original.get("enum") or []}
    new = {_json_key(v) for v in update.get("enum") or []}
    if old != new:
        if new >= old:
            ctx.add("ENUM_ARRAY_EXTENDED", "enum")
        elif old >= new:
            ctx.add("ENUM_ARRAY_NARROWED", "enum")
        else:
            ctx.add("ENUM_ARRAY_CHANGED", "enum")


def _compare_const(ctx, original: Node, update: Node) -> None:
    if _json_key(original.get("const")) != _json_key(update.get("const")):
        ctx.add("ENUM_ARRAY_CHANGED", "const")


def _compare_not(ctx, original: Node, update: Node) -> None:
    with ctx.enter("not"):
        sub = ctx.sub()
        _compare(sub, update.subschemas[0], original.subschemas[0])  # reversed on purpose
        ctx.add("NOT_TYPE_NARROWED" if sub.compatible() else "NOT_TYPE_EXTENDED")


def _compare_combined(ctx, original: Node, update: Node) -> None:
    if original.criterion != update.criterion:
        one_old, one_new = len(original.subschemas) == 1, len(update.subschemas) == 1
        if (
            update.criterion == "anyOf"
            or (one_old and one_new)
            or (one_old and update.criterion == "oneOf")
            or (one_new and original.criterion == "allOf")
        ):
            ctx.add("COMBINED_TYPE_EXTENDED")
        else:
            ctx.add("COMBINED_TYPE_CHANGED")
            return
    old_subs = _distinct(original.subschemas)
    new_subs = _distinct(update.subschemas)
    if len(old_subs) < len(new_subs):
        ctx.add("PRODUCT_TYPE_EXTENDED" if update.criterion == "allOf" else "SUM_TYPE_EXTENDED")
    elif len(old_subs) > len(new_subs):
        ctx.add(
            "SUM_TYPE_NARROWED"
            if original.criterion in ("anyOf", "oneOf")
            else "PRODUCT_TYPE_NARROWED"
        )
    edges: dict[int, dict[int, list[Difference]]] = {}
    for i, old in enumerate(old_subs):
        with ctx.enter(f"{original.criterion}/{i}"):
            for j, new in enumerate(new_subs):
                sub = ctx.sub()
                _compare(sub, old, new)
                if sub.compatible():
                    edges.setdefault(i, {})[j] = sub.diffs
    matching = _max_matching(edges)
    for i, j in matching.items():
        ctx.diffs.extend(edges[i][j])
    if len(matching) < min(len(old_subs), len(new_subs)):
        ctx.add("COMBINED_TYPE_SUBSCHEMAS_CHANGED")


def _identity(node: Node) -> str:
    # Nodes split from one JSON object (its "type" list, a type plus an enum) share their raw
    # JSON, so the kind is part of what makes them different.
    subs = ",".join(_identity(s) for s in node.subschemas) if node.kind == "combined" else ""
    return f"{node.kind}:{node.integer}:{node.criterion}:{subs}:{_json_key(node.raw)}"


def _distinct(nodes: list[Node]) -> list[Node]:
    """Subschemas without duplicates (Confluent collapses them into a set)."""
    seen, out = set(), []
    for node in nodes:
        key = _identity(node)
        if key not in seen:
            seen.add(key)
            out.append(node)
    return out


def _max_matching(edges: dict[int, dict[int, list]]) -> dict[int, int]:
    """Maximum bipartite matching (Kuhn's augmenting paths): left index → right index."""
    match_right: dict[int, int] = {}

    def augment(left: int, seen: set[int]) -> bool:
        for right in edges.get(left, {}):
            if right in seen:
                continue
            seen.add(right)
            if right not in match_right or augment(match_right[right], seen):
                match_right[right] = left
                return True
        return False

    for left in edges:
        augment(left, set())
    return {left: right for right, left in match_right.items()}


# Objects --------------------------------------------------------------------------------------


class _Obj:
    """An object schema's parts, read from its JSON the way everit's ObjectSchema exposes them."""

    def __init__(self, node: Node) -> None:
        raw, loader_node = node.raw, node.child
        self.properties = {k: loader_node(v) for k, v in (raw.get("properties") or {}).items()}
        self.required = set(raw.get("required") or [])
        additional = raw.get("additionalProperties", True)
        self.permits_additional = additional is not False
        self.additional = loader_node(additional) if isinstance(additional, dict) else None
        self.patterns = [
            (p, loader_node(s)) for p, s in (raw.get("patternProperties") or {}).items()
        ]
        uneval = raw.get("unevaluatedProperties")
        self.unevaluated = loader_node(uneval) if uneval is not None else None
        deps = dict(raw.get("dependencies") or {})
        deps.update(raw.get("dependentRequired") or {})
        deps.update(raw.get("dependentSchemas") or {})
        self.property_deps = {k: set(v) for k, v in deps.items() if isinstance(v, list)}
        self.schema_deps = {k: loader_node(v) for k, v in deps.items() if not isinstance(v, list)}

    def is_open(self) -> bool:
        if not self.permits_additional or self.additional is not None or self.patterns:
            return False
        return self.unevaluated is None or _is_empty(self.unevaluated)

    def partial_schema(self, name: str) -> Node | None:
        for pattern, schema in self.patterns:
            try:
                if re.search(pattern, name):
                    return schema
            except re.error:
                continue
        if self.additional is not None:
            return self.additional
        if (
            self.permits_additional
            and self.unevaluated is not None
            and self.unevaluated.kind not in ("false", "empty", "true")
        ):
            return self.unevaluated
        return None


def _has_default(node: Node) -> bool:
    node = _deref(node)
    return node is not None and node.default is not MISSING


def _compare_object(ctx, original: Node, update: Node) -> None:
    old, new = _Obj(original), _Obj(update)
    with ctx.enter("required"):
        for name in old.properties:
            if name in new.properties:
                was, now = name in old.required, name in new.required
                if was and not now:
                    ctx.add("REQUIRED_ATTRIBUTE_REMOVED", name)
                elif now and not was:
                    ctx.add(
                        "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
                        if _has_default(new.properties[name])
                        else "REQUIRED_ATTRIBUTE_ADDED",
                        name,
                    )
    with ctx.enter("properties"):
        for name in sorted(old.properties.keys() | new.properties.keys()):
            with ctx.enter(name):
                _compare_property(ctx, name, old, new)
    with ctx.enter("dependencies"):
        for name in sorted(old.property_deps.keys() | new.property_deps.keys()):
            before, after = old.property_deps.get(name), new.property_deps.get(name)
            if after is None:
                ctx.add("DEPENDENCY_ARRAY_REMOVED", name)
            elif before is None:
                ctx.add("DEPENDENCY_ARRAY_ADDED", name)
            elif before != after:
                ctx.add(
                    "DEPENDENCY_ARRAY_EXTENDED"
                    if after >= before
                    else "DEPENDENCY_ARRAY_NARROWED"
                    if before >= after
                    else "DEPENDENCY_ARRAY_CHANGED",
                    name,
                )
        for name in sorted(old.schema_deps.keys() | new.schema_deps.keys()):
            before, after = old.schema_deps.get(name), new.schema_deps.get(name)
            if after is None:
                ctx.add("DEPENDENCY_SCHEMA_REMOVED", name)
            elif before is None:
                ctx.add("DEPENDENCY_SCHEMA_ADDED", name)
            else:
                with ctx.enter(name):
                    _compare(ctx, before, after)
    with ctx.enter("additionalProperties"):
        if old.permits_additional != new.permits_additional:
            ctx.add(
                "ADDITIONAL_PROPERTIES_ADDED"
                if new.permits_additional
                else "ADDITIONAL_PROPERTIES_REMOVED"
            )
        elif old.additional is None and new.additional is not None:
            ctx.add("ADDITIONAL_PROPERTIES_NARROWED")
        elif new.additional is None and old.additional is not None:
            ctx.add("ADDITIONAL_PROPERTIES_EXTENDED")
        else:
            _compare(ctx, old.additional, new.additional)
    _compare_unevaluated(
        ctx, "unevaluatedProperties", old.unevaluated, new.unevaluated, "UNEVALUATED_PROPERTIES"
    )
    _limit(
        ctx,
        "maxProperties",
        _num(original, "maxProperties"),
        _num(update, "maxProperties"),
        "MAX_PROPERTIES",
    )
    _limit(
        ctx,
        "minProperties",
        _num(original, "minProperties"),
        _num(update, "minProperties"),
        "MIN_PROPERTIES",
    )


def _compare_property(ctx, name: str, old: _Obj, new: _Obj) -> None:
    before, after = old.properties.get(name), new.properties.get(name)
    if after is None:
        # Removing is only safe if the update still accepts whatever the old data holds.
        if new.is_open():
            ctx.add("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL")
            return
        partial = new.partial_schema(name)
        if partial is not None:
            sub = ctx.sub()
            _compare(sub, before, partial)
            ctx.diffs.extend(sub.diffs)
            ctx.add(
                "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                if sub.compatible()
                else "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            )
        elif _deref(before).kind == "false":
            ctx.add("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
        else:
            ctx.add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL")
    elif before is None:
        # Adding is only safe if the old schema never let this name through with other values.
        if old.is_open():
            if _is_empty(_deref(after)):
                ctx.add("PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL")
            elif name in new.required:
                ctx.add(
                    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL"
                    if _has_default(after)
                    else "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
                )
            else:
                ctx.add("OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL")
            return
        partial = old.partial_schema(name)
        if partial is not None:
            sub = ctx.sub()
            _compare(sub, partial, after)
            ctx.diffs.extend(sub.diffs)
            ctx.add(
                "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                if sub.compatible()
                else "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            )
        if name in new.required:
            ctx.add(
                "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
                if _has_default(after)
                else "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
            )
        else:
            ctx.add("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL")
    else:
        _compare(ctx, before, after)


def _compare_unevaluated(ctx, key: str, old: Node | None, new: Node | None, prefix: str) -> None:
    if old is None and new is None:
        return
    with ctx.enter(key):
        old, new = _deref(old), _deref(new)
        if old is None:
            ctx.add(f"{prefix}_REMOVED" if new.kind == "false" else f"{prefix}_NARROWED")
        elif new is None:
            ctx.add(f"{prefix}_ADDED" if old.kind == "false" else f"{prefix}_EXTENDED")
        elif old.kind == "false" and new.kind != "false":
            ctx.add(f"{prefix}_ADDED")
        elif old.kind != "false" and new.kind == "false":
            ctx.add(f"{prefix}_REMOVED")
        elif _is_empty(old) and not _is_empty(new):
            ctx.add(f"{prefix}_NARROWED")
        elif not _is_empty(old) and _is_empty(new):
            ctx.add(f"{prefix}_EXTENDED")
        else:
            _compare(ctx, old, new)


# Arrays ---------------------------------------------------------------------------------------


class _Arr:
    def __init__(self, node: Node) -> None:
        raw, loader_node = node.raw, node.child
        items = raw.get("items")
        prefix = raw.get("prefixItems")
        if isinstance(prefix, list):  # 2020-12: prefixItems + items (for the rest)
            self.item_list = [loader_node(s) for s in prefix]
            self.all_items = None
            additional = items if items is not None else raw.get("additionalItems", True)
        else:
            self.item_list = [loader_node(s) for s in items] if isinstance(items, list) else []
            self.all_items = loader_node(items) if isinstance(items, dict | bool) else None
            additional = raw.get("additionalItems", True)
        self.permits_additional = additional is not False
        self.additional = loader_node(additional) if isinstance(additional, dict) else None
        uneval = raw.get("unevaluatedItems")
        self.unevaluated = loader_node(uneval) if uneval is not None else None

    def is_open(self) -> bool:
        if not self.permits_additional or self.additional is not None:
            return False
        return self.unevaluated is None or _is_empty(self.unevaluated)

    def partial_schema(self) -> Node | None:
        if self.additional is not None:
            return self.additional
        if (
            self.permits_additional
            and self.unevaluated is not None
            and self.unevaluated.kind not in ("false", "empty", "true")
        ):
            return self.unevaluated
        return None


def _compare_array(ctx, original: Node, update: Node) -> None:
    old, new = _Arr(original), _Arr(update)
    with ctx.enter("items"):
        _compare(ctx, old.all_items, new.all_items)
    common = min(len(old.item_list), len(new.item_list))
    for index in range(common):
        with ctx.enter(f"items/{index}"):
            _compare(ctx, old.item_list[index], new.item_list[index])
    for index in range(common, len(old.item_list)):
        with ctx.enter(f"items/{index}"):
            before = old.item_list[index]
            if new.is_open():
                ctx.add("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL")
            elif (partial := new.partial_schema()) is not None:
                sub = ctx.sub()
                _compare(sub, before, partial)
                ctx.diffs.extend(sub.diffs)
                ctx.add(
                    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                    if sub.compatible()
                    else "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                )
            elif _deref(before).kind == "false":
                ctx.add("ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
            else:
                ctx.add("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL")
    for index in range(common, len(new.item_list)):
        with ctx.enter(f"items/{index}"):
            after = new.item_list[index]
            if old.is_open():
                ctx.add(
                    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                    if _is_empty(_deref(after))
                    else "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
                )
            elif (partial := old.partial_schema()) is not None:
                sub = ctx.sub()
                _compare(sub, partial, after)
                ctx.diffs.extend(sub.diffs)
                ctx.add(
                    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                    if sub.compatible()
                    else "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                )
            else:
                ctx.add("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL")
    with ctx.enter("additionalItems"):
        if old.permits_additional != new.permits_additional:
            ctx.add(
                "ADDITIONAL_ITEMS_REMOVED" if old.permits_additional else "ADDITIONAL_ITEMS_ADDED"
            )
        elif old.additional is None and new.additional is not None:
            ctx.add("ADDITIONAL_ITEMS_NARROWED")
        elif new.additional is None and old.additional is not None:
            ctx.add("ADDITIONAL_ITEMS_EXTENDED")
        else:
            _compare(ctx, old.additional, new.additional)
    _compare_unevaluated(
        ctx, "unevaluatedItems", old.unevaluated, new.unevaluated, "UNEVALUATED_ITEMS"
    )
    _limit(ctx, "maxItems", _num(original, "maxItems"), _num(update, "maxItems"), "MAX_ITEMS")
    _limit(ctx, "minItems", _num(original, "minItems"), _num(update, "minItems"), "MIN_ITEMS")
    old_unique, new_unique = bool(original.get("uniqueItems")), bool(update.get("uniqueItems"))
    if old_unique != new_unique:
        ctx.add("UNIQUE_ITEMS_REMOVED" if old_unique else "UNIQUE_ITEMS_ADDED", "uniqueItems")
    _limit(
        ctx,
        "maxContains",
        _num(original, "maxContains"),
        _num(update, "maxContains"),
        "MAX_CONTAINS",
    )
    _limit(
        ctx,
        "minContains",
        _num(original, "minContains"),
        _num(update, "minContains"),
        "MIN_CONTAINS",
    )


_BY_KIND = {
    "string": _compare_string,
    "number": _compare_number,
    "enum": _compare_enum,
    "const": _compare_const,
    "not": _compare_not,
    "combined": _compare_combined,
    "object": _compare_object,
    "array": _compare_array,
}
