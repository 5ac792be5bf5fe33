"""``python -m streamlab.awslambda``: the local AWS endpoint (Lambda + moto) in the foreground.

    python -m streamlab.awslambda [--host 127.0.0.1] [--port 4566] [--data-dir D] [--ready-file F]
        [--esm-scale-interval 60] [--time-scale 1] [--scale-sleeps]

When it serves, it writes ``--ready-file`` atomically as JSON ``{"pid", "url", "port",
"data_dir"}``. SIGTERM or SIGINT: stop accepting requests, kill every execution environment,
exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import tempfile

from streamlab.awslambda.endpoint import Endpoint
from streamlab.awslambda.environments import INIT_TIMEOUT
from streamlab.service import write_ready_file

log = logging.getLogger("streamlab.awslambda")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m streamlab.awslambda",
        description="Run the local AWS endpoint: Lambda (real runtimes) and moto for the rest.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4566, help="0: any free port")
    p.add_argument("--data-dir", help="function code and state (default: a temporary folder)")
    p.add_argument("--ready-file", help="written as JSON once the endpoint serves")
    p.add_argument(
        "--idle-seconds",
        type=float,
        default=300.0,
        help="a frozen environment unused this long is recycled",
    )
    p.add_argument(
        "--init-timeout", type=float, default=INIT_TIMEOUT, help="init phase limit (seconds)"
    )
    p.add_argument("--max-concurrency", type=int, default=1000, help="account concurrency limit")
    p.add_argument(
        "--no-memory-limit",
        action="store_true",
        help="do not kill environments that exceed their MemorySize",
    )
    p.add_argument(
        "--no-kafka", action="store_true", help="store event source mappings but do not poll"
    )
    p.add_argument(
        "--esm-scale-interval",
        type=float,
        default=60.0,
        help="seconds between a Kafka mapping's lag checks (60 on AWS)",
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="run Kafka mappings' scalers this many times faster than real time "
        "(60: the one-minute lag check runs every second)",
    )
    p.add_argument(
        "--scale-sleeps",
        action="store_true",
        help="with --time-scale N, functions' time.sleep/asyncio.sleep last 1/N as long",
    )
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="streamlab-aws-")
    runner_factory = None
    if not args.no_kafka:
        from streamlab.awslambda.esm import kafka_runner_factory

        runner_factory = kafka_runner_factory
    endpoint = Endpoint(
        data_dir,
        args.host,
        args.port,
        idle_timeout=args.idle_seconds,
        init_timeout=args.init_timeout,
        max_concurrency=args.max_concurrency,
        enforce_memory=not args.no_memory_limit,
        runner_factory=runner_factory,
        esm_scale_interval=args.esm_scale_interval,
        esm_time_scale=args.time_scale,
        scale_sleeps=args.scale_sleeps,
    )
    await endpoint.start()
    ready = {
        "pid": os.getpid(),
        "url": endpoint.url,
        "port": endpoint.port,
        "data_dir": endpoint.data_dir,
    }
    write_ready_file(args.ready_file, ready)
    log.info("AWS endpoint ready on %s (data in %s)", endpoint.url, endpoint.data_dir)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    await endpoint.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
