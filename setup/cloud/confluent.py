"""A small client for the Confluent Cloud REST API and the clusters' data-plane endpoints.

Management calls (``https://api.confluent.cloud``: org, cmk, srcm, iam, ksqldbcm, connect) use
the Cloud API key with HTTP Basic auth. Data-plane calls (a cluster's Kafka REST endpoint, the
Schema Registry, ksqlDB) take a resource-scoped key: pass an absolute URL and ``auth``.

Every call may answer 429: the client waits (``Retry-After`` or exponential back-off) and
retries. Errors come in Confluent's envelope ``{"errors": [{"status", "code", "detail"}]}``;
the exceptions carry its detail, never the request (which may hold secrets).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from setup.cloud.settings import API_URL
from streamlab.config import StreamlabError

Auth = tuple[str, str]


class CloudError(StreamlabError):
    """A Confluent Cloud call failed; the message says which and why."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class NotFound(CloudError):
    pass


class AuthError(CloudError):
    pass


class QuotaError(CloudError):
    pass


def _detail(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300]
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        return str(first.get("code", "")), str(first.get("detail") or first.get("title") or "")
    if isinstance(body, dict):  # ksqlDB's and Schema Registry's own shape
        return str(body.get("error_code", "")), str(body.get("message", ""))
    return "", str(body)[:300]


class ConfluentCloud:
    """``request()`` with retries on 429 and typed errors; ``list()`` follows pages."""

    def __init__(
        self,
        key: str,
        secret: str,
        base_url: str = API_URL,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 6,
        timeout: float = 30.0,
    ) -> None:
        self._auth = (key, secret)
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.sleep = sleep
        self.max_retries = max_retries
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: Auth | None = None,
        headers: dict[str, str] | None = None,
        what: str = "",
    ) -> Any:
        """The decoded JSON answer (None for an empty one). ``what`` names the call in errors."""
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        what = what or f"{method} {path.split('?')[0]}"
        for attempt in range(self.max_retries + 1):
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    auth=auth or self._auth,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as e:
                raise CloudError(
                    f"{what}: cannot reach {url.split('?')[0]}: {type(e).__name__}"
                ) from None
            if response.status_code != 429:
                break
            if attempt == self.max_retries:
                code, detail = _detail(response)
                raise QuotaError(
                    f"{what}: quota reached (429) after {attempt + 1} tries: {detail or code}",
                    429,
                    code,
                )
            self.sleep(_retry_after(response, attempt))
        status = response.status_code
        if status < 400:
            if not response.content.strip():
                return None
            try:
                return response.json()
            except ValueError:
                return None
        code, detail = _detail(response)
        text = (
            f"{what}: HTTP {status}"
            + (f" {code}" if code else "")
            + (f": {detail}" if detail else "")
        )
        if status == 404:
            raise NotFound(text, status, code)
        if status in (401, 403):
            raise AuthError(text, status, code)
        raise CloudError(text, status, code)

    def list(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> list[dict]:
        """Every item of a paginated list (``data``; the next page is ``metadata.next``)."""
        items: list[dict] = []
        url: str | None = path
        query = {"page_size": 100, **(params or {})}
        while url:
            page = self.request("GET", url, params=query, what=what) or {}
            items.extend(page.get("data") or [])
            url = (page.get("metadata") or {}).get("next") or None
            query = None  # the next link carries its own query
        return items


def _retry_after(response: requests.Response, attempt: int) -> float:
    try:
        return min(float(response.headers.get("Retry-After", "")), 60.0)
    except ValueError:
        return min(2.0**attempt, 60.0)
