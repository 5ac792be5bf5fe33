"""Observability and control over HTTP/JSON on 127.0.0.1 (for lessons, the CLI and tests).

GET  /health                                   liveness
GET  /api/cluster                              brokers, controller, counts
GET  /api/topics                               every topic with per-partition figures
GET  /api/topics/{name}                        one topic
GET  /api/topics/{name}/partitions/{p}/records ?offset=&limit= peek at records
GET  /api/clients                              open connections: client.id, principal, requests
GET  /api/client-ids                           per client.id: connections open and ever opened
GET  /api/groups, /api/groups/{id}             consumer groups, members, offsets and lag
POST /api/brokers/{id}/stop|start              fault injection

Bodies come from ``observe`` (the same dicts Python code gets in-process). Errors are JSON
``{"error": "..."}`` with the HTTP status saying what kind: 400 bad parameter, 404 unknown
thing, 409 refused action.
"""

from __future__ import annotations

import functools
import json
import logging

from aiohttp import web

from streamlab.kafka import observe

log = logging.getLogger("streamlab.kafka")


# default=str: a value some builder forgot to make JSON-friendly (bytes, enum) is shown, not a 500
_dumps = functools.partial(json.dumps, default=str)


def _json(body, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


@web.middleware
async def _json_errors(request: web.Request, handler):
    """Every error as JSON, including aiohttp's own 404/405 for unknown routes."""
    try:
        return await handler(request)
    except observe.NotFound as e:
        return _error(404, str(e))
    except observe.BadRequest as e:
        return _error(400, str(e))
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _error(e.status, e.reason)
    except Exception:
        log.exception("observability API: %s %s failed", request.method, request.path)
        return _error(500, "internal error; see the broker log")


def _int(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.match_info.get(name, request.query.get(name))
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise observe.BadRequest(f"{name} must be an integer, not {raw!r}") from None


def make_app(emulator) -> web.Application:
    app = web.Application(middlewares=[_json_errors])
    routes = web.RouteTableDef()

    @routes.get("/health")
    async def health(_request: web.Request) -> web.Response:
        return _json(observe.health(emulator))

    @routes.get("/api/cluster")
    async def cluster(_request: web.Request) -> web.Response:
        return _json(observe.cluster(emulator))

    @routes.get("/api/topics")
    async def topics(_request: web.Request) -> web.Response:
        return _json(observe.topics(emulator))

    @routes.get("/api/topics/{name}")
    async def topic(request: web.Request) -> web.Response:
        return _json(observe.topic(emulator, request.match_info["name"]))

    @routes.get("/api/topics/{name}/partitions/{partition}/records")
    async def records(request: web.Request) -> web.Response:
        body = observe.records(
            emulator,
            request.match_info["name"],
            _int(request, "partition"),
            _int(request, "offset"),
            _int(request, "limit", observe.PEEK_DEFAULT),
        )
        return _json(body)

    @routes.get("/api/clients")
    async def clients(_request: web.Request) -> web.Response:
        return _json(observe.clients(emulator))

    @routes.get("/api/client-ids")
    async def client_ids(_request: web.Request) -> web.Response:
        return _json(observe.client_ids(emulator))

    @routes.get("/api/groups")
    async def groups(_request: web.Request) -> web.Response:
        return _json(observe.groups(emulator))

    @routes.get("/api/groups/{group_id}")
    async def group(request: web.Request) -> web.Response:
        return _json(observe.group(emulator, request.match_info["group_id"]))

    @routes.post("/api/brokers/{node_id}/{action}")
    async def broker_action(request: web.Request) -> web.Response:
        node_id = _int(request, "node_id")
        action = request.match_info["action"]
        if action not in ("stop", "start"):
            raise observe.NotFound(f"unknown action {action!r}: use stop or start")
        if node_id not in emulator.listeners:
            raise observe.NotFound(f"no broker {node_id}")
        try:
            if action == "stop":
                await emulator.stop_broker(node_id)
            else:
                await emulator.start_broker(node_id)
        except ValueError as e:
            return _error(409, str(e))
        return _json(observe.cluster(emulator))

    app.add_routes(routes)
    app["emulator"] = emulator
    return app


async def start(emulator, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(make_app(emulator), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    actual = site._server.sockets[0].getsockname()[1]  # the OS-chosen port when 0
    return runner, actual
