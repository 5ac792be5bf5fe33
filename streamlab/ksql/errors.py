"""Errors of the ksqlDB-compatible engine, shaped like ksqlDB's own.

ksqlDB reports failures through a small Java hierarchy that clients (and ksqlDB's own
query-validation tests) match on::

    KsqlException                 io.confluent.ksql.util.KsqlException
     └─ KsqlStatementException    io.confluent.ksql.util.KsqlStatementException
         └─ ParseFailedException  io.confluent.ksql.parser.exception.ParseFailedException

Each class here carries the Java class name it stands for (``java_class``) so a test can ask
"is this an instance of X?" the way ksqlDB's runner does (:meth:`KsqlError.is_instance_of`).

A :class:`KsqlStatementException` has two messages, as in ksqlDB: ``message`` (safe to log)
and ``unlogged_message`` (``message`` plus ``"\\nStatement: <sql>"``), which is what the REST
API returns and what QTT's message matcher also looks at.
"""

from __future__ import annotations


class KsqlError(Exception):
    """Base of every error raised by :mod:`streamlab.ksql`."""

    java_class = "java.lang.RuntimeException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def unlogged_message(self) -> str:
        return self.message

    @classmethod
    def java_classes(cls) -> list[str]:
        """The Java class names this error is an instance of, most specific first."""
        names = []
        for klass in cls.__mro__:
            name = klass.__dict__.get("java_class")
            if name and name not in names:
                names.append(name)
        return names

    def is_instance_of(self, java_class: str) -> bool:
        return java_class in self.java_classes() or java_class in (
            "java.lang.Exception",
            "java.lang.Throwable",
            "java.lang.RuntimeException",
        )

    def __str__(self) -> str:
        return self.message


class KsqlException(KsqlError):
    """A generic ksqlDB failure (``io.confluent.ksql.util.KsqlException``)."""

    java_class = "io.confluent.ksql.util.KsqlException"


class KsqlStatementException(KsqlException):
    """A statement could not be executed; carries the statement text."""

    java_class = "io.confluent.ksql.util.KsqlStatementException"

    def __init__(
        self, message: str, statement: str = "", unlogged_details: str | None = None
    ) -> None:
        super().__init__(message)
        self.statement = statement or ""
        self.raw_unlogged_details = unlogged_details if unlogged_details is not None else message

    @property
    def unlogged_message(self) -> str:
        return f"{self.raw_unlogged_details}\nStatement: {self.statement}"


class ParseFailedException(KsqlStatementException):
    """The SQL text could not be parsed (syntax error or invalid literal)."""

    java_class = "io.confluent.ksql.parser.exception.ParseFailedException"


class ParsingError(KsqlError):
    """A positioned parse problem, before it is wrapped into :class:`ParseFailedException`.

    ``line`` is 1-based; ``column`` is the 1-based column ksqlDB prints. ``message`` is the
    short text ksqlDB logs ("Syntax error at line 1:8"), ``details`` the full explanation.
    """

    def __init__(self, details: str, line: int, column: int) -> None:
        self.line = line
        self.column = column
        self.details = details
        super().__init__(f"line {line}:{column}: {details}")


class SyntaxError_(ParsingError):
    """A syntax error found by the grammar, with the offending token and what was expected."""

    def __init__(
        self,
        details: str,
        line: int,
        column: int,
        token: str | None = None,
        expected: tuple[str, ...] = (),
    ) -> None:
        super().__init__(details, line, column)
        self.token = token
        self.expected = expected


class InvalidColumnError(KsqlException):
    """A column reference could not be resolved."""

    java_class = "io.confluent.ksql.util.InvalidColumnException"


class KsqlFunctionException(KsqlException):
    """A function failed while evaluating one row (logged, the expression becomes NULL)."""

    java_class = "io.confluent.ksql.function.KsqlFunctionException"


class SerializationError(KsqlError):
    """A record could not be serialized or deserialized."""

    java_class = "org.apache.kafka.common.errors.SerializationException"


def location_prefix(line: int | None, column: int | None) -> str:
    """ksqlDB's ``NodeLocation.asPrefix``: ``"Line: 1, Col: 21: "`` (or empty)."""
    if line is None or column is None:
        return ""
    return f"Line: {line}, Col: {column}: "
