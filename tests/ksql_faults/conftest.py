"""The cluster under the engine: the emulated broker, and real Apache Kafka 4.1.1 (Maven jars),
one of each per session, both child processes on free ports."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from streamlab import realkafka
from streamlab.kafka.testing import ClusterProcess

ENABLE_HINT = "install Java 17+ and Maven 3 (CI has both) to run the realkafka params"


class Cluster(NamedTuple):
    kind: str  # "emulator" or "realkafka"
    bootstrap: str


@pytest.fixture(
    scope="session",
    params=["emulator", pytest.param("realkafka", marks=pytest.mark.realkafka)],
)
def cluster(request, tmp_path_factory):
    """A running cluster."""
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "emulator":
        with ClusterProcess(str(tmp)) as broker:
            yield Cluster("emulator", broker.bootstrap)
        return
    ok, reason = realkafka.available()
    if not ok:
        pytest.skip(f"real Kafka unavailable: {reason} -- {ENABLE_HINT}")
    broker = realkafka.RealKafka(tmp)
    try:
        broker.start(timeout=80)
    except realkafka.RealKafkaUnavailable as error:
        pytest.skip(f"real Kafka unavailable: {error} -- {ENABLE_HINT}")
    try:
        yield Cluster("realkafka", broker.bootstrap)
    finally:
        broker.stop()
