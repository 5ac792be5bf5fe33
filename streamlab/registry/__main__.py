"""``python -m streamlab.registry``: run the Schema Registry in the foreground.

It reads the ``_schemas`` topic to the end, then serves; ``--ready-file`` is written (JSON
``{"pid", "url", "port"}``) only once it serves. SIGTERM/SIGINT stop it gracefully (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from streamlab.registry import compatibility
from streamlab.registry.models import SchemaRegistry
from streamlab.registry.rest import RegistryApi
from streamlab.registry.storage import TOPIC, KafkaStore, StoreError
from streamlab.service import write_ready_file

log = logging.getLogger("streamlab.registry")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m streamlab.registry",
        description="Run the Schema Registry (schemas kept in a Kafka topic).",
    )
    p.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, HOST:PORT[,...]")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081, help="HTTP port (0: any free port)")
    p.add_argument("--ready-file", help="written as JSON {pid, url, port} once serving")
    p.add_argument(
        "--basic-auth",
        metavar="FILE",
        help="JSON file {key: secret}: require HTTP basic auth (like Confluent Cloud API keys)",
    )
    p.add_argument("--topic", default=TOPIC, help="the schemas topic (default %(default)s)")
    p.add_argument(
        "--kafka-config",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="extra librdkafka setting for the store's clients (repeatable), e.g. "
        "security.protocol=SASL_PLAINTEXT",
    )
    p.add_argument(
        "--compatibility",
        default=compatibility.DEFAULT_LEVEL,
        help="default compatibility level (default %(default)s)",
    )
    p.add_argument("--store-timeout", type=float, default=10.0, help="seconds per Kafka write")
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    level = compatibility.parse_level(args.compatibility)
    if level is None:
        p.error(f"--compatibility must be one of {', '.join(compatibility.LEVELS)}")
    args.compatibility = level
    config = {}
    for item in args.kafka_config:
        key, sep, value = item.partition("=")
        if not sep or not key:
            p.error(f"--kafka-config expects KEY=VALUE, not {item!r}")
        config[key.strip()] = value
    args.kafka_config = config
    return args


def load_users(path: str | None) -> dict[str, str] | None:
    if path is None:
        return None
    with open(path) as f:
        users = json.load(f)
    if (
        not isinstance(users, dict)
        or not users
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in users.items())
    ):
        raise SystemExit(f"{path}: expected a JSON object {{key: secret}} of strings")
    return users


async def run(args: argparse.Namespace) -> None:
    users = load_users(args.basic_auth)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Model calls run in threads; a write waiting on a slow broker must not starve reads.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="registry"))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    store = KafkaStore(args.bootstrap, args.topic, args.kafka_config, args.store_timeout)
    registry = SchemaRegistry(store, default_level=args.compatibility)
    count = await asyncio.to_thread(registry.load)
    log.info("read %d records from %s on %s", count, args.topic, args.bootstrap)

    debug = args.log_level.lower() == "debug"
    runner = web.AppRunner(RegistryApi(registry, users).app(), access_log=log if debug else None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    url = f"http://{args.host}:{port}"
    write_ready_file(args.ready_file, {"pid": os.getpid(), "url": url, "port": port})
    log.info("schema registry ready at %s%s", url, " (basic auth)" if users else "")

    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
    await asyncio.to_thread(store.close)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(run(args))
    except StoreError as e:
        log.error("cannot start: %s", e)
        raise SystemExit(1) from None
    except OSError as e:
        log.error("cannot start: %s", e)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
