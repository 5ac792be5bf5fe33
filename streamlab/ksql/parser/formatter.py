"""Expressions back to SQL text, exactly as ksqlDB's ``ExpressionFormatter`` prints them.

ksqlDB quotes every name in its error messages only where the name would not parse bare, wraps
binary operators in parentheses and prints ``COUNT()`` as ``COUNT(*)``:

>>> from streamlab.ksql.parser import parse_expression
>>> format_expression(parse_expression("abs(i.id) + 1 > 'x'"))
"((ABS(I.ID) + 1) > 'x')"
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

from streamlab.ksql.jvm import big_decimal_to_string
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.keywords import is_reserved
from streamlab.ksql.types import needs_quotes


def escape_name(name: str) -> str:
    """A column, source or field name as ksqlDB prints it in expressions."""
    if needs_quotes(name) or is_reserved(name):
        return "`" + name.replace("`", "``") + "`"
    return name


def format_expression(node: ex.Expression) -> str:
    formatter = _FORMATTERS.get(type(node))
    if formatter is None:
        raise TypeError(f"cannot format {type(node).__name__}")
    return formatter(node)


def _binary(operator: str, left: ex.Expression, right: ex.Expression) -> str:
    return f"({format_expression(left)} {operator} {format_expression(right)})"


def _join(expressions: tuple[ex.Expression, ...]) -> str:
    return ", ".join(format_expression(e) for e in expressions)


def format_double(value: float) -> str:
    """ICU's scientific notation with unlimited precision, as ksqlDB prints double literals."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "-0E0" if math.copysign(1, value) < 0 else "0E0"
    digits = repr(abs(value))
    mantissa = Decimal(digits).normalize()
    _, digit_tuple, exponent = mantissa.as_tuple()
    text = "".join(str(d) for d in digit_tuple)
    exp10 = exponent + len(text) - 1
    body = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return ("-" if value < 0 else "") + f"{body}E{exp10}"


def _function(node: ex.FunctionCall) -> str:
    arguments = _join(node.arguments)
    if not node.arguments and node.name == "COUNT":
        arguments = "*"
    return f"{escape_name(node.name)}({arguments})"


def _column(node: ex.ColumnReference) -> str:
    if node.source is not None:
        return f"{escape_name(node.source)}.{escape_name(node.name)}"
    return escape_name(node.name)


def _unary(node: ex.ArithmeticUnaryExpression) -> str:
    value = format_expression(node.value)
    if node.sign is ex.Sign.MINUS:
        return "-" + (" " if value.startswith("-") else "") + value
    return "+" + value


def _case(node: ex.SearchedCaseExpression | ex.SimpleCaseExpression) -> str:
    parts = ["CASE"]
    if isinstance(node, ex.SimpleCaseExpression):
        parts.append(format_expression(node.operand))
    parts.extend(format_expression(w) for w in node.when_clauses)
    if node.default is not None:
        parts.extend(["ELSE", format_expression(node.default)])
    parts.append("END")
    return "(" + " ".join(parts) + ")"


def _like(node: ex.LikePredicate) -> str:
    escape = f" ESCAPE '{node.escape}'" if node.escape is not None else ""
    return f"({format_expression(node.value)} LIKE {format_expression(node.pattern)}{escape})"


_FORMATTERS: dict[type, Callable[..., str]] = {
    ex.NullLiteral: lambda n: "null",
    ex.BooleanLiteral: lambda n: "true" if n.value else "false",
    ex.IntegerLiteral: lambda n: str(n.value),
    ex.LongLiteral: lambda n: str(n.value),
    ex.DoubleLiteral: lambda n: format_double(n.value),
    ex.DecimalLiteral: lambda n: big_decimal_to_string(n.value),
    ex.StringLiteral: lambda n: "'" + n.value.replace("'", "''") + "'",
    ex.ColumnReference: _column,
    ex.DereferenceExpression: lambda n: f"{format_expression(n.base)}->{escape_name(n.field_name)}",
    ex.SubscriptExpression: lambda n: f"{format_expression(n.base)}[{format_expression(n.index)}]",
    ex.LambdaVariable: lambda n: n.name,
    ex.IntervalUnit: lambda n: n.unit,
    ex.FunctionCall: _function,
    ex.LambdaFunctionCall: lambda n: f"({', '.join(n.arguments)}) => {format_expression(n.body)}",
    ex.ArithmeticUnaryExpression: _unary,
    ex.ArithmeticBinaryExpression: lambda n: _binary(n.operator.symbol, n.left, n.right),
    ex.ComparisonExpression: lambda n: _binary(n.operator.symbol, n.left, n.right),
    ex.LogicalBinaryExpression: lambda n: _binary(n.operator.value, n.left, n.right),
    ex.NotExpression: lambda n: f"(NOT {format_expression(n.value)})",
    ex.IsNullPredicate: lambda n: f"({format_expression(n.value)} IS NULL)",
    ex.IsNotNullPredicate: lambda n: f"({format_expression(n.value)} IS NOT NULL)",
    ex.BetweenPredicate: lambda n: (
        f"({format_expression(n.value)} BETWEEN {format_expression(n.min)} "
        f"AND {format_expression(n.max)})"
    ),
    ex.InPredicate: lambda n: f"({format_expression(n.value)} IN ({_join(n.values)}))",
    ex.LikePredicate: _like,
    ex.WhenClause: lambda n: (
        f"WHEN {format_expression(n.operand)} THEN {format_expression(n.result)}"
    ),
    ex.SearchedCaseExpression: _case,
    ex.SimpleCaseExpression: _case,
    ex.Cast: lambda n: f"CAST({format_expression(n.expression)} AS {n.type})",
    ex.CreateArrayExpression: lambda n: f"ARRAY[{_join(n.values)}]",
    ex.CreateMapExpression: lambda n: (
        "MAP("
        + ", ".join(f"{format_expression(k)}:={format_expression(v)}" for k, v in n.entries)
        + ")"
    ),
    ex.CreateStructExpression: lambda n: (
        "STRUCT("
        + ", ".join(f"{escape_name(name)}:={format_expression(v)}" for name, v in n.fields)
        + ")"
    ),
}
