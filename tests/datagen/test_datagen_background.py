"""Background generators: a serve process that outlives its starter and follows the state file."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from datagen_helpers import free_port, wait_for

from streamlab import datagen
from streamlab.datagen import background
from streamlab.kafka.testing import ClusterProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "datagen" / "tasks.json"
    yield path
    datagen.stop_serving(path)  # never leave a serve process behind, even after a failure
    assert datagen.serve_pid(path) is None


def expected(name: str, count: int, seed: int = 0) -> list[tuple[bytes, bytes]]:
    return [datagen.encode(k, v) for k, v in datagen.generate(name, seed, 0, count)]


def task(state: Path, name: str) -> dict:
    return next(t for t in datagen.list_background(state) if t["name"] == name)


def test_background_survives_the_process_that_started_it(
    cluster: ClusterProcess, conf: dict, topic: str, state: Path
) -> None:
    starter = textwrap.dedent(
        """
        import sys, time
        from streamlab import datagen
        datagen.start_background("stock_trades", sys.argv[1], rate="50/s", state=sys.argv[2],
                                 bootstrap=sys.argv[3])
        print(datagen.serve_pid(sys.argv[2]), flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", starter, topic, str(state), cluster.bootstrap],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a notebook kernel has
    )
    serve_pid = int(proc.stdout.readline())
    assert serve_pid != proc.pid
    # What a kernel restart does: kill the kernel's whole process group.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert psutil.pid_exists(serve_pid) and datagen.serve_pid(state) == serve_pid

    n1 = wait_for(lambda: len(datagen.read_topic(conf, topic)), "records after the kill")
    wait_for(lambda: len(datagen.read_topic(conf, topic)) > n1, "the generator to keep going")
    assert task(state, "stock_trades")["status"] == "running"
    assert task(state, "stock_trades")["serving"] == serve_pid

    assert datagen.stop_background("stock_trades", state=state)
    stopped = task(state, "stock_trades")
    assert stopped["status"] == "stopped"
    # Every acknowledged record is counted, in sequence, once.
    assert datagen.read_topic(conf, topic) == expected("stock_trades", stopped["produced"])
    # No task left: the serve process exits by itself.
    wait_for(lambda: datagen.serve_pid(state) is None, "the idle serve process to exit")


def test_serve_follows_changes_to_the_state_file(
    cluster: ClusterProcess, conf: dict, topic: str, state: Path
) -> None:
    bootstrap = cluster.bootstrap
    datagen.start_background("users", topic, rate="100/s", state=state, bootstrap=bootstrap)
    wait_for(lambda: task(state, "users")["produced"] >= 10, "users to run")
    # A second task with a fixed count, added while the first runs.
    other = topic + "-rides"
    datagen.start_background("rides", other, rate="unlimited", count=30, seed=3, state=state)
    wait_for(lambda: task(state, "rides")["status"] == "done", "the counted task to finish")
    assert datagen.read_topic(conf, other) == expected("rides", 30, seed=3)
    assert task(state, "rides")["produced"] == 30
    # A new rate applies in place: same sequence, no restart, so no record is sent twice.
    before = task(state, "users")["produced"]
    entry = datagen.start_background("users", topic, rate="200/s", state=state)
    assert entry["produced"] >= before  # continues, does not start over
    wait_for(lambda: task(state, "users")["produced"] > before + 10, "users at the new rate")
    datagen.stop_background("users", state=state)
    assert datagen.read_topic(conf, topic) == expected("users", task(state, "users")["produced"])
    # Starting a stopped task continues its sequence.
    done = task(state, "users")["produced"]
    datagen.start_background("users", topic, rate="unlimited", count=done + 5, state=state)
    wait_for(lambda: task(state, "users")["status"] == "done", "the resumed task")
    assert datagen.read_topic(conf, topic) == expected("users", done + 5)


def test_from_start_replaces_a_running_generator(
    cluster: ClusterProcess, conf: dict, topic: str, state: Path
) -> None:
    bootstrap = cluster.bootstrap
    datagen.start_background("users", topic, rate="100/s", state=state, bootstrap=bootstrap)
    wait_for(lambda: task(state, "users")["produced"] >= 5, "users to run")
    datagen.start_background(
        "users", topic, rate="unlimited", count=3, state=state, from_start=True
    )
    wait_for(lambda: task(state, "users")["status"] == "done", "the restarted task")
    assert task(state, "users")["produced"] == 3
    got = collections.Counter(datagen.read_topic(conf, topic))
    assert all(got[record] == 2 for record in expected("users", 3))  # sent again from record 0


