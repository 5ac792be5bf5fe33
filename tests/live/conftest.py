"""Fixtures for the live path's tests: the fake Confluent Cloud, moto for AWS, a fake clock.

Nothing here reaches the network: the fake listens on 127.0.0.1, moto answers boto3, and the
Kafka event source mapping (which moto cannot create for self-managed Kafka) is an in-memory
fake with the real lifecycle (Creating -> Enabled, Deleting -> gone).
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from setup.cloud.aws import BASIC_EXECUTION, Aws, AwsClients
from setup.cloud.confluent import ConfluentCloud
from setup.cloud.deploy import Deployment
from setup.cloud.settings import CloudSettings
from setup.cloud.state import PROFILE_NAME, STATE_NAME, State
from tests.live.fake_confluent import FakeConfluentCloud

REGION = "us-east-1"


class FakeClock:
    """``sleep`` advances ``now``: waits take no real time, timeouts still happen."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeMappings:
    """Self-managed Kafka event source mappings with the real states; ``stuck`` never enables."""

    def __init__(self, reads_to_enable: int = 2) -> None:
        self.reads_to_enable = reads_to_enable
        self.items: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self.stuck = False
        self._reads: dict[str, int] = {}

    def create(self, **params: Any) -> dict[str, Any]:
        assert "EventSourceArn" not in params
        endpoints = params["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"]
        assert all("://" not in e for e in endpoints), "host:port only"
        self.created.append(params)
        uid = str(uuid.uuid4())
        self.items[uid] = {"UUID": uid, "State": "Creating", **params}
        return dict(self.items[uid])

    def get(self, uid: str) -> dict[str, Any] | None:
        m = self.items.get(uid)
        if m is None:
            return None
        self._reads[uid] = self._reads.get(uid, 0) + 1
        if m["State"] == "Deleting":
            del self.items[uid]
            return dict(m, State="Deleting")
        if m["State"] == "Creating" and not self.stuck and self._reads[uid] >= self.reads_to_enable:
            m["State"] = "Enabled"
        return dict(m)

    def list(self, function: str) -> list[dict[str, Any]]:
        return [dict(m) for m in self.items.values() if m["FunctionName"] == function]

    def delete(self, uid: str) -> None:
        if uid in self.items:
            self.items[uid]["State"] = "Deleting"


def tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("lambda_fn/__init__.py", "")
        zf.writestr("lambda_fn/handler.py", "def handler(event, context):\n    return {}\n")
    return buf.getvalue()


@dataclass
class Live:
    """One test's world: the fake cloud, moto clients, a lab home and a recorder of output."""

    fake: FakeConfluentCloud
    clients: AwsClients
    mappings: FakeMappings
    home: Path
    clock: FakeClock = field(default_factory=FakeClock)
    lines: list[str] = field(default_factory=list)
    zips_built: int = 0
    basic_execution: str = BASIC_EXECUTION

    @property
    def state_path(self) -> Path:
        return self.home / STATE_NAME

    @property
    def profile_path(self) -> Path:
        return self.home / PROFILE_NAME

    def cloud(self, key: str | None = None, secret: str | None = None) -> ConfluentCloud:
        session = requests.Session()
        session.trust_env = False  # a proxy from the environment must not sit in between
        return ConfluentCloud(
            key or self.fake.key,
            secret or self.fake.secret,
            base_url=self.fake.url,
            session=session,
            sleep=self.clock.sleep,
        )

    def build_zip(self) -> bytes:
        self.zips_built += 1
        return tiny_zip()

    def deployment(
        self, settings: CloudSettings | None = None, cloud: ConfluentCloud | None = None, **kw: Any
    ) -> Deployment:
        return Deployment(
            settings or CloudSettings(name="wk-test01", region=REGION),
            cloud or self.cloud(),
            Aws(self.clients, self.clock.sleep, self.clock, self.basic_execution),
            State(self.state_path),
            self.profile_path,
            out=self.lines.append,
            sleep=self.clock.sleep,
            clock=self.clock,
            build_zip=self.build_zip,
            **kw,
        )

    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def make_live(home: Path, managed_policies: bool) -> Iterator[Live]:
    # moto has AWS's managed policies (AWSLambdaBasicExecutionRole) only when asked to load them,
    # which takes seconds; other tests attach a customer policy of the same name instead.
    config = {"iam": {"load_aws_managed_policies": managed_policies}}
    with FakeConfluentCloud() as fake, mock_aws(config=config):
        session = boto3.Session(region_name=REGION)
        mappings = FakeMappings()
        clients = AwsClients(
            iam=session.client("iam"),
            secrets=session.client("secretsmanager"),
            lam=session.client("lambda"),
            logs=session.client("logs"),
            sts=session.client("sts"),
            mappings=mappings,
        )
        policy = BASIC_EXECUTION
        if not managed_policies:
            policy = clients.iam.create_policy(
                PolicyName="AWSLambdaBasicExecutionRole",
                PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                '"Action": "logs:CreateLogGroup", "Resource": "*"}]}',
            )["Policy"]["Arn"]
        yield Live(fake, clients, mappings, home, basic_execution=policy)


@pytest.fixture
def live(tmp_path: Path, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path / ".streamlab"))
    yield from make_live(tmp_path / ".streamlab", managed_policies=False)


@pytest.fixture
def live_managed(tmp_path: Path, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """Like ``live`` with AWS's real managed policy (moto loads them: slower)."""
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path / ".streamlab"))
    yield from make_live(tmp_path / ".streamlab", managed_policies=True)
