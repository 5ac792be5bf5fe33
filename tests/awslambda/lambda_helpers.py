"""Shared builders for the Lambda tests (moto's tests/test_awslambda/utilities.py, in spirit)."""

from __future__ import annotations

import json
import re
import textwrap
import time
from typing import Any

from botocore.exceptions import ClientError

from streamlab.awslambda.testing import EndpointProcess, make_zip


def source(code: str) -> str:
    return textwrap.dedent(code).lstrip()


class Deployer:
    """Creates functions with unique names for one test and deletes them afterwards."""

    def __init__(self, aws: EndpointProcess, lam: Any, test_name: str) -> None:
        self.aws = aws
        self.lam = lam
        self.prefix = re.sub(r"[^a-zA-Z0-9-_]", "-", test_name)[:40]
        self.created: list[str] = []

    def name(self, suffix: str = "fn") -> str:
        return f"{self.prefix}-{suffix}"[:64]

    def __call__(
        self,
        code: str | dict[str, str],
        suffix: str = "fn",
        handler: str = "app.handler",
        wait: bool = True,
        **kwargs: Any,
    ) -> str:
        files = {"app.py": source(code)} if isinstance(code, str) else code
        name = self.name(suffix)
        kwargs.setdefault("Runtime", "python3.12")
        self.lam.create_function(
            FunctionName=name,
            Role=self.aws.role,
            Handler=handler,
            Code={"ZipFile": make_zip(files)},
            **kwargs,
        )
        self.created.append(name)
        if wait:
            self.lam.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    def invoke(self, name: str, event: Any = None, **kwargs: Any) -> tuple[dict, Any]:
        """(the raw response, the decoded payload)."""
        r = self.lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
        body = r["Payload"].read()
        return r, (json.loads(body) if body else None)

    def cleanup(self) -> None:
        for name in self.created:
            try:
                self.lam.delete_function(FunctionName=name)
            except ClientError:
                pass


def error_of(excinfo: Any) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    e = excinfo.value
    return (
        e.response["Error"]["Code"],
        e.response["Error"]["Message"],
        e.response["ResponseMetadata"]["HTTPStatusCode"],
    )


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; returns its value (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
