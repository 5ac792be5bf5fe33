"""A persistent query as a consumer/producer loop in its own thread.

Two processing guarantees, chosen per query with ``processing.guarantee`` as in ksqlDB:

* ``at_least_once`` (the default): consume a batch, push every record through the topology
  (whose sink and stores emit into this thread's producer), flush the producer, then commit the
  consumed offsets. A crash between flush and commit replays the batch: outputs and changelog
  entries of that batch are written again (duplicates), committed input is never replayed.
* ``exactly_once_v2``: Kafka Streams' EOS v2. The query's producer is transactional
  (``transactional.id`` = ``<application id>-<process id>-1``), its consumer reads
  ``read_committed``, and each batch is one transaction: begin, produce outputs and changelog
  entries, ``send_offsets_to_transaction`` (the input offsets, with the consumer's group
  metadata so a zombie is fenced), commit. A failed transaction is aborted; the state is then
  rebuilt from the committed changelog and the batch is consumed again from the committed
  offsets, so nothing of it becomes visible twice.

With the record cache on (``cache.max.bytes.buffering`` > 0, ksqlDB's default 10,000,000
bytes), the steps above span a commit interval (``commit.interval.ms``, ksqlDB's default
2000 ms) instead of one batch: batches are consumed and processed until the interval has passed,
then the commit runs (at_least_once: flush + commit; exactly_once_v2: one transaction for the
whole interval). Records for a TABLE sink topic and for changelog topics wait in the cache,
de-duplicated per (topic, key), and are produced at the commit (step 1/2 just before the flush
or ``send_offsets_to_transaction``), or earlier when the cache outgrows its size (the least
recently updated entries first), as Kafka Streams' caching stores forward and log their
entries; stream sinks are never cached. The ordering guarantees above hold per commit instead
of per batch. With ``cache.max.bytes.buffering=0`` every update is produced and every batch is
committed, as before (QTT's and the lab's setting).

The consumer group is ksqlDB's application id, ``_confluent-ksql-<svc>query_<id>``, so a
restarted engine resumes where the query left off.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from streamlab.ksql.errors import KsqlException, KsqlStatementException
from streamlab.ksql.kafka_runtime.topics import TIMEOUT, produce, producer_config, send
from streamlab.ksql.runtime.records import Record

log = logging.getLogger(__name__)

BATCH = 2000
MAX_ABORTS = 5  # transactions aborted in a row before a query stops (exactly_once_v2)

# ---- processing.guarantee ----------------------------------------------------------------------

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE_V2 = "exactly_once_v2"
#: The values Kafka Streams 4.x accepts (``exactly_once`` and ``exactly_once_beta`` are gone).
GUARANTEES = (AT_LEAST_ONCE, EXACTLY_ONCE_V2)
GUARANTEE = "processing.guarantee"
_GUARANTEE_KEYS = (f"ksql.streams.{GUARANTEE}", GUARANTEE)

#: Consumer settings a query takes from its properties (``ksql.streams.<name>`` or ``<name>``),
#: as Kafka Streams passes them to its consumer: group timers, and static membership so a
#: restarted server takes its partitions back at once instead of after a session timeout.
CONSUMER_OVERRIDES = ("session.timeout.ms", "heartbeat.interval.ms", "group.instance.id")

#: Kafka Streams' producer settings under EOS (``StreamsConfig`` EOS overrides): a transaction
#: left open by a killed instance is aborted by the broker after 10 s, not librdkafka's 60 s.
TRANSACTION_TIMEOUT_MS = 10000


# ---- record cache and commit interval ----------------------------------------------------------

#: Kafka Streams' record cache size; ``statestore.cache.max.bytes`` is its newer name.
CACHE_MAX_BYTES = "cache.max.bytes.buffering"
_CACHE_KEYS = tuple(
    f"{prefix}{name}"
    for name in (CACHE_MAX_BYTES, "statestore.cache.max.bytes")
    for prefix in ("ksql.streams.", "")
)
COMMIT_INTERVAL_MS = "commit.interval.ms"
_COMMIT_KEYS = (f"ksql.streams.{COMMIT_INTERVAL_MS}", COMMIT_INTERVAL_MS)
#: ksqlDB's defaults (KsqlConstants), not Kafka Streams' (10 MiB, 30 s).
DEFAULT_CACHE_MAX_BYTES = 10_000_000
DEFAULT_COMMIT_INTERVAL_MS = 2000
CACHE_ENTRY_OVERHEAD = 64  # bytes counted per cached record besides its key and value


def _long_error(name: str, value: object) -> str | None:
    """Kafka's ConfigException message for a bad LONG setting (at least 0), else None."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return f"Invalid value {value} for configuration {name}: Not a number of type LONG"
    if number < 0:
        return f"Invalid value {value} for configuration {name}: Value must be at least 0"
    return None


