"""The ``streamlab`` command: a thin layer over :mod:`streamlab.stack` and :mod:`streamlab.doctor`.

    streamlab up [--profile P] [--brokers N]   start the lab, return when healthy
    streamlab status                           what runs where (exit 3 if something is down)
    streamlab logs [component] [-f] [-n N]     a component's output
    streamlab reset [--yes]                    stop, wipe the lab's data, start again
    streamlab down                             stop everything
    streamlab doctor [--profile P]             check this machine
    streamlab broker stop|start N              take one emulated broker down or back up
    streamlab datagen ...                      Datagen quickstart data (see streamlab datagen -h)
    streamlab pipeline up|down|status|watch|counts   the whole application (see README)
    streamlab lambda functions|logs|invoke|mappings|metrics|scaling ...   the Lambda emulator
    streamlab cloud plan|up|down|status        Confluent Cloud + AWS (setup/cloud/README.md)
    streamlab grade PATH... [--out DIR]        grade notebooks or folders of submissions (CSV+HTML)
    streamlab progress                         which exercises you have done

Expected failures print one line saying what went wrong and what to do, and exit non-zero.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from streamlab import config, doctor, stack
from streamlab.config import Settings, StreamlabError
from streamlab.stack import ComponentStatus, Stack, State

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DOWN = 3  # `status`: something is not running
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports it


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Commands with a command line of their own: this is a doorway to each.
    if argv[:1] == ["datagen"]:
        from streamlab.datagen.cli import main as datagen_main

        return datagen_main(argv[1:], prog="streamlab datagen")
    if argv[:1] == ["pipeline"]:
        from streamlab.pipeline import main as pipeline_main

        return pipeline_main(argv[1:])
    if argv[:1] == ["cloud"]:
        # setup/ is not an installed package: it lives next to streamlab/ in the repository.
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from setup.cloud.__main__ import main as cloud_main

        return cloud_main(argv[1:], prog="streamlab cloud")
    if argv[:1] == ["lambda"]:
        from streamlab.lambda_cli import main as lambda_main

        return lambda_main(argv[1:], prog="streamlab lambda")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except StreamlabError as e:
        print(f"streamlab: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("streamlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`streamlab status | head -1`); silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamlab",
        description="Run the streamlab lab stack (state in $STREAMLAB_HOME or ./.streamlab).",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    up = _command(sub, "up", cmd_up, "start the lab and wait until it is healthy")
    _profile_option(up)
    up.add_argument("--brokers", type=_positive_int, help="Kafka brokers (emulated; default 1)")

    _command(sub, "down", cmd_down, "stop the lab")
    _command(sub, "status", cmd_status, "show what runs (exit 3 if something is down)")

    reset = _command(sub, "reset", cmd_reset, "stop, delete all lab data, start again")
    reset.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    _profile_option(reset)

    logs = _command(sub, "logs", cmd_logs, "print a component's log")
    names = sorted({c.name for c in stack.COMPONENTS})
    logs.add_argument("component", nargs="?", choices=names, help="default: all")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=_non_negative_int, default=50, metavar="N")

    doc = _command(sub, "doctor", cmd_doctor, "check that this machine can run the lab")
    _profile_option(doc)

    broker = _command(sub, "broker", cmd_broker, "stop or start one emulated Kafka broker")
    broker.add_argument("action", choices=["stop", "start"])
    broker.add_argument("node_id", type=_positive_int, metavar="N", help="broker id (1..N)")

    grade = _command(sub, "grade", cmd_grade, "grade notebooks or folders of submissions")
    grade.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="a learner's notebook(s), or folders with one subfolder per learner",
    )
    grade.add_argument(
        "--out",
        type=Path,
        default=Path("grades"),
        help="where grades.csv, grades.html and executed notebooks go",
    )
    _command(sub, "progress", cmd_progress, "show which exercises you have done")

    sub.add_parser(
        "lambda", help="functions, logs, invoke, event source mappings, scaling", add_help=False
    )  # dispatched in main() before parsing
    sub.add_parser(
        "pipeline",
        help="the application: seed, apply ksql/, deploy lambda_fn, watch counts",
        add_help=False,
    )  # dispatched in main() before parsing
    sub.add_parser(
        "cloud",
        help="provision or delete Confluent Cloud + AWS, the `cloud` profile (plan first)",
        add_help=False,
    )  # dispatched in main() before parsing
    sub.add_parser(
        "datagen",
        help="generate Datagen quickstart data (stock_trades, users, rides, logins)",
        add_help=False,
    )  # dispatched in main() before parsing
    return parser


# --- commands -----------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    lab = Stack(_settings(args.profile))
    _start(lab, args.brokers)
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    lab = Stack(_settings(None))
    for result in lab.down():
        if result.was_running:
            how = "killed after it ignored SIGTERM" if result.killed else "stopped"
            print(f"{result.name}: {how} (pid {result.pid})")
        else:
            print(f"{result.name}: was not running")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    lab = Stack(_settings(None))
    statuses = _print_status(lab)
    up = statuses and all(s.state is State.RUNNING for s in statuses)
    return EXIT_OK if up else EXIT_DOWN


def cmd_broker(args: argparse.Namespace) -> int:
    """A fault-tolerance lesson: partitions led by the stopped broker move to a live replica
    (or go offline when their replication factor is 1), as on a real cluster."""
    from streamlab.kafka.observe import ObserveClient, ObserveError

    settings = _settings(None)
    state = stack.running_state(settings, "kafka")
    url = (state or {}).get("endpoints", {}).get("observability")
    if url is None:
        raise StreamlabError("the emulated Kafka cluster is not running; start it: streamlab up")
    client = ObserveClient(url)
    try:
        act = client.stop_broker if args.action == "stop" else client.start_broker
        cluster = act(args.node_id)
    except ObserveError as e:
        raise StreamlabError(f"cannot {args.action} broker {args.node_id}: {e.message}") from None
    for b in cluster["brokers"]:
        print(f"broker {b['id']} {b['host']}:{b['port']}: {'up' if b['alive'] else 'DOWN'}")
    return EXIT_OK


def cmd_grade(args: argparse.Namespace) -> int:
    from streamlab.grading import grade

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise StreamlabError(f"nothing to grade at {', '.join(missing)}: no such file or folder")
    print(grade(args.paths, args.out))
    return EXIT_OK


def cmd_progress(args: argparse.Namespace) -> int:
    from streamlab.grading import progress

    print(progress())
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    lab = Stack(_settings(args.profile))
    data = lab.paths.data
    if not args.yes and not _confirm(
        f"This stops the lab and deletes everything in {data} (topics, offsets, groups, "
        "queries, functions). Continue?"
    ):
        print("reset cancelled; nothing changed.")
        return EXIT_ERROR
    lab.down()
    # Delete only the data folder of the lab home: config, credentials and logs stay.
    if data.is_dir() and data.name == "data" and data.parent == lab.paths.home:
        shutil.rmtree(data)
    print(f"stopped the lab and deleted {data}; starting it again")
    _start(lab, brokers=None)
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    lab = Stack(_settings(None))
    names = [args.component] if args.component else sorted({c.name for c in stack.COMPONENTS})
    present = {
        f"{name}/{path.name}" if path != lab.paths.log_file(name) else name: path
        for name in names
        for path in lab.log_files(name)
        if path.exists()
    }
    if not present:
        wanted = args.component or "any component"
        raise StreamlabError(
            f"no log for {wanted} in {lab.paths.logs}; start the lab with `streamlab up`"
        )
    for label, path in present.items():
        if len(present) > 1:
            print(f"==> {label} ({path}) <==")
        for line in stack.tail_lines(path, args.lines):
            print(line)
    if args.follow:
        _follow(present)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = doctor.run_checks(_settings(args.profile, prefer_running=False))
    for check in checks:
        print(check.line())
    failed = sum(c.level is doctor.Level.FAIL for c in checks)
    if failed:
        print(f"{failed} check(s) failed; fix them and run `streamlab doctor` again.")
        return EXIT_ERROR
    return EXIT_OK


def _start(lab: Stack, brokers: int | None) -> None:
    began = time.monotonic()
    started = lab.up(brokers=brokers)
    took = time.monotonic() - began
    statuses = lab.status()
    for s in statuses:
        if s.state is not State.RUNNING:
            raise StreamlabError(
                f"{s.name} is {s.state.value} after start; see `streamlab logs {s.name}`"
            )
    if started:
        _print_up(lab, statuses, took)
    else:
        print(f"streamlab is already running (profile {lab.settings.profile.name!r}).")
        _print_status(lab)


# --- output -------------------------------------------------------------------------------------


def _print_up(lab: Stack, statuses: list[ComponentStatus], took: float) -> None:
    print(f"streamlab is up (profile {lab.settings.profile.name!r}, healthy after {took:.1f} s)")
    for s in statuses:
        for label, value in s.endpoints.items():
            print(f"  {s.name:<8} {label:<14} {value}")
    print(f"  {'data':<23} {lab.paths.data}")
    print(f"  {'logs':<23} {lab.paths.logs}  (streamlab logs)")
    print("Stop it with: streamlab down")


def _print_status(lab: Stack) -> list[ComponentStatus]:
    statuses = lab.status()
    profile = next((s.profile for s in statuses if s.profile), lab.settings.profile.name)
    print(f"profile {profile!r}, lab home {lab.paths.home}")
    rows = [("COMPONENT", "STATE", "PID", "PORTS", "UPTIME", "MEMORY")]
    for s in statuses:
        live = s.state in (State.RUNNING, State.UNHEALTHY)
        rows.append(
            (
                s.name,
                s.state.value,
                str(s.pid) if live else "-",
                " ".join(map(str, s.ports)) if live else "-",
                _duration(s.uptime) if s.uptime is not None else "-",
                f"{s.rss / 1024**2:.1f} MB" if s.rss is not None else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for s in statuses:
        if s.state is State.CRASHED:
            print(f"{s.name} crashed (pid {s.pid} is gone): see `streamlab logs {s.name}`, "
                  "then `streamlab up`")  # fmt: skip
        elif s.state is State.UNHEALTHY:
            print(f"{s.name} runs but fails its health check: see `streamlab logs {s.name}`")
    return statuses


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


# --- helpers ------------------------------------------------------------------------------------


def _settings(profile: str | None, prefer_running: bool = True) -> Settings:
    """Settings for ``--profile``; without it, the profile of the lab that runs, if any."""
    settings = config.load(profile=profile)
    if profile is None and prefer_running:
        running = Stack(settings).running_profile()
        if running and running != settings.profile.name:
            settings = config.load(profile=running)
    return settings


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise StreamlabError("reset needs confirmation; run `streamlab reset --yes`")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _follow(files: dict[str, Path]) -> None:
    """Print lines appended to ``files`` until Ctrl-C; survives log rotation on restart."""
    prefix = len(files) > 1
    handles = {name: _open_at_end(path) for name, path in files.items()}
    try:
        while True:
            for name, path in files.items():
                handle = handles[name]
                for line in handle.readlines():
                    print(f"{name} | {line}" if prefix else line, end="", flush=True)
                if _rotated(handle, path):
                    handle.close()
                    handles[name] = path.open(errors="replace")
            time.sleep(0.25)
    except KeyboardInterrupt:
        pass
    finally:
        for handle in handles.values():
            handle.close()


def _open_at_end(path: Path):
    handle = path.open(errors="replace")
    handle.seek(0, 2)
    return handle


def _rotated(handle, path: Path) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except OSError:
        return False


def _command(sub, name: str, run: Callable[[argparse.Namespace], int], help_: str):
    parser = sub.add_parser(name, help=help_, description=help_)
    parser.set_defaults(run=run)
    return parser


def _profile_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        choices=list(config.PROFILES),
        help=f"default: ${config.ENV_PROFILE}, then config.toml, then emulated",
    )


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def _non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
