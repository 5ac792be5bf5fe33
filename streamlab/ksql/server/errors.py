"""ksqlDB's REST error bodies (``KsqlErrorMessage`` / ``KsqlStatementErrorMessage``).

``error_code`` is the HTTP status * 100 + n, as in ksqlDB's ``Errors``.
"""

from __future__ import annotations

from typing import Any

from streamlab.ksql.errors import KsqlError, KsqlStatementException

BAD_REQUEST = 40000
BAD_STATEMENT = 40001
QUERY_ENDPOINT = 40002
NOT_FOUND = 40400
SERVER_ERROR = 50000

QUERY_ENDPOINT_MESSAGE = (
    "The following statement types should be issued to the websocket endpoint '/query':"
    "\n\t* PRINT\n\t* SELECT"
)


def generic_error(code: int, message: str) -> dict[str, Any]:
    return {"@type": "generic_error", "error_code": code, "message": message}


def statement_error(
    code: int, message: str, statement: str, entities: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "@type": "statement_error",
        "error_code": code,
        "message": message,
        "statementText": statement,
        "entities": entities or [],
    }


def from_exception(
    error: Exception, statement: str = "", entities: list[dict[str, Any]] | None = None
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for a failed statement."""
    if isinstance(error, KsqlStatementException):
        message = error.unlogged_message
        code = QUERY_ENDPOINT if error.message == QUERY_ENDPOINT_MESSAGE else BAD_STATEMENT
        return 400, statement_error(code, message, error.statement or statement, entities)
    if isinstance(error, KsqlError):
        return 400, statement_error(BAD_STATEMENT, error.message, statement, entities)
    return 500, generic_error(SERVER_ERROR, f"{type(error).__name__}: {error}")
