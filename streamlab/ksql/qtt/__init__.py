"""ksqlDB's query-validation tests (QTT) run against this engine.

``loader`` reads test files and the manifest, ``runner`` executes a case as ksqlDB's
``TestExecutor`` does (``serdes`` and ``comparator`` are the harness's side), ``report`` counts
per feature tag and keeps the expected-failures list; ``python -m streamlab.ksql.qtt PATH``
runs a folder.
"""

from streamlab.ksql.qtt.loader import QttCase, load_suite
from streamlab.ksql.qtt.runner import CaseResult, run_case

__all__ = ["CaseResult", "QttCase", "load_suite", "run_case"]
