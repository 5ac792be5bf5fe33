"""The engine over a real Kafka cluster: topics through the AdminClient (``topics``), persistent
queries as consumer/producer threads (``runner``), state stores backed by changelog topics
(``state``), the command topic and the processing-log topic (``engine``), and transient
push/pull queries (``transient``)."""

from streamlab.ksql.kafka_runtime.engine import KafkaKsqlEngine
from streamlab.ksql.kafka_runtime.transient import TransientQuery

__all__ = ["KafkaKsqlEngine", "TransientQuery"]
