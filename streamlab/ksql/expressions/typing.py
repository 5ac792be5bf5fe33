"""Type checking of expressions: ksqlDB's ``ExpressionTypeManager``.

:meth:`ExpressionTypeManager.get_type` returns the SQL type of an expression over a set of
columns (``None`` is the type of the NULL literal), or raises a ksqlDB-shaped error: an unknown
column, an invalid comparison, unsupported arithmetic, an inconsistent CASE.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streamlab.ksql.errors import KsqlException, KsqlStatementException
from streamlab.ksql.functions import FUNCTIONS, FunctionRegistry
from streamlab.ksql.functions.registry import INTERVAL_UNIT, LambdaArg
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.types import (
    SqlArray,
    SqlBaseType,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
    SqlTypes,
    quote_identifier,
    to_sql_decimal,
)

B = SqlBaseType


def decimal_type_of(value) -> SqlDecimal:
    """``DecimalUtil.fromValue``: the precision and scale of a literal decimal."""
    _, digits, exponent = value.as_tuple()
    scale = max(-exponent, 0)
    precision = max(len(digits), scale, 1)
    if exponent > 0:
        precision = len(digits) + exponent
    return SqlDecimal(max(precision, 1), scale)


def arithmetic_result_type(operator: ex.ArithmeticOperator, left, right) -> SqlType:
    """``Operator.resultType``: the type of ``left <op> right``."""
    if left is None or right is None:
        raise KsqlException(
            f"Arithmetic on types {_name(left)} and {_name(right)} are not supported."
        )
    if operator is ex.ArithmeticOperator.ADD and left.base is B.STRING and right.base is B.STRING:
        return SqlTypes.STRING
    if left.base.is_number() and right.base.is_number():
        resolver = {
            ex.ArithmeticOperator.ADD: SqlDecimal.add,
            ex.ArithmeticOperator.SUBTRACT: SqlDecimal.add,
            ex.ArithmeticOperator.MULTIPLY: SqlDecimal.multiply,
            ex.ArithmeticOperator.DIVIDE: SqlDecimal.divide,
            ex.ArithmeticOperator.MODULUS: SqlDecimal.modulus,
        }[operator]
        if left.base.can_implicitly_cast(right.base):
            if right.base is not B.DECIMAL:
                return right
            return resolver(to_sql_decimal(left), right)
        if right.base.can_implicitly_cast(left.base):
            if left.base is not B.DECIMAL:
                return left
            return resolver(left, to_sql_decimal(right))
    raise KsqlException(f"Unsupported arithmetic types. {left.base.value} {right.base.value}")


def _name(sql_type: SqlType | None) -> str:
    return "null" if sql_type is None else str(sql_type)


_EQUALITY = {
    ex.ComparisonOperator.EQUAL,
    ex.ComparisonOperator.NOT_EQUAL,
    ex.ComparisonOperator.IS_DISTINCT_FROM,
    ex.ComparisonOperator.IS_NOT_DISTINCT_FROM,
}


def is_valid_comparison(left: SqlType | None, op: ex.ComparisonOperator, right: SqlType | None):
    """``ComparisonUtil.isValidComparison``; raises for a NULL-typed side."""
    if left is None or right is None:
        left_name = "NULL" if left is None else left.base.value
        right_name = "NULL" if right is None else right.base.value
        raise KsqlException(
            f"Comparison with NULL not supported: {left_name} {op.symbol} {right_name}\n"
            "Use 'IS NULL' or 'IS NOT NULL' instead."
        )
    lb, rb = left.base, right.base
    if lb.is_number():
        return rb.is_number()
    if lb is B.STRING:
        return rb is B.STRING or rb.is_time()
    if lb in (B.BOOLEAN, B.ARRAY, B.MAP, B.STRUCT):
        return rb is lb and op in _EQUALITY
    if lb is B.TIME:
        return rb in (B.TIME, B.STRING)
    if lb in (B.DATE, B.TIMESTAMP):
        return rb in (B.DATE, B.TIMESTAMP, B.STRING)
    if lb is B.BYTES:
        return rb is B.BYTES
    return False


class ExpressionTypeManager:
    """Types expressions over ``columns`` (name → type), using ``functions`` for calls."""

    def __init__(
        self,
        columns: Mapping[str, SqlType],
        functions: FunctionRegistry = FUNCTIONS,
        lambda_types: Mapping[str, SqlType] | None = None,
    ) -> None:
        self.columns = columns
        self.functions = functions
        self.lambda_types = dict(lambda_types or {})

    def get_type(self, node: ex.Expression) -> SqlType | None:
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise KsqlException(f"Unsupported expression: {node}")
        return handler(self, node)

    # ---- handlers (referenced from _HANDLERS) ---------------------------------------------------

    def _column(self, node: ex.ColumnReference) -> SqlType:
        if node.source is not None:
            raise KsqlException(f"Unknown column {node}.")
        sql_type = self.columns.get(node.name)
        if sql_type is None and node.name not in self.columns:
            raise KsqlException(f"Unknown column {node}.")
        return sql_type  # type: ignore[return-value]

    def _arithmetic(self, node: ex.ArithmeticBinaryExpression) -> SqlType:
        left, right = self.get_type(node.left), self.get_type(node.right)
        try:
            return arithmetic_result_type(node.operator, left, right)
        except KsqlException as error:
            raise KsqlStatementException(
                "Error processing expression.",
                statement=str(node),
                unlogged_details=f"Error processing expression: {node}. {error.message}",
            ) from error

    def _comparison(self, node: ex.ComparisonExpression) -> SqlType:
        left, right = self.get_type(node.left), self.get_type(node.right)
        if not is_valid_comparison(left, node.operator, right):
            raise KsqlStatementException(
                f"Cannot compare {left} to {right} with {node.operator.name}.",
                statement=str(node),
                unlogged_details=(
                    f"Cannot compare {node.left} ({left}) to {node.right} ({right}) "
                    f"with {node.operator.name}."
                ),
            )
        return SqlTypes.BOOLEAN

    def _boolean_of(self, *children: ex.Expression) -> SqlType:
        for child in children:
            self.get_type(child)
        return SqlTypes.BOOLEAN

    def _dereference(self, node: ex.DereferenceExpression) -> SqlType:
        base = self.get_type(node.base)
        if not isinstance(base, SqlStruct):
            raise KsqlException(f"Expected STRUCT type, got: {base}")
        field = base.field(node.field_name)
        if field is None:
            raise KsqlException(f"Could not find field '{node.field_name}' in '{node.base}'.")
        return field

    def _subscript(self, node: ex.SubscriptExpression) -> SqlType:
        base = self.get_type(node.base)
        self.get_type(node.index)
        if isinstance(base, SqlMap):
            return base.value_type
        if isinstance(base, SqlArray):
            return base.item_type
        hint = ""
        if isinstance(base, SqlStruct):
            hint = f" Use the dereference operator for STRUCTS: {node.base}->'{node.index}'"
        raise KsqlException(f"Subscript expression ({node}) do not apply to {base}.{hint}")

    def _searched_case(self, node: ex.SearchedCaseExpression) -> SqlType:
        when_type: SqlType | None = None
        for clause in node.when_clauses:
            operand = self.get_type(clause.operand)
            if operand is None or operand.base is not B.BOOLEAN:
                raise KsqlException(
                    "WHEN operand type should be boolean.\n"
                    f"Type for '{clause.operand}' is {operand}"
                )
            result = self.get_type(clause.result)
            if result is None:
                continue
            if when_type is None:
                when_type = result
            elif when_type != result:
                raise KsqlException(
                    "Invalid Case expression. Type for all 'THEN' clauses should be the same.\n"
                    f"THEN expression '{clause}' has type: {result}.\n"
                    f"Previous THEN expression(s) type: {when_type}."
                )
        default = self.get_type(node.default) if node.default is not None else None
        if when_type is not None and default is not None:
            if when_type != default:
                raise KsqlException(
                    "Invalid Case expression. Type for the default clause should be the same as "
                    f"for 'THEN' clauses.\nTHEN type: {when_type}.\nDEFAULT type: {default}."
                )
            return when_type
        if when_type is not None:
            return when_type
        if default is not None:
            return default
        raise KsqlException("Invalid Case expression. All case branches have NULL type")

    def _simple_case(self, node: ex.SimpleCaseExpression) -> SqlType:
        return self._searched_case(simple_to_searched(node))

    def _function(self, node: ex.FunctionCall) -> SqlType | None:
        if self.functions.is_aggregate(node.name):
            raise KsqlException(
                f"Aggregate function {node.name} is not supported here: "
                "aggregations (GROUP BY) are not yet supported by this engine."
            )
        arg_types = [self._argument_type(a) for a in node.arguments]
        return self.functions.resolve(node.name, arg_types).return_type

    def _argument_type(self, node: ex.Expression):
        if isinstance(node, ex.IntervalUnit):
            return INTERVAL_UNIT
        if isinstance(node, ex.LambdaFunctionCall):
            return LambdaArg(len(node.arguments), lambda types: self.lambda_body_type(node, types))
        return self.get_type(node)

    def with_lambda_variables(
        self, node: ex.LambdaFunctionCall, types: list[SqlType]
    ) -> ExpressionTypeManager:
        """A type manager for ``node``'s body: its variables typed as ``types``."""
        variables = dict(self.lambda_types)
        variables.update(zip(node.arguments, types, strict=True))
        return ExpressionTypeManager(self.columns, self.functions, variables)

    def lambda_body_type(self, node: ex.LambdaFunctionCall, types: list[SqlType]):
        return self.with_lambda_variables(node, types).get_type(node.body)

    def _create_array(self, node: ex.CreateArrayExpression) -> SqlType:
        from streamlab.ksql.expressions.coercion import coerce_user_list

        if not node.values:
            raise KsqlException(
                "Array constructor cannot be empty. Please supply at least one element "
                "(see https://github.com/confluentinc/ksql/issues/4239)."
            )
        common, _ = coerce_user_list(node.values, self)
        if common is None:
            raise KsqlException(
                "Cannot construct an array with all NULL elements "
                "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you "
                "may cast a NULL value to the desired type."
            )
        return SqlArray(common)

    def _create_map(self, node: ex.CreateMapExpression) -> SqlType:
        from streamlab.ksql.expressions.coercion import coerce_user_list

        if not node.entries:
            raise KsqlException(
                "Map constructor cannot be empty. Please supply at least one key value pair "
                "(see https://github.com/confluentinc/ksql/issues/4239)."
            )
        key_type, _ = coerce_user_list([k for k, _ in node.entries], self)
        value_type, _ = coerce_user_list([v for _, v in node.entries], self)
        if key_type is None:
            raise KsqlException(
                "Cannot construct a map with all NULL keys "
                "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you "
                "may cast a NULL key to the desired type."
            )
        if value_type is None:
            raise KsqlException(
                "Cannot construct a map with all NULL values "
                "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you "
                "may cast a NULL value to the desired type."
            )
        return SqlMap(key_type, value_type)

    def _create_struct(self, node: ex.CreateStructExpression) -> SqlType:
        seen: dict[str, str] = {}
        for name, value in node.fields:
            field = f"{quote_identifier(name)} {self.get_type(value)}"
            if name in seen:
                raise KsqlException(
                    f"Duplicate field names found in STRUCT: '{seen[name]}' and '{field}'"
                )
            seen[name] = field
        return SqlStruct(tuple((name, self.get_type(value)) for name, value in node.fields))

    def _lambda_variable(self, node: ex.LambdaVariable) -> SqlType | None:
        return self.lambda_types.get(node.name)


