"""JSON Schema documents as the nodes Confluent's diff compares (everit's schema classes).

Confluent loads a schema with the everit library; :class:`Loader` builds the same shapes from
plain JSON: one node per kind of keyword (a type, an ``enum``, ``allOf``...), a synthetic
``allOf`` when a schema has several (``{"type": "string", "enum": [...]}``), an ``anyOf`` for a
list of types, and ``$ref`` nodes that resolve lazily (recursive schemas are fine) inside the
document or into referenced documents, by the name they were referenced with.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MISSING = object()  # a "default" keyword that is absent (None is a valid default)

_OBJECT_KEYS = {
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "minProperties",
    "maxProperties",
    "dependencies",
    "propertyNames",
    "unevaluatedProperties",
    "dependentRequired",
    "dependentSchemas",
}
_ARRAY_KEYS = {
    "items",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "prefixItems",
    "unevaluatedItems",
    "minContains",
    "maxContains",
}
_NUMBER_KEYS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
_STRING_KEYS = {"minLength", "maxLength", "pattern", "format"}
_FAMILIES = (
    ("object", _OBJECT_KEYS),
    ("array", _ARRAY_KEYS),
    ("number", _NUMBER_KEYS),
    ("string", _STRING_KEYS),
)


@dataclass(eq=False)
class Node:
    """One schema, as everit would classify it: ``kind`` is one of empty, true, false, object,
    array, string, number, boolean, null, enum, const, combined, not, ref."""

    kind: str
    raw: Any = None
    id: Any = None
    title: Any = None
    description: Any = None
    default: Any = MISSING
    integer: bool = False  # number: "type": "integer"
    criterion: str = ""  # combined: allOf | anyOf | oneOf
    subschemas: list[Node] = field(default_factory=list)
    target: Callable[[], Node] | None = None  # ref: resolves lazily (refs may be cyclic)
    loader: Loader | None = None
    root: Any = None  # the document this schema belongs to (for its $refs)

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default) if isinstance(self.raw, dict) else default

    def child(self, raw: Any) -> Node:
        """A sub-schema of this one (a property, the items, ...) as a node."""
        return self.loader.node(raw, self.root)


class UnresolvableRef(ValueError):
    pass


class Loader:
    """Builds nodes for one document; ``documents`` resolves ``$ref`` to other schemas by the
    name they were referenced with (a Schema Registry reference's ``name``)."""

    def __init__(self, root: Any, documents: Mapping[str, Any] | None = None) -> None:
        self.root = root
        self.documents = dict(documents or {})
        self.loaded: dict[int, Node] = {}
        self.keep: list[Any] = []  # keeps raw objects alive so their ids stay unique

    def node(self, raw: Any, root: Any | None = None) -> Node:
        root = self.root if root is None else root
        key = id(raw)
        if key in self.loaded:
            return self.loaded[key]
        self.keep.append(raw)
        node = self._build(raw, root)
        self.loaded[key] = node
        target = node
        for _ in range(64):  # a $ref must end at a schema, not at itself ({"$ref": "#"})
            if target.kind != "ref":
                return node
            target = target.target()
        raise UnresolvableRef(f"$ref '{node.raw['$ref']}' never reaches a schema")

    def _new(self, kind: str, raw: Any, root: Any, **kw: Any) -> Node:
        return Node(kind, raw, loader=self, root=root, **kw)

    def _build(self, raw: Any, root: Any) -> Node:
        if raw is True or raw is False:
            return self._new("true" if raw else "false", raw, root)
        if not isinstance(raw, dict):
            raise ValueError(f"a schema must be an object or a boolean, not {json.dumps(raw)}")
        if "$ref" in raw:
            target = self.resolve(raw["$ref"], root)  # fails now for a ref that cannot resolve
            node = self._new("ref", raw, root, target=lambda: self.node(*target))
            return self._common(node, raw)
        # Like everit: one node per kind of keyword, and a synthetic allOf if there are several.
        parts: list[Node] = []
        for criterion in ("allOf", "anyOf", "oneOf"):
            if criterion in raw:
                subs = raw[criterion]
                if not isinstance(subs, list) or not subs:
                    raise ValueError(f"{criterion} must be a non-empty array")
                children = [self.node(s, root) for s in subs]
                parts.append(
                    self._new("combined", raw, root, criterion=criterion, subschemas=children)
                )
        if "not" in raw:
            parts.append(self._new("not", raw, root, subschemas=[self.node(raw["not"], root)]))
        for keyword in ("enum", "const"):
            if keyword in raw:
                parts.append(self._new(keyword, raw, root))
        typed = self._typed(raw, root)
        if typed is not None:
            parts.append(typed)
        if not parts:
            return self._common(self._new("empty", raw, root), raw)
        if len(parts) == 1:
            return self._common(parts[0], raw)
        combined = self._new("combined", raw, root, criterion="allOf", subschemas=parts)
        return self._common(combined, raw)

    def _typed(self, raw: dict, root: Any) -> Node | None:
        declared = raw.get("type")
        if isinstance(declared, list) and len(declared) == 1:
            return self._of_type(declared[0], raw, root)
        if isinstance(declared, list):
            types = [self._of_type(t, raw, root) for t in declared]
            return self._new("combined", raw, root, criterion="anyOf", subschemas=types)
        if isinstance(declared, str):
            return self._of_type(declared, raw, root)
        if declared is not None:
            raise ValueError(f"type must be a string or an array, not {json.dumps(declared)}")
        implied = [self._of_type(name, raw, root) for name, keys in _FAMILIES if keys & raw.keys()]
        if len(implied) > 1:
            return self._new("combined", raw, root, criterion="anyOf", subschemas=implied)
        return implied[0] if implied else None

    def _of_type(self, name: str, raw: dict, root: Any) -> Node:
        if name == "integer":
            node = self._new("number", raw, root, integer=True)
        elif name in ("object", "array", "string", "number", "boolean", "null"):
            node = self._new(name, raw, root)
        else:
            raise ValueError(f"unknown type {name!r}")
        # Load sub-schemas now, so a bad one fails registration rather than a later check.
        for key in ("properties", "patternProperties", "dependencies", "dependentSchemas"):
            subs = raw.get(key)
            for sub in subs.values() if isinstance(subs, dict) else ():
                if not isinstance(sub, list):
                    self.node(sub, root)
        for key in (
            "additionalProperties",
            "additionalItems",
            "unevaluatedProperties",
            "unevaluatedItems",
            "contains",
            "propertyNames",
        ):
            if isinstance(raw.get(key), dict | bool):
                self.node(raw[key], root)
        for key in ("items", "prefixItems"):
            items = raw.get(key)
            for sub in items if isinstance(items, list) else [items] if items is not None else []:
                self.node(sub, root)
        return node

    @staticmethod
    def _common(node: Node, raw: dict) -> Node:
        node.id = raw.get("$id", raw.get("id"))
        node.title = raw.get("title")
        node.description = raw.get("description")
        node.default = raw.get("default", MISSING)
        return node

    def resolve(self, ref: Any, root: Any) -> tuple[Any, Any]:
        if not isinstance(ref, str):
            raise UnresolvableRef(f"$ref must be a string, not {json.dumps(ref)}")
        base, _, fragment = ref.partition("#")
        document = root
        if base:
            if base not in self.documents:
                raise UnresolvableRef(
                    f"$ref '{ref}' does not resolve (no reference named '{base}')"
                )
            document = self.documents[base]
        target = document
        for token in [t for t in fragment.split("/") if t] if fragment.startswith("/") else []:
            token = urllib.parse.unquote(token).replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                raise UnresolvableRef(f"$ref '{ref}' does not resolve")
        if fragment and not fragment.startswith("/"):
            found = _find_anchor(document, fragment)
            if found is None:
                raise UnresolvableRef(f"$ref '{ref}' does not resolve")
            target = found
        return target, document


def _find_anchor(document: Any, anchor: str) -> Any:
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("$anchor") == anchor or item.get("$id") in (anchor, "#" + anchor):
                return item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
