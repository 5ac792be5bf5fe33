"""ksqlDB's SQL types and how their values are held in Python.

=========== ============================ ===============================================
SQL type    ``str()`` (as ksqlDB prints)  Python value
=========== ============================ ===============================================
BOOLEAN     ``BOOLEAN``                  ``bool``
INTEGER     ``INTEGER``                  ``int`` (32-bit range, Java overflow rules)
BIGINT      ``BIGINT``                   ``int`` (64-bit range)
DOUBLE      ``DOUBLE``                   ``float``
DECIMAL     ``DECIMAL(p, s)``            ``decimal.Decimal`` with exponent ``-s``
STRING      ``STRING``                   ``str``
BYTES       ``BYTES``                    ``bytes``
TIMESTAMP   ``TIMESTAMP``                ``int``: milliseconds since the epoch (UTC)
DATE        ``DATE``                     ``int``: days since the epoch
TIME        ``TIME``                     ``int``: milliseconds since midnight
ARRAY<T>    ``ARRAY<T>``                 ``list``
MAP<K, V>   ``MAP<K, V>``                ``dict``
STRUCT<...> ```STRUCT<`A` INTEGER>```     ``dict`` keyed by field name, in field order
=========== ============================ ===============================================

NULL is ``None`` for every type. Types are immutable value objects; the primitive ones are
singletons (``INTEGER is SqlTypes.INTEGER``).

>>> str(SqlArray(SqlTypes.STRING)), str(SqlDecimal(4, 2))
('ARRAY<STRING>', 'DECIMAL(4, 2)')
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from streamlab.ksql.errors import KsqlException

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


class SqlBaseType(enum.Enum):
    BOOLEAN = "BOOLEAN"
    INTEGER = "INTEGER"
    BIGINT = "BIGINT"
    DECIMAL = "DECIMAL"
    DOUBLE = "DOUBLE"
    STRING = "STRING"
    ARRAY = "ARRAY"
    MAP = "MAP"
    STRUCT = "STRUCT"
    TIMESTAMP = "TIMESTAMP"
    DATE = "DATE"
    TIME = "TIME"
    BYTES = "BYTES"

    def is_number(self) -> bool:
        return self in _NUMBERS

    def is_time(self) -> bool:
        return self in (SqlBaseType.TIMESTAMP, SqlBaseType.DATE, SqlBaseType.TIME)

    def can_implicitly_cast(self, to: SqlBaseType) -> bool:
        """ksqlDB's widening: INTEGER → BIGINT → DECIMAL → DOUBLE (and DATE → TIMESTAMP)."""
        if self is to:
            return True
        if self in _NUMBERS and to in _NUMBERS:
            return _NUMBERS.index(self) <= _NUMBERS.index(to)
        return self is SqlBaseType.DATE and to is SqlBaseType.TIMESTAMP


_NUMBERS = (SqlBaseType.INTEGER, SqlBaseType.BIGINT, SqlBaseType.DECIMAL, SqlBaseType.DOUBLE)


class SqlType:
    """A ksqlDB SQL type."""

    base: SqlBaseType

    def is_primitive(self) -> bool:
        return False

    def to_sql(self) -> str:
        """The type as it is written in SQL (what ``str()`` returns)."""
        return str(self)


