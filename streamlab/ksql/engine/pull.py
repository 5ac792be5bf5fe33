"""Pull queries: which forms ksqlDB accepts, and which keys and windows a WHERE clause asks for.

ksqlDB (``PullQueryValidator`` and ``QueryFilterNode``) first rejects clauses a pull query cannot
have, then rewrites the WHERE clause (BETWEEN -> two comparisons, IN -> ORs of equalities) into
disjunctive normal form and reads each disjunct:

* every key column compared with ``=`` to a value that resolves without columns -> a key
  lookup (the store's ``get``); for a windowed table, comparisons of WINDOWSTART/WINDOWEND with
  ``= < <= > >=`` narrow the windows read;
* one STRING/BYTES key column compared with ``< <= > >=`` -> a key range (the store's
  ``range``);
* anything else -> a table scan, allowed while ``ksql.query.pull.table.scan.enabled`` is true
  (ksqlDB's default); with it false, ksqlDB's error for that disjunct.

The whole WHERE clause is still evaluated on every row read, so a lookup only narrows what is
read. Error messages are ksqlDB's, word for word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.functions.timeformat import parse_partial_timestamp
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import walk
from streamlab.ksql.schema import (
    PSEUDO_COLUMN_NAMES,
    ROWOFFSET,
    ROWPARTITION,
    WINDOWEND,
    WINDOWSTART,
    Column,
    LogicalSchema,
)
from streamlab.ksql.types import SqlBaseType

TABLE_SCAN_ENABLED = "ksql.query.pull.table.scan.enabled"
DOC_LINK = "https://cnfl.io/queries"
SYNTAX_HELP = (
    f" See {DOC_LINK} for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
)
#: pseudo columns a pull query may not read (ksqlDB's ``isDisallowedInPullOrScalablePushQueries``)
DISALLOWED_COLUMNS = (ROWPARTITION, ROWOFFSET)

Op = ex.ComparisonOperator
# the names ksqlDB prints (ComparisonExpression.Type)
OP_NAMES = {
    Op.EQUAL: "EQUAL",
    Op.NOT_EQUAL: "NOT_EQUAL",
    Op.LESS_THAN: "LESS_THAN",
    Op.LESS_THAN_OR_EQUAL: "LESS_THAN_OR_EQUAL",
    Op.GREATER_THAN: "GREATER_THAN",
    Op.GREATER_THAN_OR_EQUAL: "GREATER_THAN_OR_EQUAL",
    Op.IS_DISTINCT_FROM: "IS_DISTINCT_FROM",
    Op.IS_NOT_DISTINCT_FROM: "IS_NOT_DISTINCT_FROM",
}
WINDOW_BOUND_OPS = (
    Op.EQUAL,
    Op.GREATER_THAN,
    Op.GREATER_THAN_OR_EQUAL,
    Op.LESS_THAN,
    Op.LESS_THAN_OR_EQUAL,
)
_FLIPPED = {
    Op.LESS_THAN: Op.GREATER_THAN,
    Op.LESS_THAN_OR_EQUAL: Op.GREATER_THAN_OR_EQUAL,
    Op.GREATER_THAN: Op.LESS_THAN,
    Op.GREATER_THAN_OR_EQUAL: Op.LESS_THAN_OR_EQUAL,
}
_NEGATED = {
    Op.EQUAL: Op.NOT_EQUAL,
    Op.NOT_EQUAL: Op.EQUAL,
    Op.LESS_THAN: Op.GREATER_THAN_OR_EQUAL,
    Op.GREATER_THAN_OR_EQUAL: Op.LESS_THAN,
    Op.GREATER_THAN: Op.LESS_THAN_OR_EQUAL,
    Op.LESS_THAN_OR_EQUAL: Op.GREATER_THAN,
    Op.IS_DISTINCT_FROM: Op.IS_NOT_DISTINCT_FROM,
    Op.IS_NOT_DISTINCT_FROM: Op.IS_DISTINCT_FROM,
}
MIN_LONG, MAX_LONG = -(2**63), 2**63 - 1


class PullQueryError(KsqlException):
    """A pull query ksqlDB refuses; the message is ksqlDB's."""


