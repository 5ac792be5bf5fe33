"""setup/docker/compose.yaml, checked without a Docker daemon: pinned images, ports on
127.0.0.1 only that match the `docker` profile, healthchecks and start order, KRaft settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from streamlab.config import DEFAULT_PORTS

COMPOSE = Path(__file__).resolve().parents[2] / "setup" / "docker" / "compose.yaml"


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_the_three_real_systems(services: dict) -> None:
    assert set(services) == {"broker", "schema-registry", "ksqldb-server"}


def test_images_are_pinned(services: dict) -> None:
    for name, svc in services.items():
        image, _, tag = svc["image"].rpartition(":")
        assert image and re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{name}: pin a version, not {tag!r}"


def test_ports_are_bound_to_localhost_only_and_match_the_profile(services: dict) -> None:
    wanted = {"broker": DEFAULT_PORTS["kafka"], "schema-registry": DEFAULT_PORTS["registry"],
              "ksqldb-server": DEFAULT_PORTS["ksql"]}  # fmt: skip
    for name, svc in services.items():
        ports = svc["ports"]
        assert all(isinstance(p, str) and p.startswith("127.0.0.1:") for p in ports), name
        assert [int(p.split(":")[1]) for p in ports] == [wanted[name]]


def test_every_service_has_a_healthcheck_and_waits_for_its_dependencies(services: dict) -> None:
    for name, svc in services.items():
        check = svc["healthcheck"]
        assert check["test"][0] == "CMD" and len(check["test"]) > 1, name
        assert check["retries"] >= 3
    assert services["schema-registry"]["depends_on"] == {"broker": {"condition": "service_healthy"}}
    assert services["ksqldb-server"]["depends_on"] == {
        "broker": {"condition": "service_healthy"},
        "schema-registry": {"condition": "service_healthy"},
    }


def test_kafka_is_a_single_kraft_node_advertising_what_clients_reach(services: dict) -> None:
    env = services["broker"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@broker:29093"
    advertised = dict(a.split("://") for a in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["PLAINTEXT_HOST"] == f"127.0.0.1:{DEFAULT_PORTS['kafka']}"
    assert advertised["PLAINTEXT"] == "broker:29092"
    listeners = {a.split("://")[0] for a in env["KAFKA_LISTENERS"].split(",")}
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert listeners == set(protocols)
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):  # fmt: skip
        assert env[key] == 1, key  # one node: the default of 3 would never be met


def test_registry_and_ksqldb_use_the_internal_listener(services: dict) -> None:
    sr = services["schema-registry"]["environment"]
    ksql = services["ksqldb-server"]["environment"]
    assert sr["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"] == "broker:29092"
    assert ksql["KSQL_BOOTSTRAP_SERVERS"] == "broker:29092"
    assert ksql["KSQL_KSQL_SCHEMA_REGISTRY_URL"] == "http://schema-registry:8081"
