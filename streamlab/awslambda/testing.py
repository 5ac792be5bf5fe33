"""Start the local AWS endpoint as a real child process on a free port (tests, benchmarks, lessons).

>>> from streamlab.awslambda.testing import EndpointProcess, make_zip, vendor
>>> with EndpointProcess(tmp_dir) as aws:                     # doctest: +SKIP
...     lam = aws.client("lambda")
...     lam.create_function(FunctionName="f", Runtime="python3.12", Role=aws.role,
...                         Handler="app.handler", Code={"ZipFile": make_zip({...})})
"""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from typing import Any

from streamlab.awslambda.deployment_package import vendor
from streamlab.service import ServiceProcess

__all__ = ["EndpointProcess", "make_zip", "vendor"]

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


class EndpointProcess(ServiceProcess):
    module = "streamlab.awslambda"
    label = "endpoint"
    log_name = "endpoint.log"

    def __init__(self, data_dir: str, extra_args: tuple[str, ...] = ()) -> None:
        super().__init__(data_dir)
        self.data_dir = self.work_dir
        self.extra_args = extra_args
        self.role = ROLE

    def args(self) -> list[str]:
        return ["--port", "0", "--data-dir", self.data_dir, *self.extra_args]

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
