"""What a terminated persistent query leaves behind on the cluster, removed as ksqlDB's
``QueryCleanupService`` removes it: the internal topics named after the query's application id
(its ``-changelog`` and ``-repartition`` topics), their Schema Registry subjects, and the
query's consumer group with its committed offsets. (Its local state directory goes with
:meth:`ChangelogStores.destroy`.)

Each part is tried on its own and a failure is only logged, as ksqlDB's ``tryRun`` does: a
TERMINATE or DROP has already succeeded when this runs.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from streamlab.ksql.formats import schema_registry

log = logging.getLogger(__name__)

INTERNAL_SUFFIXES = ("-changelog", "-repartition")


def internal_topics(topic_names: list[str], application_id: str) -> list[str]:
    """The query's internal topics among ``topic_names`` (Kafka Streams names every one
    ``<application id>-<name>-changelog|repartition``)."""
    return sorted(
        t
        for t in topic_names
        if t.startswith(f"{application_id}-") and t.endswith(INTERNAL_SUFFIXES)
    )


def clean_up(
    admin: AdminClient, topic_names: list[str], application_id: str, timeout: float
) -> None:
    """Delete the query's schemas, internal topics and consumer group."""
    topics = internal_topics(topic_names, application_id)
    _delete_subjects(topics)
    if topics:
        futures = admin.delete_topics(topics, operation_timeout=timeout)
        for name, future in futures.items():
            _try(future, timeout, f"internal topic {name}")
    (future,) = admin.delete_consumer_groups([application_id], request_timeout=timeout).values()
    _try(future, timeout, f"consumer group {application_id}", missing_ok=True)


def _delete_subjects(topics: list[str]) -> None:
    if schema_registry.url() is None or not topics:
        return
    try:
        registry = schema_registry.client()
        wanted = {schema_registry.subject(t, k) for t in topics for k in (True, False)}
        for subject in sorted(wanted & set(registry.get_subjects())):
            registry.delete_subject(subject)
            registry.delete_subject(subject, permanent=True)  # ksqlDB hard-deletes them too
    except Exception as error:  # the registry may be down; the query is terminated anyway
        log.warning("could not delete the schemas of %s: %s", ", ".join(topics), error)


def _try(future, timeout: float, what: str, missing_ok: bool = False) -> None:
    try:
        future.result(timeout)
    except KafkaException as error:
        if missing_ok and error.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
            return  # the query never committed
        log.warning("could not delete %s: %s", what, error)
