"""Built-in functions: a registry (``registry.py``) and one module per family.

Importing this package registers every family into :data:`FUNCTIONS`.
"""

from streamlab.ksql.functions import (
    bytes,
    collections,
    datetime,
    geo,
    json,
    lambdas,
    math,
    nulls,
    string,
    table,
    url,
)
from streamlab.ksql.functions.registry import (
    FUNCTIONS,
    FunctionRegistry,
    Overload,
    ResolvedFunction,
    udf,
)

AGGREGATE_FUNCTIONS = frozenset(
    {
        "COUNT",
        "SUM",
        "AVG",
        "MIN",
        "MAX",
        "LATEST_BY_OFFSET",
        "EARLIEST_BY_OFFSET",
        "COLLECT_LIST",
        "COLLECT_SET",
        "COUNT_DISTINCT",
        "TOPK",
        "TOPKDISTINCT",
        "HISTOGRAM",
        "STDDEV_SAMPLE",
        "STDDEV_SAMP",
        "CORRELATION",
        "ATTR",
    }
)
TABLE_FUNCTIONS = table.TABLE_FUNCTION_NAMES
FUNCTIONS.aggregate_names.update(AGGREGATE_FUNCTIONS)
FUNCTIONS.table_function_names.update(TABLE_FUNCTIONS)

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "FUNCTIONS",
    "TABLE_FUNCTIONS",
    "FunctionRegistry",
    "Overload",
    "ResolvedFunction",
    "bytes",
    "collections",
    "datetime",
    "geo",
    "json",
    "lambdas",
    "math",
    "nulls",
    "string",
    "table",
    "udf",
    "url",
]