def invalid_where(message: str, windowed: bool) -> PullQueryError:
    """ksqlDB's ``QueryFilterNode.invalidWhereClauseException`` text."""
    bounds = ""
    if windowed:
        ops = ", ".join(OP_NAMES[o] for o in WINDOW_BOUND_OPS)
        bounds = (
            "\n - (optionally) limits the time bounds of the windowed table."
            f"\n\t Bounds on [{WINDOWSTART}, {WINDOWEND}] are supported"
            f"\n\t Supported operators are [{ops}]"
        )
    return PullQueryError(
        f"{message}. {SYNTAX_HELP}"
        "\nPull queries require a WHERE clause that:"
        "\n - includes a key equality expression, e.g. `SELECT * FROM X WHERE <key-column> = Y;`."
        "\n - in the case of a multi-column key, is a conjunction of equality expressions that "
        "cover all key columns."
        "\n - to support range expressions, e.g.,  SELECT * FROM X WHERE <key-column> < Y;`, "
        "range scans need to be enabled by setting ksql.query.pull.range.scan.enabled=true"
        f"{bounds}"
        "\nIf more flexible queries are needed, , table scans can be enabled by setting "
        f"{TABLE_SCAN_ENABLED}=true."
    )


def not_queryable(name: str) -> PullQueryError:
    """A plain ``CREATE TABLE`` has no store to read (ksqlDB's ``notMaterializedException``)."""
    return PullQueryError(
        f"The `{name}` table isn't queryable. To derive a queryable table, you can do "
        f"'CREATE TABLE QUERYABLE_{name} AS SELECT * FROM {name}'.{SYNTAX_HELP}"
    )


def table_scans_enabled(properties: dict[str, object]) -> bool:
    value = properties.get(TABLE_SCAN_ENABLED)
    return True if value is None else str(value).strip().lower() == "true"


# ---- clause rules (PullQueryValidator) ----------------------------------------------------------


def validate(analysis: Any) -> None:
    """ksqlDB's ``PullQueryValidator`` rules, in its order."""
    rules = [
        (analysis.join is not None, "Pull queries don't support JOIN clauses."),
        (analysis.window is not None, "Pull queries don't support WINDOW clauses."),
        (analysis.group_by is not None, "Pull queries don't support GROUP BY clauses."),
        (analysis.partition_by is not None, "Pull queries don't support PARTITION BY clauses."),
        (analysis.having is not None, "Pull queries don't support HAVING clauses."),
        (
            analysis.limit is not None and analysis.limit < 0,
            "Pull queries don't support negative integers in the LIMIT clause.",
        ),
    ]
    for failed, message in rules:
        if failed:
            raise PullQueryError(message + SYNTAX_HELP)
    selects = [i.expression for i in analysis.select if hasattr(i, "expression")]
    for clause, expressions in (("SELECT", selects), ("WHERE", [analysis.where])):
        names = [
            n.name
            for e in expressions
            if e is not None
            for n in walk(e)
            if isinstance(n, ex.ColumnReference) and n.name in DISALLOWED_COLUMNS
        ]
        if names:
            message = f"Pull queries don't support the following columns in {clause} clauses: "
            raise PullQueryError(message + ", ".join(dict.fromkeys(names)) + "\n" + SYNTAX_HELP)


# ---- the WHERE clause ---------------------------------------------------------------------------


def disjuncts(expression: ex.Expression) -> list[list[ex.Expression]]:
    """The WHERE clause in disjunctive normal form: a list of conjunctions of atoms.

    BETWEEN becomes ``>= AND <=``, IN an OR of equalities, NOT is pushed down to the atoms.
    """
    if isinstance(expression, ex.LogicalBinaryExpression):
        left, right = disjuncts(expression.left), disjuncts(expression.right)
        if expression.operator is ex.LogicalOperator.OR:
            return left + right
        return [a + b for a in left for b in right]
    if isinstance(expression, ex.BetweenPredicate):
        low = ex.ComparisonExpression(Op.GREATER_THAN_OR_EQUAL, expression.value, expression.min)
        high = ex.ComparisonExpression(Op.LESS_THAN_OR_EQUAL, expression.value, expression.max)
        return [[low, high]]
    if isinstance(expression, ex.InPredicate):
        return [[ex.ComparisonExpression(Op.EQUAL, expression.value, v)] for v in expression.values]
    if isinstance(expression, ex.NotExpression):
        inner = expression.value
        if isinstance(inner, ex.NotExpression):
            return disjuncts(inner.value)
        if isinstance(inner, ex.LogicalBinaryExpression):
            flipped = (
                ex.LogicalOperator.AND
                if inner.operator is ex.LogicalOperator.OR
                else ex.LogicalOperator.OR
            )
            return disjuncts(
                ex.LogicalBinaryExpression(
                    flipped, ex.NotExpression(inner.left), ex.NotExpression(inner.right)
                )
            )
        if isinstance(inner, ex.ComparisonExpression):
            return [[ex.ComparisonExpression(_NEGATED[inner.operator], inner.left, inner.right)]]
    return [[expression]]


