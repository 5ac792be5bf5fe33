"""The single local AWS endpoint (``http://127.0.0.1:4566``).

Requests are routed by the service name in the SigV4 credential scope of their ``Authorization``
header (``Credential=AKID/20240101/us-east-1/lambda/aws4_request``), as AWS's front ends route
them: ``lambda`` goes to :mod:`streamlab.awslambda.responses`, everything else (Secrets Manager,
IAM, CloudWatch Logs, STS, S3...) to moto in-process (:mod:`streamlab.awslambda.motobridge`). So
``boto3.client("lambda")`` and ``boto3.client("secretsmanager")`` with the same ``endpoint_url``
(or ``AWS_ENDPOINT_URL``) both work, inside functions too.

Paths under ``/_streamlab/`` are the lab's own observability API (JSON):

* ``GET  /_streamlab/health``
* ``GET  /_streamlab/lambda/environments``   every execution environment and its state
* ``GET  /_streamlab/lambda/metrics``        per-function counters and concurrency over time
* ``GET  /_streamlab/lambda/mappings``       event source mappings and their pollers
* ``POST /_streamlab/lambda/mappings/<uuid>/time-scale?scale=60``  run its scaler faster
* ``GET  /_streamlab/lambda/code/<region>/<function>.zip``  (GetFunction's Code.Location)
* ``GET  /_streamlab/lambda/layers/<region>/<layer>/<version>.zip``  (a layer's Content.Location)
* ``POST /_streamlab/reset``                 delete every function, mapping, layer and moto
  resource
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import os
import re
from typing import Any

from aiohttp import web

from streamlab.awslambda import exceptions as exc
from streamlab.awslambda import urls
from streamlab.awslambda.environments import (
    INIT_TIMEOUT,
    ConcurrencyLimiter,
    HostSettings,
)
from streamlab.awslambda.models import BackendSettings, LambdaBackend, RunnerFactory
from streamlab.awslambda.motobridge import MotoBridge
from streamlab.awslambda.responses import LambdaResponses
from streamlab.awslambda.runtime_api import RuntimeAPIServer
from streamlab.awslambda.utils import ACCOUNT_ID, DEFAULT_REGION

log = logging.getLogger(__name__)

MAX_REQUEST = 100 * 1024 * 1024  # a 50 MB zip, base64 in JSON, fits
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


def credential_scope(headers: Any) -> tuple[str | None, str | None]:
    """(service, region) from a SigV4 Authorization header (or presigned query), else Nones."""
    auth = headers.get("Authorization", "")
    m = _SCOPE.search(auth)
    if m:
        return m.group(2).lower(), m.group(1)
    return None, None


class MotoLogSink:
    """Puts function log events into moto's CloudWatch Logs backend (one region)."""

    def __init__(self, bridge: MotoBridge, region: str) -> None:
        self.bridge = bridge
        self.region = region

    def put(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        self.bridge.submit(_put_logs, self.region, group, stream, events)

    async def flush(self) -> None:
        await self.bridge.barrier()


def _put_logs(region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
    try:
        from moto.logs.models import logs_backends

        backend = logs_backends[ACCOUNT_ID][region]
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        backend.put_log_events(group, stream, events)
    except Exception:  # never let logging break an invocation
        log.warning("could not store log events in %s/%s", group, stream, exc_info=True)


class Endpoint:
    """The process's heart: one HTTP listener, moto, the Lambda backends, the Runtime API."""

    def __init__(
        self,
        data_dir: str,
        host: str = "127.0.0.1",
        port: int = 4566,
        *,
        idle_timeout: float = 300.0,
        init_timeout: float = INIT_TIMEOUT,
        max_concurrency: int = 1000,
        enforce_memory: bool = True,
        runner_factory: RunnerFactory | None = None,
        esm_scale_interval: float = 60.0,
        esm_time_scale: float = 1.0,
        scale_sleeps: bool = False,
    ) -> None:
        self.esm_scale_interval = esm_scale_interval
        self.esm_time_scale = esm_time_scale
        self.scale_sleeps = scale_sleeps
        self.data_dir = os.path.abspath(data_dir)
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.init_timeout = init_timeout
        self.enforce_memory = enforce_memory
        self.runner_factory = runner_factory
        self.limiter = ConcurrencyLimiter(max_concurrency)
        self.moto = MotoBridge()
        self.runtime_api = RuntimeAPIServer(host)
        self.backends: dict[str, LambdaBackend] = {}
        self.responses = LambdaResponses(self.backend)
        self._runner: web.AppRunner | None = None
        self._reaper: asyncio.Task[None] | None = None

    def _function_env(self) -> dict[str, str]:
        """With ``scale_sleeps``, functions' sleeps last 1/time-scale (timescale/sitecustomize)."""
        if not self.scale_sleeps or not self.esm_time_scale > 1:
            return {}
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timescale")
        return {"STREAMLAB_TIME_SCALE": repr(float(self.esm_time_scale)), "PYTHONPATH": here}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def backend(self, region: str | None = None) -> LambdaBackend:
        region = region or DEFAULT_REGION
        b = self.backends.get(region)
        if b is None:
            b = LambdaBackend(
                region,
                BackendSettings(
                    data_dir=self.data_dir,
                    idle_timeout=self.idle_timeout,
                    code_url=self.url,
                    esm_scale_interval=self.esm_scale_interval,
                    esm_time_scale=self.esm_time_scale,
                ),
                HostSettings(
                    endpoint_url=self.url,
                    runtime_api=self.runtime_api,
                    log_sink=MotoLogSink(self.moto, region),
                    init_timeout=self.init_timeout,
                    enforce_memory=self.enforce_memory,
                    extra_env=self._function_env(),
                ),
                self.limiter,
                s3_get=self.moto.s3_get,
                runner_factory=self.runner_factory,
                secret_get=self.moto.secret_string,
            )
            self.backends[region] = b
        return b

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        os.makedirs(self.data_dir, exist_ok=True)
        await self.moto.start()
        await self.runtime_api.start()
        app = web.Application(client_max_size=MAX_REQUEST)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        for path in sorted(glob.glob(os.path.join(self.data_dir, "lambda-*.json"))):
            region = os.path.basename(path)[len("lambda-") : -len(".json")]
            try:
                await self.backend(region).load()
            except Exception:
                log.exception("could not restore Lambda state from %s", path)
        self._reaper = asyncio.create_task(self._reap())

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.gather(*(b.close() for b in self.backends.values()))
        await self.runtime_api.stop()
        self.moto.close()

    async def _reap(self) -> None:
        interval = max(0.05, min(1.0, self.idle_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            for b in list(self.backends.values()):
                try:
                    await b.reap_idle()
                except Exception:
                    log.exception("idle reaper failed")

    # --- routing ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        if raw_path.startswith("/_streamlab/"):
            return await self._internal(request)
        body = await request.read()
        service, region = credential_scope(request.headers)
        if service == "lambda" or (service is None and urls.is_lambda_path(raw_path)):
            return await self.responses.dispatch(request, body, region or DEFAULT_REGION)
        return await self.moto.handle(request, body)

    async def _internal(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.path
        region = request.query.get("region")
        if path == "/_streamlab/health":
            return web.json_response({"status": "ok"})
        if path == "/_streamlab/lambda/environments":
            fn = request.query.get("function")
            envs = [
                e
                for b in self._regions(region)
                for e in b.environments()
                if fn is None or e["FunctionName"] == fn
            ]
            return web.json_response({"Environments": envs})
        if path == "/_streamlab/lambda/metrics":
            out = {
                name: m.snapshot() for b in self._regions(region) for name, m in b.metrics.items()
            }
            return web.json_response({"Functions": out})
        if path == "/_streamlab/lambda/mappings":
            out = [
                {
                    "UUID": m.uuid,
                    "FunctionName": m.function_name,
                    "State": m.state.current(),
                    "Poller": m.runner.describe() if m.runner is not None else None,
                }
                for b in self._regions(region)
                for m in b.mappings.values()
            ]
            return web.json_response({"EventSourceMappings": out})
        m = re.fullmatch(r"/_streamlab/lambda/mappings/([^/]+)/time-scale", path)
        if m and request.method == "POST":
            return self._set_time_scale(m.group(1), request.query.get("scale", ""), region)
        m = re.fullmatch(r"/_streamlab/lambda/code/([^/]+)/([^/]+)\.zip", path)
        if m:
            fn = self.backend(m.group(1)).functions.get(m.group(2))
            if fn is None or not os.path.exists(fn.code.zip_path):
                raise web.HTTPNotFound()
            return web.FileResponse(fn.code.zip_path)
        m = re.fullmatch(r"/_streamlab/lambda/layers/([^/]+)/([^/]+)/(\d+)\.zip", path)
        if m:
            try:
                lv = self.backend(m.group(1)).layers.get(m.group(2), m.group(3))
            except exc.LambdaError:
                raise web.HTTPNotFound() from None
            if not os.path.exists(lv.zip_path):
                raise web.HTTPNotFound()
            return web.FileResponse(lv.zip_path)
        if path == "/_streamlab/reset" and request.method == "POST":
            await self.reset()
            return web.json_response({"status": "reset"})
        raise web.HTTPNotFound()

    def _set_time_scale(self, uuid: str, scale: str, region: str | None) -> web.Response:
        try:
            value = float(scale)
            if not value > 0:
                raise ValueError
        except ValueError:
            return web.json_response({"message": "scale must be a positive number"}, status=400)
        for b in self._regions(region):
            mapping = b.mappings.get(uuid)
            if mapping is None:
                continue
            setter = getattr(mapping.runner, "set_time_scale", None)
            if setter is None:
                return web.json_response({"message": "the mapping has no poller"}, status=409)
            setter(value)
            return web.json_response({"UUID": uuid, "TimeScale": value})
        return web.json_response({"message": f"no mapping {uuid}"}, status=404)

    def _regions(self, region: str | None) -> list[LambdaBackend]:
        if region:
            return [self.backend(region)]
        return list(self.backends.values())

    async def reset(self) -> None:
        for b in self.backends.values():
            for m in list(b.mappings):
                await b.delete_event_source_mapping(m)
            for name in list(b.functions):
                await b.delete_function(name)
            b.layers.clear()
            b.metrics.clear()
        await self.moto.reset()
