"""The statement executor (``engine``), INSERT VALUES (``insert_values``) and the REST-shaped
statement results (``results``)."""

from streamlab.ksql.engine.engine import DEFAULT_CONFIG, KsqlEngine, PersistentQuery
from streamlab.ksql.engine.results import StatementResult

__all__ = ["DEFAULT_CONFIG", "KsqlEngine", "PersistentQuery", "StatementResult"]
