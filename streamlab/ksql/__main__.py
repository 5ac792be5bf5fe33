"""``python -m streamlab.ksql``: the ksqlDB-compatible server over a Kafka cluster.

    python -m streamlab.ksql --bootstrap 127.0.0.1:9092 [--registry-url URL] [--port 8088]
        [--host 127.0.0.1] [--data-dir DIR] [--ready-file FILE]

Replays the command topic, starts the persistent queries, serves the REST API, writes the
ready file ``{pid, url, port}`` and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from aiohttp import web

from streamlab.ksql.kafka_runtime import KafkaKsqlEngine
from streamlab.ksql.server import KsqlServer, build_app
from streamlab.service import write_ready_file

log = logging.getLogger("streamlab.ksql")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m streamlab.ksql", description=__doc__)
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--registry-url", default=None, help="Schema Registry URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088, help="0 picks a free port")
    parser.add_argument("--data-dir", default=None, help="local state (query stores)")
    parser.add_argument("--service-id", default="default_")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="server property, e.g. ksql.logging.processing.rows.include=true (repeatable)",
    )
    parser.add_argument("--ready-file", default=None)
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    config: dict[str, object] = {"ksql.service.id": args.service_id}
    for item in args.config:
        key, _, value = item.partition("=")
        config[key.strip()] = value.strip()
    if args.registry_url:
        config["ksql.schema.registry.url"] = args.registry_url
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
        config["ksql.streams.state.dir"] = args.data_dir
    loop = asyncio.get_running_loop()
    engine = KafkaKsqlEngine(args.bootstrap, config)
    await loop.run_in_executor(None, engine.start)
    server = KsqlServer(engine)
    runner = web.AppRunner(build_app(server), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://{args.host}:{port}"
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    write_ready_file(args.ready_file, {"pid": os.getpid(), "url": url, "port": port})
    log.info("ksql server listening on %s (%d queries)", url, len(engine.queries))
    await stop.wait()
    log.info("shutting down")
    server.stop_queries()
    await runner.cleanup()
    await loop.run_in_executor(None, engine.close)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
