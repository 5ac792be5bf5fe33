"""moto in server mode, in-process: every AWS service other than Lambda.

moto's own server is a WSGI application (``DomainDispatcherApplication``) that picks the service
from the SigV4 credential scope, as AWS's front ends do. :class:`MotoBridge` calls it with a WSGI
environ built from the aiohttp request, on one dedicated thread, so moto's backends (which are not
thread-safe) see one call at a time; the Lambda side reaches the same backends through
:meth:`MotoBridge.call` on that thread (CloudWatch Logs, S3 code, Secrets Manager).
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

from aiohttp import web

from streamlab.awslambda import exceptions as exc
from streamlab.awslambda.utils import ACCOUNT_ID

log = logging.getLogger(__name__)

T = TypeVar("T")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}
WARM_SERVICES = ("secretsmanager", "logs", "iam", "sts", "s3")


class MotoBridge:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="moto")
        self._app: Any = None
        self._last: asyncio.Future[Any] | None = None

    async def start(self, warm: bool = True) -> None:
        self._app = await self.call(_make_app)
        if warm:  # import the common backends now, not on a learner's first call
            self.submit(_warm)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        fut = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        self._last = fut
        return fut

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.submit(fn, *args)

    async def barrier(self) -> None:
        """Wait until everything submitted so far has run (the thread runs in order)."""
        await self.call(lambda: None)

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        environ = _environ(request, body)
        status, headers, payload = await self.call(_run_wsgi, self._app, environ)
        resp_headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        if request.method == "HEAD":
            length = next((v for k, v in headers if k.lower() == "content-length"), None)
            resp = web.Response(status=status, headers=resp_headers)
            if length is not None:
                resp.headers["Content-Length"] = length
            return resp
        return web.Response(status=status, body=payload, headers=resp_headers)

    # --- direct backend access for the Lambda side ---------------------------------------------

    async def s3_get(self, bucket: str, key: str, version: str | None) -> bytes:
        return await self.call(_s3_get, bucket, key, version)

    async def secret_string(self, region: str, secret_id: str) -> str:
        return await self.call(_secret_string, region, secret_id)

    async def reset(self) -> None:
        def _reset() -> None:
            from moto.moto_api._internal.models import moto_api_backend

            moto_api_backend.reset()

        await self.call(_reset)


def _make_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def _warm() -> None:
    from moto.backends import get_backend

    for name in WARM_SERVICES:
        try:
            get_backend(name)  # type: ignore[arg-type]
        except Exception:  # warming is best effort
            log.debug("could not warm moto backend %s", name, exc_info=True)


def _environ(request: web.Request, body: bytes) -> dict[str, Any]:
    raw_path = request.rel_url.raw_path
    host = request.headers.get("Host", "127.0.0.1")
    server_name, _, server_port = host.partition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": request.rel_url.raw_query_string,
        "RAW_URI": request.rel_url.raw_path_qs,
        "REQUEST_URI": request.rel_url.raw_path_qs,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port or "80",
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "REMOTE_ADDR": request.remote or "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key == "CONTENT_LENGTH":
            continue
        else:
            http_key = "HTTP_" + key
            environ[http_key] = f"{environ[http_key]},{value}" if http_key in environ else value
    return environ


def _run_wsgi(app: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        payload = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], payload


def _s3_get(bucket: str, key: str, version: str | None) -> bytes:
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT_ID]["aws"]
    try:
        obj = backend.get_object(bucket, key, version_id=version)
    except Exception as e:
        code = getattr(e, "code", None) or type(e).__name__
        code = {"MissingBucket": "NoSuchBucket", "MissingKey": "NoSuchKey"}.get(code, code)
        message = getattr(e, "message", None) or str(e)
        raise exc.InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
        ) from None
    if obj is None:
        raise exc.InvalidParameterValueException(
            "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The "
            "specified key does not exist."
        )
    return bytes(obj.value)


def _secret_string(region: str, secret_id: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    value = secretsmanager_backends[ACCOUNT_ID][region].get_secret_value(secret_id, None, None)
    return value.get("SecretString") or ""
