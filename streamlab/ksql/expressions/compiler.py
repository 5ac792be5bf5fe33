"""Compiles expressions into Python closures over a processing row (a list of values).

The tree is walked once, at planning time; evaluating a row then runs a chain of small
closures, never the AST. Semantics follow the Java code ksqlDB generates:

* comparisons, BETWEEN, IN and LIKE with a NULL side are *false* (not NULL);
* arithmetic, NOT, AND/OR, LIKE on a NULL operand fail like a Java ``NullPointerException``:
  the whole expression becomes NULL and a processing error is reported;
* a failing CAST, or a failing function call used as an argument, is NULL on its own;
* integers wrap on overflow, integer division truncates, ``x / 0`` fails; decimals compute
  exactly at the precision and scale their SQL type says.

>>> from streamlab.ksql.parser import parse_expression
>>> from streamlab.ksql.types import SqlTypes
>>> compiled = ExpressionCompiler([("A", SqlTypes.INTEGER)]).compile(parse_expression("A * 2 + 1"))
>>> compiled.evaluate([20]), compiled.evaluate([None]), str(compiled.sql_type)
(41, None, 'INTEGER')
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation
from decimal import DivisionByZero as DecimalDivisionByZero
from typing import Any

from streamlab.ksql.errors import KsqlException, KsqlStatementException
from streamlab.ksql.expressions.cast import CastError, caster
from streamlab.ksql.expressions.coercion import coerce_user_list
from streamlab.ksql.expressions.typing import ExpressionTypeManager, simple_to_searched
from streamlab.ksql.functions import FUNCTIONS, FunctionRegistry
from streamlab.ksql.jvm import (
    java_double_div,
    java_double_mod,
    java_int_div,
    java_mod,
    wrap_int,
    wrap_long,
)
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.types import SqlBaseType, SqlDecimal, SqlType, SqlTypes, to_sql_decimal

B = SqlBaseType
Row = Sequence[Any]
Fn = Callable[[Row], Any]


class NullOperand(Exception):
    """A NULL where Java would unbox a primitive (``NullPointerException``)."""


class CompiledExpression:
    """An expression ready to evaluate against processing rows.

    ``evaluate(row)`` never raises: a failure makes the result NULL and is passed to
    ``on_error(expression, error, row)`` when given (the processing log).
    """

    __slots__ = ("expression", "fn", "sql_type")

    def __init__(self, expression: ex.Expression, sql_type: SqlType | None, fn: Fn) -> None:
        self.expression = expression
        self.sql_type = sql_type
        self.fn = fn

    def evaluate(self, row: Row, on_error: Callable[..., None] | None = None) -> Any:
        try:
            return self.fn(row)
        except Exception as error:
            if on_error is not None:
                on_error(self, error, row)
            return None

    def __repr__(self) -> str:
        return f"CompiledExpression({self.expression})"


def _null(value: Any) -> Any:
    if value is None:
        raise NullOperand()
    return value


def _constant(value: Any, row: Row) -> Any:
    return value


def _guard(fn: Fn) -> Fn:
    """Errors inside ``fn`` give NULL for ``fn`` only (ksqlDB's nested error handling)."""

    def guarded(row: Row) -> Any:
        try:
            return fn(row)
        except Exception:
            return None

    return guarded


class ExpressionCompiler:
    """Compiles expressions over the columns of a processing row, in order."""

    def __init__(
        self,
        columns: Sequence[tuple[str, SqlType]],
        functions: FunctionRegistry = FUNCTIONS,
    ) -> None:
        self.columns = list(columns)
        self.index: dict[str, int] = {}
        types: dict[str, SqlType] = {}
        for i, (name, sql_type) in enumerate(self.columns):
            self.index.setdefault(name, i)
            types.setdefault(name, sql_type)
        self.functions = functions
        self.types = ExpressionTypeManager(types, functions)
        self.lambda_index: dict[str, int] = {}  # lambda variable → position in the row

    def compile(self, expression: ex.Expression, kind: str = "Select") -> CompiledExpression:
        """Type-check and compile; compile errors read ``Invalid <kind>: <reason>.``"""
        try:
            sql_type = self.types.get_type(expression)
            if sql_type is None:
                raise KsqlException("NULL expression not supported")
            fn = self._build(expression)
        except KsqlStatementException:
            raise
        except KsqlException as error:
            raise KsqlStatementException(
                f"Invalid {kind}: {error.message}.",
                statement=str(expression),
                unlogged_details=f"Invalid {kind}: {error.message}. expression: {expression}",
            ) from error
        return CompiledExpression(expression, sql_type, fn)

    def type_of(self, expression: ex.Expression) -> SqlType | None:
        return self.types.get_type(expression)

    # ---- dispatch -------------------------------------------------------------------------------

    def _build(self, node: ex.Expression) -> Fn:
        builder = _BUILDERS.get(type(node))
        if builder is None:
            raise KsqlException(f"Unsupported expression: {node}")
        return builder(self, node)

    def _literal(self, node: ex.Literal) -> Fn:
        value = node.value
        return lambda row: value

    def _column(self, node: ex.ColumnReference) -> Fn:
        if node.name not in self.index or node.source is not None:
            raise KsqlException(f"Unknown column {node}.")
        return operator.itemgetter(self.index[node.name])

    # ---- arithmetic -----------------------------------------------------------------------------

    def _arithmetic(self, node: ex.ArithmeticBinaryExpression) -> Fn:
        result = self.types.get_type(node)
        left_type, right_type = self.types.get_type(node.left), self.types.get_type(node.right)
        lf, rf = self._build(node.left), self._build(node.right)
        op = node.operator
        if result.base is B.STRING:

            def concat(row: Row) -> str:
                left, right = lf(row), rf(row)
                return ("null" if left is None else left) + ("null" if right is None else right)

            return concat
        if isinstance(result, SqlDecimal):
            return _decimal_arithmetic(op, result, left_type, right_type, lf, rf)
        if result.base is B.DOUBLE:
            to_float_l = float if left_type.base is B.DECIMAL else None
            to_float_r = float if right_type.base is B.DECIMAL else None
            impl = _DOUBLE_OPS[op]

            def double_op(row: Row) -> float:
                left, right = _null(lf(row)), _null(rf(row))
                if to_float_l:
                    left = to_float_l(left)
                if to_float_r:
                    right = to_float_r(right)
                return impl(float(left), float(right))

            return double_op
        wrap = wrap_int if result.base is B.INTEGER else wrap_long
        impl = _INT_OPS[op]

        def int_op(row: Row) -> int:
            return wrap(impl(_null(lf(row)), _null(rf(row))))

        return int_op

    def _unary(self, node: ex.ArithmeticUnaryExpression) -> Fn:
        fn = self._build(node.value)
        if node.sign is ex.Sign.PLUS:
            return lambda row: _null(fn(row))
        sql_type = self.types.get_type(node.value)
        if sql_type is not None and sql_type.base is B.INTEGER:
            return lambda row: wrap_int(-_null(fn(row)))
        if sql_type is not None and sql_type.base is B.BIGINT:
            return lambda row: wrap_long(-_null(fn(row)))
        return lambda row: -_null(fn(row))

    # ---- predicates -----------------------------------------------------------------------------

    def _comparison(self, node: ex.ComparisonExpression) -> Fn:
        left_type, right_type = self.types.get_type(node.left), self.types.get_type(node.right)
        lf, rf = self._build(node.left), self._build(node.right)
        return comparison(node.operator, left_type, right_type, lf, rf)

    def _between(self, node: ex.BetweenPredicate) -> Fn:
        ge = self._comparison(
            ex.ComparisonExpression(
                ex.ComparisonOperator.GREATER_THAN_OR_EQUAL, node.value, node.min
            )
        )
        le = self._comparison(
            ex.ComparisonExpression(ex.ComparisonOperator.LESS_THAN_OR_EQUAL, node.value, node.max)
        )
        return lambda row: ge(row) and le(row)

    def _in(self, node: ex.InPredicate) -> Fn:
        non_null = [v for v in node.values if not isinstance(v, ex.NullLiteral)]
        _, coerced = coerce_user_list([node.value, *non_null], self.types)
        value_fn = self._build(coerced[0])
        literal_values = []
        other_fns = []
        for item in coerced[1:]:
            if isinstance(item, ex.Literal):
                literal_values.append(item.value)
            else:
                other_fns.append(self._build(item))

        def in_list(row: Row) -> bool:
            value = value_fn(row)
            if value is None:
                return False
            if value in literal_values:
                return True
            for fn in other_fns:
                candidate = fn(row)
                if candidate is not None and candidate == value:
                    return True
            return False

        return in_list

    def _like(self, node: ex.LikePredicate) -> Fn:
        value_fn = self._build(node.value)
        if isinstance(node.pattern, ex.StringLiteral):
            regex = like_regex(node.pattern.value, node.escape)
            return lambda row: regex.fullmatch(_null(value_fn(row))) is not None
        pattern_fn = self._build(node.pattern)
        escape = node.escape
        return lambda row: (
            like_regex(_null(pattern_fn(row)), escape).fullmatch(_null(value_fn(row))) is not None
        )

    def _is_null(self, node: ex.IsNullPredicate) -> Fn:
        fn = self._build(node.value)
        return lambda row: fn(row) is None

    def _is_not_null(self, node: ex.IsNotNullPredicate) -> Fn:
        fn = self._build(node.value)
        return lambda row: fn(row) is not None

    def _not(self, node: ex.NotExpression) -> Fn:
        self.types.get_type(node.value)
        fn = self._build(node.value)
        return lambda row: not _null(fn(row))

    def _logical(self, node: ex.LogicalBinaryExpression) -> Fn:
        lf, rf = self._build(node.left), self._build(node.right)
        if node.operator is ex.LogicalOperator.AND:
            return lambda row: _null(lf(row)) and _null(rf(row))
        return lambda row: _null(lf(row)) or _null(rf(row))

    # ---- conditionals, casts, calls -------------------------------------------------------------

    def _searched_case(self, node: ex.SearchedCaseExpression) -> Fn:
        clauses = [(self._build(w.operand), self._build(w.result)) for w in node.when_clauses]
        default = self._build(node.default) if node.default is not None else (lambda row: None)

        def case(row: Row) -> Any:
            for condition, result in clauses:
                if _null(condition(row)):
                    return result(row)
            return default(row)

        return case

    def _simple_case(self, node: ex.SimpleCaseExpression) -> Fn:
        return self._searched_case(simple_to_searched(node))

    def _cast(self, node: ex.Cast) -> Fn:
        from_type = self.types.get_type(node.expression)
        fn = self._build(node.expression)
        convert = caster(from_type, node.type)

        def cast(row: Row) -> Any:
            try:
                value = fn(row)
                return None if value is None else convert(value)
            except (CastError, ValueError, ArithmeticError, InvalidOperation, KsqlException):
                return None

        return cast

    def _function(self, node: ex.FunctionCall) -> Fn:
        arg_types = [self.types._argument_type(a) for a in node.arguments]
        resolved = self.functions.resolve(node.name, arg_types)
        overload = resolved.overload
        impl = overload.impl(list(resolved.param_types)) if overload.typed else overload.impl
        arg_fns = []
        for i, (arg, arg_type, param_type) in enumerate(
            zip(node.arguments, arg_types, resolved.param_types, strict=True)
        ):
            if isinstance(arg, ex.IntervalUnit):
                arg_fns.append(functools.partial(_constant, arg.unit))
                continue
            if isinstance(arg, ex.LambdaFunctionCall):
                arg_fns.append(self._lambda(arg, resolved.lambda_inputs[i]))
                continue
            fn = self._build(arg)
            if isinstance(arg, ex.FunctionCall | ex.DereferenceExpression):
                fn = _guard(fn)
            if arg_type is not None and param_type is not None and arg_type != param_type:
                fn = _converted(fn, caster(arg_type, param_type))
            arg_fns.append(fn)
        if overload.null_on_null:

            def call(row: Row) -> Any:
                args = [f(row) for f in arg_fns]
                if None in args:
                    return None
                return impl(*args)
        else:

            def call(row: Row) -> Any:
                return impl(*[f(row) for f in arg_fns])

        result_type = resolved.return_type
        if result_type is not None and result_type.base is B.DOUBLE:

            def double_result(row: Row) -> Any:
                value = call(row)
                return float(value) if isinstance(value, int) else value

            return double_result
        return call

    def _lambda(self, node: ex.LambdaFunctionCall, input_types: list[SqlType]) -> Fn:
        """A lambda argument: per row, a Python callable evaluating the body.

        The body is compiled against the row extended with the lambda's variables, so nested
        lambdas see the variables of the lambdas around them.
        """
        inner = ExpressionCompiler.__new__(ExpressionCompiler)
        inner.columns = self.columns + [
            (f"\0{name}", t) for name, t in zip(node.arguments, input_types, strict=True)
        ]
        inner.index = self.index
        inner.functions = self.functions
        inner.types = self.types.with_lambda_variables(node, input_types)
        base = len(self.columns)
        inner.lambda_index = dict(self.lambda_index)
        for offset, name in enumerate(node.arguments):
            inner.lambda_index[name] = base + offset
        body = inner._build(node.body)

        def make(row: Row) -> Callable[..., Any]:
            prefix = list(row)
            return lambda *values: body([*prefix, *values])

        return make

    def _lambda_variable(self, node: ex.LambdaVariable) -> Fn:
        index = self.lambda_index.get(node.name)
        if index is None:
            raise KsqlException(f"Unknown lambda variable {node.name}")
        return operator.itemgetter(index)

    def _dereference(self, node: ex.DereferenceExpression) -> Fn:
        self.types.get_type(node)
        base = self._build(node.base)
        name = node.field_name

        def dereference(row: Row) -> Any:
            value = base(row)
            return None if value is None else value.get(name)

        return dereference

    def _subscript(self, node: ex.SubscriptExpression) -> Fn:
        base_type = self.types.get_type(node.base)
        self.types.get_type(node)
        base, index = self._build(node.base), self._build(node.index)
        if base_type.base is B.MAP:

            def map_get(row: Row) -> Any:
                value = base(row)
                return None if value is None else value.get(index(row))

            return map_get

        def array_get(row: Row) -> Any:
            value = base(row)
            if value is None:
                return None
            i = _null(index(row))
            true_index = i - 1 if i >= 0 else len(value) + i
            if true_index < 0 or true_index >= len(value):
                return None
            return value[true_index]

        return array_get

    def _create_array(self, node: ex.CreateArrayExpression) -> Fn:
        _, values = coerce_user_list(node.values, self.types)
        fns = [_guard(self._build(v)) for v in values]
        return lambda row: [f(row) for f in fns]

    def _create_map(self, node: ex.CreateMapExpression) -> Fn:
        _, keys = coerce_user_list([k for k, _ in node.entries], self.types)
        _, values = coerce_user_list([v for _, v in node.entries], self.types)
        pairs = [
            (_guard(self._build(k)), _guard(self._build(v)))
            for k, v in zip(keys, values, strict=True)
        ]
        return lambda row: {k(row): v(row) for k, v in pairs}

    def _create_struct(self, node: ex.CreateStructExpression) -> Fn:
        fields = [(name, _guard(self._build(value))) for name, value in node.fields]
        return lambda row: {name: fn(row) for name, fn in fields}


def _converted(fn: Fn, convert: Callable[[Any], Any]) -> Fn:
    def run(row: Row) -> Any:
        value = fn(row)
        return None if value is None else convert(value)

    return run


# ---- operator tables ----------------------------------------------------------------------------

_INT_OPS: dict[ex.ArithmeticOperator, Callable[[int, int], int]] = {
    ex.ArithmeticOperator.ADD: operator.add,
    ex.ArithmeticOperator.SUBTRACT: operator.sub,
    ex.ArithmeticOperator.MULTIPLY: operator.mul,
    ex.ArithmeticOperator.DIVIDE: java_int_div,
    ex.ArithmeticOperator.MODULUS: java_mod,
}
_DOUBLE_OPS: dict[ex.ArithmeticOperator, Callable[[float, float], float]] = {
    ex.ArithmeticOperator.ADD: operator.add,
    ex.ArithmeticOperator.SUBTRACT: operator.sub,
    ex.ArithmeticOperator.MULTIPLY: operator.mul,
    ex.ArithmeticOperator.DIVIDE: java_double_div,
    ex.ArithmeticOperator.MODULUS: java_double_mod,
}


def _decimal_arithmetic(op, result: SqlDecimal, left_type, right_type, lf: Fn, rf: Fn) -> Fn:
    to_left = caster(left_type, to_sql_decimal(left_type))
    to_right = caster(right_type, to_sql_decimal(right_type))
    context = Context(
        prec=result.precision, traps=[Inexact, InvalidOperation, DecimalDivisionByZero]
    )
    quantum = Decimal(1).scaleb(-result.scale)
    scale_context = Context(prec=1000, traps=[Inexact, InvalidOperation])
    method = {
        ex.ArithmeticOperator.ADD: context.add,
        ex.ArithmeticOperator.SUBTRACT: context.subtract,
        ex.ArithmeticOperator.MULTIPLY: context.multiply,
        ex.ArithmeticOperator.DIVIDE: context.divide,
        ex.ArithmeticOperator.MODULUS: context.remainder,
    }[op]

    def decimal_op(row: Row) -> Decimal:
        left, right = to_left(_null(lf(row))), to_right(_null(rf(row)))
        return method(left, right).quantize(quantum, context=scale_context)

    return decimal_op


def _to_decimal_fn(sql_type: SqlType) -> Callable[[Any], Decimal]:
    if sql_type.base is B.DOUBLE:
        return lambda v: Decimal(repr(v))
    if sql_type.base is B.DECIMAL:
        return lambda v: v
    return Decimal


_COMPARE = {
    ex.ComparisonOperator.EQUAL: operator.eq,
    ex.ComparisonOperator.NOT_EQUAL: operator.ne,
    ex.ComparisonOperator.LESS_THAN: operator.lt,
    ex.ComparisonOperator.LESS_THAN_OR_EQUAL: operator.le,
    ex.ComparisonOperator.GREATER_THAN: operator.gt,
    ex.ComparisonOperator.GREATER_THAN_OR_EQUAL: operator.ge,
    ex.ComparisonOperator.IS_DISTINCT_FROM: operator.ne,
    ex.ComparisonOperator.IS_NOT_DISTINCT_FROM: operator.eq,
}


def comparison(op: ex.ComparisonOperator, left_type, right_type, lf: Fn, rf: Fn) -> Fn:
    """A comparison closure with ksqlDB's NULL handling (NULL compares false)."""
    compare = _COMPARE[op]
    convert_l = convert_r = None
    if left_type.base is B.DECIMAL or right_type.base is B.DECIMAL:
        convert_l, convert_r = _to_decimal_fn(left_type), _to_decimal_fn(right_type)
    elif left_type.base.is_time() or right_type.base.is_time():
        target = (
            SqlTypes.TIME
            if B.TIME in (left_type.base, right_type.base)
            else SqlTypes.TIMESTAMP
            if B.TIMESTAMP in (left_type.base, right_type.base)
            else SqlTypes.DATE
        )
        if left_type.base is B.STRING:
            convert_l = caster(SqlTypes.STRING, target)
        elif left_type.base is B.DATE and target is SqlTypes.TIMESTAMP:
            convert_l = caster(SqlTypes.DATE, SqlTypes.TIMESTAMP)
        if right_type.base is B.STRING:
            convert_r = caster(SqlTypes.STRING, target)
        elif right_type.base is B.DATE and target is SqlTypes.TIMESTAMP:
            convert_r = caster(SqlTypes.DATE, SqlTypes.TIMESTAMP)

    if op is ex.ComparisonOperator.IS_DISTINCT_FROM:

        def distinct(row: Row) -> bool:
            left, right = lf(row), rf(row)
            if left is None or right is None:
                return (left is None) != (right is None)
            if convert_l:
                left = convert_l(left)
            if convert_r:
                right = convert_r(right)
            return left != right

        return distinct
    if op is ex.ComparisonOperator.IS_NOT_DISTINCT_FROM:

        def not_distinct(row: Row) -> bool:
            left, right = lf(row), rf(row)
            if left is None or right is None:
                return left is None and right is None
            if convert_l:
                left = convert_l(left)
            if convert_r:
                right = convert_r(right)
            return left == right

        return not_distinct
    if convert_l is None and convert_r is None:

        def compare_plain(row: Row) -> bool:
            left = lf(row)
            if left is None:
                return False
            right = rf(row)
            if right is None:
                return False
            return compare(left, right)

        return compare_plain

    def compare_converted(row: Row) -> bool:
        left, right = lf(row), rf(row)
        if left is None or right is None:
            return False
        if convert_l:
            left = convert_l(left)
        if convert_r:
            right = convert_r(right)
        return compare(left, right)

    return compare_converted


@functools.lru_cache(maxsize=1024)
def like_regex(pattern: str, escape: str | None = None) -> re.Pattern[str]:
    """A LIKE pattern as a regular expression (``%`` any run, ``_`` one character)."""
    parts: list[str] = []
    escaped = False
    for ch in pattern:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif escape is not None and ch == escape:
            escaped = True
        elif ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    if escaped:
        raise KsqlException("LIKE pattern must not end with escape character")
    return re.compile("".join(parts))


_C = ExpressionCompiler
_BUILDERS: dict[type, Callable[[ExpressionCompiler, Any], Fn]] = {
    ex.NullLiteral: _C._literal,
    ex.BooleanLiteral: _C._literal,
    ex.IntegerLiteral: _C._literal,
    ex.LongLiteral: _C._literal,
    ex.DoubleLiteral: _C._literal,
    ex.DecimalLiteral: _C._literal,
    ex.StringLiteral: _C._literal,
    ex.ColumnReference: _C._column,
    ex.ArithmeticBinaryExpression: _C._arithmetic,
    ex.ArithmeticUnaryExpression: _C._unary,
    ex.ComparisonExpression: _C._comparison,
    ex.BetweenPredicate: _C._between,
    ex.InPredicate: _C._in,
    ex.LikePredicate: _C._like,
    ex.IsNullPredicate: _C._is_null,
    ex.IsNotNullPredicate: _C._is_not_null,
    ex.NotExpression: _C._not,
    ex.LogicalBinaryExpression: _C._logical,
    ex.SearchedCaseExpression: _C._searched_case,
    ex.SimpleCaseExpression: _C._simple_case,
    ex.Cast: _C._cast,
    ex.FunctionCall: _C._function,
    ex.LambdaVariable: _C._lambda_variable,
    ex.DereferenceExpression: _C._dereference,
    ex.SubscriptExpression: _C._subscript,
    ex.CreateArrayExpression: _C._create_array,
    ex.CreateMapExpression: _C._create_map,
    ex.CreateStructExpression: _C._create_struct,
}
