"""A persistent query's state stores: RocksDB on the state dir, changelog topics, restore.

Layout, as Kafka Streams (``state.dir`` is ksqlDB's ``ksql.streams.state.dir``, the ksql
service's data dir)::

    <state dir>/<application id>/<store>/        one RocksDB per store (rocksdict)
    <state dir>/<application id>/.checkpoint     changelog offsets the stores cover

with application id ``_confluent-ksql-<svc>query_<id>``. Every ``put``/``delete`` goes to the
store and to its changelog topic ``<application id>-<store>-changelog`` (created compacted;
a window store's also deleted after its retention: :func:`changelog_config`)
through the query's producer, in the same batch as the query's outputs (with the record
cache on, only each key's last value per commit interval: see
:mod:`~streamlab.ksql.kafka_runtime.runner`). The commit order, after the runner has processed
a batch (or a commit interval):

1. outputs and changelog records are produced (the producer sends them as they come);
2. the producer is flushed: every changelog record is acknowledged, with its offset;
3. the input offsets are committed;
4. :meth:`ChangelogStores.checkpoint` writes ``.checkpoint``: for each changelog partition,
   the offset after the last record the stores hold.

Restore (:meth:`ChangelogStores.restore`, before the query consumes again) reads each changelog
partition from its checkpointed offset to its end, so a restart after a clean stop reads
nothing and one after a crash reads only the tail. With no checkpoint (first start, state dir
deleted, exactly-once crash), or one that does not match the topic (offset past its end: the
topic was recreated), the store is wiped and restored from the beginning.

After kill -9 under ``at_least_once`` the stores hold at least what the last checkpoint covers
(every store is flushed to disk before the file is written: RocksDB runs without its write-ahead
log, as in Kafka Streams), and may hold later writes that a memtable flush of its own put on
disk. Replaying the changelog from the checkpoint re-applies logged values (a key's last logged
value wins), so the stores end as the changelog ends. Input after the last commit is processed
again, so its effects can count twice, exactly as in Kafka Streams under at-least-once; nothing
committed is lost or double counted. Under ``exactly_once_v2`` the checkpoint is removed once
restored and written again only when the query closes with nothing uncommitted, so a crash wipes
the stores (they may hold writes of aborted transactions) and restores them from the committed
changelog, as Kafka Streams does.

State is kept per key regardless of the input partition (:class:`KeyedRocksDBStore`).
Changelog records carry the store's own bytes, as Kafka Streams logs its stores: the key is the
RocksDB key (store partition and key in the order-preserving encoding of
:mod:`streamlab.ksql.state.keys`, where strings stay readable), the value as
:mod:`streamlab.ksql.state.values` writes it (the accumulators are Python values), so a restore
copies bytes; it only checks that each one is a state value, since a topic is not to be trusted
with code (a record that is not one is skipped with a warning). These internal topics are
readable by this engine only (ksqlDB's are Connect structs). Keys written by earlier versions of
this engine (pickled ``(store partition, key)``) are still restored.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from streamlab.ksql.errors import KsqlException
from streamlab.ksql.kafka_runtime.runner import local
from streamlab.ksql.kafka_runtime.topics import TIMEOUT, KafkaTopicStore, send
from streamlab.ksql.planner.aggregate import Aggregate
from streamlab.ksql.planner.join import DEFAULT_GRACE_TOTAL_MS, JoinStep
from streamlab.ksql.planner.steps import ExecutionStep
from streamlab.ksql.runtime.records import Record
from streamlab.ksql.state import MemoryStore, MemoryStorePartition
from streamlab.ksql.state import values as state_values
from streamlab.ksql.state.checkpoint import FILE_NAME, CheckpointError, OffsetCheckpoint, Offsets
from streamlab.ksql.state.keys import encode_key
from streamlab.ksql.state.rocksdb import RocksDBStore, RocksDBStorePartition
from streamlab.ksql.state.values import StateValueError

log = logging.getLogger(__name__)

#: What Kafka Streams sets on every internal topic it creates (``InternalTopicConfig``).
INTERNAL_TOPIC_CONFIG = {"message.timestamp.type": "CreateTime"}
#: A key-value store's changelog is compacted: only each key's last value is needed.
CHANGELOG_CONFIG = {**INTERNAL_TOPIC_CONFIG, "cleanup.policy": "compact"}
#: A window or session store's changelog is also deleted by time (``retention.ms``), since its
#: windows leave the store as stream time passes (``WindowedChangelogTopicConfig``).
WINDOWED_CHANGELOG_CONFIG = {**INTERNAL_TOPIC_CONFIG, "cleanup.policy": "compact,delete"}
#: ``windowstore.changelog.additional.retention.ms``: a windowed changelog keeps records this
#: much longer than its store (clock drift between the brokers and the application).
ADDITIONAL_RETENTION_MS = 24 * 60 * 60 * 1000
ADDITIONAL_RETENTION = "windowstore.changelog.additional.retention.ms"
#: Kafka Streams' stream-stream join window stores (``KSTREAM-JOINTHIS-0000000008-store``, ...);
#: the outer join's ``KSTREAM-OUTERSHARED-…-store`` is a key-value store.
JOIN_WINDOW_STORE = re.compile(r"KSTREAM-(?:JOIN|OUTER)(?:THIS|OTHER)-\d+-store")
AGGREGATE_STORE = "Aggregate-Aggregate-Materialize"
_LONG_MAX = 2**63 - 1
RESTORE_STALL = 60.0  # seconds without a changelog record before a restore gives up
_PICKLED = b"\x80"  # pickle's PROTO opcode; encoded keys start with 01/02


class KeyedStore(MemoryStore):
    """One partition for every input partition (in memory: transient queries).

    One engine runs all partitions of a query in one topology, and the operators key their
    state by the input record's partition. Rows whose key changes are routed through the
    query's repartition topic first (as Kafka Streams does), so a key's rows arrive on one
    partition; keeping a single store partition also covers the cases not routed yet
    (GROUP BY over a table, a re-keyed table side of a join).
    """

    def partition(self, partition: int) -> MemoryStorePartition:
        return super().partition(0)


class KeyedRocksDBStore(RocksDBStore):
    """:class:`KeyedStore`'s single partition, in RocksDB (persistent queries)."""

    def partition(self, partition: int) -> RocksDBStorePartition:
        return super().partition(0)


