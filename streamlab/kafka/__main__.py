"""``python -m streamlab.kafka``: run the emulated cluster in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from streamlab.kafka import webapi
from streamlab.kafka.server import Emulator
from streamlab.service import write_ready_file

log = logging.getLogger("streamlab.kafka")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m streamlab.kafka", description="Run the emulated Kafka cluster."
    )
    p.add_argument("--data-dir", required=True, help="where logs, offsets and metadata live")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--port",
        type=int,
        default=9092,
        help="first broker's port; broker i listens on port+i-1 (0: any free ports)",
    )
    p.add_argument("--brokers", type=int, default=1, help="number of brokers (listeners)")
    p.add_argument("--http-port", type=int, default=9021, help="observability API (0: any)")
    p.add_argument("--ready-file", help="written as JSON once every listener is up")
    p.add_argument("--sasl-users", help="JSON file {user: password}: turns on SASL/PLAIN")
    p.add_argument("--no-auto-create", action="store_true", help="disable topic auto-creation")
    p.add_argument(
        "--num-partitions", type=int, default=1, help="partitions of auto-created topics"
    )
    p.add_argument(
        "--group-initial-rebalance-delay-ms",
        type=int,
        default=0,
        help="wait this long for more members before a new group's first rebalance "
        "(Kafka's default is 3000; 0 here so a lesson's first consumer starts at once)",
    )
    p.add_argument(
        "--offsets-topic-partitions",
        type=int,
        default=50,
        help="partitions of __consumer_offsets when it is created (Kafka's "
        "offsets.topic.num.partitions)",
    )
    p.add_argument(
        "--transaction-topic-partitions",
        type=int,
        default=50,
        help="partitions of __transaction_state when it is created (Kafka's "
        "transaction.state.log.num.partitions)",
    )
    p.add_argument(
        "--transaction-abort-interval-ms",
        type=int,
        default=10_000,
        help="how often timed-out transactions are looked for and aborted (Kafka's "
        "transaction.abort.timed.out.transaction.cleanup.interval.ms)",
    )
    p.add_argument(
        "--log-cleaner-backoff-ms",
        type=int,
        default=15_000,
        help="how often compacted topics are cleaned (Kafka's log.cleaner.backoff.ms)",
    )
    p.add_argument(
        "--log-retention-check-interval-ms",
        type=int,
        default=300_000,
        help="how often topics with cleanup.policy=delete lose segments past retention.ms or "
        "retention.bytes (Kafka's log.retention.check.interval.ms); 0 turns retention off",
    )
    p.add_argument(
        "--log-initial-task-delay-ms",
        type=int,
        default=30_000,
        help="when the first retention pass comes after start (Kafka's "
        "log.initial.task.delay.ms; at most the check interval)",
    )
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    if args.brokers < 1:
        p.error("--brokers must be at least 1")
    if args.offsets_topic_partitions < 1:
        p.error("--offsets-topic-partitions must be at least 1")
    if args.transaction_topic_partitions < 1:
        p.error("--transaction-topic-partitions must be at least 1")
    if args.transaction_abort_interval_ms < 1:
        p.error("--transaction-abort-interval-ms must be at least 1")
    if args.log_cleaner_backoff_ms < 1:
        p.error("--log-cleaner-backoff-ms must be at least 1")
    if args.log_retention_check_interval_ms < 0:
        p.error("--log-retention-check-interval-ms must be at least 0 (0: off)")
    if args.log_initial_task_delay_ms < 0:
        p.error("--log-initial-task-delay-ms must be at least 0")
    return args


async def run(args: argparse.Namespace) -> None:
    sasl_users = None
    if args.sasl_users:
        with open(args.sasl_users) as f:
            sasl_users = json.load(f)
        if not isinstance(sasl_users, dict) or not sasl_users:
            raise SystemExit(f"{args.sasl_users}: expected a JSON object {{user: password}}")
    ports = [0] * args.brokers if args.port == 0 else [args.port + i for i in range(args.brokers)]
    emulator = Emulator(
        args.data_dir,
        args.host,
        ports,
        sasl_users=sasl_users,
        auto_create=not args.no_auto_create,
        num_partitions=args.num_partitions,
        group_initial_rebalance_delay_ms=args.group_initial_rebalance_delay_ms,
        offsets_topic_partitions=args.offsets_topic_partitions,
        transaction_topic_partitions=args.transaction_topic_partitions,
        transaction_abort_interval_ms=args.transaction_abort_interval_ms,
        log_cleaner_backoff_ms=args.log_cleaner_backoff_ms,
        log_retention_check_interval_ms=args.log_retention_check_interval_ms,
        log_initial_task_delay_ms=args.log_initial_task_delay_ms,
    )
    await emulator.start()
    runner, http_port = await webapi.start(emulator, args.host, args.http_port)
    ready = {
        "pid": os.getpid(),
        "bootstrap": emulator.bootstrap,
        "brokers": {str(n): lst.broker.port for n, lst in emulator.listeners.items()},
        "http": http_port,
        "data_dir": os.path.abspath(args.data_dir),
        "sasl": sasl_users is not None,
    }
    write_ready_file(args.ready_file, ready)
    log.info("cluster ready: bootstrap %s, http %s:%d", ready["bootstrap"], args.host, http_port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
    await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(run(args))
    except OSError as e:
        log.error("cannot start: %s", e)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
