"""Locating and running the QTT suite for tests/qtt (shared by conftest and the tests).

The QTT folder is ``../shared/qtt`` next to the repository, or ``$STREAMLAB_QTT_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamlab.ksql.qtt.loader import QttCase, load_suite
from streamlab.ksql.qtt.runner import CaseResult, run_case

HERE = Path(__file__).resolve().parent
QTT_DIR = Path(os.environ.get("STREAMLAB_QTT_DIR", HERE.parents[2] / "shared" / "qtt"))
EXPECTED_FAILURES = HERE / "expected_failures.toml"

RESULTS: dict[str, CaseResult] = {}


def qtt_cases() -> list[QttCase]:
    if not (QTT_DIR / "manifest.json").exists():
        return []
    return load_suite(QTT_DIR)


def required_qtt_cases() -> list[QttCase]:
    """The suite for tests that check the engine on it: missing is a failure, not a skip."""
    cases = qtt_cases()
    if not cases:
        pytest.fail(
            f"no QTT suite at {QTT_DIR} (../shared/qtt next to the repository, or set "
            "STREAMLAB_QTT_DIR)"
        )
    return cases


def all_results() -> dict[str, CaseResult]:
    """Run every case once per session (about a second for the whole manifest)."""
    if not RESULTS:
        for case in qtt_cases():
            RESULTS[case.case_id] = run_case(case)
    return RESULTS
