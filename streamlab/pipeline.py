"""The application's pipeline in one command, and the ksql/ statement runner.

    python -m streamlab.pipeline apply [DIR]     run DIR's *.sql files in order (default ksql/)
    python -m streamlab.pipeline up              seed, apply ksql/, secret, deploy the function
    python -m streamlab.pipeline status          what exists: streams, tables, function, mapping
    python -m streamlab.pipeline watch|counts    settlements / per-minute counts as they arrive
    python -m streamlab.pipeline down            remove what `up` made (topics and data stay)

**apply** sends each statement of each file (sorted by name) to ksqlDB's ``/ksql`` endpoint, so it
runs against this lab's engine and against a real ksqlDB server alike (``--url``). It is
idempotent: every statement is ``CREATE ... IF NOT EXISTS``, and a statement whose stream or table
already exists is not even sent (the runner reads ``SHOW STREAMS``/``SHOW TABLES`` first) and is
reported as ``exists``. A statement the engine cannot run because of a missing feature (on this
lab's engine: ``VALUE_FORMAT='PROTOBUF'``) is reported as ``unsupported`` with the engine's own
message, and statements that read from it as ``skipped``; everything else still runs. Any other
error stops the run (exit 1).

**up** (the lab's emulated stack, or any stack ``streamlab.config`` points at):

1. creates the application's topics and seeds the USERS table (``streamlab.datagen.seed``);
2. applies ``ksql/`` (and ``ksql/lessons/`` with ``--lessons``);
3. starts a background ``stock_trades`` generator on ``stocktrade`` (``--rate``; ``0``: none);
4. stores the function's secret in Secrets Manager (bootstrap servers, registry URL);
5. builds ``lambda_fn`` into a zip and creates (or updates) the function, then its Kafka event
   source mapping on ``user_trades``;
6. prints how to watch the settlements and the windowed counts arrive.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
KSQL_DIR = ROOT / "ksql"
FUNCTION_NAME = "TradeSettlementFunction"
SECRET_NAME = "TradeSettlementCredentials"
SOURCE_TOPIC = "user_trades"
DEAD_LETTER_TOPIC = "user_trades-dlq"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"
REGION = "us-east-1"
PROPERTIES = {"auto.offset.reset": "earliest"}
STREAMS_AND_TABLES = ("STOCKTRADE", "USERS", "USER_TRADES", "TRADE_SETTLEMENT")

_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:SOURCE\s+)?(STREAM|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)",
    re.IGNORECASE,
)
_SOURCES = re.compile(r"\b(?:FROM|JOIN)\s+(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


class PipelineError(Exception):
    """The pipeline could not be applied or deployed; the message says what and where."""


# --- statements -----------------------------------------------------------------------------------


def split_statements(text: str) -> list[str]:
    """The statements of a SQL file, without comments, each ending with ``;``.

    Semicolons inside 'strings', `identifiers`, -- comments and /* comments */ do not split.

    >>> split_statements("-- a; b\\nSELECT 'x;y' FROM T; /* ; */ SHOW STREAMS;")
    ["SELECT 'x;y' FROM T;", 'SHOW STREAMS;']
    """
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            buf.append(" ")
            continue
        if c in "'`":
            j = i + 1
            while j < n:
                if text[j] == c:
                    if c == "'" and j + 1 < n and text[j + 1] == "'":  # '' escapes a quote
                        j += 2
                        continue
                    break
                j += 1
            buf.append(text[i : j + 1])
            i = j + 1
            continue
        if c == ";":
            stmt = "".join(buf).strip()
            if stmt:
                out.append(_tidy(stmt) + ";")
            buf = []
        else:
            buf.append(c)
        i += 1
    if "".join(buf).strip():
        out.append(_tidy("".join(buf).strip()) + ";")
    return out


def _tidy(stmt: str) -> str:
    lines = [line.rstrip() for line in stmt.splitlines()]
    return "\n".join(line for line in lines if line.strip())


def _name(token: str) -> str:
    return token[1:-1] if token.startswith("`") else token.upper()


def target_of(stmt: str) -> tuple[str, str] | None:
    """``("STREAM"|"TABLE", NAME)`` a CREATE statement makes, else None."""
    m = _CREATE.match(stmt)
    return (m.group(1).upper(), _name(m.group(2))) if m else None


def sources_of(stmt: str) -> set[str]:
    """The streams and tables a statement reads (FROM and JOIN)."""
    return {_name(t) for t in _SOURCES.findall(stmt)}


def sql_files(directory: Path) -> list[Path]:
    """The folder's ``*.sql`` files in the order they run (by name; subfolders are not read)."""
    return sorted(p for p in Path(directory).glob("*.sql") if p.is_file())


