"""Helpers the lab notebooks share: the lab check, unique names per run, looking at topics and
groups, and small plots. Code that more than one lab needs lives here, with tests."""

from streamlab.notebook.kafka import (
    committed_offsets,
    create_topic,
    java_partition,
    observe,
    read_topic,
    run_id,
    topic_partitions,
    watermarks,
)
from streamlab.notebook.labcheck import lab_check
from streamlab.notebook.plots import plot_partitions

__all__ = [
    "committed_offsets",
    "create_topic",
    "java_partition",
    "lab_check",
    "observe",
    "plot_partitions",
    "read_topic",
    "run_id",
    "topic_partitions",
    "watermarks",
]
