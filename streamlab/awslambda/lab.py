"""The learner's Python API to the running Lambda emulator (what ``streamlab lambda`` prints)::

    from streamlab.awslambda.lab import LambdaLab
    lab = LambdaLab()                          # the running stack's endpoint
    lab.deploy("settle-trades", directory="build/fn", handler="app.handler")
    lab.map("settle-trades", "user_trades", batch_size=100)
    lab.functions()                            # name, state, last modified, env count
    lab.invoke("settle-trades", {"records": {}})
    for line in lab.logs("settle-trades", since="5m"): print(line)
    lab.mappings()                             # state, batch size, pollers, offset lag
    lab.metrics("settle-trades")               # invocations, errors, throttles, cold starts
    lab.scaling(uuid, seconds=30)              # poller count and lag sampled over time

Everything goes through the AWS APIs (boto3: Lambda, CloudWatch Logs) plus the lab's own
observability API (``/_streamlab/...``) for what AWS shows only in the console or CloudWatch
metrics (pollers, environments, concurrency over time).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streamlab.config import StreamlabError

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class LambdaLabError(StreamlabError):
    """The endpoint is down, a function or mapping is unknown, or AWS refused a request."""


def parse_since(text: str) -> float:
    """``"5m"`` -> 300.0 seconds (s, m, h, d, w; a bare number is seconds)."""
    m = _SINCE.match(text)
    if not m:
        raise LambdaLabError(f"cannot read the duration {text!r}: use e.g. 30s, 5m, 2h, 1d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def format_event(event: dict[str, Any], stream: bool = True) -> str:
    """One CloudWatch log event as ``aws logs tail`` prints it: time, stream, message."""
    ts = datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC)
    when = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    msg = event["message"].rstrip("\n")
    if stream and event.get("logStreamName"):
        return f"{when} {event['logStreamName']} {msg}"
    return f"{when} {msg}"


def zip_directory(directory: str) -> bytes:
    """A deployment package of a folder, its contents at the zip's root."""
    import io
    import zipfile
    from pathlib import Path

    root = Path(directory)
    if not root.is_dir():
        raise LambdaLabError(f"{directory} is not a folder")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
                zf.write(path, rel.as_posix())
    return buf.getvalue()


@dataclass
class ScalingSample:
    """One observation of a mapping: seconds since sampling began, pollers, offset lag,
    concurrent executions of its function."""

    t: float
    pollers: int
    lag: int | None
    concurrency: int