def _text(atoms: list[ex.Expression]) -> str:
    return " AND ".join(f"({a})" if len(atoms) > 1 else str(a) for a in atoms)


@dataclass
class WindowBounds:
    """Bounds on WINDOWSTART / WINDOWEND: ``(low, high)`` inclusive epoch millis each."""

    start: tuple[int, int] = (MIN_LONG, MAX_LONG)
    end: tuple[int, int] = (MIN_LONG, MAX_LONG)

    def start_range(self, size_ms: int | None) -> tuple[int, int]:
        """Window starts that can match, for time windows of ``size_ms`` (end = start + size)."""
        low, high = self.start
        if size_ms is not None:
            low = max(low, self.end[0] - size_ms if self.end[0] > MIN_LONG else MIN_LONG)
            high = min(high, self.end[1] - size_ms if self.end[1] < MAX_LONG else MAX_LONG)
        return low, high


@dataclass
class KeyLookup:
    """One disjunct as a read: ``op`` is ``=`` (``key`` is every key column) or a range op on the
    single key column; ``window`` narrows a windowed table's windows."""

    op: ex.ComparisonOperator
    key: tuple[Any, ...]
    window: WindowBounds = field(default_factory=WindowBounds)


@dataclass
class PullPlan:
    """How to read: ``lookups`` (key reads, in the order written) or a table scan."""

    lookups: list[KeyLookup]
    table_scan: bool

    @property
    def keyed(self) -> bool:
        return not self.table_scan


class _Disjunct:
    """Validates one disjunct the way ksqlDB's ``QueryFilterNode.Validator`` does."""

    def __init__(self, schema: LogicalSchema, windowed: bool, scans: bool) -> None:
        self.schema = schema
        self.windowed = windowed
        self.scans = scans
        self.seen_keys: set[str] = set()
        self.keyed = False
        self.requires_scan = False

    def scan_or_raise(self, message: str, windowed: bool) -> None:
        if not self.scans:
            raise invalid_where(message, windowed)
        self.requires_scan = True

    def check(self, atom: ex.Expression) -> None:
        if isinstance(atom, ex.LikePredicate):
            self.check_like(atom)
            return
        if not isinstance(atom, ex.ComparisonExpression):
            raise invalid_where(f"Unsupported expression in WHERE clause: {atom}", False)
        column, other = column_side(atom)
        if column is None:
            self.scan_or_raise("A comparison must directly reference a key column", self.windowed)
            return
        if any(isinstance(n, ex.ColumnReference) for n in walk(other)):
            self.scan_or_raise(
                "A comparison must be between a key column and a resolvable expression",
                self.windowed,
            )
            return
        if column.name in (WINDOWSTART, WINDOWEND):
            if atom.operator not in WINDOW_BOUND_OPS:
                raise invalid_where(
                    f"Unsupported {column.name} bounds: {OP_NAMES[atom.operator]}", True
                )
            if not self.windowed:
                raise invalid_where(
                    "Cannot use WINDOWSTART/WINDOWEND on non-windowed source", False
                )
            return
        found = self.schema.find_column(column.name)
        if found is None:
            if column.name in PSEUDO_COLUMN_NAMES:  # ROWTIME: a value column to ksqlDB
                return
            raise invalid_where(f"Bound on non-existent column {column.name}", self.windowed)
        if not self.schema.is_key_column(found.name):
            return
        if atom.operator in (Op.NOT_EQUAL, Op.IS_DISTINCT_FROM, Op.IS_NOT_DISTINCT_FROM):
            keys = "[" + ", ".join(str(c) for c in self.schema.key) + "]"
            self.scan_or_raise(
                f"Bound on key columns '{keys}' must currently be '='", self.windowed
            )
        if found.name in self.seen_keys and not self.scans:
            raise invalid_where(
                "A comparison condition on the key column cannot be combined with other "
                "comparisons such as an IN predicate",
                self.windowed,
            )
        self.seen_keys.add(found.name)
        self.keyed = True

    def check_like(self, atom: ex.LikePredicate) -> None:
        if not isinstance(atom.value, ex.ColumnReference):
            self.scan_or_raise("Like condition must be between strings", self.windowed)
            return
        name = atom.value.name
        found = self.schema.find_column(name)
        if found is None:
            raise invalid_where(f"Like condition on non-existent column {name}", self.windowed)
        if found.type.base is not SqlBaseType.STRING:
            raise invalid_where(
                "The column type for Like condition must be VARCHAR. The column type is "
                f"{found.type.base.name}",
                self.windowed,
            )


