"""CREATE STREAM / CREATE TABLE: from the statement to a data source (``CreateSourceFactory``)."""

from __future__ import annotations

from collections.abc import Callable

from streamlab.ksql.catalog import DataSource, DataSourceType, KsqlTopic, MetaStore, TimestampColumn
from streamlab.ksql.errors import KsqlException
from streamlab.ksql.formats import (
    KeyFormat,
    ValueFormat,
    check_key_types,
    check_registry,
    get_format,
    infer_columns,
    key_features,
    value_features,
)
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.planner.planner import _wrap_default, validate_timestamp_column
from streamlab.ksql.planner.properties import SourceProperties
from streamlab.ksql.schema import SYSTEM_COLUMN_NAMES, LogicalSchema, schema_from_elements


def build_source(
    statement: st.CreateSource,
    metastore: MetaStore,
    config: dict[str, object],
    ensure_topic: Callable[[str, int | None, int | None, dict[str, str]], None],
) -> DataSource:
    """Validate a CREATE STREAM/TABLE statement and build the source it declares.

    ``ensure_topic(name, partitions, replicas, config)`` must make sure the topic exists
    (creating it with ``config`` when partitions are given) or raise ksqlDB's "Topic does not
    exist" error.
    """
    is_table = isinstance(statement, st.CreateTable)
    kind = "table" if is_table else "stream"
    props = SourceProperties.parse(dict(_props(statement)), create_as=False)
    topic_name = props.kafka_topic
    if topic_name is None:
        raise KsqlException(
            'Missing required configuration "KAFKA_TOPIC" which has no default value.'
        )
    key_name = (
        props.key_format_name
        or str(config.get("ksql.persistence.default.format.key") or "KAFKA").upper()
    )
    value_name = props.value_format_name or (
        str(config["ksql.persistence.default.format.value"]).upper()
        if config.get("ksql.persistence.default.format.value")
        else None
    )
    if value_name is None:
        raise KsqlException(
            "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either "
            "provide one or set a default via the 'ksql.persistence.default.format.value' config."
        )
    get_format(key_name)
    get_format(value_name)
    key_info = props.key_format_info(key_name)
    value_info = props.value_format_info(value_name)

    check_registry(key_name, topic_name)
    check_registry(value_name, topic_name)
    ensure_topic(topic_name, props.partitions, props.replicas, sink_topic_config(is_table))

    # PROTOBUF/JSON_SR without value (key) columns: infer them from the registry.
    declared = schema_from_elements(statement.elements)
    inferred_value = None if declared.value else infer_columns(value_name, topic_name, False)
    inferred_key = None if declared.key else infer_columns(key_name, topic_name, True)
    if not statement.elements and not inferred_value and not inferred_key:
        raise KsqlException("The statement does not define any columns.")
    for element in statement.elements:
        if element.name in SYSTEM_COLUMN_NAMES:
            raise KsqlException(
                f"'{element.name}' is a reserved column name. "
                "You cannot use it as a name for a column."
            )
    names = [e.name for e in statement.elements]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise KsqlException(f"Duplicate column names: {', '.join(duplicates)}")
    schema = declared
    if inferred_value or inferred_key:
        schema = LogicalSchema(
            [*(inferred_key or schema.key), *(inferred_value or ()), *schema.value]
        )

    existing = metastore.get_source(statement.name)
    if existing is not None and not statement.or_replace and not statement.not_exists:
        raise KsqlException(
            f"Cannot add {kind} '{statement.name}': A {existing.source_type.lower} with the "
            "same name already exists"
        )
    if is_table and not schema.key:
        raise KsqlException("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.")
    if props.values.get("WINDOW_TYPE") is not None and not schema.key:
        raise KsqlException("Windowed sources require a key column.")
    if statement.or_replace and (
        statement.is_source or (existing is not None and existing.is_source)
    ):
        raise KsqlException(
            f"Cannot add {kind} '{statement.name}': CREATE OR REPLACE is not supported on "
            f"source {kind}s."
        )

    timestamp = None
    if props.timestamp_column is not None:
        timestamp = validate_timestamp_column(
            TimestampColumn(props.timestamp_column, props.timestamp_format), schema
        )

    key_fmt, value_fmt = get_format(key_name), get_format(value_name)
    k_features = key_features(key_fmt, len(schema.key))
    v_features = value_features(
        value_fmt, len(schema.value), props.wrap_single_value, _wrap_default(config)
    )
    check_key_types(list(schema.key))
    key_fmt.validate(list(schema.key), k_features, is_key=True)
    value_fmt.validate(list(schema.value), v_features, is_key=False)

    return DataSource(
        name=statement.name,
        source_type=DataSourceType.TABLE if is_table else DataSourceType.STREAM,
        schema=schema,
        topic=KsqlTopic(
            topic_name,
            KeyFormat(key_info, k_features),
            ValueFormat(value_info, v_features),
        ),
        timestamp_column=timestamp,
        sql=statement.text,
        is_source=statement.is_source,
        properties=props.values,
    )


def _props(statement: st.CreateSource) -> list[tuple[str, object]]:
    return [(p.name, p.value.value) for p in statement.properties]


def sink_topic_config(is_table: bool, window: st.WindowExpression | None = None) -> dict[str, str]:
    """The configs ksqlDB gives a topic it creates (its ``TopicCreateInjector``): a table's topic
    is compacted, a stream's is not; a windowed table's keeps one record per window and key
    *and* loses windows by age (``compact,delete``), after the window's RETENTION when given,
    else the broker's ``retention.ms`` (7 days)."""
    if not is_table:
        return {"cleanup.policy": "delete"}
    if window is None:
        return {"cleanup.policy": "compact"}
    config = {"cleanup.policy": "compact,delete"}
    if window.retention_ms is not None:
        config["retention.ms"] = str(window.retention_ms)
    return config
