"""Planning: WITH properties (``properties``), DDL (``ddl``), query analysis (``analyzer``),
the logical planner (``planner``) and the execution steps it produces (``steps``)."""

from streamlab.ksql.planner.analyzer import Analysis, QueryAnalyzer, UnsupportedFeature
from streamlab.ksql.planner.planner import LogicalPlanner, QueryPlan, Sink
from streamlab.ksql.planner.properties import SourceProperties

__all__ = [
    "Analysis",
    "LogicalPlanner",
    "QueryAnalyzer",
    "QueryPlan",
    "Sink",
    "SourceProperties",
    "UnsupportedFeature",
]
