"""Lambda from a lab notebook (labs 05 and 06): deploy a function written in a cell, build AWS's
Kafka event from records, read what the emulator's event source mapping delivered, force the
execution environments to end, and count on the broker what the functions' producers did.

Everything goes through the same APIs as on AWS (boto3 via :class:`LambdaLab`) plus the Kafka
emulator's observability API for the broker-side counts.
"""

from __future__ import annotations

import ast
import base64
import functools
import io
import json
import sys
import time
import zipfile
from collections.abc import Iterable
from typing import Any

from streamlab.config import StreamlabError

EVENT_MARK = "EVENT "  # the echo function prints this before the event's JSON


def lambda_lab():
    """A :class:`~streamlab.awslambda.lab.LambdaLab` for the running stack's AWS endpoint."""
    from streamlab.awslambda.lab import LambdaLab

    return LambdaLab()


def use_project_code() -> str:
    """Put the project root (the folder holding ``lambda_fn/``) on ``sys.path`` so ``import
    lambda_fn`` works from notebooks/ or wherever the kernel runs. Returns that folder."""
    from pathlib import Path

    import streamlab
    from streamlab.config import project_root

    for root in (project_root(), Path(streamlab.__file__).resolve().parents[1]):
        if (root / "lambda_fn" / "__init__.py").is_file():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            return str(root)
    raise StreamlabError(
        "lambda_fn/ not found: run the lab from the streamlab repository (an editable install)"
    )


# --- deploying ------------------------------------------------------------------------------


def imported_distributions(source: str) -> list[str]:
    """The installed distributions whose modules ``source`` imports (absolute imports, any
    depth), what a ``requirements.txt`` for it would list; the standard library and this project
    are not distributions to vendor."""
    from importlib import metadata

    tops = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            tops |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.partition(".")[0])
    owners = metadata.packages_distributions()
    return sorted({d for top in tops for d in owners.get(top, []) if d != "streamlab"})


@functools.cache
def _vendored(requirements: tuple[str, ...]) -> tuple[tuple[str, bytes], ...]:
    from streamlab.awslambda.deployment_package import vendor

    return tuple(vendor(*requirements).items())


def source_zip(source: str, module: str = "app", requirements: Iterable[str] = ()) -> bytes:
    """A deployment package holding one module, ``<module>.py``, with ``source``, and the
    installed distributions ``requirements`` (with what they require, minus what the Lambda
    runtime has), unpacked at the root as ``pip install -t`` would."""
    compile(source, f"{module}.py", "exec")  # a syntax error shows here, not as an init error
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _vendored(tuple(sorted(requirements))):
            zf.writestr(name, data)
        zf.writestr(f"{module}.py", source)
    return buf.getvalue()


