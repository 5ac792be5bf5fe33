"""The Lambda helpers of labs 05 and 06 that need no running stack: AWS's Kafka event shape,
one-module packages, the recording producer, and running a function module locally."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest

from streamlab.notebook.lambda_lab import RecordingProducer, kafka_event, run_locally, source_zip


def test_kafka_event_has_aws_shape_missing_key_tombstone_and_signed_headers() -> None:
    event = kafka_event(
        [
            {"topic": "a-b", "partition": 1, "offset": 9, "timestamp": 7, "key": None,
             "value": b"{}", "headers": [("h", "é".encode())]},
            {"topic": "a-b", "partition": 1, "offset": 3, "timestamp": 5, "key": b"k",
             "value": None},
        ],
        bootstrap="h1:9092,h2:9092",
    )  # fmt: skip
    assert event["eventSource"] == "SelfManagedKafka"
    assert event["bootstrapServers"] == "h1:9092,h2:9092"
    first, second = event["records"]["a-b-1"]  # offsets ascending within the partition
    assert (first["offset"], second["offset"]) == (3, 9)
    assert base64.b64decode(first["key"]) == b"k" and "value" not in first
    assert "key" not in second and base64.b64decode(second["value"]) == b"{}"
    assert second["headers"] == [{"h": [-61, -87]}]
    assert second["timestampType"] == "CREATE_TIME"


def test_source_zip_holds_one_module_and_rejects_bad_syntax() -> None:
    with zipfile.ZipFile(io.BytesIO(source_zip("x = 1\n"))) as zf:
        assert zf.namelist() == ["app.py"] and zf.read("app.py") == b"x = 1\n"
    with pytest.raises(SyntaxError):
        source_zip("def handler(:\n")


def test_recording_producer_records_calls_and_reports_deliveries() -> None:
    seen = []
    p = RecordingProducer()
    p.produce("t", value=b"v", key=b"k", on_delivery=lambda err, msg: seen.append((err, msg.key())))
    assert len(p) == 1 and seen == []
    assert p.flush(1) == 0 and seen == [(None, b"k")] and p.calls == ["produce", "flush"]
    failing = RecordingProducer(fail=True)
    failing.produce("t", value=b"v", on_delivery=lambda err, msg: seen.append(err))
    failing.flush()
    assert seen[-1] is not None


SOURCE = """
import os
from confluent_kafka import Producer

producer = Producer({"client.id": os.environ["CLIENT_ID"], "acks": "all"})

def handler(event, context):
    producer.produce("t", value=b"x")
    producer.flush(1)
    return event["n"]
"""


def test_run_locally_imports_once_and_fakes_kafka_only_for_the_run(monkeypatch) -> None:
    import confluent_kafka

    monkeypatch.delenv("CLIENT_ID", raising=False)
    out = run_locally(SOURCE, {"n": 2}, environment={"CLIENT_ID": "c1"}, calls=3, fake_kafka=True)
    assert out["results"] == [2, 2, 2]
    [(config, producer)] = out["producers"]
    assert config == {"client.id": "c1", "acks": "all"}
    assert producer.calls == ["produce", "flush"] * 3
    import os
    import sys

    assert "CLIENT_ID" not in os.environ and sys.modules["confluent_kafka"] is confluent_kafka
    with pytest.raises(NotImplementedError):
        run_locally("raise NotImplementedError('todo')\n", {}, fake_kafka=True)
    assert sys.modules["confluent_kafka"] is confluent_kafka
