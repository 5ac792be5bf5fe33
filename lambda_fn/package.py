"""Build the deployable zip: ``python -m lambda_fn.package --out dist/lambda.zip [--arch arm64]``.

The zip's root holds the ``lambda_fn`` package (handler ``lambda_fn.handler.handler``, with
``proto/`` and its committed generated module) and the third-party packages the Lambda Python
runtime lacks, as manylinux wheels for the chosen architecture, unpacked::

    pip download --only-binary=:all: --platform manylinux_2_28_x86_64 \
        --platform manylinux2014_x86_64 --python-version 3.12 \
        --implementation cp confluent-kafka[protobuf]==... protobuf==... -d <tmp>

(boto3 is in the runtime already.) The versions are the project's pins, read from the installed
distributions, so the function runs what the tests ran.

If pip cannot fetch the wheels (offline, no index), the build says so and, with
``--allow-no-deps``, makes a zip with the function code only; without that flag it fails.
``--no-deps`` skips the download on purpose. A code-only zip fails on AWS *and* on the lab's
emulator with ``Runtime.ImportModuleError`` (its environments see only the zip, awslambdaric and
the SDK, as on AWS); the lab builds its emulator zips with
:func:`streamlab.awslambda.deployment_package.vendor`, which copies the packages installed for
this interpreter instead of downloading Python 3.12 wheels.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
HANDLER = "lambda_fn.handler.handler"
# Lambda's Python 3.12+ runtimes run Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels work
# there, and recent confluent-kafka releases ship only those; older packages use manylinux2014.
PLATFORMS = {
    "x86_64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
    "arm64": ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
}
REQUIREMENTS = ("confluent-kafka", "protobuf", "googleapis-common-protos")
EXCLUDE_DIRS = {"__pycache__"}


class PackageError(RuntimeError):
    pass


@dataclass
class BuildResult:
    path: Path
    files: int
    dependencies: list[str] = field(default_factory=list)
    note: str = ""


def pins() -> list[str]:
    out = []
    for name in REQUIREMENTS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            out.append(name)
            continue
        extra = "[protobuf]" if name == "confluent-kafka" else ""
        out.append(f"{name}{extra}=={version}")
    return out


def download_wheels(dest: Path, arch: str, python: str = "3.12") -> list[Path]:
    """Download the manylinux wheels into ``dest``; PackageError if pip cannot."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", *(a for tag in PLATFORMS[arch] for a in ("--platform", tag)),
        "--python-version", python,
        "--implementation", "cp", "-d", str(dest), *pins(),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PackageError("pip download failed: " + " | ".join(tail))
    return sorted(dest.glob("*.whl"))


def _add_tree(zf: zipfile.ZipFile, root: Path, prefix: str) -> int:
    n = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or EXCLUDE_DIRS & set(rel.parts) or path.suffix == ".pyc":
            continue
        zf.write(path, f"{prefix}/{rel.as_posix()}" if prefix else rel.as_posix())
        n += 1
    return n


def build(
    out: Path, arch: str = "x86_64", *, deps: bool = True, allow_no_deps: bool = False
) -> BuildResult:
    if arch not in PLATFORMS:
        raise PackageError(f"arch must be one of {', '.join(PLATFORMS)}, got {arch!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    note = ""
    with tempfile.TemporaryDirectory() as tmp:
        if deps:
            try:
                wheels = download_wheels(Path(tmp), arch)
            except (PackageError, subprocess.TimeoutExpired, OSError) as e:
                if not allow_no_deps:
                    raise PackageError(
                        f"{e}. Without network access to the package index, build with "
                        "--allow-no-deps (function code only: its imports fail on AWS and on the "
                        "lab's emulator) or --no-deps."
                    ) from e
                note = f"dependencies NOT included ({e}): add them before deploying"
        else:
            note = "dependencies not included (--no-deps): add them before deploying"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            files = _add_tree(zf, HERE, "lambda_fn")
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as w:
                    for info in w.infolist():
                        if info.is_dir():
                            continue
                        zf.writestr(info, w.read(info))
                        files += 1
    return BuildResult(out, files, [w.name for w in wheels], note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lambda_fn.package", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("dist/lambda.zip"))
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="x86_64")
    parser.add_argument("--no-deps", action="store_true", help="function code only")
    parser.add_argument(
        "--allow-no-deps", action="store_true", help="fall back to code only if pip fails"
    )
    args = parser.parse_args(argv)
    try:
        result = build(args.out, args.arch, deps=not args.no_deps, allow_no_deps=args.allow_no_deps)
    except PackageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{result.path}: {result.files} files, handler {HANDLER}, arch {args.arch}")
    for name in result.dependencies:
        print(f"  + {name}")
    if result.note:
        print(f"  note: {result.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
