"""Real Apache Kafka 4.x started from Maven Central jars.

Used to verify the emulated broker against the real thing and for the `jvm` profile.
Maven (setup/kafka-jvm/pom.xml) fetches kafka_2.13 plus a log4j2 backend into one flat
folder once; the broker then runs as a plain `java -cp 'libs/*' kafka.Kafka` subprocess:
a single combined KRaft node (broker + controller) bound to 127.0.0.1 only.

    with RealKafka(tmp_path) as kafka:
        Producer({"bootstrap.servers": kafka.bootstrap})

CLI:  python -m streamlab.realkafka start --data-dir D [--port 9092]
      python -m streamlab.realkafka stop --data-dir D
      python -m streamlab.realkafka fetch-jars
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

# Keep equal to <kafka.version> in setup/kafka-jvm/pom.xml (a unit test checks it);
# it is passed to Maven with -D so the cache folder name always matches its content.
KAFKA_VERSION = "4.1.1"
MIN_JAVA = 17  # Kafka 4.x brokers need Java 17+

SETUP_DIR = Path(__file__).resolve().parent.parent / "setup" / "kafka-jvm"
POM = SETUP_DIR / "pom.xml"
LOG4J2_CONFIG = SETUP_DIR / "log4j2.properties"

# One small broker on a 2-core laptop: SerialGC avoids G1's extra GC threads and ~30 MB RSS,
# C1-only JIT (TieredStopAtLevel=1) cut start-to-ready by ~0.3 s of ~1.9 s in measurements
# (at the cost of peak throughput; drop it before using this broker for benchmarks).
JVM_OPTS = [
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]

STATE_FILE = "realkafka.json"  # written by the CLI `start` for the CLI `stop`
_FIX_HINT = (
    "Install Java 17+ and Maven 3.x (Debian/Ubuntu: apt-get install openjdk-17-jre-headless "
    "maven) and make sure Maven Central is reachable, then run "
    "`python -m streamlab.realkafka fetch-jars`."
)
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class RealKafkaUnavailable(RuntimeError):
    """Java/Maven are missing, or the Kafka jars could not be fetched."""


class RealKafkaError(RuntimeError):
    """The broker process failed to format, start or become ready."""


# --------------------------------------------------------------------------------------------
# Prerequisites and jars


def _java_major(java: str) -> int | None:
    """Major version from `java -version` (stderr: 'openjdk version "17.0.15"' or '"1.8.0_x"')."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def _java_problem() -> str | None:
    """Why the `java` on PATH cannot run Kafka 4.x, or None when it can."""
    java = shutil.which("java")
    if java is None:
        return f"`java` not found on PATH. {_FIX_HINT}"
    major = _java_major(java)
    if major is None:
        return f"could not read the version of {java}. {_FIX_HINT}"
    if major < MIN_JAVA:
        return f"{java} is Java {major}; Kafka 4.x needs {MIN_JAVA}+. {_FIX_HINT}"
    return None


def available() -> tuple[bool, str]:
    """Whether java (>= 17) and mvn are on PATH; the reason when not."""
    problem = _java_problem()
    if problem is None and shutil.which("mvn") is None:
        problem = f"`mvn` (Maven) not found on PATH. {_FIX_HINT}"
    if problem:
        return False, problem
    return True, f"java at {shutil.which('java')}, mvn at {shutil.which('mvn')}"


def jars_dir() -> Path:
    """Folder of the broker's jars: ~/.cache/streamlab/kafka-jvm/<kafka.version>/libs.

    STREAMLAB_KAFKA_LIBS overrides it (e.g. a folder shipped to an offline classroom).
    """
    override = os.environ.get("STREAMLAB_KAFKA_LIBS")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "streamlab" / "kafka-jvm" / KAFKA_VERSION / "libs"


