"""Parsing SQL text: a script into statements, and single expressions or types.

ksqlDB parses in two steps and so do we: :func:`parse` checks the syntax of the whole script
and splits it into :class:`ParsedStatement` objects (each with its text); ``prepare()`` then
builds one statement's AST. A syntax error anywhere fails the whole script before anything
runs; an AST error (an out-of-range literal, say) only fails its own statement.

Syntax errors are :class:`~streamlab.ksql.errors.ParseFailedException` with ksqlDB's wording::

    line 1:33: Syntax Error
    Expecting {'STRING', INTEGER_VALUE}

and the offending ``line``, ``column``, ``token`` and ``expected`` tokens as attributes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from streamlab.ksql.errors import KsqlError, ParseFailedException, ParsingError, SyntaxError_
from streamlab.ksql.parser.ast import expressions as ex
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.parser.builder import AstBuilder
from streamlab.ksql.parser.keywords import COMMANDS, TOKEN_ORDER, is_reserved
from streamlab.ksql.types import SqlType

_GRAMMAR = Path(__file__).with_name("ksql.lark")

# lark terminal name -> how ksqlDB (ANTLR) names the token in "Expecting {...}".
_DISPLAY = {
    "SEMICOLON": "';'",
    "COMMA": "','",
    "LPAR": "'('",
    "RPAR": "')'",
    "DOT": "'.'",
    "LSQB": "'['",
    "RSQB": "']'",
    "STRING_TYPE": "'STRING'",
    "EQ": "'='",
    "NEQ": "NEQ",
    "LT": "'<'",
    "LTE": "'<='",
    "GT": "'>'",
    "GTE": "'>='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "PERCENT": "'%'",
    "CONCAT_OP": "'||'",
    "ASSIGN": "':='",
    "ARROW": "'->'",
    "LAMBDA_ARROW": "'=>'",
    "$END": "<EOF>",
}

# Optional trailers ANTLR has already stepped over when it reports what it expected.
_OPTIONAL_TRAILERS = {"'PRIMARY'", "'KEY'", "'HEADERS'", "'HEADER'"}
_CLOSERS = {"','", "')'", "';'"}


_STARTS = ["start", "expression", "type", "table_elements"]


@functools.cache
def _parser() -> Lark:
    return Lark(
        _GRAMMAR.read_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        start=_STARTS,
        # The LALR tables take seconds to build; lark keeps them in a temp file keyed by the
        # grammar's hash, so a restarted engine starts in a fraction of that.
        cache=True,
    )


def _parse_tree(text: str, start: str) -> Tree:
    try:
        return _parser().parse(text, start=start)
    except UnexpectedInput as error:
        raise _syntax_error(error, text) from None


def _build(tree: Tree, sql: str, statement_text: str):
    try:
        return AstBuilder(sql).transform(tree)
    except VisitError as error:
        cause = error.orig_exc
        if isinstance(cause, KsqlError):
            raise_from_builder(cause, statement_text)
        raise


@dataclass
class ParsedStatement:
    """One statement of a script: its text and syntax tree, ready to be prepared."""

    text: str
    tree: Tree
    sql: str

    def prepare(self) -> st.Statement:
        """Build the statement's AST (ksqlDB's ``prepare``)."""
        node = _build(self.tree, self.sql, self.text)
        object.__setattr__(node, "text", self.text)
        return node


def raise_from_builder(cause: KsqlError, text: str) -> None:
    if isinstance(cause, ParseFailedException):
        raise cause
    if isinstance(cause, ParsingError):
        raise ParseFailedException(
            f"Failed to prepare statement: line {cause.line}:{cause.column}: "
            f"Syntax error at line {cause.line}:{cause.column}",
            statement=text,
            unlogged_details=f"Failed to prepare statement: {cause.message}",
        ) from cause
    raise ParseFailedException(
        f"Failed to prepare statement: {cause.message}", statement=text
    ) from cause


def parse(sql: str) -> list[ParsedStatement]:
    """Check the syntax of a script and split it into statements."""
    tree = _parse_tree(sql, "start")
    statements = []
    pending: Tree | None = None
    for child in tree.children[0].children:
        if isinstance(child, Token):  # ';'
            if pending is not None:
                statements.append(
                    ParsedStatement(sql[pending.meta.start_pos : child.end_pos], pending, sql)
                )
                pending = None
        else:
            pending = child
    if pending is not None:
        statements.append(ParsedStatement(sql[pending.meta.start_pos :].rstrip(), pending, sql))
    return statements


def parse_statements(sql: str) -> list[st.Statement]:
    """Parse and prepare every statement of a script."""
    return [parsed.prepare() for parsed in parse(sql)]


def parse_statement(sql: str) -> st.Statement:
    """Parse and prepare exactly one statement."""
    statements = parse_statements(sql)
    if len(statements) != 1:
        raise ParseFailedException(
            f"Expected exactly one statement, got {len(statements)}", statement=sql
        )
    return statements[0]


def parse_expression(text: str) -> ex.Expression:
    """Parse a single SQL expression (``a + 1``) into its AST."""
    return _build(_parse_tree(text, "expression"), text, text)


def parse_type(text: str) -> SqlType:
    """Parse a SQL type (``ARRAY<STRING>``)."""
    return _build(_parse_tree(text, "type"), text, text)


def parse_table_elements(text: str) -> list[st.TableElement]:
    """Parse a column list as QTT writes schemas: ``ID INT KEY, NAME STRING``."""
    wrapped = f"({text})"
    return list(_build(_parse_tree(wrapped, "table_elements"), wrapped, text))


# ---- syntax errors ------------------------------------------------------------------------------


def _display(terminal: str) -> str:
    if terminal in _DISPLAY:
        return _DISPLAY[terminal]
    if terminal.isupper() and f"'{terminal}'" in TOKEN_ORDER:
        return f"'{terminal}'"
    return terminal


def _syntax_error(error: UnexpectedInput, sql: str) -> ParseFailedException:
    line = getattr(error, "line", None) or 1
    column = getattr(error, "column", None) or 1
    token_text: str
    expected: set[str]
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            token_text = "<EOF>"
            line, column = _end_position(sql)
        else:
            token_text = str(token)
        expected = set(error.expected)
        interactive = getattr(error, "interactive_parser", None)
        if interactive is not None:
            try:
                expected = set(interactive.accepts()) or expected
            except Exception:
                pass
    elif isinstance(error, UnexpectedCharacters):
        token_text = sql[error.pos_in_stream] if error.pos_in_stream < len(sql) else "<EOF>"
        expected = set(error.allowed or ())
    elif isinstance(error, UnexpectedEOF):
        token_text = "<EOF>"
        line, column = _end_position(sql)
        expected = set(error.expected)
    else:
        token_text, expected = "?", set()

    shown = {_display(t) for t in expected}
    if shown & _CLOSERS:
        shown -= _OPTIONAL_TRAILERS
    ordered = tuple(sorted(shown, key=lambda t: (TOKEN_ORDER.get(t, 10_000), t)))
    details = _details(token_text, ordered, line, column)
    message = f"line {line}:{column}: Syntax Error\n{details}"
    exception = ParseFailedException(message, statement=sql)
    exception.__cause__ = SyntaxError_(details, line, column, token_text, ordered)
    exception.line = line  # type: ignore[attr-defined]
    exception.column = column  # type: ignore[attr-defined]
    exception.token = token_text  # type: ignore[attr-defined]
    exception.expected = ordered  # type: ignore[attr-defined]
    return exception


def _details(token: str, expected: tuple[str, ...], line: int, column: int) -> str:
    if "'SELECT'" in expected and "'CREATE'" in expected and "'DROP'" in expected:
        return f"Unknown statement '{token}'\nDid you mean '{_most_similar(token)}'?"
    if token == "<EOF>":
        return "Syntax error at or near \";\"\n'}', ']', or ')' is missing"
    if is_reserved(token) and "IDENTIFIER" in expected:
        return (
            f'"{token}" is a reserved keyword and it can\'t be used as an identifier. '
            f"You can use it as an identifier by escaping it as '{token}' "
        )
    if 0 < len(expected) <= 3:
        return "Expecting {" + ", ".join(expected) + "}"
    return f"Syntax error at or near '{token}' at line {line}:{column}"


def _end_position(sql: str) -> tuple[int, int]:
    lines = sql.split("\n")
    return len(lines), len(lines[-1]) + 1


def _most_similar(word: str) -> str:
    def distance(a: str, b: str) -> int:
        previous = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            current = [i]
            for j, cb in enumerate(b, 1):
                current.append(
                    min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
                )
            previous = current
        return previous[-1]

    return min(COMMANDS, key=lambda c: distance(word.upper(), c))