def application_id(service_id: str, query_id: str) -> str:
    return f"_confluent-ksql-{service_id}query_{query_id}"


def changelog_topic(service_id: str, query_id: str, store: str) -> str:
    return f"{application_id(service_id, query_id)}-{store}-changelog"


def window_store_retentions(plan: ExecutionStep) -> dict[str, int]:
    """The retention (ms) of each window and session store of a query, by store name.

    As Kafka Streams sizes them for ksqlDB: a windowed aggregate keeps its windows for
    ``RETENTION``, by default ``size + grace`` (a session's size is its gap; the runtime also
    never keeps less than that, see :mod:`~streamlab.ksql.runtime.aggregate`); a stream-stream
    join's two window stores keep ``before + after + grace``, where without a GRACE PERIOD
    ksqlDB's ``JoinWindows.of(before).after(after)`` leaves the grace at
    ``max(24h - 2 * before, 0)``. Every other store is a key-value store: the EMIT FINAL
    buffer and the outer join's shared store included.
    """
    retentions: dict[str, int] = {}
    pending: list[ExecutionStep | None] = [plan]
    while pending:
        step = pending.pop()
        if step is None:
            continue
        if isinstance(step, Aggregate) and step.window is not None:
            window = step.window
            retention = max(window.retention_ms, window.size_ms + window.grace_ms)
            retentions[AGGREGATE_STORE] = retention
        if isinstance(step, JoinStep):
            if step.kind == "stream-stream":
                grace = step.grace_ms
                if grace is None:
                    grace = max(DEFAULT_GRACE_TOTAL_MS - 2 * step.before_ms, 0)
                retention = step.before_ms + step.after_ms + grace
                for store in step.window_stores:  # this side's, the other's[, shared]
                    if JOIN_WINDOW_STORE.fullmatch(store):
                        retentions[store] = retention
            pending += [step.left, step.right]
        pending.append(step.source)
    return retentions


def additional_retention_ms(*layers) -> int:
    """``[ksql.streams.]windowstore.changelog.additional.retention.ms`` of the first layer
    that sets it to a whole number of ms (at least 0), else Kafka Streams' default of a day."""
    for layer in layers:
        for name in (f"ksql.streams.{ADDITIONAL_RETENTION}", ADDITIONAL_RETENTION):
            value = str(layer.get(name, "")).strip()
            if value.isdigit():
                return int(value)
    return ADDITIONAL_RETENTION_MS


