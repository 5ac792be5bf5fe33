"""Benchmark the Lambda emulator (python -m streamlab.awslambda); prints figures, never asserts.

    python bench/lambda_bench.py                 # everything, 50 environments
    python bench/lambda_bench.py --quick         # fewer invokes and records, 10 environments
    python bench/lambda_bench.py --only invoke,cold,memory,esm,scaling

Figures (issue 4's targets printed next to them where it names one):

* warm invoke: boto3 ``invoke`` of a no-op handler, RequestResponse, one at a time: p50/p99 of
  the whole round trip (boto3 signing + HTTP + Runtime API + the runtime's JSON), i.e. the
  overhead a handler pays on top of its own work;
* cold start: a fresh environment of a function that imports confluent-kafka, boto3 and
  protobuf at module level: the REPORT line's Init Duration (spawn until the runtime asks for its
  first event) and the first invoke's round trip;
* memory: RSS and PSS (shared pages split between processes) per environment, and the sum over
  N environments kept busy at once;
* ESM throughput: records/s from a 4-partition topic through a mapping to a no-op handler with
  BatchSize 100 and 10,000 (emulated Kafka broker, ClusterProcess), from the first invocation
  until the last record is delivered;
* scaling replay: a 50-partition surge with the mapping's time scale at 60 (AWS's one-minute lag
  check each second): real seconds until 50 pollers and the AWS time they stand for; and the
  article's 1,000-partition experiment in simulated time (streamlab.awslambda.scaling).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from streamlab.awslambda.lab import LambdaLab
from streamlab.awslambda.testing import EndpointProcess, make_zip

NOOP = "def handler(event, context):\n    return None\n"
HEAVY = (
    "import confluent_kafka, boto3, google.protobuf\n"
    "producer = None\n"
    "def handler(event, context):\n    return {'ok': True}\n"
)
SLEEPY = "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0))\n"


def row(name: str, value: str, target: str = "", ok: bool | None = None) -> None:
    mark = "" if ok is None else ("ok" if ok else "MISS")
    print(f"  {name:<44} {value:>22}   {target:<22} {mark}", flush=True)


def deploy(aws: EndpointProcess, name: str, code: str, **kwargs: Any) -> str:
    lam = aws.client("lambda")
    kwargs.setdefault("Timeout", 60)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=aws.role,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": code})},
        **kwargs,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def bench_invoke(aws: EndpointProcess, n: int) -> None:
    print("warm invoke (boto3, no-op handler, sequential)")
    lam = aws.client("lambda")
    fn = deploy(aws, "bench-noop", NOOP)
    for _ in range(20):  # cold start + warm-up
        lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read()
        times.append((time.perf_counter() - t) * 1000)
    p50, p99 = pct(times, 0.5), pct(times, 0.99)
    row(f"round trip p50 ({n} invokes)", f"{p50:.2f} ms", "overhead < 5 ms", p50 < 5)
    row("round trip p99", f"{p99:.2f} ms")
    row("invokes/s, one client", f"{1000 / statistics.mean(times):.0f}")


def bench_cold(aws: EndpointProcess, rounds: int) -> None:
    print("cold start (module imports confluent-kafka, boto3, protobuf)")
    lam = aws.client("lambda")
    inits, firsts = [], []
    for i in range(rounds):
        fn = deploy(aws, f"bench-cold-{i}", HEAVY)
        t = time.perf_counter()
        lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read()
        firsts.append((time.perf_counter() - t) * 1000)
        env = aws.environments(fn)[0]
        inits.append(env["InitDurationMs"])
    init = statistics.median(inits)
    row(f"Init Duration, median of {rounds}", f"{init:.0f} ms", "< 1 s", init < 1000)
    row("first invoke round trip, median", f"{statistics.median(firsts):.0f} ms", "< 1 s")
    noop_env = aws.environments("bench-noop")
    if noop_env and noop_env[0].get("InitDurationMs"):
        row("Init Duration, no-op function", f"{noop_env[0]['InitDurationMs']:.0f} ms")


def mem_of(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB of a process and its children."""
    rss = pss = 0.0
    try:
        p = psutil.Process(pid)
        for q in [p, *p.children(recursive=True)]:
            info = q.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    except psutil.Error:
        pass
    return rss / 2**20, pss / 2**20


