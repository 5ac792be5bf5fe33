"""Fixtures: one emulated broker and one ksql server per module (both child processes on
free ports); helpers are in ``_helpers``."""

from __future__ import annotations

import pytest

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.testing import KsqlProcess


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    with ClusterProcess(str(tmp_path_factory.mktemp("kafka"))) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def ksql(kafka, tmp_path_factory):
    with KsqlProcess(str(tmp_path_factory.mktemp("ksql")), kafka.bootstrap) as server:
        yield server
