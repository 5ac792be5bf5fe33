"""Invoke: results, AWS's error payloads, logs, async events, the runtime's error types."""

from __future__ import annotations

import base64
import json
import os
import re

import pytest
from botocore.exceptions import ClientError

from streamlab.awslambda.logs import read_logs

from .lambda_helpers import error_of, wait_until

ECHO = """
import os
def handler(event, context):
    print("got", event)
    return {"event": event, "request_id": context.aws_request_id,
            "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis()}
"""


def test_request_response_returns_the_result(deploy):
    fn = deploy(ECHO, Timeout=7)
    r, body = deploy.invoke(fn, {"n": 1})
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    assert body["event"] == {"n": 1}
    assert body["memory"] == "128"  # a str, as awslambdaric gives it
    assert 0 < body["remaining"] <= 7000
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"


def test_log_type_tail_returns_the_invocation_log(deploy):
    fn = deploy(ECHO)
    r, body = deploy.invoke(fn, {"n": 2}, LogType="Tail")
    text = base64.b64decode(r["LogResult"]).decode()
    lines = text.splitlines()
    assert lines[-4].startswith("START RequestId: " + body["request_id"] + " Version: $LATEST")
    assert "got {'n': 2}" in text
    assert lines[-2] == "END RequestId: " + body["request_id"]
    assert re.fullmatch(
        r"REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 "
        r"MB\tMax Memory Used: \d+ MB(\tInit Duration: [\d.]+ ms)?",
        lines[-1],
    )


def test_tail_is_capped_at_4kb(deploy):
    fn = deploy("def handler(e, c):\n    print('x' * 10000)\n    return 1\n")
    r, _ = deploy.invoke(fn, LogType="Tail")
    assert len(base64.b64decode(r["LogResult"])) == 4096


def test_handler_exception_gives_the_aws_error_payload(deploy):
    fn = deploy(
        """
        def handler(event, context):
            raise ValueError("the order has no symbol")
        """
    )
    r, body = deploy.invoke(fn, LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "the order has no symbol"
    assert isinstance(body["stackTrace"], list) and "in handler" in body["stackTrace"][0]
    log = base64.b64decode(r["LogResult"]).decode()
    assert "[ERROR] ValueError: the order has no symbol" in log


def test_non_json_result_is_a_marshal_error(deploy):
    fn = deploy("def handler(e, c):\n    return {1, 2}\n")
    r, body = deploy.invoke(fn)
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.MarshalError"


def test_invalid_json_payload_is_rejected(deploy, lam):
    fn = deploy(ECHO)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=fn, Payload=b"{not json")
    code, message, status = error_of(e)
    assert (code, status) == ("InvalidRequestContentException", 400)
    assert message.startswith(
        "Could not parse request body into json: Could not parse payload into json"
    )


def test_payload_over_6mb_is_rejected(deploy, lam):
    fn = deploy(ECHO)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=fn, Payload=json.dumps("x" * (6 * 1024 * 1024)))
    assert error_of(e) == (
        "RequestTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
        413,
    )


def test_response_over_6mb_is_a_function_error(deploy):
    fn = deploy("def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n", MemorySize=512)
    r, body = deploy.invoke(fn)
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert body["errorMessage"].endswith("exceeded maximum allowed payload size (6291556 bytes).")


def test_dry_run(deploy):
    fn = deploy(ECHO)
    r = deploy.lam.invoke(FunctionName=fn, InvocationType="DryRun")
    assert r["StatusCode"] == 204


def test_event_invocation_is_async(deploy, tmp_path):
    marker = tmp_path / "done"
    fn = deploy(
        """
        import os, time
        def handler(event, context):
            time.sleep(0.3)
            open(os.environ["MARKER"], "w").write(context.aws_request_id)
        """,
        Environment={"Variables": {"MARKER": str(marker)}},
    )
    r = deploy.lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    request_id = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    wait_until(marker.exists)
    wait_until(lambda: marker.read_text() == request_id)


def test_timeout_kills_the_environment_with_aws_payload(deploy, aws):
    fn = deploy(
        """
        import time
        COUNT = 0
        def handler(event, context):
            global COUNT
            COUNT += 1
            if event.get("sleep"):
                time.sleep(event["sleep"])
            return COUNT
        """,
        Timeout=1,
    )
    deploy.invoke(fn)
    r, body = deploy.invoke(fn, {"sleep": 30}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds", body["errorMessage"]
    )
    log = base64.b64decode(r["LogResult"]).decode()
    assert re.search(r"\d{4}-\d\d-\d\dT[\d:.]+Z \S+ Task timed out after 1\.00 seconds", log)
    assert re.search(r"REPORT RequestId: .*Duration: 1000\.00 ms.*\tStatus: timeout$", log)
    # the environment was reset: the next invocation is a cold start (module state is new)
    _, count = deploy.invoke(fn)
    assert count == 1


