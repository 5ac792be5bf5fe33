"""ksqlDB's own query-validation tests against our engine.

Every manifest case must pass unless ``expected_failures.toml`` lists it (with a reason); a
listed case that passes fails this test too, so the list only ever shrinks.
"""

from __future__ import annotations

import pytest
from qtt_helpers import EXPECTED_FAILURES, QTT_DIR, qtt_cases

from streamlab.ksql.qtt.report import load_expected_failures

CASES = qtt_cases()
EXPECTED = load_expected_failures(EXPECTED_FAILURES)

pytestmark = pytest.mark.skipif(not CASES, reason=f"no QTT cases found in {QTT_DIR}")


def test_expected_failures_are_manifest_cases() -> None:
    ids = {c.case_id for c in CASES}
    unknown = sorted(set(EXPECTED) - ids)
    assert not unknown, f"expected_failures.toml lists cases not in the manifest: {unknown}"


@pytest.mark.parametrize("case_id", [c.case_id for c in CASES])
def test_qtt_case(case_id: str, qtt_results) -> None:
    result = qtt_results[case_id]
    assert not result.crashed or case_id in EXPECTED, (
        f"the engine crashed on {case_id}: {result.reason}\n{result.details}"
    )
    if case_id in EXPECTED:
        if result.passed:
            pytest.fail(f"{case_id} now passes: remove it from expected_failures.toml")
        pytest.xfail(EXPECTED[case_id])
    assert result.passed, f"{case_id} (regression): {result.reason}\n{result.details}"
