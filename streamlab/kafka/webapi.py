"""Observability and control over HTTP/JSON on 127.0.0.1 (for lessons, the CLI and tests).

GET /health · GET /api/cluster · POST /api/brokers/{id}/stop|start
"""

from __future__ import annotations

import logging

from aiohttp import web

from streamlab.kafka import observe

log = logging.getLogger("streamlab.kafka")


def make_app(emulator) -> web.Application:
    app = web.Application()
    routes = web.RouteTableDef()

    @routes.get("/health")
    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "brokers": len(emulator.cluster.live_brokers())})

    @routes.get("/api/cluster")
    async def cluster(_request: web.Request) -> web.Response:
        return web.json_response(observe.cluster(emulator))

    @routes.post("/api/brokers/{node_id}/{action}")
    async def broker_action(request: web.Request) -> web.Response:
        try:
            node_id = int(request.match_info["node_id"])
        except ValueError:
            raise web.HTTPBadRequest(reason="broker id must be a number") from None
        action = request.match_info["action"]
        if node_id not in emulator.listeners:
            raise web.HTTPNotFound(reason=f"no broker {node_id}")
        try:
            if action == "stop":
                await emulator.stop_broker(node_id)
            elif action == "start":
                await emulator.start_broker(node_id)
            else:
                raise web.HTTPNotFound(reason=f"unknown action {action!r}: use stop or start")
        except ValueError as e:
            return web.json_response({"error": str(e)}, status=409)
        return web.json_response(observe.cluster(emulator))

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
