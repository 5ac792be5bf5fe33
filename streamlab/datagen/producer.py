"""Produce a dataset to Kafka with confluent-kafka: paced, acks=all, delivery errors raised."""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from streamlab.datagen.datasets import DatagenError, encode, generate, get
from streamlab.datagen.rate import RateLimiter, parse_rate

log = logging.getLogger("streamlab.datagen")

CONNECT_TIMEOUT = 5.0  # seconds to reach the cluster before giving up with a clear error
_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")

# Defaults under the caller's settings. murmur2 is the Java client's partitioner, which the real
# Datagen connector uses, so each key lands on the partition it would on Confluent Cloud.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "partitioner": "murmur2_random",
    "linger.ms": 5,
    "message.timeout.ms": 30000,  # a delivery that cannot happen fails in 30 s, not 5 minutes
}


def client_config(bootstrap: str | None = None) -> dict[str, Any]:
    """The active profile's client settings, with ``bootstrap`` (if given) as the cluster.

    A live profile's credentials are kept; without a bootstrap, missing settings are an error.
    """
    from streamlab.config import StreamlabError, kafka_config

    try:
        conf = kafka_config()
    except StreamlabError as e:
        if not bootstrap:
            raise DatagenError(f"no Kafka settings: {e}") from None
        conf = {}
    if bootstrap:
        conf["bootstrap.servers"] = bootstrap
    return conf


def producer_config(config: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """Client settings for the datagen producer; acks=all always (durability is the lesson)."""
    if config is None:
        from streamlab.config import kafka_config

        config = kafka_config()
    conf = {"client.id": f"streamlab-datagen-{name}", **PRODUCER_DEFAULTS, **config}
    conf["acks"] = "all"
    return conf


def unreachable(bootstrap: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why no bootstrap address accepts a TCP connection, or None if one does.

    librdkafka keeps retrying a refused connection until its own timeout; this answers in
    milliseconds when nothing listens, which is the usual case (the lab is not running).
    """
    reasons = []
    for address in str(bootstrap).split(","):
        host, _, port = address.strip().split("://")[-1].rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout):
                return None
        except ValueError:
            return None  # not host:port; let the client judge it
        except OSError as e:
            reasons.append(f"{address.strip()}: {e.strerror or e}")
    return "; ".join(reasons) or None


def connect(conf: dict[str, Any], timeout: float = CONNECT_TIMEOUT) -> Producer:
    """A producer that has reached the cluster, or DatagenError saying why not."""
    where = conf.get("bootstrap.servers", "?")
    why = unreachable(where, timeout)
    if why:
        raise DatagenError(
            f"cannot reach Kafka at {where} ({why}); is the lab running? "
            "Check with `streamlab status`"
        )
    try:
        producer = Producer(conf, logger=logging.getLogger("streamlab.datagen.rdkafka"))
    except (KafkaException, ValueError, TypeError) as e:
        raise DatagenError(f"bad Kafka client settings for {where}: {e}") from None
    try:
        producer.list_topics(timeout=timeout)
    except KafkaException as e:
        raise DatagenError(
            f"cannot reach Kafka at {where} within {timeout:g} s ({_reason(e)}); "
            "is the lab running? Check with `streamlab status`"
        ) from None
    return producer


def check_topic(topic: str) -> str:
    if not isinstance(topic, str) or not _TOPIC.match(topic) or topic in (".", ".."):
        raise DatagenError(f"bad topic name {topic!r}: use 1-249 letters, digits, '.', '_' or '-'")
    return topic


class _Deliveries:
    """Counts acknowledged records and keeps the first delivery error."""

    def __init__(self, on_delivered: Callable[[], object] | None) -> None:
        self.delivered = 0
        self.error: KafkaError | None = None
        self.on_delivered = on_delivered

    def __call__(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self.error = self.error or err
        else:
            self.delivered += 1
            if self.on_delivered:
                self.on_delivered()

    def raise_if_failed(self, topic: str) -> None:
        if self.error is not None:
            raise DatagenError(
                f"could not deliver to topic {topic!r}: {self.error.str()} "
                f"({self.delivered} records were delivered)"
            )


def run(
    name: str,
    topic: str | None = None,
    rate: str | float | None = "10/s",
    count: int | None = None,
    config: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    start: int = 0,
    stop: threading.Event | None = None,
    on_delivered: Callable[[], object] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    limiter: RateLimiter | None = None,
) -> int:
    """Produce dataset ``name`` to ``topic`` and return how many records Kafka acknowledged.

    Args:
        name: dataset (``stock_trades``, ``users``, ``rides``, ``logins``).
        topic: default: the dataset's topic (e.g. ``stocktrade``).
        rate: ``"10/s"``, ``"100/m"``, ``"2/h"`` or ``"unlimited"``.
        count: stop after this many records; None runs until ``stop`` is set (or Ctrl-C).
        config: confluent-kafka settings; default: :func:`streamlab.config.kafka_config`.
        seed: which deterministic sequence.
        start: index of the first record (to continue a sequence).
        stop: set it from another thread to end the run cleanly.
        on_delivered: called once per acknowledged record.
        limiter: pace with this limiter instead of ``rate`` (its rate can change while running).

    Raises:
        DatagenError: bad arguments, the cluster is unreachable, or a record was not delivered
            (the run stops at the first failed delivery).
    """
    ds = get(name)
    topic = check_topic(ds.topic if topic is None else topic)
    limiter = limiter or RateLimiter(parse_rate(rate))
    records = generate(ds.name, seed=seed, start=start, count=count)  # validates the numbers
    conf = producer_config(config, ds.name)
    producer = connect(conf, connect_timeout)
    deliveries = _Deliveries(on_delivered)
    wait_s = float(conf.get("message.timeout.ms", 300000)) / 1000 + 5
    try:
        for key, value in records:
            if not limiter.wait(stop):
                break
            deliveries.raise_if_failed(topic)
            k, v = encode(key, value)
            _produce(producer, topic, k, v, deliveries)
            producer.poll(0)
    finally:
        left = producer.flush(wait_s)
        if left:
            log.error("%d records to %s were not delivered", left, topic)
        log.info("produced %d %s records to %s", deliveries.delivered, ds.name, topic)
    deliveries.raise_if_failed(topic)
    if left:
        raise DatagenError(f"{left} records to {topic!r} were not delivered in {wait_s:g} s")
    return deliveries.delivered


def _produce(producer: Producer, topic: str, key: bytes, value: bytes, cb: _Deliveries) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=cb)
            return
        except BufferError:  # local queue full: let deliveries drain, then retry
            producer.poll(0.1)
        except KafkaException as e:
            raise DatagenError(f"cannot produce to {topic!r}: {_reason(e)}") from None


def _reason(e: KafkaException) -> str:
    err = e.args[0] if e.args else None
    return err.str() if isinstance(err, KafkaError) else str(e)