# --- apply ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    file: str
    statement: str
    target: str | None
    status: str  # created | exists | unsupported | skipped | done | error
    message: str = ""

    def line(self) -> str:
        what = self.target or self.statement.split("\n", 1)[0][:60]
        text = f"  {self.status:<11} {self.file}: {what}"
        return f"{text}  ({self.message})" if self.message else text


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(o.status == "error" for o in self.outcomes)

    def by_status(self, status: str) -> list[str]:
        return [o.target or o.statement for o in self.outcomes if o.status == status]


def existing_objects(client: Any) -> set[str]:
    names: set[str] = set()
    for what in ("STREAMS", "TABLES"):
        for entity in client.execute(f"SHOW {what};"):
            for item in entity.get(what.lower(), []):
                names.add(item["name"])
    return names


def _unsupported(message: str) -> bool:
    return "not supported" in message.lower()


def apply(
    directory: Path | str = KSQL_DIR,
    client: Any = None,
    properties: dict[str, Any] | None = None,
) -> ApplyResult:
    """Run every statement of ``directory``'s SQL files in order (see the module docstring)."""
    from streamlab.ksql.client import KsqlClient, KsqlError

    directory = Path(directory)
    files = sql_files(directory)
    if not files:
        raise PipelineError(f"no *.sql files in {str(directory)!r}")
    client = client or KsqlClient()
    props = dict(PROPERTIES if properties is None else properties)
    existing = existing_objects(client)
    unavailable: dict[str, str] = {}  # name -> why it could not be created
    result = ApplyResult()
    for path in files:
        for stmt in split_statements(path.read_text()):
            target = target_of(stmt)
            name = target[1] if target else None
            outcome = Outcome(path.name, stmt, name, "done")
            result.outcomes.append(outcome)
            missing = sorted(sources_of(stmt) & set(unavailable))
            if name and name in existing:
                outcome.status = "exists"
            elif missing:
                outcome.status = "skipped"
                outcome.message = f"needs {', '.join(missing)}: {unavailable[missing[0]]}"
                unavailable[name or stmt] = f"needs {', '.join(missing)}"
            else:
                try:
                    client.execute(stmt, props)
                except KsqlError as e:
                    message = e.message.split("\nStatement:", 1)[0].strip()
                    if _unsupported(message):
                        outcome.status = "unsupported"
                        outcome.message = f"not supported on this engine: {message}"
                        if name:
                            unavailable[name] = "not supported on this engine"
                        continue
                    outcome.status = "error"
                    outcome.message = message
                    return result
                outcome.status = "created" if name else "done"
                if name:
                    existing.add(name)
    return result


def writers_of(client: Any, name: str) -> list[str]:
    """Ids of the persistent queries that write into ``name``."""
    ids = []
    for entity in client.execute("SHOW QUERIES;"):
        for q in entity.get("queries", []):
            if name in (q.get("sinks") or []):
                ids.append(q["id"])
    return ids


def drop(directory: Path | str = KSQL_DIR, client: Any = None) -> list[str]:
    """Drop what ``directory``'s statements create, last first (their queries end with them)."""
    from streamlab.ksql.client import KsqlClient, KsqlError

    client = client or KsqlClient()
    targets = [
        t for p in sql_files(Path(directory)) for s in split_statements(p.read_text())
        if (t := target_of(s))
    ]  # fmt: skip
    existing = existing_objects(client)
    dropped = []
    for kind, name in reversed(targets):
        if name not in existing:
            continue
        try:
            # ksqlDB refuses to drop a source a persistent query writes: terminate it first.
            for query_id in writers_of(client, name):
                client.execute(f"TERMINATE {query_id};")
            client.execute(f"DROP {kind} IF EXISTS {name};")
        except KsqlError as e:
            raise PipelineError(f"cannot drop {kind.lower()} {name}: {e.message}") from e
        dropped.append(name)
    return dropped


