"""The abstract syntax tree of ksqlDB statements and expressions.

Every node is a frozen dataclass. A node declares which of its fields hold child nodes in the
class-level ``children`` tuple, so generic code (:func:`walk`, :func:`transform`) can traverse
any tree without knowing each node type. Source positions live in ``location`` and never take
part in equality, so ``parse_expression("a + 1") == parse_expression("A+1")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar


@dataclass(frozen=True)
class Location:
    """1-based line and column of a node's first character."""

    line: int
    column: int

    def prefix(self) -> str:
        """ksqlDB's ``NodeLocation.asPrefix``."""
        return f"Line: {self.line}, Col: {self.column}: "


@dataclass(frozen=True)
class Node:
    """Base of all tree nodes."""

    children: ClassVar[tuple[str, ...]] = ()

    location: Location | None = field(default=None, compare=False, kw_only=True, repr=False)

    def child_nodes(self) -> Iterator[Node]:
        for name in self.children:
            value = getattr(self, name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item
                    elif isinstance(item, tuple):
                        yield from (i for i in item if isinstance(i, Node))

    def location_prefix(self) -> str:
        return self.location.prefix() if self.location else ""


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    for child in node.child_nodes():
        yield from walk(child)


def transform(node: Node, fn: Callable[[Node], Node | None]) -> Node:
    """Rebuild a tree bottom-up: ``fn`` may return a replacement node, or ``None`` to keep it.

    ``fn`` is first offered the original node; if it returns a replacement the children of
    that replacement are not visited again.
    """
    replaced = fn(node)
    if replaced is not None:
        return replaced
    updates: dict[str, Any] = {}
    for name in node.children:
        value = getattr(node, name)
        if isinstance(value, Node):
            new = transform(value, fn)
            if new is not value:
                updates[name] = new
        elif isinstance(value, tuple):
            new_items = tuple(_transform_item(item, fn) for item in value)
            if any(a is not b for a, b in zip(new_items, value, strict=True)):
                updates[name] = new_items
    return replace(node, **updates) if updates else node


def _transform_item(item: Any, fn: Callable[[Node], Node | None]) -> Any:
    if isinstance(item, Node):
        return transform(item, fn)
    if isinstance(item, tuple):
        new = tuple(_transform_item(i, fn) for i in item)
        return new if any(a is not b for a, b in zip(new, item, strict=True)) else item
    return item


def field_names(node: Node) -> list[str]:
    return [f.name for f in fields(node) if f.name != "location"]
