"""The registry on real Apache Kafka (jars from Maven Central): it is only a Kafka client, so
the `_schemas` topic works there exactly as on the emulator."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from streamlab.registry.testing import RegistryProcess

pytestmark = [pytest.mark.realkafka, pytest.mark.timeout(240)]

SCHEMA = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})


@pytest.fixture
def real_kafka(tmp_path):
    from streamlab import realkafka

    ok, reason = realkafka.available()
    if not ok:
        pytest.skip(f"real Kafka unavailable: {reason}")
    with realkafka.RealKafka(tmp_path / "kafka") as kafka:
        yield kafka


def test_schemas_topic_on_real_kafka(real_kafka, tmp_path):
    with RegistryProcess(str(tmp_path / "sr"), real_kafka.bootstrap) as registry:
        sr = SchemaRegistryClient({"url": registry.url})
        assert sr.register_schema("a-value", Schema(SCHEMA, "JSON")) == 1
        sr.set_compatibility("a-value", "NONE")
        admin = AdminClient({"bootstrap.servers": real_kafka.bootstrap})
        topic = admin.list_topics(timeout=10).topics["_schemas"]
        assert len(topic.partitions) == 1
        resource = ConfigResource(ConfigResource.Type.TOPIC, "_schemas")
        configs = admin.describe_configs([resource])[resource].result(timeout=10)
        assert configs["cleanup.policy"].value == "compact"

        registry.restart()
        sr = SchemaRegistryClient({"url": registry.url})
        assert sr.get_latest_version("a-value").schema_id == 1
        assert sr.get_compatibility("a-value") == "NONE"
