"""``python -m streamlab.lambda_cli``: look at the local Lambda from a terminal.

    python -m streamlab.lambda_cli deploy NAME (--dir DIR | --zip FILE) [--handler H] [--env K=V]
    python -m streamlab.lambda_cli map FUNCTION --topic T [--bootstrap HOST:PORT] [--batch-size N]
    python -m streamlab.lambda_cli functions                    # state, last modified, env vars
    python -m streamlab.lambda_cli environments [FUNCTION]      # execution environments
    python -m streamlab.lambda_cli logs FUNCTION [-f] [-n N] [--since 5m]
    python -m streamlab.lambda_cli invoke FUNCTION [--payload JSON|@file] [--log]
    python -m streamlab.lambda_cli mappings [FUNCTION]          # state, batch size, pollers, lag
    python -m streamlab.lambda_cli metrics [FUNCTION]           # invocations, errors, cold starts
    python -m streamlab.lambda_cli scaling UUID [--seconds 60] [--time-scale 60]
    python -m streamlab.lambda_cli simulate [--partitions 1000] [--records 50000] [--handler 5]

``streamlab lambda ...`` is the same command: it calls :func:`main` with its arguments. Every
command talks to the running stack's AWS endpoint (``--endpoint URL`` to choose another).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from streamlab.awslambda.lab import LambdaLab, LambdaLabError, parse_since
from streamlab.config import StreamlabError

PROG = "python -m streamlab.lambda_cli"


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, Callable[[list[str], str], int]] = {
        "deploy": _deploy,
        "map": _map,
        "functions": _functions,
        "environments": _environments,
        "logs": _logs,
        "invoke": _invoke,
        "mappings": _mappings,
        "metrics": _metrics,
        "scaling": _scaling,
        "simulate": _simulate,
    }
    if not argv or argv[0] in ("-h", "--help"):
        out = sys.stdout if argv else sys.stderr
        print("usage:\n" + __doc__.split("\n\n")[1].replace(PROG, prog), file=out)
        print("COMMAND --help for details", file=out)
        return 0 if argv else 2
    command = commands.get(argv[0])
    if command is None:
        known = ", ".join(commands)
        print(f"{prog}: unknown command {argv[0]!r} (one of: {known})", file=sys.stderr)
        return 2
    try:
        return command(argv[1:], f"{prog} {argv[0]}")
    except StreamlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except SystemExit as e:  # argparse: --help (0) or a usage error (2, message printed)
        return e.code if isinstance(e.code, int) else 2


# --- helpers --------------------------------------------------------------------------------------


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--endpoint", metavar="URL", help="default: the running stack's AWS endpoint")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def _lab(args: argparse.Namespace) -> LambdaLab:
    lab = LambdaLab(args.endpoint)
    lab.check()
    return lab


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """Columns (key, heading) left-aligned, widths from the content."""
    cells = [[h for _, h in columns]] + [
        ["-" if r.get(k) is None else str(r.get(k)) for k, _ in columns] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _emit(args: argparse.Namespace, rows: Any, columns: list[tuple[str, str]], empty: str) -> int:
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    elif not rows:
        print(empty)
    else:
        print(_table(rows, columns))
    return 0


# --- commands ---------------------------------------------------------------------------------


def _deploy(argv: list[str], prog: str) -> int:
    p = _parser(prog, "Create a function, or update its code and configuration.")
    p.add_argument("name", metavar="NAME")
    code = p.add_mutually_exclusive_group(required=True)
    code.add_argument("--dir", help="a folder, zipped with its contents at the root")
    code.add_argument("--zip", help="a deployment package")
    p.add_argument("--handler", default="app.handler", help="module.function (app.handler)")
    p.add_argument("--runtime", default="python3.12")
    p.add_argument("--env", action="append", default=None, metavar="KEY=VALUE")
    p.add_argument("--timeout", type=int, help="seconds (default 3)")
    p.add_argument("--memory", type=int, help="MB (default 128)")
    args = p.parse_args(argv)
    env = None
    if args.env is not None:
        env = {}
        for item in args.env:
            key, sep, value = item.partition("=")
            if not sep or not key:
                p.error(f"--env wants KEY=VALUE, not {item!r}")
            env[key] = value
    data = None
    if args.zip:
        try:
            with open(args.zip, "rb") as f:
                data = f.read()
        except OSError as e:
            raise LambdaLabError(f"cannot read {args.zip}: {e.strerror}") from None
    out = _lab(args).deploy(
        args.name,
        zip_file=data,
        directory=args.dir,
        handler=args.handler,
        runtime=args.runtime,
        environment=env,
        timeout=args.timeout,
        memory=args.memory,
    )
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        print(
            f"{out['FunctionName']}: {out.get('State', 'Active')}, {out['Handler']}, "
            f"{out['CodeSize']} bytes, last modified {out['LastModified']}"
        )
    return 0


def _map(argv: list[str], prog: str) -> int:
    p = _parser(prog, "Map a Kafka topic to a function (an event source mapping).")
    p.add_argument("function", metavar="FUNCTION")
    p.add_argument("--topic", required=True)
    p.add_argument("--bootstrap", metavar="HOST:PORT", help="default: the active profile's")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument(
        "--starting-position", default="TRIM_HORIZON", choices=["TRIM_HORIZON", "LATEST"]
    )
    p.add_argument("--window", type=float, help="MaximumBatchingWindowInSeconds")
    p.add_argument("--secret-arn", help="BASIC_AUTH: a Secrets Manager secret's ARN")
    p.add_argument("--consumer-group", help="ConsumerGroupId (default: the mapping's UUID)")
    args = p.parse_args(argv)
    lab = _lab(args)
    lab.get_function(args.function)
    out = lab.map(
        args.function,
        args.topic,
        bootstrap=args.bootstrap,
        batch_size=args.batch_size,
        starting_position=args.starting_position,
        window=args.window,
        secret_arn=args.secret_arn,
        consumer_group=args.consumer_group,
    )
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        print(f"{out['UUID']}: {args.topic} -> {args.function}, {out['State']}")
    return 0


def _functions(argv: list[str], prog: str) -> int:
    args = _parser(prog, "List the deployed functions.").parse_args(argv)
    rows = _lab(args).functions()
    columns = [
        ("Name", "NAME"),
        ("State", "STATE"),
        ("LastUpdateStatus", "UPDATE"),
        ("LastModified", "LAST MODIFIED"),
        ("Runtime", "RUNTIME"),
        ("Handler", "HANDLER"),
        ("MemorySize", "MB"),
        ("Timeout", "TIMEOUT"),
        ("EnvironmentVariables", "ENV VARS"),
        ("Environments", "ENVS"),
    ]
    return _emit(args, rows, columns, "no functions deployed")


def _environments(argv: list[str], prog: str) -> int:
    p = _parser(prog, "List execution environments (processes) and their state.")
    p.add_argument("function", nargs="?", metavar="FUNCTION")
    args = p.parse_args(argv)
    lab = _lab(args)
    if args.function:
        lab.get_function(args.function)
    rows = lab.environments(args.function)
    columns = [
        ("Id", "ID"),
        ("FunctionName", "FUNCTION"),
        ("State", "STATE"),
        ("Frozen", "FROZEN"),
        ("Pid", "PID"),
        ("Invocations", "INVOCATIONS"),
        ("InitDurationMs", "INIT MS"),
        ("MaxMemoryUsedMB", "MAX MB"),
        ("IdleSeconds", "IDLE S"),
    ]
    return _emit(args, rows, columns, "no execution environments")


def _logs(argv: list[str], prog: str) -> int:
    p = _parser(prog, "Print a function's CloudWatch log (START/END/REPORT lines included).")
    p.add_argument("function", metavar="FUNCTION")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=int, metavar="N", help="only the last N lines")
    p.add_argument("--since", metavar="DURATION", help="e.g. 30s, 5m, 2h (default: everything)")
    args = p.parse_args(argv)
    if args.since:
        parse_since(args.since)  # a usage error before any network call
    lab = _lab(args)
    if args.follow:
        for line in lab.follow(args.function, since=args.since, limit=args.lines):
            print(line, flush=True)
        return 0
    for line in lab.logs(args.function, since=args.since, limit=args.lines):
        print(line)
    return 0


def _invoke(argv: list[str], prog: str) -> int:
    p = _parser(prog, "Invoke a function synchronously and print what it returned.")
    p.add_argument("function", metavar="FUNCTION")
    p.add_argument("--payload", default="{}", metavar="JSON|@FILE", help="the event (default {})")
    p.add_argument("--log", action="store_true", help="also print the invocation's log tail")
    args = p.parse_args(argv)
    text = args.payload
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise LambdaLabError(f"cannot read the payload file {text[1:]}: {e.strerror}") from None
    try:
        json.loads(text)
    except ValueError as e:
        raise LambdaLabError(f"the payload is not JSON: {e}") from None
    r = _lab(args).invoke(args.function, raw=text.encode(), tail=args.log)
    if args.log and r["Log"]:
        print(r["Log"].rstrip("\n"), file=sys.stderr)
    if args.json:
        print(json.dumps(r, indent=2, default=str))
    else:
        payload = r["Payload"]
        print(payload if isinstance(payload, str) else json.dumps(payload, indent=2))
    if r["FunctionError"]:
        print(f"FunctionError: {r['FunctionError']}", file=sys.stderr)
        return 1
    return 0


def _mappings(argv: list[str], prog: str) -> int:
    p = _parser(prog, "List event source mappings with their pollers and offset lag.")
    p.add_argument("function", nargs="?", metavar="FUNCTION")
    args = p.parse_args(argv)
    lab = _lab(args)
    if args.function:
        lab.get_function(args.function)
    rows = lab.mappings(args.function)
    columns = [
        ("UUID", "UUID"),
        ("FunctionName", "FUNCTION"),
        ("Topic", "TOPIC"),
        ("State", "STATE"),
        ("BatchSize", "BATCH"),
        ("Pollers", "POLLERS"),
        ("OffsetLag", "LAG"),
        ("Invocations", "INVOCATIONS"),
        ("RecordsDelivered", "RECORDS"),
        ("LastProcessingResult", "LAST RESULT"),
    ]
    return _emit(args, rows, columns, "no event source mappings")


def _metrics(argv: list[str], prog: str) -> int:
    p = _parser(prog, "Per-function counters (as CloudWatch's AWS/Lambda metrics).")
    p.add_argument("function", nargs="?", metavar="FUNCTION")
    args = p.parse_args(argv)
    data = _lab(args).metrics(args.function)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    rows = [
        {
            "Function": name,
            **{k: v for k, v in m.items() if k != "ConcurrencyOverTime"},
            "AvgMs": round(m["Duration"] / m["Invocations"], 1) if m.get("Invocations") else None,
        }
        for name, m in sorted(data.items())
    ]
    columns = [
        ("Function", "FUNCTION"),
        ("Invocations", "INVOCATIONS"),
        ("Errors", "ERRORS"),
        ("Throttles", "THROTTLES"),
        ("Timeouts", "TIMEOUTS"),
        ("ColdStarts", "COLD STARTS"),
        ("AvgMs", "AVG MS"),
        ("ConcurrentExecutions", "CONCURRENCY"),
        ("MaxConcurrentExecutions", "MAX CONCURRENCY"),
    ]
    return _emit(args, rows, columns, "no invocations yet")


def _scaling(argv: list[str], prog: str) -> int:
    p = _parser(prog, "Sample a mapping's pollers, offset lag and concurrency over time.")
    p.add_argument("uuid", metavar="UUID")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to sample (real time)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    p.add_argument(
        "--time-scale",
        type=float,
        help="first make this mapping's scaler run this many times faster (60: a minute a second)",
    )
    args = p.parse_args(argv)
    lab = _lab(args)
    scale = 1.0
    if args.time_scale:
        lab.set_time_scale(args.uuid, args.time_scale)
    scale = lab.mapping_poller(args.uuid).get("TimeScale", scale) or 1.0
    if not args.json:
        print(f"{'real s':>8} {'sim min':>8} {'pollers':>8} {'lag':>10} {'concurrency':>12}")

    def show(s: Any) -> bool:
        if not args.json:
            lag = "-" if s.lag is None else str(s.lag)
            print(
                f"{s.t:8.1f} {s.t * scale / 60:8.1f} {s.pollers:8d} {lag:>10} {s.concurrency:12d}",
                flush=True,
            )
        return False

    samples = lab.scaling(args.uuid, seconds=args.seconds, interval=args.interval, until=show)
    if args.json:
        print(json.dumps([s.__dict__ for s in samples], indent=2))
    return 0


def _simulate(argv: list[str], prog: str) -> int:
    from streamlab.awslambda.scaling import simulate

    p = argparse.ArgumentParser(
        prog=prog, description="Replay the article's scaling experiment in simulated time."
    )
    p.add_argument("--partitions", type=int, default=1000)
    p.add_argument("--records", type=int, default=50_000, help="backlog per partition")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--handler", type=float, default=5.0, help="seconds per invocation")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between lag checks")
    p.add_argument("--every", type=int, default=1, help="print every N-th lag check")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        run = simulate(
            args.partitions,
            args.records,
            batch_size=args.batch_size,
            handler_seconds=args.handler,
            check_interval=args.interval,
        )
    except ValueError as e:
        p.error(str(e))
    if args.json:
        print(json.dumps([s.__dict__ for s in run.samples]))
        return 0
    print(run.table(args.every))
    reach = run.time_to_reach(args.partitions)
    drained = run.drained_at
    print(
        f"\n{args.partitions} pollers after "
        f"{'never' if reach is None else f'{reach / 60:.0f} simulated min'}; backlog gone after "
        f"{'never' if drained is None else f'{drained / 3600:.1f} simulated h'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