def _first_long(keys: tuple[str, ...], layers: tuple[Mapping[str, object], ...]) -> int | None:
    for layer in layers:
        for name in keys:
            value = layer.get(name)
            if value is not None and _long_error(name, value) is None:
                return int(str(value).strip())
    return None


def cache_max_bytes(*layers: Mapping[str, object]) -> int:
    """The record cache size of a query (first layer that sets it wins); 0 turns it off."""
    found = _first_long(_CACHE_KEYS, layers)
    return DEFAULT_CACHE_MAX_BYTES if found is None else found


def commit_interval_ms(*layers: Mapping[str, object]) -> int:
    """How often a query commits: ``commit.interval.ms`` when set; else ksqlDB's 2000 ms with
    the cache on, and every batch (0) with it off, as this engine always did."""
    found = _first_long(_COMMIT_KEYS, layers)
    if found is not None:
        return found
    return DEFAULT_COMMIT_INTERVAL_MS if cache_max_bytes(*layers) > 0 else 0


def guarantee_error(value: object) -> str:
    return (
        f"Invalid value {value} for configuration {GUARANTEE}: String must be one of: "
        + ", ".join(GUARANTEES)
    )


def check_guarantees(
    properties: Mapping[str, object], statement: str | None = None, server: bool = False
) -> None:
    """Reject a ``processing.guarantee`` (either spelling) that Kafka Streams would reject.

    With ``statement`` (a SET) the error is a statement error, as ksqlDB's ``PropertyOverrider``
    reports it; for the ``server`` config, Kafka's ``ConfigException`` message; otherwise a
    request-level error, as for REST ``streamsProperties``.

    Also checks the record cache size and the commit interval (LONG, at least 0).
    """
    for name, value in properties.items():
        if value is None:
            continue
        if name in _GUARANTEE_KEYS:
            if str(value).strip().lower() in GUARANTEES:
                continue
            message: str | None = guarantee_error(value)
        elif name in _CACHE_KEYS or name in _COMMIT_KEYS:
            message = _long_error(name.removeprefix("ksql.streams."), value)
        else:
            continue
        if message is None:
            continue
        if statement is not None:
            raise KsqlStatementException(message, statement=statement)
        if server:
            raise KsqlException(message)
        raise KsqlException(
            f"Failed to coerce type of value '{value}' for key '{name}'\nCaused by: {message}"
        )


def processing_guarantee(*layers: Mapping[str, object]) -> str:
    """The guarantee of a query: the first layer (query overrides, then server config) that
    sets it, prefixed or not; ``at_least_once`` by default."""
    for layer in layers:
        for name in _GUARANTEE_KEYS:
            value = layer.get(name)
            if value is not None:
                return str(value).strip().lower()
    return AT_LEAST_ONCE


def consumer_overrides(*layers: Mapping[str, object]) -> dict[str, object]:
    """The :data:`CONSUMER_OVERRIDES` a query's properties set (first layer wins)."""
    found: dict[str, object] = {}
    for layer in reversed(layers):
        for name in CONSUMER_OVERRIDES:
            for key in (f"ksql.streams.{name}", name):
                if layer.get(key) is not None:
                    found[name] = layer[key]
    if "group.instance.id" in found:  # one consumer per query: Kafka Streams' "-<thread>"
        found["group.instance.id"] = f"{found['group.instance.id']}-1"
    return found


