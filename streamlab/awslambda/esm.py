"""Kafka event source mappings: pollers with a real consumer group (research/lambda-kafka.md §2).

A :class:`KafkaMappingRunner` runs one mapping. Its pollers are confluent-kafka consumers in the
mapping's consumer group (``ConsumerGroupId``, default the mapping's UUID), so Kafka itself
splits the partitions between them and at most one poller reads a partition. Each poller, in a
loop:

1. **Batches**: reads records until ``BatchSize`` (default 100) is reached, or the batching
   window closes (it opens at the first record: ``MaximumBatchingWindowInSeconds``, default
   0.5 s for Kafka), or the next record would take the event over 6 MB;
2. **Filters** the batch with ``FilterCriteria`` (on ``value`` only);
3. **Invokes** the function synchronously with AWS's event (:mod:`.kafka_event`), one batch at a
   time, so records of a partition are handled in order;
4. **Commits** the batch's offsets (filtered-out records included) only after a successful
   invoke. A failed batch is retried, blocking its partitions: forever by default, or until
   ``MaximumRetryAttempts`` / ``MaximumRecordAgeInSeconds`` give up (retries are capped at 10
   when an on-failure destination is set), optionally bisecting (``BisectBatchOnFunctionError``)
   and honouring ``ReportBatchItemFailures``. Given-up records go to ``kafka://<topic>``
   destinations and are then committed.

**Scaling** (on-demand mode): one poller at first; every ``scale_interval`` seconds (60 s on
AWS; shorter in lessons) the runner looks at the group's offset lag and applies
:func:`scale_decision`: more than a batch waiting per poller doubles the pollers (at most one per
partition); no lag for two checks halves them (at least one). AWS does not publish its exact rule;
this one reproduces the shape of the article's experiment. ``time_scale`` (the endpoint's
``--time-scale``, or per mapping through ``POST /_streamlab/lambda/mappings/<uuid>/time-scale``)
divides the interval: at 60, a minute of AWS scaling takes a second. :mod:`.scaling` replays the
same rule in simulated time, without Kafka or processes, for the 1,000-partition experiment.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from streamlab.awslambda import exceptions as exc
from streamlab.awslambda.kafka_event import (
    MAX_PAYLOAD,
    build_event,
    entry_size,
    matches,
    record_entry,
)
from streamlab.awslambda.utils import iso_millis

if TYPE_CHECKING:
    from streamlab.awslambda.models import EventSourceMapping, LambdaBackend

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 0.5  # seconds: Kafka's default batching window
RETRY_CAP_WITH_DESTINATION = 10
EVENT_OVERHEAD = 200  # the envelope around the records, generously


def scale_decision(
    pollers: int, partitions: int, lag: int, batch_size: int, idle_checks: int
) -> tuple[int, int]:
    """One lag check: (pollers to run, idle checks so far). Shared by the real runner and the
    simulator (:mod:`.scaling`) so both scale alike."""
    backlog = lag > pollers * batch_size  # more than a batch waiting per poller
    if backlog and pollers < partitions:
        return min(partitions, max(1, pollers * 2)), 0
    if lag == 0:
        idle_checks += 1
        if idle_checks >= 2 and pollers > 1:
            return max(1, pollers // 2), 0
        return pollers, idle_checks
    return pollers, 0


def backoff(attempt: int) -> float:
    return min(0.2 * 2 ** max(0, attempt - 1), 10.0)


class KafkaMappingRunner:
    """One mapping: its pollers, scaling, counters."""

    def __init__(
        self,
        backend: LambdaBackend,
        mapping: EventSourceMapping,
        scale_interval: float = 60.0,
        time_scale: float = 1.0,
    ) -> None:
        self.backend = backend
        self.mapping = mapping
        self.scale_interval = scale_interval  # in simulated (AWS) seconds
        self.time_scale = time_scale  # simulated seconds per real second
        self._rescaled = asyncio.Event()
        self._probe: LagProbe | None = None
        self.pollers: list[Poller] = []
        self._task: asyncio.Task[None] | None = None
        self._producer: Any = None
        self._client_config: dict[str, Any] | None = None
        self.invocations = 0
        self.errors = 0
        self.records_delivered = 0
        self.records_filtered = 0
        self.records_to_destination = 0
        self.records_dropped = 0
        self.offset_lag: int | None = None
        self.pollers_over_time: list[tuple[float, int]] = []
        # (epoch seconds, pollers, offset lag) at every lag check, for "scaling over time" plots
        self.checks: list[tuple[float, int, int]] = []
        self.started = time.time()
        self.problem: str | None = None

    # --- MappingRunner ----------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def reconfigure(self) -> None:
        """Pollers read the mapping's settings before every batch; nothing to restart."""

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await asyncio.gather(*(p.stop() for p in self.pollers), return_exceptions=True)
        self.pollers.clear()
        if self._probe is not None:
            await self._probe.close()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._producer.flush, 5)

    def describe(self) -> dict[str, Any]:
        return {
            "Pollers": len(self.pollers),
            "Assignments": [p.assignment for p in self.pollers],
            "OffsetLag": self.offset_lag,
            "Invocations": self.invocations,
            "Errors": self.errors,
            "RecordsDelivered": self.records_delivered,
            "RecordsFiltered": self.records_filtered,
            "RecordsToDestination": self.records_to_destination,
            "RecordsDropped": self.records_dropped,
            "PollersOverTime": [[round(t, 3), n] for t, n in self.pollers_over_time],
            "LagChecks": [[round(t, 3), n, lag] for t, n, lag in self.checks[-2000:]],
            "ScaleInterval": self.scale_interval,
            "TimeScale": self.time_scale,
            "Started": round(self.started, 3),
            "Problem": self.problem,
        }

    def set_time_scale(self, scale: float) -> None:
        """Change the time scale now (the current wait is cut short)."""
        if not scale > 0:
            raise ValueError("the time scale must be positive")
        self.time_scale = float(scale)
        self._rescaled.set()

    async def _wait_interval(self) -> None:
        self._rescaled.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                self._rescaled.wait(), self.scale_interval / max(self.time_scale, 1e-9)
            )

    # --- settings -------------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        return self.mapping.config

    async def client_config(self) -> dict[str, Any]:
        """librdkafka settings for the source cluster (SASL/PLAIN from a BASIC_AUTH secret)."""
        if self._client_config is not None:
            return self._client_config
        servers = self.mapping.bootstrap_servers
        conf: dict[str, Any] = {"bootstrap.servers": ",".join(servers)}
        for access in self.config.get("SourceAccessConfigurations") or []:
            kind = access.get("Type")
            if kind in ("BASIC_AUTH", "SASL_SCRAM_256_AUTH", "SASL_SCRAM_512_AUTH"):
                secret = await self._secret(access.get("URI", ""))
                conf.update(
                    {
                        # the lab's brokers speak SASL without TLS; AWS would require TLS here
                        "security.protocol": "SASL_PLAINTEXT",
                        "sasl.mechanisms": {
                            "BASIC_AUTH": "PLAIN",
                            "SASL_SCRAM_256_AUTH": "SCRAM-SHA-256",
                            "SASL_SCRAM_512_AUTH": "SCRAM-SHA-512",
                        }[kind],
                        "sasl.username": secret.get("username", ""),
                        "sasl.password": secret.get("password", ""),
                    }
                )
        self._client_config = conf
        return conf

    async def _secret(self, arn: str) -> dict[str, Any]:
        getter = getattr(self.backend, "secret_get", None)
        if getter is None:
            raise RuntimeError("no Secrets Manager available")
        try:
            value = json.loads(await getter(self.backend.region, arn))
        except Exception as e:
            raise _SourceProblem(
                f"PROBLEM: Lambda could not read the Secrets Manager secret {arn}: "
                f"{getattr(e, 'message', e)}"
            ) from None
        return value if isinstance(value, dict) else {}

    # --- supervision and scaling -------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            try:
                await self._ensure_pollers(1)
                break
            except _SourceProblem as e:
                self._problem(str(e))
                await asyncio.sleep(5.0)
        idle_checks = 0
        while True:
            await self._wait_interval()
            if self._rescaled.is_set():
                continue  # a new time scale: wait the new interval
            lag = await self.measure_lag()
            if lag is None:
                continue
            partitions = await self._lag_probe().partition_count()
            n = len(self.pollers)
            self.checks.append((time.time(), n, lag))
            want, idle_checks = scale_decision(
                n, partitions, lag, self.config.get("BatchSize", 100), idle_checks
            )
            if want != n:
                await self._ensure_pollers(want)

    async def _ensure_pollers(self, n: int) -> None:
        conf = await self.client_config()
        while len(self.pollers) < n:
            p = Poller(self, conf, len(self.pollers))
            self.pollers.append(p)
            p.start()
        if len(self.pollers) > n:  # stopped together: one rebalance, not one per poller
            gone, self.pollers = self.pollers[n:], self.pollers[:n]
            await asyncio.gather(*(p.stop() for p in gone), return_exceptions=True)
        self.pollers_over_time.append((time.time(), len(self.pollers)))

    async def measure_lag(self) -> int | None:
        """OffsetLag: newest offsets minus the group's committed offsets, over all partitions."""
        if not self.pollers:
            return None
        lag = await self._lag_probe().group_lag()
        if lag is not None:
            self.offset_lag = lag
        return lag

    def _lag_probe(self) -> LagProbe:
        """A client of its own: a poller's consumer queues these requests behind its long-polling
        fetches (seconds for many partitions) and would stop delivering meanwhile."""
        if self._probe is None:
            self._probe = LagProbe(self, dict(self._client_config or {}))
        return self._probe

    def _problem(self, text: str) -> None:
        self.problem = text
        self.mapping.last_processing_result = text

    # --- delivery -------------------------------------------------------------------------

    async def deliver(self, entries: list[dict[str, Any]]) -> None:
        """Invoke until the batch succeeds or is given up (the retry rules)."""
        pending = entries
        attempts = 0
        cfg = self.config
        responses = cfg.get("FunctionResponseTypes") or []
        while pending:
            event = build_event(pending, self.mapping.bootstrap_servers, cfg.get("EventSourceArn"))
            payload = json.dumps(event).encode()
            try:
                result = await self.backend.invoke_function(self.mapping.function_name, payload)
            except exc.LambdaError as e:
                self._problem(f"PROBLEM: {e.message}")
                await asyncio.sleep(5.0)
                continue
            self.invocations += 1
            failed: list[dict[str, Any]] = []
            if result.ok:
                self.mapping.last_processing_result = "OK"
                self.problem = None
                if "ReportBatchItemFailures" in responses:
                    failed = _reported_failures(result.payload, pending)
                if not failed:
                    self.records_delivered += len(pending)
                    return
                self.records_delivered += len(pending) - len(failed)
                pending = failed
            else:
                self.errors += 1
                self.mapping.last_processing_result = "PROBLEM: Function call failed"
            attempts += 1
            max_age = cfg.get("MaximumRecordAgeInSeconds", -1)
            if max_age is not None and max_age >= 0:
                now_ms = time.time() * 1000
                expired = [e for e in pending if now_ms - e["timestamp"] > max_age * 1000]
                if expired:
                    await self.give_up(expired, "MaximumRecordAgeExceeded", result.request_id)
                    pending = [e for e in pending if e not in expired]
                    if not pending:
                        return
            if attempts > self._max_retries():
                await self.give_up(pending, "RetryAttemptsExhausted", result.request_id)
                return
            if cfg.get("BisectBatchOnFunctionError") and len(pending) > 1:
                half = len(pending) // 2
                await self.deliver(pending[:half])
                await self.deliver(pending[half:])
                return
            await asyncio.sleep(backoff(attempts))

    def _max_retries(self) -> float:
        n = self.config.get("MaximumRetryAttempts", -1)
        if n is None or n < 0:
            return RETRY_CAP_WITH_DESTINATION if self._destination() else float("inf")
        return n

    def _destination(self) -> str | None:
        return ((self.config.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        ) or None

    async def give_up(self, entries: list[dict[str, Any]], condition: str, request_id: str) -> None:
        """Records Lambda stops retrying: to the on-failure destination, else dropped."""
        dest = self._destination()
        if dest and dest.startswith("kafka://"):
            await self._to_kafka(dest[len("kafka://") :], entries, condition, request_id)
            self.records_to_destination += len(entries)
        else:
            if dest:
                log.warning("mapping %s: destination %s is not emulated", self.mapping.uuid, dest)
            self.records_dropped += len(entries)

    async def _to_kafka(
        self, topic: str, entries: list[dict[str, Any]], condition: str, request_id: str
    ) -> None:
        """The original record (key, value, headers) plus failure metadata in headers. AWS says
        the destination gets the failed records with metadata; the header names are ours."""
        from confluent_kafka import Producer

        if self._producer is None:
            conf = dict(await self.client_config())
            conf.update({"acks": "all", "client.id": f"lambda-esm-dlq-{self.mapping.uuid[:8]}"})
            self._producer = Producer(conf)
        meta = {
            "x-amzn-lambda-failure-condition": condition,
            "x-amzn-lambda-request-id": request_id,
            "x-amzn-lambda-function-arn": self.mapping.function_arn,
            "x-amzn-lambda-esm-uuid": self.mapping.uuid,
            "x-amzn-lambda-failure-time": iso_millis(time.time()),
        }
        for e in entries:
            headers = [(k, bytes(b & 0xFF for b in v)) for h in e["headers"] for k, v in h.items()]
            headers += [(k, v.encode()) for k, v in meta.items()]
            headers += [
                ("x-amzn-lambda-source-topic", e["topic"].encode()),
                ("x-amzn-lambda-source-partition", str(e["partition"]).encode()),
                ("x-amzn-lambda-source-offset", str(e["offset"]).encode()),
            ]
            self._producer.produce(
                topic,
                key=base64.b64decode(e["key"]) if "key" in e else None,
                value=base64.b64decode(e["value"]) if "value" in e else None,
                headers=headers,
            )
        remaining = await asyncio.to_thread(self._producer.flush, 30)
        if remaining:
            raise RuntimeError(f"{remaining} records not delivered to {topic}")

    def filters(self) -> list[dict[str, Any]]:
        return (self.config.get("FilterCriteria") or {}).get("Filters") or []


class _SourceProblem(Exception):
    pass


def _reported_failures(payload: bytes, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records to retry from a partial batch response ``{"batchItemFailures": [{"itemIdentifier":
    {"partition": "topic-0", "offset": 15}}]}``: per partition, from the lowest failed offset on.
    An unreadable response fails the whole batch."""
    try:
        body = json.loads(payload or b"null")
        if body is None:
            return []
        failures = body.get("batchItemFailures")
        if not failures:
            return []
        lowest: dict[str, int] = {}
        for f in failures:
            ident = f["itemIdentifier"]
            part, offset = str(ident["partition"]), int(ident["offset"])
            lowest[part] = min(offset, lowest.get(part, offset))
    except (ValueError, TypeError, KeyError, AttributeError):
        return list(entries)

    def failed(e: dict[str, Any]) -> bool:
        for key in (f"{e['topic']}-{e['partition']}", str(e["partition"])):
            if key in lowest and e["offset"] >= lowest[key]:
                return True
        return False

    return [e for e in entries if failed(e)]


class LagProbe:
    """Reads the group's committed offsets and the partitions' newest offsets; never fetches."""

    def __init__(self, runner: KafkaMappingRunner, client_config: dict[str, Any]) -> None:
        self.runner = runner
        self.client_config = client_config
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="esm-lag")
        self._consumer: Any = None

    async def _call(self, fn: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _client(self) -> Any:
        if self._consumer is None:
            from confluent_kafka import Consumer

            m = self.runner.mapping
            conf = dict(self.client_config)
            conf.update(
                {
                    "group.id": m.consumer_group_id,
                    "client.id": f"lambda-esm-{m.uuid[:8]}-lag",
                    "enable.auto.commit": False,
                }
            )
            self._consumer = Consumer(conf)
        return self._consumer

    def _partitions(self) -> list[Any]:
        from confluent_kafka import TopicPartition

        topic = self.runner.mapping.topic
        md = self._client().list_topics(topic, timeout=5)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            return []
        return [TopicPartition(topic, p) for p in sorted(t.partitions)]

    async def partition_count(self) -> int:
        try:
            return len(await self._call(self._partitions))
        except Exception:
            return 0

    async def group_lag(self) -> int | None:
        def measure() -> int:
            parts = self._partitions()
            if not parts:
                return 0
            c = self._client()
            total = 0
            for tp in c.committed(parts, timeout=5):
                low, high = c.get_watermark_offsets(tp, timeout=5)
                total += max(0, high - (tp.offset if tp.offset >= 0 else low))
            return total

        try:
            return await self._call(measure)
        except Exception:
            return None

    async def close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._call(self._consumer.close)
        self._executor.shutdown(wait=False)


class Poller:
    """One consumer of the mapping's group and its batch loop."""

    def __init__(self, runner: KafkaMappingRunner, client_config: dict[str, Any], index: int):
        self.runner = runner
        self.index = index
        self.client_config = client_config
        self.assignment: list[str] = []
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"esm-{index}")
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._carry: list[dict[str, Any]] = []  # read, not yet batched (over the 6 MB cap)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._call(self._consumer.close)
        self._executor.shutdown(wait=False)

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _make_consumer(self) -> Any:
        from confluent_kafka import Consumer

        m = self.runner.mapping
        position = m.config.get("StartingPosition", "LATEST")
        conf = dict(self.client_config)
        conf.update(
            {
                "group.id": m.consumer_group_id,
                "client.id": f"lambda-esm-{m.uuid[:8]}-{self.index}",
                "enable.auto.commit": False,
                "auto.offset.reset": "latest" if position == "LATEST" else "earliest",
                "max.poll.interval.ms": 86_400_000,  # a blocked batch may retry for long
                "enable.partition.eof": False,
            }
        )
        consumer = Consumer(conf)
        consumer.subscribe([m.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        return consumer

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        m = self.runner.mapping
        self.assignment = [f"{tp.topic}-{tp.partition}" for tp in partitions]
        if m.config.get("StartingPosition") != "AT_TIMESTAMP":
            return
        from confluent_kafka import TopicPartition

        ts_ms = int(float(m.config.get("StartingPositionTimestamp", 0)) * 1000)
        committed = consumer.committed(partitions, timeout=10)
        lookup = [
            TopicPartition(tp.topic, tp.partition, ts_ms) for tp in committed if tp.offset < 0
        ]
        found = {}
        if lookup:
            for tp in consumer.offsets_for_times(lookup, timeout=10):
                found[(tp.topic, tp.partition)] = tp.offset
        assigned = []
        for tp in committed:
            offset = tp.offset if tp.offset >= 0 else found.get((tp.topic, tp.partition), -1)
            assigned.append(TopicPartition(tp.topic, tp.partition, offset))
        consumer.assign(assigned)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._carry = [e for e in self._carry if (e["topic"], e["partition"]) not in gone]
        self.assignment = [a for a in self.assignment if a not in {f"{t}-{p}" for t, p in gone}]

    async def _run(self) -> None:
        self._consumer = await self._call(self._make_consumer)
        while True:
            batch = await self._next_batch()
            if batch:
                await self._process(batch)

    async def _next_batch(self) -> list[dict[str, Any]]:
        """Record entries until the batch is full, the window closes or 6 MB would be passed."""
        cfg = self.runner.config
        size_limit = cfg.get("BatchSize", 100)
        window_setting = cfg.get("MaximumBatchingWindowInSeconds")
        window = DEFAULT_WINDOW if window_setting is None else float(window_setting)
        batch: list[dict[str, Any]] = []
        size = EVENT_OVERHEAD
        closes_at: float | None = None
        incoming, self._carry = self._carry, []
        while True:
            for i, entry in enumerate(incoming):
                esize = entry_size(entry)
                if batch and size + esize > MAX_PAYLOAD:
                    self._carry = incoming[i:]
                    return batch
                batch.append(entry)
                size += esize
                if closes_at is None:
                    closes_at = time.monotonic() + window
            if len(batch) >= size_limit:
                return batch
            now = time.monotonic()
            if closes_at is not None and now >= closes_at:
                return batch
            wait = 1.0 if closes_at is None else min(1.0, closes_at - now)
            msgs = await self._call(self._consumer.consume, size_limit - len(batch), wait)
            incoming = [record_entry(m) for m in msgs if m.error() is None]

    async def _process(self, entries: list[dict[str, Any]]) -> None:
        filters = self.runner.filters()
        passed = [e for e in entries if matches(filters, e)]
        self.runner.records_filtered += len(entries) - len(passed)
        if passed:
            await self.runner.deliver(passed)
        await self._commit(entries)

    async def _commit(self, entries: list[dict[str, Any]]) -> None:
        from confluent_kafka import TopicPartition

        last: dict[tuple[str, int], int] = {}
        for e in entries:
            key = (e["topic"], e["partition"])
            last[key] = max(last.get(key, -1), e["offset"])
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]

        def commit() -> None:
            self._consumer.commit(offsets=offsets, asynchronous=False)

        try:
            await self._call(commit)
        except Exception as e:  # a rebalance took the partition: its new owner re-reads
            log.warning("mapping %s: commit failed: %s", self.runner.mapping.uuid, e)


def kafka_runner_factory(backend: LambdaBackend, mapping: EventSourceMapping) -> KafkaMappingRunner:
    interval = getattr(backend.settings, "esm_scale_interval", 60.0)
    scale = getattr(backend.settings, "esm_time_scale", 1.0)
    return KafkaMappingRunner(backend, mapping, scale_interval=interval, time_scale=scale)
