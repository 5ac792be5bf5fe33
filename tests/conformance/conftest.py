"""One suite, two systems: every test takes the session-scoped ``kafka`` fixture, parametrized
``emulator`` (streamlab.kafka in a child process) and ``realkafka`` (Apache Kafka from Maven
jars), or ``external`` when ``--kafka-bootstrap`` points at any other cluster.

Tests only use confluent-kafka's Producer, Consumer and AdminClient, exactly as a learner
would, and give every topic and group a unique name so they never see each other's data.
A test that is known to fail on the emulator only is marked ``@pytest.mark.emulator_xfail(
reason)``; that becomes a strict xfail for the emulator param, so the day it passes we notice.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
)
from confluent_kafka import TopicPartition as TP
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from conformance_helpers import poll_n, result, unique, wait_for

SASL_USERS = {"alice": "alice-secret", "bob": "bob-secret"}
TEST_TIMEOUT = 90  # seconds per test, including a JVM start for the first realkafka test
HERE = Path(__file__).resolve().parent
ENABLE_HINT = "install Java 17+ and Maven 3 (CI has both) to run the realkafka params"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "emulator_xfail(reason): known emulator gap, strict xfail for that param only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kafka" not in metafunc.fixturenames:
        return
    if metafunc.config.getoption("--kafka-bootstrap"):
        params = [pytest.param("external", id="external")]
    else:
        marks = []
        gap = metafunc.definition.get_closest_marker("emulator_xfail")
        if gap:
            reason = gap.kwargs.get("reason") or (gap.args[0] if gap.args else "emulator gap")
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params = [
            pytest.param("emulator", marks=marks, id="emulator"),
            pytest.param("realkafka", marks=pytest.mark.realkafka, id="realkafka"),
        ]
    metafunc.parametrize("kafka", params, indirect=True, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


# --------------------------------------------------------------------------------------------
# Systems under test


class Target:
    """A running cluster plus the helpers every test needs (topics, clients, cleanup)."""

    def __init__(self, kind: str, tmp: Path, client_conf: dict[str, str] | None = None):
        self.kind = kind
        self.tmp = tmp
        self.client_conf = dict(client_conf or {})
        self._admin: AdminClient | None = None
        self._clients: list[Any] = []
        self._topics: list[str] = []

    # --- provided by subclasses -----------------------------------------------------------------

    bootstrap: str
    can_restart = True
    sasl_users: dict[str, str] = SASL_USERS  # accounts on the SASL listener, if any

    @property
    def sasl_bootstrap(self) -> str | None:
        return None

    def restart(self, hard: bool) -> None:
        raise NotImplementedError

    def no_auto_create_bootstrap(self) -> str:
        """Bootstrap of a second cluster started with topic auto-creation disabled."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    # --- clients --------------------------------------------------------------------------------

    def conf(self, overrides: dict[str, Any] | None = None, bootstrap: str | None = None) -> dict:
        return {
            "bootstrap.servers": bootstrap or self.bootstrap,
            **self.client_conf,
            **(overrides or {}),
        }

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self.conf())
        return self._admin

    def producer(self, overrides: dict[str, Any] | None = None, **kw) -> Producer:
        conf = dict(overrides or {})
        # Keep produce order under retries, as tests that compare order need: without
        # idempotence a batch retried after a transient error (seen on a just-created topic on
        # real Kafka) may land after the next one. Weaker acks cannot be idempotent.
        if str(conf.get("acks", "all")) in ("all", "-1"):
            conf.setdefault("enable.idempotence", True)
        p = Producer(self.conf(conf, **kw))
        self._clients.append(p)
        return p

    def consumer(
        self, overrides: dict[str, Any] | None = None, group: str | None = None, **kw
    ) -> Consumer:
        conf = {
            "group.id": group or unique("g"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # Short group timers keep rebalances and evictions quick (6 s is Kafka's minimum).
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            **(overrides or {}),
        }
        c = Consumer(self.conf(conf, **kw))
        self._clients.append(c)
        return c

    def cleanup(self) -> None:
        """After each test: close its clients; on external clusters also drop its topics."""
        for client in reversed(self._clients):
            try:
                if isinstance(client, Consumer):
                    client.close()
                else:
                    client.flush(5)
            except Exception:
                pass
        self._clients.clear()
        if self.kind == "external" and self._topics:
            for fut in self.admin.delete_topics(self._topics).values():
                try:
                    fut.result(30)
                except Exception:
                    pass
        self._topics.clear()

    # --- topics ---------------------------------------------------------------------------------

    def topic(self, prefix: str = "t") -> str:
        name = unique(prefix)
        self._topics.append(name)
        return name

    def create_topic(
        self, partitions: int = 1, config: dict[str, str] | None = None, prefix: str = "t"
    ) -> str:
        name = self.topic(prefix)
        futures = self.admin.create_topics([NewTopic(name, partitions, config=config or {})])
        result(futures[name])
        self.wait_topic(name, partitions)
        return name

    def wait_topic(self, name: str, partitions: int) -> None:
        """Until every partition has a leader that serves it (creation is async in Kafka).

        Metadata alone is not enough on real Kafka: a KRaft broker updates its metadata cache
        before its replica manager takes leadership, so for a moment it names itself leader yet
        answers NOT_LEADER_OR_FOLLOWER. A client retries that; hand-made wire requests in these
        tests do not, so wait until ListOffsets (served by the leader's log) succeeds."""

        def ready() -> bool:
            md = self.admin.list_topics(name, timeout=10).topics.get(name)
            return (
                md is not None
                and md.error is None
                and len(md.partitions) == partitions
                and all(p.leader >= 0 for p in md.partitions.values())
            )

        def served() -> bool:
            request = {TP(name, p): OffsetSpec.latest() for p in range(partitions)}
            try:
                for future in self.admin.list_offsets(request, request_timeout=10).values():
                    future.result(timeout=10)
            except KafkaException:
                return False
            return True

        wait_for(ready, what=f"topic {name} with {partitions} partitions")
        wait_for(served, what=f"the leaders of topic {name} to serve it")

    def topic_names(self) -> set[str]:
        return set(self.admin.list_topics(timeout=10).topics)

    # --- produce and read -----------------------------------------------------------------------

    def produce(
        self,
        topic: str,
        messages: Iterable[bytes | str | dict[str, Any] | None],
        overrides: dict[str, Any] | None = None,
        check: bool = True,
        timeout: float = 30,
        **kw,
    ) -> list[tuple[KafkaError | None, Message]]:
        """Produce (values, or dicts of Producer.produce kwargs), flush, return the delivery
        reports in delivery order; with check=True every report must be a success."""
        p = self.producer(overrides, **kw)
        reports: list[tuple[KafkaError | None, Message]] = []
        for m in messages:
            args = m if isinstance(m, dict) else {"value": m}
            p.produce(topic, **args, on_delivery=lambda err, msg: reports.append((err, msg)))
            p.poll(0)
        assert p.flush(timeout) == 0, "messages still in the producer queue after flush"
        if check:
            errors = [err for err, _ in reports if err is not None]
            assert not errors, f"delivery failed: {errors}"
        return reports

    def read(
        self,
        topic: str,
        count: int,
        partitions: Iterable[int] = (0,),
        overrides: dict[str, Any] | None = None,
        timeout: float = 20,
        **kw,
    ) -> list[Message]:
        """Read `count` records from the start of the given partitions (no group join)."""
        c = self.consumer(overrides, **kw)
        c.assign([TP(topic, p, OFFSET_BEGINNING) for p in partitions])
        msgs = poll_n(c, count, timeout)
        c.close()
        self._clients.remove(c)
        return msgs


class EmulatorTarget(Target):
    def __init__(self, tmp: Path):
        super().__init__("emulator", tmp)
        from streamlab.kafka.testing import ClusterProcess

        self._cls = ClusterProcess
        self.main = ClusterProcess(str(tmp / "main")).start()
        self._sasl = None
        self._no_auto = None

    @property
    def bootstrap(self) -> str:
        return self.main.bootstrap

    @property
    def sasl_bootstrap(self) -> str:
        # With SASL on, every emulator listener speaks SASL: a second (cheap) cluster.
        if self._sasl is None:
            self._sasl = self._cls(str(self.tmp / "sasl"), sasl_users=SASL_USERS).start()
        return self._sasl.bootstrap

    def no_auto_create_bootstrap(self) -> str:
        if self._no_auto is None:
            self._no_auto = self._cls(str(self.tmp / "noauto"), auto_create=False).start()
        return self._no_auto.bootstrap

    def restart(self, hard: bool) -> None:
        self.main.restart(hard=hard)

    def close(self) -> None:
        for proc in (self.main, self._sasl, self._no_auto):
            if proc is not None:
                proc.stop()


class RealKafkaTarget(Target):
    def __init__(self, tmp: Path):
        super().__init__("realkafka", tmp)
        from streamlab import realkafka

        self._rk = realkafka
        self.main = realkafka.RealKafka(tmp / "main", sasl_users=SASL_USERS)
        self._start(self.main)
        self._no_auto = None

    def _start(self, broker) -> None:
        try:
            broker.start(timeout=80)
        except self._rk.RealKafkaUnavailable as e:
            pytest.skip(f"real Kafka unavailable: {e} -- {ENABLE_HINT}")

    @property
    def bootstrap(self) -> str:
        return self.main.bootstrap

    @property
    def sasl_bootstrap(self) -> str:
        return self.main.sasl_bootstrap

    def no_auto_create_bootstrap(self) -> str:
        if self._no_auto is None:
            # auto.create.topics.enable is a static broker setting: a second JVM, started only
            # when a test asks for it.
            base = self._rk.RealKafka

            class NoAutoCreate(base):
                def server_properties(self) -> str:
                    text = super().server_properties()
                    assert "auto.create.topics.enable=true" in text
                    return text.replace(
                        "auto.create.topics.enable=true", "auto.create.topics.enable=false"
                    )

            self._no_auto = NoAutoCreate(self.tmp / "noauto")
            self._start(self._no_auto)
        return self._no_auto.bootstrap

    def restart(self, hard: bool) -> None:
        self.main.kill() if hard else self.main.stop()
        self.main.start(timeout=80)

    def close(self) -> None:
        for broker in (self.main, self._no_auto):
            if broker is not None:
                broker.stop()


class ExternalTarget(Target):
    can_restart = False

    def __init__(self, tmp: Path, bootstrap: str, client_conf: dict[str, str]):
        super().__init__("external", tmp, client_conf)
        self.bootstrap = bootstrap

    def restart(self, hard: bool) -> None:
        pytest.skip("cannot restart an external cluster")

    def no_auto_create_bootstrap(self) -> str:
        pytest.skip("cannot start an external cluster with auto-create disabled")


@pytest.fixture(scope="session")
def kafka(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    kind = request.param
    tmp = tmp_path_factory.mktemp(kind)
    if kind == "emulator":
        target: Target = EmulatorTarget(tmp)
    elif kind == "realkafka":
        from streamlab import realkafka

        ok, reason = realkafka.available()
        if not ok:
            pytest.skip(f"real Kafka unavailable: {reason} -- {ENABLE_HINT}")
        target = RealKafkaTarget(tmp)
    else:
        conf = dict(kv.split("=", 1) for kv in request.config.getoption("--kafka-config"))
        target = ExternalTarget(tmp, request.config.getoption("--kafka-bootstrap"), conf)
    yield target
    target.cleanup()
    target.close()


@pytest.fixture(autouse=True)
def _client_cleanup(request: pytest.FixtureRequest):
    yield
    if "kafka" in request.fixturenames:
        request.getfixturevalue("kafka").cleanup()