def deploy_source(
    name: str,
    source: str,
    *,
    environment: dict[str, str] | None = None,
    timeout: int = 30,
    memory: int = 256,
    requirements: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Create (or update) function ``name`` from the module text ``source``; its handler is
    ``app.handler``. The environment sees only the zip and the runtime (boto3), as on AWS, so the
    zip carries ``requirements``: by default the distributions ``source`` imports, as a build
    tool reading its requirements would; ``requirements=()`` deploys the module alone (and an
    import of, say, confluent_kafka fails with ``Runtime.ImportModuleError``, as on AWS).
    Returns the function's configuration."""
    if requirements is None:
        requirements = imported_distributions(source)
    return lambda_lab().deploy(
        name,
        zip_file=source_zip(source, requirements=requirements),
        handler="app.handler",
        environment=environment or {},
        timeout=timeout,
        memory=memory,
    )


def deploy_settlement_function(
    name: str, output_topic: str, *, dead_letter_topic: str = ""
) -> dict[str, Any]:
    """Deploy the application's function (``lambda_fn`` with its dependencies, the pipeline's
    zip) with its own secret, producing to ``output_topic``."""
    use_project_code()
    from streamlab import pipeline
    from streamlab.config import kafka_config, registry_url

    lab = lambda_lab()
    secret = pipeline.function_secret(kafka_config()["bootstrap.servers"], registry_url())
    pipeline.put_secret(lab.client("secretsmanager"), name, secret)
    return lab.deploy(
        name,
        zip_file=pipeline.build_zip(),
        handler="lambda_fn.handler.handler",
        environment={
            "SECRET_NAME": name,
            "OUTPUT_TOPIC": output_topic,
            "DEAD_LETTER_TOPIC": dead_letter_topic,
        },
        timeout=30,
        memory=512,
    )


def recycle(name: str, timeout: float = 20.0) -> int:
    """End every execution environment of ``name`` the way Lambda does when it reclaims them:
    SIGKILL, no goodbye (a configuration change retires them). Returns how many ended."""
    lab = lambda_lab()
    before = len(lab.environments(name))
    config = lab.get_function(name)
    variables = dict((config.get("Environment") or {}).get("Variables") or {})
    variables["RECYCLED_AT"] = str(time.time_ns())
    lam = lab.client("lambda")
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    deadline = time.monotonic() + timeout
    while lab.environments(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    return before


def delete_functions(prefix: str) -> list[str]:
    """Delete every function whose name starts with ``prefix`` (their mappings and environments
    go too): the lab's clean-up. Returns the names deleted."""
    lab = lambda_lab()
    lam = lab.client("lambda")
    gone = []
    for f in lab.functions():
        if not f["Name"].startswith(prefix):
            continue
        for m in lam.list_event_source_mappings(FunctionName=f["Name"])["EventSourceMappings"]:
            lam.delete_event_source_mapping(UUID=m["UUID"])
        lam.delete_function(FunctionName=f["Name"])
        gone.append(f["Name"])
    return gone


class FunctionFailed(RuntimeError):
    """An invocation returned a function error; the message is the function's own."""


def invoke_ok(name: str, event: Any) -> Any:
    """Invoke ``name`` synchronously and return its result; raise :class:`FunctionFailed` with
    the function's error (an init error included) when it failed."""
    answer = lambda_lab().invoke(name, event)
    if answer["FunctionError"]:
        p = answer["Payload"] if isinstance(answer["Payload"], dict) else {}
        raise FunctionFailed(
            f"{name} failed: {p.get('errorType', answer['FunctionError'])}: "
            f"{p.get('errorMessage', answer['Payload'])}"
        )
    return answer["Payload"]


def run_locally(
    source: str,
    event: Any,
    *,
    environment: dict[str, str] | None = None,
    calls: int = 1,
    fake_kafka: bool = False,
) -> dict[str, Any]:
    """Import ``source`` as a fresh module and call its ``handler(event, None)`` ``calls``
    times, in this kernel, as ``sam local invoke`` would (module-level code runs once).

    ``fake_kafka``: ``confluent_kafka.Producer`` is replaced, for this run only, by a
    :class:`RecordingProducer` that remembers its configuration, so nothing reaches Kafka.
    Returns {"results": [...], "producers": [(config, RecordingProducer), ...]}."""
    import os
    import types

    producers: list[tuple[dict, RecordingProducer]] = []
    saved_env = {k: os.environ.get(k) for k in environment or {}}
    os.environ.update(environment or {})
    saved_module = sys.modules.get("confluent_kafka")
    if fake_kafka:

        def fake_producer(config: dict | None = None, **kwargs: Any) -> RecordingProducer:
            p = RecordingProducer()
            producers.append(({**(config or {}), **kwargs}, p))
            return p

        sys.modules["confluent_kafka"] = types.SimpleNamespace(Producer=fake_producer)  # type: ignore[assignment]
    try:
        module = types.ModuleType("app")
        exec(compile(source, "app.py", "exec"), module.__dict__)
        results = [module.handler(event, None) for _ in range(calls)]
    finally:
        if fake_kafka:
            if saved_module is None:
                sys.modules.pop("confluent_kafka", None)
            else:
                sys.modules["confluent_kafka"] = saved_module
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"results": results, "producers": producers}


# --- the Kafka event --------------------------------------------------------------------------

ECHO_SOURCE = f'''import json


def handler(event, context):
    print("{EVENT_MARK}" + json.dumps(event))  # the whole event, to the function's log
    return {{"records": sum(len(batch) for batch in event["records"].values())}}
'''


def delivered_events(name: str, at_least: int = 1, timeout: float = 30.0) -> list[dict]:
    """The events the echo function (:data:`ECHO_SOURCE`) logged, oldest first; waits until
    there are ``at_least`` of them."""
    lab = lambda_lab()
    deadline = time.monotonic() + timeout
    while True:
        events = [
            json.loads(e["message"].split(EVENT_MARK, 1)[1])
            for e in lab.log_events(name)
            if EVENT_MARK in e["message"]
        ]
        if len(events) >= at_least or time.monotonic() > deadline:
            return events
        time.sleep(0.25)


def signed(data: bytes) -> list[int]:
    """Bytes as the Lambda poller (JVM code) writes them into header arrays: -128..127."""
    return [b - 256 if b > 127 else b for b in data]


def kafka_event(records: Iterable[dict[str, Any]], bootstrap: str = "127.0.0.1:9092") -> dict:
    """AWS's self-managed Kafka event for ``records``: dicts with topic, partition, offset,
    timestamp, key and value (bytes or None) and headers (a list of (name, bytes))."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        entry: dict[str, Any] = {
            "topic": r["topic"],
            "partition": int(r["partition"]),
            "offset": int(r["offset"]),
            "timestamp": int(r.get("timestamp", 0)),
            "timestampType": "CREATE_TIME",
        }
        if r.get("key") is not None:
            entry["key"] = base64.b64encode(r["key"]).decode()
        if r.get("value") is not None:
            entry["value"] = base64.b64encode(r["value"]).decode()
        entry["headers"] = [{n: signed(v)} for n, v in r.get("headers") or []]
        grouped.setdefault(f"{r['topic']}-{r['partition']}", []).append(entry)
    for batch in grouped.values():
        batch.sort(key=lambda e: e["offset"])
    return {"eventSource": "SelfManagedKafka", "bootstrapServers": bootstrap, "records": grouped}


def streamlab_lambda(*args: str) -> int:
    """``streamlab lambda <args>`` from a notebook cell: prints what the command prints."""
    from streamlab.lambda_cli import main

    return main(list(args), prog="streamlab lambda")


def read_settlements(topic: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Every TradeSettlement in ``topic`` (Protobuf through the Schema Registry), as dicts with
    the record's key and its ``source`` header, in partition and offset order."""
    use_project_code()
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from google.protobuf.json_format import MessageToDict

    from lambda_fn.proto import TradeSettlement
    from streamlab.config import registry_config
    from streamlab.notebook.kafka import read_topic

    deserialize = ProtobufDeserializer(
        TradeSettlement,
        {"use.deprecated.format": False},
        SchemaRegistryClient(registry_config()),  # with the profile's key on Confluent Cloud
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    out = []
    for r in read_topic(topic, timeout=timeout):
        msg = MessageToDict(
            deserialize(r["value"], ctx),
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
        )
        msg["timestamp"] = int(msg["timestamp"])  # int64 is a string in protobuf's JSON
        headers = dict(r["headers"])
        msg["source"] = headers.get("source", b"").decode()
        out.append(msg)
    return out


# --- on the broker ----------------------------------------------------------------------------


def _observe():
    """The emulated broker's observability API, or None on a profile without it (jvm: real
    Kafka has no per-client.id connection counts outside JMX)."""
    from streamlab.notebook.kafka import observe

    try:
        return observe()
    except StreamlabError:
        return None


def connections_opened(client_id: str) -> int | None:
    """How many connections the broker has seen from ``client_id`` since it started; None when
    the profile's broker does not say (only the emulated one does)."""
    obs = _observe()
    if obs is None:
        return None
    for c in obs.client_ids():
        if c["client_id"] == client_id:
            return int(c["connections_opened"])
    return 0


def broker_requests(client_id: str, api: str = "PRODUCE") -> int | None:
    """Requests of type ``api`` on the open connections of ``client_id`` (a frozen environment
    keeps its producer's connections open, so they still count); None when the profile's broker
    does not say."""
    obs = _observe()
    if obs is None:
        return None
    return sum(c["requests"].get(api, 0) for c in obs.clients() if c["client_id"] == client_id)


# --- locally ----------------------------------------------------------------------------------


class RecordingProducer:
    """Stands in for a confluent-kafka Producer in a local run: records every call in
    ``calls`` ("produce", "poll", "flush") and delivers everything at ``flush``."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.produced: list[dict[str, Any]] = []
        self.fail = fail  # deliveries fail: flush reports them through the callbacks
        self._pending: list[tuple[Any, Any]] = []

    def produce(self, topic: str, value: Any = None, key: Any = None, **kw: Any) -> None:
        self.calls.append("produce")
        record = {"topic": topic, "key": key, "value": value, "headers": kw.get("headers")}
        self.produced.append(record)
        self._pending.append((kw.get("on_delivery") or kw.get("callback"), record))

    def poll(self, timeout: float = 0) -> int:
        self.calls.append("poll")
        return 0

    def flush(self, timeout: float = -1) -> int:
        self.calls.append("flush")
        pending, self._pending = self._pending, []
        for callback, record in pending:
            if callback is not None:
                callback("delivery failed (simulated)" if self.fail else None, _Msg(record))
        return 0

    def __len__(self) -> int:
        return len(self._pending)


class _Msg:
    def __init__(self, record: dict[str, Any]) -> None:
        self._r = record

    def topic(self) -> str:
        return self._r["topic"]

    def key(self) -> Any:
        return self._r["key"]

    def value(self) -> Any:
        return self._r["value"]


def plot_bars(values: dict[str, float], title: str, ylabel: str):
    """One bar per label (matplotlib); without matplotlib, text bars."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{title} (install matplotlib for a plot)")
        for label, v in values.items():
            print(f"{label:>24}: {v:>8.1f} {'#' * min(int(v), 60)}")
        return None
    fig, ax = plt.subplots(figsize=(5.5, 2.6))
    colours = ["#cf222e", "#1a7f37", "#0969da", "#8250df"]
    ax.bar(list(values), list(values.values()), color=[colours[i % 4] for i in range(len(values))])
    for i, v in enumerate(values.values()):
        ax.annotate(f"{v:g}", (i, v), ha="center", va="bottom")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
