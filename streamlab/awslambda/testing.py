"""Start the local AWS endpoint as a real child process on a free port (tests, benchmarks, lessons).

>>> from streamlab.awslambda.testing import EndpointProcess, make_zip
>>> with EndpointProcess(tmp_dir) as aws:                     # doctest: +SKIP
...     lam = aws.client("lambda")
...     lam.create_function(FunctionName="f", Runtime="python3.12", Role=aws.role,
...                         Handler="app.handler", Code={"ZipFile": make_zip({...})})
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from typing import Any

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def make_zip(files: dict[str, str | bytes]) -> bytes:
    """A deployment package from {path in zip: source}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


class EndpointProcess:
    def __init__(self, data_dir: str, extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}
        self.role = ROLE
        self.log_path = os.path.join(self.data_dir, "endpoint.log")

    def start(self, timeout: float = 30.0) -> EndpointProcess:
        os.makedirs(self.data_dir, exist_ok=True)
        ready_file = os.path.join(self.data_dir, "ready.json")
        if os.path.exists(ready_file):
            os.unlink(ready_file)
        args = [
            sys.executable,
            "-m",
            "streamlab.awslambda",
            "--port",
            "0",
            "--data-dir",
            self.data_dir,
            "--ready-file",
            ready_file,
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready_file):
            if self.proc.poll() is not None:
                raise RuntimeError(f"endpoint exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"endpoint not ready after {timeout}s:\n{self.tail()}")
            time.sleep(0.02)
        with open(ready_file) as f:
            self.ready = json.load(f)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> EndpointProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.ready["url"]

    def client(self, service: str, **kwargs: Any) -> Any:
        import boto3
        from botocore.config import Config

        config = kwargs.pop(
            "config",
            Config(retries={"total_max_attempts": 1}, read_timeout=120, connect_timeout=10),
        )
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            config=config,
            **DUMMY_CREDENTIALS,
            **kwargs,
        )

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)

    def environments(self, function: str | None = None) -> list[dict[str, Any]]:
        suffix = f"?function={function}" if function else ""
        return self.api("/_streamlab/lambda/environments" + suffix)["Environments"]

    def metrics(self) -> dict[str, Any]:
        return self.api("/_streamlab/lambda/metrics")["Functions"]

    def tail(self, lines: int = 60) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