def simple_to_searched(node: ex.SimpleCaseExpression) -> ex.SearchedCaseExpression:
    """``CASE x WHEN a THEN r`` is ``CASE WHEN x = a THEN r``."""
    whens = tuple(
        ex.WhenClause(
            ex.ComparisonExpression(ex.ComparisonOperator.EQUAL, node.operand, w.operand),
            w.result,
            location=w.location,
        )
        for w in node.when_clauses
    )
    return ex.SearchedCaseExpression(whens, node.default, location=node.location)


_T = ExpressionTypeManager
_HANDLERS: dict[type, Callable[[ExpressionTypeManager, ex.Expression], SqlType | None]] = {
    ex.NullLiteral: lambda self, n: None,
    ex.BooleanLiteral: lambda self, n: SqlTypes.BOOLEAN,
    ex.IntegerLiteral: lambda self, n: SqlTypes.INTEGER,
    ex.LongLiteral: lambda self, n: SqlTypes.BIGINT,
    ex.DoubleLiteral: lambda self, n: SqlTypes.DOUBLE,
    ex.DecimalLiteral: lambda self, n: decimal_type_of(n.value),
    ex.StringLiteral: lambda self, n: SqlTypes.STRING,
    ex.ColumnReference: _T._column,
    ex.DereferenceExpression: _T._dereference,
    ex.SubscriptExpression: _T._subscript,
    ex.LambdaVariable: _T._lambda_variable,
    ex.FunctionCall: _T._function,
    ex.ArithmeticUnaryExpression: lambda self, n: self.get_type(n.value),
    ex.ArithmeticBinaryExpression: _T._arithmetic,
    ex.ComparisonExpression: _T._comparison,
    ex.LogicalBinaryExpression: lambda self, n: self._boolean_of(n.left, n.right),
    ex.NotExpression: lambda self, n: SqlTypes.BOOLEAN,
    ex.IsNullPredicate: lambda self, n: self._boolean_of(n.value),
    ex.IsNotNullPredicate: lambda self, n: self._boolean_of(n.value),
    ex.BetweenPredicate: lambda self, n: SqlTypes.BOOLEAN,
    ex.InPredicate: lambda self, n: SqlTypes.BOOLEAN,
    ex.LikePredicate: lambda self, n: SqlTypes.BOOLEAN,
    ex.SearchedCaseExpression: _T._searched_case,
    ex.SimpleCaseExpression: _T._simple_case,
    ex.Cast: lambda self, n: (self.get_type(n.expression), n.type)[1],
    ex.CreateArrayExpression: _T._create_array,
    ex.CreateMapExpression: _T._create_map,
    ex.CreateStructExpression: _T._create_struct,
}
