"""The transaction coordinator: transactional ids, their producer ids and epochs, and the
two-phase end of a transaction (the state behind APIs 22, 24, 25, 26 with a transactional id).

Modelled on Kafka's ``TransactionCoordinator``/``TransactionMetadata`` in their classic
("transactions V1") form, which is what librdkafka 2.16 speaks (it sends Produce v10 and
EndTxn v1, so KIP-890 part 2 is never negotiated):

    Empty           InitProducerId done (epoch bumped), nothing added yet.
    Ongoing         AddPartitionsToTxn / AddOffsetsToTxn added partitions; the clock of
                    transaction.timeout.ms runs from the first one.
    PrepareCommit   EndTxn(commit) accepted and written; markers being written.
    PrepareAbort    EndTxn(abort), a timeout, or a newer producer with the same id (fencing,
                    with the epoch bumped first).
    CompleteCommit  markers written; the id is ready for the next transaction.
    CompleteAbort

Every state change is written to the compacted internal topic ``__transaction_state``
(Kafka's TransactionLogKey/Value records) before it is applied and acknowledged, so a broker
killed with kill -9 recovers as Kafka does: PrepareCommit/PrepareAbort are completed (the
markers written again; a duplicate marker is harmless), Ongoing transactions stay open until
their timeout or a new producer aborts them.

Markers are written synchronously into the partition logs (one process holds every broker),
so a Prepare* state never outlives the request that caused it, except across a crash.
Nothing here knows about kio or sockets: answers are kio ``ErrorCode`` member names.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from streamlab.kafka.coordinator import txn_records as tr
from streamlab.kafka.coordinator.records import OFFSETS_TOPIC, RecordError, build_batch
from streamlab.kafka.coordinator.txn_records import TRANSACTION_TOPIC, TxnValue
from streamlab.kafka.periodic import Periodic

log = logging.getLogger("streamlab.kafka.coordinator")

NONE = "none"
MAX_TIMEOUT_MS = 900_000  # transaction.max.timeout.ms
ABORT_INTERVAL_MS = 10_000  # transaction.abort.timed.out.transaction.cleanup.interval.ms
MAX_EPOCH = 32767  # Short.MAX_VALUE: an exhausted epoch gets a new producer id

TopicPartition = tuple[str, int]


@dataclass(eq=False)
class TxnMetadata:
    transactional_id: str
    producer_id: int
    epoch: int
    timeout_ms: int
    state: int = tr.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    start_ms: int = -1
    last_update_ms: int = 0
    last_epoch: int = -1  # the epoch before the last bump (KIP-360 retries)

    def value(self) -> TxnValue:
        return TxnValue(
            self.producer_id,
            self.epoch,
            self.timeout_ms,
            self.state,
            tuple(sorted(self.partitions)),
            self.last_update_ms,
            self.start_ms,
        )


@dataclass(frozen=True, slots=True)
class InitResult:
    error: str
    producer_id: int = -1
    producer_epoch: int = -1


class TransactionCoordinator:
    """Every transactional id of the cluster. ``groups`` is the GroupCoordinator, whose
    ``store`` turns pending TxnOffsetCommit offsets into committed ones on a marker."""

    def __init__(self, cluster, groups, abort_interval_ms: int = ABORT_INTERVAL_MS) -> None:
        self.cluster = cluster
        self.groups = groups
        self.abort_interval_ms = abort_interval_ms
        self.txns: dict[str, TxnMetadata] = {}
        self.by_producer: dict[int, TxnMetadata] = {}
        self._expiry = Periodic(
            "aborting timed-out transactions", abort_interval_ms, self.abort_timed_out, log
        )
        self.load()

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._expiry.start()

    async def stop(self) -> None:
        await self._expiry.stop()

    def load(self) -> None:
        """Replay ``__transaction_state``: the last value per transactional id wins. A
        transaction caught between Prepare and Complete is completed now, as Kafka's
        coordinator does when it loads the partition."""
        topic = self.cluster.topics.get(TRANSACTION_TOPIC)
        if topic is None:
            return
        from streamlab.kafka.coordinator.storage import _read_batches

        latest: dict[bytes, bytes | None] = {}
        for p in topic.partitions:
            for _, kind, recs in _read_batches(p.log):
                if kind is None:
                    for key, value in recs:
                        if key is not None:
                            latest[key] = value
        for key, value in latest.items():
            try:
                txn_id = tr.decode_txn_key(key)
                if value is None:
                    continue
                v = tr.decode_txn_value(value)
            except RecordError as e:
                log.warning("%s: record ignored: %s", TRANSACTION_TOPIC, e)
                continue
            meta = TxnMetadata(
                txn_id,
                v.producer_id,
                v.producer_epoch,
                v.timeout_ms,
                v.state,
                set(v.partitions),
                v.start_ms,
                v.last_update_ms,
            )
            self._remember(meta)
        for meta in list(self.txns.values()):
            if meta.state in (tr.PREPARE_COMMIT, tr.PREPARE_ABORT, tr.PREPARE_EPOCH_FENCE):
                commit = meta.state == tr.PREPARE_COMMIT
                log.info(
                    "transaction '%s' was %s at shutdown: completing it",
                    meta.transactional_id,
                    tr.STATE_NAMES[meta.state],
                )
                self._complete(meta, commit)
        ongoing = sum(1 for m in self.txns.values() if m.state == tr.ONGOING)
        if self.txns:
            log.info(
                "loaded %s: %d transactional id(s), %d open transaction(s)",
                TRANSACTION_TOPIC,
                len(self.txns),
                ongoing,
            )

    def _remember(self, meta: TxnMetadata) -> None:
        old = self.txns.get(meta.transactional_id)
        if old is not None and self.by_producer.get(old.producer_id) is old:
            del self.by_producer[old.producer_id]
        self.txns[meta.transactional_id] = meta
        self.by_producer[meta.producer_id] = meta

    # --- where an id lives ------------------------------------------------------------------------

    def coordinator_id(self, transactional_id: str) -> int:
        broker = self.cluster.txn_coordinator_for(transactional_id)
        return broker.node_id if broker is not None else -1

    def is_coordinator(self, transactional_id: str, node_id: int) -> bool:
        return self.coordinator_id(transactional_id) == node_id

    # --- InitProducerId ---------------------------------------------------------------------------

    def init_producer_id(
        self,
        transactional_id: str,
        timeout_ms: int,
        expected_producer_id: int = -1,
        expected_epoch: int = -1,
    ) -> InitResult:
        if not transactional_id:
            return InitResult("invalid_request")
        if not 0 < timeout_ms <= MAX_TIMEOUT_MS:
            return InitResult("invalid_transaction_timeout")
        meta = self.txns.get(transactional_id)
        now = _now_ms()
        if meta is None:
            meta = TxnMetadata(transactional_id, self.cluster.allocate_producer_id(), 0, timeout_ms)
            meta.last_update_ms = now
            return self._persist_then(meta, lambda: self._remember(meta), self._init_ok)
        if expected_producer_id >= 0 and not (
            expected_producer_id == meta.producer_id
            and expected_epoch in (meta.epoch, meta.last_epoch)
        ):
            return InitResult("producer_fenced")
        if meta.state in (tr.PREPARE_COMMIT, tr.PREPARE_ABORT, tr.PREPARE_EPOCH_FENCE):
            return InitResult("concurrent_transactions")
        if meta.state == tr.ONGOING:
            # A new producer instance: fence the old one (bumped epoch) and abort its
            # transaction; like Kafka, answer CONCURRENT_TRANSACTIONS so the client retries
            # and then gets the next epoch.
            log.info(
                "transactional id '%s': new producer; aborting the open transaction",
                transactional_id,
            )
            error = self._fence_and_abort(meta, "a new producer with the same id")
            return InitResult(error if error != NONE else "concurrent_transactions")
        # Empty / CompleteCommit / CompleteAbort: bump the epoch for the new session.
        new = _copy(meta)
        new.last_epoch = meta.epoch
        if meta.epoch + 1 >= MAX_EPOCH:
            new.producer_id, new.epoch, new.last_epoch = self.cluster.allocate_producer_id(), 0, -1
        else:
            new.epoch = meta.epoch + 1
        new.timeout_ms, new.state, new.partitions = timeout_ms, tr.EMPTY, set()
        new.start_ms, new.last_update_ms = -1, now
        return self._persist_then(new, lambda: self._remember(new), self._init_ok)

    @staticmethod
    def _init_ok(meta: TxnMetadata) -> InitResult:
        return InitResult(NONE, meta.producer_id, meta.epoch)

    # --- AddPartitionsToTxn / AddOffsetsToTxn -----------------------------------------------------

    def _validate(self, transactional_id: str, producer_id: int, epoch: int) -> str | TxnMetadata:
        if not transactional_id:
            return "invalid_request"
        meta = self.txns.get(transactional_id)
        if meta is None or meta.producer_id != producer_id:
            return "invalid_producer_id_mapping"
        if epoch != meta.epoch:
            return "producer_fenced"
        return meta

    def add_partitions(
        self, transactional_id: str, producer_id: int, epoch: int, partitions: list[TopicPartition]
    ) -> str:
        """One error for the whole request (the handler checks unknown partitions first)."""
        meta = self._validate(transactional_id, producer_id, epoch)
        if isinstance(meta, str):
            return meta
        if meta.state in (tr.PREPARE_COMMIT, tr.PREPARE_ABORT, tr.PREPARE_EPOCH_FENCE):
            return "concurrent_transactions"
        if meta.state == tr.ONGOING and set(partitions) <= meta.partitions:
            return NONE
        new = _copy(meta)
        now = _now_ms()
        if meta.state != tr.ONGOING:
            new.partitions, new.start_ms = set(), now
        new.partitions |= set(partitions)
        new.state, new.last_update_ms = tr.ONGOING, now
        return self._persist_then(new, lambda: self._remember(new), lambda _: NONE)

    def add_offsets(
        self, transactional_id: str, producer_id: int, epoch: int, group_id: str
    ) -> str:
        """AddOffsetsToTxn: the group's ``__consumer_offsets`` partition joins the
        transaction, so its pending offsets get the transaction's marker."""
        from streamlab.kafka.coordinator.records import partition_for

        if not group_id:
            return "invalid_group_id"
        meta = self._validate(transactional_id, producer_id, epoch)
        if isinstance(meta, str):
            return meta
        try:
            n = len(self.cluster.offsets_topic().partitions)
        except Exception as e:  # TopicError: cannot create the topic
            log.error("cannot create %s: %s", OFFSETS_TOPIC, e)
            return "coordinator_not_available"
        return self.add_partitions(
            transactional_id, producer_id, epoch, [(OFFSETS_TOPIC, partition_for(group_id, n))]
        )

    # --- EndTxn -----------------------------------------------------------------------------------

    def end_txn(self, transactional_id: str, producer_id: int, epoch: int, commit: bool) -> str:
        meta = self._validate(transactional_id, producer_id, epoch)
        if isinstance(meta, str):
            return meta
        state = meta.state
        if state == tr.ONGOING:
            return self._end(meta, commit)
        if state == tr.COMPLETE_COMMIT:
            return NONE if commit else "invalid_txn_state"  # a retried EndTxn
        if state == tr.COMPLETE_ABORT:
            return NONE if not commit else "invalid_txn_state"
        if state == tr.PREPARE_COMMIT:
            return "concurrent_transactions" if commit else "invalid_txn_state"
        if state in (tr.PREPARE_ABORT, tr.PREPARE_EPOCH_FENCE):
            return "concurrent_transactions" if not commit else "invalid_txn_state"
        return "invalid_txn_state"  # Empty: nothing to end

    def _end(self, meta: TxnMetadata, commit: bool) -> str:
        prepared = _copy(meta)
        prepared.state = tr.PREPARE_COMMIT if commit else tr.PREPARE_ABORT
        prepared.last_update_ms = _now_ms()
        error = self._persist_then(prepared, lambda: self._remember(prepared), lambda _: NONE)
        if error != NONE:
            return error
        self._complete(prepared, commit)
        return NONE

    def _fence_and_abort(self, meta: TxnMetadata, reason: str) -> str:
        """Kafka's prepareFenceProducerEpoch: bump the epoch (the old producer's requests now
        fail with PRODUCER_FENCED / INVALID_PRODUCER_EPOCH), then abort with the new epoch."""
        fenced = _copy(meta)
        if meta.epoch + 1 < MAX_EPOCH:
            fenced.last_epoch, fenced.epoch = meta.epoch, meta.epoch + 1
        log.info(
            "transactional id '%s': aborting the transaction of producer %d (%s), epoch %d -> %d",
            meta.transactional_id,
            meta.producer_id,
            reason,
            meta.epoch,
            fenced.epoch,
        )
        return self._end(fenced, commit=False)

    def _complete(self, meta: TxnMetadata, commit: bool) -> None:
        """Write the markers, then the Complete state. A partition whose marker cannot be
        written (its topic was deleted) is skipped, as Kafka drops markers for deleted
        partitions."""
        by_offsets_partition = []
        for topic, index in sorted(meta.partitions):
            if topic == OFFSETS_TOPIC:
                by_offsets_partition.append(index)
                continue
            p = self.cluster.partition(topic, index)
            if p is None:
                log.warning("transaction marker for %s-%d skipped: no such partition", topic, index)
                continue
            try:
                p.log.write_marker(meta.producer_id, meta.epoch, commit, p.leader_epoch)
            except Exception as e:  # ProduceError / OSError: leave it, log it
                log.error("cannot write a transaction marker to %s-%d: %s", topic, index, e)
        for index in by_offsets_partition:
            try:
                self.groups.store.complete_txn(index, meta.producer_id, meta.epoch, commit)
            except OSError as e:
                log.error("%s", e)
        done = _copy(meta)
        done.state = tr.COMPLETE_COMMIT if commit else tr.COMPLETE_ABORT
        done.partitions = set()
        done.last_update_ms = _now_ms()
        error = self._persist_then(done, lambda: self._remember(done), lambda _: NONE)
        if error != NONE:
            log.error("transaction '%s': cannot record its completion", meta.transactional_id)

    # --- timeouts ---------------------------------------------------------------------------------

    def abort_timed_out(self, now_ms: int | None = None) -> list[str]:
        """Abort (with an epoch bump) every Ongoing transaction older than its timeout; returns
        their transactional ids. Kafka runs this every
        transaction.abort.timed.out.transaction.cleanup.interval.ms."""
        now = _now_ms() if now_ms is None else now_ms
        expired = [
            m
            for m in self.txns.values()
            if m.state == tr.ONGOING and m.start_ms >= 0 and now > m.start_ms + m.timeout_ms
        ]
        for meta in expired:
            self._fence_and_abort(meta, f"timed out after {meta.timeout_ms} ms")
        return [m.transactional_id for m in expired]

    # --- partition-side checks (KIP-890 part 1 verification) --------------------------------------

    def verify(self, producer_id: int, epoch: int, tp: TopicPartition) -> str:
        """May a transactional batch of (producer id, epoch) go to ``tp``? Kafka 4.x's
        partition leaders ask the coordinator this before appending (KIP-890 part 1)."""
        meta = self.by_producer.get(producer_id)
        if meta is None:
            return "invalid_producer_id_mapping"
        if epoch < meta.epoch:
            return "invalid_producer_epoch"
        if meta.state != tr.ONGOING or tp not in meta.partitions or epoch != meta.epoch:
            return "invalid_txn_state"
        return NONE

    # --- observability ----------------------------------------------------------------------------

    def snapshot(self) -> list[dict]:
        return [
            {
                "transactional_id": m.transactional_id,
                "producer_id": m.producer_id,
                "producer_epoch": m.epoch,
                "state": tr.STATE_NAMES.get(m.state, str(m.state)),
                "timeout_ms": m.timeout_ms,
                "partitions": [{"topic": t, "partition": p} for t, p in sorted(m.partitions)],
                "start_ms": m.start_ms,
            }
            for m in sorted(self.txns.values(), key=lambda m: m.transactional_id)
        ]

    # --- persistence ------------------------------------------------------------------------------

    def _persist_then(self, meta: TxnMetadata, apply, answer):
        """Write ``meta`` to its __transaction_state partition, then apply it; a failed write
        leaves memory unchanged and answers COORDINATOR_NOT_AVAILABLE."""
        from streamlab.kafka.cluster import TopicError
        from streamlab.kafka.log import InvalidBatch, ProduceError

        try:
            topic = self.cluster.transaction_topic()
            index = tr.txn_partition_for(meta.transactional_id, len(topic.partitions))
            p = topic.partitions[index]
            record = (tr.encode_txn_key(meta.transactional_id), tr.encode_txn_value(meta.value()))
            p.log.append(build_batch([record], _now_ms()), p.leader_epoch)
        except (TopicError, InvalidBatch, ProduceError, OSError) as e:
            log.error("cannot write to %s: %s", TRANSACTION_TOPIC, e)
            if answer is self._init_ok:
                return InitResult("coordinator_not_available")
            return "coordinator_not_available"
        apply()
        return answer(meta)


def _copy(meta: TxnMetadata) -> TxnMetadata:
    return TxnMetadata(
        meta.transactional_id,
        meta.producer_id,
        meta.epoch,
        meta.timeout_ms,
        meta.state,
        set(meta.partitions),
        meta.start_ms,
        meta.last_update_ms,
        meta.last_epoch,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)
