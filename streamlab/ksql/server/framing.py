"""How query results are framed on the wire, per response content type (research §4.2-4.3).

* ``v1``: ksqlDB's legacy ``StreamedRow`` array, one element per line ending ``,\\n``; a push
  query ends with ``{"finalMessage":…}]``, a pull query's last element closes the array.
* ``delimited`` (``application/vnd.ksqlapi.delimited.v1``): the metadata object on its own line,
  then one JSON array per row; tombstones are dropped.
* ``json``: the same as one JSON array.
"""

from __future__ import annotations

import json
from typing import Any

from streamlab.ksql.formats.json import to_json_text

V1 = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"
JSON = "application/json"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def columns_json(values: list[Any]) -> str:
    try:
        return "[" + ",".join(to_json_text(v) for v in values) + "]"
    except Exception:
        return dumps(values)


class Framer:
    """Turns a query's header, rows and end into response text."""

    def __init__(self, kind: str, push: bool) -> None:
        self.kind = kind
        # v1 push elements end with ",\n" (the final message closes the array); pull queries
        # have none, so there each element is prefixed by the separator instead.
        self.suffix = ",\n" if kind == V1 and push else ""
        self.prefix = ",\n" if kind == V1 and not push else ""

    def header(self, query_id: str, schema: str, names: list[str], types: list[str]) -> str:
        if self.kind == V1:
            header = dumps({"header": {"queryId": query_id, "schema": schema}})
            return "[" + header + self.suffix
        meta = dumps({"queryId": query_id, "columnNames": names, "columnTypes": types})
        return "[" + meta if self.kind == JSON else meta + "\n"

    def row(self, values: list[Any], tombstone: bool = False) -> str:
        if self.kind == DELIMITED:
            return "" if tombstone else columns_json(values) + "\n"
        if self.kind == JSON:
            return "" if tombstone else "," + columns_json(values)
        extra = ',"tombstone":true' if tombstone else ""
        row = '{"row":{"columns":' + columns_json(values) + extra + "}}"
        return self.prefix + row + self.suffix

    def end(self, final_message: str | None) -> str:
        if self.kind == DELIMITED:
            return ""
        if self.kind == JSON:
            return "]"
        if not self.suffix:
            return "]\n"
        return dumps({"finalMessage": final_message or "Query Completed"}) + "]\n"

    def error(self, body: dict[str, Any]) -> str:
        if self.kind == DELIMITED:
            return dumps(body) + "\n"
        if self.kind == JSON:
            return "," + dumps(body) + "]"
        return self.prefix + dumps({"errorMessage": body}) + "]\n"


def choose(accept: str, default: str) -> str:
    """The response format for an Accept header (weighted lists allowed)."""
    accept = accept or ""
    for kind in (DELIMITED, V1, JSON):
        if kind in accept:
            return kind
    return default
