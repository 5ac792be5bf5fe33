"""Benchmark the emulated Kafka broker (and real Apache Kafka, when it can run here).

Prints a table of figures next to the emulator's targets; never asserts. Each broker gets its own
data dir and free ports. Clients are confluent-kafka (librdkafka), in this process.

    python bench/kafka_bench.py                    # 1,000,000 records, 10 s latency run
    python bench/kafka_bench.py --quick            # 100,000 records, 3 s latency run
    python bench/kafka_bench.py --only emulator --records 500000
    python bench/kafka_bench.py --only emulator --quick --profile /tmp/prof   # cProfile the broker

``--profile DIR`` runs the emulated broker under cProfile (through a ``sitecustomize`` hook that
lives only here, put on the broker's PYTHONPATH) and prints where its time went; the figures of a
profiled run are slower than normal and are marked so.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import struct
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import libversion as librdkafka_version

from streamlab.kafka.testing import ClusterProcess

RECORD_BYTES = 100
LATENCY_RATE = 1000  # records/s during the latency run

# What the emulator should reach on a 2-core laptop (bench/README.md).
TARGETS = {
    "ready": ("< 3 s", lambda v: v < 3.0),
    "idle_rss": ("< 150 MB", lambda v: v < 150.0),
    "produce_acks1": (">= 500,000 rec/s", lambda v: v >= 500_000),
    "produce_acksall": (">= 500,000 rec/s", lambda v: v >= 500_000),
    "consume": (">= 500,000 rec/s", lambda v: v >= 500_000),
    "latency_p50": ("< 5 ms", lambda v: v < 5.0),
}


@dataclass
class Result:
    name: str
    figures: dict[str, float] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)  # formatted figures for the table
    notes: list[str] = field(default_factory=list)


# --- clients --------------------------------------------------------------------------------------


def quiet_logger():
    import logging

    logger = logging.getLogger("bench.librdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def producer(bootstrap: str, **overrides) -> Producer:
    conf = {
        "bootstrap.servers": bootstrap,
        "client.id": "kafka-bench",
        "linger.ms": 10,
        "batch.size": 1_000_000,
        "batch.num.messages": 100_000,
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2_097_151,
        "compression.type": "none",
        "logger": quiet_logger(),
    }
    conf.update(overrides)
    return Producer(conf)


def consumer(bootstrap: str, **overrides) -> Consumer:
    conf = {
        "bootstrap.servers": bootstrap,
        "client.id": "kafka-bench",
        "group.id": "kafka-bench",
        "enable.auto.commit": False,
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 4 * 1024 * 1024,
        # librdkafka stops fetching above queued.min.messages (100,000) and then backs off for
        # fetch.queue.backoff.ms (1 s): with the defaults a fast broker idles most of the time.
        "queued.min.messages": 1_000_000,
        "queued.max.messages.kbytes": 1_048_576,
        "fetch.queue.backoff.ms": 10,
        "logger": quiet_logger(),
    }
    conf.update(overrides)
    return Consumer(conf)


def create_topic(bootstrap: str, topic: str) -> None:
    """Auto-create by producing one record (works on both brokers without admin calls)."""
    p = producer(bootstrap, **{"linger.ms": 0})
    p.produce(topic, b"warm-up")
    if p.flush(30):
        raise RuntimeError(f"could not create {topic} on {bootstrap}")


def end_offset(bootstrap: str, topic: str) -> int:
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    finally:
        c.close()


def produce_throughput(bootstrap: str, topic: str, n: int, acks: str) -> tuple[float, float]:
    """(records/s, MB/s) for n records of RECORD_BYTES, from the first produce() to flush()."""
    create_topic(bootstrap, topic)
    before = end_offset(bootstrap, topic)
    p = producer(bootstrap, acks=acks)
    value = b"x" * RECORD_BYTES
    produce, poll = p.produce, p.poll
    start = time.perf_counter()
    for i in range(n):
        try:
            produce(topic, value)
        except BufferError:  # local queue full: let librdkafka send, then retry
            poll(0.005)
            produce(topic, value)
        if i % 20_000 == 0:
            poll(0)
    left = p.flush(120)
    elapsed = time.perf_counter() - start
    if left:
        raise RuntimeError(f"{left} records not delivered")
    stored = end_offset(bootstrap, topic) - before
    if stored != n:
        raise RuntimeError(f"produced {n} records but the log grew by {stored}")
    return n / elapsed, n * RECORD_BYTES / elapsed / 1e6


def consume_throughput(bootstrap: str, topic: str, n: int) -> tuple[float, float, float]:
    """(records/s, MB/s, seconds to the first record) reading n records from the beginning with
    one assigned consumer. The rate is timed from the first record on: before it, librdkafka
    spends ~0.5 s of its own timers on coordinator and offset lookup, on any broker."""
    c = consumer(bootstrap)
    got = nbytes = 0
    assigned = time.perf_counter()
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    start = None
    deadline = assigned + 300
    while got < n and time.perf_counter() < deadline:
        for msg in c.consume(10_000, 1.0):
            if msg.error():
                raise KafkaException(msg.error())
            if start is None:
                start = time.perf_counter()
            got += 1
            nbytes += len(msg.value() or b"")
    elapsed = time.perf_counter() - start
    c.close()
    if got < n:
        raise RuntimeError(f"consumed only {got} of {n} records")
    return got / elapsed, nbytes / elapsed / 1e6, start - assigned


def latency(bootstrap: str, topic: str, seconds: float) -> dict[str, float]:
    """Produce→consume latency at a steady LATENCY_RATE; the send time is in the payload."""
    create_topic(bootstrap, topic)
    start_offset = end_offset(bootstrap, topic)
    total = int(seconds * LATENCY_RATE)
    samples: list[float] = []
    ready = threading.Event()

    def consume() -> None:
        c = consumer(bootstrap, **{"fetch.wait.max.ms": 500, "fetch.min.bytes": 1})
        c.assign([TopicPartition(topic, 0, start_offset)])
        ready.set()
        deadline = time.monotonic() + seconds + 30
        while len(samples) < total and time.monotonic() < deadline:
            msg = c.poll(0.2)  # not consume(n, t): that waits for n records or the timeout
            if msg is not None and not msg.error():
                sent = struct.unpack_from(">q", msg.value())[0]
                samples.append((time.monotonic_ns() - sent) / 1e6)
        c.close()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(1.0)  # let the consumer connect and park its first fetch
    p = producer(bootstrap, acks="1", **{"linger.ms": 0})
    pad = b"\0" * (RECORD_BYTES - 8)
    t0 = time.monotonic()
    for i in range(total):
        delay = t0 + i / LATENCY_RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        p.produce(topic, struct.pack(">q", time.monotonic_ns()) + pad)
        p.poll(0)
    p.flush(30)
    thread.join(seconds + 40)
    if len(samples) < total:
        raise RuntimeError(f"latency run received {len(samples)} of {total} records")
    q = statistics.quantiles(samples, n=100)
    return {"p50": q[49], "p99": q[98], "max": max(samples), "count": len(samples)}


def transactions(bootstrap: str, topic: str, count: int, per_txn: int = 10) -> dict[str, float]:
    """Small committed transactions back to back (begin, per_txn records, commit), as an
    exactly-once stream processor issues them: transactions/s and commit_transaction() time."""
    create_topic(bootstrap, topic)
    p = producer(bootstrap, **{"transactional.id": f"bench-{topic}", "linger.ms": 0})
    p.init_transactions(60)
    value = b"x" * RECORD_BYTES
    commits: list[float] = []
    start = time.perf_counter()
    for _ in range(count):
        p.begin_transaction()
        for _ in range(per_txn):
            p.produce(topic, value)
        t = time.perf_counter()
        p.commit_transaction(30)
        commits.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - start
    return {"rate": count / elapsed, "commit_p50": statistics.median(commits)}


@contextmanager
def cpu_per_record(result: Result, key: str, pid: int, records: int):
    """Broker CPU time (user+system, all threads) per record over the block: its headroom."""
    proc = psutil.Process(pid)
    before = sum(proc.cpu_times()[:2])
    yield
    used = sum(proc.cpu_times()[:2]) - before
    result.text[key] = f"{used / records * 1e6:.2f} us"


def run_client_benchmarks(
    result: Result, bootstrap: str, pid: int, records: int, seconds: float
) -> None:
    for acks, key in (("1", "produce_acks1"), ("all", "produce_acksall")):
        with cpu_per_record(result, f"{key}_cpu", pid, records):
            rps, mbps = produce_throughput(bootstrap, f"bench-acks-{acks}", records, acks)
        result.figures[key] = rps
        result.text[key] = f"{rps:,.0f} rec/s ({mbps:.1f} MB/s)"
        print(f"  {result.name}: produce acks={acks}: {result.text[key]}", flush=True)
    with cpu_per_record(result, "consume_cpu", pid, records):
        rps, mbps, first = consume_throughput(bootstrap, "bench-acks-1", records)
    result.figures["consume"] = rps
    result.text["consume"] = f"{rps:,.0f} rec/s ({mbps:.1f} MB/s)"
    result.text["first_record"] = f"{first * 1000:.0f} ms"
    print(
        f"  {result.name}: consume: {result.text['consume']}, first record after "
        f"{result.text['first_record']}",
        flush=True,
    )
    txn = transactions(bootstrap, "bench-txn", max(50, int(seconds * 20)))
    result.text["txn_rate"] = f"{txn['rate']:,.0f} txn/s"
    result.text["txn_commit_p50"] = f"{txn['commit_p50']:.1f} ms"
    print(
        f"  {result.name}: transactions of 10 records: {result.text['txn_rate']}, "
        f"commit p50 {result.text['txn_commit_p50']}",
        flush=True,
    )
    lat = latency(bootstrap, "bench-latency", seconds)
    result.figures["latency_p50"] = lat["p50"]
    result.text["latency_p50"] = f"{lat['p50']:.2f} ms"
    result.text["latency_p99"] = f"{lat['p99']:.2f} ms"
    result.text["latency_max"] = f"{lat['max']:.2f} ms"
    print(
        f"  {result.name}: latency p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, "
        f"max {lat['max']:.2f} ms over {lat['count']} records",
        flush=True,
    )


def rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


# --- the emulator -------------------------------------------------------------------------------

# Installed on the broker's PYTHONPATH by --profile: profiles the whole broker process and dumps
# the stats when it exits (SIGTERM makes `python -m streamlab.kafka` return normally).
SITECUSTOMIZE = """
import atexit, cProfile, os
_out = os.environ.get("STREAMLAB_BENCH_CPROFILE")
if _out:
    _prof = cProfile.Profile()
    _prof.enable()
    atexit.register(lambda: (_prof.disable(), _prof.dump_stats(_out)))
