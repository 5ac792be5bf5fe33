"""Formats, key/value format descriptors and serde features, as ksqlDB models them.

A :class:`Format` knows which column types and features it supports and builds serializers
(``list of column values -> bytes``) and deserializers (``bytes -> list of values``) for a set
of columns. :func:`get_format` looks formats up by name (``Unknown format: FOO``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.schema import Column, Namespace
from streamlab.ksql.types import SqlType

Serializer = Callable[[Sequence[Any] | None], bytes | None]
Deserializer = Callable[[bytes | None], list[Any] | None]


class SerdeFeature(enum.Enum):
    WRAP_SINGLES = "WRAP_SINGLES"
    UNWRAP_SINGLES = "UNWRAP_SINGLES"


@dataclass(frozen=True)
class FormatInfo:
    """A format name and its properties (e.g. the DELIMITED delimiter)."""

    format: str
    properties: tuple[tuple[str, str], ...] = ()

    def property(self, name: str, default: str | None = None) -> str | None:
        return dict(self.properties).get(name, default)


class WindowType(enum.Enum):
    SESSION = "SESSION"
    HOPPING = "HOPPING"
    TUMBLING = "TUMBLING"


@dataclass(frozen=True)
class WindowInfo:
    type: WindowType
    size_ms: int | None = None


@dataclass(frozen=True)
class KeyFormat:
    info: FormatInfo
    features: frozenset[SerdeFeature] = field(default_factory=frozenset)
    window: WindowInfo | None = None

    @property
    def format(self) -> str:
        return self.info.format

    def is_windowed(self) -> bool:
        return self.window is not None


@dataclass(frozen=True)
class ValueFormat:
    info: FormatInfo
    features: frozenset[SerdeFeature] = field(default_factory=frozenset)

    @property
    def format(self) -> str:
        return self.info.format


def persistence_text(columns: Sequence[Column], features: frozenset[SerdeFeature]) -> str:
    """ksqlDB's ``PersistenceSchema.toString``."""
    cols = ", ".join(str(c) for c in columns)
    feats = ", ".join(sorted(f.value for f in features))
    return f"Persistence{{columns=[{cols}], features=[{feats}]}}"


class Format:
    """Base of the formats. Subclasses implement the three hooks below."""

    name: str = ""
    supported_features: frozenset[SerdeFeature] = frozenset()
    supports_multiple_columns: bool = True
    requires_schema_registry: bool = False

    def supports_feature(self, feature: SerdeFeature) -> bool:
        return feature in self.supported_features

    def supports_key_type(self, sql_type: SqlType) -> bool:
        return True

    def check_columns(self, columns: Sequence[Column]) -> None:
        """Raise KsqlException(reason) if the columns cannot be held in this format."""

    def serializer(
        self,
        columns: Sequence[Column],
        features: frozenset[SerdeFeature],
        info: FormatInfo,
        is_key: bool,
    ) -> Serializer:
        raise NotImplementedError

    def deserializer(
        self,
        columns: Sequence[Column],
        features: frozenset[SerdeFeature],
        info: FormatInfo,
        is_key: bool,
    ) -> Deserializer:
        raise NotImplementedError

    # ---- shared checks --------------------------------------------------------------------------

    def validate(
        self, columns: Sequence[Column], features: frozenset[SerdeFeature], is_key: bool
    ) -> None:
        """Check a key or value schema; errors read like ksqlDB's ``... format does not support
        schema`` messages."""
        try:
            unsupported = [f for f in features if f not in self.supported_features]
            if unsupported:
                raise KsqlException(
                    f"Format '{self.name}' does not support feature(s): "
                    + ", ".join(sorted(f.value for f in unsupported))
                )
            self.check_columns(columns)
        except KsqlException as error:
            kind = "Key" if is_key else "Value"
            raise KsqlException(
                f"{kind} format does not support schema.\n"
                f"format: {self.name}\n"
                f"schema: {persistence_text(columns, features)}\n"
                f"reason: {error.message}"
            ) from error


class UnsupportedFormat(Format):
    """A format ksqlDB has that needs a service we do not run here (Schema Registry)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def check_columns(self, columns: Sequence[Column]) -> None:
        raise KsqlException(self.reason)

    def validate(self, columns, features, is_key) -> None:
        raise KsqlException(self.reason)


_FORMATS: dict[str, Format] = {}


def register_format(fmt: Format) -> Format:
    _FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> Format:
    """The format called ``name`` (case-insensitive), or ``Unknown format: <name>``."""
    fmt = _FORMATS.get(name.upper())
    if fmt is None:
        raise KsqlException(f"Unknown format: {name}")
    return fmt


def key_columns(columns: Sequence[Column]) -> list[Column]:
    return [c for c in columns if c.namespace is Namespace.KEY]


def _contains_map(sql_type: SqlType) -> bool:
    from streamlab.ksql.types import SqlArray, SqlMap, SqlStruct

    if isinstance(sql_type, SqlMap):
        return True
    if isinstance(sql_type, SqlArray):
        return _contains_map(sql_type.item_type)
    if isinstance(sql_type, SqlStruct):
        return any(_contains_map(t) for _, t in sql_type.fields)
    return False


def check_key_types(columns: Sequence[Column]) -> None:
    """Key columns may not hold maps (their serialization is not stable)."""
    for column in columns:
        if _contains_map(column.type):
            raise KsqlException(
                "Map keys, including types that contain maps, are not supported as they may "
                "lead to unexpected behavior due to inconsistent serialization. Key column name: "
                f"`{column.name}`. Column type: {column.type}. See "
                "https://github.com/confluentinc/ksql/issues/6621 for more."
            )


def key_features(fmt: Format, key_count: int) -> frozenset[SerdeFeature]:
    """``SerdeFeaturesFactory.buildKeyFeatures``: single keys are unwrapped where possible."""
    if (
        key_count == 1
        and fmt.supports_feature(SerdeFeature.UNWRAP_SINGLES)
        and fmt.supports_feature(SerdeFeature.WRAP_SINGLES)
    ):
        return frozenset({SerdeFeature.UNWRAP_SINGLES})
    return frozenset()


def value_features(
    fmt: Format,
    value_count: int,
    wrap_single_value: bool | None,
    default_wrap: bool | None = None,
) -> frozenset[SerdeFeature]:
    """``SerdeFeaturesFactory.buildValueFeatures``: explicit WRAP_SINGLE_VALUE, else config."""
    if wrap_single_value is not None:
        feature = SerdeFeature.WRAP_SINGLES if wrap_single_value else SerdeFeature.UNWRAP_SINGLES
        if not fmt.supports_feature(feature):
            raise KsqlException(
                f"Format '{fmt.name}' does not support 'WRAP_SINGLE_VALUE' set to "
                f"'{'true' if wrap_single_value else 'false'}'."
            )
        if value_count != 1:
            raise KsqlException("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas")
        return frozenset({feature})
    if value_count != 1 or default_wrap is None:
        return frozenset()
    feature = SerdeFeature.WRAP_SINGLES if default_wrap else SerdeFeature.UNWRAP_SINGLES
    return frozenset({feature}) if fmt.supports_feature(feature) else frozenset()