def _jars_complete(libs: Path) -> bool:
    # The download is renamed into place only when Maven succeeded, so the main jars being
    # present is enough; this also accepts a hand-copied folder.
    if not libs.is_dir():
        return False
    names = {p.name for p in libs.glob("*.jar")}
    needed = [f"kafka_2.13-{KAFKA_VERSION}.jar", f"kafka-clients-{KAFKA_VERSION}.jar"]
    return all(n in names for n in needed) and any(n.startswith("log4j-core-") for n in names)


def ensure_jars() -> Path:
    """Fetch the jars with Maven once; return the folder. Idempotent."""
    libs = jars_dir()
    if _jars_complete(libs):
        return libs
    ok, reason = available()
    if not ok:
        raise RealKafkaUnavailable(f"cannot fetch Kafka jars: {reason}")
    if not POM.is_file():
        raise RealKafkaUnavailable(
            f"{POM} not found: fetching jars needs a source checkout of streamlab "
            f"(or point STREAMLAB_KAFKA_LIBS at a ready jar folder)."
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    # Download next to the target and rename: an interrupted run never leaves a half folder.
    tmp = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs.parent))
    try:
        cmd = [
            "mvn", "-q", "-B", "-f", str(POM), f"-Dkafka.version={KAFKA_VERSION}",
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not _jars_complete(tmp):
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
            raise RealKafkaUnavailable(
                f"Maven could not fetch Kafka {KAFKA_VERSION} jars (exit {proc.returncode}):\n"
                f"{tail}\n{_FIX_HINT}"
            )
        try:
            tmp.rename(libs)
        except OSError:
            if not _jars_complete(libs):  # not just a concurrent run that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return libs


# --------------------------------------------------------------------------------------------
# Broker


def _free_ports(n: int) -> list[int]:
    # Hold all sockets open together so the n ports are distinct.
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _prop_escape(value: str) -> str:
    """Escape a value for a java.util.Properties file (read as ISO-8859-1)."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "".join(c if 32 <= ord(c) < 127 else f"\\u{ord(c):04x}" for c in out)


def _jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _quiet_logger() -> logging.Logger:
    # librdkafka logs "Connection refused" at ERROR level while the broker starts; keep them
    # out of the caller's stderr.
    log = logging.getLogger("streamlab.realkafka.probe")
    log.propagate = False
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    return log


class RealKafka:
    """One real Kafka node (KRaft, broker+controller) on 127.0.0.1 with its data in data_dir.

    Ports given as 0 are chosen once, here, so `start()` after `stop()` reuses them.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike,
        port: int = 0,
        controller_port: int = 0,
        sasl_users: dict[str, str] | None = None,
        sasl_port: int = 0,
        overrides: dict[str, str] | None = None,
    ):
        self.data_dir = Path(data_dir).resolve()
        # server.properties keys set on top of ours (kafka-server-start's --override)
        self.overrides = dict(overrides or {})
        self.sasl_users = dict(sasl_users) if sasl_users else None
        for name in self.sasl_users or {}:
            # The name becomes part of a JAAS option key (user_<name>).
            if not _USERNAME_RE.match(name):
                raise ValueError(f"SASL user name {name!r} must match {_USERNAME_RE.pattern}")
        free = iter(_free_ports(3))
        self.port = port or next(free)
        self.controller_port = controller_port or next(free)
        self.sasl_port = (sasl_port or next(free)) if self.sasl_users else None
        self._proc: subprocess.Popen | None = None

    # -- paths and properties

    @property
    def properties_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "kafka.log"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "kafka-data"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str | None:
        return f"127.0.0.1:{self.sasl_port}" if self.sasl_port else None

    @property
    def pid(self) -> int | None:
        """The JVM's pid while it runs, else None."""
        return self._proc.pid if self._running() else None

    def server_properties(self) -> str:
        """The server.properties text for this node."""
        listeners = [f"PLAINTEXT://127.0.0.1:{self.port}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        if self.sasl_users:
            listeners.append(f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}")
            protocols.append("SASL_PLAINTEXT:SASL_PLAINTEXT")
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            # Dynamic quorum with this node as the only voter (StorageTool format --standalone).
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            # Explicit 127.0.0.1 everywhere: an empty host would bind all interfaces.
            "listeners": ",".join([*listeners, f"CONTROLLER://127.0.0.1:{self.controller_port}"]),
            "advertised.listeners": ",".join(listeners),
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(protocols),
            "log.dirs": str(self.log_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            # One node: every internal topic with replication factor 1 / min ISR 1.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Faster first group join: no 3 s join delay, 1 instead of 50 offsets partitions.
            "group.initial.rebalance.delay.ms": "0",
            "offsets.topic.num.partitions": "1",
            # Fewer threads on a 2-core machine.
            "num.network.threads": "2",
            "num.io.threads": "2",
        }
        if self.sasl_users:
            entries = " ".join(f"user_{u}={_jaas_quote(p)}" for u, p in self.sasl_users.items())
            jaas = f"org.apache.kafka.common.security.plain.PlainLoginModule required {entries};"
            props["sasl.enabled.mechanisms"] = "PLAIN"
            props["listener.name.sasl_plaintext.plain.sasl.jaas.config"] = jaas
        props.update(self.overrides)
        lines = ["# Written by streamlab.realkafka; rewritten on every start."]
        lines += [f"{k}={_prop_escape(v)}" for k, v in props.items()]
        return "\n".join(lines) + "\n"

    # -- lifecycle

    def _running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _log_tail(self, n: int = 40) -> str:
        """Last n lines of kafka.log without Java stack frames, which would crowd out the
        messages ("Caused by: ... Address already in use" stays)."""
        try:
            with open(self.log_path, errors="replace") as f:
                lines = (ln for ln in f if not ln.startswith(("\tat ", "\t... ")))
                return "".join(deque(lines, maxlen=n))
        except OSError:
            return "(no log)"

    def _format_storage(self, java: str, libs: Path) -> None:
        if (self.log_dir / "meta.properties").exists():
            return  # already formatted: keep the data
        # Kafka's cluster id shape (base64url of 16 random bytes) without a JVM round trip.
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        cmd = [
            java, *JVM_OPTS, f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format", "--standalone",
            # "=" form: about 1 id in 64 starts with "-", which the parser takes for an option
            f"--cluster-id={cluster_id}", "-c", str(self.properties_path),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RealKafkaError(
                f"kafka StorageTool format failed (exit {proc.returncode}):\n"
                f"{proc.stdout}{proc.stderr}"
            )

    def start(self, timeout: float = 90, *, detach: bool = False) -> RealKafka:
        """Format (first time only), start the JVM and wait until the broker answers Metadata.

        detach=True puts the JVM in its own session so it outlives the calling process
        (used by the CLI); otherwise Ctrl-C in a terminal reaches it too.
        """
        if self._running():
            return self
        # Java is always needed; Maven only when the jars are not there yet (ensure_jars).
        problem = _java_problem()
        if problem:
            raise RealKafkaUnavailable(problem)
        libs = ensure_jars()
        java = shutil.which("java") or "java"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties_path.write_text(self.server_properties())
        self._format_storage(java, libs)

        cmd = [
            java, *JVM_OPTS, f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp", f"{libs}/*", "kafka.Kafka", str(self.properties_path),
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:  # append: keep earlier runs for diagnosis
            log.write(f"=== streamlab.realkafka: starting Kafka {KAFKA_VERSION} ===\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=detach,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        from confluent_kafka.admin import AdminClient  # only needed once a JVM runs

        deadline = time.monotonic() + timeout
        admin = None
        while True:
            if self._proc.poll() is not None:
                raise RealKafkaError(
                    f"Kafka exited with code {self._proc.returncode} during start; "
                    f"last lines of {self.log_path}:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RealKafkaError(
                    f"Kafka not ready after {timeout:.0f}s; "
                    f"last lines of {self.log_path}:\n{self._log_tail()}"
                )
            # Cheap TCP check first so librdkafka is not spinning on refused connections.
            if _port_open(self.port):
                if admin is None:
                    admin = AdminClient(
                        {"bootstrap.servers": self.bootstrap, "logger": _quiet_logger()}
                    )
                try:
                    if admin.list_topics(timeout=2).brokers:
                        return
                except Exception:  # KafkaException until metadata is served
                    pass
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> int | None:
        """Graceful stop (SIGTERM, then SIGKILL after timeout). Returns the exit code.

        A JVM ended by SIGTERM exits with 143 after Kafka's shutdown hook has run.
        """
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        return self._proc.returncode

    def kill(self) -> None:
        """SIGKILL, like a crash: Kafka recovers its logs on the next start."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> RealKafka:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self._running() else "stopped"
        return f"<RealKafka {self.bootstrap} {state} data_dir={self.data_dir}>"


# --------------------------------------------------------------------------------------------
# CLI


def _pid_is_our_kafka(pid: int, properties: str) -> bool:
    """True while pid is a live (not zombie) JVM running kafka.Kafka on this data dir."""
    if not Path("/proc/self").exists():  # no procfs (macOS): best effort, pid may be reused
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
        return False
    return b"kafka.Kafka" in cmdline and properties.encode() in cmdline


def _cli_start(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    state_path = data_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state.get("pid") and _pid_is_our_kafka(state["pid"], state["properties"]):
        print(state["bootstrap"])  # already running
        return 0
    # Reuse the previous ports for an existing data dir unless told otherwise.
    kafka = RealKafka(
        data_dir,
        port=args.port or state.get("port", 0),
        controller_port=state.get("controller_port", 0),
        overrides=dict(args.override),
    )
    try:
        kafka.start(timeout=args.timeout, detach=True)
    except (RealKafkaUnavailable, RealKafkaError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    state = {
        "pid": kafka.pid,
        "bootstrap": kafka.bootstrap,
        "port": kafka.port,
        "controller_port": kafka.controller_port,
        "properties": str(kafka.properties_path),
        "log": str(kafka.log_path),
        "kafka_version": KAFKA_VERSION,
    }
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(state_path)
    print(kafka.bootstrap)
    return 0


def _cli_stop(args: argparse.Namespace) -> int:
    state_path = Path(args.data_dir).resolve() / STATE_FILE
    if not state_path.exists():
        print(f"not running (no {state_path})", file=sys.stderr)
        return 0
    state = json.loads(state_path.read_text())
    pid = state.get("pid")
    if not (pid and _pid_is_our_kafka(pid, state["properties"])):
        print(f"not running ({state['bootstrap']})", file=sys.stderr)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while _pid_is_our_kafka(pid, state["properties"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_is_our_kafka(pid, state["properties"]):
        os.kill(pid, signal.SIGKILL)
    # Keep the ports for the next `start`, drop the pid.
    state["pid"] = None
    state_path.write_text(json.dumps(state, indent=2) + "\n")
    print(f"stopped {state['bootstrap']}")
    return 0


def _cli_fetch_jars(_args: argparse.Namespace) -> int:
    try:
        print(ensure_jars())
    except RealKafkaUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _property(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return name.strip(), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streamlab.realkafka",
        description=f"Real Apache Kafka {KAFKA_VERSION} (JVM) from Maven Central jars.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start", help="start a broker in the background, print its bootstrap")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--port", type=int, default=0, help="PLAINTEXT port (default: free port)")
    p.add_argument("--timeout", type=float, default=90)
    p.add_argument(
        "--override",
        action="append",
        default=[],
        type=_property,
        metavar="KEY=VALUE",
        help="a server.properties setting on top of ours (repeatable)",
    )
    p.set_defaults(func=_cli_start)
    p = sub.add_parser("stop", help="stop the broker started with `start`")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--timeout", type=float, default=30)
    p.set_defaults(func=_cli_stop)
    p = sub.add_parser("fetch-jars", help="download the jars with Maven, print the folder")
    p.set_defaults(func=_cli_fetch_jars)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