def bench_memory(aws: EndpointProcess, n: int) -> None:
    print(f"memory per environment ({n} environments busy at once)")
    for fn in ("bench-noop", "bench-cold-0"):
        envs = aws.environments(fn)
        if envs:
            rss, pss = mem_of(envs[0]["Pid"])
            label = "no-op" if fn == "bench-noop" else "confluent-kafka+boto3"
            row(f"one {label} environment RSS / PSS", f"{rss:.0f} / {pss:.0f} MB")
    lam = aws.client("lambda")
    fn = deploy(aws, "bench-sleepy", SLEEPY)
    payload = json.dumps({"s": 1.5}).encode()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda _: lam.invoke(FunctionName=fn, Payload=payload), range(n)))
        envs = aws.environments(fn)
        t = time.perf_counter()
        futures = [pool.submit(lam.invoke, FunctionName=fn, Payload=payload) for _ in range(n)]
        time.sleep(0.8)  # all thawed and running
        totals = [mem_of(e["Pid"]) for e in aws.environments(fn)]
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - t
    rss = sum(r for r, _ in totals)
    pss = sum(p for _, p in totals)
    row("environments created", f"{len(envs)}", f"{n} concurrent", len(envs) >= n)
    row(f"sum of RSS over {len(totals)} envs", f"{rss / 1024:.2f} GB")
    row(
        f"sum of PSS over {len(totals)} envs",
        f"{pss / 1024:.2f} GB",
        "50 envs within 3 GB",
        pss / 1024 < 3 * n / 50,
    )
    row(f"{n} concurrent 1.5 s invokes took", f"{elapsed:.2f} s")
    avail = psutil.virtual_memory().available / 2**20
    if totals:
        per = pss / len(totals)
        row(
            "environments that fit in available memory",
            f"~{int(avail / per)}",
            f"({avail / 1024:.1f} GB free / {per:.0f} MB)",
        )
    lam.delete_function(FunctionName=fn)


def bench_esm(aws: EndpointProcess, records: int, tmp: str) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from streamlab.kafka.testing import ClusterProcess

    print(f"ESM throughput ({records:,} records of 100 B, 4 partitions, no-op handler, 1 poller)")
    lab = LambdaLab(aws.url)
    lam = aws.client("lambda")
    fn = "bench-noop"
    with ClusterProcess(str(Path(tmp) / "kafka")) as kafka:
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        admin.create_topics([NewTopic("esm-bench", 4, 1)])["esm-bench"].result(30)
        p = Producer(
            {"bootstrap.servers": kafka.bootstrap, "linger.ms": 20, "batch.num.messages": 10000}
        )
        value = b"v" * 100
        for i in range(records):
            while True:
                try:
                    p.produce("esm-bench", value=value, key=str(i).encode())
                    break
                except BufferError:
                    p.poll(0.1)
        p.flush(60)
        for batch in (100, 10_000):
            m = lam.create_event_source_mapping(
                FunctionName=fn,
                Topics=["esm-bench"],
                StartingPosition="TRIM_HORIZON",
                SelfManagedEventSource={
                    "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka.bootstrap]}
                },
                SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": f"bench-{batch}"},
                BatchSize=batch,
                MaximumBatchingWindowInSeconds=1,
            )
            first = None
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                pl = lab.mapping_poller(m["UUID"])
                if first is None and pl.get("Invocations"):
                    first = time.monotonic()
                if pl.get("RecordsDelivered", 0) >= records:
                    break
                time.sleep(0.05)
            end = time.monotonic()
            pl = lab.mapping_poller(m["UUID"])
            done = pl.get("RecordsDelivered", 0)
            secs = end - (first or end)
            rate = done / secs if secs > 0 else 0.0
            row(
                f"BatchSize {batch:,}: records/s",
                f"{rate:,.0f}",
                ">= 20,000 rec/s",
                rate >= 20_000,
            )
            row(
                "  invocations, records/invocation",
                f"{pl['Invocations']}, {done / max(1, pl['Invocations']):.0f}",
            )
            lam.delete_event_source_mapping(UUID=m["UUID"])