def test_a_killed_serve_process_resumes_where_it_was(
    cluster: ClusterProcess, conf: dict, topic: str, state: Path
) -> None:
    datagen.start_background(
        "logins", topic, rate="100/s", count=150, state=state, bootstrap=cluster.bootstrap
    )
    wait_for(lambda: task(state, "logins")["produced"] >= 30, "some progress")
    os.kill(datagen.serve_pid(state), signal.SIGKILL)
    wait_for(lambda: datagen.serve_pid(state) is None, "the lock to be released")
    assert task(state, "logins")["status"] == "running"  # what the dead process left
    datagen.ensure_serving(state)
    wait_for(lambda: task(state, "logins")["status"] == "done", "the task to finish")
    got = datagen.read_topic(conf, topic)
    # At least once: everything is there; records of the last half second may repeat.
    assert set(got) == set(expected("logins", 150))
    assert 150 <= len(got) < 150 + 60
    assert task(state, "logins")["produced"] == 150


def test_unreachable_cluster_is_reported_and_retried(state: Path, topic: str) -> None:
    datagen.start_background(
        "users", topic, state=state, bootstrap=f"127.0.0.1:{free_port()}", rate="1/s"
    )
    t = wait_for(
        lambda: (t := task(state, "users"))["status"] == "retrying" and t, "the error to show"
    )
    assert "cannot reach Kafka" in t["error"]
    assert datagen.serve_pid(state) is not None  # the server itself keeps running
    datagen.stop_background("users", state=state, forget=True)
    assert datagen.list_background(state) == []


def test_a_hand_edited_bad_task_is_marked_invalid(state: Path, cluster: ClusterProcess) -> None:
    state.parent.mkdir(parents=True)
    bad = {"generator": "nope", "topic": "t", "rate": "10/s", "seed": 0, "count": None,
           "produced": 0, "status": "pending"}  # fmt: skip
    state.write_text(json.dumps({"bootstrap": cluster.bootstrap, "tasks": {"bad": bad}}))
    datagen.ensure_serving(state)
    t = wait_for(lambda: (t := task(state, "bad"))["status"] == "invalid" and t, "invalid")
    assert "unknown generator 'nope'" in t["error"]


def test_start_background_validates_before_writing(state: Path) -> None:
    with pytest.raises(datagen.DatagenError, match="unknown generator"):
        datagen.start_background("nope", state=state)
    with pytest.raises(datagen.DatagenError, match="bad rate"):
        datagen.start_background("users", rate="quick", state=state)
    with pytest.raises(datagen.DatagenError, match="bad topic name"):
        datagen.start_background("users", "no spaces", state=state)
    assert datagen.list_background(state) == []
    assert datagen.serve_pid(state) is None
    assert not datagen.stop_background("users", state=state)


def test_serve_as_a_component(cluster: ClusterProcess, state: Path, tmp_path: Path) -> None:
    # What the stack supervisor will run: a ready file, SIGTERM to stop, one server per file.
    ready = tmp_path / "datagen.ready.json"
    argv = [sys.executable, "-m", "streamlab.datagen", "serve", "--state", str(state),
            "--bootstrap", cluster.bootstrap, "--ready-file", str(ready)]  # fmt: skip
    first = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    info = wait_for(lambda: ready.exists() and json.loads(ready.read_text()), "the ready file")
    assert info["pid"] == first.pid == datagen.serve_pid(state)
    second = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == background.ALREADY_SERVING
    assert "another serve process" in second.stderr
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    first.stderr.close()
    assert not ready.exists() and datagen.serve_pid(state) is None


def test_status_and_stop_from_the_command_line(cluster: ClusterProcess, state: Path, topic: str):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "streamlab.datagen", *args, "--state", str(state)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    started = cli("start", "stock_trades", "--topic", topic, "--rate", "20/s",
                  "--bootstrap", cluster.bootstrap)  # fmt: skip
    assert started.returncode == 0, started.stderr
    wait_for(lambda: task(state, "stock_trades")["produced"] > 0, "progress")
    status = cli("status")
    assert "server: pid" in status.stdout and "stock_trades" in status.stdout
    assert f"-> {topic} at 20/s" in status.stdout
    assert cli("stop", "stock_trades").returncode == 0
    assert cli("stop", "nope").returncode == 1
    assert cli("stop", "--all").returncode == 0
    assert datagen.serve_pid(state) is None


def test_the_default_state_file_lives_in_the_lab_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    assert background.default_state_file() == tmp_path / "data" / "datagen" / "tasks.json"
    assert datagen.list_background() == [] and datagen.serve_pid() is None
