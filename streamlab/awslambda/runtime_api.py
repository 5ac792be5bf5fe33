"""The Lambda Runtime API, as AWS documents it, served to each execution environment.

On AWS every environment has its own Runtime API at ``127.0.0.1:9001``; here every environment
gets its own listener on a free port of 127.0.0.1 (``AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>``), all
served by one aiohttp runner. The listener's port tells which environment is calling.

Base path ``/2018-06-01``:

====================================================  =========================================
``GET  /runtime/invocation/next``                     long poll for the next event: 200, body =
                                                      event, ``Lambda-Runtime-*`` headers
``POST /runtime/invocation/{AwsRequestId}/response``  the result: 202 ``{"status":"OK"}``; 400
                                                      ``InvalidRequestID``; 413 over 6 MB
``POST /runtime/invocation/{AwsRequestId}/error``     an invocation error: 202; 400
``POST /runtime/init/error``                          an init error: 202; 403 after init
====================================================  =========================================

A call in the wrong state gets 403 ``InvalidStateTransition`` with RAPID's wording; the shapes
come from AWS's Runtime Interface Emulator (``internal/lambda/rapi``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

log = logging.getLogger(__name__)

PREFIX = "/2018-06-01/runtime"
MAX_RESPONSE = 6 * 1024 * 1024 + 100  # RAPID's interop.MaxPayloadSize: 6291556 bytes
READ_LIMIT = 64 * 1024 * 1024  # bodies up to this are read (and judged); above, aiohttp says 413


class RuntimeAPIError(Exception):
    """An error answer to the runtime: ``{"errorMessage": ..., "errorType": ...}``."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def invalid_state(current: str, target: str, reason: str = "State transition is not allowed"):
    return RuntimeAPIError(
        403,
        "InvalidStateTransition",
        f"State transition from {current} to {target} failed for runtime. Error: {reason}",
    )


def invalid_request_id() -> RuntimeAPIError:
    return RuntimeAPIError(400, "InvalidRequestID", "Invalid request ID")


@dataclass
class Event:
    """What ``/next`` hands the runtime."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None
    content_type: str = "application/json"

    def headers(self) -> dict[str, str]:
        h = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.invoked_function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
            "Content-Type": self.content_type,
        }
        if self.client_context:
            h["Lambda-Runtime-Client-Context"] = self.client_context
        if self.cognito_identity:
            h["Lambda-Runtime-Cognito-Identity"] = self.cognito_identity
        return h


class RuntimeClientSide(Protocol):
    """What an execution environment implements for its runtime's calls."""

    async def next_event(self) -> Event: ...

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None: ...

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def post_init_error(self, body: bytes, error_type: str | None) -> None: ...


class RuntimeAPIServer:
    """One aiohttp runner; one TCP listener per environment."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._by_port: dict[int, RuntimeClientSide] = {}
        self._sites: dict[int, web.TCPSite] = {}
        app = web.Application(client_max_size=READ_LIMIT)
        app.router.add_get(PREFIX + "/invocation/next", self._next)
        app.router.add_post(PREFIX + "/invocation/{request_id}/response", self._response)
        app.router.add_post(PREFIX + "/invocation/{request_id}/error", self._error)
        app.router.add_post(PREFIX + "/init/error", self._init_error)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)

    async def start(self) -> None:
        await self._runner.setup()

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def listen(self, env: RuntimeClientSide) -> int:
        """Open a listener for ``env``; returns its port."""
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._by_port[port] = env
        self._sites[port] = site
        return port

    async def release(self, port: int) -> None:
        self._by_port.pop(port, None)
        site = self._sites.pop(port, None)
        if site is not None:
            await site.stop()

    # --- handlers ---------------------------------------------------------------------------

    def _env(self, request: web.Request) -> RuntimeClientSide:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        env = self._by_port.get(sock[1]) if sock else None
        if env is None:
            raise web.HTTPGone(text="environment is gone")
        return env

    async def _next(self, request: web.Request) -> web.StreamResponse:
        env = self._env(request)
        try:
            event = await env.next_event()
        except RuntimeAPIError as e:
            return _error_response(e)
        return web.Response(status=200, body=event.payload, headers=event.headers())

    async def _response(self, request: web.Request) -> web.StreamResponse:
        env = self._env(request)
        body = await request.read()
        try:
            env.post_response(
                request.match_info["request_id"],
                body,
                request.headers.get("Content-Type", "application/json"),
            )
        except RuntimeAPIError as e:
            return _error_response(e)
        return _accepted()

    async def _error(self, request: web.Request) -> web.StreamResponse:
        env = self._env(request)
        body = await request.read()
        try:
            env.post_error(
                request.match_info["request_id"],
                body,
                request.headers.get("Lambda-Runtime-Function-Error-Type"),
            )
        except RuntimeAPIError as e:
            return _error_response(e)
        return _accepted()

    async def _init_error(self, request: web.Request) -> web.StreamResponse:
        env = self._env(request)
        body = await request.read()
        try:
            env.post_init_error(body, request.headers.get("Lambda-Runtime-Function-Error-Type"))
        except RuntimeAPIError as e:
            return _error_response(e)
        return _accepted()


def _accepted() -> web.Response:
    return web.json_response({"status": "OK"}, status=202)


def _error_response(e: RuntimeAPIError) -> web.Response:
    return web.Response(
        status=e.status,
        text=json.dumps({"errorMessage": e.message, "errorType": e.error_type}),
        content_type="application/json",
    )
