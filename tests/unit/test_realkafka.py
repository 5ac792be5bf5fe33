"""streamlab.realkafka: real Apache Kafka from Maven Central jars.

Most tests need no JVM (properties text, prerequisite checks, the jar download with a fake
`mvn`). The one `realkafka`-marked test starts the real broker; it skips when Java 17+/Maven
are missing. Run everything with:
    pytest tests/unit/test_realkafka.py -m "realkafka or not realkafka"
"""

from __future__ import annotations

import logging
import re
import stat
import time
from pathlib import Path

import psutil
import pytest

from streamlab import realkafka
from streamlab.realkafka import RealKafka, RealKafkaUnavailable


def _props(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def _fake_tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


# ---------------------------------------------------------------------------------------------
# server.properties


def test_properties_bind_loopback_only(tmp_path):
    kafka = RealKafka(tmp_path, port=19092, controller_port=19093)
    props = _props(kafka.server_properties())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    for key in ("listeners", "advertised.listeners", "controller.quorum.bootstrap.servers"):
        hosts = re.findall(r"(?:://)?([^,:/]*):\d+", props[key])
        assert hosts and set(hosts) == {"127.0.0.1"}, (key, props[key])
    assert "0.0.0.0" not in kafka.server_properties()
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path.resolve() / "kafka-data")
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "offsets.topic.num.partitions",
        "num.partitions",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true"
    assert not any(k.startswith("sasl") or ".sasl." in k for k in props)
    assert kafka.bootstrap == "127.0.0.1:19092"
    assert kafka.sasl_bootstrap is None
    assert kafka.pid is None


