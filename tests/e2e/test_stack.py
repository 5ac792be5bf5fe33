"""End to end: the `streamlab` CLI in a throwaway lab home on OS-chosen ports.

`up` starts the real component, one message goes through ``kafka_config()`` exactly as a
notebook would send it, then `status`, `reset --yes` and `down`. Port 0 everywhere, so a lab
the user already runs on 9092 is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from streamlab.config import ENV_HOME, ENV_PROFILE, kafka_config, registry_url
from streamlab.datagen import background

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in list(os.environ):
        if name.startswith("STREAMLAB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    home = tmp_path / "lab"
    home.mkdir()
    # every port OS-chosen: a lab the user runs on the default ports is never touched
    ports = ("kafka", "console", "registry", "aws", "ksql")
    (home / "config.toml").write_text("[ports]\n" + "".join(f"{p} = 0\n" for p in ports))
    monkeypatch.setenv(ENV_HOME, str(home))  # for kafka_config() in this process
    yield home
    streamlab("down")  # also after a failed assertion


def streamlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a learner would, in a child process that inherits the test's env."""
    return subprocess.run(
        [sys.executable, "-m", "streamlab.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def timed_up(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    done = streamlab("up", *args, timeout=400)
    took = time.monotonic() - began
    print(f"`{' '.join(['streamlab', 'up', *args])}` returned healthy in {took:.2f} s")
    assert done.returncode == 0, done.stderr
    return done, took


def roundtrip(topic: str) -> None:
    delivered = []
    producer = Producer(kafka_config(**{"client.id": "e2e-producer"}))
    producer.produce(topic, b"hello lab", b"k1", on_delivery=lambda e, m: delivered.append(e))
    assert producer.flush(30) == 0
    assert delivered == [None]

    # assign(), not subscribe(): this checks the stack and its addresses; consumer groups are
    # the conformance suite's business.
    consumer = Consumer(kafka_config(**{"group.id": f"e2e-{topic}"}))
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + 30
    msg = None
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            break
    consumer.close()
    assert msg is not None and msg.error() is None
    assert (msg.topic(), msg.key(), msg.value()) == (topic, b"k1", b"hello lab")


def wait_for_records(topic: str, n: int, timeout: float = 30) -> bool:
    consumer = Consumer(kafka_config(**{"group.id": f"e2e-wait-{topic}"}))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
            except KafkaException:
                high = 0
            if high >= n:
                return True
            time.sleep(0.2)
        return False
    finally:
        consumer.close()


def subjects() -> list[str]:
    return SchemaRegistryClient({"url": registry_url()}).get_subjects()


def topics() -> set[str]:
    return set(AdminClient(kafka_config()).list_topics(timeout=10).topics)


def gone(pid: int) -> bool:
    # A zombie counts as gone: without a reaping init (some containers) orphans linger as such.
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def state(home: Path) -> dict:
    return json.loads((home / "run" / "kafka.json").read_text())


def test_emulated_stack_up_roundtrip_status_reset_down(lab: Path) -> None:
    done, _ = timed_up()
    first = state(lab)
    assert f"bootstrap      {first['bootstrap']}" in done.stdout
    assert first["bootstrap"] != "127.0.0.1:9092"  # OS-chosen, never the user's lab port

    topic = f"e2e-{uuid.uuid4().hex[:8]}"
    roundtrip(topic)
    assert kafka_config()["bootstrap.servers"] == first["bootstrap"]
    registry = SchemaRegistryClient({"url": registry_url()})
    assert registry_url() != "http://127.0.0.1:8081"  # the running registry's own port
    registry.register_schema(f"{topic}-value", Schema('{"type": "object"}', "JSON"))
    assert subjects() == [f"{topic}-value"]

    status = streamlab("status")
    assert status.returncode == 0, status.stdout
    assert f"kafka      running  {first['pid']}" in status.stdout

    # Datagen's background task runs in the stack's own server, so it outlives this "kernel".
    datagen_pid = json.loads((lab / "run" / "datagen.json").read_text())["pid"]
    background.start_background("users", f"{topic}-users", rate="unlimited", count=9)
    (task,) = [t for t in background.list_background() if t["name"] == "users"]
    assert task["serving"] == datagen_pid
    assert wait_for_records(f"{topic}-users", 9)

    # down/up keeps topics and schemas (they live in the data dir and the _schemas topic)
    assert streamlab("down").returncode == 0
    timed_up()
    assert f"{topic}-value" in subjects() and topic in topics()
    first = state(lab)

    again = streamlab("up")
    assert again.returncode == 0
    assert "already running" in again.stdout

    reset = streamlab("reset", "--yes")
    assert reset.returncode == 0, reset.stderr
    second = state(lab)
    assert second["pid"] != first["pid"]
    assert topic not in topics()  # the data went with the reset
    assert subjects() == []
    roundtrip(topic)  # and the fresh lab works, on its new ports

    down = streamlab("down")
    assert down.returncode == 0
    assert f"kafka: stopped (pid {second['pid']})\n" in down.stdout
    assert "registry: stopped" in down.stdout  # stopped first: it is a client of kafka
    assert gone(second["pid"])
    status = streamlab("status")
    assert status.returncode == 3
    assert "kafka      stopped" in status.stdout
    assert "registry   stopped" in status.stdout


def test_emulated_stack_with_three_brokers(lab: Path) -> None:
    timed_up("--brokers", "3")
    assert len(state(lab)["bootstrap"].split(",")) == 3
    roundtrip(f"e2e-{uuid.uuid4().hex[:8]}")

    # The fault-tolerance lesson's commands: one broker down, the cluster still serves.
    stopped = streamlab("broker", "stop", "2")
    assert stopped.returncode == 0, stopped.stderr
    assert "broker 2" in stopped.stdout and "DOWN" in stopped.stdout
    roundtrip(f"e2e-{uuid.uuid4().hex[:8]}")
    unknown = streamlab("broker", "stop", "9")
    assert unknown.returncode == 1
    assert "no broker 9" in unknown.stderr
    started = streamlab("broker", "start", "2")
    assert started.returncode == 0 and "DOWN" not in started.stdout


@pytest.mark.realkafka
def test_jvm_stack_up_roundtrip_down(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlab import realkafka

    ok, reason = realkafka.available()
    if not ok:
        pytest.skip(f"the jvm profile needs Java 17+ and Maven: {reason}")
    timed_up("--profile", "jvm")
    info = state(lab)
    assert info["profile"] == "jvm"
    monkeypatch.setenv(ENV_PROFILE, "jvm")
    roundtrip(f"e2e-{uuid.uuid4().hex[:8]}")
    status = streamlab("status")
    assert status.returncode == 0, status.stdout
    down = streamlab("down", timeout=60)
    assert f"kafka: stopped (pid {info['pid']})\n" in down.stdout
    assert gone(info["pid"])