def bench_scaling(aws: EndpointProcess, tmp: str, partitions: int = 50) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from streamlab.awslambda.scaling import article_experiment
    from streamlab.kafka.testing import ClusterProcess

    print(f"scaling replay ({partitions} partitions x 30 records, 0.2 s handler, time scale 60)")
    lab = LambdaLab(aws.url)
    lam = aws.client("lambda")
    fn = deploy(aws, "bench-scale", "import time\ndef handler(e, c):\n    time.sleep(0.2)\n")
    with ClusterProcess(str(Path(tmp) / "kafka-scale")) as kafka:
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        admin.create_topics([NewTopic("surge", partitions, 1)])["surge"].result(30)
        p = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
        for i in range(partitions * 30):
            p.produce("surge", value=b"x", partition=i % partitions)
        p.flush(30)
        m = lam.create_event_source_mapping(
            FunctionName=fn,
            Topics=["surge"],
            StartingPosition="TRIM_HORIZON",
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka.bootstrap]}},
            BatchSize=1,
            MaximumBatchingWindowInSeconds=0,
        )
        lab.set_time_scale(m["UUID"], 60)
        t0 = time.monotonic()
        up = lab.scaling(
            m["UUID"], seconds=300, interval=0.2, until=lambda s: s.pollers >= partitions
        )
        reached = time.monotonic() - t0
        row(
            f"real time to {up[-1].pollers} pollers",
            f"{reached:.1f} s",
            f"= {reached:.0f} AWS minutes (1 s = 1 min)",
        )
        lab.scaling(m["UUID"], seconds=300, interval=0.2, until=lambda s: s.lag == 0)
        t1 = time.monotonic()
        down = lab.scaling(m["UUID"], seconds=300, interval=0.2, until=lambda s: s.pollers == 1)
        back = time.monotonic() - t1
        row(
            "real time from drained back to 1 poller",
            f"{back:.1f} s",
            f"= {back:.0f} AWS minutes; ended at {down[-1].pollers}",
        )
        lam.delete_event_source_mapping(UUID=m["UUID"])
    t = time.perf_counter()
    run = article_experiment()
    wall = time.perf_counter() - t
    print("article experiment, simulated (1,000 partitions x 50,000 records, 5 s handler)")
    row(
        "simulated time to 1,000 pollers",
        f"{run.time_to_reach(1000) / 60:.0f} min",
        "article: 500 at ~15 min",
    )
    row("simulated time until the backlog is gone", f"{run.drained_at / 3600:.1f} h")
    row("wall time of the whole replay", f"{wall * 1000:.0f} ms", "replay in seconds", wall < 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="invoke,cold,memory,esm,scaling")
    parser.add_argument("--envs", type=int, help="environments for the memory run (default 50)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    invokes = 200 if args.quick else 1000
    records = 50_000 if args.quick else 200_000
    envs = args.envs or (10 if args.quick else 50)
    print(
        f"Lambda emulator benchmark ({psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.1f} GB)"
    )
    with (
        tempfile.TemporaryDirectory(prefix="lambda-bench-") as tmp,
        EndpointProcess(str(Path(tmp) / "aws"), extra_args=("--idle-seconds", "600")) as aws,
    ):
        if only & {"invoke", "memory", "esm"}:
            bench_invoke(aws, invokes)
        if only & {"cold", "memory"}:
            bench_cold(aws, 1 if args.quick else 3)
        if "memory" in only:
            bench_memory(aws, envs)
        if "esm" in only:
            bench_esm(aws, records, tmp)
        if "scaling" in only:
            bench_scaling(aws, tmp)


if __name__ == "__main__":
    main()