def test_properties_sasl_listener_and_jaas(tmp_path):
    users = {"alice": "alice-secret", "bob": 'q"u\\ote'}
    kafka = RealKafka(
        tmp_path, port=19092, controller_port=19093, sasl_users=users, sasl_port=19094
    )
    props = _props(kafka.server_properties())
    assert "SASL_PLAINTEXT://127.0.0.1:19094" in props["listeners"].split(",")
    assert "PLAINTEXT://127.0.0.1:19092" in props["listeners"].split(",")  # still there
    assert "SASL_PLAINTEXT:SASL_PLAINTEXT" in props["listener.security.protocol.map"]
    assert props["sasl.enabled.mechanisms"] == "PLAIN"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    jaas = props["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
    assert jaas.startswith("org.apache.kafka.common.security.plain.PlainLoginModule required ")
    assert jaas.endswith(";")
    assert 'user_alice="alice-secret"' in jaas
    # JAAS escapes \ and ", then the properties file escapes every backslash again.
    assert r'user_bob="q\\"u\\\\ote"' in jaas
    assert kafka.sasl_bootstrap == "127.0.0.1:19094"


def test_free_ports_are_distinct_and_kept(tmp_path):
    kafka = RealKafka(tmp_path, sasl_users={"alice": "pw"})
    ports = {kafka.port, kafka.controller_port, kafka.sasl_port}
    assert len(ports) == 3 and all(ports)
    assert kafka.server_properties() == kafka.server_properties()  # chosen once


def test_bad_sasl_user_name_rejected(tmp_path):
    with pytest.raises(ValueError, match="SASL user name"):
        RealKafka(tmp_path, sasl_users={"bad name": "pw"})


def test_kafka_version_matches_pom():
    pom = realkafka.POM.read_text()
    assert f"<kafka.version>{realkafka.KAFKA_VERSION}</kafka.version>" in pom


# ---------------------------------------------------------------------------------------------
# Prerequisites and jar download (fake tools on an isolated PATH)


def test_available_without_java(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, reason = realkafka.available()
    assert not ok
    assert "`java` not found on PATH" in reason
    assert "Java 17" in reason and "Maven" in reason  # says how to fix


def test_available_old_java(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "java", "echo 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    _fake_tool(tmp_path, "mvn", "exit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, reason = realkafka.available()
    assert not ok
    assert "Java 11" in reason and "17+" in reason


def test_available_java8_version_scheme(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "java", "echo 'java version \"1.8.0_402\"' >&2\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, reason = realkafka.available()
    assert not ok and "Java 8" in reason


def test_available_without_maven(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "java", "echo 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, reason = realkafka.available()
    assert not ok
    assert "`mvn`" in reason


def test_available_ok(tmp_path, monkeypatch):
    _fake_tool(tmp_path, "java", "echo 'openjdk version \"21.0.2\" 2024-01-16' >&2\n")
    _fake_tool(tmp_path, "mvn", "exit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert realkafka.available()[0]


def test_jars_dir_default_and_override(tmp_path, monkeypatch):
    monkeypatch.delenv("STREAMLAB_KAFKA_LIBS", raising=False)
    assert realkafka.jars_dir() == (
        Path.home() / ".cache/streamlab/kafka-jvm" / realkafka.KAFKA_VERSION / "libs"
    )
    monkeypatch.setenv("STREAMLAB_KAFKA_LIBS", str(tmp_path / "libs"))
    assert realkafka.jars_dir() == tmp_path / "libs"


def _complete_jar_names() -> list[str]:
    v = realkafka.KAFKA_VERSION
    return [f"kafka_2.13-{v}.jar", f"kafka-clients-{v}.jar", "log4j-core-2.24.3.jar"]


def test_ensure_jars_skips_complete_folder(tmp_path, monkeypatch):
    libs = tmp_path / "libs"
    libs.mkdir()
    for name in _complete_jar_names():
        (libs / name).touch()
    monkeypatch.setenv("STREAMLAB_KAFKA_LIBS", str(libs))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no mvn: must not be needed
    assert realkafka.ensure_jars() == libs


def test_ensure_jars_without_maven(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLAB_KAFKA_LIBS", str(tmp_path / "libs"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RealKafkaUnavailable, match="Java 17"):
        realkafka.ensure_jars()


def _fake_maven_path(tmp_path: Path, mvn_body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_tool(bin_dir, "java", "echo 'openjdk version \"17.0.15\"' >&2\n")
    _fake_tool(bin_dir, "mvn", mvn_body)
    return bin_dir


def test_ensure_jars_failure_leaves_no_half_folder(tmp_path, monkeypatch):
    # Maven copies one jar into -DoutputDirectory, then fails.
    bin_dir = _fake_maven_path(
        tmp_path,
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#*=}";; esac; done\n'
        'for f in kafka-clients-x.jar; do : > "$out/$f"; done\n'
        "echo '[ERROR] Could not resolve dependencies' >&2\nexit 1\n",
    )
    libs = tmp_path / "cache" / "libs"
    monkeypatch.setenv("STREAMLAB_KAFKA_LIBS", str(libs))
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(RealKafkaUnavailable, match="Could not resolve dependencies"):
        realkafka.ensure_jars()
    assert list((tmp_path / "cache").iterdir()) == []  # neither libs nor a temp folder


def test_ensure_jars_renames_complete_download(tmp_path, monkeypatch):
    # Only shell builtins: PATH holds nothing but the fake tools.
    jars = " ".join(_complete_jar_names())
    bin_dir = _fake_maven_path(
        tmp_path,
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#*=}";; esac; done\n'
        f'for f in {jars}; do : > "$out/$f"; done\necho run >> "{tmp_path}/mvn-runs"\n',
    )
    libs = tmp_path / "cache" / "libs"
    monkeypatch.setenv("STREAMLAB_KAFKA_LIBS", str(libs))
    monkeypatch.setenv("PATH", str(bin_dir))
    assert realkafka.ensure_jars() == libs
    assert realkafka.ensure_jars() == libs  # second call: no Maven run
    assert (tmp_path / "mvn-runs").read_text() == "run\n"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["libs"]
    assert sorted(p.name for p in libs.iterdir()) == sorted(_complete_jar_names())


def test_start_without_java_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RealKafkaUnavailable, match="java"):
        RealKafka(tmp_path / "data").start()


def test_start_reports_early_exit_with_log_tail(tmp_path, monkeypatch):
    # A fake `java`: answers -version, "formats" by writing meta.properties, and as the broker
    # logs an error with a stack trace and exits 1.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_tool(
        bin_dir,
        "java",
        'case "$*" in\n'
        "  *-version*) echo 'openjdk version \"17.0.15\"' >&2 ;;\n"
        f'  *StorageTool*) : > "{tmp_path}/data/kafka-data/meta.properties" ;;\n'
        "  *kafka.Kafka*) echo 'ERROR Socket server failed to bind: Address already in use'\n"
        "                 printf '\\tat kafka.network.Acceptor.openServerSocket\\n'\n"
        "                 exit 1 ;;\n"
        "esac\n",
    )
    libs = tmp_path / "libs"
    libs.mkdir()
    for name in _complete_jar_names():
        (libs / name).touch()
    (tmp_path / "data" / "kafka-data").mkdir(parents=True)
    monkeypatch.setenv("STREAMLAB_KAFKA_LIBS", str(libs))
    monkeypatch.setenv("PATH", str(bin_dir))
    kafka = RealKafka(tmp_path / "data")
    with pytest.raises(realkafka.RealKafkaError, match="exited with code 1") as info:
        kafka.start(timeout=10)
    assert "Address already in use" in str(info.value)
    assert "\tat kafka.network" not in str(info.value)  # stack frames left out
    assert kafka.pid is None
    assert "listeners=PLAINTEXT://127.0.0.1:" in kafka.properties_path.read_text()


# ---------------------------------------------------------------------------------------------
# The real broker


def _quiet() -> logging.Logger:
    log = logging.getLogger("test_realkafka.librdkafka")
    log.propagate = False
    log.addHandler(logging.NullHandler())
    return log


def _consume(bootstrap: str, group: str, topic: str, n: int) -> list[str]:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "logger": _quiet(),
        }
    )
    consumer.subscribe([topic])
    values: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(values) < n and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            values.append(msg.value().decode())
        if values:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return values


def _committed(bootstrap: str, group: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "logger": _quiet()})
    try:
        [tp] = consumer.committed([TopicPartition(topic, 0)], timeout=30)
        return tp.offset
    finally:
        consumer.close()


@pytest.mark.realkafka
def test_real_broker_produce_consume_restart(tmp_path):
    ok, reason = realkafka.available()
    if not ok:
        pytest.skip(
            f"real Kafka unavailable: {reason} "
            '(enable: install Java 17+ and Maven, run with -m "realkafka or not realkafka")'
        )
    try:
        realkafka.ensure_jars()
    except RealKafkaUnavailable as e:  # e.g. Maven Central unreachable
        pytest.skip(f"Kafka jars could not be fetched: {e}")

    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    topic, expected = "orders", [f"order-{i}" for i in range(100)]
    kafka = RealKafka(tmp_path / "kafka", sasl_users={"alice": "alice-secret"})
    with kafka:
        # Every listening socket of the JVM is on loopback.
        listening = [
            c.laddr
            for c in psutil.Process(kafka.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        # Java listens on dual-stack sockets, so 127.0.0.1 shows up as ::ffff:127.0.0.1.
        assert {a.ip.removeprefix("::ffff:") for a in listening} == {"127.0.0.1"}
        assert {a.port for a in listening} == {kafka.port, kafka.controller_port, kafka.sasl_port}

        errors = []

        def on_delivery(err, _msg):
            if err is not None:
                errors.append(err)

        producer = Producer(
            {"bootstrap.servers": kafka.bootstrap, "acks": "all", "logger": _quiet()}
        )
        for i, value in enumerate(expected):
            producer.produce(topic, value.encode(), key=str(i).encode(), on_delivery=on_delivery)
        assert producer.flush(30) == 0
        assert errors == []

        assert _consume(kafka.bootstrap, "g1", topic, 100) == expected

        # SASL/PLAIN listener: right password works, wrong one is refused.
        def sasl_admin(password: str) -> AdminClient:
            return AdminClient(
                {
                    "bootstrap.servers": kafka.sasl_bootstrap,
                    "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": "PLAIN",
                    "sasl.username": "alice",
                    "sasl.password": password,
                    "logger": _quiet(),
                }
            )

        assert topic in sasl_admin("alice-secret").list_topics(timeout=15).topics
        with pytest.raises(KafkaException):
            sasl_admin("wrong").list_topics(timeout=2)  # auth fails in ~0.3 s
        pid = kafka.pid

    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    # Same object, same ports, same data.
    kafka.start()
    try:
        assert kafka.pid != pid
        assert _consume(kafka.bootstrap, "g2", topic, 100) == expected
        assert _committed(kafka.bootstrap, "g1", topic) == 100
    finally:
        assert kafka.stop() in (0, 143)  # 143: JVM ended by SIGTERM after Kafka's shutdown hook


def test_overrides_go_on_top_of_our_properties(tmp_path):
    kafka = RealKafka(
        tmp_path,
        port=19092,
        controller_port=19093,
        overrides={"log.retention.check.interval.ms": "1000", "num.partitions": "3"},
    )
    props = _props(kafka.server_properties())
    assert props["log.retention.check.interval.ms"] == "1000"
    assert props["num.partitions"] == "3"  # ours was 1
    assert props["listeners"].startswith("PLAINTEXT://127.0.0.1:19092")


def test_cli_override_must_be_key_value(capsys):
    from streamlab.realkafka import main

    with pytest.raises(SystemExit):
        main(["start", "--data-dir", "x", "--override", "no-equals-sign"])
    assert "is not KEY=VALUE" in capsys.readouterr().err
