"""The runtime: records and rows (``records``), operators built from execution steps
(``operators``), the processing log (``processing_log``) and an in-process topic store
(``topics``)."""

from streamlab.ksql.runtime.operators import Topology, build_topology
from streamlab.ksql.runtime.processing_log import ProcessingLog
from streamlab.ksql.runtime.records import Record, Row
from streamlab.ksql.runtime.topics import TopicStore

__all__ = ["ProcessingLog", "Record", "Row", "TopicStore", "Topology", "build_topology"]