def changelog_config(
    store: str, retentions: dict[str, int], additional_retention_ms: int = ADDITIONAL_RETENTION_MS
) -> dict[str, str]:
    """The configs Kafka Streams creates the changelog of ``store`` with (``retentions``: see
    :func:`window_store_retentions`): compacted, and for a window store also deleted after its
    retention plus ``additional_retention_ms`` (capped at Long.MAX_VALUE, as Java's addExact)."""
    retention = retentions.get(store)
    if retention is None:
        return dict(CHANGELOG_CONFIG)
    total = min(retention + additional_retention_ms, _LONG_MAX)
    return {**WINDOWED_CHANGELOG_CONFIG, "retention.ms": str(total)}


class ChangelogStores:
    """The stores of one query; ``factory`` is the engine's ``store_factory``.

    Args:
        emit: where changelog records go when no query runner is on the thread.
        state_dir: the engine's state dir; the stores live in ``<state_dir>/<application id>``.
        producer: the producer for changelog records written outside a runner (else ``emit``);
            inside a runner, its producer is used, so the records join the runner's batch.
        exactly_once: the query runs under ``exactly_once_v2`` (see the module docstring).
    """

    def __init__(
        self,
        service_id: str,
        query_id: str,
        emit: Callable[[Record], None],
        state_dir: str,
        producer: Producer | None = None,
        exactly_once: bool = False,
    ) -> None:
        self.service_id = service_id
        self.query_id = query_id
        self.emit = emit
        self.producer = producer
        self.exactly_once = exactly_once
        self.directory = os.path.join(state_dir, application_id(service_id, query_id))
        self.checkpoint_file = OffsetCheckpoint(os.path.join(self.directory, FILE_NAME))
        self.stores: dict[str, RocksDBStore] = {}  # by changelog topic
        self.offsets: Offsets = {}  # next changelog offset per partition the stores cover
        self.dirty = False  # written since the last commit
        self._checkpointed: Offsets | None = None

    # ---- stores and their changelog -------------------------------------------------------------

    def factory(self, name: str) -> RocksDBStore:
        topic = changelog_topic(self.service_id, self.query_id, name)
        store = KeyedRocksDBStore(
            name, os.path.join(self.directory, name), raw_changelog=self._writer(topic)
        )
        self.stores[topic] = store
        return store

    def _writer(self, topic: str) -> Callable[[bytes, bytes | None], None]:
        delivered = self._delivered

        def write(record_key: bytes, data: bytes | None) -> None:
            self.dirty = True
            runner = getattr(local, "runner", None)
            if runner is not None:  # the runner's batch (or its record cache)
                runner.changelog(topic, record_key, data, delivered)
            elif self.producer is not None:
                send(self.producer, topic, record_key, data, on_delivery=delivered)
            else:
                self.emit(Record(topic, record_key, data, int(time.time() * 1000)))

        return write

    def _delivered(self, error, message) -> None:
        # runs in the thread that flushes the producer (the runner, inside its commit)
        if error is None:
            where = (message.topic(), message.partition())
            self.offsets[where] = max(self.offsets.get(where, 0), message.offset() + 1)

    def on_disk(self) -> bool:
        """Some store was on disk before this run (to be checked against its changelog)."""
        return any(not store.fresh for store in self.stores.values())

    def topics(self) -> list[str]:
        return list(self.stores)

    def create_topics(
        self,
        topics: KafkaTopicStore,
        partitions: int,
        plan: ExecutionStep | None = None,
        additional_retention_ms: int = ADDITIONAL_RETENTION_MS,
    ) -> None:
        """Create the changelog topics that do not exist yet, as Kafka Streams does: compacted,
        and those of the window stores of ``plan`` (the query's physical plan) also deleted by
        time (:func:`changelog_config`). Without a plan every changelog is only compacted.
        Existing topics are left as they are (Kafka Streams only checks their partitions)."""
        retentions = window_store_retentions(plan) if plan is not None else {}
        existing = topics.topics
        for topic, store in self.stores.items():
            if topic not in existing:
                config = changelog_config(store.name, retentions, additional_retention_ms)
                topics.create_topic(topic, partitions, 1, config)

    # ---- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """After a commit: the stores hold exactly what the changelog holds up to ``offsets``.

        Under exactly-once only :meth:`close` writes the file (see the module docstring)."""
        self.dirty = False
        if self.exactly_once or not self.stores or self.offsets == self._checkpointed:
            return
        self._write_checkpoint()

    def _write_checkpoint(self) -> None:
        for store in self.stores.values():
            store.flush()  # the stores on disk hold what the file says (RocksDB writes no WAL)
        os.makedirs(self.directory, exist_ok=True)
        self.checkpoint_file.write(self.offsets)
        self._checkpointed = dict(self.offsets)

    def close(self) -> None:
        """Checkpoint (when nothing is uncommitted) and close the stores (the query stops)."""
        if self.stores and not self.dirty:
            self._write_checkpoint()
        for store in self.stores.values():
            store.close()

    def destroy(self) -> None:
        """Close and delete the query's local state (the query is terminated)."""
        for store in self.stores.values():
            store.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # ---- restore --------------------------------------------------------------------------------

    def restore(self, bootstrap: str) -> int:
        """Bring every store up to its changelog's end; returns the number of entries read."""
        if not self.stores:
            return 0
        started = time.monotonic()
        try:
            checkpoint = self.checkpoint_file.read()
        except CheckpointError as error:
            log.warning("query %s: %s; restoring every store from the start", self.query_id, error)
            checkpoint = {}
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"{application_id(self.service_id, self.query_id)}-restore",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",  # an aborted write was never state
            }
        )
        try:
            ends = self._plan(consumer, checkpoint)
            restored = self._replay(consumer, ends)
        finally:
            consumer.close()
        if self.exactly_once:
            self.checkpoint_file.delete()  # a crash from here on cannot trust the stores
        else:
            self._write_checkpoint()
        log.info(
            "query %s: restored %d state entries in %.2fs",
            self.query_id, restored, time.monotonic() - started,
        )  # fmt: skip
        return restored

    def _plan(self, consumer: Consumer, checkpoint: Offsets) -> dict[tuple[str, int], int]:
        """Where each changelog partition's restore starts (assigned) and ends (returned)."""
        metadata = consumer.list_topics(timeout=TIMEOUT).topics
        assignment: list[TopicPartition] = []
        ends: dict[tuple[str, int], int] = {}
        for topic, store in self.stores.items():
            found = metadata.get(topic)
            partitions = [] if found is None or found.error is not None else found.partitions
            marks = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), TIMEOUT)
                for p in partitions
            }
            covered = {p: checkpoint.get((topic, p)) for p in marks}
            stale = not store.fresh and (
                all(offset is None for offset in covered.values())
                or any(
                    offset is not None and not low <= offset <= high
                    for p, offset in covered.items()
                    for low, high in [marks[p]]
                )
            )
            if stale:
                log.info("query %s: store '%s' is not covered by a checkpoint; wiping it",
                         self.query_id, store.name)  # fmt: skip
                store.wipe()
            if store.fresh:  # an empty store (new, wiped or its folder deleted): all of it
                covered = dict.fromkeys(marks)
            for p, (low, high) in marks.items():
                start = covered[p] if covered[p] is not None else low
                self.offsets[(topic, p)] = high
                if start < high:
                    ends[(topic, p)] = high
                    assignment.append(
                        TopicPartition(topic, p, start if start else OFFSET_BEGINNING)
                    )
        consumer.assign(assignment)
        return ends

    def _entry(self, message) -> tuple[bytes, bytes | None] | None:
        """A changelog record as a store entry (encoded key, value bytes), checked at the trust
        boundary: a record this engine could not have written (no key, a value that is not a
        state value) is skipped with a warning rather than put in the store."""
        key, value = message.key(), message.value()
        try:
            if key is None:
                raise StateValueError("no key")
            if key[:1] == _PICKLED:  # an earlier version's (store partition, key)
                partition, parts = state_values.loads(key)
                key = encode_key((partition, *parts))
            if value is not None:
                state_values.loads(value)
        except (StateValueError, TypeError, ValueError) as error:
            log.warning(
                "query %s: restore: skipped %s-%d@%d, not a state entry: %s",
                self.query_id, message.topic(), message.partition(), message.offset(), error,
            )  # fmt: skip
            return None
        return key, value

    def _replay(self, consumer: Consumer, ends: dict[tuple[str, int], int]) -> int:
        restored = 0
        last_progress = time.monotonic()
        while ends:
            batch: dict[str, list] = {}
            for message in consumer.consume(10000, 0.5):
                where = (message.topic(), message.partition())
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        ends.pop(where, None)
                    else:
                        log.warning("query %s: restore: %s", self.query_id, error)
                    continue
                entry = self._entry(message)
                if entry is not None:
                    batch.setdefault(message.topic(), []).append(entry)
                if where in ends and message.offset() + 1 >= ends[where]:
                    del ends[where]
            for topic, entries in batch.items():
                restored += self.stores[topic].restore_raw(entries)
            if batch:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > RESTORE_STALL:
                raise KsqlException(
                    f"Restoring the state of query {self.query_id} stalled: no changelog record "
                    f"for {RESTORE_STALL:.0f}s with {sorted(ends)} not read to their end."
                )
        return restored
