"""Implicit coercion of user lists: IN lists and ARRAY/MAP constructors (``CoercionUtil``).

All elements are brought to one common type. Literals coerce leniently (``'10'`` can become an
INTEGER, ``10`` a STRING, ``'yes'`` a BOOLEAN); other expressions only widen
(INTEGER → BIGINT → DECIMAL → DOUBLE). Literals are converted in place, other expressions are
wrapped in a CAST. Failures read as in ksqlDB::

    operator does not exist: INTEGER = BOOLEAN (true)
    invalid input syntax for type BIGINT: "10 - not a number".
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.expressions.cast import parse_boolean_exact
from streamlab.ksql.jvm import big_decimal_to_plain_string, double_to_string
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.types import (
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    LONG_MIN,
    SqlArray,
    SqlBaseType,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
    SqlTypes,
    to_sql_decimal,
    widest_numeric,
)

B = SqlBaseType


class InvalidCoercion(KsqlException):
    pass


def coerce_user_list(
    expressions: Sequence[ex.Expression], type_manager
) -> tuple[SqlType | None, list[ex.Expression]]:
    """``(common type, expressions converted to it)``; the type is None if all are NULL."""
    typed = [(type_manager.get_type(e), e) for e in expressions]
    common: SqlType | None = None
    for sql_type, expression in typed:
        common = _resolve_common(sql_type, expression, common, type_manager)
    if common is None:
        return None, list(expressions)
    return common, [_convert(sql_type, e, common) for sql_type, e in typed]


def _resolve_common(sql_type, expression, common, type_manager):
    if common is None:
        return sql_type
    if sql_type is None:
        return common
    if isinstance(expression, ex.CreateArrayExpression):
        if not isinstance(common, SqlArray):
            raise _failure(expression, sql_type, common)
        try:
            item = _structured_common(common.item_type, expression.values, type_manager)
        except InvalidCoercion as error:
            raise _failure(expression, sql_type, common) from error
        return SqlArray(item)
    if isinstance(expression, ex.CreateMapExpression):
        if not isinstance(common, SqlMap):
            raise _failure(expression, sql_type, common)
        try:
            key = _structured_common(
                common.key_type, [k for k, _ in expression.entries], type_manager
            )
            value = _structured_common(
                common.value_type, [v for _, v in expression.entries], type_manager
            )
        except InvalidCoercion as error:
            raise _failure(expression, sql_type, common) from error
        return SqlMap(key, value)
    if isinstance(expression, ex.CreateStructExpression):
        if not isinstance(common, SqlStruct):
            raise _failure(expression, sql_type, common)
        try:
            return _common_struct(expression, common, type_manager)
        except InvalidCoercion as error:
            raise _failure(expression, sql_type, common) from error
    if isinstance(expression, ex.StringLiteral):
        if common.base.is_number():
            return _numeric_from_string(expression.value, common)
        if common.base is B.BOOLEAN:
            if parse_boolean_exact(expression.value.strip()) is None:
                raise _invalid_syntax(expression.value, common)
            return common
    literal = isinstance(expression, ex.Literal)
    found = can_coerce(sql_type, common, lax=literal)
    if found is not None:
        return found
    found = can_coerce(common, sql_type, lax=literal)
    if found is not None:
        return found
    raise _failure(expression, sql_type, common)


def _structured_common(target: SqlType, expressions, type_manager) -> SqlType:
    """The common type of a constructor's elements, starting from ``target``."""
    common = target
    for expression in expressions:
        sql_type = type_manager.get_type(expression)
        common = _resolve_common(sql_type, expression, common, type_manager)
    return common


def _common_struct(expression: ex.CreateStructExpression, target: SqlStruct, type_manager):
    """A STRUCT constructor against a struct type: the union of their fields."""
    source_fields = dict(expression.fields)
    names = list(dict.fromkeys([*source_fields, *(name for name, _ in target.fields)]))
    fields = []
    for name in names:
        target_type = target.field(name)
        if name not in source_fields:
            fields.append((name, target_type))
            continue
        value = source_fields[name]
        source_type = type_manager.get_type(value)
        if target_type is None:
            fields.append((name, source_type))
        elif source_type is None:
            fields.append((name, target_type))
        else:
            fields.append((name, _resolve_common(source_type, value, target_type, type_manager)))
    return SqlStruct(tuple(fields))


def _numeric_from_string(text: str, target: SqlType) -> SqlType:
    source = _string_numeric_type(text, target)
    if source.base is B.DOUBLE or target.base is B.DOUBLE:
        return SqlTypes.DOUBLE
    if source.base is B.DECIMAL or target.base is B.DECIMAL:
        return widest_numeric(source, target)
    return target if source.base.can_implicitly_cast(target.base) else source