@dataclass(frozen=True, eq=True)
class SqlPrimitiveType(SqlType):
    base: SqlBaseType

    def is_primitive(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.base.value


@dataclass(frozen=True, eq=True)
class SqlDecimal(SqlType):
    precision: int
    scale: int

    def __post_init__(self) -> None:
        if self.precision < 1:
            raise KsqlException(
                f"DECIMAL precision must be >= 1: DECIMAL({self.precision},{self.scale})"
            )
        if self.scale < 0:
            raise KsqlException(
                f"DECIMAL scale must be >= 0: DECIMAL({self.precision},{self.scale})"
            )
        if self.precision < self.scale:
            raise KsqlException(
                f"DECIMAL precision must be >= scale: DECIMAL({self.precision},{self.scale})"
            )

    @property
    def base(self) -> SqlBaseType:  # type: ignore[override]
        return SqlBaseType.DECIMAL

    def __str__(self) -> str:
        return f"DECIMAL({self.precision}, {self.scale})"

    # Result types of arithmetic, as ksqlDB's SqlDecimal computes them.
    @staticmethod
    def add(left: SqlDecimal, right: SqlDecimal) -> SqlDecimal:
        scale = max(left.scale, right.scale)
        precision = scale + max(left.precision - left.scale, right.precision - right.scale) + 1
        return SqlDecimal(precision, scale)

    @staticmethod
    def multiply(left: SqlDecimal, right: SqlDecimal) -> SqlDecimal:
        return SqlDecimal(left.precision + right.precision + 1, left.scale + right.scale)

    @staticmethod
    def divide(left: SqlDecimal, right: SqlDecimal) -> SqlDecimal:
        scale = max(6, left.scale + right.precision + 1)
        return SqlDecimal(left.precision - left.scale + right.scale + scale, scale)

    @staticmethod
    def modulus(left: SqlDecimal, right: SqlDecimal) -> SqlDecimal:
        scale = max(left.scale, right.scale)
        precision = min(left.precision - left.scale, right.precision - right.scale) + scale
        return SqlDecimal(precision, scale)

    def can_implicitly_cast_to(self, other: SqlDecimal) -> bool:
        return self.scale <= other.scale and (
            self.precision - self.scale <= other.precision - other.scale
        )


@dataclass(frozen=True, eq=True)
class SqlArray(SqlType):
    item_type: SqlType

    @property
    def base(self) -> SqlBaseType:  # type: ignore[override]
        return SqlBaseType.ARRAY

    def __str__(self) -> str:
        return f"ARRAY<{self.item_type}>"


@dataclass(frozen=True, eq=True)
class SqlMap(SqlType):
    key_type: SqlType
    value_type: SqlType

    @property
    def base(self) -> SqlBaseType:  # type: ignore[override]
        return SqlBaseType.MAP

    def __str__(self) -> str:
        return f"MAP<{self.key_type}, {self.value_type}>"


@dataclass(frozen=True, eq=True)
class SqlStruct(SqlType):
    fields: tuple[tuple[str, SqlType], ...]

    @property
    def base(self) -> SqlBaseType:  # type: ignore[override]
        return SqlBaseType.STRUCT

    def field(self, name: str) -> SqlType | None:
        for field_name, field_type in self.fields:
            if field_name == name:
                return field_type
        return None

    def __str__(self) -> str:
        inner = ", ".join(f"{quote_identifier(n)} {t}" for n, t in self.fields)
        return f"STRUCT<{inner}>"


class SqlTypes:
    """The primitive type singletons and a few often used composite types."""

    BOOLEAN = SqlPrimitiveType(SqlBaseType.BOOLEAN)
    INTEGER = SqlPrimitiveType(SqlBaseType.INTEGER)
    BIGINT = SqlPrimitiveType(SqlBaseType.BIGINT)
    DOUBLE = SqlPrimitiveType(SqlBaseType.DOUBLE)
    STRING = SqlPrimitiveType(SqlBaseType.STRING)
    BYTES = SqlPrimitiveType(SqlBaseType.BYTES)
    TIMESTAMP = SqlPrimitiveType(SqlBaseType.TIMESTAMP)
    DATE = SqlPrimitiveType(SqlBaseType.DATE)
    TIME = SqlPrimitiveType(SqlBaseType.TIME)
    INT_UPCAST_TO_DECIMAL = SqlDecimal(10, 0)
    BIGINT_UPCAST_TO_DECIMAL = SqlDecimal(19, 0)
    HEADERS = SqlArray(
        SqlStruct(
            (
                ("KEY", SqlPrimitiveType(SqlBaseType.STRING)),
                ("VALUE", SqlPrimitiveType(SqlBaseType.BYTES)),
            )
        )
    )


PRIMITIVE_TYPE_NAMES: dict[str, SqlType] = {
    "BOOLEAN": SqlTypes.BOOLEAN,
    "INT": SqlTypes.INTEGER,
    "INTEGER": SqlTypes.INTEGER,
    "BIGINT": SqlTypes.BIGINT,
    "DOUBLE": SqlTypes.DOUBLE,
    "STRING": SqlTypes.STRING,
    "VARCHAR": SqlTypes.STRING,
    "BYTES": SqlTypes.BYTES,
    "TIMESTAMP": SqlTypes.TIMESTAMP,
    "DATE": SqlTypes.DATE,
    "TIME": SqlTypes.TIME,
}


@dataclass(frozen=True, eq=True)
class SqlCustomType(SqlType):
    """A type name not (yet) resolved against the registry of ``CREATE TYPE`` types."""

    name: str

    @property
    def base(self) -> SqlBaseType:  # type: ignore[override]
        raise KsqlException(f"Cannot resolve unknown type: {self.name}")

    def __str__(self) -> str:
        return self.name


def to_sql_decimal(sql_type: SqlType) -> SqlDecimal:
    """The decimal type an INTEGER, BIGINT or DECIMAL widens to without loss."""
    if isinstance(sql_type, SqlDecimal):
        return sql_type
    if sql_type == SqlTypes.INTEGER:
        return SqlTypes.INT_UPCAST_TO_DECIMAL
    if sql_type == SqlTypes.BIGINT:
        return SqlTypes.BIGINT_UPCAST_TO_DECIMAL
    raise KsqlException(f"Cannot convert {sql_type.base.value} to DECIMAL.")


def can_implicitly_cast(from_type: SqlType | None, to_type: SqlType) -> bool:
    """Whether a value of ``from_type`` is accepted where ``to_type`` is required."""
    if from_type is None:  # the NULL literal fits everywhere
        return True
    if from_type == to_type:
        return True
    if isinstance(to_type, SqlDecimal):
        if isinstance(from_type, SqlDecimal):
            return from_type.can_implicitly_cast_to(to_type)
        if from_type in (SqlTypes.INTEGER, SqlTypes.BIGINT):
            return to_sql_decimal(from_type).can_implicitly_cast_to(to_type)
        return False
    if isinstance(to_type, SqlArray) and isinstance(from_type, SqlArray):
        return can_implicitly_cast(from_type.item_type, to_type.item_type)
    if isinstance(to_type, SqlMap) and isinstance(from_type, SqlMap):
        return can_implicitly_cast(from_type.key_type, to_type.key_type) and can_implicitly_cast(
            from_type.value_type, to_type.value_type
        )
    if isinstance(to_type, SqlStruct) and isinstance(from_type, SqlStruct):
        return from_type == to_type
    if to_type.is_primitive() and (from_type.is_primitive() or isinstance(from_type, SqlDecimal)):
        return from_type.base.can_implicitly_cast(to_type.base)
    return False


def widest_numeric(left: SqlType, right: SqlType) -> SqlType:
    """The common type of two numeric operands (for comparisons and CASE/IN results)."""
    if left.base is SqlBaseType.DOUBLE or right.base is SqlBaseType.DOUBLE:
        return SqlTypes.DOUBLE
    if left.base is SqlBaseType.DECIMAL or right.base is SqlBaseType.DECIMAL:
        l_dec, r_dec = to_sql_decimal(left), to_sql_decimal(right)
        scale = max(l_dec.scale, r_dec.scale)
        digits = max(l_dec.precision - l_dec.scale, r_dec.precision - r_dec.scale)
        return SqlDecimal(digits + scale, scale)
    if left.base is SqlBaseType.BIGINT or right.base is SqlBaseType.BIGINT:
        return SqlTypes.BIGINT
    return SqlTypes.INTEGER


_IDENTIFIER_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def quote_identifier(name: str) -> str:
    """Back-quote a column or field name the way ksqlDB prints schemas (always quoted)."""
    return "`" + name.replace("`", "``") + "`"


def needs_quotes(name: str) -> bool:
    """Whether ``name`` must be back-quoted to survive a round trip through the parser."""
    return not name or name[0].isdigit() or any(c not in _IDENTIFIER_SAFE for c in name)
