"""Execution environments: cold and warm starts, freeze/thaw, concurrency, recycling."""

from __future__ import annotations

import concurrent.futures
import json
import os
import time

import psutil
import pytest
from botocore.exceptions import ClientError

from streamlab.awslambda.testing import make_zip

from .lambda_helpers import error_of, source, wait_until

COUNTER = """
import os
COUNT = 0          # module level: runs once per environment
INIT_PID = os.getpid()

def handler(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "pid": os.getpid(), "stream": context.log_stream_name}
"""


def test_cold_then_warm_start(deploy, aws):
    fn = deploy(COUNTER)
    _, first = deploy.invoke(fn)
    _, second = deploy.invoke(fn)
    _, third = deploy.invoke(fn)
    assert [first["count"], second["count"], third["count"]] == [1, 2, 3]
    assert first["pid"] == second["pid"] == third["pid"]
    envs = aws.environments(fn)
    assert len(envs) == 1 and envs[0]["Invocations"] == 3
    assert aws.metrics()[fn]["ColdStarts"] == 1


def test_frozen_between_invocations_background_thread_stops(deploy, aws, tmp_path):
    ticks = tmp_path / "ticks"
    fn = deploy(
        """
        import os, threading, time
        TICKS = os.environ["TICKS"]
        def tick():
            while True:
                with open(TICKS, "a") as f:
                    f.write("x")
                time.sleep(0.01)
        threading.Thread(target=tick, daemon=True).start()

        def handler(event, context):
            time.sleep(event.get("work", 0))
            return os.path.getsize(TICKS)
        """,
        Environment={"Variables": {"TICKS": str(ticks)}},
    )
    deploy.invoke(fn)
    env = wait_until(lambda: [e for e in aws.environments(fn) if e["Frozen"]])[0]
    assert env["State"] == "idle"
    assert psutil.Process(env["Pid"]).status() == psutil.STATUS_STOPPED
    frozen_at = ticks.stat().st_size
    time.sleep(0.5)  # 50 ticks if the thread were running
    assert ticks.stat().st_size == frozen_at
    # thawed for the next invocation: the thread runs again while the handler works
    _, seen = deploy.invoke(fn, {"work": 0.3})
    assert seen > frozen_at
    env = wait_until(lambda: [e for e in aws.environments(fn) if e["Frozen"]])[0]
    refrozen_at = ticks.stat().st_size
    time.sleep(0.3)
    assert ticks.stat().st_size == refrozen_at


def test_concurrent_invocations_get_their_own_environments(deploy, aws):
    fn = deploy(
        """
        import os, time
        def handler(event, context):
            time.sleep(event["sleep"])
            return {"pid": os.getpid(), "stream": context.log_stream_name}
        """
    )
    # one environment exists and is warm
    deploy.invoke(fn, {"sleep": 0})
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(deploy.invoke, fn, {"sleep": 2})
        wait_until(lambda: [e for e in aws.environments(fn) if e["State"] == "busy"])
        second = pool.submit(deploy.invoke, fn, {"sleep": 0})
        a, b = first.result()[1], second.result()[1]
    assert a["pid"] != b["pid"] and a["stream"] != b["stream"]
    assert len(aws.environments(fn)) == 2
    m = aws.metrics()[fn]
    assert m["ColdStarts"] == 2 and m["MaxConcurrentExecutions"] == 2


def test_reserved_concurrency_throttles(deploy, aws, lam):
    fn = deploy("import time\ndef handler(e, c):\n    time.sleep(e['sleep'])\n")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        busy = pool.submit(deploy.invoke, fn, {"sleep": 2})
        wait_until(lambda: [e for e in aws.environments(fn) if e["State"] == "busy"])
        with pytest.raises(ClientError) as e:
            deploy.invoke(fn, {"sleep": 0})
        busy.result()
    code, message, status = error_of(e)
    assert (code, message, status) == ("TooManyRequestsException", "Rate Exceeded.", 429)
    assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert aws.metrics()[fn]["Throttles"] == 1


def test_zero_reserved_concurrency_throttles_everything(deploy, lam):
    fn = deploy("def handler(e, c):\n    return 1\n")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        deploy.invoke(fn)
    assert error_of(e)[0] == "TooManyRequestsException"


