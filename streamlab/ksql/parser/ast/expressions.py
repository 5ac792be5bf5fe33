"""Expression nodes, named after ksqlDB's (``io.confluent.ksql.execution.expression.tree``).

``str(expression)`` formats the expression the way ksqlDB's ``ExpressionFormatter`` does, so
error messages read the same (``ABS(INPUT.ID)``, ``(F1 + F2)``, ``'not an int'``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from streamlab.ksql.parser.ast import Node
from streamlab.ksql.types import SqlType


class Expression(Node):
    """Base of expression nodes."""

    def __str__(self) -> str:
        from streamlab.ksql.parser.formatter import format_expression

        return format_expression(self)


# ---- literals -----------------------------------------------------------------------------------


class Literal(Expression):
    """Base of literal values; ``value`` holds the Python value (:mod:`streamlab.ksql.types`)."""

    value: object


@dataclass(frozen=True)
class NullLiteral(Literal):
    value: None = None


@dataclass(frozen=True)
class BooleanLiteral(Literal):
    value: bool


@dataclass(frozen=True)
class IntegerLiteral(Literal):
    value: int


@dataclass(frozen=True)
class LongLiteral(Literal):
    value: int


@dataclass(frozen=True)
class DoubleLiteral(Literal):
    value: float


@dataclass(frozen=True)
class DecimalLiteral(Literal):
    value: Decimal


@dataclass(frozen=True)
class StringLiteral(Literal):
    value: str


# ---- references ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnReference(Expression):
    """A column, optionally qualified by a source name or alias (``I.NAME``)."""

    name: str
    source: str | None = None


@dataclass(frozen=True)
class DereferenceExpression(Expression):
    """A struct field: ``base->field``."""

    children: ClassVar[tuple[str, ...]] = ("base",)
    base: Expression
    field_name: str


@dataclass(frozen=True)
class SubscriptExpression(Expression):
    """An array element or map value: ``base[index]`` (arrays are 1-based; negative from end)."""

    children: ClassVar[tuple[str, ...]] = ("base", "index")
    base: Expression
    index: Expression


@dataclass(frozen=True)
class LambdaVariable(Expression):
    name: str


# ---- calls and operators ------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionCall(Expression):
    children: ClassVar[tuple[str, ...]] = ("arguments",)
    name: str
    arguments: tuple[Expression, ...] = ()


@dataclass(frozen=True)
class LambdaFunctionCall(Expression):
    children: ClassVar[tuple[str, ...]] = ("body",)
    arguments: tuple[str, ...]
    body: Expression


@dataclass(frozen=True)
class IntervalUnit(Expression):
    """A time unit passed to a function (``TIMESTAMPADD(SECONDS, 5, ts)``)."""

    unit: str


class Sign(enum.Enum):
    PLUS = "+"
    MINUS = "-"


@dataclass(frozen=True)
class ArithmeticUnaryExpression(Expression):
    children: ClassVar[tuple[str, ...]] = ("value",)
    sign: Sign
    value: Expression


class ArithmeticOperator(enum.Enum):
    ADD = "+"
    SUBTRACT = "-"
    MULTIPLY = "*"
    DIVIDE = "/"
    MODULUS = "%"

    @property
    def symbol(self) -> str:
        return self.value


@dataclass(frozen=True)
class ArithmeticBinaryExpression(Expression):
    children: ClassVar[tuple[str, ...]] = ("left", "right")
    operator: ArithmeticOperator
    left: Expression
    right: Expression


class ComparisonOperator(enum.Enum):
    EQUAL = "="
    NOT_EQUAL = "<>"
    LESS_THAN = "<"
    LESS_THAN_OR_EQUAL = "<="
    GREATER_THAN = ">"
    GREATER_THAN_OR_EQUAL = ">="
    IS_DISTINCT_FROM = "IS DISTINCT FROM"
    IS_NOT_DISTINCT_FROM = "IS NOT DISTINCT FROM"

    @property
    def symbol(self) -> str:
        return self.value


COMPARISON_SYMBOLS = {
    "=": ComparisonOperator.EQUAL,
    "<>": ComparisonOperator.NOT_EQUAL,
    "!=": ComparisonOperator.NOT_EQUAL,
    "<": ComparisonOperator.LESS_THAN,
    "<=": ComparisonOperator.LESS_THAN_OR_EQUAL,
    ">": ComparisonOperator.GREATER_THAN,
    ">=": ComparisonOperator.GREATER_THAN_OR_EQUAL,
}


@dataclass(frozen=True)
class ComparisonExpression(Expression):
    children: ClassVar[tuple[str, ...]] = ("left", "right")
    operator: ComparisonOperator
    left: Expression
    right: Expression


class LogicalOperator(enum.Enum):
    AND = "AND"
    OR = "OR"


@dataclass(frozen=True)
class LogicalBinaryExpression(Expression):
    children: ClassVar[tuple[str, ...]] = ("left", "right")
    operator: LogicalOperator
    left: Expression
    right: Expression


@dataclass(frozen=True)
class NotExpression(Expression):
    children: ClassVar[tuple[str, ...]] = ("value",)
    value: Expression


@dataclass(frozen=True)
class IsNullPredicate(Expression):
    children: ClassVar[tuple[str, ...]] = ("value",)
    value: Expression


@dataclass(frozen=True)
class IsNotNullPredicate(Expression):
    children: ClassVar[tuple[str, ...]] = ("value",)
    value: Expression


@dataclass(frozen=True)
class BetweenPredicate(Expression):
    children: ClassVar[tuple[str, ...]] = ("value", "min", "max")
    value: Expression
    min: Expression
    max: Expression


@dataclass(frozen=True)
class InPredicate(Expression):
    children: ClassVar[tuple[str, ...]] = ("value", "values")
    value: Expression
    values: tuple[Expression, ...]


@dataclass(frozen=True)
class LikePredicate(Expression):
    children: ClassVar[tuple[str, ...]] = ("value", "pattern")
    value: Expression
    pattern: Expression
    escape: str | None = None


@dataclass(frozen=True)
class WhenClause(Expression):
    children: ClassVar[tuple[str, ...]] = ("operand", "result")
    operand: Expression
    result: Expression


@dataclass(frozen=True)
class SearchedCaseExpression(Expression):
    children: ClassVar[tuple[str, ...]] = ("when_clauses", "default")
    when_clauses: tuple[WhenClause, ...]
    default: Expression | None = None


@dataclass(frozen=True)
class SimpleCaseExpression(Expression):
    children: ClassVar[tuple[str, ...]] = ("operand", "when_clauses", "default")
    operand: Expression
    when_clauses: tuple[WhenClause, ...]
    default: Expression | None = None


@dataclass(frozen=True)
class Cast(Expression):
    children: ClassVar[tuple[str, ...]] = ("expression",)
    expression: Expression
    type: SqlType


@dataclass(frozen=True)
class CreateArrayExpression(Expression):
    children: ClassVar[tuple[str, ...]] = ("values",)
    values: tuple[Expression, ...]


@dataclass(frozen=True)
class CreateMapExpression(Expression):
    """``MAP(k := v, ...)``; ``entries`` is a tuple of ``(key, value)`` expression pairs."""

    children: ClassVar[tuple[str, ...]] = ("entries",)
    entries: tuple[tuple[Expression, Expression], ...]


@dataclass(frozen=True)
class CreateStructExpression(Expression):
    """``STRUCT(name := value, ...)``; ``fields`` is a tuple of ``(name, expression)``."""

    children: ClassVar[tuple[str, ...]] = ("fields",)
    fields: tuple[tuple[str, Expression], ...]


def column_references(expression: Node) -> list[ColumnReference]:
    """Every column reference in an expression, in order of appearance."""
    from streamlab.ksql.parser.ast import walk

    return [n for n in walk(expression) if isinstance(n, ColumnReference)]