def process_id(state_dir: object = None) -> str:
    """This server's process id, part of every transactional.id (Kafka Streams' ``processId``).

    Kept in ``<state.dir>/kafka-streams-process-metadata`` as Kafka Streams does, so a
    restarted server reuses its transactional.ids: ``init_transactions`` then fences the dead
    instance and aborts what it left open at once, instead of read_committed consumers waiting
    for the transaction timeout. Without a state dir, a new id per start.
    """
    if not state_dir:
        return str(uuid.uuid4())
    path = os.path.join(str(state_dir), "kafka-streams-process-metadata")
    try:
        with open(path) as f:
            return str(json.load(f)["processId"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = str(uuid.uuid4())
    os.makedirs(str(state_dir), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"processId": found}, f)
    os.replace(tmp, path)
    return found


# ---- consuming ---------------------------------------------------------------------------------


def to_record(message) -> Record:
    return Record(
        message.topic(),
        message.key(),
        message.value(),
        message.timestamp()[1],
        message.partition(),
        message.offset(),
        tuple(message.headers() or ()),
    )


def next_batch(consumer: Consumer, wait: float = 0.1) -> list:
    """What is ready now, up to ``BATCH`` records, waiting at most ``wait`` for the first.

    ``consume(n, timeout)`` alone waits the whole timeout unless n records are ready, which
    would add that much latency at low rates.
    """
    first = consumer.poll(wait)
    if first is None:
        return []
    return by_timestamp([first, *consumer.consume(BATCH - 1, 0)])


def by_timestamp(messages: list) -> list:
    """A batch in Kafka Streams' order: per partition in offset order, across partitions the
    record with the smallest timestamp first (so a table's earlier rows are joined against)."""
    if len(messages) < 2:
        return messages
    queues: dict[tuple[str, int], list] = {}
    for message in messages:
        queues.setdefault((message.topic(), message.partition()), []).append(message)
    if len(queues) == 1:
        return messages
    return list(heapq.merge(*queues.values(), key=lambda m: m.timestamp()[1]))


def next_offsets(consumer: Consumer, messages: list) -> list[TopicPartition]:
    """The offsets to commit after a batch: per partition, the consumer's position.

    That is the last offset consumed + 1, or past the transaction markers that follow it
    when the consumer skipped them already (read from a transactional producer, the last
    offset + 1 is a marker: committing it would leave a lag of 1 forever, KAFKA-6607).
    """
    ends: dict[tuple[str, int], int] = {}
    for message in messages:
        where = (message.topic(), message.partition())
        ends[where] = max(ends.get(where, -1), message.offset() + 1)
    offsets = [TopicPartition(t, p, o) for (t, p), o in ends.items()]
    positions = consumer.position([TopicPartition(t, p) for t, p in ends])
    for offset, position in zip(offsets, positions, strict=True):
        offset.offset = max(offset.offset, position.offset)
    return offsets


def consumer_config(
    bootstrap: str, group: str, offset_reset: str, read_committed: bool = False
) -> dict[str, object]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": offset_reset,
        "enable.partition.eof": False,
        # A killed engine's members leave the group after this; librdkafka's 45 s default
        # would stall a restarted query that long.
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 2000,
        # Under EOS only committed transactions are input (Kafka Streams sets this too); under
        # at-least-once Kafka Streams reads uncommitted.
        "isolation.level": "read_committed" if read_committed else "read_uncommitted",
    }


class RecordCache:
    """Kafka Streams' record cache for the records of one query: the latest value per
    (topic, key) until :meth:`flush` (a commit), or until the cache outgrows ``max_bytes``,
    when the least recently updated entries are produced first. Keys decide partitions
    (the same partitioner for every record), so (topic, key) is (topic, partition, key).
    """

    def __init__(self, max_bytes: int, producer: Producer) -> None:
        self.max_bytes = max_bytes
        self.producer = producer
        # (topic, key) -> (value, timestamp, headers, on_delivery, size); insertion order is
        # the order of last updates (an update moves its entry to the end)
        self.entries: dict[tuple[str, bytes], tuple] = {}
        self.size = 0
        self.hits = 0  # updates that replaced a cached record (one record fewer produced)

    def put(self, topic: str, key: bytes, value, timestamp, headers, on_delivery) -> None:
        where = (topic, key)
        old = self.entries.pop(where, None)
        size = len(key) + (len(value) if value else 0) + CACHE_ENTRY_OVERHEAD
        if old is not None:
            self.size -= old[4]
            self.hits += 1
        self.entries[where] = (value, timestamp, headers, on_delivery, size)
        self.size += size
        if self.size > self.max_bytes:
            self._evict()

    def _evict(self) -> None:
        entries = self.entries
        while self.size > self.max_bytes and entries:
            where = next(iter(entries))
            value, timestamp, headers, on_delivery, size = entries.pop(where)
            self.size -= size
            send(self.producer, where[0], where[1], value, timestamp, headers, on_delivery)

    def flush(self) -> None:
        """Produce every cached record (oldest update first) and empty the cache."""
        producer = self.producer
        for (topic, key), (value, timestamp, headers, on_delivery, _) in self.entries.items():
            send(producer, topic, key, value, timestamp, headers, on_delivery)
        self.clear()

    def clear(self) -> None:
        self.entries.clear()
        self.size = 0


