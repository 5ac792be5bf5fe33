"""Helpers the lab notebooks share: the lab check, unique names per run, looking at topics and
groups, and small plots. Code that more than one lab needs lives here, with tests."""

from streamlab.notebook.kafka import (
    committed_offsets,
    create_topic,
    group_lag,
    java_partition,
    observe,
    read_topic,
    run_id,
    topic_partitions,
    watermarks,
)
from streamlab.notebook.ksql import (
    EARLIEST,
    ksql_client,
    ksql_show,
    restart_ksql,
    topic_count,
    wait_for_count,
)
from streamlab.notebook.labcheck import lab_check
from streamlab.notebook.lambda_lab import deploy_source, kafka_event, lambda_lab
from streamlab.notebook.plots import plot_partitions

__all__ = [
    "EARLIEST",
    "committed_offsets",
    "create_topic",
    "deploy_source",
    "group_lag",
    "java_partition",
    "kafka_event",
    "ksql_client",
    "ksql_show",
    "lab_check",
    "lambda_lab",
    "observe",
    "plot_partitions",
    "read_topic",
    "restart_ksql",
    "run_id",
    "topic_count",
    "topic_partitions",
    "wait_for_count",
    "watermarks",
]