"""


@contextmanager
def profiled_children(profile_dir: str | None):
    if not profile_dir:
        yield None
        return
    os.makedirs(profile_dir, exist_ok=True)
    hook = os.path.join(profile_dir, "hook")
    os.makedirs(hook, exist_ok=True)
    with open(os.path.join(hook, "sitecustomize.py"), "w") as f:
        f.write(SITECUSTOMIZE)
    out = os.path.join(profile_dir, "broker.prof")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "STREAMLAB_BENCH_CPROFILE")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [hook, saved["PYTHONPATH"]]))
    os.environ["STREAMLAB_BENCH_CPROFILE"] = out
    try:
        yield out
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def bench_emulator(args, workdir: str) -> Result:
    result = Result("emulator")
    # Start-up: fresh data dir each time, median of a few starts.
    starts = []
    for i in range(1 if args.quick else 3):
        c = ClusterProcess(os.path.join(workdir, f"emulator-start-{i}"))
        t0 = time.perf_counter()
        c.start()
        starts.append(time.perf_counter() - t0)
        c.stop()
    result.figures["ready"] = statistics.median(starts)
    result.text["ready"] = f"{result.figures['ready']:.2f} s"

    with profiled_children(args.profile) as prof_out:
        cluster = ClusterProcess(os.path.join(workdir, "emulator")).start()
    try:
        time.sleep(1.0)
        result.figures["idle_rss"] = rss_mb(cluster.proc.pid)
        result.text["idle_rss"] = f"{result.figures['idle_rss']:.0f} MB"
        print(f"  emulator: ready {result.text['ready']}, idle RSS {result.text['idle_rss']}")
        run_client_benchmarks(
            result, cluster.bootstrap, cluster.proc.pid, args.records, args.latency_seconds
        )
        result.text["loaded_rss"] = f"{rss_mb(cluster.proc.pid):.0f} MB"
    finally:
        cluster.stop(timeout=60)
    if prof_out:
        result.notes.append("emulator figures measured under cProfile (slower than normal)")
        print_profile(prof_out)
    return result


def print_profile(path: str) -> None:
    import pstats

    if not os.path.exists(path):
        print(f"no profile written at {path}")
        return
    print(f"\n--- emulated broker under cProfile ({path}) ---")
    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)


# --- real Kafka -----------------------------------------------------------------------------------


def bench_realkafka(args, workdir: str) -> Result | None:
    try:
        from streamlab import realkafka
    except ImportError as e:
        print(f"  realkafka: skipped (streamlab.realkafka not importable: {e})")
        return None
    ok, reason = realkafka.available()
    if not ok:
        print(f"  realkafka: skipped ({reason})")
        return None
    result = Result("realkafka")
    kafka = realkafka.RealKafka(os.path.join(workdir, "realkafka"))
    t0 = time.perf_counter()
    kafka.start()
    result.figures["ready"] = time.perf_counter() - t0
    result.text["ready"] = f"{result.figures['ready']:.2f} s"
    result.notes.append("realkafka ready includes formatting its storage (first start)")
    try:
        time.sleep(1.0)
        result.figures["idle_rss"] = rss_mb(kafka.pid)
        result.text["idle_rss"] = f"{result.figures['idle_rss']:.0f} MB"
        print(f"  realkafka: ready {result.text['ready']}, idle RSS {result.text['idle_rss']}")
        run_client_benchmarks(
            result, kafka.bootstrap, kafka.pid, args.records, args.latency_seconds
        )
        result.text["loaded_rss"] = f"{rss_mb(kafka.pid):.0f} MB"
    finally:
        kafka.stop()
    return result


# --- report ---------------------------------------------------------------------------------------

ROWS = [
    ("ready", "ready (start -> serving)"),
    ("idle_rss", "idle RSS after start"),
    ("produce_acks1", "produce acks=1"),
    ("produce_acks1_cpu", "  broker CPU per record"),
    ("produce_acksall", "produce acks=all"),
    ("produce_acksall_cpu", "  broker CPU per record"),
    ("consume", "consume (1 consumer)"),
    ("consume_cpu", "  broker CPU per record"),
    ("first_record", "  first record after"),
    ("latency_p50", "latency p50 @1000/s"),
    ("latency_p99", "latency p99 @1000/s"),
    ("latency_max", "latency max @1000/s"),
    ("txn_rate", "transactions (10 rec each)"),
    ("txn_commit_p50", "  commit p50"),
    ("loaded_rss", "RSS after the run"),
]


def print_table(results: list[Result], records: int, seconds: float) -> None:
    print()
    print(
        f"{records:,} records of {RECORD_BYTES} B, latency run {seconds:g} s at "
        f"{LATENCY_RATE}/s; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"librdkafka {librdkafka_version()[0]}"
    )
    cols = [r.name for r in results]
    header = f"{'figure':<28}" + "".join(f"{c:>30}" for c in cols) + f"  {'emulator target':<22}"
    print(header)
    print("-" * len(header))
    emulator = next((r for r in results if r.name == "emulator"), None)
    for key, label in ROWS:
        cells = "".join(f"{r.text.get(key, '-'):>30}" for r in results)
        target = ""
        if key in TARGETS:
            want, met = TARGETS[key]
            target = want
            if emulator and key in emulator.figures:
                target += "  ok" if met(emulator.figures[key]) else "  MISS"
        print(f"{label:<28}{cells}  {target:<22}".rstrip())
    for r in results:
        for note in r.notes:
            print(f"note: {note}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, help="records per throughput run (default 1,000,000)")
    ap.add_argument("--only", choices=["emulator", "realkafka"])
    ap.add_argument("--quick", action="store_true", help="100,000 records, 3 s latency run")
    ap.add_argument("--profile", metavar="DIR", help="run the emulated broker under cProfile")
    ap.add_argument("--keep", action="store_true", help="keep the data dirs")
    args = ap.parse_args(argv)
    args.records = args.records or (100_000 if args.quick else 1_000_000)
    args.latency_seconds = 3.0 if args.quick else 10.0

    workdir = tempfile.mkdtemp(prefix="kafka-bench-")
    results: list[Result] = []
    try:
        if args.only in (None, "emulator"):
            print("emulator (python -m streamlab.kafka) ...", flush=True)
            results.append(bench_emulator(args, workdir))
        if args.only in (None, "realkafka"):
            print("real Apache Kafka ...", flush=True)
            real = bench_realkafka(args, workdir)
            if real:
                results.append(real)
    finally:
        if args.keep:
            print(f"data dirs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if results:
        print_table(results, args.records, args.latency_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
