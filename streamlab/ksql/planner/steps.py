"""Execution steps: the physical plan of a query, named after ksqlDB's execution steps.

A plan is a chain ``StreamSource → [StreamFilter] → [StreamSelectKey] → [StreamFlatMap] →
StreamSelect → StreamSink`` (``Table*`` for tables). Each step records the schema of the rows it
emits:
``key`` are the key columns, ``columns`` the processing row the next step's expressions are
compiled against. Steps are plain data; :mod:`streamlab.ksql.runtime` turns them into
operators. The stateful steps live with their planners: ``Aggregate`` and ``Having`` in
:mod:`~streamlab.ksql.planner.aggregate`, ``JoinStep`` in :mod:`~streamlab.ksql.planner.join`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamlab.ksql.catalog import TimestampColumn
from streamlab.ksql.formats import KeyFormat, ValueFormat
from streamlab.ksql.parser.ast.expressions import Expression
from streamlab.ksql.schema import Column, LogicalSchema
from streamlab.ksql.types import SqlType


@dataclass
class ExecutionStep:
    """Base of steps. ``schema`` is the logical schema of the step's output rows."""

    schema: LogicalSchema

    @property
    def source(self) -> ExecutionStep | None:
        return getattr(self, "source_step", None)

    @property
    def is_table(self) -> bool:
        return self.source.is_table if self.source is not None else False

    def columns(self) -> list[tuple[str, SqlType]]:
        """The processing row layout leaving this step."""
        return [(c.name, c.type) for c in self.schema.value]

    def chain(self) -> list[ExecutionStep]:
        steps: list[ExecutionStep] = []
        step: ExecutionStep | None = self
        while step is not None:
            steps.append(step)
            step = step.source
        return list(reversed(steps))


@dataclass
class StreamSource(ExecutionStep):
    """Reads a topic: deserializes, extracts the timestamp, builds the processing row."""

    topic: str = ""
    source_name: str = ""
    alias: str = ""
    source_schema: LogicalSchema = field(default_factory=lambda: LogicalSchema(()))
    key_format: KeyFormat | None = None
    value_format: ValueFormat | None = None
    timestamp_column: TimestampColumn | None = None

    @property
    def is_table(self) -> bool:
        return False


@dataclass
class TableSource(StreamSource):
    """A table's changelog topic: upserts by key, NULL values are deletes, NULL keys dropped."""

    @property
    def is_table(self) -> bool:
        return True


@dataclass
class StreamFilter(ExecutionStep):
    source_step: ExecutionStep | None = None
    predicate: Expression | None = None


@dataclass
class TableFilter(StreamFilter):
    """Like a stream filter, but a row that does not pass becomes a tombstone."""


@dataclass
class StreamSelectKey(ExecutionStep):
    """PARTITION BY: computes a new key; non-column keys are appended to the processing row."""

    source_step: ExecutionStep | None = None
    key_expressions: tuple[Expression, ...] = ()
    appended: tuple[bool, ...] = ()
    key_only: tuple[bool, ...] = ()
    partition_by_null: bool = False


@dataclass
class StreamFlatMap(ExecutionStep):
    """Table functions: each row becomes one row per produced element (``KSQL_SYNTH_<n>``).

    The results of several table functions are zipped; shorter ones are padded with NULL.
    """

    source_step: ExecutionStep | None = None
    table_functions: tuple[Expression, ...] = ()


@dataclass
class StreamSelect(ExecutionStep):
    """The projection: computes the value columns; the key passes through (renamed)."""

    source_step: ExecutionStep | None = None
    selects: tuple[tuple[str, Expression], ...] = ()
    drop_key: bool = False


@dataclass
class TableSelect(StreamSelect):
    pass


@dataclass
class StreamSink(ExecutionStep):
    """Serializes rows to the sink topic; the record timestamp may come from a column."""

    source_step: ExecutionStep | None = None
    topic: str = ""
    key_format: KeyFormat | None = None
    value_format: ValueFormat | None = None
    timestamp_column: TimestampColumn | None = None


@dataclass
class TableSink(StreamSink):
    pass


def key_of(columns: list[Column]) -> list[Column]:
    return [c for c in columns if c.namespace.value == "KEY"]