def column_side(atom: ex.ComparisonExpression) -> tuple[ex.ColumnReference | None, ex.Expression]:
    """The column a comparison reads (right side first, as ksqlDB looks) and the other side."""
    if isinstance(atom.right, ex.ColumnReference):
        return atom.right, atom.left
    if isinstance(atom.left, ex.ColumnReference):
        return atom.left, atom.right
    return None, atom.right


def _normalized(atom: ex.ComparisonExpression) -> ex.ComparisonOperator:
    """The operator as ``column <op> value`` (``5 < K`` is ``K > 5``)."""
    if isinstance(atom.right, ex.ColumnReference):
        return _FLIPPED.get(atom.operator, atom.operator)
    return atom.operator


def plan_pull(
    where: ex.Expression | None,
    schema: LogicalSchema,
    windowed: bool,
    table_scans: bool = True,
    resolve: Any = None,
) -> PullPlan:
    """Validate a pull query's WHERE clause over a table of ``schema``; how to read it.

    ``resolve(expression)`` evaluates a column-free expression (literals by default).
    """
    if where is None:
        if not table_scans:
            raise invalid_where("Missing WHERE clause", windowed)
        return PullPlan([], True)
    resolve = resolve or _literal
    groups = disjuncts(where)
    scan = False
    for atoms in groups:
        check = _Disjunct(schema, windowed, table_scans)
        for atom in atoms:
            check.check(atom)
        if check.requires_scan:
            scan = True
            continue
        if not check.keyed:
            if not table_scans:
                raise invalid_where(
                    f"WHERE clause missing key column for disjunct: {_text(atoms)}", windowed
                )
            scan = True
        elif len(check.seen_keys) != len(schema.key):
            if not table_scans:
                seen = [c.name for c in schema.key if c.name in check.seen_keys]
                expected = "[" + ", ".join(str(c) for c in schema.key) + "]"
                raise invalid_where(
                    "Multi-column sources must specify every key in the WHERE clause. "
                    f"Specified: [{', '.join(seen)}] Expected: {expected}",
                    windowed,
                )
            scan = True
    if scan:
        return PullPlan([], True)
    lookups = []
    for atoms in groups:
        lookup = _lookup(atoms, schema, windowed, resolve)
        if lookup is None:
            return PullPlan([], True)
        lookups.append(lookup)
    return PullPlan(lookups, False)


def _lookup(atoms, schema: LogicalSchema, windowed: bool, resolve) -> KeyLookup | None:
    key_columns = list(schema.key)
    values: dict[str, Any] = {}
    ops: dict[str, ex.ComparisonOperator] = {}
    bounds = _window_bounds(atoms, resolve) if windowed else WindowBounds()
    for atom in atoms:
        if not isinstance(atom, ex.ComparisonExpression):
            continue
        column, other = column_side(atom)
        if column is None or not schema.is_key_column(column.name):
            continue
        found = schema.find_column(column.name)
        assert found is not None
        op = _normalized(atom)
        value = _key_value(resolve(other), found, atom)
        # the most selective: an equality wins, otherwise the first bound seen
        if ops.get(found.name) is Op.EQUAL or (found.name in ops and op is not Op.EQUAL):
            continue
        values[found.name], ops[found.name] = value, op
    if len(ops) > 1 or (ops and next(iter(ops.values())) is Op.EQUAL):
        if all(o is Op.EQUAL for o in ops.values()):
            return KeyLookup(Op.EQUAL, tuple(values[c.name] for c in key_columns), bounds)
        return None
    [(name, op)] = ops.items()
    found = schema.find_column(name)
    assert found is not None
    if found.type.base in (SqlBaseType.STRING, SqlBaseType.BYTES) and op in _FLIPPED:
        return KeyLookup(op, (values[name],), bounds)
    return None


