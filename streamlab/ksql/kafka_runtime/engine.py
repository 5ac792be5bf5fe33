"""The engine over a cluster, as a ksqlDB server runs it.

* Every successful DDL/DML statement (a ``currentStatus`` result) is appended to the command
  topic ``_confluent-ksql-<svc>_command_topic`` (one partition). At startup the topic is replayed
  from the beginning: the catalog is rebuilt and the persistent queries still alive at the end
  are started again with the same ids, so they resume from their groups' committed offsets.
* Query ids are ksqlDB's server ids: ``CSAS_<SINK>_<n>`` / ``CTAS_…`` / ``INSERTQUERY_<n>`` with
  ``n`` = the statement's command-topic offset + 1; ``commandSequenceNumber`` is the offset.
* Persistent queries run as :class:`~streamlab.ksql.kafka_runtime.runner.QueryRunner` threads;
  bad records go to the processing-log topic (and the ``KSQL_PROCESSING_LOG`` stream).
  ``processing.guarantee`` (server config ``ksql.streams.processing.guarantee``, or per query
  with SET / ``streamsProperties``) is ``at_least_once`` or ``exactly_once_v2`` (transactions).

The base engine does the SQL; this subclass only overrides its hooks (query ids, sequence
numbers, starting/stopping queries, where sink records go). Callers serialize statements with
``engine.lock``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streamlab.ksql.engine import KsqlEngine, PersistentQuery, StatementResult
from streamlab.ksql.errors import KsqlException, KsqlStatementException
from streamlab.ksql.kafka_runtime import processing_log as plog
from streamlab.ksql.kafka_runtime.query_cleanup import clean_up
from streamlab.ksql.kafka_runtime.runner import (
    EXACTLY_ONCE_V2,
    QueryRunner,
    cache_max_bytes,
    check_guarantees,
    commit_interval_ms,
    consumer_overrides,
    local,
    process_id,
    processing_guarantee,
)
from streamlab.ksql.kafka_runtime.state import ChangelogStores, additional_retention_ms
from streamlab.ksql.kafka_runtime.topics import TIMEOUT, KafkaTopicStore
from streamlab.ksql.parser import ParsedStatement, parse
from streamlab.ksql.planner import QueryPlan
from streamlab.ksql.runtime import Topology, build_topology
from streamlab.ksql.runtime.records import Record

log = logging.getLogger(__name__)


def offset_reset(properties: dict[str, object]) -> str:
    """``auto.offset.reset`` as ksqlDB reads it from (streams) properties; default latest."""
    for name in ("ksql.streams.auto.offset.reset", "auto.offset.reset"):
        value = properties.get(name)
        if value:
            return str(value).lower()
    return "latest"


#: Kafka Streams' ``repartition.purge.interval.ms`` default.
PURGE_INTERVAL_MS = 30000
PURGE_INTERVAL = "repartition.purge.interval.ms"


def purge_interval_ms(*layers: dict[str, object], statement: str | None = None) -> int:
    """``(ksql.streams.)repartition.purge.interval.ms`` of a query; first layer wins. A value
    that is not a non-negative LONG is an error (a statement error for a SET ``statement``)."""
    for layer in layers:
        for name in (f"ksql.streams.{PURGE_INTERVAL}", PURGE_INTERVAL):
            value = layer.get(name)
            if value is None:
                continue
            text = str(value).strip()
            if not text.isdigit():
                message = (
                    f"Invalid value {value} for configuration {PURGE_INTERVAL}: "
                    + ("Not a number of type LONG" if not text.lstrip("-").isdigit()
                       else "Value must be at least 0")
                )  # fmt: skip
                if statement is not None:
                    raise KsqlStatementException(message, statement=statement)
                raise KsqlException(message)
            return int(text)
    return PURGE_INTERVAL_MS


def _purge_failed(future) -> None:
    error = future.exception()
    if error is not None:
        log.warning("purging a repartition topic failed: %s", error)


class KafkaKsqlEngine(KsqlEngine):
    def __init__(
        self,
        bootstrap: str,
        config: dict[str, object] | None = None,
        default_partitions: int = 1,
    ) -> None:
        topics = KafkaTopicStore(bootstrap, default_partitions)
        super().__init__(
            topics=topics,  # type: ignore[arg-type]
            config=config,
            run_mode="external",
            default_partitions=default_partitions,
        )
        self.bootstrap = bootstrap
        check_guarantees(self.config, server=True)
        purge_interval_ms(self.config)
        self.service_id = str(self.config["ksql.service.id"])
        self.process_id = process_id(self.config.get("ksql.streams.state.dir"))
        self.command_topic = f"_confluent-ksql-{self.service_id}_command_topic"
        include_rows = str(self.config.get("ksql.logging.processing.rows.include", "false"))
        self.processing_log = plog.KafkaProcessingLog(
            topics.producer,
            plog.topic_name(self.service_id),
            include_rows=include_rows.lower() == "true",
        )
        self.runners: dict[str, QueryRunner] = {}
        self.stores: dict[str, ChangelogStores] = {}
        # ksqlDB's ksql.streams.state.dir (the server's data dir): RocksDB stores, checkpoints
        self._temporary_state = not self.config.get("ksql.streams.state.dir")
        self.state_dir = str(
            self.config.get("ksql.streams.state.dir") or tempfile.mkdtemp(prefix="ksql-state-")
        )
        self.command_statuses: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self._command_offset = 0  # offset the statement being executed will get
        self._next_offset = 0
        self._overrides: dict[str, object] = {}
        self._replaying = False
        self._reused_id: str | None = None

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Create the system topics, replay the command topic, start the queries."""
        with self.lock:
            # kept forever, as ksqlDB configures it: the topic is the catalog
            self.topics.create_topic(self.command_topic, 1, 1, {"retention.ms": "-1"})
            self.topics.create_topic(self.processing_log.topic, 1, 1)
            self._replay()
            if self.metastore.get_source(plog.STREAM_NAME) is None:
                for parsed in parse(plog.stream_ddl(self.processing_log.topic)):
                    self.execute_statement(parsed)
            for query in self.queries.values():
                self._run(query, restore=True)

    def close(self) -> None:
        with self.lock:
            for runner in self.runners.values():
                runner.stop(wait=False)
            for runner in list(self.runners.values()):
                runner.stop()
            self.runners.clear()
            for stores in self.stores.values():
                stores.close()  # checkpoints: a clean restart restores nothing
            if self._temporary_state:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            self.topics.close()  # type: ignore[attr-defined]

    def _replay(self) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"_confluent-ksql-{self.service_id}_command_replay",
                "enable.auto.commit": False,
            }
        )
        try:
            partition = TopicPartition(self.command_topic, 0)
            _, high = consumer.get_watermark_offsets(partition, TIMEOUT)
            consumer.assign([TopicPartition(self.command_topic, 0, OFFSET_BEGINNING)])
            self._replaying = True
            position = 0
            while position < high:
                for message in consumer.consume(500, 1.0):
                    if message.error() is not None:
                        continue
                    position = message.offset() + 1
                    self._replay_command(message.offset(), message.value())
            self._next_offset = high
            log.info("replayed %d commands from %s", high, self.command_topic)
        finally:
            self._replaying = False
            consumer.close()

    def _replay_command(self, offset: int, value: bytes | None) -> None:
        try:
            command = json.loads(value or b"{}")
            properties = dict(command.get("streamsProperties") or {})
            self.session.properties.clear()
            for parsed in parse(command["statement"]):
                self._command_offset = offset
                self._overrides = properties
                result = self.execute_statement(parsed, properties)
                self._record_status(result)
        except Exception as error:  # a command that no longer applies is skipped, as ksqlDB does
            log.warning("skipping command at offset %d: %s", offset, error)
        finally:
            self.session.properties.clear()

    # ---- statements -----------------------------------------------------------------------------

    def run(self, parsed: ParsedStatement, properties: dict[str, object]) -> StatementResult:
        """Execute one statement; log it to the command topic if it is a command."""
        with self.lock:
            overrides = {**properties, **self.session.properties}
            purge_interval_ms(overrides)  # a bad value fails the request, not a started query
            self._command_offset = self._next_offset
            self._overrides = overrides
            result = self.execute_statement(parsed, properties)
            if result.entity is not None and result.entity.get("@type") == "currentStatus":
                self._append_command(parsed.text, result, overrides)
                self._record_status(result)
            return result

    def _append_command(
        self, text: str, result: StatementResult, overrides: dict[str, object]
    ) -> None:
        assert result.entity is not None
        value = {
            "statement": text,
            "streamsProperties": {k: v for k, v in overrides.items() if v is not None},
            "originalProperties": {},
        }
        delivered: list[int] = []

        def on_delivery(error, message) -> None:
            if error is None:
                delivered.append(message.offset())

        producer = self.topics.producer  # type: ignore[attr-defined]
        producer.produce(
            self.command_topic,
            json.dumps(value, default=str).encode(),
            str(result.entity["commandId"]).encode(),
            on_delivery=on_delivery,
        )
        producer.flush(TIMEOUT)
        if not delivered:
            raise KsqlException(
                "Could not write the statement to the command topic; it will not survive a restart."
            )
        self._next_offset = delivered[0] + 1

    def _record_status(self, result: StatementResult) -> None:
        entity = result.entity
        if entity is not None and entity.get("@type") == "currentStatus":
            self.command_statuses[entity["commandId"]] = dict(entity["commandStatus"])

    # ---- hooks of the base engine ---------------------------------------------------------------

    def _next_query_id(self, prefix: str) -> str:
        if self._reused_id is not None:
            return self._reused_id
        return f"{prefix}_{self._command_offset + 1}"

    def _next_sequence(self) -> int:
        return self._command_offset

    def _emit(self, record: Record) -> None:
        runner = getattr(local, "runner", None)
        if runner is not None:
            runner.emit(record)
        else:
            self.produce(record)

    def _store_factory(self, query_id: str):
        previous = self.stores.get(query_id)
        if previous is not None:
            previous.close()  # the same RocksDB stores reopen (CREATE OR REPLACE, an abort)
        eos = processing_guarantee(self._overrides, self.config) == EXACTLY_ONCE_V2
        stores = ChangelogStores(
            self.service_id, query_id, self._emit, self.state_dir, self.topics.producer,  # type: ignore[attr-defined]
            exactly_once=previous.exactly_once if previous is not None else eos,
        )  # fmt: skip
        self.stores[query_id] = stores
        return stores.factory

    def _create_internal_topics(self, query_id: str, plan: QueryPlan) -> None:
        stores = self.stores.get(query_id)
        if stores is not None:  # changelogs first, compacted as Kafka Streams creates them
            source = plan.source.topic.name
            exists = self.topics.exists(source)
            partitions = self.topics.get(source).partitions if exists else 1
            extra = additional_retention_ms(self._overrides, self.config)
            stores.create_topics(self.topics, partitions, plan.physical, extra)  # type: ignore[arg-type]
        super()._create_internal_topics(query_id, plan)

    def _start_query(self, prefix: str, text: str, plan: QueryPlan) -> PersistentQuery:
        # CREATE OR REPLACE … AS SELECT: the new plan takes over the old query's id, so it
        # keeps its consumer group and continues from its committed offsets, as in ksqlDB.
        replaced = [
            q
            for q in sorted(self.metastore.writers_of(plan.sink_source.name))
            if q in self.queries and q.startswith(prefix + "_") and prefix != "INSERTQUERY"
        ]
        for query_id in replaced:
            runner = self.runners.pop(query_id, None)
            if runner is not None:
                runner.stop()
            self.queries.pop(query_id)
            self.metastore.unlink_query(query_id)
        self._reused_id = replaced[0] if replaced else None
        try:
            query = super()._start_query(prefix, text, plan)
        finally:
            self._reused_id = None
        query.purge_interval_ms = purge_interval_ms(self._overrides, self.config)  # type: ignore[attr-defined]
        query.offset_reset = offset_reset({**self.config, **self._overrides})  # type: ignore[attr-defined]
        query.guarantee = processing_guarantee(self._overrides, self.config)  # type: ignore[attr-defined]
        query.consumer_settings = consumer_overrides(self._overrides, self.config)  # type: ignore[attr-defined]
        query.cache_max_bytes = cache_max_bytes(self._overrides, self.config)  # type: ignore[attr-defined]
        query.commit_interval_ms = commit_interval_ms(self._overrides, self.config)  # type: ignore[attr-defined]
        if not self._replaying:
            self._run(query, restore=bool(replaced))  # a replaced query's state carries over
        return query

    def _set_property(self, statement, config) -> StatementResult:
        check_guarantees({statement.name: statement.value}, statement.text)
        purge_interval_ms({statement.name: statement.value}, statement=statement.text)
        return super()._set_property(statement, config)

    def _stop_queries(self, ids: list[str]) -> None:
        super()._stop_queries(ids)
        for query_id in [q for q in self.runners if q not in self.queries]:
            self.runners.pop(query_id).stop()
        for query_id in [q for q in self.stores if q not in self.queries]:
            self.stores.pop(query_id).destroy()  # ksqlDB deletes a terminated query's state
        names = self.topics.list_topics() if ids else []
        for query_id in ids:  # … and its internal topics, their schemas and its group
            clean_up(self.topics.admin, names, self.group_id(query_id), TIMEOUT)  # type: ignore[attr-defined]

    def _description(self, source, extended: bool) -> dict[str, Any]:
        """DESCRIBE … EXTENDED also counts what the queries reading the source consumed and
        how many records failed, as ksqlDB's ``statistics`` / ``errorStats`` strings."""
        description = super()._description(source, extended)
        if extended:
            readers = [q for q in self.metastore.readers_of(source.name) if q in self.runners]
            total = sum(self.runners[q].processed for q in readers)
            failed = sum(self.processing_log.counts.get(q, 0) for q in readers)
            description["statistics"] = f"consumer-total-messages: {total:>6}"
            description["errorStats"] = f"consumer-failed-messages: {failed:>6}"
        return description

    # ---- running queries ------------------------------------------------------------------------

    def group_id(self, query_id: str) -> str:
        return f"_confluent-ksql-{self.service_id}query_{query_id}"

    def _run(self, query: PersistentQuery, restore: bool = False) -> None:
        """Start the query's runner; with ``restore``, its stores are first rebuilt from
        their changelogs (after a restart), once a transactional producer has settled what
        an older instance left open."""
        if query.query_id in self.runners:
            return
        group = self.group_id(query.query_id)
        self._seed_offsets(group, query.topology.repartition_topics)
        eos = getattr(query, "guarantee", None) == EXACTLY_ONCE_V2
        runner = QueryRunner(
            query.query_id,
            self.bootstrap,
            group,
            [*query.source_topics, *query.topology.repartition_topics],
            query.topology.process,
            getattr(query, "offset_reset", "latest"),
            on_error=self._on_error,
            on_crash=self._on_crash,
            # Kafka Streams' EOS v2 id: <application id>-<process id>-<thread index>
            transactional_id=f"{group}-{self.process_id}-1" if eos else None,
            on_abort=self._reset_state,
            consumer_settings=getattr(query, "consumer_settings", None),
            on_commit=self._committed,
            # ksql.streams.cache.max.bytes.buffering / commit.interval.ms (see runner.py)
            cache_max_bytes=getattr(query, "cache_max_bytes", 0),
            commit_interval_ms=getattr(query, "commit_interval_ms", 0),
            cached_topics={query.sink_topic} if query.plan.sink_source.is_table else set(),
            on_flush=lambda: self._flush(query.query_id),
        )
        try:
            runner.init_transactions()
        except KsqlException as error:  # no transactions here: the query is in ERROR
            log.error("%s", error)
            self._on_crash(query.query_id, error)
            return
        stores = self.stores.get(query.query_id)
        if stores is not None:
            stores.exactly_once = eos  # checkpoints only on a clean close (see state.py)
        if stores is not None and (restore or stores.on_disk()):
            stores.restore(self.bootstrap)  # state first, then consume again
        self.runners[query.query_id] = runner
        runner.start()

    def _reset_state(self, query_id: str):
        """After an aborted transaction: fresh operators whose stores hold exactly what the
        committed changelogs say (the aborted batch's updates are gone); returns their
        ``process``."""
        query = self.queries[query_id]
        old = self.stores.pop(query_id, None)
        if old is not None:
            old.destroy()  # local state may hold the aborted writes: wipe it, as Kafka Streams
        query.topology = self._topology(query_id, query.plan)
        stores = self.stores.get(query_id)
        if stores is not None:
            stores.exactly_once = True  # only exactly_once_v2 aborts
            stores.restore(self.bootstrap)
        return query.topology.process

    def _flush(self, query_id: str) -> None:
        query = self.queries.get(query_id)  # its topology is rebuilt after an abort
        if query is not None:
            query.topology.flush()

    def _committed(self, query_id: str) -> None:
        checkpoint = getattr(self.stores.get(query_id), "checkpoint", None)
        if checkpoint is not None:
            checkpoint()
        self._purge(query_id)

    # ---- repartition topics ---------------------------------------------------------------------

    def _repartitions(self, plan: QueryPlan) -> list[str]:
        """The query's repartition topics (the suffixes ksqlDB gives them)."""
        return [t for t in getattr(plan, "internal_topics", ()) if t.endswith("-repartition")]

    def _topology(self, query_id: str, plan: QueryPlan) -> Topology:
        """The query's operators as Kafka Streams' sub-topologies: split at each repartition
        topic the plan names, the upstream part producing to it (in the same batch or
        transaction as everything else), the downstream part consuming it."""
        prefix = f"{self.group_id(query_id)}-"
        suffixes = set(self._repartitions(plan))
        cache = getattr(self.queries.get(query_id), "cache_max_bytes", None)
        if cache is None:  # a new query (its settings are those of the statement)
            cache = cache_max_bytes(self._overrides, self.config)
        return build_topology(
            plan.physical,
            query_id,
            self._emit,
            self.processing_log,
            self.functions,
            store_factory=self._store_factory(query_id),
            internal_topic=lambda suffix: prefix + suffix if suffix in suffixes else None,
            cache_max_bytes=cache,
        )

    def _seed_offsets(self, group: str, topics: list[str]) -> None:
        """Kafka Streams reads internal topics from the earliest offset, whatever the query's
        ``auto.offset.reset``: a repartition partition the group never committed gets offset 0,
        so records written upstream before a crash are not skipped (``latest``) on restart."""
        if not topics:
            return
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                             "enable.auto.commit": False})  # fmt: skip
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in range(self.topics.get(topic).partitions)
            ]
            missing = [
                TopicPartition(tp.topic, tp.partition, 0)
                for tp in consumer.committed(partitions, TIMEOUT)
                if tp.offset < 0
            ]
            if missing:
                consumer.commit(offsets=missing, asynchronous=False)
        except Exception as error:  # the runner then starts per auto.offset.reset
            log.warning("could not set offsets of %s for %s: %s", topics, group, error)
        finally:
            consumer.close()

    def _purge(self, query_id: str) -> None:
        """Kafka Streams' purge: after a commit, the repartition records the query consumed are
        deleted (DeleteRecords up to the committed offsets), at most every
        ``repartition.purge.interval.ms``. Runs on the query's thread, which owns its consumer."""
        runner = self.runners.get(query_id)
        query = self.queries.get(query_id)
        if runner is None or query is None or not query.topology.repartition_topics:
            return
        now = time.monotonic()
        interval = getattr(query, "purge_interval_ms", PURGE_INTERVAL_MS) / 1000
        last = getattr(runner, "last_purge", None)
        if last is None:  # the first purge one interval after the start, as Kafka Streams
            runner.last_purge = last = now  # type: ignore[attr-defined]
        if now - last < interval:
            return
        runner.last_purge = now  # type: ignore[attr-defined]
        topics = set(query.topology.repartition_topics)
        try:
            assigned = [tp for tp in runner.consumer.assignment() if tp.topic in topics]
            if not assigned:
                return
            offsets = [tp for tp in runner.consumer.committed(assigned, TIMEOUT) if tp.offset > 0]
            if not offsets:
                return
            futures = self.topics.admin.delete_records(offsets, request_timeout=TIMEOUT)  # type: ignore[attr-defined]
            for future in futures.values():
                future.add_done_callback(_purge_failed)
        except Exception as error:  # purging is housekeeping: never stops the query
            log.warning("query %s: could not purge repartition topics: %s", query_id, error)

    def _on_crash(self, query_id: str, error: Exception) -> None:
        query = self.queries.get(query_id)
        if query is not None:
            query.state = "ERROR"  # shown by SHOW QUERIES / DESCRIBE

    def _on_error(self, query_id: str, error: Exception, record: Record) -> None:
        self.processing_log.processing_error(query_id, f"Error processing record: {error}")
