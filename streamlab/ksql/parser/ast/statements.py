"""Statement nodes, named after ksqlDB's (``io.confluent.ksql.parser.tree``).

Every statement keeps the SQL text it was parsed from (``text``, including the ``;``), which is
what ksqlDB echoes back as ``statementText`` and puts in error messages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

from streamlab.ksql.parser.ast import Node
from streamlab.ksql.parser.ast.expressions import Expression, Literal
from streamlab.ksql.types import SqlType


class Statement(Node):
    """Base of statement nodes."""

    text: str


def _text() -> str:
    return field(default="", compare=False, kw_only=True, repr=False)  # type: ignore[return-value]


# ---- query parts --------------------------------------------------------------------------------


class SelectItem(Node):
    """Base of the items of a SELECT list."""


@dataclass(frozen=True)
class SingleColumn(SelectItem):
    """``expression [AS alias]``; ``alias`` is None until the analyzer names the column."""

    children: ClassVar[tuple[str, ...]] = ("expression",)
    expression: Expression
    alias: str | None = None


@dataclass(frozen=True)
class AllColumns(SelectItem):
    """``*`` or ``source.*``."""

    source: str | None = None


@dataclass(frozen=True)
class StructAll(SelectItem):
    """``struct_expression->*``."""

    children: ClassVar[tuple[str, ...]] = ("base",)
    base: Expression


@dataclass(frozen=True)
class AliasedRelation(Node):
    """A source in FROM or JOIN: ``name [AS alias]``."""

    name: str
    alias: str | None = None


class JoinType(enum.Enum):
    INNER = "INNER"
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    OUTER = "FULL"


@dataclass(frozen=True)
class WithinExpression(Node):
    """``WITHIN n unit`` or ``WITHIN (before, after)``, durations in milliseconds."""

    before_ms: int
    after_ms: int
    grace_ms: int | None = None
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class Join(Node):
    """``left [type] JOIN right [WITHIN ...] ON criteria``; ``left`` may itself be a join."""

    children: ClassVar[tuple[str, ...]] = ("left", "right", "criteria")
    left: Node
    right: AliasedRelation
    join_type: JoinType
    criteria: Expression
    within: WithinExpression | None = None


class WindowType(enum.Enum):
    TUMBLING = "TUMBLING"
    HOPPING = "HOPPING"
    SESSION = "SESSION"


@dataclass(frozen=True)
class WindowExpression(Node):
    """``WINDOW TUMBLING (SIZE ...)``, sizes and periods in milliseconds."""

    window_type: WindowType
    size_ms: int
    advance_ms: int | None = None
    retention_ms: int | None = None
    grace_ms: int | None = None
    name: str | None = None
    text: str = field(default="", compare=False)


class ResultMaterialization(enum.Enum):
    CHANGES = "CHANGES"
    FINAL = "FINAL"


@dataclass(frozen=True)
class Query(Node):
    children: ClassVar[tuple[str, ...]] = (
        "select",
        "from_",
        "where",
        "group_by",
        "partition_by",
        "having",
    )
    select: tuple[SelectItem, ...]
    from_: Node  # AliasedRelation or Join
    window: WindowExpression | None = None
    where: Expression | None = None
    group_by: tuple[Expression, ...] | None = None
    partition_by: tuple[Expression, ...] | None = None
    having: Expression | None = None
    refinement: ResultMaterialization | None = None
    limit: int | None = None


# ---- DDL elements -------------------------------------------------------------------------------


class ColumnConstraint(enum.Enum):
    KEY = "KEY"
    PRIMARY_KEY = "PRIMARY KEY"
    HEADERS = "HEADERS"
    HEADER = "HEADER"


@dataclass(frozen=True)
class TableElement(Node):
    """A column definition: ``name type [KEY | PRIMARY KEY | HEADERS | HEADER('k')]``."""

    name: str
    type: SqlType
    constraint: ColumnConstraint | None = None
    header_key: str | None = None


@dataclass(frozen=True)
class Property(Node):
    """One ``NAME = literal`` of a WITH clause; ``name`` is upper-cased."""

    name: str
    value: Literal


def properties_dict(properties: tuple[Property, ...]) -> dict[str, object]:
    return {p.name: p.value.value for p in properties}


# ---- statements ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryStatement(Statement):
    """A bare SELECT: a push or pull query."""

    children: ClassVar[tuple[str, ...]] = ("query",)
    query: Query
    text: str = _text()


@dataclass(frozen=True)
class CreateSource(Statement):
    """CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name (elements) WITH (...)."""

    children: ClassVar[tuple[str, ...]] = ("elements", "properties")
    name: str
    elements: tuple[TableElement, ...] = ()
    properties: tuple[Property, ...] = ()
    or_replace: bool = False
    not_exists: bool = False
    is_source: bool = False
    text: str = _text()


@dataclass(frozen=True)
class CreateStream(CreateSource):
    pass


@dataclass(frozen=True)
class CreateTable(CreateSource):
    pass


@dataclass(frozen=True)
class CreateAsSelect(Statement):
    """CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS SELECT ..."""

    children: ClassVar[tuple[str, ...]] = ("properties", "query")
    name: str
    query: Query
    properties: tuple[Property, ...] = ()
    or_replace: bool = False
    not_exists: bool = False
    text: str = _text()


@dataclass(frozen=True)
class CreateStreamAsSelect(CreateAsSelect):
    pass


@dataclass(frozen=True)
class CreateTableAsSelect(CreateAsSelect):
    pass


@dataclass(frozen=True)
class InsertInto(Statement):
    children: ClassVar[tuple[str, ...]] = ("properties", "query")
    target: str
    query: Query
    properties: tuple[Property, ...] = ()
    text: str = _text()


@dataclass(frozen=True)
class InsertValues(Statement):
    children: ClassVar[tuple[str, ...]] = ("values",)
    target: str
    columns: tuple[str, ...]
    values: tuple[Expression, ...]
    text: str = _text()


@dataclass(frozen=True)
class DropSource(Statement):
    name: str
    if_exists: bool = False
    delete_topic: bool = False
    text: str = _text()


@dataclass(frozen=True)
class DropStream(DropSource):
    pass


@dataclass(frozen=True)
class DropTable(DropSource):
    pass


@dataclass(frozen=True)
class ListStreams(Statement):
    extended: bool = False
    text: str = _text()


@dataclass(frozen=True)
class ListTables(Statement):
    extended: bool = False
    text: str = _text()


@dataclass(frozen=True)
class ListTopics(Statement):
    show_all: bool = False
    extended: bool = False
    text: str = _text()


@dataclass(frozen=True)
class ListQueries(Statement):
    extended: bool = False
    text: str = _text()


@dataclass(frozen=True)
class ListProperties(Statement):
    text: str = _text()


@dataclass(frozen=True)
class ListFunctions(Statement):
    text: str = _text()


@dataclass(frozen=True)
class ListTypes(Statement):
    text: str = _text()


@dataclass(frozen=True)
class ListVariables(Statement):
    text: str = _text()


@dataclass(frozen=True)
class ShowColumns(Statement):
    """``DESCRIBE source [EXTENDED]``."""

    name: str
    extended: bool = False
    text: str = _text()


@dataclass(frozen=True)
class DescribeStreams(Statement):
    extended: bool = False
    text: str = _text()


@dataclass(frozen=True)
class DescribeTables(Statement):
    extended: bool = False
    text: str = _text()


@dataclass(frozen=True)
class DescribeFunction(Statement):
    name: str
    text: str = _text()


@dataclass(frozen=True)
class PrintTopic(Statement):
    topic: str
    from_beginning: bool = False
    interval: int | None = None
    limit: int | None = None
    text: str = _text()


@dataclass(frozen=True)
class TerminateQuery(Statement):
    """``TERMINATE id`` or ``TERMINATE ALL`` (``query_id`` is None)."""

    query_id: str | None
    text: str = _text()


@dataclass(frozen=True)
class PauseQuery(Statement):
    query_id: str | None
    text: str = _text()


@dataclass(frozen=True)
class ResumeQuery(Statement):
    query_id: str | None
    text: str = _text()


@dataclass(frozen=True)
class SetProperty(Statement):
    name: str
    value: str
    text: str = _text()


@dataclass(frozen=True)
class AlterSystemProperty(Statement):
    name: str
    value: str
    text: str = _text()


@dataclass(frozen=True)
class UnsetProperty(Statement):
    name: str
    text: str = _text()


@dataclass(frozen=True)
class DefineVariable(Statement):
    name: str
    value: str
    text: str = _text()


@dataclass(frozen=True)
class UndefineVariable(Statement):
    name: str
    text: str = _text()


@dataclass(frozen=True)
class Explain(Statement):
    """``EXPLAIN statement`` or ``EXPLAIN query_id``."""

    children: ClassVar[tuple[str, ...]] = ("statement",)
    statement: Statement | None = None
    query_id: str | None = None
    text: str = _text()


@dataclass(frozen=True)
class RegisterType(Statement):
    name: str
    type: SqlType
    if_not_exists: bool = False
    text: str = _text()


@dataclass(frozen=True)
class DropType(Statement):
    name: str
    if_exists: bool = False
    text: str = _text()


@dataclass(frozen=True)
class AlterSource(Statement):
    name: str
    is_stream: bool
    columns: tuple[TableElement, ...]
    text: str = _text()