def _literal(expression: ex.Expression) -> Any:
    if isinstance(expression, ex.Literal):
        return expression.value
    if isinstance(expression, ex.ArithmeticUnaryExpression) and isinstance(
        expression.value, ex.Literal
    ):
        value = expression.value.value
        return -value if expression.sign is ex.Sign.MINUS else value  # type: ignore[operator]
    raise KsqlException(f"Cannot resolve {expression} without a row")


def _key_value(value: Any, column: Column, atom: ex.Expression) -> Any:
    """ksqlDB's strict coercion of a key literal to the key column's type."""
    if value is None:
        raise PullQueryError(f"Primary key columns can not be NULL: {atom}")
    base = column.type.base
    ok = {
        SqlBaseType.STRING: isinstance(value, str),
        SqlBaseType.INTEGER: isinstance(value, int) and not isinstance(value, bool),
        SqlBaseType.BIGINT: isinstance(value, int) and not isinstance(value, bool),
        SqlBaseType.DOUBLE: isinstance(value, int | float) and not isinstance(value, bool),
        SqlBaseType.BOOLEAN: isinstance(value, bool),
        SqlBaseType.BYTES: isinstance(value, bytes),
    }.get(base, True)
    if base is SqlBaseType.INTEGER and ok and not MIN_INT <= value <= MAX_INT:
        ok = False
    if not ok:
        raise PullQueryError(
            f"'{value}' can not be converted to the type of the key column: "
            f"{column.name} {column.type} KEY"
        )
    return float(value) if base is SqlBaseType.DOUBLE else value


MIN_INT, MAX_INT = -(2**31), 2**31 - 1


def _window_bounds(atoms, resolve) -> WindowBounds:
    """WINDOWSTART / WINDOWEND bounds of one disjunct, validated as ksqlDB's
    ``WindowBoundsExtractor`` does (no duplicate bound, ``=`` alone)."""
    seen: dict[tuple[str, str], bool] = {}
    ranges = {WINDOWSTART: [MIN_LONG, MAX_LONG], WINDOWEND: [MIN_LONG, MAX_LONG]}
    for atom in atoms:
        if not isinstance(atom, ex.ComparisonExpression):
            continue
        column, other = column_side(atom)
        if column is None or column.name not in ranges:
            continue
        op = _normalized(atom)
        kind = (
            "equal"
            if op is Op.EQUAL
            else ("upper" if op in (Op.LESS_THAN, Op.LESS_THAN_OR_EQUAL) else "lower")
        )
        simplified = {"equal": "EQUAL", "upper": "LESS_THAN", "lower": "GREATER_THAN"}[kind]
        if (column.name, kind) in seen:
            raise invalid_where(f"Duplicate {column.name} bounds on: {simplified}", True)
        seen[(column.name, kind)] = True
        kinds = {k for (c, k) in seen if c == column.name}
        if "equal" in kinds and len(kinds) > 1:
            raise invalid_where(
                f"`{atom}` cannot be combined with other {column.name} bounds", True
            )
        millis = _millis(other, resolve)
        bound = ranges[column.name]
        if op is Op.EQUAL:
            bound[0], bound[1] = max(bound[0], millis), min(bound[1], millis)
        elif op is Op.GREATER_THAN:
            bound[0] = max(bound[0], millis + 1)
        elif op is Op.GREATER_THAN_OR_EQUAL:
            bound[0] = max(bound[0], millis)
        elif op is Op.LESS_THAN:
            bound[1] = min(bound[1], millis - 1)
        else:
            bound[1] = min(bound[1], millis)
    return WindowBounds(tuple(ranges[WINDOWSTART]), tuple(ranges[WINDOWEND]))  # type: ignore[arg-type]


def _millis(expression: ex.Expression, resolve) -> int:
    if isinstance(expression, ex.StringLiteral):
        try:
            return parse_partial_timestamp(expression.value)
        except Exception as error:
            raise invalid_where(f"Failed to parse datetime: {expression.value}", True) from error
    try:
        value = resolve(expression)
    except Exception as error:
        raise invalid_where(
            "Window bounds must resolve to an INT, BIGINT, or STRING containing a datetime.", True
        ) from error
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_where(
            "Window bounds must resolve to an INT, BIGINT, or STRING containing a datetime.", True
        )
    return value
