"""The function registry: name → overloads, each with parameter types and a return type.

A function is one :func:`udf` declaration per overload next to its implementation (in
``string.py``, ``math.py``, ...). Resolving a call (:meth:`FunctionRegistry.resolve`) picks an
overload the way ksqlDB's ``UdfIndex`` does: matches without implicit casts first, then with
INTEGER → BIGINT → DECIMAL → DOUBLE and STRING → DATE/TIME/TIMESTAMP/BYTES casts; a NULL
literal matches any parameter; among several matches the most specific wins and a tie is an
"ambiguous method parameters" error.

Implementations take and return plain Python values (see :mod:`streamlab.ksql.types`). Unless
an overload says ``null_on_null=False``, a NULL argument makes the result NULL without calling
the implementation, which is what nearly every ksqlDB UDF does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.types import (
    SqlArray,
    SqlBaseType,
    SqlMap,
    SqlStruct,
    SqlType,
    SqlTypes,
)


def java_can_implicitly_cast(source: SqlBaseType, target: SqlBaseType) -> bool:
    """``SqlBaseType.canImplicitlyCast``: numbers widen, STRING becomes a time type or BYTES."""
    if source is target:
        return True
    if source.is_number() and target.is_number():
        return _NUMBER_ORDER.index(source) <= _NUMBER_ORDER.index(target)
    return source is SqlBaseType.STRING and (
        target in (SqlBaseType.TIME, SqlBaseType.DATE, SqlBaseType.TIMESTAMP, SqlBaseType.BYTES)
    )


_NUMBER_ORDER = (SqlBaseType.INTEGER, SqlBaseType.BIGINT, SqlBaseType.DECIMAL, SqlBaseType.DOUBLE)


class IntervalUnitType:
    """The type of a bare time unit argument (``TIMESTAMPADD(SECONDS, 5, ts)``)."""

    def __str__(self) -> str:
        return "INTERVAL UNIT"


INTERVAL_UNIT = IntervalUnitType()


class LambdaArg:
    """A lambda passed as an argument: its arity and a way to type its body.

    ``typer(input_types)`` returns the type of the body when its variables have those types.
    """

    def __init__(self, arity: int, typer: Callable[[list[SqlType]], SqlType | None]) -> None:
        self.arity = arity
        self.typer = typer

    def __str__(self) -> str:
        return "LAMBDA"


SpecialArg = (IntervalUnitType, LambdaArg)
Argument = SqlType | IntervalUnitType | LambdaArg | None
Bindings = list[tuple[str, SqlType]]


class ParamType:
    """A declared parameter type, as ksqlDB's ``ParamType``: concrete, generic or composite.

    Matching follows ksqlDB's ``UdfIndex``: a NULL argument fits anything; a parameter with
    type variables binds them structurally and every use must bind the same type; any other
    parameter accepts its own type, or (when casts are allowed) a type that implicitly casts
    to it (INTEGER → BIGINT → DECIMAL → DOUBLE, STRING → DATE/TIME/TIMESTAMP/BYTES).
    """

    family: SqlBaseType | None = None  # ksqlDB's ParamType class, for structural matching

    def has_generics(self) -> bool:
        return False

    def compatible(self, arg: Argument, cast: bool) -> bool:
        """``ParamTypes.areCompatible`` for a parameter without type variables."""
        raise NotImplementedError

    def family_matches(self, arg: Argument) -> bool:
        return isinstance(arg, SqlType) and arg.base is self.family

    def bind(self, arg: Argument, mapping: Bindings) -> bool:
        """``GenericsUtil.resolveGenerics``: collect type-variable bindings from ``arg``."""
        return self.family_matches(arg)

    def accepts(self, arg: Argument, reserved: dict[str, SqlType], cast: bool) -> bool:
        """``UdfIndex.Parameter.accepts``; updates ``reserved`` with new bindings."""
        if arg is None:
            return True
        if self.has_generics():
            mapping: Bindings = []
            if not self.bind(arg, mapping):
                return False
            return _reserve(mapping, reserved)
        return self.compatible(arg, cast)

    def resolve(self, bindings: dict[str, SqlType]) -> SqlType | None:
        """The declared type with its variables replaced (None if not fully known)."""
        raise NotImplementedError


def _reserve(mapping: Bindings, reserved: dict[str, SqlType]) -> bool:
    return all(reserved.setdefault(name, sql_type) == sql_type for name, sql_type in mapping)


def _bind_part(pattern: ParamType, arg: Argument, mapping: Bindings) -> bool:
    """Bind a part of a composite type: non-generic parts only need the same kind of type."""
    if not pattern.has_generics():
        return pattern.family_matches(arg)
    return pattern.bind(arg, mapping)


@dataclass(frozen=True)
class Concrete(ParamType):
    type: SqlType

    @property
    def family(self):  # type: ignore[override]
        return self.type.base

    def compatible(self, arg, cast):
        if not isinstance(arg, SqlType):
            return False
        target = self.type
        if isinstance(target, SqlArray):
            return isinstance(arg, SqlArray) and Concrete(target.item_type).compatible(
                arg.item_type, cast
            )
        if isinstance(target, SqlMap):
            return (
                isinstance(arg, SqlMap)
                and Concrete(target.key_type).compatible(arg.key_type, cast)
                and Concrete(target.value_type).compatible(arg.value_type, cast)
            )
        if isinstance(target, SqlStruct):
            return isinstance(arg, SqlStruct) and _struct_compatible(arg, target)
        if arg.base is target.base:
            return True
        return cast and java_can_implicitly_cast(arg.base, target.base)

    def resolve(self, bindings):
        return self.type

    def __str__(self) -> str:
        return str(self.type)


def _struct_compatible(actual: SqlStruct, declared: SqlStruct) -> bool:
    if not actual.fields or not declared.fields:
        return True
    for name, field_type in declared.fields:
        found = actual.field(name)
        if found is None or not Concrete(field_type).compatible(found, False):
            return False
    return len(actual.fields) == len(declared.fields)


@dataclass(frozen=True)
class AnyDecimal(ParamType):
    """Any DECIMAL(p, s) (ksqlDB's ``DecimalType``)."""

    family = SqlBaseType.DECIMAL

    def compatible(self, arg, cast):
        if not isinstance(arg, SqlType):
            return False
        return arg.base is SqlBaseType.DECIMAL or (
            cast and java_can_implicitly_cast(arg.base, SqlBaseType.DECIMAL)
        )

    def resolve(self, bindings):
        return None

    def __str__(self) -> str:
        return "DECIMAL"


@dataclass(frozen=True)
class Generic(ParamType):
    """A type variable: every argument bound to it must have the same type."""

    name: str

    def has_generics(self) -> bool:
        return True

    def bind(self, arg, mapping):
        if not isinstance(arg, SqlType):
            return False
        mapping.append((self.name, arg))
        return True

    def resolve(self, bindings):
        return bindings.get(self.name)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ArrayOf(ParamType):
    item: ParamType
    family = SqlBaseType.ARRAY

    def has_generics(self) -> bool:
        return self.item.has_generics()

    def compatible(self, arg, cast):
        return isinstance(arg, SqlArray) and self.item.compatible(arg.item_type, cast)

    def bind(self, arg, mapping):
        if not isinstance(arg, SqlArray):
            return False
        return _bind_part(self.item, arg.item_type, mapping)

    def resolve(self, bindings):
        item = self.item.resolve(bindings)
        return SqlArray(item) if item is not None else None

    def __str__(self) -> str:
        return f"ARRAY<{self.item}>"


@dataclass(frozen=True)
class MapOf(ParamType):
    key: ParamType
    value: ParamType
    family = SqlBaseType.MAP

    def has_generics(self) -> bool:
        return self.key.has_generics() or self.value.has_generics()

    def compatible(self, arg, cast):
        return (
            isinstance(arg, SqlMap)
            and self.key.compatible(arg.key_type, cast)
            and self.value.compatible(arg.value_type, cast)
        )

    def bind(self, arg, mapping):
        if not isinstance(arg, SqlMap):
            return False
        return _bind_part(self.key, arg.key_type, mapping) and _bind_part(
            self.value, arg.value_type, mapping
        )

    def resolve(self, bindings):
        key, value = self.key.resolve(bindings), self.value.resolve(bindings)
        return SqlMap(key, value) if key is not None and value is not None else None

    def __str__(self) -> str:
        return f"MAP<{self.key}, {self.value}>"


@dataclass(frozen=True)
class AnyStruct(ParamType):
    family = SqlBaseType.STRUCT

    def compatible(self, arg, cast):
        return isinstance(arg, SqlStruct)

    def resolve(self, bindings):
        return None

    def __str__(self) -> str:
        return "STRUCT"


@dataclass(frozen=True)
class IntervalUnitParam(ParamType):
    def compatible(self, arg, cast):
        return isinstance(arg, IntervalUnitType)

    def family_matches(self, arg):
        return isinstance(arg, IntervalUnitType)

    def resolve(self, bindings):
        return None

    def __str__(self) -> str:
        return "INTERVAL UNIT"


@dataclass(frozen=True)
class LambdaParam(ParamType):
    """A lambda parameter: its variables' types and its result type, as type patterns.

    The variables' types come from the bindings made by the arguments before the lambda; the
    body is then typed with them and its type must fit ``output``.
    """

    inputs: tuple[ParamType, ...]
    output: ParamType

    def has_generics(self) -> bool:
        return any(p.has_generics() for p in self.inputs) or self.output.has_generics()

    def family_matches(self, arg):
        return isinstance(arg, LambdaArg)

    def compatible(self, arg, cast):
        return isinstance(arg, LambdaArg) and arg.arity == len(self.inputs)

    def accepts(self, arg, reserved, cast):
        if not isinstance(arg, LambdaArg) or arg.arity != len(self.inputs):
            return False
        input_types = self.input_types(reserved)
        if any(t is None for t in input_types):
            return False
        result = arg.typer(input_types)  # type: ignore[arg-type]
        if result is None:
            return True
        if self.output.has_generics():
            mapping: Bindings = []
            return _bind_part(self.output, result, mapping) and _reserve(mapping, reserved)
        return self.output.compatible(result, cast)

    def resolve(self, bindings):
        return None

    def input_types(self, bindings: dict[str, SqlType]) -> list[SqlType | None]:
        return [p.resolve(bindings) for p in self.inputs]

    def __str__(self) -> str:
        inputs = ", ".join(str(p) for p in self.inputs)
        return f"LAMBDA ({inputs}) => {self.output}"


def param(spec: SqlType | ParamType) -> ParamType:
    return spec if isinstance(spec, ParamType) else Concrete(spec)


ReturnType = SqlType | Callable[[Sequence[SqlType | None], dict[str, SqlType]], SqlType | None]


@dataclass
class Overload:
    """One signature of a function and its implementation."""

    name: str
    params: tuple[ParamType, ...]
    returns: ReturnType
    impl: Callable[..., Any]
    variadic: bool = False
    null_on_null: bool = True
    description: str = ""
    param_names: tuple[str, ...] = ()  # shown in signatures when declared (as ksqlDB's UDTFs)
    typed: bool = False  # impl is a factory: impl(argument types) -> implementation

    def signature(self) -> str:
        params = [str(p) for p in self.params]
        if self.param_names:
            params = [f"{p} {n}" for p, n in zip(params, self.param_names, strict=True)]
        if self.variadic and params:
            params[-1] += "..."
        return f"{self.name}({', '.join(params)})"

    def patterns(self, count: int) -> list[ParamType] | None:
        """The parameter type of each of ``count`` arguments, or None if the arity is wrong."""
        if self.variadic:
            fixed = len(self.params) - 1
            if count < fixed:
                return None
            return list(self.params[:fixed]) + [self.params[-1]] * (count - fixed)
        if count != len(self.params):
            return None
        return list(self.params)

    def match(self, args: Sequence[Argument], cast: bool):
        """``(bindings, param_types)`` if the arguments fit (``UdfIndex`` rules), else None."""
        patterns = self.patterns(len(args))
        if patterns is None:
            return None
        reserved: dict[str, SqlType] = {}
        for pattern, arg in zip(patterns, args, strict=True):
            if not pattern.accepts(arg, reserved, cast):
                return None
        return reserved, patterns

    def preference(self) -> tuple[int, int, int, int]:
        """``UdfIndex.Node.compareFunctions``: among matches, the greatest value wins."""
        generics = sum(1 for p in self.params if p.has_generics())
        variadic_index = len(self.params) - 1 if self.variadic else -1
        return (0 if self.variadic else 1, len(self.params), -generics, variadic_index)

    def return_type(self, args: Sequence[SqlType | None], bindings: dict[str, SqlType]):
        if callable(self.returns):
            return self.returns(args, bindings)
        return self.returns


@dataclass
class ResolvedFunction:
    """A call site's chosen overload with the type each argument must be converted to."""

    overload: Overload
    return_type: SqlType | None
    param_types: list[SqlType | None]
    lambda_inputs: dict[int, list[SqlType]] = field(default_factory=dict)


@dataclass
class FunctionEntry:
    name: str  # as ksqlDB declares it (used in messages), e.g. 'geo_distance'
    overloads: list[Overload] = field(default_factory=list)
    description: str = ""
    category: str = ""


class FunctionRegistry:
    """Scalar functions (UDFs) by upper-case name; aggregate names are known but not run here."""

    def __init__(self) -> None:
        self._functions: dict[str, FunctionEntry] = {}
        self.aggregate_names: set[str] = set()
        self.table_function_names: set[str] = set()

    def register(self, overload: Overload, category: str = "") -> None:
        key = overload.name.upper()
        entry = self._functions.setdefault(key, FunctionEntry(overload.name, category=category))
        entry.overloads.append(overload)
        if overload.description and not entry.description:
            entry.description = overload.description

    def is_aggregate(self, name: str) -> bool:
        return name.upper() in self.aggregate_names

    def is_table_function(self, name: str) -> bool:
        return name.upper() in self.table_function_names

    def get(self, name: str) -> FunctionEntry | None:
        return self._functions.get(name.upper())

    def names(self) -> list[str]:
        return sorted(self._functions)

    def resolve(self, name: str, args: Sequence[Argument]) -> ResolvedFunction:
        """Pick the overload for a call the way ksqlDB's ``UdfIndex.getFunction`` does.

        Matches without implicit casts are looked for first, then with them. Among several
        matches the most specific wins (not variadic, more parameters, fewer type variables);
        if two are equally specific the call is ambiguous.
        """
        entry = self._functions.get(name.upper())
        if entry is None:
            raise KsqlException(f"Can't find any functions with the name '{name}'")
        shown = ", ".join("null" if a is None else str(a) for a in args)
        alternatives = "\n".join(o.signature() for o in entry.overloads)
        for cast in (False, True):
            candidates = []
            for overload in entry.overloads:
                found = overload.match(args, cast)
                if found is not None:
                    candidates.append((overload.preference(), overload, *found))
            if not candidates:
                continue
            candidates.sort(key=lambda c: c[0])
            if len(candidates) > 1 and candidates[-1][0] == candidates[-2][0]:
                raise KsqlException(
                    f"Function '{entry.name}' cannot be resolved due to ambiguous method "
                    f"parameters ({shown}).\n"
                    "Use CAST() to explicitly cast your parameters to one of the supported "
                    "function calls.\n"
                    f"Valid function calls are:\n{alternatives}\n"
                    "For detailed information on a function run: DESCRIBE FUNCTION "
                    "<Function-Name>;"
                )
            _, overload, bindings, patterns = candidates[-1]
            param_types = [p.resolve(bindings) for p in patterns]
            param_types = [
                t if t is not None else (a if isinstance(a, SqlType) else None)
                for t, a in zip(param_types, args, strict=True)
            ]
            lambda_inputs = {
                i: p.input_types(bindings)
                for i, p in enumerate(patterns)
                if isinstance(p, LambdaParam)
            }
            return ResolvedFunction(
                overload,
                overload.return_type(args, bindings),
                param_types,
                lambda_inputs,  # type: ignore[arg-type]
            )
        raise KsqlException(
            f"Function '{entry.name}' does not accept parameters ({shown}).\n"
            f"Valid alternatives are:\n{alternatives}\n"
            "For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;"
        )


#: The registry every engine uses; family modules add to it when imported.
FUNCTIONS = FunctionRegistry()


def udf(
    name: str,
    *params: SqlType | ParamType,
    returns: ReturnType,
    variadic: bool = False,
    null_on_null: bool = True,
    description: str = "",
    category: str = "",
    param_names: tuple[str, ...] = (),
    typed: bool = False,
    registry: FunctionRegistry = FUNCTIONS,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an overload of ``name`` implemented by the decorated function.

    With ``typed=True`` the decorated function is called once per call site with the argument
    types and returns the implementation (for functions whose behaviour depends on the type,
    such as ``TO_JSON_STRING``).
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        registry.register(
            Overload(
                name,
                tuple(param(p) for p in params),
                returns,
                fn,
                variadic=variadic,
                null_on_null=null_on_null,
                description=description or (fn.__doc__ or "").strip().split("\n")[0],
                param_names=param_names,
                typed=typed,
            ),
            category=category,
        )
        return fn

    return decorate


def same_as(index: int) -> Callable[[Sequence[SqlType | None], dict[str, SqlType]], SqlType | None]:
    """A return type equal to the type of argument ``index``."""
    return lambda args, bindings: args[index]


def bound(name: str) -> Callable[[Sequence[SqlType | None], dict[str, SqlType]], SqlType | None]:
    """A return type equal to the binding of type variable ``name``."""
    return lambda args, bindings: bindings.get(name)


STRING, INTEGER, BIGINT, DOUBLE, BOOLEAN = (
    SqlTypes.STRING,
    SqlTypes.INTEGER,
    SqlTypes.BIGINT,
    SqlTypes.DOUBLE,
    SqlTypes.BOOLEAN,
)
