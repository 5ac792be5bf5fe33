"""``POST /ksql`` with HTTP Basic auth: the ``execute()`` that ``streamlab.pipeline.apply`` needs,
for Confluent Cloud's ksqlDB (a ksqlDB API key) and any server that wants a password."""

from __future__ import annotations

from typing import Any

import requests

from streamlab.ksql.client import V1, KsqlError


class AuthKsqlClient:
    def __init__(
        self,
        url: str,
        auth: tuple[str, str] | None,
        session: requests.Session | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.auth = auth
        self.session = session or requests.Session()
        self.timeout = timeout

    def execute(self, sql: str, properties: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        sql = sql.strip()
        if not sql.endswith(";"):
            sql += ";"
        try:
            response = self.session.post(
                f"{self.url}/ksql",
                json={"ksql": sql, "streamsProperties": properties or {}},
                headers={"Accept": V1, "Content-Type": V1},
                auth=self.auth,
                timeout=self.timeout,
            )
        except requests.RequestException as e:
            raise KsqlError(f"cannot reach ksqlDB at {self.url}: {type(e).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            if isinstance(body, dict):
                raise KsqlError(
                    str(body.get("message", body)), int(body.get("error_code", 0) or 0), body
                )
            raise KsqlError(f"HTTP {response.status_code}", response.status_code * 100)
        for entity in body or []:
            status = entity.get("commandStatus") or {}
            if status.get("status") == "ERROR":
                raise KsqlError(status.get("message", "command failed"), 50000, entity)
        return body or []
