"""Compatibility levels and the check a new schema must pass, as Confluent's
``CompatibilityChecker`` and ``SchemaValidatorBuilder`` do it.

BACKWARD: a reader with the new schema reads data written with the old one (the default).
FORWARD: a reader with the old schema reads data written with the new one. FULL: both.
``*_TRANSITIVE`` checks every live version, newest first, instead of only the latest; NONE
checks nothing. The messages keep Confluent's shape, so a refusal reads like the real one::

    [{errorType:"FIELD_SCALAR_KIND_CHANGED", description:"The kind of a SCALAR field at path
    '#/Trade/3' in the new schema does not match its kind in the old schema"},
    {oldSchemaVersion: 1}, {oldSchema: '...'}, {validateFields: 'false', compatibility: 'BACKWARD'}]
"""

from __future__ import annotations

from collections.abc import Sequence

from streamlab.registry.schemas import ParsedSchema

NONE = "NONE"
BACKWARD = "BACKWARD"
DEFAULT_LEVEL = BACKWARD
LEVELS = (
    NONE,
    BACKWARD,
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)

_MAX_SCHEMA_IN_MESSAGE = 10 * 1024


def parse_level(value: object) -> str | None:
    """A level from a request ("backward" works too), or None if it is not one."""
    if not isinstance(value, str):
        return None
    level = value.strip().upper()
    return level if level in LEVELS else None


def check(level: str, new: ParsedSchema, previous: Sequence[tuple[int, ParsedSchema]]) -> list[str]:
    """Error messages (empty = compatible) for registering ``new`` after ``previous``,
    the subject's live versions as (version, schema), oldest first."""
    if level == NONE or not previous:
        return []
    newest_first = list(reversed(previous))
    candidates = newest_first if level.endswith("_TRANSITIVE") else newest_first[:1]
    direction = level.removesuffix("_TRANSITIVE")
    for version, old in candidates:
        if old.schema_type != new.schema_type:
            errors = ["Incompatible because of different schema type"]
        else:
            errors = _validate(direction, new, old, version)
        if errors:
            return errors
    return []


def _validate(direction: str, new: ParsedSchema, old: ParsedSchema, version: int) -> list[str]:
    if direction == BACKWARD:  # the new schema reads old data
        return _formatted(new.differences(old), old, version, "new", "old", append_schema=True)
    if direction == "FORWARD":  # the old schema reads new data
        return _formatted(old.differences(new), old, version, "old", "new", append_schema=True)
    # FULL: both ways, the old schema appended once at the end.
    errors = _formatted(old.differences(new), old, version, "old", "new", append_schema=False)
    errors += _formatted(new.differences(old), old, version, "new", "old", append_schema=True)
    return errors


def _formatted(
    errors: list[str], old: ParsedSchema, version: int, reader: str, writer: str, append_schema
) -> list[str]:
    if not errors:
        return []
    out = [e.replace("%s", reader, 1).replace("%s", writer, 1) for e in errors]
    if append_schema:
        out.append(f"{{oldSchemaVersion: {version}}}")
        text = old.canonical()
        if len(text) <= _MAX_SCHEMA_IN_MESSAGE:
            out.append(f"{{oldSchema: '{text}'}}")
        else:
            out.append(f"{{oldSchema: <truncated> '{text[:_MAX_SCHEMA_IN_MESSAGE]}...'}}")
    return out


def summary(level: str) -> str:
    """The last entry Confluent appends to a refusal's details."""
    return f"{{validateFields: 'false', compatibility: '{level}'}}"
