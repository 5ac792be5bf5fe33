"""The NONE format (keys only): no columns, the bytes are ignored."""

from __future__ import annotations

from collections.abc import Sequence

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.formats.base import Format, FormatInfo, register_format
from streamlab.ksql.schema import Column


class NoneFormat(Format):
    name = "NONE"
    supports_multiple_columns = False

    def check_columns(self, columns: Sequence[Column]) -> None:
        if columns:
            raise KsqlException(
                "The 'NONE' format can only be used when no columns are defined. "
                f"Got: [{', '.join(str(c) for c in columns)}]"
            )

    def serializer(self, columns, features, info: FormatInfo, is_key: bool):
        return lambda values: None

    def deserializer(self, columns, features, info: FormatInfo, is_key: bool):
        return lambda data: []


NONE = register_format(NoneFormat())
