"""Compile the .proto files in this folder into Python modules (``*_pb2.py`` and ``*_pb2.pyi``).

    python lambda_fn/proto/generate.py            # rewrite the committed modules
    python lambda_fn/proto/generate.py --check    # exit 1 if they are out of date
    python lambda_fn/proto/generate.py --out DIR  # write somewhere else

It runs the protoc bundled with grpcio-tools, exactly as this command would from the project root:

    python -m grpc_tools.protoc -I lambda_fn/proto --python_out=lambda_fn/proto \\
        --pyi_out=lambda_fn/proto lambda_fn/proto/trade_settlement.proto

The output depends only on the .proto text and the grpcio-tools version, so the same pins give the
same bytes; tests/unit/test_proto_current.py relies on that. See README.md here for the pins.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def protos() -> list[Path]:
    return sorted(HERE.glob("*.proto"))


def outputs(proto: Path) -> list[str]:
    return [f"{proto.stem}_pb2.py", f"{proto.stem}_pb2.pyi"]


def generate(out: Path) -> list[Path]:
    """Compile every .proto here into ``out``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = protos()
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{HERE}",  # names in the output ("source: x.proto") are relative to this
        f"--python_out={out}",
        f"--pyi_out={out}",
        *map(str, files),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        hint = ""
        if "No module named grpc_tools" in done.stderr:
            hint = " (install the dev dependencies: grpcio-tools is missing)"
        raise SystemExit(f"protoc failed{hint}:\n{done.stderr.strip()}")
    return [out / name for proto in files for name in outputs(proto)]


def stale() -> list[str]:
    """Committed modules that differ from a fresh compile (empty when all are current)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        return [
            f.name
            for f in fresh
            if not (HERE / f.name).exists() or not filecmp.cmp(f, HERE / f.name, shallow=False)
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    parser.add_argument("--check", action="store_true", help="only check the committed files")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for name in bad:
            print(f"{name} is out of date; run: python {Path(__file__).name}", file=sys.stderr)
        return 1 if bad else 0
    for path in generate(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
