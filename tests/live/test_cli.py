"""The command line: `plan` offline, confirmation before `up` and `down`, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from setup.cloud import __main__ as cli
from setup.cloud.plan import hourly_cost, steps
from setup.cloud.settings import CloudSettings
from tests.live.conftest import Live

ROOT = Path(__file__).resolve().parents[2]


def offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CONFLUENT_", "STREAMLAB_"))}  # fmt: skip
    # No credentials and an unusable proxy: `plan` must not need the network at all.
    env.update(STREAMLAB_HOME=str(tmp_path / "lab"), HTTPS_PROXY="http://127.0.0.1:9",
               HTTP_PROXY="http://127.0.0.1:9", HOME=str(tmp_path))  # fmt: skip
    return env


def test_plan_runs_offline_from_the_repository_root(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "setup.cloud", "plan", "--name", "wk-lab09"],
        cwd=ROOT, env=offline_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("plan for run 'wk-lab09' in AWS region us-east-1 (nothing is created")
    assert "ksqlDB cluster 'wk-lab09-ksql', 1 CSU" in out
    assert "estimated cost while it exists: ~$" in out
    assert not (tmp_path / "lab").exists()


def test_plan_order_and_cost() -> None:
    s = CloudSettings(name="wk-a")
    assert [st.key for st in steps(s)] == [
        "environment", "kafka_cluster", "schema_registry", "service_account", "role_bindings",
        "api_keys", "topics", "connectors", "ksql_cluster", "ksql_statements", "iam_role",
        "secret", "function", "mapping", "profile",
    ]  # fmt: skip
    one, four = hourly_cost(s), hourly_cost(CloudSettings(name="wk-a", csu=4))
    assert 0 < one < four  # ksqlDB dominates and scales with CSUs


def test_bad_region_is_one_clear_line(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    assert cli.main(["plan", "--region", "moon-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("setup.cloud: error: region 'moon-1' has no Confluent Cloud ksqlDB")


@pytest.mark.parametrize("argv", [["up"], ["down"]])
def test_up_and_down_ask_first(live: Live, capsys, argv: list[str]) -> None:
    made = []

    def factory(*a):
        made.append(a)
        return live.deployment()

    assert cli.main(argv, deployment_factory=factory, ask=lambda q: "n") == 1
    assert made == []
    assert (
        f"nothing done (pass --yes to {argv[0]} without this question)" in capsys.readouterr().out
    )


def test_without_a_terminal_nothing_is_created_unless_yes(live: Live, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    assert cli.main(["up"], deployment_factory=lambda *a: pytest.fail("created")) == 1


def test_up_with_yes_then_status_then_down(live: Live, capsys) -> None:
    def factory(settings, state, profile):
        assert (settings.name, state.path, profile) == (
            "wk-test01",
            live.state_path,
            live.profile_path,
        )
        return live.deployment(settings)

    assert cli.main(["up", "--name", "wk-test01"], deployment_factory=factory,
                    ask=lambda q: "yes") == 0  # fmt: skip
    assert cli.main(["status"], deployment_factory=factory) == 0
    out = capsys.readouterr().out
    assert "Create these resources (billed until `down`)?" not in out  # asked through `ask`
    assert "kafka_cluster" in out and "PROVISIONED" in out
    # The run's name comes from the state file from now on.
    assert cli.main(["down", "--yes"], deployment_factory=factory) == 0
    assert live.fake.leftovers() == {}


def test_missing_cloud_key_through_the_cli(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    monkeypatch.delenv("CONFLUENT_CLOUD_API_KEY", raising=False)
    monkeypatch.delenv("CONFLUENT_CLOUD_API_SECRET", raising=False)
    assert cli.main(["up", "--yes"]) == 1
    assert "setup.cloud: error: no Confluent Cloud API key: set CONFLUENT_CLOUD_API_KEY" in (
        capsys.readouterr().err
    )


def test_streamlab_cloud_is_the_same_command(tmp_path: Path) -> None:
    streamlab = Path(sys.executable).with_name("streamlab")
    done = subprocess.run(
        [str(streamlab), "cloud", "plan", "--name", "wk-lab09"],
        cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "plan for run 'wk-lab09'" in done.stdout


def test_status_with_nothing_recorded_needs_no_credentials(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    monkeypatch.delenv("CONFLUENT_CLOUD_API_KEY", raising=False)
    assert cli.main(["status"]) == 0
    assert "nothing recorded" in capsys.readouterr().out
