"""Data sources (streams and tables) and the topics they read, as ksqlDB's metastore holds them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from streamlab.ksql.formats import KeyFormat, ValueFormat
from streamlab.ksql.schema import LogicalSchema


class DataSourceType(enum.Enum):
    STREAM = "STREAM"
    TABLE = "TABLE"

    @property
    def ksql_type(self) -> str:
        return self.value

    @property
    def lower(self) -> str:
        return self.value.lower()


@dataclass(frozen=True)
class KsqlTopic:
    """A Kafka topic and how its keys and values are serialized."""

    name: str
    key_format: KeyFormat
    value_format: ValueFormat


@dataclass(frozen=True)
class TimestampColumn:
    """``WITH (TIMESTAMP='col', TIMESTAMP_FORMAT='...')``."""

    column: str
    format: str | None = None


@dataclass
class DataSource:
    """A stream or table: its schema, topic and where its event time comes from."""

    name: str
    source_type: DataSourceType
    schema: LogicalSchema
    topic: KsqlTopic
    timestamp_column: TimestampColumn | None = None
    sql: str = ""
    is_source: bool = False
    casted: bool = False  # created by CREATE ... AS SELECT
    properties: dict[str, object] = field(default_factory=dict)

    @property
    def is_stream(self) -> bool:
        return self.source_type is DataSourceType.STREAM

    @property
    def is_table(self) -> bool:
        return self.source_type is DataSourceType.TABLE

    @property
    def is_windowed(self) -> bool:
        return self.topic.key_format.is_windowed()
