"""``python -m streamlab.datagen``: run a generator, the background server, or seed the topics.

    python -m streamlab.datagen stock_trades --topic stocktrade --rate 10/s [--count N] [--seed S]
        [--bootstrap HOST:PORT] [--stdout]          # foreground; Ctrl-C stops and reports
    python -m streamlab.datagen start|stop|status   # background tasks (survive this process)
    python -m streamlab.datagen serve --state FILE  # the background server itself
    python -m streamlab.datagen seed [--users 9] [--recreate]
    python -m streamlab.datagen list                # datasets, fields, ranges

``streamlab datagen ...`` is the same command: it calls :func:`main` with its arguments.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable

from streamlab.config import StreamlabError
from streamlab.datagen import background, serve
from streamlab.datagen.datasets import DATASETS, DatagenError, encode, generate, get
from streamlab.datagen.producer import client_config, run
from streamlab.datagen.rate import RateLimiter, parse_rate
from streamlab.datagen.seed import APP_TOPICS, PARTITIONS, seed_topics

PROG = "python -m streamlab.datagen"


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, Callable[[list[str], str], int]] = {
        "serve": _serve,
        "start": _start,
        "stop": _stop,
        "status": _status,
        "seed": _seed,
        "list": _list,
    }
    if not argv or argv[0] in ("-h", "--help"):
        out = sys.stdout if argv else sys.stderr
        print("usage:\n" + __doc__.split("\n\n")[1].replace(PROG, prog), file=out)
        print(f"generators: {', '.join(DATASETS)}; COMMAND --help for details", file=out)
        return 0 if argv else 2
    try:
        command = commands.get(argv[0])
        if command:
            return command(argv[1:], f"{prog} {argv[0]}")
        return _generate(argv, prog)
    except StreamlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except SystemExit as e:  # argparse: --help (0) or a usage error (2, message printed)
        return e.code if isinstance(e.code, int) else 2


# --- foreground -----------------------------------------------------------------------------------


def _generate(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Produce one dataset.")
    parser.add_argument("name", metavar="NAME", help=f"one of: {', '.join(DATASETS)}")
    _generator_options(parser)
    parser.add_argument("--start", type=int, default=0, help="index of the first record")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="default: the active profile")
    parser.add_argument(
        "--stdout", action="store_true", help="print 'key<TAB>value' lines instead of producing"
    )
    args = parser.parse_args(argv)
    try:
        ds = get(args.name)
        parse_rate(args.rate)
    except DatagenError as e:
        parser.error(str(e))
    stop = threading.Event()
    _on_interrupt(stop)
    if args.stdout:
        limiter = RateLimiter(parse_rate(args.rate))
        for key, value in generate(ds.name, args.seed, args.start, args.count):
            if not limiter.wait(stop):
                break
            print(f"{key}\t{encode(key, value)[1].decode()}", flush=True)
        return 0
    topic = ds.topic if args.topic is None else args.topic
    config = client_config(args.bootstrap)
    where = config.get("bootstrap.servers")
    limit = f", {args.count} records" if args.count is not None else "; Ctrl-C stops"
    print(f"producing {ds.name} to {topic} on {where} at {args.rate} (seed {args.seed}){limit}",
          file=sys.stderr)  # fmt: skip
    counted = [0]
    try:
        produced = run(ds.name, topic, rate=args.rate, count=args.count, config=config,
                       seed=args.seed, start=args.start, stop=stop,
                       on_delivered=lambda: counted.__setitem__(0, counted[0] + 1))  # fmt: skip
    except DatagenError as e:
        print(f"error: {e}", file=sys.stderr)
        if counted[0]:
            print(f"produced {counted[0]} records to {topic} before that", file=sys.stderr)
        return 1
    how = "stopped: " if stop.is_set() else ""
    print(f"{how}produced {produced} records to {topic}", file=sys.stderr)
    return 0


def _generator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", help="default: the dataset's topic (see `list`)")
    parser.add_argument("--rate", default="10/s", help="N/s, N/m, N/h or 'unlimited' (10/s)")
    parser.add_argument("--count", type=_count, help="stop after N records (default: never)")
    parser.add_argument("--seed", type=int, default=0, help="which sequence (default 0)")


def _on_interrupt(stop: threading.Event) -> None:
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())


def _count(text: str) -> int:
    n = int(text)
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


# --- background -----------------------------------------------------------------------------------


def _state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", help="state file (default .streamlab/data/datagen/tasks.json)")


def _serve(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Run the background generators.")
    _state_option(parser)
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="default: the active profile")
    parser.add_argument("--ready-file", help="write {pid, ...} here once serving")
    parser.add_argument("--exit-when-idle", action="store_true", help="exit when no task runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("streamlab.datagen.rdkafka").setLevel(logging.WARNING)
    return serve.serve(args.state, args.bootstrap, args.ready_file, args.exit_when_idle)


def _start(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Start a background generator.")
    parser.add_argument("name", metavar="NAME", help=f"one of: {', '.join(DATASETS)}")
    _generator_options(parser)
    parser.add_argument("--task", help="task name (default: the generator's)")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="default: the active profile")
    parser.add_argument("--from-start", action="store_true", help="restart the sequence at 0")
    _state_option(parser)
    args = parser.parse_args(argv)
    task = background.start_background(
        args.name, args.topic, args.rate, seed=args.seed, count=args.count, task=args.task,
        bootstrap=args.bootstrap, state=args.state, from_start=args.from_start,
    )  # fmt: skip
    print(f"started {task['name']}: {task['generator']} -> {task['topic']} at {task['rate']}, "
          f"from record {task['produced']}")  # fmt: skip
    return 0


def _stop(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Stop a background generator.")
    parser.add_argument("name", nargs="?", help="task name; omit with --all")
    parser.add_argument("--all", action="store_true", help="stop every task and the server")
    parser.add_argument("--forget", action="store_true", help="also remove it from the state")
    _state_option(parser)
    args = parser.parse_args(argv)
    if args.all:
        pid = background.stop_serving(args.state)
        print(f"stopped the datagen server (pid {pid})" if pid else "no datagen server runs")
        return 0
    if not args.name:
        parser.error("name a task, or pass --all")
    if not background.stop_background(args.name, state=args.state, forget=args.forget):
        raise DatagenError(f"no background task {args.name!r}; see `status`")
    print(f"stopped {args.name}")
    return 0


def _status(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="List background generators.")
    _state_option(parser)
    args = parser.parse_args(argv)
    pid = background.serve_pid(args.state)
    print(f"server: {'pid ' + str(pid) if pid else 'not running'}")
    for t in background.list_background(args.state):
        count = "" if t.get("count") is None else f"/{t['count']}"
        error = f"  ({t['error']})" if t.get("error") else ""
        print(f"{t['name']:<16} {t.get('status', '?'):<9} {t.get('generator')} -> "
              f"{t.get('topic')} at {t.get('rate')}, {t.get('produced', 0)}{count} produced"
              f"{error}")  # fmt: skip
    return 0


# --- seeding and listing --------------------------------------------------------------------------


def _seed(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Create the topics, write seed data.")
    parser.add_argument("--users", type=int, default=9, help="USERS rows User_1..User_N (9)")
    for name in ("stock-trades", "rides", "logins"):
        parser.add_argument(f"--{name}", type=_count, default=0, help="first N records")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--partitions", type=int, default=PARTITIONS)
    parser.add_argument("--recreate", action="store_true", help="delete the topics first")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", help="default: the active profile")
    args = parser.parse_args(argv)
    result = seed_topics(
        client_config(args.bootstrap), args.users, stock_trades=args.stock_trades,
        rides=args.rides, logins=args.logins, seed=args.seed, partitions=args.partitions,
        recreate=args.recreate,
    )  # fmt: skip
    for topic in result.deleted:
        print(f"deleted {topic}")
    for topic in result.created:
        print(f"created {topic}")
    for topic, n in result.written.items():
        print(f"{topic}: wrote {n} records" if n else f"{topic}: already seeded")
    if not result.created and not result.written:
        print(f"topics exist: {', '.join(APP_TOPICS)}")
    return 0


def _list(argv: list[str], prog: str) -> int:
    argparse.ArgumentParser(prog=prog, description="Describe the datasets.").parse_args(argv)
    for ds in DATASETS.values():
        print(f"{ds.name}: topic {ds.topic}, key {ds.key} ({ds.origin})")
        for f in ds.fields:
            rule = (
                f"one of {', '.join(map(str, f.options))}"
                if f.options
                else f"[{f.range[0]}, {f.range[1]})"
                if f.range
                else f"matches {f.pattern}"
            )
            print(f"  {f.name:<14} {f.type:<8} {rule}")
    return 0
