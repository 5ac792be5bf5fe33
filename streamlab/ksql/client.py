"""A small client for ksqlDB's REST API; works against this engine and a real ksqlDB server.

Only public REST shapes are used: ``POST /ksql`` for statements, ``POST /query-stream`` (HTTP/1.1,
``application/vnd.ksqlapi.delimited.v1``) for queries, ``POST /close-query``, ``GET /info``::

    client = KsqlClient("http://127.0.0.1:8088")
    client.execute("CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s', "
                   "VALUE_FORMAT='JSON', PARTITIONS=1);")
    for row in client.query("SELECT * FROM S EMIT CHANGES;", limit=3,
                            properties={"auto.offset.reset": "earliest"}):
        print(row)  # {"ID": 1, "V": "a"}
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

DELIMITED = "application/vnd.ksqlapi.delimited.v1"
V1 = "application/vnd.ksql.v1+json"


class KsqlError(Exception):
    """An error answer: ``error_code`` (ksqlDB's, e.g. 40001) and the server's message."""

    def __init__(self, message: str, error_code: int = 0, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.body = body

    def __str__(self) -> str:
        return f"{self.message} (error {self.error_code})" if self.error_code else self.message


def _error_from(status: int, payload: bytes) -> KsqlError:
    try:
        body = json.loads(payload)
    except ValueError:
        return KsqlError(f"HTTP {status}: {payload[:500].decode(errors='replace')}", status * 100)
    if isinstance(body, dict):
        return KsqlError(str(body.get("message", body)), int(body.get("error_code", 0)), body)
    return KsqlError(f"HTTP {status}: {body}", status * 100, body)


class QueryStream:
    """A running query: iterate for rows (lists); ``columns``, ``types``, ``query_id``."""

    def __init__(self, connection: http.client.HTTPConnection, response, client: KsqlClient):
        self._connection = connection
        self._response = response
        self._client = client
        meta = self._next_object()
        if not isinstance(meta, dict) or "columnNames" not in meta:
            self.close()
            raise KsqlError(f"unexpected query header: {meta!r}")
        self.query_id: str | None = meta.get("queryId")
        self.columns: list[str] = list(meta["columnNames"])
        self.types: list[str] = list(meta.get("columnTypes") or [])
        self.closed = False

    def _next_object(self) -> Any:
        while True:
            line = self._response.readline()
            if not line:
                return None
            line = line.strip()
            if line:
                return json.loads(line)

    def __iter__(self) -> Iterator[list[Any]]:
        try:
            while not self.closed:
                try:
                    item = self._next_object()
                except TimeoutError:
                    return  # idle longer than the client's timeout
                if item is None:
                    self.query_id = None  # ended by the server: nothing to close
                    return
                if isinstance(item, dict):
                    raise KsqlError(
                        str(item.get("message", item)), int(item.get("error_code", 0)), item
                    )
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the query (``/close-query`` for push queries) and drop the connection."""
        if getattr(self, "closed", False):
            return
        self.closed = True
        query_id = getattr(self, "query_id", None)
        self._connection.close()
        if query_id:
            try:
                self._client.close_query(query_id)
            except (KsqlError, OSError):
                pass  # already finished


class KsqlClient:
    def __init__(
        self, url: str | None = None, timeout: float = 30.0, auth: tuple[str, str] | None = None
    ) -> None:
        """``url`` defaults to the lab's (``streamlab.config.ksql_url()``); ``auth`` (HTTP Basic:
        a ksqlDB API key and secret) to the profile's key when talking to the profile's server."""
        try:
            from streamlab.config import ksql_credentials, ksql_url

            configured: str | None = ksql_url()
        except Exception:
            configured = None
        url = url or configured or "http://127.0.0.1:8088"
        if auth is None and configured and url.rstrip("/") == configured.rstrip("/"):
            try:
                auth = ksql_credentials()
            except Exception:
                auth = None  # a half-set key: the server's 401 then says what is missing
        self._auth = {}
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._auth = {"Authorization": f"Basic {token}"}
        parsed = urllib.parse.urlsplit(url if "//" in url else f"http://{url}")
        self.url = url.rstrip("/")
        self.https = parsed.scheme == "https"
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (443 if self.https else 8088)
        self.timeout = timeout

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=timeout)

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        connection = self._connection(self.timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Accept": V1, "Content-Type": V1} if data else {"Accept": V1}
            headers.update(self._auth)
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if response.status >= 400:
                raise _error_from(response.status, payload)
            return json.loads(payload) if payload.strip() else None
        finally:
            connection.close()

    # ---- statements -----------------------------------------------------------------------------

    def execute(self, sql: str, properties: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run statements through ``/ksql``; one entity per statement that returns one."""
        sql = sql.strip()
        if not sql.endswith(";"):
            sql += ";"
        entities = self._request(
            "POST", "/ksql", {"ksql": sql, "streamsProperties": properties or {}}
        )
        for entity in entities or []:
            status = entity.get("commandStatus") or {}
            if status.get("status") == "ERROR":
                raise KsqlError(status.get("message", "command failed"), 50000, entity)
        return entities or []

    def info(self) -> dict[str, Any]:
        return self._request("GET", "/info")["KsqlServerInfo"]

    def healthcheck(self) -> dict[str, Any]:
        return self._request("GET", "/healthcheck")

    def close_query(self, query_id: str) -> None:
        self._request("POST", "/close-query", {"queryId": query_id})

    def insert(self, target: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert rows through ``/inserts-stream`` (HTTP/1.1); one ack per row, errors raised."""
        lines = [json.dumps({"target": target}), *(json.dumps(r) for r in rows)]
        connection = self._connection(self.timeout)
        try:
            connection.request(
                "POST",
                "/inserts-stream",
                body="\n".join(lines).encode(),
                headers={"Content-Type": DELIMITED, "Accept": DELIMITED, **self._auth},
            )
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if response.status >= 400:
            raise _error_from(response.status, payload)
        acks = [json.loads(line) for line in payload.splitlines() if line.strip()]
        for ack in acks:
            if ack.get("status") != "ok":
                message = f"row {ack.get('seq')}: {ack.get('message')}"
                raise KsqlError(message, int(ack.get("error_code", 0)), ack)
        return acks

    # ---- queries --------------------------------------------------------------------------------

    def stream(
        self,
        sql: str,
        properties: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> QueryStream:
        """Start a push or pull query; ``timeout`` ends iteration after that long idle."""
        sql = sql.strip()
        if not sql.endswith(";"):
            sql += ";"
        connection = self._connection(timeout)
        body = json.dumps({"sql": sql, "properties": properties or {}}).encode()
        connection.request(
            "POST",
            "/query-stream",
            body=body,
            headers={"Accept": DELIMITED, "Content-Type": "application/json", **self._auth},
        )
        response = connection.getresponse()
        if response.status >= 400:
            payload = response.read()
            connection.close()
            raise _error_from(response.status, payload)
        return QueryStream(connection, response, self)

    def query(
        self,
        sql: str,
        limit: int | None = None,
        properties: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Rows as ``{column: value}``; stops after ``limit`` rows or ``timeout`` idle."""
        stream = self.stream(sql, properties, timeout)
        count = 0
        try:
            for row in stream:
                yield dict(zip(stream.columns, row, strict=False))
                count += 1
                if limit is not None and count >= limit:
                    return
        finally:
            stream.close()
