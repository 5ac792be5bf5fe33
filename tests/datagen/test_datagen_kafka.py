"""Producing to an emulated broker (ClusterProcess, free ports) and reading back."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from datagen_helpers import free_port, wait_for

from streamlab import datagen
from streamlab.datagen.producer import producer_config
from streamlab.kafka.testing import ClusterProcess

ROOT = Path(__file__).resolve().parents[2]


def expected(name: str, count: int, seed: int = 0, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [datagen.encode(k, v) for k, v in datagen.generate(name, seed, start, count)]


def cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streamlab.datagen", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def create(conf: dict, topic: str, partitions: int) -> None:
    admin = AdminClient(conf)  # must outlive the future
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)


def test_run_produces_the_sequence_and_reads_back(conf: dict, topic: str) -> None:
    assert datagen.run("stock_trades", topic, rate="unlimited", count=300, config=conf) == 300
    assert datagen.read_topic(conf, topic) == expected("stock_trades", 300)


def test_run_resumes_a_sequence(conf: dict, topic: str) -> None:
    datagen.run("users", topic, rate=None, count=10, config=conf, seed=4)
    datagen.run("users", topic, rate=None, count=10, config=conf, seed=4, start=10)
    assert datagen.read_topic(conf, topic) == expected("users", 20, seed=4)


def test_keys_keep_their_partition(conf: dict, topic: str) -> None:
    create(conf, topic, 3)
    datagen.run("stock_trades", topic, rate=None, count=200, config=conf)
    partitions = collections.defaultdict(set)
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**conf, "group.id": "t", "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    eof, seen = set(), 0
    while len(eof) < 3:
        msg = wait_for(lambda: consumer.poll(0.5), "a message")
        if msg.error():
            eof.add(msg.partition())
            continue
        partitions[msg.key()].add(msg.partition())
        seen += 1
    consumer.close()
    assert seen == 200
    assert all(len(p) == 1 for p in partitions.values())  # one symbol, one partition
    assert len({p for ps in partitions.values() for p in ps}) > 1  # 7 symbols spread out


def test_producer_settings_insist_on_acks_all() -> None:
    conf = producer_config({"bootstrap.servers": "x:1", "acks": "1", "linger.ms": 50}, "users")
    assert conf["acks"] == "all"
    assert conf["linger.ms"] == 50  # other settings are the caller's
    assert conf["partitioner"] == "murmur2_random"  # as the Java client (and Datagen) place keys


def test_rate_limits_a_real_run(conf: dict, topic: str) -> None:
    # Behavioural lower bound only: 6 records at 20/s cannot be done in under 0.25 s.
    import time

    start = time.monotonic()
    datagen.run("logins", topic, rate="20/s", count=6, config=conf)
    assert time.monotonic() - start >= 0.25


def test_unreachable_broker_fails_quickly_and_clearly() -> None:
    conf = {"bootstrap.servers": f"127.0.0.1:{free_port()}"}
    with pytest.raises(datagen.DatagenError, match=r"cannot reach Kafka at 127\.0\.0\.1"):
        datagen.run("users", "users", count=1, config=conf)
    with pytest.raises(datagen.DatagenError, match="cannot reach Kafka"):
        datagen.seed_topics(conf)


def test_delivery_errors_are_raised(tmp_path: Path) -> None:
    with ClusterProcess(str(tmp_path / "k"), auto_create=False) as c:
        conf = {"bootstrap.servers": c.bootstrap, "message.timeout.ms": 1500}
        with pytest.raises(datagen.DatagenError, match="could not deliver to topic 'absent'"):
            datagen.run("users", "absent", rate=None, count=3, config=conf)


@pytest.mark.parametrize("bad", ["", "a b", "x" * 250, "..", "tópico"])
def test_bad_topic_names_are_refused(conf: dict, bad: str) -> None:
    with pytest.raises(datagen.DatagenError, match="bad topic name"):
        datagen.run("users", bad, count=1, config=conf)


# --- the command line -----------------------------------------------------------------------------


def test_cli_produces_a_fixed_count(cluster: ClusterProcess, conf: dict, topic: str) -> None:
    proc = cli("stock_trades", "--topic", topic, "--rate", "500/s", "--count", "25",
               "--seed", "9", "--bootstrap", cluster.bootstrap)  # fmt: skip
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"produced 25 records to {topic}" in err
    assert datagen.read_topic(conf, topic) == expected("stock_trades", 25, seed=9)


def test_cli_ctrl_c_stops_cleanly_and_reports(cluster: ClusterProcess, conf: dict, topic: str):
    proc = cli("users", "--topic", topic, "--rate", "50/s", "--bootstrap", cluster.bootstrap)
    wait_for(lambda: len(datagen.read_topic(conf, topic)) >= 5, "records from the CLI")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    n = int(err.split("stopped: produced ")[1].split()[0])
    assert datagen.read_topic(conf, topic) == expected("users", n)  # all of them, once
    assert "Traceback" not in err


def test_cli_unreachable_broker() -> None:
    proc = cli("users", "--count", "1", "--bootstrap", f"127.0.0.1:{free_port()}")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "error: cannot reach Kafka" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "unknown generator 'nope'"),
        (["users", "--rate", "fast"], "bad rate 'fast'"),
        (["users", "--count", "-1"], "--count"),
    ],
)
def test_cli_bad_input(args: list[str], message: str) -> None:
    proc = cli(*args)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert message in err and "Traceback" not in err


def test_cli_stdout_needs_no_broker() -> None:
    proc = cli("logins", "--count", "4", "--rate", "unlimited", "--stdout", "--seed", "2")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(k.encode(), v.encode()) for k, v in lines] == expected("logins", 4, seed=2)


def test_main_is_callable_for_the_streamlab_cli(capsys: pytest.CaptureFixture) -> None:
    assert datagen.main(["users", "--count", "2", "--stdout", "--rate", "unlimited"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert datagen.main(["nope"]) == 2
    assert datagen.main(["--help"]) == 0
    assert datagen.main(["list"]) == 0
    assert "stock_trades: topic stocktrade, key symbol" in capsys.readouterr().out


def test_cli_seed(cluster: ClusterProcess) -> None:
    proc = cli("seed", "--users", "9", "--bootstrap", cluster.bootstrap)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    proc = cli("seed", "--users", "9", "--bootstrap", cluster.bootstrap)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "users: already seeded" in out