def test_crash_is_a_runtime_exit_error(deploy):
    fn = deploy("import os\ndef handler(e, c):\n    os._exit(3)\n")
    r, body = deploy.invoke(fn, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(
        r"RequestId: \S+ Error: Runtime exited with error: exit status 3", body["errorMessage"]
    )
    assert (
        "Status: error\tError Type: Runtime.ExitError" in base64.b64decode(r["LogResult"]).decode()
    )


def test_memory_over_the_limit_is_killed(deploy):
    fn = deploy(
        "def handler(e, c):\n    block = bytearray(300 * 1024 * 1024)\n    return len(block)\n",
        MemorySize=128,
    )
    r, body = deploy.invoke(fn, LogType="Tail")
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert "Max Memory Used: 128 MB" in base64.b64decode(r["LogResult"]).decode()


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": "x = 1\n"},
            "nope.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'nope': No module named 'nope'",
        ),
        (
            {"app.py": "x = 1\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        ({"app.py": "def handler(:\n"}, "app.handler", "Runtime.UserCodeSyntaxError", None),
        (
            {"app.py": "raise RuntimeError('no config')\n"},
            "app.handler",
            "RuntimeError",
            "no config",
        ),
    ],
    ids=["missing-module", "missing-handler", "syntax-error", "raises-at-import"],
)
def test_init_errors(deploy, files, handler, error_type, message):
    fn = deploy(files, handler=handler)
    r, body = deploy.invoke(fn, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type
    if message:
        assert body["errorMessage"] == message
    assert set(body) >= {"errorMessage", "errorType", "stackTrace"}
    log = "\n".join(read_logs(fn, client=deploy.aws.client("logs")))
    # Lambda retries a failed init inside the invocation ("suppressed init")
    assert f"Phase: init\tStatus: error\tError Type: {error_type}" in log
    assert f"Phase: invoke\tStatus: error\tError Type: {error_type}" in log
    assert f"Status: error\tError Type: {error_type}" in log.splitlines()[-1]


def test_logs_are_readable_through_cloudwatch_logs(deploy, aws):
    fn = deploy(ECHO)
    deploy.invoke(fn, {"n": 1})
    deploy.invoke(fn, {"n": 2})
    logs = aws.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{fn}")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [f"/aws/lambda/{fn}"]
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{fn}")["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
    lines = read_logs(fn, client=logs)
    assert lines[0].startswith("INIT_START Runtime Version: python:3.12")
    assert [
        line.split(" ")[0] for line in lines if line.startswith(("START", "END", "REPORT"))
    ] == ["START", "END", "REPORT", "START", "END", "REPORT"]
    reports = [line for line in lines if line.startswith("REPORT")]
    assert "Init Duration" in reports[0] and "Init Duration" not in reports[1]


def test_client_context_reaches_the_function(deploy):
    fn = deploy("def handler(e, c):\n    return c.client_context.custom\n")
    ctx = base64.b64encode(json.dumps({"custom": {"lesson": 5}}).encode()).decode()
    _, body = deploy.invoke(fn, ClientContext=ctx)
    assert body == {"lesson": 5}


def test_invocation_metrics(deploy, aws):
    fn = deploy("def handler(e, c):\n    if e.get('fail'):\n        raise KeyError(1)\n")
    deploy.invoke(fn)
    deploy.invoke(fn, {"fail": True})
    m = aws.metrics()[fn]
    assert (m["Invocations"], m["Errors"], m["ColdStarts"]) == (2, 1, 1)
    assert m["MaxConcurrentExecutions"] == 1
    # the environment counts as busy until its runtime is back in /next
    wait_until(lambda: aws.metrics()[fn]["ConcurrentExecutions"] == 0)


def test_environment_variables_aws_sets(deploy, aws):
    fn = deploy(
        """
        import os, sys
        def handler(event, context):
            return {k: os.environ.get(k) for k in event["keys"]} | {"cwd": os.getcwd(),
                    "path0": sys.path[0], "stream": context.log_stream_name}
        """,
        MemorySize=256,
        Environment={"Variables": {"COLOUR": "blue"}},
    )
    keys = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "AWS_EXECUTION_ENV",
        "AWS_ENDPOINT_URL",
        "COLOUR",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SESSION_TOKEN",
        "TZ",
    ]
    _, env = deploy.invoke(fn, {"keys": keys})
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fn
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{fn}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == env["stream"]
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_ENDPOINT_URL"] == aws.url
    assert env["COLOUR"] == "blue"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SESSION_TOKEN"]
    assert env["TZ"] == ":UTC"
    assert env["cwd"] == env["LAMBDA_TASK_ROOT"] == env["path0"]
    assert os.path.exists(os.path.join(env["LAMBDA_TASK_ROOT"], "app.py"))
