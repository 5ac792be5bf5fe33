"""Event source mappings for Kafka: the control plane (shapes, states, errors), no polling."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from .lambda_helpers import error_of

ENDPOINT_ARGS = ("--no-kafka",)  # store mappings; the pollers are tested with a cluster
SOURCE = {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9999"]}}


@pytest.fixture
def fn(deploy):
    return deploy("def handler(e, c):\n    return None\n")


def create(lam, fn, topic="orders", **kwargs):
    args = {
        "FunctionName": fn,
        "Topics": [topic],
        "StartingPosition": "TRIM_HORIZON",
        "SelfManagedEventSource": SOURCE,
    }
    args.update(kwargs)
    return lam.create_event_source_mapping(**args)


def test_create_get_list_update_delete(lam, fn):
    r = create(
        lam,
        fn,
        BatchSize=50,
        MaximumBatchingWindowInSeconds=2,
        SourceAccessConfigurations=[
            {"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k"}
        ],
        DestinationConfig={"OnFailure": {"Destination": "kafka://orders-dlq"}},
        MaximumRetryAttempts=3,
        FilterCriteria={"Filters": [{"Pattern": '{"value": {"status": ["NEW"]}}'}]},
    )
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid = r["UUID"]
    assert len(uuid) == 36
    assert r["State"] == "Creating"
    assert r["StateTransitionReason"] == "USER_INITIATED"
    assert r["LastProcessingResult"] == "No records processed"
    assert r["FunctionArn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{fn}"
    assert r["EventSourceMappingArn"] == (
        f"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{uuid}"
    )
    assert r["Topics"] == ["orders"]
    assert r["SelfManagedEventSource"] == SOURCE
    assert r["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": uuid}
    assert (r["BatchSize"], r["MaximumBatchingWindowInSeconds"]) == (50, 2)
    assert r["DestinationConfig"] == {"OnFailure": {"Destination": "kafka://orders-dlq"}}
    assert isinstance(r["LastModified"], dt.datetime)

    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled"
    assert got["SourceAccessConfigurations"][0]["Type"] == "BASIC_AUTH"

    listed = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]

    up = lam.update_event_source_mapping(UUID=uuid, BatchSize=10, Enabled=False)
    assert up["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert up["State"] == "Disabling" and up["BatchSize"] == 10
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    up = lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert up["State"] == "Enabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"

    gone = lam.delete_event_source_mapping(UUID=uuid)
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert gone["State"] == "Deleting"
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=uuid)
    assert error_of(e) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        404,
    )


def test_custom_consumer_group_and_at_timestamp(lam, fn):
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    r = create(
        lam,
        fn,
        topic="trades",
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=at,
        SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "settlement-lambda"},
    )
    assert r["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "settlement-lambda"}
    assert r["StartingPosition"] == "AT_TIMESTAMP"
    assert r["StartingPositionTimestamp"] == at
    with pytest.raises(ClientError) as e:
        lam.update_event_source_mapping(
            UUID=r["UUID"], SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "other"}
        )
    assert error_of(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:  # group ids are unique across mappings
        create(
            lam,
            fn,
            topic="other",
            SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "settlement-lambda"},
        )
    assert error_of(e)[0] == "ResourceConflictException"
    lam.delete_event_source_mapping(UUID=r["UUID"])


def test_duplicate_mapping_conflicts(lam, fn):
    r = create(lam, fn, topic="dupes")
    with pytest.raises(ClientError) as e:
        create(lam, fn, topic="dupes")
    code, message, status = error_of(e)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message.endswith(f"Please update or delete the existing mapping with UUID {r['UUID']}")
    lam.delete_event_source_mapping(UUID=r["UUID"])


def test_mapping_errors(lam, fn):
    with pytest.raises(ClientError) as e:
        create(lam, "no-such-function")
    assert error_of(e) == (
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:no-such-function",
        404,
    )
    with pytest.raises(ClientError) as e:
        create(lam, fn, BatchSize=10001)
    assert error_of(e) == (
        "ValidationException",
        "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
        400,
    )
    with pytest.raises(ClientError) as e:
        create(lam, fn, MaximumBatchingWindowInSeconds=301)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(FunctionName=fn, Topics=["x"], StartingPosition="LATEST")
    assert error_of(e) == ("InvalidParameterValueException", "Unrecognized event source.", 400)
    with pytest.raises(ClientError) as e:
        create(lam, fn, StartingPosition="AT_TIMESTAMP")
    assert error_of(e)[0] == "InvalidParameterValueException"
    for bad in ("UUID-that-does-not-exist", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(ClientError) as e:
            lam.update_event_source_mapping(UUID=bad[:36].ljust(36, "0"), BatchSize=5)
        assert error_of(e)[0] == "ResourceNotFoundException"
        with pytest.raises(ClientError) as e:
            lam.delete_event_source_mapping(UUID=bad[:36].ljust(36, "0"))
        assert error_of(e)[0] == "ResourceNotFoundException"


def test_msk_mapping_shape(lam, fn):
    arn = "arn:aws:kafka:us-east-1:123456789012:cluster/lab/abcd1234-ab12-cd34-ef56-abcdef123456-1"
    r = lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, Topics=["msk-topic"], StartingPosition="LATEST"
    )
    assert r["EventSourceArn"] == arn
    assert r["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": r["UUID"]}
    assert "SelfManagedKafkaEventSourceConfig" not in r
    assert (
        lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"][0]["UUID"]
        == r["UUID"]
    )
    lam.delete_event_source_mapping(UUID=r["UUID"])
