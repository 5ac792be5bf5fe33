"""python -m setup.cloud plan|up|down|status  (see README.md)

plan     the ordered steps and an hourly cost estimate; offline, creates nothing
up       provision Confluent Cloud and AWS, write the `cloud` profile (asks; --yes skips)
down     delete everything, in order, and verify it is gone (asks; --yes skips)
status   what the state file records and what each resource reports now
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from setup.cloud.plan import render
from setup.cloud.settings import CloudSettings, cloud_credentials, new_name
from setup.cloud.state import PROFILE_NAME, STATE_NAME, State
from streamlab.config import StreamlabError, lab_home


def build_parser(prog: str = "python -m setup.cloud") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="The live path: Confluent Cloud + AWS Lambda (setup/cloud/README.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    parser.add_argument("command", choices=("plan", "up", "down", "status"))
    parser.add_argument("--region", help="AWS region for the cluster and the function "
                        "(default us-east-1, or the run's)")  # fmt: skip
    parser.add_argument("--name", help="run name, prefix of every display name (default: the "
                        "state file's, else wk-<random>)")  # fmt: skip
    parser.add_argument("--partitions", type=int, default=1, help="partitions per topic")
    parser.add_argument("--csu", type=int, default=1, help="ksqlDB size (billed per CSU-hour)")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    return parser


def _settings(args: argparse.Namespace, state: State) -> CloudSettings:
    name = args.name or state.get("name") or new_name()
    region = args.region or state.get("region") or "us-east-1"
    return CloudSettings(name=name, region=region, partitions=args.partitions, csu=args.csu)


def _confirm(question: str, ask: Callable[[str], str]) -> bool:
    if ask is input and (not sys.stdin or not sys.stdin.isatty()):
        return False  # no one to answer: never create or delete by default
    try:
        return ask(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def make_deployment(settings: CloudSettings, state: State, profile: Path):
    """The real clients (tests build a Deployment with fakes instead)."""
    from setup.cloud.aws import Aws, AwsClients
    from setup.cloud.confluent import ConfluentCloud
    from setup.cloud.deploy import Deployment

    key, secret = cloud_credentials()
    return Deployment(
        settings, ConfluentCloud(key, secret), Aws(AwsClients.for_region(settings.region)), state,
        profile,
    )  # fmt: skip


def main(
    argv: list[str] | None = None,
    prog: str = "python -m setup.cloud",
    deployment_factory: Callable = make_deployment,
    ask: Callable[[str], str] = input,
) -> int:
    args = build_parser(prog).parse_args(argv)
    home = lab_home()
    try:
        state = State(home / STATE_NAME)
        settings = _settings(args, state).validate()
        if args.command == "plan":
            print(render(settings))
            return 0
        if args.command in ("up", "down") and not args.yes:
            if args.command == "up":
                print(render(settings))
                question = "\nCreate these resources (billed until `down`)?"
            else:
                question = f"Delete everything of run {settings.name!r} (no undo)?"
            if not _confirm(question, ask):
                print(f"nothing done (pass --yes to {args.command} without this question)")
                return 1
        if args.command == "status" and not state.data:
            print(f"nothing recorded ({state.path} does not exist): nothing was created from here")
            return 0
        deployment = deployment_factory(settings, state, home / PROFILE_NAME)
        if args.command == "up":
            deployment.up()
        elif args.command == "down":
            deployment.down()
        else:
            print(f"run {settings.name!r} in {settings.region} ({state.path}):")
            for kind, ident, live in deployment.status():
                print(f"{kind:<16} {ident:<40} {live}")
        return 0
    except StreamlabError as e:
        print(f"setup.cloud: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "setup.cloud: interrupted; what was created is recorded: `up` carries on, `down` "
            "removes it",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
