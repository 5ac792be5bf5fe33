"""Fixtures for the datagen tests: one emulated broker per module, on free ports."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from streamlab.kafka.testing import ClusterProcess

_names = itertools.count(1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcess]:
    with ClusterProcess(str(tmp_path_factory.mktemp("kafka"))) as c:
        yield c


@pytest.fixture
def conf(cluster: ClusterProcess) -> dict[str, Any]:
    return {"bootstrap.servers": cluster.bootstrap}


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses."""
    return f"dg-{re.sub(r'[^a-zA-Z0-9._-]', '-', request.node.name[:40])}-{next(_names)}"
