"""ksqlDB's SQL dialect: grammar (``ksql.lark``), AST (``ast/``), and the parse entry points.

>>> [type(s).__name__ for s in parse_statements("SHOW STREAMS; DROP TABLE t;")]
['ListStreams', 'DropTable']
"""

from streamlab.ksql.parser.formatter import format_expression
from streamlab.ksql.parser.parser import (
    ParsedStatement,
    parse,
    parse_expression,
    parse_statement,
    parse_statements,
    parse_table_elements,
    parse_type,
)

__all__ = [
    "ParsedStatement",
    "format_expression",
    "parse",
    "parse_expression",
    "parse_statement",
    "parse_statements",
    "parse_table_elements",
    "parse_type",
]
