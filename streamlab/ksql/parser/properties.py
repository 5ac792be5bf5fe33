"""WITH-clause property names and value checks done while building the AST.

ksqlDB validates WITH properties when it prepares a statement (its ``ConfigDef`` checks): an
unknown name or a malformed value fails with ``Failed to prepare statement: ...``. Which
formats and topics the properties name is checked later, when the statement runs.
"""

from __future__ import annotations

import re

from streamlab.ksql.errors import KsqlException

COMMON = frozenset(
    {
        "KAFKA_TOPIC",
        "PARTITIONS",
        "REPLICAS",
        "RETENTION_MS",
        "CLEANUP_POLICY",
        "TIMESTAMP",
        "TIMESTAMP_FORMAT",
        "VALUE_FORMAT",
        "KEY_FORMAT",
        "FORMAT",
        "WRAP_SINGLE_VALUE",
        "VALUE_DELIMITER",
        "KEY_DELIMITER",
        "VALUE_AVRO_SCHEMA_FULL_NAME",
        "KEY_SCHEMA_FULL_NAME",
        "VALUE_SCHEMA_FULL_NAME",
        "KEY_SCHEMA_ID",
        "VALUE_SCHEMA_ID",
    }
)
CREATE_ONLY = frozenset({"WINDOW_TYPE", "WINDOW_SIZE", "SOURCE_CONNECTOR", "SOURCED_BY_CONNECTOR"})
CREATE_AS_ONLY: frozenset[str] = frozenset()

_NAMED_DELIMITERS = {"TAB": "\t", "SPACE": " "}
_DURATION = re.compile(r"\s*(\d+)\s+([A-Za-z]+)\s*")
_UNITS = {
    "MILLISECOND",
    "MILLISECONDS",
    "SECOND",
    "SECONDS",
    "MINUTE",
    "MINUTES",
    "HOUR",
    "HOURS",
    "DAY",
    "DAYS",
}


def parse_delimiter(text: str | None) -> str:
    """``Delimiter.parse``: a single character, ``TAB`` or ``SPACE``."""
    if text is None:
        return ","
    if not text.strip():
        raise KsqlException(
            "Delimiter cannot be empty, if you meant to have a tab or space for delimiter, "
            "please use the special values 'TAB' or 'SPACE'\nExample valid value: ';'"
        )
    if len(text) == 1:
        return text
    if text in _NAMED_DELIMITERS:
        return _NAMED_DELIMITERS[text]
    raise KsqlException(
        f"Invalid delimiter value: '{text}'. Delimiter must be a single character or TAB,SPACE"
        "\nExample valid value: ';'"
    )


def _check_duration(text: str) -> None:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise KsqlException(
            f"Invalid duration: '{text}'. Expected format: '<number> <time_unit>', e.g. "
            "'10 SECONDS'"
        )
    if match.group(2).upper() not in _UNITS:
        raise KsqlException(
            f"Invalid duration: '{text}'. Unknown time unit: '{match.group(2).upper()}'"
        )


def validate_properties(values: dict[str, object], create_as: bool) -> None:
    """Names must be known, and values well formed (``Configuration X is invalid: ...``)."""
    allowed = COMMON | (CREATE_AS_ONLY if create_as else CREATE_ONLY)
    unknown = [name for name in values if name not in allowed]
    if unknown:
        raise KsqlException("Invalid config variable(s) in the WITH clause: " + ",".join(unknown))
    for name in ("VALUE_DELIMITER", "KEY_DELIMITER"):
        if name in values:
            try:
                parse_delimiter(None if values[name] is None else str(values[name]))
            except KsqlException as error:
                raise KsqlException(f"Configuration {name} is invalid: {error.message}") from error
    if values.get("WINDOW_SIZE") is not None:
        try:
            _check_duration(str(values["WINDOW_SIZE"]))
        except KsqlException as error:
            raise KsqlException(f"Configuration WINDOW_SIZE is invalid: {error.message}") from error
    if values.get("WINDOW_TYPE") is not None:
        window_type = str(values["WINDOW_TYPE"]).upper()
        has_size = values.get("WINDOW_SIZE") is not None
        if window_type != "SESSION" and not has_size:
            raise KsqlException(
                f"{window_type} windows require 'WINDOW_SIZE' to be provided in the WITH clause. "
                "For example: 'WINDOW_SIZE'='10 SECONDS'"
            )
        if window_type == "SESSION" and has_size:
            raise KsqlException("'WINDOW_SIZE' should not be set for SESSION windows.")
    for name in ("PARTITIONS", "REPLICAS"):
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            try:
                int(str(value))
            except ValueError:
                raise KsqlException(
                    f"Invalid value {value} for configuration {name}: Could not convert to integer"
                ) from None
