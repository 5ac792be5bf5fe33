"""Prints the QTT per-tag summary at the end of a session that ran tests/qtt. Under pytest-xdist
the worker that ran them hands the section to the controller (see tests/conftest.py)."""

from __future__ import annotations

import pytest
from qtt_helpers import RESULTS, all_results

from streamlab.ksql.qtt.report import Summary

TITLE = "ksqlDB QTT pass counts per feature tag"


@pytest.fixture(scope="session")
def qtt_results():
    return all_results()


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and RESULTS:
        sections = workeroutput.setdefault("summary_sections", {})
        sections[TITLE] = Summary.of(list(RESULTS.values())).lines()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not RESULTS:
        return
    terminalreporter.section(TITLE)
    for line in Summary.of(list(RESULTS.values())).lines():
        terminalreporter.write_line(line)
