"""``python -m streamlab.ksql.qtt PATH``: run a QTT folder and print pass counts per tag.

Exits 0 unless the runner itself crashes (a case that crashes the engine is a failed case).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from streamlab.ksql.qtt.loader import load_suite
from streamlab.ksql.qtt.report import Summary, write_expected_failures
from streamlab.ksql.qtt.runner import run_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamlab.ksql.qtt", description=__doc__)
    parser.add_argument("path", type=Path, help="folder with cases/ and manifest.json")
    parser.add_argument("-k", "--filter", default="", help="only cases whose id contains this")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failure")
    parser.add_argument(
        "--write-expected-failures",
        type=Path,
        metavar="FILE",
        help="write the currently failing cases to FILE (TOML)",
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    cases = [c for c in load_suite(args.path) if args.filter in c.case_id]
    results = [run_case(case) for case in cases]
    elapsed = time.monotonic() - started

    if args.verbose:
        for result in results:
            if not result.passed:
                print(f"FAIL {result.case.case_id}: {result.reason}")
                if result.details:
                    print("    " + result.details.replace("\n", "\n    "))
    summary = Summary.of(results)
    for line in summary.lines():
        print(line)
    print(f"{len(results)} cases in {elapsed:.1f}s; {summary.crashed} crashed")
    if args.write_expected_failures:
        write_expected_failures(args.write_expected_failures, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