class QueryRunner(threading.Thread):
    """Feeds ``process`` from ``topics``; records ``process`` emits go to ``self.producer``.

    With ``transactional_id`` (exactly_once_v2) every commit is a transaction; ``on_abort``
    then rebuilds the query's state from its committed changelogs and returns the new
    ``process`` function. ``on_commit(query_id)`` runs after each successful commit (the
    stores checkpoint there). ``cache_max_bytes`` > 0 turns the record cache on for the
    changelogs and the ``cached_topics`` (a TABLE sink); ``commit_interval_ms`` 0 commits
    every batch. ``on_flush()`` runs first in every commit: the topology's store cache
    (:mod:`streamlab.ksql.state.caching`) forwards and logs what it held.
    """

    def __init__(
        self,
        query_id: str,
        bootstrap: str,
        group: str,
        topics: list[str],
        process: Callable[[Record], None],
        offset_reset: str = "latest",
        on_error: Callable[[str, Exception, Record], None] | None = None,
        on_crash: Callable[[str, Exception], None] | None = None,
        transactional_id: str | None = None,
        on_abort: Callable[[str], Callable[[Record], None]] | None = None,
        consumer_settings: Mapping[str, object] | None = None,
        on_commit: Callable[[str], None] | None = None,
        cache_max_bytes: int = 0,
        commit_interval_ms: int = 0,
        cached_topics: frozenset[str] | set[str] = frozenset(),
        on_flush: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name=f"query-{query_id}", daemon=True)
        self.query_id = query_id
        self.group = group
        self.topics = topics
        self.process_record = process
        self.offset_reset = offset_reset
        self.on_error = on_error
        self.on_crash = on_crash
        self.on_abort = on_abort
        self.on_commit = on_commit
        self.on_flush = on_flush
        self.transactional = transactional_id is not None
        config = consumer_config(bootstrap, group, offset_reset, self.transactional)
        self.consumer = Consumer({**config, **(consumer_settings or {})})
        settings = producer_config(bootstrap)
        if transactional_id is not None:
            settings["transactional.id"] = transactional_id
            settings["transaction.timeout.ms"] = TRANSACTION_TIMEOUT_MS
        self.producer = Producer(settings)
        self.cache = RecordCache(cache_max_bytes, self.producer) if cache_max_bytes > 0 else None
        self.cached_topics = frozenset(cached_topics) if self.cache is not None else frozenset()
        self.commit_interval = commit_interval_ms / 1000
        self.last_commit = time.monotonic()
        self.uncommitted = False  # records consumed since the last commit
        self.in_transaction = False
        self.pending_offsets: dict[tuple[str, int], int] = {}  # exactly_once_v2
        self.stopping = threading.Event()
        self.processed = 0
        self.commits = 0  # successful (at_least_once)
        self.transactions = 0  # committed
        self.aborts = 0
        self.aborts_in_a_row = 0

    @property
    def guarantee(self) -> str:
        return EXACTLY_ONCE_V2 if self.transactional else AT_LEAST_ONCE

    @property
    def producer(self) -> Producer:
        return self._producer

    @producer.setter
    def producer(self, producer: Producer) -> None:  # the cache follows (tests swap it)
        self._producer = producer
        cache = getattr(self, "cache", None)
        if cache is not None:
            cache.producer = producer

    def init_transactions(self) -> None:
        """Register the transactional.id (exactly_once_v2): fences an older instance with the
        same id and aborts the transaction it left open, so its uncommitted changelog entries
        are settled before the state is restored. A no-op under at-least-once."""
        if not self.transactional:
            return
        try:
            self.producer.init_transactions(TIMEOUT)
        except KafkaException as error:
            raise KsqlException(
                f"Could not start query {self.query_id} with {GUARANTEE}={EXACTLY_ONCE_V2}: "
                f"the cluster did not start a transaction ({error.args[0].str()}). Transactions "
                f"need a broker with a transaction coordinator; use {AT_LEAST_ONCE} otherwise."
            ) from error

    def emit(self, record: Record) -> None:
        """A sink record: cached when its topic is a cached TABLE sink, else produced."""
        if record.topic in self.cached_topics and record.key is not None:
            self.cache.put(  # type: ignore[union-attr]
                record.topic, record.key, record.value, record.timestamp,
                list(record.headers) or None, None,
            )  # fmt: skip
        else:
            produce(self.producer, record)

    def changelog(self, topic: str, key: bytes, value: bytes | None, on_delivery) -> None:
        """A state store's changelog record (``value`` None: a tombstone); cached when the
        cache is on, as a caching store logs only what it flushes."""
        if self.cache is not None:
            self.cache.put(topic, key, value, None, None, on_delivery)
        else:
            send(self.producer, topic, key, value, on_delivery=on_delivery)

    def run(self) -> None:
        local.runner = self
        crashed = False
        try:
            self.consumer.subscribe(self.topics, on_assign=self._assigned, on_revoke=self._revoked)
            while not self.stopping.is_set():
                messages = next_batch(self.consumer)
                if messages or self.uncommitted:
                    self.step(messages)
        except Exception as error:
            crashed = True
            log.exception("query %s stopped", self.query_id)
            if self.on_crash is not None:
                self.on_crash(self.query_id, error)
        finally:
            if not crashed and self.uncommitted:
                self._final_commit()  # a clean stop commits what it processed
            self.uncommitted = False  # nothing for the revoke in close() (never after a crash)
            if not self.transactional:
                self.producer.flush(TIMEOUT)
            self.consumer.close()

    def step(self, messages: list) -> None:
        """Process a batch (possibly empty), then commit if the commit interval is over."""
        if self.transactional:
            self.transaction(messages)
            return
        self.process(messages)
        if self.commit_due():
            self.commit()

    def commit_due(self) -> bool:
        return time.monotonic() - self.last_commit >= self.commit_interval

    def _final_commit(self) -> None:
        try:
            if self.transactional:
                self.transaction([], force=True)
            else:
                self.commit()
        except Exception:
            log.exception("query %s: final commit failed", self.query_id)

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.debug("query %s: assigned %s", self.query_id,
                  [(p.topic, p.partition, p.offset) for p in partitions])  # fmt: skip

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Kafka Streams commits its tasks before giving their partitions away.
        if self.uncommitted:
            log.info("query %s: partitions revoked; committing first", self.query_id)
            self._final_commit()

    def process(self, messages: list) -> None:
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("query %s: consume error %s", self.query_id, error)
                continue
            record = to_record(message)
            try:
                self.process_record(record)
            except Exception as exc:  # a bug must not stop the query
                log.exception("query %s failed on a record", self.query_id)
                if self.on_error is not None:
                    self.on_error(self.query_id, exc, record)
            self.processed += 1
            self.uncommitted = True

    def commit(self) -> None:
        """At-least-once, in this order:

        1. produce outputs and 2. changelog entries (done while processing; what the record
           cache holds is produced now);
        3. flush the producer: every record since the last commit acknowledged;
        4. commit the input offsets (only when 3 succeeded; otherwise the records are replayed);
        5. ``on_commit``: the stores checkpoint.
        """
        self.last_commit = time.monotonic()
        self.flush_caches()
        remaining = self.producer.flush(TIMEOUT)
        if remaining:
            log.warning("query %s: %d records not delivered; not committing", self.query_id,
                        remaining)  # fmt: skip
            return
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as error:
            if error.args[0].code() != KafkaError._NO_OFFSET:  # nothing consumed: fine
                log.warning("query %s: commit failed: %s", self.query_id, error)
                return
        except Exception as error:  # e.g. a rebalance in progress: the records are replayed
            log.warning("query %s: commit failed: %s", self.query_id, error)
            return
        self.uncommitted = False
        self.commits += 1
        if self.on_commit is not None:
            self.on_commit(self.query_id)

    def transaction(self, messages: list, force: bool = False) -> None:
        """Exactly-once, in this order:

        1. begin a transaction (at the first batch after a commit);
        2. produce outputs and changelog entries (processing the batches of the commit
           interval; what the record cache holds is produced at the commit);
        3. add the next input offsets to the transaction, with the consumer's group
           metadata (a consumer of an older generation is fenced);
        4. commit: outputs, changelog and offsets become visible together, or none of them;
        5. ``on_commit``.

        A failure that needs an abort aborts, rebuilds the state and rewinds the input; after
        :data:`MAX_ABORTS` aborts in a row (a record the cluster always refuses, say) the query
        stops in ERROR rather than retry forever, as ksqlDB fails a query on a production error.
        """
        if messages and not self.in_transaction:
            self.producer.begin_transaction()
            self.in_transaction = True
        try:
            self.process(messages)
            if messages:
                for offset in next_offsets(self.consumer, messages):
                    where = (offset.topic, offset.partition)
                    self.pending_offsets[where] = max(
                        self.pending_offsets.get(where, -1), offset.offset
                    )
            if not self.in_transaction or not (force or self.commit_due()):
                return
            self.flush_caches()
            self.producer.send_offsets_to_transaction(
                [TopicPartition(t, p, o) for (t, p), o in self.pending_offsets.items()],
                self.consumer.consumer_group_metadata(),
                TIMEOUT,
            )
            self._commit_transaction()
        except KafkaException as error:
            kafka_error = error.args[0]
            if kafka_error.fatal():
                raise  # e.g. fenced by a newer instance of this query: it stops
            log.warning("query %s: aborting transaction: %s", self.query_id, kafka_error)
            self._end_transaction()
            self.producer.abort_transaction(TIMEOUT)
            self.aborts += 1
            self.aborts_in_a_row += 1
            if self.aborts_in_a_row >= MAX_ABORTS:
                raise KsqlException(
                    f"Query {self.query_id}: {self.aborts_in_a_row} transactions aborted in a "
                    f"row, the last on: {kafka_error.str()}"
                ) from error
            self.rewind()
            return
        self._end_transaction()
        self.transactions += 1
        self.aborts_in_a_row = 0
        if self.on_commit is not None:
            self.on_commit(self.query_id)

    def flush_caches(self) -> None:
        """Before a commit: the stores' cache (``on_flush``: aggregates forwarded, changelog
        entries written), then the record cache, into the producer."""
        if self.on_flush is not None:
            self.on_flush()
        if self.cache is not None:
            self.cache.flush()

    def _end_transaction(self) -> None:
        self.in_transaction = False
        self.uncommitted = False
        self.pending_offsets.clear()
        self.last_commit = time.monotonic()
        if self.cache is not None:
            self.cache.clear()  # after an abort: the aborted updates are gone

    def _commit_transaction(self, attempts: int = 3) -> None:
        for attempt in range(1, attempts + 1):
            try:
                self.producer.commit_transaction(TIMEOUT)
                return
            except KafkaException as error:
                if not error.args[0].retriable() or attempt == attempts:
                    raise  # the caller aborts (or stops on a fatal error)
                log.info("query %s: retrying commit: %s", self.query_id, error.args[0])

    def rewind(self) -> None:
        """After an abort: state back to the last commit, input back to committed offsets."""
        if self.on_abort is not None:
            self.process_record = self.on_abort(self.query_id)
        assignment = self.consumer.assignment()
        if not assignment:
            return
        reset = OFFSET_BEGINNING if self.offset_reset == "earliest" else OFFSET_END
        for partition in self.consumer.committed(assignment, TIMEOUT):
            if partition.offset < 0:
                partition.offset = reset
            self.consumer.seek(partition)

    def stop(self, wait: bool = True) -> None:
        self.stopping.set()
        if wait and self.is_alive() and threading.current_thread() is not self:
            self.join(TIMEOUT)


#: ``local.runner`` is the runner of the current thread, where sink records go.
local = threading.local()
