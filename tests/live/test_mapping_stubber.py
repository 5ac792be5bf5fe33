"""The Kafka event source mapping against botocore's own model (a Stubber): moto cannot create
a self-managed Kafka mapping, so this is where the request's real shape is checked."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from setup.cloud.aws import Aws, AwsClients, AwsError, BotoMappings

UUID = "a1b2c3d4-0000-4000-8000-0123456789ab"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wk-t/settlement-AbCdEf"
FN = "arn:aws:lambda:us-east-1:123456789012:function:wk-t-settlement"
CREATE = {
    "FunctionName": "wk-t-settlement",
    "Topics": ["user_trades"],
    "StartingPosition": "TRIM_HORIZON",
    "SelfManagedEventSource": {
        "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["pkc-1.us-east-1.aws.confluent.cloud:9092"]}
    },
    "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": SECRET}],
    "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "wk-t-user_trades"},
    "BatchSize": 100,
    "Enabled": True,
}


def mapping(state: str, reason: str = "") -> dict:
    answer = {"UUID": UUID, "FunctionArn": FN, "State": state, "Topics": ["user_trades"]}
    if reason:
        answer["LastProcessingResult"] = reason
    return answer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def stubbed(aws_env):
    client = boto3.client("lambda", region_name="us-east-1")
    clock = Clock()
    clients = AwsClients(None, None, None, None, None, BotoMappings(client))
    with Stubber(client) as stub:
        yield stub, Aws(clients, sleep=clock.sleep, clock=clock)
        stub.assert_no_pending_responses()


def test_create_wait_delete_with_the_real_request_shape(stubbed) -> None:
    stub, aws = stubbed
    stub.add_response("list_event_source_mappings", {"EventSourceMappings": []},
                      {"FunctionName": "wk-t-settlement"})  # fmt: skip
    stub.add_response("create_event_source_mapping", mapping("Creating"), CREATE)
    for state in ("Creating", "Enabling", "Enabled"):
        stub.add_response("get_event_source_mapping", mapping(state), {"UUID": UUID})
    stub.add_response("delete_event_source_mapping", mapping("Deleting"), {"UUID": UUID})
    stub.add_response("get_event_source_mapping", mapping("Deleting"), {"UUID": UUID})
    stub.add_client_error("get_event_source_mapping", "ResourceNotFoundException",
                          http_status_code=404, expected_params={"UUID": UUID})  # fmt: skip

    made = aws.ensure_mapping(
        "wk-t-settlement", "pkc-1.us-east-1.aws.confluent.cloud:9092", "user_trades", SECRET,
        "wk-t-user_trades",
    )  # fmt: skip
    assert made["UUID"] == UUID
    assert aws.wait_mapping(UUID, timeout=300)["State"] == "Enabled"
    aws.delete_mapping(UUID)


def test_a_mapping_that_stays_creating_reports_its_processing_result(stubbed) -> None:
    stub, aws = stubbed
    stuck = mapping("Creating", "PROBLEM: SASL authentication failed")
    for _ in range(3):
        stub.add_response("get_event_source_mapping", stuck, {"UUID": UUID})
    with pytest.raises(AwsError, match=r"still Creating after 20 s \(PROBLEM: SASL authentication"):
        aws.wait_mapping(UUID, timeout=20, interval=10)
