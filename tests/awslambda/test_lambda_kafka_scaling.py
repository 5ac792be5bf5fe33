"""On-demand scaling of a Kafka mapping (lag checked every second here, every minute on AWS) and
SASL/PLAIN credentials read from Secrets Manager (BASIC_AUTH)."""

from __future__ import annotations

import json

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.kafka.testing import ClusterProcess

from .lambda_helpers import wait_until

ENDPOINT_ARGS = ("--esm-scale-interval", "1")


def test_pollers_scale_up_to_one_per_partition(deploy, lam, aws, tmp_path):
    with ClusterProcess(str(tmp_path / "kafka")) as kafka:
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        admin.create_topics([NewTopic("backlog", 4, 1)])["backlog"].result(30)
        p = Producer({"bootstrap.servers": kafka.bootstrap})
        for i in range(400):
            p.produce("backlog", value=b"x", partition=i % 4)
        assert p.flush(30) == 0
        fn = deploy("import time\ndef handler(e, c):\n    time.sleep(0.2)\n")
        m = lam.create_event_source_mapping(
            FunctionName=fn,
            Topics=["backlog"],
            StartingPosition="TRIM_HORIZON",
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka.bootstrap]}},
            BatchSize=1,
            MaximumBatchingWindowInSeconds=0,
        )

        def poller():
            for mapping in aws.api("/_streamlab/lambda/mappings")["EventSourceMappings"]:
                if mapping["UUID"] == m["UUID"]:
                    return mapping["Poller"]
            return None

        # one poller at first, then more while the lag does not shrink, one per partition at most
        assert wait_until(lambda: (poller() or {}).get("PollersOverTime"))[0][1] == 1
        wait_until(lambda: poller()["Pollers"] == 4, timeout=60)
        wait_until(
            lambda: (
                sorted(a for p in poller()["Assignments"] for a in p)
                == ["backlog-0", "backlog-1", "backlog-2", "backlog-3"]
                and all(len(p) == 1 for p in poller()["Assignments"])
            ),
            timeout=60,
        )
        wait_until(lambda: aws.metrics()[fn]["MaxConcurrentExecutions"] >= 3, timeout=60)
        assert aws.metrics()[fn]["MaxConcurrentExecutions"] <= 4
        lam.delete_event_source_mapping(UUID=m["UUID"])


def test_basic_auth_reads_the_secret(deploy, lam, aws, tmp_path):
    users = {"lambda": "s3cret"}
    with ClusterProcess(str(tmp_path / "kafka"), sasl_users=users) as kafka:
        auth = {
            "bootstrap.servers": kafka.bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "PLAIN",
            "sasl.username": "lambda",
            "sasl.password": "s3cret",
        }
        p = Producer(auth)
        p.produce("secured", value=b"hello")
        assert p.flush(30) == 0
        secret = aws.client("secretsmanager").create_secret(
            Name="kafka/lambda",
            SecretString=json.dumps({"username": "lambda", "password": "s3cret"}),
        )
        out = tmp_path / "events.jsonl"
        fn = deploy(
            "import os, json\ndef handler(e, c):\n"
            "    open(os.environ['OUT'], 'a').write(json.dumps(e) + '\\n')\n",
            Environment={"Variables": {"OUT": str(out)}},
        )
        m = lam.create_event_source_mapping(
            FunctionName=fn,
            Topics=["secured"],
            StartingPosition="TRIM_HORIZON",
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka.bootstrap]}},
            SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": secret["ARN"]}],
            MaximumBatchingWindowInSeconds=0,
        )
        wait_until(lambda: out.exists() and "aGVsbG8=" in out.read_text())
        lam.delete_event_source_mapping(UUID=m["UUID"])
        # a mapping whose secret does not exist says so in LastProcessingResult
        bad = lam.create_event_source_mapping(
            FunctionName=fn,
            Topics=["secured-2"],
            StartingPosition="TRIM_HORIZON",
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka.bootstrap]}},
            SourceAccessConfigurations=[
                {
                    "Type": "BASIC_AUTH",
                    "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing",
                }
            ],
        )
        wait_until(
            lambda: lam.get_event_source_mapping(UUID=bad["UUID"])[
                "LastProcessingResult"
            ].startswith("PROBLEM: Lambda could not read the Secrets Manager secret")
        )
        lam.delete_event_source_mapping(UUID=bad["UUID"])
