"""The Lambda service's state and rules: functions, event source mappings, invoke.

:class:`LambdaBackend` exposes the API's operations under the API's names (``create_function``,
``update_function_code``, ``invoke``, ``create_event_source_mapping``...); the resources are
:class:`LambdaFunction` and :class:`EventSourceMapping`. Models raise the errors of
:mod:`streamlab.awslambda.exceptions`; :mod:`streamlab.awslambda.responses` only reads requests and
shapes replies.

Transitional states are declared (:class:`ManagedState`) and settle on demand, as moto's managed
states do: the reply of the call that starts a transition shows the transitional state
(``Pending``, ``InProgress``, ``Creating``...), and the next read shows where it settles
(``Active``, ``Successful``, ``Enabled``...), unless ``settle_seconds`` asks it to take longer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from streamlab.awslambda import exceptions as exc
from streamlab.awslambda import layers as ly
from streamlab.awslambda import logs as lg
from streamlab.awslambda.environments import (
    ConcurrencyLimiter,
    EnvironmentPool,
    FunctionSpec,
    HostSettings,
    Invocation,
    InvocationResult,
    Throttled,
)
from streamlab.awslambda.metrics import FunctionMetrics
from streamlab.awslambda.packages import MAX_UNZIPPED, extract
from streamlab.awslambda.utils import (
    code_sha256,
    function_arn,
    last_modified,
    mapping_arn,
    page,
    request_id,
    revision_id,
    split_function_name,
)

log = logging.getLogger(__name__)

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # 6,291,456 bytes
MAX_ASYNC_PAYLOAD = 1024 * 1024  # 1 MB since 2025 (was 256 KB)
MAX_ZIP_REQUEST = 69_905_067  # the base64 request limit AWS quotes for direct uploads
MAX_ENV_BYTES = 4096
UNRESERVED_MINIMUM = 100
ASYNC_RETRY_DELAYS = (60.0, 120.0)  # Lambda retries a failed async event twice: ~1 min, ~2 min

FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
DEPRECATED_RUNTIMES = {"python2.7", "python3.6", "python3.7", "python3.8"}
LATEST_PYTHON = "python3.13"


def _runtime_enum() -> list[str]:
    """The Runtime enum of the API model (botocore ships it), for ValidationException's text."""
    try:
        import botocore.loaders

        model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
        return list(model["shapes"]["Runtime"]["enum"])
    except Exception:
        return [f"python3.{n}" for n in range(9, 15)]


_RUNTIMES: list[str] | None = None


def runtimes() -> list[str]:
    global _RUNTIMES
    if _RUNTIMES is None:
        _RUNTIMES = _runtime_enum()
    return _RUNTIMES


# --- declared lifecycles --------------------------------------------------------------------


class ManagedState:
    """A status with declared transitions. ``TRANSITIONAL`` maps each transitional status to the
    statuses it may settle into; ``ALLOWED`` lists every legal move."""

    ALLOWED: ClassVar[dict[str, frozenset[str]]] = {}
    TRANSITIONAL: ClassVar[frozenset[str]] = frozenset()
    settle_seconds: ClassVar[float] = 0.0

    def __init__(self, status: str, settles_to: str | None = None) -> None:
        self.status = status
        self.settles_to = settles_to
        self.since = time.monotonic()
        self.shown = False

    def move(self, status: str, settles_to: str | None = None) -> None:
        current = self.current()
        if status not in self.ALLOWED.get(current, frozenset()):
            raise exc.ResourceConflictException(
                f"Cannot move from {current} to {status}"  # internal: a bug if ever seen
            )
        if status in self.TRANSITIONAL and settles_to is None:
            raise ValueError(f"{status} needs the status it settles to")
        self.status, self.settles_to = status, settles_to
        self.since = time.monotonic()
        self.shown = False

    def current(self) -> str:
        if (
            self.settles_to is not None
            and self.shown
            and time.monotonic() - self.since >= self.settle_seconds
        ):
            self.status, self.settles_to = self.settles_to, None
        return self.status

    def show(self) -> str:
        """The status for a reply; a transitional one settles after it has been shown."""
        status = self.current()
        self.shown = True
        return status


class FunctionState(ManagedState):
    ALLOWED = {
        "Pending": frozenset({"Active", "Failed"}),
        "Active": frozenset({"Active"}),
        "Failed": frozenset(),
    }
    TRANSITIONAL = frozenset({"Pending"})


class UpdateStatus(ManagedState):
    ALLOWED = {
        "InProgress": frozenset({"Successful", "Failed"}),
        "Successful": frozenset({"InProgress"}),
        "Failed": frozenset({"InProgress"}),
    }
    TRANSITIONAL = frozenset({"InProgress"})


class MappingState(ManagedState):
    ALLOWED = {
        "Creating": frozenset({"Enabled", "Disabled"}),
        "Enabling": frozenset({"Enabled"}),
        "Enabled": frozenset({"Updating", "Disabling", "Deleting"}),
        "Disabling": frozenset({"Disabled"}),
        "Disabled": frozenset({"Updating", "Enabling", "Deleting"}),
        "Updating": frozenset({"Enabled", "Disabled"}),
        "Deleting": frozenset(),
    }
    TRANSITIONAL = frozenset({"Creating", "Enabling", "Disabling", "Updating", "Deleting"})


# --- validation helpers (AWS's ValidationException wording) ----------------------------------


