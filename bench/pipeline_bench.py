"""Benchmark the application end to end on the emulated stack; prints figures, never asserts.

    python bench/pipeline_bench.py                  # 100 trades/s for 20 s
    python bench/pipeline_bench.py --rate 300 --seconds 30
    python bench/pipeline_bench.py --quick          # 50 trades/s for 10 s

The stack is started with the CLI (``streamlab up``) in a temporary STREAMLAB_HOME on free ports,
the pipeline with ``streamlab.pipeline.up(rate="0")`` (ksql/ applied, the function deployed with
its Kafka event source mapping), then trades are produced to ``stocktrade`` at ``--rate``:

    stocktrade -> USER_TRADES (ksql join) -> user_trades -> Lambda -> trade-settlements
               -> TRADE_SETTLEMENT (PROTOBUF) -> the four per-disposition window tables

Figures:

* produced: trades/s the producer achieved (records of the stock_trades generator, JSON);
* joined / settled / counted: when the last trade reached ``user_trades``, ``trade-settlements``
  and the window tables (the sum of the latest count of every (table, symbol, window)), and the
  sustained rate, trades / (that time - first trade produced);
* latency trade -> counted p50/p99/max: the k-th trade's produce time against the moment the
  window tables' total first reached k (first in, first counted: the pipeline keeps order per
  partition, not across partitions, so single trades may be matched to a neighbour's count;
  duplicates from at-least-once delivery would make counts run ahead).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from streamlab.testing import cli

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # lambda_fn (the function's code) is not an installed package
TABLES = ("COMPLETED_PER_MINUTE", "PENDING_PER_MINUTE", "FLAGGED_PER_MINUTE", "REJECTED_PER_MINUTE")


def row(name: str, value: str) -> None:
    print(f"  {name:<40} {value:>28}", flush=True)


def end_offsets(consumer, topic: str) -> int:
    from confluent_kafka import TopicPartition

    meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None:
        return 0
    return sum(
        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in meta.partitions
    )


class Counted(threading.Thread):
    """Follows the window tables' topics: (time, total of the latest counts) per update."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.totals: list[tuple[float, int]] = []
        self.ready = threading.Event()

    def run(self) -> None:
        import uuid

        from confluent_kafka import Consumer

        from streamlab.config import kafka_config
        from streamlab.pipeline import TableValues

        consumer = Consumer(
            kafka_config(
                **{
                    "group.id": f"bench-{uuid.uuid4().hex[:8]}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    "fetch.wait.max.ms": 50,
                }
            )
        )
        decode = TableValues()
        latest: dict[tuple[str, bytes], int] = {}
        total = 0
        consumer.subscribe(list(TABLES))
        try:
            while not self.stop.is_set():
                msg = consumer.poll(0.1)
                self.ready.set()
                if msg is None or msg.error() or msg.value() is None:
                    continue
                count = next(iter(decode(msg.value()).values()))
                where = (msg.topic(), msg.key())
                total += count - latest.get(where, 0)
                latest[where] = count
                self.totals.append((time.monotonic(), total))
        finally:
            consumer.close()


def run(rate: float, seconds: float) -> None:
    from confluent_kafka import Consumer, Producer

    from streamlab import pipeline
    from streamlab.config import kafka_config
    from streamlab.datagen.datasets import encode, generate

    print(f"pipeline: {rate:g} trades/s for {seconds:g} s; {os.cpu_count()} CPUs", flush=True)
    result = pipeline.up(rate="0", seed=1, out=lambda line: None)
    statuses = {o.target: o.status for r in result["apply"] for o in r.outcomes}
    missing = [t for t in TABLES if statuses.get(t) != "created"]
    if missing:
        print(f"  the window tables were not created ({missing}): {statuses}")
        return
    time.sleep(3)  # the USERS table loaded before the first trade
    watcher = Consumer(kafka_config(**{"group.id": "bench-watermarks"}))
    base = {t: end_offsets(watcher, t) for t in ("user_trades", "trade-settlements")}
    counted = Counted()
    counted.start()
    counted.ready.wait(30)
    time.sleep(1)
    base_total = counted.totals[-1][1] if counted.totals else 0

    count = int(rate * seconds)
    producer = Producer(kafka_config(**{"linger.ms": 5}))
    sent: list[float] = []
    begin = time.monotonic()
    for i, (key, value) in enumerate(generate("stock_trades", seed=1, count=count)):
        due = begin + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        k, v = encode(key, value)
        producer.produce("stocktrade", v, k)
        producer.poll(0)
        sent.append(time.monotonic())
    producer.flush(30)
    produced_for = sent[-1] - sent[0]
    row("produced", f"{count} in {produced_for:.1f} s = {count / produced_for:.0f}/s")

    stages: dict[str, float] = {}
    deadline = time.monotonic() + max(120.0, seconds * 10)
    while time.monotonic() < deadline and len(stages) < 3:
        now = time.monotonic()
        for topic, name in (("user_trades", "joined"), ("trade-settlements", "settled")):
            if name not in stages and end_offsets(watcher, topic) - base[topic] >= count:
                stages[name] = now
        if (
            "counted" not in stages
            and counted.totals
            and counted.totals[-1][1] - base_total >= count
        ):
            stages["counted"] = next(t for t, n in counted.totals if n - base_total >= count)
        time.sleep(0.2)
    counted.stop.set()
    watcher.close()
    for name in ("joined", "settled", "counted"):
        if name in stages:
            took = stages[name] - sent[0]
            row(f"{name} (last trade)", f"{took:.1f} s = {count / took:.0f} trades/s")
        else:
            row(f"{name} (last trade)", "not all within the deadline")
    marks = [(t, n - base_total) for t, n in counted.totals]
    latencies = []
    at = 0
    for k, produced in enumerate(sent, start=1):
        while at < len(marks) and marks[at][1] < k:
            at += 1
        if at == len(marks):
            break
        latencies.append((marks[at][0] - produced) * 1000)
    if latencies:
        q = statistics.quantiles(latencies, n=100)
        row(
            "latency trade -> counted p50/p99/max",
            f"{q[49]:.0f} / {q[98]:.0f} / {max(latencies):.0f} ms",
        )
        row("trades matched to a count", f"{len(latencies)} of {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="trades per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="50 trades/s for 10 s")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds = 50.0, 10.0
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        home = Path(tmp) / "lab"
        home.mkdir()
        ports = "kafka = 0\nconsole = 0\nregistry = 0\naws = 0\nksql = 0\n"
        (home / "config.toml").write_text("[ports]\n" + ports)
        for name in [n for n in os.environ if n.startswith("STREAMLAB_")]:
            del os.environ[name]
        os.environ["STREAMLAB_HOME"] = str(home)
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "user-config")
        env = dict(os.environ)
        started = time.monotonic()
        done = cli("up", env=env)
        if done.returncode != 0:
            print(done.stderr)
            return
        row("stack up (streamlab up)", f"{time.monotonic() - started:.1f} s")
        try:
            run(args.rate, args.seconds)
        finally:
            cli("down", env=env, timeout=120)


if __name__ == "__main__":
    main()
