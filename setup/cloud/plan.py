"""What ``up`` will do, as data: the ordered steps and an hourly cost estimate. Pure and offline,
so ``plan`` is the dry run and a test can read the order."""

from __future__ import annotations

from dataclasses import dataclass

from setup.cloud import costs
from setup.cloud.settings import DATAGEN, TOPICS, CloudSettings


@dataclass(frozen=True)
class Step:
    key: str  # the step's name in deploy.Deployment and in the state file
    system: str  # Confluent Cloud | Kafka | ksqlDB | AWS | local
    action: str
    waits_for: str = ""
    per_hour: float = 0.0  # USD while it exists (estimate, costs.py)


def steps(s: CloudSettings) -> list[Step]:
    connectors = ", ".join(f"{q} -> {t}" for q, t in DATAGEN.items())
    return [
        Step("environment", "Confluent Cloud",
             f"environment {s.name!r} (Stream Governance ESSENTIALS: turns on Schema Registry)",
             per_hour=costs.SCHEMA_REGISTRY_PER_HOUR),
        Step("kafka_cluster", "Confluent Cloud",
             f"Basic Kafka cluster {s.cluster_name!r}, single zone, AWS {s.region}",
             "status.phase PROVISIONED", costs.KAFKA_BASIC_PER_HOUR),
        Step("schema_registry", "Confluent Cloud", "the environment's Schema Registry cluster",
             "status.phase PROVISIONED"),
        Step("service_account", "Confluent Cloud",
             f"service account {s.service_account_name!r}"),
        Step("role_bindings", "Confluent Cloud",
             "role bindings: CloudClusterAdmin on the cluster, ResourceOwner on subjects"),
        Step("api_keys", "Confluent Cloud",
             "API keys for Kafka and Schema Registry, owned by the service account",
             "the key works: two 200s in a row (about 2 min)"),
        Step("topics", "Kafka",
             f"topics {', '.join(TOPICS)} ({s.partitions} partition(s) each)"),
        Step("connectors", "Confluent Cloud",
             f"Datagen source connectors {connectors} "
             f"(JSON, max.interval {s.datagen_interval_ms} ms)",
             "connector.state RUNNING", len(DATAGEN) * costs.CONNECTOR_PER_TASK_HOUR),
        Step("ksql_cluster", "Confluent Cloud",
             f"ksqlDB cluster {s.ksql_name!r}, {s.csu} CSU, KsqlAdmin binding, ksqlDB API key",
             "status.phase PROVISIONED (can take many minutes)", s.csu * costs.KSQLDB_PER_CSU_HOUR),
        Step("ksql_statements", "ksqlDB", "the statements of ksql/*.sql, in file order",
             "each command SUCCESS"),
        Step("iam_role", "AWS",
             f"IAM role {s.role_name!r}: AWSLambdaBasicExecutionRole + read of the one secret"),
        Step("secret", "AWS",
             f"Secrets Manager secret {s.secret_name!r} (Kafka and Schema Registry settings)",
             per_hour=costs.SECRET_PER_HOUR),
        Step("function", "AWS",
             f"Lambda function {s.function_name!r} from lambda_fn ({s.runtime}, {s.arch}), "
             "log retention 1 day", "State Active"),
        Step("mapping", "AWS",
             f"event source mapping: self-managed Kafka topic user_trades -> {s.function_name}, "
             f"BASIC_AUTH with the secret, group {s.consumer_group!r}", "State Enabled"),
        Step("profile", "local",
             "the `cloud` profile in .streamlab/profiles/cloud.toml (git-ignored, mode 0600)"),
    ]  # fmt: skip


def hourly_cost(s: CloudSettings) -> float:
    return sum(step.per_hour for step in steps(s))


def render(s: CloudSettings) -> str:
    lines = [
        f"plan for run {s.name!r} in AWS region {s.region} (nothing is created by `plan`):",
        "",
    ]
    for i, step in enumerate(steps(s), 1):
        cost = f"  ~${step.per_hour:.3f}/h" if step.per_hour else ""
        lines.append(f"{i:>2}. [{step.system}] {step.action}{cost}")
        if step.waits_for:
            lines.append(f"      waits for: {step.waits_for}")
    total = hourly_cost(s)
    lines += [
        "",
        f"estimated cost while it exists: ~${total:.2f} per hour "
        f"(~${total * 24:.2f} per day), plus",
        "per-GB data transfer and Lambda invocations (cents at these rates). Rates: "
        "setup/cloud/costs.py;",
        "check confluent.io/pricing and aws.amazon.com/lambda/pricing. The main cost is ksqlDB, "
        "billed per CSU-hour",
        "until `python -m setup.cloud down` deletes it: run `down` the same day.",
    ]
    return "\n".join(lines)
