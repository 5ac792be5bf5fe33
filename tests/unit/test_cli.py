"""The `streamlab` CLI and the supervisor under it, driven with fake components.

The fake broker takes the real broker's command line (CONTRACTS: ``python -m streamlab.kafka``),
opens its ports, serves GET /health and writes the ready file, so the real component row is
exercised with only the program swapped. FAKE_MODE makes it misbehave.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from streamlab import cli, config, doctor, stack
from streamlab.stack import Stack

FAKE_BROKER = r"""
import argparse, json, os, signal, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer

mode = os.environ.get("FAKE_MODE", "ok")
p = argparse.ArgumentParser()
for flag in ("--data-dir", "--host", "--ready-file"):
    p.add_argument(flag)
for flag in ("--port", "--brokers", "--http-port"):
    p.add_argument(flag, type=int)
a = p.parse_args()
print("fake broker starting", flush=True)
if mode == "crash":
    print("ERROR cannot open data dir: permission denied", file=sys.stderr, flush=True)
    sys.exit(3)
signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else lambda *_: sys.exit(0))
listeners = []
for i in range(a.brokers):
    s = socket.socket()
    s.bind((a.host, a.port + i if a.port else 0))
    s.listen()
    listeners.append(s)

class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = mode != "unhealthy"
        self.send_response(200 if ok else 503)
        self.end_headers()
        self.wfile.write(json.dumps({"status": "ok" if ok else "down"}).encode())
    def log_message(self, *args):
        pass

http = HTTPServer((a.host, a.http_port), Health)
threading.Thread(target=http.serve_forever, daemon=True).start()
if mode == "hang":
    time.sleep(3600)
ports = {str(i + 1): s.getsockname()[1] for i, s in enumerate(listeners)}
ready = {"pid": os.getpid(), "bootstrap": ",".join(f"{a.host}:{p}" for p in ports.values()),
         "brokers": ports, "http": http.server_port, "data_dir": a.data_dir}
with open(a.ready_file + ".tmp", "w") as f:
    json.dump(ready, f)
os.replace(a.ready_file + ".tmp", a.ready_file)
print("fake broker ready", flush=True)
while True:
    time.sleep(1)
"""

# Stands in for streamlab.realkafka: `start` leaves a server (the "JVM") running in a session of
# its own with its own log, writes <data-dir>/realkafka.json and returns.
FAKE_REALKAFKA = r"""
import argparse, json, os, socket, subprocess, sys, time

p = argparse.ArgumentParser()
p.add_argument("cmd")
p.add_argument("--data-dir")
p.add_argument("--port", type=int, default=9092)
a = p.parse_args()
if os.environ.get("FAKE_MODE") == "nowrite":
    sys.exit(0)
if a.cmd == "serve":
    s = socket.socket()
    s.bind(("127.0.0.1", a.port))
    s.listen()
    while True:
        s.accept()[0].close()
port = a.port
if port == 0:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
log = os.path.join(a.data_dir, "kafka.log")
with open(log, "a") as out:
    out.write("INFO [KafkaRaftServer nodeId=1] Kafka Server started\n")
    jvm = subprocess.Popen([sys.executable, __file__, "serve", "--port", str(port)],
                           stdout=out, start_new_session=True)
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.05)
time.sleep(0.3)  # like the real one, which waits for Metadata before writing its file
with open(os.path.join(a.data_dir, "realkafka.json"), "w") as f:
    json.dump({"pid": jvm.pid, "bootstrap": f"127.0.0.1:{port}", "log": log}, f)