def test_update_recycles_environments(deploy, aws, lam):
    fn = deploy(COUNTER)
    _, before = deploy.invoke(fn)
    _, before2 = deploy.invoke(fn)
    assert before2["count"] == 2
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {"V2": "1"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    _, after = deploy.invoke(fn)
    assert after["count"] == 1 and after["pid"] != before["pid"]
    wait_until(
        lambda: (
            not psutil.pid_exists(before["pid"])
            or psutil.Process(before["pid"]).status() == psutil.STATUS_ZOMBIE
        )
    )
    new_code = source(COUNTER).replace('"count": COUNT', '"count": COUNT * 100')
    lam.update_function_code(FunctionName=fn, ZipFile=make_zip({"app.py": new_code}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    _, after_code = deploy.invoke(fn)
    assert after_code["count"] == 100
    assert [e["Pid"] for e in aws.environments(fn)] == [after_code["pid"]]


def test_secret_read_inside_the_function_through_the_same_endpoint(deploy, aws):
    sm = aws.client("secretsmanager")
    sm.create_secret(Name="lab/kafka", SecretString='{"bootstrap": "127.0.0.1:9092"}')
    fn = deploy(
        """
        import json, boto3
        SECRETS = boto3.client("secretsmanager")      # AWS_ENDPOINT_URL points back at the lab
        CONFIG = json.loads(SECRETS.get_secret_value(SecretId="lab/kafka")["SecretString"])
        IDENTITY = boto3.client("sts").get_caller_identity()["Account"]

        def handler(event, context):
            if event.get("missing"):
                SECRETS.get_secret_value(SecretId="lab/missing")
            return {"config": CONFIG, "account": IDENTITY}
        """,
        Timeout=30,
        MemorySize=512,
    )
    _, body = deploy.invoke(fn)
    assert body == {"config": {"bootstrap": "127.0.0.1:9092"}, "account": "123456789012"}
    r, err = deploy.invoke(fn, {"missing": True})
    assert r["FunctionError"] == "Unhandled"
    assert err["errorType"] == "ResourceNotFoundException"


def test_delete_function_kills_its_environments(deploy, aws, lam):
    fn = deploy(COUNTER)
    _, body = deploy.invoke(fn)
    lam.delete_function(FunctionName=fn)
    assert aws.environments(fn) == []
    wait_until(
        lambda: (
            not psutil.pid_exists(body["pid"])
            or psutil.Process(body["pid"]).status() == psutil.STATUS_ZOMBIE
        )
    )


def test_endpoint_stop_kills_environments(tmp_path):
    from streamlab.awslambda.testing import EndpointProcess

    aws = EndpointProcess(str(tmp_path)).start()
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName="fn-stop",
        Runtime="python3.12",
        Role=aws.role,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": source(COUNTER)})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="fn-stop")
    pid = json.loads(lam.invoke(FunctionName="fn-stop")["Payload"].read())["pid"]
    aws.stop()
    assert aws.proc.returncode == 0
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert os.path.exists(tmp_path / "lambda-us-east-1.json")


def test_deleting_a_function_during_its_cold_start_answers_the_invocation(deploy, aws, lam):
    fn = deploy("import time\ntime.sleep(5)\ndef handler(e, c):\n    return 1\n", Timeout=30)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(deploy.invoke, fn)
        wait_until(lambda: [e for e in aws.environments(fn) if e["State"] == "initializing"])
        lam.delete_function(FunctionName=fn)
        r, body = pending.result(timeout=30)
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert aws.environments(fn) == []


def test_environments_die_with_a_killed_endpoint(tmp_path):
    from streamlab.awslambda.testing import EndpointProcess

    aws = EndpointProcess(str(tmp_path)).start()
    try:
        lam = aws.client("lambda")
        lam.create_function(
            FunctionName="fn-orphan",
            Runtime="python3.12",
            Role=aws.role,
            Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": source(COUNTER)})},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName="fn-orphan")
        pid = json.loads(lam.invoke(FunctionName="fn-orphan")["Payload"].read())["pid"]
    finally:
        aws.kill()  # kill -9: no chance to clean up
    wait_until(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    )