# --- the function ---------------------------------------------------------------------------------


def aws_client(service: str, endpoint: str | None = None, region: str = REGION) -> Any:
    """A boto3 client for ``endpoint``, else for the active profile (the lab's endpoint, or AWS
    itself on the cloud profile: ``streamlab.config.aws_client_kwargs``)."""
    import boto3
    from botocore.config import Config

    from streamlab.config import aws_client_kwargs

    if endpoint:
        kwargs = {"endpoint_url": endpoint, "region_name": region,
                  "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # fmt: skip
    else:
        kwargs = aws_client_kwargs()
    return boto3.client(
        service, config=Config(retries={"total_max_attempts": 2}, read_timeout=120), **kwargs
    )


def function_name() -> str:
    """The function's name on the active profile (``setup.cloud`` records its own)."""
    from streamlab.config import load

    return load().profile_value("function_name") or FUNCTION_NAME


def put_secret(secrets: Any, name: str, value: dict[str, str]) -> str:
    """Create the secret, or store a new version if it exists; returns its ARN."""
    text = json.dumps(value)
    try:
        return secrets.create_secret(
            Name=name, SecretString=text, Description="Kafka and Schema Registry settings"
        )["ARN"]
    except secrets.exceptions.ResourceExistsException:
        return secrets.put_secret_value(SecretId=name, SecretString=text)["ARN"]


def function_secret(bootstrap: str, registry: str) -> dict[str, str]:
    from streamlab.config import kafka_config

    conf = kafka_config()
    secret = {"bootstrap.servers": bootstrap, "schema.registry.url": registry}
    if conf.get("sasl.username"):
        secret.update(
            username=conf["sasl.username"],
            password=conf.get("sasl.password", ""),
            **{"security.protocol": conf.get("security.protocol", "SASL_PLAINTEXT")},
        )
    return secret


def deploy_function(
    lam: Any,
    zip_bytes: bytes,
    bootstrap: str,
    *,
    name: str = FUNCTION_NAME,
    secret_name: str = SECRET_NAME,
    role: str = ROLE,
    batch_size: int = 100,
    variables: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Create or update the function, then its mapping on user_trades if it has none."""
    env = {"Variables": {"SECRET_NAME": secret_name, "DEAD_LETTER_TOPIC": DEAD_LETTER_TOPIC}}
    env["Variables"].update(variables or {})
    try:
        lam.get_function(FunctionName=name)
        lam.update_function_code(FunctionName=name, ZipFile=zip_bytes)
        lam.update_function_configuration(FunctionName=name, Environment=env)
        action = "updated"
    except lam.exceptions.ResourceNotFoundException:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="lambda_fn.handler.handler",
            Code={"ZipFile": zip_bytes},
            Timeout=60,
            MemorySize=512,
            Environment=env,
        )
        action = "created"
    mappings = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    if mappings:
        mapping = mappings[0]
    else:
        mapping = lam.create_event_source_mapping(
            FunctionName=name,
            Topics=[SOURCE_TOPIC],
            # required for self-managed Kafka (the reference app left it out)
            StartingPosition="TRIM_HORIZON",
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}},
            BatchSize=batch_size,
        )
    return {"function": action, "mapping": mapping["UUID"]}


def remove_function(lam: Any, secrets: Any, name: str = FUNCTION_NAME) -> list[str]:
    removed = []
    try:
        for m in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]:
            lam.delete_event_source_mapping(UUID=m["UUID"])
            removed.append(f"mapping {m['UUID']}")
        lam.delete_function(FunctionName=name)
        removed.append(f"function {name}")
    except lam.exceptions.ResourceNotFoundException:
        pass
    try:
        secrets.delete_secret(SecretId=SECRET_NAME, ForceDeleteWithoutRecovery=True)
        removed.append(f"secret {SECRET_NAME}")
    except secrets.exceptions.ResourceNotFoundException:
        pass
    return removed


# --- up / down ------------------------------------------------------------------------------------


def build_zip() -> bytes:
    """lambda_fn's zip for the emulator: its code (``lambda_fn.package``) and its dependencies
    vendored from this project's environment, since an execution environment sees only the zip and
    the runtime (awslambdaric, boto3), as on AWS. Offline, and built for the interpreter the
    emulator runs; for AWS, ``python -m lambda_fn.package`` downloads manylinux wheels instead."""
    import zipfile

    from lambda_fn.package import build, pins
    from streamlab.awslambda.deployment_package import vendor

    with tempfile.TemporaryDirectory() as tmp:
        result = build(Path(tmp) / "lambda.zip", deps=False)
        with zipfile.ZipFile(result.path, "a", zipfile.ZIP_DEFLATED) as zf:
            for name, data in vendor(*(p.partition("==")[0] for p in pins())).items():
                zf.writestr(name, data)
        return result.path.read_bytes()


def up(
    rate: str = "5/s",
    lessons: bool = False,
    seed: int = 0,
    out: Any = print,
) -> dict[str, Any]:
    from streamlab.config import kafka_config, load, registry_url
    from streamlab.datagen.seed import APP_TOPICS, seed_topics
    from streamlab.ksql.client import KsqlClient

    if not load().profile.local:
        raise PipelineError(
            "on the cloud profile `python -m setup.cloud up` deploys the application (connectors, "
            "ksqlDB, the function); `watch`, `counts`, `status` and `apply` work here"
        )
    conf = kafka_config()
    out("1. topics and the USERS table")
    seeded = seed_topics(
        conf,
        users=9,
        rides=50 if lessons else 0,
        logins=100 if lessons else 0,
        seed=seed,
        topics=(*APP_TOPICS, DEAD_LETTER_TOPIC),
    )
    out(f"   created {seeded.created or 'nothing new'}; wrote {seeded.written}")
    out("2. ksql/")
    client = KsqlClient()
    results = [apply(KSQL_DIR, client)]
    if lessons:
        results.append(apply(KSQL_DIR / "lessons", client))
    for r in results:
        for o in r.outcomes:
            out(o.line())
        if not r.ok:
            raise PipelineError("a statement failed (above); nothing deployed")
    if rate not in ("0", "", "none"):
        from streamlab.datagen.background import start_background

        task = start_background("stock_trades", "stocktrade", rate, seed=seed)
        out(f"3. datagen: stock_trades -> stocktrade at {task['rate']} (task {task['name']!r})")
    else:
        out("3. datagen: no background trades (--rate 0)")
    bootstrap = conf["bootstrap.servers"]
    secrets, lam = aws_client("secretsmanager"), aws_client("lambda")
    arn = put_secret(secrets, SECRET_NAME, function_secret(bootstrap, registry_url()))
    out(f"4. secret {SECRET_NAME} ({arn})")
    deployed = deploy_function(lam, build_zip(), bootstrap)
    out(f"5. function {FUNCTION_NAME} {deployed['function']}, mapping {deployed['mapping']}")
    unsupported = [n for r in results for n in r.by_status("unsupported")]
    out("6. watch it:")
    out("   settlements:  python -m streamlab.pipeline watch")
    if unsupported:
        out(
            f"   (this engine cannot read PROTOBUF yet: {', '.join(unsupported)} not created; "
            "the per-disposition tables are skipped)"
        )
        out("   trades per symbol and minute:  python -m streamlab.pipeline counts")
    else:
        out("   per minute, every table:  python -m streamlab.pipeline counts")
        out("   per minute (ksql):  SELECT * FROM COMPLETED_PER_MINUTE EMIT CHANGES;")
    return {"apply": results, "deployed": deployed, "unsupported": unsupported}


def down(out: Any = print, lessons: bool = True) -> None:
    from streamlab.datagen.background import list_background, stop_background

    if any(t.get("name") == "stock_trades" for t in list_background()):
        stop_background("stock_trades")
        out("stopped datagen task stock_trades")
    for what in remove_function(aws_client("lambda"), aws_client("secretsmanager")):
        out(f"removed {what}")
    dropped = []
    if lessons:
        dropped += drop(KSQL_DIR / "lessons")
    dropped += drop(KSQL_DIR)
    out(f"dropped {', '.join(dropped) or 'nothing'} (topics and their data stay: streamlab reset)")


def settlements(
    limit: int | None = None, timeout: float = 30.0, group: str | None = None
) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """Read trade-settlements from the start: (TradeSettlement as a dict, headers)."""
    import time
    import uuid

    from confluent_kafka import Consumer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from google.protobuf.json_format import MessageToDict

    from lambda_fn.proto import TradeSettlement
    from streamlab.config import kafka_config, registry_config

    registry = SchemaRegistryClient(registry_config())
    deserialize = ProtobufDeserializer(TradeSettlement, {"use.deprecated.format": False}, registry)
    consumer = Consumer(
        kafka_config(
            **{
                "group.id": group or f"pipeline-watch-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    consumer.subscribe(["trade-settlements"])
    ctx = SerializationContext("trade-settlements", MessageField.VALUE)
    seen, idle_since = 0, time.monotonic()
    try:
        while limit is None or seen < limit:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                if time.monotonic() - idle_since > timeout:
                    return
                continue
            idle_since = time.monotonic()
            value = MessageToDict(
                deserialize(msg.value(), ctx),
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
            headers = {k: v.decode(errors="replace") for k, v in (msg.headers() or [])}
            seen += 1
            yield value, headers
    finally:
        consumer.close()


#: the application's windowed tables: what `counts` shows
WINDOWED_TABLES = (
    "TRADES_PER_MINUTE",
    "COMPLETED_PER_MINUTE",
    "PENDING_PER_MINUTE",
    "FLAGGED_PER_MINUTE",
    "REJECTED_PER_MINUTE",
)


class TableValues:
    """Decodes the values of a table's topic: JSON, or PROTOBUF in Confluent's wire format
    (magic byte 0, schema id, message indexes, message) with the schema from the registry."""

    def __init__(self, registry: str | None = None) -> None:
        self.registry = registry
        self.client: Any = None
        self.classes: dict[tuple[int, tuple[int, ...]], Any] = {}

    def __call__(self, data: bytes | None) -> dict[str, Any] | None:
        if data is None:
            return None
        if data[:1] != b"\x00":
            return json.loads(data)
        schema_id = int.from_bytes(data[1:5], "big")
        indexes, at = _message_indexes(data, 5)
        message = self._message_class(schema_id, indexes).FromString(data[at:])
        return {f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields}

    def _message_class(self, schema_id: int, indexes: tuple[int, ...]) -> Any:
        found = self.classes.get((schema_id, indexes))
        if found is not None:
            return found
        import base64

        from confluent_kafka.schema_registry import SchemaRegistryClient
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

        if self.client is None:
            from streamlab.config import registry_config

            # the profile's URL and key (Confluent Cloud needs basic auth), or the given URL
            conf = {"url": self.registry} if self.registry else registry_config()
            self.client = SchemaRegistryClient(conf)
        schema = self.client.get_schema(schema_id, fmt="serialized")
        fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(schema.schema_str))
        pool = descriptor_pool.DescriptorPool()
        for dependency in fdp.dependency:  # well-known types (google/protobuf/…)
            known = descriptor_pb2.FileDescriptorProto()
            descriptor_pool.Default().FindFileByName(dependency).CopyToProto(known)
            pool.AddSerializedFile(known.SerializeToString())
        pool.AddSerializedFile(fdp.SerializeToString())
        file = pool.FindFileByName(fdp.name)
        desc = file.message_types_by_name[fdp.message_type[indexes[0]].name]
        for index in indexes[1:]:
            desc = desc.nested_types[index]
        found = self.classes[(schema_id, indexes)] = message_factory.GetMessageClass(desc)
        return found


def _message_indexes(data: bytes, at: int) -> tuple[tuple[int, ...], int]:
    """Confluent's message-index array (zig-zag varints; a lone 0 means the first message)."""

    def varint(at: int) -> tuple[int, int]:
        shift = value = 0
        while True:
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return (value >> 1) ^ -(value & 1), at

    count, at = varint(at)
    if count == 0:
        return (0,), at
    indexes = []
    for _ in range(count):
        index, at = varint(at)
        indexes.append(index)
    return tuple(indexes), at


def table_counts(
    tables: Iterable[str] = WINDOWED_TABLES, timeout: float = 30.0, from_start: bool = True
) -> Iterator[tuple[str, int, str, dict[str, Any] | None]]:
    """Updates of tumbling-window tables, read from their topics (which exist):
    ``(table, window start in epoch ms, key, value)``. Values are JSON or PROTOBUF; a table's
    topic is its changelog, so this works against this lab's engine and real ksqlDB alike."""
    import struct
    import time
    import uuid

    from confluent_kafka import Consumer

    from streamlab.config import kafka_config

    consumer = Consumer(
        kafka_config(
            **{
                "group.id": f"pipeline-counts-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest" if from_start else "latest",
                "enable.auto.commit": False,
            }
        )
    )
    decode = TableValues()
    existing = consumer.list_topics(timeout=10).topics
    topics = [t for t in tables if t in existing]
    idle_since = time.monotonic()
    try:
        if not topics:
            return
        consumer.subscribe(topics)
        while True:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() or msg.key() is None or len(msg.key()) < 8:
                if time.monotonic() - idle_since > timeout:
                    return
                continue
            idle_since = time.monotonic()
            key = msg.key()
            start = struct.unpack(">q", key[-8:])[0]
            yield msg.topic(), start, key[:-8].decode(errors="replace"), decode(msg.value())
    finally:
        consumer.close()


def window_counts(
    table: str = "TRADES_PER_MINUTE", timeout: float = 30.0, from_start: bool = True
) -> Iterator[tuple[int, str, dict[str, Any] | None]]:
    """One windowed table's updates: ``(window start in epoch ms, key, value)``."""
    for _, start, key, value in table_counts([table], timeout, from_start):
        yield start, key, value


def status(out: Any = print) -> None:
    from streamlab.ksql.client import KsqlClient

    names = existing_objects(KsqlClient())
    out("ksql: " + ", ".join(sorted(n for n in names if n != "KSQL_PROCESSING_LOG")))
    lam, name = aws_client("lambda"), function_name()
    try:
        fn = lam.get_function(FunctionName=name)["Configuration"]
        out(f"function {name}: {fn.get('State', 'Active')}")
        for m in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]:
            out(f"mapping {m['UUID']}: {m.get('State')} on {m.get('Topics')}")
    except lam.exceptions.ResourceNotFoundException:
        out(f"function {name}: not deployed")


# --- command line ---------------------------------------------------------------------------------


def _print_apply(results: Iterable[ApplyResult]) -> int:
    code = 0
    for r in results:
        for o in r.outcomes:
            print(o.line())
        unsupported = r.by_status("unsupported")
        if unsupported:
            print(f"note: not supported on this engine, not created: {', '.join(unsupported)}")
        if not r.ok:
            code = 1
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamlab.pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_apply = sub.add_parser("apply", help="run a folder of ksql statements in order")
    p_apply.add_argument("directory", nargs="?", type=Path, default=KSQL_DIR)
    p_apply.add_argument("--url", help="ksqlDB server (default: the lab's)")
    p_up = sub.add_parser("up", help="seed, apply ksql/, deploy the function")
    p_up.add_argument("--rate", default="5/s", help="background trades (0: none)")
    p_up.add_argument("--lessons", action="store_true", help="also apply ksql/lessons/")
    p_up.add_argument("--seed", type=int, default=0)
    sub.add_parser("down", help="remove the function, mapping, secret, streams and tables")
    sub.add_parser("status", help="what exists")
    p_watch = sub.add_parser("watch", help="print settlements as they arrive")
    p_watch.add_argument("-n", type=int, default=None)
    p_counts = sub.add_parser("counts", help="print the per-minute counts as they change")
    p_counts.add_argument(
        "--table", action="append", help="a windowed table (repeatable; default: all five)"
    )
    args = parser.parse_args(argv)
    from streamlab.ksql.client import KsqlClient, KsqlError

    try:
        if args.command == "apply":
            return _print_apply([apply(args.directory, KsqlClient(args.url))])
        if args.command == "up":
            up(args.rate, args.lessons, args.seed)
        elif args.command == "down":
            down()
        elif args.command == "status":
            status()
        elif args.command == "watch":
            for value, headers in settlements(limit=args.n, timeout=3600):
                print(json.dumps(value), headers.get("source", ""))
        elif args.command == "counts":
            import datetime as dt

            for table, start, key, value in table_counts(args.table or WINDOWED_TABLES, 3600):
                when = dt.datetime.fromtimestamp(start / 1000, dt.UTC).strftime("%H:%M")
                print(f"{when}  {table:<21} {key:<8} {json.dumps(value)}", flush=True)
    except (PipelineError, KsqlError, OSError) as e:
        print(f"pipeline: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
