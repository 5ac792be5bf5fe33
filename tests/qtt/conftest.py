"""Prints the QTT per-tag summary at the end of a session that ran tests/qtt."""

from __future__ import annotations

import pytest
from qtt_helpers import RESULTS, all_results

from streamlab.ksql.qtt.report import Summary


@pytest.fixture(scope="session")
def qtt_results():
    return all_results()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not RESULTS:
        return
    terminalreporter.section("ksqlDB QTT pass counts per feature tag")
    for line in Summary.of(list(RESULTS.values())).lines():
        terminalreporter.write_line(line)
