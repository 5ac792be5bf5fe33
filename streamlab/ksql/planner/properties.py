"""WITH-clause properties of CREATE and CREATE ... AS SELECT statements.

Property names are case-insensitive; unknown ones fail as in ksqlDB (``Invalid config
variable(s) in the WITH clause: FOO``). ``FORMAT`` sets both key and value formats and cannot
be combined with ``KEY_FORMAT`` or ``VALUE_FORMAT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.formats import FormatInfo, get_format
from streamlab.ksql.parser.properties import parse_delimiter, validate_properties


@dataclass
class SourceProperties:
    """Validated WITH properties (values keep their SQL literal Python types)."""

    values: dict[str, object] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: dict[str, object], create_as: bool) -> SourceProperties:
        validate_properties(raw, create_as)
        props = cls(dict(raw))
        props._check_formats()
        return props

    def _check_formats(self) -> None:
        has_format = "FORMAT" in self.values
        for name in ("KEY_FORMAT", "VALUE_FORMAT"):
            if has_format and name in self.values:
                raise KsqlException(
                    f"Cannot supply both '{name}' and 'FORMAT' properties, as 'FORMAT' sets both "
                    "key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and "
                    "'VALUE_FORMAT'."
                )
        for name in ("FORMAT", "KEY_FORMAT", "VALUE_FORMAT"):
            if name in self.values:
                get_format(str(self.values[name]))

    def _string(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    # ---- accessors ------------------------------------------------------------------------------

    @property
    def kafka_topic(self) -> str | None:
        return self._string("KAFKA_TOPIC")

    @property
    def partitions(self) -> int | None:
        value = self.values.get("PARTITIONS")
        return int(str(value)) if value is not None else None

    @property
    def replicas(self) -> int | None:
        value = self.values.get("REPLICAS")
        return int(str(value)) if value is not None else None

    @property
    def timestamp_column(self) -> str | None:
        value = self._string("TIMESTAMP")
        if value is None:
            return None
        return value[1:-1] if value.startswith("`") and value.endswith("`") else value.upper()

    @property
    def timestamp_format(self) -> str | None:
        return self._string("TIMESTAMP_FORMAT")

    @property
    def key_format_name(self) -> str | None:
        name = self._string("KEY_FORMAT") or self._string("FORMAT")
        return name.upper() if name else None

    @property
    def value_format_name(self) -> str | None:
        name = self._string("VALUE_FORMAT") or self._string("FORMAT")
        return name.upper() if name else None

    @property
    def wrap_single_value(self) -> bool | None:
        value = self.values.get("WRAP_SINGLE_VALUE")
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise KsqlException(
            f"Invalid value {value} for configuration WRAP_SINGLE_VALUE: Expected value to be "
            "either true or false"
        )

    def key_format_info(self, name: str) -> FormatInfo:
        delimiter = self._string("KEY_DELIMITER")
        if delimiter is not None and name != "DELIMITED":
            raise KsqlException(
                "Property KEY_DELIMITER can only be used with KEY_FORMAT='DELIMITED'"
            )
        return FormatInfo(name, (("delimiter", delimiter),) if delimiter else ())

    def value_format_info(self, name: str) -> FormatInfo:
        delimiter = self._string("VALUE_DELIMITER")
        if delimiter is not None and name != "DELIMITED":
            raise KsqlException(f"{name} does not support the following configs: [delimiter]")
        if delimiter is not None:
            parse_delimiter(delimiter)
        return FormatInfo(name, (("delimiter", delimiter),) if delimiter else ())