class LambdaLab:
    """A client for one endpoint (default: the running stack's, ``streamlab.config``)."""

    def __init__(self, url: str | None = None, region: str | None = None) -> None:
        if url is None:
            from streamlab.config import aws_endpoint

            url = aws_endpoint()
        self.url = url.rstrip("/")
        self.region = (
            region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )
        self._clients: dict[str, Any] = {}

    # --- plumbing -------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            creds: dict[str, str] = {}
            if not os.environ.get("AWS_ACCESS_KEY_ID"):
                creds = dict(DUMMY_CREDENTIALS)
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.url,
                region_name=self.region,
                config=Config(
                    retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=900
                ),
                **creds,
            )
        return self._clients[service]

    def api(self, path: str, method: str = "GET") -> Any:
        """GET (or POST) the observability API; clear errors when the endpoint is down."""
        req = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise LambdaLabError(f"{self.url} does not know {path}") from None
            raise LambdaLabError(f"{self.url}{path}: HTTP {e.code}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            raise self._down(e) from None

    def _down(self, e: Any) -> LambdaLabError:
        reason = getattr(e, "reason", e)
        return LambdaLabError(
            f"no AWS endpoint answers at {self.url} ({reason}); is the stack running? "
            "Start it with `streamlab up`."
        )

    def check(self) -> None:
        """Raise :class:`LambdaLabError` unless the endpoint answers."""
        self.api("/_streamlab/health")

    def _call(self, service: str, op: str, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError, EndpointConnectionError

        try:
            return getattr(self.client(service), op)(**kwargs)
        except EndpointConnectionError as e:
            raise self._down(e) from None
        except ClientError as e:
            err = e.response.get("Error", {})
            code, message = err.get("Code", "Error"), err.get("Message", "")
            name = kwargs.get("FunctionName")
            if code == "ResourceNotFoundException" and name and op != "list_event_source_mappings":
                raise LambdaLabError(
                    f"function {name!r} not found ({code}: {message}); "
                    "`streamlab lambda functions` lists the deployed ones"
                ) from None
            raise LambdaLabError(f"{code}: {message}") from None

    # --- functions ------------------------------------------------------------------------------

    def functions(self) -> list[dict[str, Any]]:
        """Every function: Name, State, LastModified, Runtime, Handler, MemorySize, Timeout,
        EnvironmentVariables (count), Environments (execution environments now)."""
        fns = self._list_functions()
        envs = self.environments()
        out = []
        for f in fns:
            mine = [e for e in envs if e["FunctionName"] == f["FunctionName"]]
            out.append(
                {
                    "Name": f["FunctionName"],
                    "State": f.get("State", "Active"),
                    "LastUpdateStatus": f.get("LastUpdateStatus", "Successful"),
                    "LastModified": f.get("LastModified", ""),
                    "Runtime": f.get("Runtime", ""),
                    "Handler": f.get("Handler", ""),
                    "MemorySize": f.get("MemorySize"),
                    "Timeout": f.get("Timeout"),
                    "EnvironmentVariables": len(
                        (f.get("Environment") or {}).get("Variables") or {}
                    ),
                    "Environments": len(mine),
                }
            )
        return out

    def get_function(self, name: str) -> dict[str, Any]:
        return self._call("lambda", "get_function_configuration", FunctionName=name)

    def environments(self, function: str | None = None) -> list[dict[str, Any]]:
        suffix = f"?function={function}" if function else ""
        return self.api("/_streamlab/lambda/environments" + suffix)["Environments"]

    def invoke(
        self, name: str, payload: Any = None, *, raw: bytes | None = None, tail: bool = False
    ) -> dict[str, Any]:
        """Invoke synchronously. Returns {"StatusCode", "Payload" (decoded JSON or text),
        "FunctionError" (or None), "Log" (the last 4 KB of log when ``tail``)}."""
        import base64

        body = raw if raw is not None else json.dumps({} if payload is None else payload).encode()
        r = self._call(
            "lambda",
            "invoke",
            FunctionName=name,
            Payload=body,
            LogType="Tail" if tail else "None",
        )
        data = r["Payload"].read()
        try:
            decoded: Any = json.loads(data) if data else None
        except ValueError:
            decoded = data.decode(errors="replace")
        log = r.get("LogResult")
        return {
            "StatusCode": r.get("StatusCode"),
            "Payload": decoded,
            "FunctionError": r.get("FunctionError"),
            "Log": base64.b64decode(log).decode(errors="replace") if log else None,
        }

    def deploy(
        self,
        name: str,
        *,
        zip_file: bytes | None = None,
        directory: str | None = None,
        handler: str = "app.handler",
        runtime: str = "python3.12",
        environment: dict[str, str] | None = None,
        timeout: int | None = None,
        memory: int | None = None,
        role: str = "arn:aws:iam::123456789012:role/lambda-role",
    ) -> dict[str, Any]:
        """Create the function, or update its code and configuration if it exists; wait until
        it is Active and updated. Code: a zip's bytes, or a folder zipped with its contents at
        the root (``__pycache__`` left out)."""
        if (zip_file is None) == (directory is None):
            raise LambdaLabError("give either a zip or a folder to deploy")
        if directory is not None:
            zip_file = zip_directory(directory)
        config: dict[str, Any] = {"Handler": handler, "Runtime": runtime}
        if environment is not None:
            config["Environment"] = {"Variables": environment}
        if timeout is not None:
            config["Timeout"] = timeout
        if memory is not None:
            config["MemorySize"] = memory
        exists = name in {f["FunctionName"] for f in self._list_functions()}
        lam = self.client("lambda")
        if exists:
            self._call("lambda", "update_function_code", FunctionName=name, ZipFile=zip_file)
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)
            out = self._call("lambda", "update_function_configuration", FunctionName=name, **config)
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        else:
            out = self._call(
                "lambda",
                "create_function",
                FunctionName=name,
                Role=role,
                Code={"ZipFile": zip_file},
                **config,
            )
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
        out = self.get_function(name)  # the state after the wait, not the reply's Pending
        out.pop("ResponseMetadata", None)
        return out

    def _list_functions(self) -> list[dict[str, Any]]:
        fns: list[dict[str, Any]] = []
        marker = None
        while True:
            page = self._call("lambda", "list_functions", **({"Marker": marker} if marker else {}))
            fns.extend(page.get("Functions", []))
            marker = page.get("NextMarker")
            if not marker:
                return fns

    def map(
        self,
        function: str,
        topic: str,
        *,
        bootstrap: str | None = None,
        batch_size: int = 100,
        starting_position: str = "TRIM_HORIZON",
        window: float | None = None,
        secret_arn: str | None = None,
        consumer_group: str | None = None,
    ) -> dict[str, Any]:
        """Map a Kafka topic to the function (self-managed Kafka; ``bootstrap`` defaults to the
        active profile's brokers; ``secret_arn``: BASIC_AUTH credentials)."""
        if bootstrap is None:
            from streamlab.config import kafka_config

            bootstrap = kafka_config()["bootstrap.servers"]
        kwargs: dict[str, Any] = {
            "FunctionName": function,
            "Topics": [topic],
            "StartingPosition": starting_position,
            "SelfManagedEventSource": {
                "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": bootstrap.split(",")}
            },
            "BatchSize": batch_size,
        }
        if window is not None:
            kwargs["MaximumBatchingWindowInSeconds"] = int(window)
        if secret_arn:
            kwargs["SourceAccessConfigurations"] = [{"Type": "BASIC_AUTH", "URI": secret_arn}]
        if consumer_group:
            kwargs["SelfManagedKafkaEventSourceConfig"] = {"ConsumerGroupId": consumer_group}
        out = self._call("lambda", "create_event_source_mapping", **kwargs)
        out.pop("ResponseMetadata", None)
        return out

    # --- logs ---------------------------------------------------------------------------------

    def log_events(
        self, name: str, *, since: float | str | None = None, start_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """CloudWatch events of the function's log group, oldest first. ``since``: seconds
        (or ``"5m"``) back from now; ``start_ms`` wins over it."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        self.get_function(name)  # a clear error for an unknown function
        if start_ms is None and since is not None:
            seconds = parse_since(since) if isinstance(since, str) else float(since)
            start_ms = int((time.time() - seconds) * 1000)
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{name}"}
        if start_ms is not None:
            kwargs["startTime"] = start_ms
        events: list[dict[str, Any]] = []
        try:
            for page in self.client("logs").get_paginator("filter_log_events").paginate(**kwargs):
                events.extend(page.get("events", []))
        except EndpointConnectionError as e:
            raise self._down(e) from None
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []  # never invoked: no log group yet
            raise LambdaLabError(str(e)) from None
        events.sort(key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))
        return events

    def logs(
        self, name: str, *, since: float | str | None = None, limit: int | None = None
    ) -> list[str]:
        """Formatted lines (START/END/REPORT included), the last ``limit`` of them."""
        events = self.log_events(name, since=since)
        if limit is not None:
            events = events[-limit:] if limit > 0 else []
        return [format_event(e) for e in events]

    def follow(
        self,
        name: str,
        *,
        since: float | str | None = None,
        limit: int | None = None,
        interval: float = 1.0,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        """Lines as they arrive (``logs -f``): the last ``limit`` first, then new ones, polling
        every ``interval`` seconds until ``stop()`` is true."""
        events = self.log_events(name, since=since)
        shown = list(events)
        if limit is not None:
            shown = shown[-limit:] if limit > 0 else []
        for e in shown:
            yield format_event(e)
        seen = {e.get("eventId") for e in events}
        start = events[-1]["timestamp"] if events else int(time.time() * 1000) - 1000
        while not (stop and stop()):
            time.sleep(interval)
            for e in self.log_events(name, start_ms=start):
                if e.get("eventId") in seen:
                    continue
                seen.add(e.get("eventId"))
                start = max(start, e["timestamp"])
                yield format_event(e)

    # --- mappings and metrics -------------------------------------------------------------------

    def mappings(self, function: str | None = None) -> list[dict[str, Any]]:
        """Event source mappings: UUID, FunctionName, Topic, State, BatchSize, Pollers, OffsetLag,
        LastProcessingResult, Invocations, RecordsDelivered."""
        kwargs: dict[str, Any] = {"FunctionName": function} if function else {}
        items: list[dict[str, Any]] = []
        marker = None
        while True:
            extra = {"Marker": marker} if marker else {}
            page = self._call("lambda", "list_event_source_mappings", **kwargs, **extra)
            items.extend(page.get("EventSourceMappings", []))
            marker = page.get("NextMarker")
            if not marker:
                break
        live = {
            m["UUID"]: m.get("Poller") or {}
            for m in self.api("/_streamlab/lambda/mappings")["EventSourceMappings"]
        }
        out = []
        for m in items:
            p = live.get(m["UUID"], {})
            out.append(
                {
                    "UUID": m["UUID"],
                    "FunctionName": m["FunctionArn"].rsplit(":", 1)[-1],
                    "Topic": ",".join(m.get("Topics") or []),
                    "State": m.get("State"),
                    "BatchSize": m.get("BatchSize"),
                    "Pollers": p.get("Pollers", 0),
                    "OffsetLag": p.get("OffsetLag"),
                    "Invocations": p.get("Invocations", 0),
                    "RecordsDelivered": p.get("RecordsDelivered", 0),
                    "TimeScale": p.get("TimeScale", 1.0),
                    "LastProcessingResult": m.get("LastProcessingResult", ""),
                }
            )
        return out

    def mapping_poller(self, uuid: str) -> dict[str, Any]:
        """The observability view of one mapping's pollers (counts, assignments, over time)."""
        for m in self.api("/_streamlab/lambda/mappings")["EventSourceMappings"]:
            if m["UUID"] == uuid:
                return m.get("Poller") or {}
        raise LambdaLabError(f"event source mapping {uuid} not found")

    def set_time_scale(self, uuid: str, scale: float) -> dict[str, Any]:
        """Run one mapping's scaler ``scale`` times faster than real time (60: AWS's one-minute
        lag check happens every second). Streamlab-specific; AWS has no such knob."""
        return self.api(f"/_streamlab/lambda/mappings/{uuid}/time-scale?scale={scale}", "POST")

    def metrics(self, function: str | None = None) -> dict[str, dict[str, Any]]:
        """Per function: Invocations, Errors, Throttles, Timeouts, ColdStarts,
        ConcurrentExecutions, MaxConcurrentExecutions, ConcurrencyOverTime."""
        all_metrics = self.api("/_streamlab/lambda/metrics")["Functions"]
        if function is None:
            return all_metrics
        if function not in all_metrics:
            self.get_function(function)  # unknown: a clear error; known: no invocations yet
            return {function: {}}
        return {function: all_metrics[function]}

    def scaling(
        self,
        uuid: str,
        *,
        seconds: float = 30.0,
        interval: float = 0.5,
        until: Callable[[ScalingSample], bool] | None = None,
    ) -> list[ScalingSample]:
        """Sample a mapping's poller count, offset lag and its function's concurrency every
        ``interval`` seconds for ``seconds`` (or until ``until(sample)``), for a plot."""
        samples: list[ScalingSample] = []
        t0 = time.monotonic()
        while True:
            found = [
                m
                for m in self.api("/_streamlab/lambda/mappings")["EventSourceMappings"]
                if m["UUID"] == uuid
            ]
            if not found:
                raise LambdaLabError(f"event source mapping {uuid} not found")
            p = found[0].get("Poller") or {}
            fn = found[0]["FunctionName"]
            conc = (self.metrics().get(fn) or {}).get("ConcurrentExecutions", 0)
            s = ScalingSample(
                round(time.monotonic() - t0, 3), p.get("Pollers", 0), p.get("OffsetLag"), conc
            )
            samples.append(s)
            if (until and until(s)) or time.monotonic() - t0 >= seconds:
                return samples
            time.sleep(interval)
