"""``%%ksql``: run ksqlDB statements and queries from a notebook cell.

    %load_ext streamlab.ksql.magic
    %ksql_url http://127.0.0.1:8088          # optional; default: streamlab.config.ksql_url()

    %%ksql --limit 5 --earliest
    SELECT * FROM RIDES EMIT CHANGES;

A cell starting with SELECT is a query (push queries stop after ``--limit`` rows, default 20, or
``--timeout`` idle seconds, default 10); anything else goes to ``/ksql``. Results show as a
table (pandas when installed, plain HTML otherwise); errors as one short message.
"""

from __future__ import annotations

import argparse
import html
import re
import shlex
from typing import Any

from streamlab.ksql.client import KsqlClient, KsqlError

_state: dict[str, str] = {}


def default_url() -> str:
    if "url" in _state:
        return _state["url"]
    try:
        from streamlab.config import ksql_url

        return ksql_url()
    except Exception:
        return "http://127.0.0.1:8088"


def _arguments(line: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="%%ksql", add_help=False)
    parser.add_argument("--url", default=None)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--earliest", action="store_true")
    return parser.parse_args(shlex.split(line))


class Table:
    """Rows for display: ``_repr_html_`` for notebooks, text for terminals."""

    def __init__(self, columns: list[str], rows: list[list[Any]], title: str = "") -> None:
        self.columns = columns
        self.rows = rows
        self.title = title

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        title = f"<p>{html.escape(self.title)}</p>" if self.title else ""
        return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        lines = [" | ".join(self.columns)] + [" | ".join(_text(v) for v in r) for r in self.rows]
        return "\n".join(([self.title] if self.title else []) + lines)


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def as_table(columns: list[str], rows: list[list[Any]], title: str = "") -> Any:
    try:
        import pandas

        return pandas.DataFrame(rows, columns=columns)
    except ImportError:
        return Table(columns, rows, title)


_LISTS = {"streams": "streams", "tables": "tables", "queries": "queries",
          "kafka_topics": "topics", "properties": "properties"}  # fmt: skip


def entity_view(entity: dict[str, Any]) -> Any:
    """One /ksql entity as something a notebook displays."""
    kind = entity.get("@type")
    if kind == "currentStatus":
        status = entity.get("commandStatus") or {}
        return Table(["status", "message"], [[status.get("status"), status.get("message")]])
    if kind in _LISTS:
        items = entity.get(_LISTS[kind]) or []
        columns = list(dict.fromkeys(k for item in items for k in item))
        return as_table(columns, [[item.get(c) for c in columns] for item in items], kind)
    if kind == "sourceDescription":
        description = entity["sourceDescription"]
        rows = [
            [f["name"], f["schema"]["type"] + (" KEY" if f.get("type") == "KEY" else "")]
            for f in description.get("fields", [])
        ]
        title = (
            f"{description.get('type')} {description.get('name')} (topic "
            f"{description.get('topic')}, key {description.get('keyFormat')}, value "
            f"{description.get('valueFormat')})"
        )
        return as_table(["Field", "Type"], rows, title)
    return Table(["entity"], [[entity]])


_SELECT = re.compile(r"(?is)^\s*(--[^\n]*\n\s*)*select\b")
_SET = re.compile(r"(?is)^\s*set\s+'([^']+)'\s*=\s*'([^']*)'\s*;?\s*$")
_UNSET = re.compile(r"(?is)^\s*unset\s+'([^']+)'\s*;?\s*$")


def split_statements(sql: str) -> list[str]:
    """Statements of a cell (with this engine's parser); the whole cell if it cannot parse,
    so that syntax only a newer ksqlDB knows still reaches the server."""
    try:
        from streamlab.ksql.parser import parse

        return [p.text for p in parse(sql)] or [sql]
    except Exception:
        return [sql]


def run_cell(line: str, cell: str) -> list[Any]:
    """What the magic displays for a cell (usable without IPython, e.g. in tests).

    Like ksqlDB's CLI, ``SET``/``UNSET`` change the properties sent with the following
    statements and queries of the cell.
    """
    args = _arguments(line)
    client = KsqlClient(args.url or default_url())
    properties: dict[str, Any] = {"auto.offset.reset": "earliest"} if args.earliest else {}
    out: list[Any] = []
    try:
        for sql in split_statements(cell.strip()):
            if match := _SET.match(sql):
                properties[match.group(1)] = match.group(2)
            elif match := _UNSET.match(sql):
                properties.pop(match.group(1), None)
            elif _SELECT.match(sql):
                out.append(_query(client, sql, properties, args))
            else:
                out += [entity_view(e) for e in client.execute(sql, properties)]
        return out or [Table(["status"], [["Done"]])]
    except KsqlError as error:
        return [*out, KsqlErrorView(error)]
    except OSError as error:
        return [*out, KsqlErrorView(KsqlError(f"Cannot reach ksqlDB at {client.url}: {error}"))]


def _query(client: KsqlClient, sql: str, properties: dict[str, Any], args) -> Any:
    stream = client.stream(sql, properties, timeout=args.timeout)
    rows = []
    try:
        for row in stream:
            rows.append(row)
            if len(rows) >= args.limit:
                break
    finally:
        stream.close()
    return as_table(stream.columns, rows)


class KsqlErrorView:
    def __init__(self, error: KsqlError) -> None:
        self.error = error

    def _repr_html_(self) -> str:
        return f'<pre style="color:#b00">{html.escape(repr(self))}</pre>'

    def __repr__(self) -> str:
        code = f" {self.error.error_code}" if self.error.error_code else ""
        return f"ksqlDB error{code}: {self.error.message}"


def load_ipython_extension(ipython) -> None:
    from IPython.display import display

    def ksql(line: str, cell: str) -> None:
        for item in run_cell(line, cell):
            display(item)

    def ksql_url(line: str) -> str:
        if line.strip():
            _state["url"] = line.strip()
        return default_url()

    ipython.register_magic_function(ksql, "cell", "ksql")
    ipython.register_magic_function(ksql_url, "line", "ksql_url")
