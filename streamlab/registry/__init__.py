"""streamlab.registry: a Schema Registry that Confluent's clients and serdes use unchanged.

It stores schemas in the ``_schemas`` topic of any Kafka cluster (the emulated one, Apache Kafka
or Confluent Cloud) and speaks the REST subset of Confluent Schema Registry that
confluent-kafka's ``SchemaRegistryClient`` and its Protobuf and JSON Schema serdes call, with
Confluent's compatibility rules and error codes. Run it with ``python -m streamlab.registry
--bootstrap HOST:PORT``; see README.md beside this file for what differs from Confluent's.

Files: ``rest`` (routes, thin) → ``models`` (subjects, versions, ids, deletes, config, mode) →
``schemas`` (one parsed-schema class per type) → ``protobuf``/``protobuf_diff``,
``jsonschema_diff`` and ``compatibility`` (the rules), ``storage`` (the ``_schemas`` topic),
``errors`` (Confluent's codes and wording).
"""

from streamlab.registry.errors import RegistryError
from streamlab.registry.models import SchemaRegistry, SchemaVersion
from streamlab.registry.storage import KafkaStore, MemoryStore, StoreError

__all__ = [
    "KafkaStore",
    "MemoryStore",
    "RegistryError",
    "SchemaRegistry",
    "SchemaVersion",
    "StoreError",
]
