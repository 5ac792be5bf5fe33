"""The article's scaling experiment, small and fast: real pollers under ``--time-scale 60`` (AWS's
one-minute lag check every second), and the same rule in simulated time for 1,000 partitions.

Behavioural only: pollers grow toward one per partition while there is lag and shrink when idle;
no assertion depends on how fast this machine is."""

from __future__ import annotations

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.awslambda.esm import scale_decision
from streamlab.awslambda.lab import LambdaLab
from streamlab.awslambda.scaling import article_experiment, simulate
from streamlab.kafka.testing import ClusterProcess

from .lambda_helpers import wait_until

ENDPOINT_ARGS = ("--time-scale", "60", "--idle-seconds", "30")
PARTITIONS = 50


def test_scale_decision():
    assert scale_decision(1, 50, 1000, 1, 0) == (2, 0)  # lag: double
    assert scale_decision(32, 50, 1000, 1, 0) == (50, 0)  # at most one per partition
    assert scale_decision(50, 50, 1000, 1, 0) == (50, 0)
    assert scale_decision(4, 50, 3, 1, 0) == (4, 0)  # less than a batch each: hold
    assert scale_decision(8, 50, 0, 1, 0) == (8, 1)  # idle once: wait
    assert scale_decision(8, 50, 0, 1, 1) == (4, 0)  # idle twice: halve
    assert scale_decision(1, 50, 0, 1, 5) == (1, 6)  # never below one


def test_simulated_article_experiment():
    run = article_experiment()
    pollers = [s.pollers for s in run.samples]
    assert pollers[0] == 1
    assert max(pollers) == 1000
    assert pollers == sorted(pollers[: pollers.index(1000)]) + pollers[pollers.index(1000) :]
    assert pollers[-1] == 1  # shrinks again once the surge is over
    assert run.samples[-1].done == 50_000_000
    # at full scale 1,000 records per 5 seconds, as the article observed
    full = [s for s in run.samples if s.pollers == 1000 and s.lag > 0]
    assert full[1].done - full[0].done == 1000 * 60 // 5
    small = simulate(PARTITIONS, 100, handler_seconds=1)
    assert small.max_pollers == PARTITIONS and small.samples[-1].pollers == 1


def test_real_pollers_replay_in_scaled_time(aws, deploy, lam, tmp_path):
    with ClusterProcess(str(tmp_path / "kafka")) as kafka:
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        admin.create_topics([NewTopic("surge", PARTITIONS, 1)])["surge"].result(30)
        p = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 5})
        for i in range(PARTITIONS * 30):
            p.produce("surge", value=b"x", partition=i % PARTITIONS)
        assert p.flush(30) == 0
        fn = deploy("import time\ndef handler(e, c):\n    time.sleep(0.2)\n")
        m = lam.create_event_source_mapping(
            FunctionName=fn,
            Topics=["surge"],
            StartingPosition="TRIM_HORIZON",
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [kafka.bootstrap]}},
            BatchSize=1,
            MaximumBatchingWindowInSeconds=0,
        )
        lab = LambdaLab(aws.url)
        try:
            assert lab.mapping_poller(m["UUID"])["TimeScale"] == 60
            # grow while lagging ...
            grown = lab.scaling(
                m["UUID"], seconds=180, interval=0.25, until=lambda s: s.pollers >= 16
            )
            counts = [s.pollers for s in grown]
            assert counts[0] <= 2 and counts[-1] >= 16
            assert counts == sorted(counts)  # only up while the lag stays
            assert lab.mapping_poller(m["UUID"])["Pollers"] <= PARTITIONS
            # ... then, the backlog gone, back down to one
            wait_until(lambda: lab.mapping_poller(m["UUID"])["OffsetLag"] == 0, timeout=240)
            shrunk = lab.scaling(
                m["UUID"], seconds=240, interval=0.25, until=lambda s: s.pollers == 1
            )
            assert shrunk[-1].pollers == 1
            checks = lab.mapping_poller(m["UUID"])["LagChecks"]
            peak = max(n for _, n, _ in checks)
            assert 16 <= peak <= PARTITIONS
            assert checks[-1][2] == 0
            assert lab.metrics(fn)[fn]["Invocations"] >= PARTITIONS * 30
        finally:
            lam.delete_event_source_mapping(UUID=m["UUID"])


def test_time_scale_per_mapping(aws, deploy, lam):
    fn = deploy("def handler(e, c):\n    return None\n")
    m = lam.create_event_source_mapping(
        FunctionName=fn,
        Topics=["quiet"],
        StartingPosition="LATEST",
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:1"]}},
    )
    lab = LambdaLab(aws.url)
    try:
        wait_until(lambda: lab.mapping_poller(m["UUID"]))
        assert lab.set_time_scale(m["UUID"], 600) == {"UUID": m["UUID"], "TimeScale": 600}
        assert lab.mapping_poller(m["UUID"])["TimeScale"] == 600
        for bad in ("0", "-1", "fast"):
            try:
                lab.api(f"/_streamlab/lambda/mappings/{m['UUID']}/time-scale?scale={bad}", "POST")
            except Exception as e:
                assert "400" in str(e)
            else:
                raise AssertionError(f"scale={bad} accepted")
    finally:
        lam.delete_event_source_mapping(UUID=m["UUID"])
