"""Fixtures for the registry tests: each integration test gets its own broker and registry
processes on free ports (never 9092/8081); unit tests use a MemoryStore and no processes."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from registry_helpers import InProcessRegistry

from streamlab.kafka.testing import ClusterProcess
from streamlab.registry.testing import RegistryProcess


@pytest.fixture
def kafka(tmp_path):
    with ClusterProcess(str(tmp_path / "kafka")) as cluster:
        yield cluster


@pytest.fixture
def registry(kafka, tmp_path):
    with RegistryProcess(str(tmp_path / "registry"), kafka.bootstrap) as process:
        yield process


@pytest.fixture
def client(registry):
    with SchemaRegistryClient({"url": registry.url}) as sr:
        yield sr


@pytest.fixture
def inproc():
    with InProcessRegistry() as server:
        yield server