def _check_range(value: Any, member: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise exc.ValidationException(value, member, "Member must be an integer")
    if value < lo:
        raise exc.ValidationException(
            value, member, f"Member must have value greater than or equal to {lo}"
        )
    if value > hi:
        raise exc.ValidationException(
            value, member, f"Member must have value less than or equal to {hi}"
        )
    return value


def _check_pattern(value: Any, member: str, pattern: str, max_len: int | None = None) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise exc.ValidationException(
            value, member, f"Member must satisfy regular expression pattern: {pattern}"
        )
    if max_len is not None and len(value) > max_len:
        raise exc.ValidationException(
            value, member, f"Member must have length less than or equal to {max_len}"
        )
    return value


def _check_enum(value: Any, member: str, allowed: list[str]) -> str:
    if value not in allowed:
        raise exc.ValidationException(
            value, member, f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return value


# --- code ------------------------------------------------------------------------------------


@dataclass
class Code:
    sha256: str  # base64, as CodeSha256
    size: int
    zip_path: str
    code_dir: str


def _zip_bytes(zip_file: Any) -> bytes:
    """ZipFile arrives base64-encoded in the JSON body (botocore encodes blobs)."""
    if isinstance(zip_file, bytes):
        return zip_file
    try:
        return base64.b64decode(zip_file, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise exc.bad_zip() from None


# --- resources -----------------------------------------------------------------------------


@dataclass
class LambdaFunction:
    name: str
    region: str
    runtime: str
    handler: str
    role: str
    code: Code
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    variables: dict[str, str] | None = None
    architectures: list[str] = field(default_factory=lambda: ["x86_64"])
    ephemeral_storage: int = 512
    tracing_mode: str = "PassThrough"
    logging_config: dict[str, str] = field(default_factory=dict)
    dead_letter_config: dict[str, Any] | None = None
    vpc_config: dict[str, Any] | None = None
    layers: list[ly.LayerRef] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    last_modified: str = field(default_factory=last_modified)
    revision_id: str = field(default_factory=revision_id)
    state: FunctionState = field(default_factory=lambda: FunctionState("Pending", "Active"))
    update_status: UpdateStatus = field(default_factory=lambda: UpdateStatus("Successful"))

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.name)

    @property
    def log_group(self) -> str:
        return self.logging_config.get("LogGroup") or lg.group_name(self.name)

    def spec(self) -> FunctionSpec:
        return FunctionSpec(
            name=self.name,
            arn=self.arn,
            runtime=self.runtime,
            handler=self.handler,
            code_dir=self.code.code_dir,
            timeout=float(self.timeout),
            memory_mb=self.memory_size,
            region=self.region,
            revision=self.revision_id,
            variables=dict(self.variables or {}),
            log_group=self.log_group,
            log_format=self.logging_config.get("LogFormat", "Text"),
            application_log_level=self.logging_config.get("ApplicationLogLevel"),
            layer_zips=self.layer_zips(),
            opt_dir=self.opt_dir() if self.layer_zips() else "",
        )

    def layer_zips(self) -> tuple[str, ...]:
        # a reference loaded from state written before layers were mounted has no zip
        return tuple(r.zip_path for r in self.layers if r.zip_path)

    def opt_dir(self) -> str:
        """The merged layers' directory, next to the function's code revisions."""
        return ly.opt_dir(os.path.dirname(os.path.dirname(self.code.code_dir)), self.layers)

    def touch(self) -> None:
        self.last_modified = last_modified()
        self.revision_id = revision_id()

    def configuration(self) -> dict[str, Any]:
        state = self.state.show()
        update = self.update_status.show()
        cfg: dict[str, Any] = {
            "FunctionName": self.name,
            "FunctionArn": self.arn,
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code.size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code.sha256,
            "Version": "$LATEST",
            "TracingConfig": {"Mode": self.tracing_mode},
            "RevisionId": self.revision_id,
            "State": state,
            "LastUpdateStatus": update,
            "PackageType": "Zip",
            "Architectures": list(self.architectures),
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "RuntimeVersionConfig": {
                "RuntimeVersionArn": lg.init_start_line(self.runtime, self.region).split(
                    "Runtime Version ARN: "
                )[1]
            },
            "LoggingConfig": {
                "LogFormat": self.logging_config.get("LogFormat", "Text"),
                "LogGroup": self.log_group,
                **{
                    k: v
                    for k, v in self.logging_config.items()
                    if k in ("ApplicationLogLevel", "SystemLogLevel")
                },
            },
        }
        if state == "Pending":
            cfg["StateReason"] = "The function is being created."
            cfg["StateReasonCode"] = "Creating"
        if update == "InProgress":
            cfg["LastUpdateStatusReason"] = "The function is being created."
            cfg["LastUpdateStatusReasonCode"] = "Creating"
        if self.variables is not None:
            cfg["Environment"] = {"Variables": dict(self.variables)}
        if self.dead_letter_config:
            cfg["DeadLetterConfig"] = self.dead_letter_config
        if self.vpc_config:
            cfg["VpcConfig"] = {
                "SubnetIds": self.vpc_config.get("SubnetIds", []),
                "SecurityGroupIds": self.vpc_config.get("SecurityGroupIds", []),
                "VpcId": "",
            }
        if self.layers:
            cfg["Layers"] = [{"Arn": r.arn, "CodeSize": r.code_size} for r in self.layers]
        return cfg

    def to_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "region": self.region,
            "runtime": self.runtime,
            "handler": self.handler,
            "role": self.role,
            "code": vars(self.code),
            "description": self.description,
            "timeout": self.timeout,
            "memory_size": self.memory_size,
            "variables": self.variables,
            "architectures": self.architectures,
            "ephemeral_storage": self.ephemeral_storage,
            "tracing_mode": self.tracing_mode,
            "logging_config": self.logging_config,
            "dead_letter_config": self.dead_letter_config,
            "vpc_config": self.vpc_config,
            "layers": [vars(r) for r in self.layers],
            "tags": self.tags,
            "reserved_concurrency": self.reserved_concurrency,
            "last_modified": self.last_modified,
            "revision_id": self.revision_id,
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> LambdaFunction:
        d = dict(d)
        d["code"] = Code(**d["code"])
        d["layers"] = [ly.LayerRef.from_state(r) for r in d.get("layers") or []]
        fn = cls(**d)
        fn.state = FunctionState("Active")
        return fn


class MappingRunner(Protocol):
    """What runs a mapping (the Kafka poller). The backend starts, updates and stops it."""

    async def start(self) -> None: ...

    async def reconfigure(self) -> None: ...

    async def stop(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass
class EventSourceMapping:
    uuid: str
    region: str
    function_name: str
    config: dict[str, Any]  # the request's members as AWS echoes them
    state: MappingState = field(default_factory=lambda: MappingState("Creating", "Enabled"))
    last_modified: float = field(default_factory=time.time)
    last_processing_result: str = "No records processed"
    state_transition_reason: str = "USER_INITIATED"
    runner: MappingRunner | None = None

    @property
    def arn(self) -> str:
        return mapping_arn(self.region, self.uuid)

    @property
    def function_arn(self) -> str:
        return function_arn(self.region, self.function_name)

    @property
    def enabled(self) -> bool:
        return self.state.current() in ("Enabled", "Enabling", "Creating", "Updating") and (
            self.config.get("Enabled", True) is not False
        )

    @property
    def topic(self) -> str:
        return self.config["Topics"][0]

    @property
    def bootstrap_servers(self) -> list[str]:
        source = self.config.get("SelfManagedEventSource") or {}
        return list((source.get("Endpoints") or {}).get("KAFKA_BOOTSTRAP_SERVERS", []))

    @property
    def is_msk(self) -> bool:
        return "EventSourceArn" in self.config

    @property
    def consumer_group_id(self) -> str:
        key = (
            "AmazonManagedKafkaEventSourceConfig"
            if self.is_msk
            else "SelfManagedKafkaEventSourceConfig"
        )
        return (self.config.get(key) or {}).get("ConsumerGroupId") or self.uuid

    def configuration(self) -> dict[str, Any]:
        cfg = {k: v for k, v in self.config.items() if k not in ("FunctionName", "Enabled", "Tags")}
        cfg.update(
            {
                "UUID": self.uuid,
                "FunctionArn": self.function_arn,
                "LastModified": self.last_modified,
                "LastProcessingResult": self.last_processing_result,
                "State": self.state.show(),
                "StateTransitionReason": self.state_transition_reason,
                "EventSourceMappingArn": self.arn,
            }
        )
        return cfg

    def to_state(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "region": self.region,
            "function_name": self.function_name,
            "config": self.config,
            "state": self.state.current(),
            "last_modified": self.last_modified,
        }


@dataclass
class InvokeResponse:
    status: int
    payload: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class BackendSettings:
    data_dir: str
    idle_timeout: float = 300.0  # seconds an environment stays frozen before it is recycled
    async_retry_delays: tuple[float, ...] = ASYNC_RETRY_DELAYS
    code_url: str = ""  # where GetFunction's Code.Location points (the endpoint)
    esm_scale_interval: float = 60.0  # seconds between a Kafka mapping's lag checks
    esm_time_scale: float = 1.0  # >1: the mapping's scaler runs that many times faster


S3Getter = Callable[[str, str, str | None], Awaitable[bytes]]
SecretGetter = Callable[[str, str], Awaitable[str]]
RunnerFactory = Callable[["LambdaBackend", EventSourceMapping], MappingRunner | None]


class LambdaBackend:
    """Lambda in one region."""

    def __init__(
        self,
        region: str,
        settings: BackendSettings,
        host: HostSettings,
        limiter: ConcurrencyLimiter,
        s3_get: S3Getter | None = None,
        runner_factory: RunnerFactory | None = None,
        secret_get: SecretGetter | None = None,
    ) -> None:
        self.region = region
        self.secret_get = secret_get
        self.settings = settings
        self.host = host
        self.limiter = limiter
        self.s3_get = s3_get
        self.runner_factory = runner_factory
        self.functions: dict[str, LambdaFunction] = {}
        self.mappings: dict[str, EventSourceMapping] = {}
        self.pools: dict[str, EnvironmentPool] = {}
        self.metrics: dict[str, FunctionMetrics] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.code_root = os.path.join(settings.data_dir, "functions", region)
        self.state_file = os.path.join(settings.data_dir, f"lambda-{region}.json")
        self.layers = ly.LayerStore(region, settings.data_dir)

    # --- persistence ------------------------------------------------------------------------

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        state = {
            "functions": [f.to_state() for f in self.functions.values()],
            "mappings": [m.to_state() for m in self.mappings.values()],
        }
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_file)

    async def load(self) -> None:
        self.layers.load()
        if not os.path.exists(self.state_file):
            return
        with open(self.state_file) as f:
            state = json.load(f)
        for d in state.get("functions", []):
            fn = LambdaFunction.from_state(d)
            if os.path.isdir(fn.code.code_dir):
                self.functions[fn.name] = fn
                if fn.reserved_concurrency is not None:
                    self.limiter.reserved[fn.name] = fn.reserved_concurrency
        for d in state.get("mappings", []):
            m = EventSourceMapping(
                uuid=d["uuid"],
                region=d["region"],
                function_name=d["function_name"],
                config=d["config"],
                state=MappingState(d.get("state", "Enabled")),
                last_modified=d.get("last_modified", time.time()),
            )
            self.mappings[m.uuid] = m
            await self._start_runner(m)

    # --- helpers ----------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _resolve(self, name_or_arn: str, qualifier: str | None = None) -> LambdaFunction:
        parsed = split_function_name(name_or_arn)
        if parsed is None:
            _check_pattern(name_or_arn, "functionName", FUNCTION_NAME_PATTERN)
            raise exc.function_not_found(function_arn(self.region, name_or_arn))
        name, arn_qualifier = parsed
        qualifier = qualifier or arn_qualifier
        fn = self.functions.get(name)
        if fn is None or qualifier not in (None, "$LATEST"):
            raise exc.function_not_found(function_arn(self.region, name, qualifier))
        return fn

    def pool(self, fn: LambdaFunction) -> EnvironmentPool:
        pool = self.pools.get(fn.name)
        if pool is None:
            pool = EnvironmentPool(fn.name, self.host, self.limiter, self.function_metrics(fn.name))
            self.pools[fn.name] = pool
        return pool

    def function_metrics(self, name: str) -> FunctionMetrics:
        return self.metrics.setdefault(name, FunctionMetrics())

    async def _package(self, zip_file: Any, s3: dict[str, Any], operation: str) -> bytes:
        """A .zip from the request (ZipFile) or from S3 (S3Bucket, S3Key, S3ObjectVersion)."""
        if zip_file is not None:
            data = _zip_bytes(zip_file)
        elif s3.get("S3Bucket") and s3.get("S3Key"):
            if self.s3_get is None:
                raise exc.InvalidParameterValueException("S3 code locations are not available")
            data = await self.s3_get(s3["S3Bucket"], s3["S3Key"], s3.get("S3ObjectVersion"))
        else:
            raise exc.InvalidParameterValueException(
                "Please provide a source for function code."  # unverified wording
            )
        if len(data) > MAX_ZIP_REQUEST:
            raise exc.RequestEntityTooLargeException(
                f"Request must be smaller than {MAX_ZIP_REQUEST} bytes for the {operation} "
                "operation"
            )
        return data

    async def _store_code(self, name: str, zip_file: Any, s3: dict[str, Any]) -> Code:
        data = await self._package(zip_file, s3, "CreateFunction")
        sha = code_sha256(data)
        key = base64.urlsafe_b64encode(base64.b64decode(sha)).decode().rstrip("=")[:22]
        folder = os.path.join(self.code_root, name, f"{int(time.time() * 1000)}-{key}")
        code_dir = os.path.join(folder, "task")
        os.makedirs(code_dir, exist_ok=True)
        try:
            await asyncio.to_thread(extract, data, code_dir)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        zip_path = os.path.join(folder, "code.zip")
        with open(zip_path, "wb") as f:
            f.write(data)
        return Code(sha256=sha, size=len(data), zip_path=zip_path, code_dir=code_dir)

    def _validate_config(self, p: dict[str, Any], creating: bool) -> None:
        if "Runtime" in p and p["Runtime"] is not None:
            runtime = p["Runtime"]
            _check_enum(runtime, "runtime", runtimes())
            if runtime in DEPRECATED_RUNTIMES:
                raise exc.InvalidParameterValueException(
                    f"The runtime parameter of {runtime} is no longer supported for creating or "
                    "updating AWS Lambda functions. We recommend you use the new runtime "
                    f"({LATEST_PYTHON}) while creating or updating functions."
                )
            if not runtime.startswith("python3"):
                raise exc.InvalidParameterValueException(
                    f"The runtime parameter of {runtime} is not supported by this emulator, "
                    "which runs Python functions (python3.x) only."
                )
        if "Handler" in p and p["Handler"] is not None:
            _check_pattern(p["Handler"], "handler", r"[^\s]+", 128)
        if "Role" in p and p["Role"] is not None:
            _check_pattern(p["Role"], "role", ROLE_PATTERN)
        if p.get("Timeout") is not None:
            _check_range(p["Timeout"], "timeout", 1, 900)
        if p.get("MemorySize") is not None:
            _check_range(p["MemorySize"], "memorySize", 128, 10240)
        if p.get("Description") is not None and len(p["Description"]) > 256:
            raise exc.ValidationException(
                p["Description"], "description", "Member must have length less than or equal to 256"
            )
        storage = (p.get("EphemeralStorage") or {}).get("Size")
        if storage is not None:
            _check_range(storage, "ephemeralStorage.size", 512, 10240)
        if p.get("PackageType", "Zip") != "Zip":
            raise exc.InvalidParameterValueException(
                "This emulator runs .zip deployment packages only (PackageType Zip)."
            )
        variables = (p.get("Environment") or {}).get("Variables")
        if variables is not None:
            reserved = sorted(k for k in variables if k in RESERVED_VARIABLES)
            if reserved:
                raise exc.InvalidParameterValueException(
                    "Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided contains reserved keys that are "
                    f"currently not supported for modification. Reserved keys used in this "
                    f"request: {', '.join(reserved)}"
                )
            measured = json.dumps(variables, separators=(",", ":"))
            if len(measured.encode()) > MAX_ENV_BYTES:
                raise exc.InvalidParameterValueException(
                    "Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided exceeded the 4KB limit. String "
                    f"measured: {measured}"
                )
            for k, v in variables.items():
                if not re.fullmatch(r"[a-zA-Z]([a-zA-Z0-9_])+", k):
                    raise exc.ValidationException(
                        k,
                        "environment.variables",
                        "Map keys must satisfy constraint: [Member must satisfy regular "
                        "expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
                    )
                if not isinstance(v, str):
                    raise exc.InvalidParameterValueException(
                        f"Environment variable {k} must be a string"
                    )
        log_format = (p.get("LoggingConfig") or {}).get("LogFormat")
        if log_format is not None:
            _check_enum(log_format, "loggingConfig.logFormat", ["JSON", "Text"])

    # --- functions ----------------------------------------------------------------------------

    async def create_function(self, p: dict[str, Any]) -> LambdaFunction:
        name = p.get("FunctionName")
        _check_pattern(name, "functionName", FUNCTION_NAME_PATTERN)
        parsed = split_function_name(name)
        assert parsed is not None
        name = parsed[0]
        if len(name) > 64:
            raise exc.ValidationException(
                name, "functionName", "Member must have length less than or equal to 64"
            )
        if not p.get("Role"):
            raise exc.ValidationException(None, "role", "Member must not be null")
        self._validate_config(p, creating=True)
        code = p.get("Code") or {}
        if code.get("ImageUri"):
            raise exc.InvalidParameterValueException(
                "This emulator runs .zip deployment packages only (PackageType Zip)."
            )
        if not p.get("Runtime") or not p.get("Handler"):
            raise exc.runtime_and_handler_required()
        if name in self.functions:
            raise exc.function_already_exists(name)
        layer_refs = self.layers.resolve(p["Layers"]) if p.get("Layers") is not None else []
        stored = await self._store_code(name, code.get("ZipFile"), code)
        if name in self.functions:  # created while the code was being stored
            raise exc.function_already_exists(name)
        fn = LambdaFunction(
            name=name,
            region=self.region,
            runtime=p["Runtime"],
            handler=p["Handler"],
            role=p["Role"],
            code=stored,
            description=p.get("Description", ""),
            timeout=p.get("Timeout", 3),
            memory_size=p.get("MemorySize", 128),
            variables=(p.get("Environment") or {}).get("Variables"),
            architectures=p.get("Architectures") or ["x86_64"],
            ephemeral_storage=(p.get("EphemeralStorage") or {}).get("Size", 512),
            tracing_mode=(p.get("TracingConfig") or {}).get("Mode", "PassThrough"),
            logging_config=dict(p.get("LoggingConfig") or {}),
            dead_letter_config=p.get("DeadLetterConfig"),
            vpc_config=p.get("VpcConfig"),
            layers=layer_refs,
            tags=dict(p.get("Tags") or {}),
        )
        self.functions[name] = fn
        self.save()
        return fn

    def get_function(self, name: str, qualifier: str | None = None) -> LambdaFunction:
        return self._resolve(name, qualifier)

    def code_location(self, fn: LambdaFunction) -> str:
        return f"{self.settings.code_url}/_streamlab/lambda/code/{self.region}/{fn.name}.zip"

    def list_functions(
        self, marker: str | None, max_items: int | None
    ) -> tuple[list[LambdaFunction], str | None]:
        names, next_marker = page(sorted(self.functions), marker, min(max_items or 50, 50))
        return [self.functions[n] for n in names], next_marker

    def _check_revision(self, fn: LambdaFunction, revision: str | None) -> None:
        if revision is not None and revision != fn.revision_id:
            raise exc.PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            )

    def _check_updatable(self, fn: LambdaFunction) -> None:
        if fn.update_status.current() == "InProgress":
            raise exc.update_in_progress(fn.arn)

    async def update_function_code(self, name: str, p: dict[str, Any]) -> LambdaFunction:
        fn = self._resolve(name)
        self._check_revision(fn, p.get("RevisionId"))
        self._check_updatable(fn)
        if p.get("ImageUri"):
            raise exc.InvalidParameterValueException(
                "This emulator runs .zip deployment packages only (PackageType Zip)."
            )
        if p.get("DryRun"):
            return fn
        code = await self._store_code(fn.name, p.get("ZipFile"), p)
        old = fn.code
        fn.code = code
        if p.get("Architectures"):
            fn.architectures = list(p["Architectures"])
        self._updated(fn, old)
        return fn

    async def update_function_configuration(self, name: str, p: dict[str, Any]) -> LambdaFunction:
        fn = self._resolve(name)
        self._check_revision(fn, p.get("RevisionId"))
        self._check_updatable(fn)
        self._validate_config(p, creating=False)
        layer_refs = self.layers.resolve(p["Layers"]) if p.get("Layers") is not None else None
        simple = {
            "Runtime": "runtime",
            "Handler": "handler",
            "Role": "role",
            "Description": "description",
            "Timeout": "timeout",
            "MemorySize": "memory_size",
            "DeadLetterConfig": "dead_letter_config",
            "VpcConfig": "vpc_config",
        }
        for key, attr in simple.items():
            if p.get(key) is not None:
                setattr(fn, attr, p[key])
        if "Environment" in p:
            fn.variables = (p["Environment"] or {}).get("Variables") or {}
        if p.get("EphemeralStorage"):
            fn.ephemeral_storage = p["EphemeralStorage"]["Size"]
        if p.get("TracingConfig"):
            fn.tracing_mode = p["TracingConfig"].get("Mode", fn.tracing_mode)
        if p.get("LoggingConfig"):
            fn.logging_config.update(p["LoggingConfig"])
        if layer_refs is not None:
            old_layers, fn.layers = fn.layers, layer_refs
            self._release_layers(old_layers)
        self._updated(fn, None)
        return fn

    def _updated(self, fn: LambdaFunction, old_code: Code | None) -> None:
        fn.touch()
        fn.update_status.move("InProgress", "Successful")
        self.save()
        pool = self.pools.get(fn.name)
        if pool is not None:
            self._spawn(pool.recycle())
        if old_code is not None:
            self._spawn(self._remove_code_later(fn.name, old_code))

    async def _remove_code_later(self, name: str, code: Code) -> None:
        """Delete a replaced revision's files once no environment runs it."""
        while True:
            pool = self.pools.get(name)
            if pool is None or all(e.spec.code_dir != code.code_dir for e in pool.envs.values()):
                break
            await asyncio.sleep(1.0)
        shutil.rmtree(os.path.dirname(code.code_dir), ignore_errors=True)

    async def delete_function(self, name: str, qualifier: str | None = None) -> None:
        fn = self._resolve(name, qualifier)
        del self.functions[fn.name]
        self.limiter.reserved.pop(fn.name, None)
        self.save()
        pool = self.pools.pop(fn.name, None)
        if pool is not None:
            await pool.close()
        shutil.rmtree(os.path.join(self.code_root, fn.name), ignore_errors=True)
        self._release_layers(fn.layers)

    # --- layers -------------------------------------------------------------------------------

    async def publish_layer_version(self, name: str, p: dict[str, Any]) -> ly.LayerVersion:
        self.layers.name_of(name)
        content = p.get("Content")
        if not isinstance(content, dict):
            raise exc.ValidationException(None, "content", "Member must not be null")
        if p.get("Description") is not None and len(p["Description"]) > 256:
            raise exc.ValidationException(
                p["Description"], "description", "Member must have length less than or equal to 256"
            )
        for runtime in p.get("CompatibleRuntimes") or []:
            _check_enum(runtime, "compatibleRuntimes.member", runtimes())
        for arch in p.get("CompatibleArchitectures") or []:
            _check_enum(arch, "compatibleArchitectures.member", ["x86_64", "arm64"])
        data = await self._package(content.get("ZipFile"), content, "PublishLayerVersion")
        return await asyncio.to_thread(self.layers.publish, name, data, p)

    def layer_location(self, lv: ly.LayerVersion) -> str:
        return (
            f"{self.settings.code_url}/_streamlab/lambda/layers/{self.region}/{lv.name}/"
            f"{lv.version}.zip"
        )

    def _layer_filters(self, runtime: str | None, architecture: str | None) -> None:
        if runtime is not None:
            _check_enum(runtime, "compatibleRuntime", runtimes())
        if architecture is not None:
            _check_enum(architecture, "compatibleArchitecture", ["x86_64", "arm64"])

    def list_layers(
        self,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> tuple[list[ly.LayerVersion], str | None]:
        self._layer_filters(runtime, architecture)
        return ly.page(self.layers.list_layers(runtime, architecture), marker, max_items)

    def list_layer_versions(
        self,
        name: str,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> tuple[list[ly.LayerVersion], str | None]:
        self._layer_filters(runtime, architecture)
        found = self.layers.list_versions(name, runtime, architecture)
        return ly.page(found, marker, max_items)

    def delete_layer_version(self, name: str, version: Any) -> None:
        try:
            arn = self.layers.get(name, version).arn
        except exc.ResourceNotFoundException:
            arn = None
        in_use = arn is not None and any(
            r.arn == arn for fn in self.functions.values() for r in fn.layers
        )
        self.layers.delete(name, version, in_use=in_use)

    def _release_layers(self, refs: list[ly.LayerRef]) -> None:
        """Remove the kept copies of deleted layer versions no function refers to any more."""
        live = {v.zip_path for vs in self.layers.versions.values() for v in vs.values()}
        used = {r.zip_path for fn in self.functions.values() for r in fn.layers}
        for r in refs:
            if r.zip_path and r.zip_path not in live and r.zip_path not in used:
                with contextlib.suppress(OSError):
                    os.remove(r.zip_path)

    # --- concurrency, tags, account ----------------------------------------------------------

    def put_function_concurrency(self, name: str, reserved: Any) -> int:
        fn = self._resolve(name)
        _check_range(reserved, "reservedConcurrentExecutions", 0, 10**9)
        others = sum(n for f, n in self.limiter.reserved.items() if f != fn.name)
        if self.limiter.account_limit - others - reserved < UNRESERVED_MINIMUM:
            raise exc.InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]."
            )
        fn.reserved_concurrency = reserved
        self.limiter.reserved[fn.name] = reserved
        self.save()
        return reserved

    def get_function_concurrency(self, name: str) -> int | None:
        return self._resolve(name).reserved_concurrency

    def delete_function_concurrency(self, name: str) -> None:
        fn = self._resolve(name)
        fn.reserved_concurrency = None
        self.limiter.reserved.pop(fn.name, None)
        self.save()

    def account_settings(self) -> dict[str, Any]:
        total = sum(f.code.size for f in self.functions.values())
        return {
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800,
                "CodeSizeUnzipped": MAX_UNZIPPED,
                "CodeSizeZipped": 52_428_800,
                "ConcurrentExecutions": self.limiter.account_limit,
                "UnreservedConcurrentExecutions": self.limiter.unreserved_limit(),
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(self.functions)},
        }

    def _tag_target(self, arn: str) -> LambdaFunction | EventSourceMapping:
        if ":event-source-mapping:" in arn:
            m = self.mappings.get(arn.rsplit(":", 1)[1])
            if m is None:
                raise exc.mapping_not_found()
            return m
        return self._resolve(arn)

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        target = self._tag_target(arn)
        if isinstance(target, LambdaFunction):
            target.tags.update(tags)
        else:
            target.config.setdefault("Tags", {}).update(tags)
        self.save()

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        target = self._tag_target(arn)
        tags = target.tags if isinstance(target, LambdaFunction) else target.config.get("Tags", {})
        for k in keys:
            tags.pop(k, None)
        self.save()

    def list_tags(self, arn: str) -> dict[str, str]:
        target = self._tag_target(arn)
        if isinstance(target, LambdaFunction):
            return dict(target.tags)
        return dict(target.config.get("Tags", {}))

    # --- invoke -------------------------------------------------------------------------------

    async def invoke(
        self,
        name: str,
        qualifier: str | None,
        payload: bytes,
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        client_context: str | None = None,
    ) -> InvokeResponse:
        fn = self._resolve(name, qualifier)
        _check_enum(invocation_type, "invocationType", ["Event", "RequestResponse", "DryRun"])
        _check_enum(log_type, "logType", ["None", "Tail"])
        state = fn.state.current()
        if state != "Active":
            raise exc.function_not_active(state)
        limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
        if len(payload) > limit:
            raise exc.RequestTooLargeException(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        if not payload.strip():
            payload = b"{}"
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as e:
            raise exc.InvalidRequestContentException(
                f"Could not parse request body into json: Could not parse payload into json: {e}"
            ) from None
        context = None
        if client_context:
            try:
                context = base64.b64decode(client_context).decode()
                json.loads(context)
            except (ValueError, UnicodeDecodeError, binascii.Error):
                raise exc.InvalidRequestContentException(
                    "Client context must be a valid Base64-encoded JSON object."
                ) from None
        rid = request_id()
        headers = {"X-Amzn-RequestId": rid}
        if invocation_type == "DryRun":
            return InvokeResponse(204, b"", headers)
        inv = Invocation(rid, payload, fn.arn, float(fn.timeout), client_context=context)
        if invocation_type == "Event":
            self._spawn(self._invoke_async(fn, inv))
            return InvokeResponse(202, b"", headers)
        try:
            result = await self.run(fn, inv, wait=False)
        except Throttled as t:
            raise exc.TooManyRequestsException(t.reason) from None
        headers["X-Amz-Executed-Version"] = "$LATEST"
        headers["Content-Type"] = result.content_type
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if log_type == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(lg.tail(result.log_text)).decode()
        return InvokeResponse(200, result.payload, headers)

    async def run(self, fn: LambdaFunction, inv: Invocation, wait: bool) -> InvocationResult:
        """Run one invocation in an environment of ``fn``; counts metrics. ``wait`` queues at
        the concurrency limit instead of raising :class:`Throttled`."""
        metrics = self.function_metrics(fn.name)
        pool = self.pool(fn)
        try:
            env = await pool.acquire(fn.spec(), wait=wait)
        except Throttled:
            metrics.throttles += 1
            raise
        metrics.invocations += 1
        result = await env.invoke(inv)
        if result.cold:
            metrics.cold_starts += 1
        if not result.ok:
            metrics.errors += 1
        if result.status == "timeout":
            metrics.timeouts += 1
        metrics.duration_ms_total += result.duration_ms
        flush = getattr(self.host.log_sink, "flush", None)
        if flush is not None:
            await flush()  # the invocation's log is readable once its reply is out
        return result

    async def invoke_function(self, name: str, payload: bytes) -> InvocationResult:
        """A synchronous invoke as event source mappings make it: waits for capacity."""
        fn = self._resolve(name)
        inv = Invocation(request_id(), payload, fn.arn, float(fn.timeout))
        return await self.run(fn, inv, wait=True)

    async def _invoke_async(self, fn: LambdaFunction, inv: Invocation) -> None:
        """Event invocation: queued, run when there is capacity, retried twice on error."""
        for attempt in range(len(self.settings.async_retry_delays) + 1):
            current = self.functions.get(fn.name)
            if current is None:
                return
            result = await self.run(current, inv, wait=True)
            if result.ok:
                return
            if attempt < len(self.settings.async_retry_delays):
                await asyncio.sleep(self.settings.async_retry_delays[attempt])

    # --- environments -------------------------------------------------------------------------

    async def reap_idle(self) -> None:
        for pool in list(self.pools.values()):
            await pool.reap_idle(self.settings.idle_timeout)

    def environments(self) -> list[dict[str, Any]]:
        return [e.describe() for p in self.pools.values() for e in p.envs.values()]

    async def close(self) -> None:
        for m in self.mappings.values():
            if m.runner is not None:
                with contextlib.suppress(Exception):
                    await m.runner.stop()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(p.close() for p in self.pools.values()))

    # --- event source mappings -----------------------------------------------------------------

    def _validate_mapping(self, p: dict[str, Any], creating: bool) -> None:
        if p.get("BatchSize") is not None:
            _check_range(p["BatchSize"], "batchSize", 1, 10000)
        if p.get("MaximumBatchingWindowInSeconds") is not None:
            _check_range(
                p["MaximumBatchingWindowInSeconds"], "maximumBatchingWindowInSeconds", 0, 300
            )
        if p.get("MaximumRetryAttempts") is not None:
            _check_range(p["MaximumRetryAttempts"], "maximumRetryAttempts", -1, 10000)
        age = p.get("MaximumRecordAgeInSeconds")
        if age is not None:
            _check_range(age, "maximumRecordAgeInSeconds", -1, 604800)
            if 0 <= age < 60:
                raise exc.InvalidParameterValueException(
                    "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800"  # unverified
                )
        for access in p.get("SourceAccessConfigurations") or []:
            _check_enum(
                access.get("Type"),
                "sourceAccessConfigurations.member.type",
                [
                    "BASIC_AUTH",
                    "VPC_SUBNET",
                    "VPC_SECURITY_GROUP",
                    "SASL_SCRAM_512_AUTH",
                    "SASL_SCRAM_256_AUTH",
                    "VIRTUAL_HOST",
                    "CLIENT_CERTIFICATE_TLS_AUTH",
                    "SERVER_ROOT_CA_CERTIFICATE",
                ],
            )
        dest = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if dest and not (dest.startswith("kafka://") or dest.startswith("arn:")):
            raise exc.ValidationException(
                dest,
                "destinationConfig.onFailure.destination",
                "Member must satisfy regular expression pattern: "
                r"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:"
                r"([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)",
            )
        filters = (p.get("FilterCriteria") or {}).get("Filters") or []
        if len(filters) > 5:
            raise exc.InvalidParameterValueException(
                "The maximum number of filters per event source mapping is 5."  # unverified
            )
        for f in filters:
            try:
                json.loads(f.get("Pattern", ""))
            except ValueError:
                raise exc.InvalidParameterValueException(
                    f"Invalid filter pattern definition: {f.get('Pattern')}"  # unverified
                ) from None

    async def create_event_source_mapping(self, p: dict[str, Any]) -> EventSourceMapping:
        fn = self._resolve(p.get("FunctionName") or "")
        self._validate_mapping(p, creating=True)
        source_arn = p.get("EventSourceArn")
        self_managed = p.get("SelfManagedEventSource")
        if source_arn and not source_arn.startswith("arn:aws:kafka:"):
            raise exc.InvalidParameterValueException(
                "This emulator maps Kafka event sources only (self-managed Kafka or MSK)."
            )
        if not source_arn and not self_managed:
            raise exc.InvalidParameterValueException("Unrecognized event source.")
        if self_managed:
            servers = (self_managed.get("Endpoints") or {}).get("KAFKA_BOOTSTRAP_SERVERS")
            if not servers:
                raise exc.InvalidParameterValueException(
                    "KAFKA_BOOTSTRAP_SERVERS must be provided for self-managed Kafka."  # unverified
                )
        topics = p.get("Topics") or []
        if len(topics) != 1:
            raise exc.InvalidParameterValueException(
                "Exactly one topic must be specified for a Kafka event source."  # unverified
            )
        position = p.get("StartingPosition")
        if position is None:
            raise exc.InvalidParameterValueException(
                "StartingPosition must be provided for Kafka event sources."  # unverified
            )
        _check_enum(position, "startingPosition", ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"])
        if position == "AT_TIMESTAMP" and p.get("StartingPositionTimestamp") is None:
            raise exc.InvalidParameterValueException(
                "StartingPositionTimestamp must be provided with AT_TIMESTAMP."  # unverified
            )
        mapping_uuid = str(uuid.uuid4())
        config = {k: v for k, v in p.items() if v is not None}
        config.setdefault("BatchSize", 100)
        config["Topics"] = list(topics)
        group_key = (
            "AmazonManagedKafkaEventSourceConfig"
            if source_arn
            else "SelfManagedKafkaEventSourceConfig"
        )
        group = dict(config.get(group_key) or {})
        group.setdefault("ConsumerGroupId", mapping_uuid)
        config[group_key] = group
        for other in self.mappings.values():
            if other.consumer_group_id == group["ConsumerGroupId"]:
                raise exc.ResourceConflictException(
                    f"The consumer group ID {group['ConsumerGroupId']} is already used by the "
                    f"event source mapping with UUID {other.uuid}."  # unverified
                )
            same_source = (
                other.config.get("EventSourceArn") == source_arn
                if source_arn
                else sorted(other.bootstrap_servers) == sorted(servers)
            )
            if same_source and other.topic == topics[0] and other.function_name == fn.name:
                raise exc.ResourceConflictException(
                    f"An event source mapping with event source ({source_arn or ','.join(servers)}"
                    f"), function ({fn.arn}), topics ({topics[0]}) already exists. Please update "
                    f"or delete the existing mapping with UUID {other.uuid}"
                )
        enabled = config.get("Enabled", True)
        m = EventSourceMapping(
            uuid=mapping_uuid,
            region=self.region,
            function_name=fn.name,
            config=config,
            state=MappingState("Creating", "Enabled" if enabled else "Disabled"),
        )
        self.mappings[mapping_uuid] = m
        self.save()
        if enabled:
            await self._start_runner(m)
        return m

    async def _start_runner(self, m: EventSourceMapping) -> None:
        if self.runner_factory is None or not m.enabled:
            return
        m.runner = self.runner_factory(self, m)
        if m.runner is not None:
            await m.runner.start()

    def get_event_source_mapping(self, mapping_uuid: str) -> EventSourceMapping:
        m = self.mappings.get(mapping_uuid)
        if m is None:
            raise exc.mapping_not_found()
        return m

    def list_event_source_mappings(
        self,
        function_name: str | None,
        source_arn: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> tuple[list[EventSourceMapping], str | None]:
        items = list(self.mappings.values())
        if function_name:
            fn = self._resolve(function_name)
            items = [m for m in items if m.function_name == fn.name]
        if source_arn:
            items = [m for m in items if m.config.get("EventSourceArn") == source_arn]
        start = int(marker) if marker and marker.isdigit() else 0
        size = max_items or 100
        page = items[start : start + size]
        nxt = start + size
        return page, (str(nxt) if nxt < len(items) else None)

    async def update_event_source_mapping(
        self, mapping_uuid: str, p: dict[str, Any]
    ) -> EventSourceMapping:
        m = self.get_event_source_mapping(mapping_uuid)
        self._validate_mapping(p, creating=False)
        for key in ("AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig"):
            new = (p.get(key) or {}).get("ConsumerGroupId")
            if new is not None and new != m.consumer_group_id:
                raise exc.InvalidParameterValueException(
                    "ConsumerGroupId cannot be updated."  # unverified
                )
        if p.get("FunctionName"):
            m.function_name = self._resolve(p["FunctionName"]).name
        updatable = (
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "FilterCriteria",
            "SourceAccessConfigurations",
            "DestinationConfig",
            "MaximumRetryAttempts",
            "MaximumRecordAgeInSeconds",
            "BisectBatchOnFunctionError",
            "FunctionResponseTypes",
            "ProvisionedPollerConfig",
            "KMSKeyArn",
            "MetricsConfig",
        )
        for key in updatable:
            if p.get(key) is not None:
                m.config[key] = p[key]
        was_enabled = m.config.get("Enabled", True) is not False
        if p.get("Enabled") is not None:
            m.config["Enabled"] = p["Enabled"]
        now_enabled = m.config.get("Enabled", True) is not False
        if was_enabled and not now_enabled:
            m.state.move("Disabling", "Disabled")
        elif now_enabled and not was_enabled:
            m.state.move("Enabling", "Enabled")
        else:
            m.state.move("Updating", "Enabled" if now_enabled else "Disabled")
        m.last_modified = time.time()
        self.save()
        if m.runner is not None and not now_enabled:
            runner, m.runner = m.runner, None
            await runner.stop()
        elif m.runner is not None:
            await m.runner.reconfigure()
        elif now_enabled:
            await self._start_runner(m)
        return m

    async def delete_event_source_mapping(self, mapping_uuid: str) -> EventSourceMapping:
        m = self.get_event_source_mapping(mapping_uuid)
        m.state.move("Deleting", "Deleting")
        del self.mappings[mapping_uuid]
        self.save()
        if m.runner is not None:
            runner, m.runner = m.runner, None
            await runner.stop()
        return m
