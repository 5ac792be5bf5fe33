"""Benchmark a stateless CSAS on the ksql server over the emulated cluster.

Prints figures next to the target (issue 5: >= 30,000 records/s); never asserts. The broker and
the ksql server are child processes on free ports with their own data dirs.

    python bench/ksql_bench.py                 # 200,000 records, 5 s latency run
    python bench/ksql_bench.py --quick         # 50,000 records, 2 s latency run

* throughput: N JSON records are produced to a 4-partition topic first, then
  ``CREATE STREAM OUT AS SELECT ID, UCASE(NAME) AS NAME, AMOUNT * 2 AS DOUBLED FROM IN
  WHERE AMOUNT >= 0`` is created reading from the earliest offset; the time from the CREATE to
  the sink holding N records gives records/s (the query's consumer, operators, producer with
  acks=all and offset commits, all in the server process).
* latency: with the query running, records are produced at a steady rate carrying their send
  time; the sink is consumed and p50/p99 of (receive - send) are reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from streamlab.kafka.testing import ClusterProcess
from streamlab.ksql.client import KsqlClient
from streamlab.ksql.testing import KsqlProcess

TARGET_RPS = 30_000
PARTITIONS = 4
LATENCY_RATE = 500  # records/s during the latency run


def sink_size(consumer: Consumer, topic: str) -> int:
    return sum(
        consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in range(PARTITIONS)
    )


def produce_input(bootstrap: str, count: int) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "partitioner": "murmur2_random"}
    )
    for i in range(count):
        value = json.dumps({"NAME": f"name-{i}", "AMOUNT": i % 1000}).encode()
        while True:
            try:
                producer.produce("bench_in", value, i.to_bytes(4, "big"))
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def throughput(kafka: ClusterProcess, client: KsqlClient, count: int) -> float:
    client.execute(
        "CREATE STREAM BENCH_IN (ID INT KEY, NAME STRING, AMOUNT BIGINT) WITH ("
        f"KAFKA_TOPIC='bench_in', VALUE_FORMAT='JSON', PARTITIONS={PARTITIONS});"
    )
    produce_input(kafka.bootstrap, count)
    probe = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "bench-probe"})
    start = time.perf_counter()
    client.execute(
        "CREATE STREAM BENCH_OUT AS SELECT ID, UCASE(NAME) AS NAME, AMOUNT * 2 AS DOUBLED "
        "FROM BENCH_IN WHERE AMOUNT >= 0;",
        {"ksql.streams.auto.offset.reset": "earliest"},
    )
    while sink_size(probe, "BENCH_OUT") < count:
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    probe.close()
    return count / elapsed


def latency(kafka: ClusterProcess, seconds: float) -> tuple[float, float, int]:
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": "bench-latency",
         "auto.offset.reset": "latest", "fetch.wait.max.ms": 5}
    )  # fmt: skip
    consumer.subscribe(["BENCH_OUT"])
    while not consumer.assignment():  # join the group before sending
        consumer.poll(0.1)
    samples: list[float] = []
    done = threading.Event()

    def send() -> None:
        producer = Producer(
            {"bootstrap.servers": kafka.bootstrap, "linger.ms": 0, "partitioner": "murmur2_random"}
        )
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            value = json.dumps({"NAME": f"{time.time():.6f}", "AMOUNT": 1}).encode()
            producer.produce("bench_in", value, i.to_bytes(4, "big"))
            producer.poll(0)
            i += 1
            time.sleep(1 / LATENCY_RATE)
        producer.flush(10)
        done.set()

    sender = threading.Thread(target=send)
    sender.start()
    idle_since = None
    while True:
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            sent = float(json.loads(message.value())["NAME"])
            samples.append((time.time() - sent) * 1000)
            idle_since = None
        elif done.is_set():
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 2:
                break
    sender.join()
    consumer.close()
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1] if samples else float("nan")
    return (statistics.median(samples) if samples else float("nan")), p99, len(samples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.seconds = 50_000, 2.0
    with (
        tempfile.TemporaryDirectory() as tmp,
        ClusterProcess(f"{tmp}/kafka", num_partitions=PARTITIONS) as kafka,
        KsqlProcess(f"{tmp}/ksql", kafka.bootstrap) as ksql,
    ):
        client = KsqlClient(ksql.url)
        rps = throughput(kafka, client, args.records)
        p50, p99, n = latency(kafka, args.seconds)
    ok = "ok" if rps >= TARGET_RPS else "BELOW TARGET"
    print(f"ksql stateless CSAS over the emulated cluster ({PARTITIONS} partitions, JSON)")
    print(f"  throughput   {rps:>10,.0f} records/s   target >= {TARGET_RPS:,}  {ok}")
    print(f"  latency p50  {p50:>10.1f} ms          ({n} records at {LATENCY_RATE}/s)")
    print(f"  latency p99  {p99:>10.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