def _string_numeric_type(text: str, target: SqlType) -> SqlType:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as error:
        raise _invalid_syntax(text, target) from error
    if not value.is_finite():
        raise _invalid_syntax(text, target)
    has_point = "." in text or "e" in text or "E" in text
    if not has_point and value.as_tuple().exponent == 0:
        integral = int(value)
        if INT_MIN < integral < INT_MAX:
            return SqlTypes.INTEGER
        if LONG_MIN < integral < LONG_MAX:
            return SqlTypes.BIGINT
    from streamlab.ksql.expressions.typing import decimal_type_of

    return decimal_type_of(value)


def can_coerce(source: SqlType, target: SqlType, lax: bool) -> SqlType | None:
    """``DefaultSqlValueCoercer.canCoerce`` (STRICT, or LAX for literals)."""
    sb, tb = source.base, target.base
    if sb.is_number() and tb.is_number():
        if not sb.can_implicitly_cast(tb):
            return None
        if tb is B.DECIMAL:
            return widest_numeric(to_sql_decimal(source), target)
        return target
    if sb is tb and sb in (B.BOOLEAN, B.STRING, B.TIMESTAMP, B.TIME, B.DATE, B.BYTES):
        return target
    if sb is B.STRING and tb in (B.TIMESTAMP, B.TIME, B.DATE, B.BYTES):
        return target
    if isinstance(source, SqlArray) and isinstance(target, SqlArray):
        item = can_coerce(source.item_type, target.item_type, lax)
        return SqlArray(item) if item is not None else None
    if isinstance(source, SqlMap) and isinstance(target, SqlMap):
        key = can_coerce(source.key_type, target.key_type, lax)
        value = can_coerce(source.value_type, target.value_type, lax)
        return SqlMap(key, value) if key is not None and value is not None else None
    if isinstance(source, SqlStruct) and isinstance(target, SqlStruct):
        names = list(dict.fromkeys(name for name, _ in (*source.fields, *target.fields)))
        fields = []
        for name in names:
            from_type, to_type = source.field(name), target.field(name)
            if from_type is None or to_type is None:
                fields.append((name, to_type if from_type is None else from_type))
                continue
            common = can_coerce(from_type, to_type, lax)
            if common is None:
                return None
            fields.append((name, common))
        return SqlStruct(tuple(fields))
    if lax:
        if tb is B.STRING and sb in (
            B.BOOLEAN,
            B.INTEGER,
            B.BIGINT,
            B.DECIMAL,
            B.DOUBLE,
            B.TIMESTAMP,
            B.TIME,
            B.DATE,
        ):
            return target
        if sb is B.STRING and tb in (B.BOOLEAN, B.INTEGER, B.BIGINT, B.DECIMAL, B.DOUBLE):
            return target
    return None


def _convert(sql_type, expression, common):
    if sql_type is None or sql_type == common:
        return expression
    if isinstance(expression, ex.Literal):
        return coerce_literal(expression, common)
    return ex.Cast(expression, common, location=expression.location)


def coerce_literal(literal: ex.Literal, target: SqlType) -> ex.Literal:
    """Convert a literal's value to ``target`` (LAX rules), as a literal node of that type."""
    value = literal.value
    tb = target.base
    try:
        if tb is B.STRING:
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, float):
                text = double_to_string(value)
            elif isinstance(value, Decimal):
                text = big_decimal_to_plain_string(value)
            else:
                text = str(value)
            return ex.StringLiteral(text, location=literal.location)
        if tb is B.BOOLEAN:
            if isinstance(value, str):
                parsed = parse_boolean_exact(value.strip())
                if parsed is None:
                    raise _invalid_syntax(value, target)
                return ex.BooleanLiteral(parsed, location=literal.location)
            return literal
        if tb in (B.INTEGER, B.BIGINT):
            number = int(value.strip()) if isinstance(value, str) else int(value)
            node = ex.IntegerLiteral if tb is B.INTEGER else ex.LongLiteral
            return node(number, location=literal.location)
        if tb is B.DOUBLE:
            return ex.DoubleLiteral(float(value), location=literal.location)
        if isinstance(target, SqlDecimal):
            from streamlab.ksql.expressions.cast import to_decimal

            source = value.strip() if isinstance(value, str) else value
            return ex.DecimalLiteral(to_decimal(source, target), location=literal.location)
    except (ValueError, InvalidOperation) as error:
        raise _invalid_syntax(value, target) from error
    return literal


def _invalid_syntax(value, target: SqlType) -> KsqlException:
    return KsqlException(f'invalid input syntax for type {target.base.value}: "{value}".')


def _failure(expression, source, target) -> InvalidCoercion:
    return InvalidCoercion(
        f"operator does not exist: {target} = {source} ({expression})\n"
        "Hint: You might need to add explicit type casts."
    )
