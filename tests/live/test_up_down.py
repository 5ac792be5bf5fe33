"""`up` then `down` end to end against the fake Confluent Cloud and moto: order, waits,
idempotent re-runs, and a teardown that leaves nothing behind."""

from __future__ import annotations

import json
import tomllib

import pytest

from setup.cloud.settings import TOPICS, CloudSettings
from tests.live.conftest import Live

MANAGEMENT_ORDER = [
    "/org/v2/environments",
    "/cmk/v2/clusters",
    "/iam/v2/service-accounts",
    "/iam/v2/role-bindings",
    "/iam/v2/api-keys",
    "/kafka/v3/clusters/",
    "/connect/v1/",
    "/ksqldbcm/v2/clusters",
    "/ksql",
]


def first_post(live: Live, prefix: str) -> int:
    return next(
        i for i, (m, p) in enumerate(live.fake.calls) if m == "POST" and p.startswith(prefix)
    )


def test_up_creates_everything_in_order_and_down_removes_it(live_managed: Live) -> None:
    live = live_managed  # with AWS's real managed policy, as on AWS
    state = live.deployment().up()

    firsts = [first_post(live, prefix) for prefix in MANAGEMENT_ORDER]
    assert firsts == sorted(firsts), "resources are created in dependency order"
    fake = live.fake
    assert len(fake.envs) == len(fake.clusters) == len(fake.ksqls) == len(fake.accounts) == 1
    env = next(iter(fake.envs.values()))
    assert env["stream_governance_config"] == {"package": "ESSENTIALS"}
    cluster = next(iter(fake.clusters.values()))
    assert cluster["spec"]["config"] == {"kind": "Basic"}
    assert cluster["spec"]["region"] == "us-east-1"
    assert next(iter(fake.ksqls.values()))["spec"]["csu"] == 1
    assert sorted(fake.topics[cluster["id"]]) == sorted(TOPICS)
    assert {b["role_name"] for b in fake.bindings.values()} == {
        "CloudClusterAdmin",
        "ResourceOwner",
        "KsqlAdmin",
    }
    configs = {name: c["config"] for (_, name), c in fake.connectors.items()}
    assert {c["quickstart"]: c["kafka.topic"] for c in configs.values()} == {
        "STOCK_TRADES": "stocktrade",
        "USERS": "users",
    }
    assert all(c["output.data.format"] == "JSON" for c in configs.values())
    assert set(next(iter(fake.ksql_objects.values()))) >= {"STOCKTRADE", "USERS", "USER_TRADES"}

    # AWS: the secret carries what lambda_fn.config needs; the mapping reads user_trades.
    c = live.clients
    secret = json.loads(c.secrets.get_secret_value(SecretId="wk-test01/settlement")["SecretString"])
    bootstrap = state["kafka_cluster"]["bootstrap"]
    assert "://" not in bootstrap
    assert secret["bootstrap.servers"] == bootstrap
    assert secret["username"] == state["kafka_key"]["id"]
    assert secret["schema.registry.url"] == state["schema_registry"]["url"]
    fn = c.lam.get_function(FunctionName="wk-test01-settlement")["Configuration"]
    assert fn["Handler"] == "lambda_fn.handler.handler"
    assert fn["Environment"]["Variables"]["SECRET_NAME"] == "wk-test01/settlement"
    policies = c.iam.list_attached_role_policies(RoleName="wk-test01-settlement-role")
    assert [p["PolicyName"] for p in policies["AttachedPolicies"]] == [
        "AWSLambdaBasicExecutionRole"
    ]
    inline = c.iam.get_role_policy(RoleName="wk-test01-settlement-role",
                                   PolicyName="read-settlement-secret")  # fmt: skip
    assert inline["PolicyDocument"]["Statement"][0]["Resource"] == state["secret"]["arn"]
    assert c.logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 1
    (params,) = live.mappings.created
    assert params["Topics"] == ["user_trades"]
    assert params["SelfManagedEventSource"] == {
        "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}
    }
    assert params["SourceAccessConfigurations"] == [
        {"Type": "BASIC_AUTH", "URI": state["secret"]["arn"]}
    ]
    assert params["SelfManagedKafkaEventSourceConfig"] == {
        "ConsumerGroupId": "wk-test01-user_trades"
    }
    assert "ProvisionedPollerConfig" not in params  # billed

    profile = tomllib.loads(live.profile_path.read_text())
    assert profile["profiles"]["cloud"]["bootstrap"] == bootstrap
    assert profile["profiles"]["cloud"]["aws_region"] == "us-east-1"
    assert profile["credentials"]["cloud"]["kafka_api_key"] == state["kafka_key"]["id"]

    live.lines.clear()
    assert live.deployment().down() == []
    assert fake.leftovers() == {}
    assert live.mappings.items == {}
    assert c.iam.list_roles()["Roles"] == []
    assert c.secrets.list_secrets()["SecretList"] == []
    assert c.lam.list_functions()["Functions"] == []
    assert c.logs.describe_log_groups()["logGroups"] == []
    assert not live.state_path.exists() and not live.profile_path.exists()
    order = [line.split()[1] for line in live.lines if line.startswith("deleting ")]
    assert order[:2] == ["mapping", "function"]
    assert order.index("connector") < order.index("ksql_cluster") < order.index("kafka_cluster")
    assert order.index("service_account") < order.index("environment") < order.index("iam_role")
    assert "verified gone" in live.lines[-1]


def test_waits_poll_until_provisioned(live: Live) -> None:
    live.deployment().up()
    cluster_reads = [
        p for m, p in live.fake.calls if m == "GET" and p.startswith("/cmk/v2/clusters/")
    ]
    assert len(cluster_reads) == live.fake.provisioning_reads + 1  # PROVISIONING, then PROVISIONED
    assert live.clock.slept, "waited between polls"
    out = live.output()
    assert "PROVISIONING" in out and "not yet accepted" in out  # progress is shown
    # A new key is only trusted after two accepted calls in a row (key sync).
    topic_reads = [p for m, p in live.fake.calls if m == "GET" and p.endswith("/topics")]
    assert len(topic_reads) >= live.fake.key_sync_reads + 2


def test_up_twice_creates_nothing_new(live: Live) -> None:
    live.deployment().up()
    posts = [c for c in live.fake.calls if c[0] == "POST" and c[1] != "/ksql"]
    live.deployment().up()
    again = [c for c in live.fake.calls if c[0] == "POST" and c[1] != "/ksql"]
    assert again == posts
    assert live.zips_built == 1
    assert len(live.mappings.created) == 1
    assert "exists" in live.output()  # the ksql runner reports what it did not resend


def test_down_twice_is_fine(live: Live) -> None:
    live.deployment().up()
    live.deployment().down()
    live.lines.clear()
    assert live.deployment().down() == []
    assert "nothing to delete" in live.output()


def test_status_lists_what_exists(live: Live) -> None:
    live.deployment().up()
    rows = {kind: state for kind, _, state in live.deployment().status()}
    assert rows["kafka_cluster"] == rows["ksql_cluster"] == "PROVISIONED"
    assert rows["connector"] == "RUNNING"
    assert rows["mapping"] == "Enabled"
    assert rows["function"] == "Active"
    assert rows["secret"] == rows["iam_role"] == "exists"


def test_a_different_region_for_an_existing_run_is_refused(live: Live) -> None:
    live.deployment().up()
    with pytest.raises(Exception, match="was created in us-east-1; a Kafka cluster cannot move"):
        live.deployment(CloudSettings(name="wk-test01", region="eu-west-1")).up()
