"""Logical schemas: the key, value and header columns of a source or of a query step.

``str(schema)`` is ksqlDB's ``LogicalSchema.toString`` (``\\`ID\\` INTEGER KEY, \\`V\\` STRING``),
which is also what QTT post-conditions and ``DESCRIBE`` print.

Queries evaluate expressions over a *processing row*: ksqlDB copies the pseudo columns
(``ROWTIME``, ``ROWPARTITION``, ``ROWOFFSET``) and the key columns into the value, so that
every column an expression may use sits in one flat row. :meth:`LogicalSchema.processing_columns`
gives that layout.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from streamlab.ksql.types import SqlType, SqlTypes, quote_identifier

ROWTIME = "ROWTIME"
ROWPARTITION = "ROWPARTITION"
ROWOFFSET = "ROWOFFSET"
WINDOWSTART = "WINDOWSTART"
WINDOWEND = "WINDOWEND"
HEADERS = "HEADERS"

#: Pseudo columns every record has, in the order ksqlDB appends them to the processing row.
PSEUDO_COLUMNS: tuple[tuple[str, SqlType], ...] = (
    (ROWTIME, SqlTypes.BIGINT),
    (ROWPARTITION, SqlTypes.INTEGER),
    (ROWOFFSET, SqlTypes.BIGINT),
)
WINDOW_BOUNDS: tuple[tuple[str, SqlType], ...] = (
    (WINDOWSTART, SqlTypes.BIGINT),
    (WINDOWEND, SqlTypes.BIGINT),
)
SYSTEM_COLUMN_NAMES = frozenset({ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND})
PSEUDO_COLUMN_NAMES = frozenset({ROWTIME, ROWPARTITION, ROWOFFSET})


def is_system_column(name: str) -> bool:
    return name in SYSTEM_COLUMN_NAMES


class Namespace(enum.Enum):
    KEY = "KEY"
    VALUE = "VALUE"
    HEADERS = "HEADERS"


@dataclass(frozen=True)
class Column:
    """A named, typed column; ``header_key`` is set for ``HEADER('k')`` columns."""

    name: str
    type: SqlType
    namespace: Namespace = Namespace.VALUE
    header_key: str | None = None

    def __str__(self) -> str:
        text = f"{quote_identifier(self.name)} {self.type}"
        if self.namespace is Namespace.KEY:
            return text + " KEY"
        if self.namespace is Namespace.HEADERS:
            if self.header_key is not None:
                return text + f" HEADER('{self.header_key}')"
            return text + " HEADERS"
        return text


class LogicalSchema:
    """An ordered set of columns: key columns, then value (and header) columns.

    >>> schema = LogicalSchema.of(key=[("ID", SqlTypes.INTEGER)], value=[("V", SqlTypes.STRING)])
    >>> str(schema)
    '`ID` INTEGER KEY, `V` STRING'
    """

    __slots__ = ("_by_name", "columns")

    def __init__(self, columns: Iterable[Column]) -> None:
        self.columns: tuple[Column, ...] = tuple(columns)
        self._by_name: dict[str, Column] = {}
        for column in self.columns:
            self._by_name.setdefault(column.name, column)

    @classmethod
    def of(
        cls,
        key: Iterable[tuple[str, SqlType]] = (),
        value: Iterable[tuple[str, SqlType]] = (),
    ) -> LogicalSchema:
        return cls(
            [Column(n, t, Namespace.KEY) for n, t in key]
            + [Column(n, t, Namespace.VALUE) for n, t in value]
        )

    # ---- access ---------------------------------------------------------------------------------

    @property
    def key(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.namespace is Namespace.KEY)

    @property
    def value(self) -> tuple[Column, ...]:
        """Value columns, including header columns (which are value-like for queries)."""
        return tuple(c for c in self.columns if c.namespace is not Namespace.KEY)

    @property
    def headers(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.namespace is Namespace.HEADERS)

    def find_column(self, name: str) -> Column | None:
        return self._by_name.get(name)

    def find_value_column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name and column.namespace is not Namespace.KEY:
                return column
        return None

    def is_key_column(self, name: str) -> bool:
        column = self._by_name.get(name)
        return column is not None and column.namespace is Namespace.KEY

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogicalSchema):
            return NotImplemented
        return self.key == other.key and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.columns)

    def __str__(self) -> str:
        return ", ".join(str(c) for c in (*self.key, *self.value))

    def __repr__(self) -> str:
        return f"LogicalSchema({self})"

    # ---- derived schemas ------------------------------------------------------------------------

    def processing_columns(self, windowed: bool = False) -> list[tuple[str, SqlType]]:
        """The processing row layout: value columns, pseudo columns, then key copies."""
        columns = [(c.name, c.type) for c in self.value]
        columns.extend(PSEUDO_COLUMNS)
        if windowed:
            columns.extend(WINDOW_BOUNDS)
        columns.extend((c.name, c.type) for c in self.key)
        return columns

    def with_key(self, key: Iterable[Column]) -> LogicalSchema:
        return LogicalSchema([*key, *self.value])


def schema_from_elements(elements: Iterable[object]) -> LogicalSchema:
    """A schema from parsed table elements (``TableElement`` nodes)."""
    from streamlab.ksql.parser.ast.statements import ColumnConstraint

    columns = []
    for element in elements:
        constraint = element.constraint  # type: ignore[attr-defined]
        if constraint in (ColumnConstraint.KEY, ColumnConstraint.PRIMARY_KEY):
            namespace = Namespace.KEY
        elif constraint in (ColumnConstraint.HEADERS, ColumnConstraint.HEADER):
            namespace = Namespace.HEADERS
        else:
            namespace = Namespace.VALUE
        columns.append(
            Column(
                element.name,  # type: ignore[attr-defined]
                element.type,  # type: ignore[attr-defined]
                namespace,
                element.header_key,  # type: ignore[attr-defined]
            )
        )
    key = [c for c in columns if c.namespace is Namespace.KEY]
    rest = [c for c in columns if c.namespace is not Namespace.KEY]
    return LogicalSchema([*key, *rest])