print("real kafka started, pid", jvm.pid, flush=True)
"""


@pytest.fixture
def lab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """An isolated lab home on OS-chosen ports whose 'kafka' is the fake broker."""
    for name in list(os.environ):
        if name.startswith(("STREAMLAB_", "FAKE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    home = tmp_path / "lab"
    home.mkdir()
    (home / "config.toml").write_text("[ports]\nkafka = 0\nconsole = 0\n")
    monkeypatch.setenv(config.ENV_HOME, str(home))
    script = tmp_path / "fake_broker.py"
    script.write_text(FAKE_BROKER)
    use_fake_broker(monkeypatch, script)
    yield home
    for profile in ("emulated", "jvm"):  # never leave a process behind
        Stack(config.load(profile=profile)).down(timeout=2)


REAL_KAFKA = stack.components_for("emulated")[0]


def use_fake_broker(monkeypatch: pytest.MonkeyPatch, script: Path, timeout: float = 10) -> None:
    real = REAL_KAFKA

    def command(ctx: stack.LaunchContext) -> list[str]:
        argv = real.command(ctx)
        assert argv[1:3] == ["-m", "streamlab.kafka"]
        return [sys.executable, str(script), *argv[3:]]

    fake = dataclasses.replace(real, command=command, start_timeout=timeout)
    others = tuple(c for c in stack.COMPONENTS if "emulated" not in c.profiles)
    monkeypatch.setattr(stack, "COMPONENTS", (fake, *others))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def state(home: Path) -> dict:
    return json.loads((home / "run" / "kafka.json").read_text())


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def is_fake(proc: psutil.Process, tmp_path: Path) -> bool:
    """Is ``proc`` one of this test's fakes (other suites' clusters may run beside it)?"""
    try:
        return any(str(tmp_path) in arg for arg in proc.cmdline())
    except psutil.Error:
        return False


def dead_process() -> psutil.Process:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    snapshot = psutil.Process(proc.pid)
    snapshot.create_time()  # cached before the process goes
    proc.wait()
    return snapshot


# --- argument handling --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["up", "--brokers", "0"], "expected a whole number >= 1, got '0'"),
        (["up", "--brokers", "two"], "expected a whole number >= 1, got 'two'"),
        (["up", "--profile", "kraft"], "invalid choice: 'kraft'"),
        (["logs", "-n", "-1"], "expected a whole number >= 0, got '-1'"),
        (["logs", "zookeeper"], "invalid choice: 'zookeeper'"),
        (["launch"], "invalid choice: 'launch'"),
    ],
)
def test_bad_arguments_exit_2_with_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("up", "down", "status", "reset", "logs", "doctor"):
        assert command in out


# --- up, status, down ---------------------------------------------------------------------------


def test_up_returns_healthy_and_says_what_runs_where(lab: Path, capsys) -> None:
    code, out, _ = run(capsys, "up")
    assert code == 0
    info = state(lab)
    assert pid_alive(info["pid"])
    assert f"kafka    bootstrap      {info['bootstrap']}" in out
    assert f"observability  http://127.0.0.1:{info['ready']['http']}" in out
    assert str(lab / "data") in out
    assert "Stop it with: streamlab down" in out
    assert (lab / "data" / "kafka").is_dir()
    assert "fake broker ready" in (lab / "logs" / "kafka.log").read_text()
    # clients follow the ports the stack really got
    assert config.kafka_config()["bootstrap.servers"] == info["bootstrap"]


def test_up_when_running_is_a_no_op_that_prints_status(lab: Path, capsys) -> None:
    run(capsys, "up")
    pid = state(lab)["pid"]
    code, out, _ = run(capsys, "up")
    assert code == 0
    assert "streamlab is already running (profile 'emulated')" in out
    assert "running" in out
    assert state(lab)["pid"] == pid


def test_status_table_and_exit_codes(lab: Path, capsys) -> None:
    code, out, _ = run(capsys, "status")
    assert code == cli.EXIT_DOWN
    assert "kafka      stopped" in out
    run(capsys, "up")
    code, out, _ = run(capsys, "status")
    assert code == 0
    header, row = out.splitlines()[1:3]
    assert header.split() == ["COMPONENT", "STATE", "PID", "PORTS", "UPTIME", "MEMORY"]
    cells = row.split()
    assert cells[:3] == ["kafka", "running", str(state(lab)["pid"])]
    assert cells[-1] == "MB"


def test_brokers_option_starts_that_many_listeners(lab: Path, capsys) -> None:
    code, _, _ = run(capsys, "up", "--brokers", "3")
    assert code == 0
    info = state(lab)
    assert len(info["bootstrap"].split(",")) == 3
    assert len(info["ports"]) == 4  # three brokers and the HTTP API
    code, _, err = run(capsys, "up", "--brokers", "2")
    assert code == 1
    assert "kafka already runs with 3 broker(s); run `streamlab down` first to start 2" in err


def test_down_stops_and_down_twice_is_fine(lab: Path, capsys) -> None:
    run(capsys, "up")
    pid = state(lab)["pid"]
    code, out, _ = run(capsys, "down")
    assert (code, out) == (0, f"kafka: stopped (pid {pid})\n")
    assert not pid_alive(pid)
    assert not (lab / "run" / "kafka.json").exists()
    assert not (lab / "run" / "kafka.ready.json").exists()
    code, out, _ = run(capsys, "down")
    assert (code, out) == (0, "kafka: was not running\n")


def test_down_kills_a_component_that_ignores_sigterm(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "stubborn")
    run(capsys, "up")
    pid = state(lab)["pid"]
    [result] = Stack(config.load()).down(timeout=0.5)
    assert (result.was_running, result.killed) == (True, True)
    assert not pid_alive(pid)


# --- failures -----------------------------------------------------------------------------------


def test_crash_at_start_shows_the_last_log_lines(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "crash")
    code, _, err = run(capsys, "up")
    assert code == 1
    log = lab / "logs" / "kafka.log"
    assert err.startswith(
        f"streamlab: error: kafka did not start: it exited with code 3. Last lines of {log}:\n"
    )
    assert "    fake broker starting\n    ERROR cannot open data dir: permission denied\n" in err
    assert "Traceback" not in err
    assert not (lab / "run" / "kafka.json").exists()


@pytest.mark.parametrize("mode", ["hang", "unhealthy"])
def test_component_never_healthy_is_stopped_with_a_clear_error(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str
) -> None:
    monkeypatch.setenv("FAKE_MODE", mode)
    use_fake_broker(monkeypatch, tmp_path / "fake_broker.py", timeout=1)
    code, _, err = run(capsys, "up")
    assert code == 1
    assert "kafka did not start: it was not healthy after 1 s. Last lines of" in err
    assert "fake broker starting" in err
    assert not [p for p in psutil.Process().children(recursive=True) if is_fake(p, tmp_path)]


def test_port_taken_by_another_program(lab: Path, capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (lab / "config.toml").write_text(f"[ports]\nkafka = {port}\nconsole = 0\n")
        code, _, err = run(capsys, "up")
    assert code == 1
    assert err.startswith(f"streamlab: error: port {port} (kafka) is already in use by another")
    assert err.rstrip().endswith(f"stop it, or set [ports] kafka in {lab / 'config.toml'}")


def test_stale_state_from_a_dead_process_counts_as_stopped(lab: Path, capsys) -> None:
    gone = dead_process()
    (lab / "run").mkdir()
    stale = {"component": "kafka", "profile": "emulated", "pid": gone.pid,
             "create_time": gone.create_time(), "started_at": 0, "ports": [9092]}  # fmt: skip
    (lab / "run" / "kafka.json").write_text(json.dumps(stale))
    code, out, _ = run(capsys, "status")
    assert code == cli.EXIT_DOWN
    assert "kafka      crashed" in out
    assert f"kafka crashed (pid {gone.pid} is gone): see `streamlab logs kafka`" in out
    with pytest.raises(config.ConfigError, match="the lab is not running"):
        config.kafka_config()  # a dead process's ports are not handed to clients
    code, out, _ = run(capsys, "down")
    assert (code, out) == (0, "kafka: was not running\n")
    (lab / "run" / "kafka.json").write_text(json.dumps(stale))
    code, _, _ = run(capsys, "up")
    assert code == 0
    assert state(lab)["pid"] != gone.pid


def test_killed_component_shows_as_crashed_and_up_restarts_it(lab: Path, capsys) -> None:
    run(capsys, "up")
    pid = state(lab)["pid"]
    os.kill(pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(pid)], timeout=5)
    code, out, _ = run(capsys, "status")
    assert code == cli.EXIT_DOWN
    assert "kafka      crashed" in out
    code, out, _ = run(capsys, "up")
    assert code == 0
    assert "streamlab is up" in out
    assert pid_alive(state(lab)["pid"])


def test_unavailable_profile_is_one_clear_line(lab: Path, capsys, monkeypatch) -> None:
    # Every profile is built now: pretend docker is not.
    docker = dataclasses.replace(config.PROFILES["docker"], available=False)
    monkeypatch.setitem(config.PROFILES, "docker", docker)
    code, _, err = run(capsys, "up", "--profile", "docker")
    assert code == 1
    assert err.splitlines() == [
        f"streamlab: error: profile 'docker' ({docker.description}) "
        "is not available yet; use one of: emulated, jvm, cloud"
    ]


def test_up_with_another_profile_while_running_is_refused(lab: Path, capsys) -> None:
    run(capsys, "up")
    code, _, err = run(capsys, "up", "--profile", "jvm")
    assert code == 1
    assert "the lab is running profile 'emulated'; run `streamlab down` before starting" in err


# --- jvm profile --------------------------------------------------------------------------------


def test_jvm_profile_without_realkafka_says_so(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "REALKAFKA_MODULE", "streamlab.no_such_module")
    code, _, err = run(capsys, "up", "--profile", "jvm")
    assert code == 1
    assert err == (
        "streamlab: error: profile 'jvm' needs streamlab.no_such_module, which this version of "
        "streamlab lacks; use the default profile 'emulated' for now\n"
    )


def test_jvm_profile_runs_one_broker(lab: Path, capsys) -> None:
    code, _, err = run(capsys, "up", "--profile", "jvm", "--brokers", "3")
    assert code == 1
    assert "--brokers 3 needs the emulated profile; profile 'jvm' runs one broker" in err


@pytest.fixture
def fake_realkafka(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "fakerealkafka.py").write_text(FAKE_REALKAFKA)
    monkeypatch.setattr(stack, "REALKAFKA_MODULE", "fakerealkafka")
    monkeypatch.syspath_prepend(str(modules))
    monkeypatch.setenv("PYTHONPATH", str(modules))


def test_jvm_profile_starts_real_kafka_through_realkafka(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch, fake_realkafka: None
) -> None:
    # realkafka keeps its file between runs; an earlier run's must not be taken for this one
    stale = lab / "data" / "kafka-jvm" / "realkafka.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"pid": dead_process().pid, "bootstrap": "127.0.0.1:1"}))

    code, out, err = run(capsys, "up", "--profile", "jvm")
    assert (code, err) == (0, "")
    info = state(lab)
    assert info["profile"] == "jvm"
    assert info["argv"][1:5] == ["-m", "fakerealkafka", "start", "--data-dir"]
    assert info["data_dir"] == str(lab / "data" / "kafka-jvm")
    jvm = info["pid"]
    assert jvm != info["pgid"] and pid_alive(jvm)  # the launcher returned, the server runs
    assert f"bootstrap      {info['bootstrap']}" in out

    monkeypatch.setenv(config.ENV_PROFILE, "jvm")
    assert config.kafka_config()["bootstrap.servers"] == info["bootstrap"]
    monkeypatch.delenv(config.ENV_PROFILE)
    code, out, _ = run(capsys, "up")  # no --profile: acts on the running lab
    assert "already running (profile 'jvm')" in out
    code, out, _ = run(capsys, "status")
    assert code == 0 and "kafka      running" in out
    code, out, _ = run(capsys, "logs", "kafka")
    assert "real kafka started, pid" in out  # the launcher's output
    assert "Kafka Server started" in out  # the broker's own log, named in realkafka.json
    code, out, _ = run(capsys, "down")
    assert out == f"kafka: stopped (pid {jvm})\n"
    assert not pid_alive(jvm)


def test_jvm_launcher_that_returns_without_a_ready_file(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch, fake_realkafka: None
) -> None:
    monkeypatch.setenv("FAKE_MODE", "nowrite")
    code, _, err = run(capsys, "up", "--profile", "jvm")
    assert code == 1
    ready = lab / "data" / "kafka-jvm" / "realkafka.json"
    assert f"kafka did not start: it exited with code 0 without writing {ready}." in err


# --- reset and logs -----------------------------------------------------------------------------


def test_reset_yes_wipes_data_and_starts_again(lab: Path, capsys) -> None:
    run(capsys, "up")
    marker = lab / "data" / "kafka" / "topic-0.log"
    marker.write_text("old records")
    (lab / "credentials.toml").write_text("# kept")
    code, out, _ = run(capsys, "reset", "--yes")
    assert code == 0
    assert f"deleted {lab / 'data'}; starting it again" in out
    assert "streamlab is up" in out
    assert not marker.exists()
    assert (lab / "credentials.toml").exists() and (lab / "config.toml").exists()
    assert pid_alive(state(lab)["pid"])


def test_reset_without_yes_needs_a_terminal(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = run(capsys, "reset")
    assert (code, err) == (1, "streamlab: error: reset needs confirmation; run `streamlab reset "
                              "--yes`\n")  # fmt: skip


def test_reset_answered_no_changes_nothing(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    run(capsys, "up")
    pid = state(lab)["pid"]
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    code, out, _ = run(capsys, "reset")
    assert code == 1
    assert "deletes everything in" in out and "reset cancelled; nothing changed." in out
    assert state(lab)["pid"] == pid


def test_logs_prints_the_last_lines(lab: Path, capsys) -> None:
    code, _, err = run(capsys, "logs")
    assert code == 1
    assert err.startswith("streamlab: error: no log for any component in")
    run(capsys, "up")
    code, out, _ = run(capsys, "logs", "kafka", "-n", "1")
    assert (code, out) == (0, "fake broker ready\n")


def test_logs_follow_prints_new_lines_until_ctrl_c(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = lab / "logs" / "kafka.log"
    log.parent.mkdir()
    log.write_text("old\n")
    sleeps = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            with log.open("a") as f:
                f.write("new line\n")
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", fake_sleep)
    code, out, _ = run(capsys, "logs", "-f", "-n", "1")
    assert (code, out) == (0, "old\nnew line\n")


# --- doctor -------------------------------------------------------------------------------------


def test_doctor_all_ok(lab: Path, capsys) -> None:
    code, out, _ = run(capsys, "doctor")
    assert code == 0
    lines = out.splitlines()
    assert all(line.startswith("[OK]   ") for line in lines)
    assert any(line.startswith("[OK]   Python 3.") for line in lines)
    assert "[OK]   package confluent-kafka " in out


def test_doctor_port_used_by_this_lab_or_another_program(lab: Path, capsys) -> None:
    free = [_free_port(), _free_port()]
    (lab / "config.toml").write_text(f"[ports]\nkafka = {free[0]}\nconsole = {free[1]}\n")
    run(capsys, "up")
    code, out, _ = run(capsys, "doctor")
    assert code == 0
    assert f"[OK]   port {free[0]} (kafka) is used by this lab" in out
    run(capsys, "down")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", free[0]))
        busy.listen()
        code, out, _ = run(capsys, "doctor")
    assert code == 1
    assert (
        f"[FAIL] port {free[0]} (kafka) is in use by another program - stop it, or set "
        f"[ports] kafka in {lab / 'config.toml'}"
    ) in out
    assert out.rstrip().endswith("1 check(s) failed; fix them and run `streamlab doctor` again.")


def test_doctor_jvm_profile_checks_java_and_maven(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    code, out, _ = run(capsys, "doctor", "--profile", "jvm")
    assert code == 1
    assert "[FAIL] Java 17+ and Maven (profile 'jvm') - `java` not found on PATH." in out

    _script(bin_dir / "java", "echo 'openjdk version \"11.0.2\" 2019-01-15' >&2")
    _, out, _ = run(capsys, "doctor", "--profile", "jvm")
    assert f"- {bin_dir / 'java'} is Java 11; Kafka 4.x needs 17+." in out

    _script(bin_dir / "java", "echo 'openjdk version \"21.0.1\" 2023-10-17' >&2")
    _, out, _ = run(capsys, "doctor", "--profile", "jvm")
    assert "- `mvn` (Maven) not found on PATH." in out

    _script(bin_dir / "mvn", "echo 'Apache Maven 3.9.6'")
    code, out, _ = run(capsys, "doctor", "--profile", "jvm")
    assert code == 0
    assert f"[OK]   Java 17+ and Maven (profile 'jvm'): java at {bin_dir / 'java'}" in out


def test_doctor_docker_profile_checks_daemon_compose_and_the_stack(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))  # only the fake docker below
    code, out, _ = run(capsys, "doctor", "--profile", "docker")
    assert code == 1 and "[FAIL] Docker (profile 'docker') - install Docker" in out

    _script(
        bin_dir / "docker",
        'if [ "$1" = info ]; then echo "Cannot connect to the Docker daemon" >&2; exit 1; fi\n'
        "echo v2.29.1",
    )
    code, out, _ = run(capsys, "doctor", "--profile", "docker")
    assert code == 1
    assert "[FAIL] Docker daemon: Cannot connect to the Docker daemon - start Docker" in out
    assert "[OK]   Docker Compose v2 v2.29.1" in out

    _script(bin_dir / "docker", 'if [ "$1" = info ]; then echo 28.2.2; else echo v2.29.1; fi')
    (lab / "config.toml").write_text("[ports]\nkafka = 1\nregistry = 1\nksql = 1\nconsole = 0\n")
    _, out, _ = run(capsys, "doctor", "--profile", "docker")
    assert "[OK]   Docker daemon 28.2.2" in out
    assert "[WARN] kafka does not answer on port 1 - run `docker compose -f setup/docker" in out


def test_doctor_cloud_profile_says_to_provision_and_never_shows_keys(
    lab: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "doctor", "--profile", "cloud")
    assert code == 1
    assert "[FAIL] Confluent Cloud Kafka settings" in out and "python -m setup.cloud up" in out
    monkeypatch.setenv("STREAMLAB_BOOTSTRAP", "pkc-test.example:9092")
    monkeypatch.setenv("STREAMLAB_KAFKA_API_KEY", "KEYKEYKEY")
    monkeypatch.setenv("STREAMLAB_KAFKA_API_SECRET", "s3cr3t-value")
    _, out, _ = run(capsys, "doctor", "--profile", "cloud")
    assert "[OK]   Confluent Cloud Kafka endpoint and API key are set" in out
    assert "[FAIL] registry_url is not set - run `python -m setup.cloud up`" in out
    assert "s3cr3t-value" not in out and "KEYKEYKEY" not in out


def test_doctor_names_an_unavailable_profile(lab: Path, capsys, monkeypatch) -> None:
    cloud = dataclasses.replace(config.PROFILES["cloud"], available=False)
    monkeypatch.setitem(config.PROFILES, "cloud", cloud)
    code, out, _ = run(capsys, "doctor", "--profile", "cloud")
    assert code == 1
    assert "[FAIL] profile 'cloud' is not available yet - use 'emulated'" in out


def test_python_check() -> None:
    assert doctor.check_python((3, 11, 0)).level is doctor.Level.OK
    old = doctor.check_python((3, 10, 12))
    assert old.line() == "[FAIL] Python 3.10.12 - install Python 3.11 or newer"


def test_doctor_knows_every_runtime_dependency() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    names = {dep.split("==")[0].split(">")[0].split("[")[0].strip() for dep in deps}
    assert names == set(doctor.REQUIRED_MODULES.values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.mark.parametrize(
    ("free_mb", "level"),
    [(100, doctor.Level.FAIL), (500, doctor.Level.WARN), (5000, doctor.Level.OK)],
)
def test_disk_check_levels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, free_mb: int, level: doctor.Level
) -> None:
    usage = SimpleNamespace(total=10**12, used=0, free=free_mb * 1024**2)
    monkeypatch.setattr(doctor.shutil, "disk_usage", lambda path: usage)
    check = doctor.check_disk(tmp_path / "not" / "yet" / "created")
    assert check.level is level
    assert check.what.endswith(f"GB free for {tmp_path / 'not' / 'yet' / 'created'}")


def test_package_that_does_not_import_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "REQUIRED_MODULES", {"no_such_module_xyz": "no-such-dist"})
    [check] = doctor.check_packages()
    assert check.line() == (
        "[FAIL] package no-such-dist does not import (No module named 'no_such_module_xyz') - "
        "run `pip install -e .` in the project folder (inside your venv)"
    )


def test_datagen_is_a_doorway_to_the_generators(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["datagen", "users", "--stdout", "--count", "1", "--seed", "7", "--topic", "u"])
    out, err = capsys.readouterr()
    assert code == 0, err
    key, value = out.rstrip("\n").split("\t")
    assert key.startswith("User_") and json.loads(value)["userid"] == key
    assert cli.main(["datagen", "no_such_generator"]) != 0


def test_grade_names_a_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cli.main(["grade", str(tmp_path / "nope.ipynb"), "--out", str(tmp_path / "g")])
    _, err = capsys.readouterr()
    assert code == 1
    assert "nothing to grade at" in err and "nope.ipynb" in err


# A component that refuses to start unless kafka is already up (its state file exists).
DEPENDENT = """
import json, os, sys, time
run = sys.argv[1]
if not os.path.exists(os.path.join(run, "kafka.json")):
    sys.exit("kafka is not up yet")
with open(sys.argv[2], "w") as f:
    json.dump({"pid": os.getpid()}, f)
while True:
    time.sleep(1)
"""


def test_up_starts_a_component_only_after_what_it_needs(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "dependent.py"
    script.write_text(DEPENDENT)
    dependent = stack.Component(
        "dependent",
        profiles=("emulated",),
        command=lambda ctx: [sys.executable, str(script), str(lab / "run"), str(ctx.ready_file)],
        ready_file=lambda paths, data: paths.run / "dependent.ready.json",
        healthy=stack.pid_health,
        after=("kafka",),
    )
    # listed first on purpose: the order comes from `after`, not from the table
    monkeypatch.setattr(stack, "COMPONENTS", (dependent, *stack.COMPONENTS))
    lab_stack = Stack(config.load())
    try:
        assert lab_stack.up() == ["kafka", "dependent"]
        assert {s.name: s.state for s in lab_stack.status()}["dependent"] is stack.State.RUNNING
    finally:
        lab_stack.down(timeout=2)
