"""Small named helpers: ARNs, timestamps, ids, hashes (the shapes AWS uses)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import re
import time
import uuid

ACCOUNT_ID = "123456789012"  # moto's default account, so ARNs agree across services
DEFAULT_REGION = "us-east-1"

_FUNCTION_ARN = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9-_\.]+)(?::(?P<qualifier>"
    r"\$LATEST|[a-zA-Z0-9-_]+))?$"
)


def function_arn(region: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def split_function_name(name_or_arn: str) -> tuple[str, str | None] | None:
    """``my-fn``, ``my-fn:$LATEST``, ``123456789012:function:my-fn`` or a full ARN ->
    (name, qualifier); None when it is none of these."""
    m = _FUNCTION_ARN.match(name_or_arn)
    if not m:
        return None
    return m.group("name"), m.group("qualifier")


def mapping_arn(region: str, mapping_uuid: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:event-source-mapping:{mapping_uuid}"


def last_modified(ts: float | None = None) -> str:
    """Lambda's LastModified format: ``2024-01-31T12:34:56.789+0000``."""
    d = dt.datetime.fromtimestamp(ts if ts is not None else time.time(), dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}+0000"


def iso_millis(ts: float) -> str:
    """``2024-01-31T12:34:56.789Z`` (the runtime's and the timeout line's timestamps)."""
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def code_sha256(data: bytes) -> str:
    """CodeSha256 is the base64 of the SHA-256 digest of the zip, as AWS reports it."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def request_id() -> str:
    return str(uuid.uuid4())


def revision_id() -> str:
    return str(uuid.uuid4())


def log_stream_name(version: str = "$LATEST", ts: float | None = None) -> str:
    """``2024/01/31/[$LATEST]<32 hex>``, one per execution environment."""
    d = dt.datetime.fromtimestamp(ts if ts is not None else time.time(), dt.UTC)
    return f"{d:%Y/%m/%d}/[{version}]{os.urandom(16).hex()}"


def trace_id() -> str:
    """An X-Ray trace header like the one Lambda passes in ``Lambda-Runtime-Trace-Id``."""
    return (
        f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};"
        f"Parent={os.urandom(8).hex()};Sampled=0;Lineage=1:{os.urandom(4).hex()}:0"
    )


def page(items: list, marker: str | None, size: int) -> tuple[list, str | None]:
    """One page of a listing: ``size`` items from the one the (base64) ``marker`` names, and
    the marker of the next page, if any (ListFunctions' and the layer listings' markers)."""
    from streamlab.awslambda import exceptions as exc

    start = 0
    if marker:
        try:
            start = int(base64.b64decode(marker).decode())
        except (ValueError, binascii.Error):
            raise exc.InvalidParameterValueException(f"Invalid marker: {marker}") from None
    nxt = start + size
    next_marker = base64.b64encode(str(nxt).encode()).decode() if nxt < len(items) else None
    return items[start:nxt], next_marker
