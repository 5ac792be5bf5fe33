"""Idle recycling and the init time limit, with a short idle time and init limit."""

from __future__ import annotations

from streamlab.awslambda.logs import read_logs

from .lambda_helpers import wait_until

ENDPOINT_ARGS = ("--idle-seconds", "1", "--init-timeout", "1")


def test_idle_environments_are_recycled(deploy, aws):
    fn = deploy("import os\ndef handler(e, c):\n    return os.getpid()\n")
    _, pid = deploy.invoke(fn)
    assert [e["Pid"] for e in aws.environments(fn)] == [pid]
    wait_until(lambda: aws.environments(fn) == [], timeout=30)
    _, new_pid = deploy.invoke(fn)
    assert new_pid != pid
    assert aws.metrics()[fn]["ColdStarts"] == 2


def test_init_over_the_limit_is_retried_inside_the_invocation(deploy, aws, tmp_path):
    runs = tmp_path / "init-runs"
    fn = deploy(
        """
        import os, time
        RUNS = os.environ["RUNS"]
        first = not os.path.exists(RUNS)
        with open(RUNS, "a") as f:
            f.write("x")
        if first:
            time.sleep(5)          # the first init overruns the (1 s here, 10 s on AWS) limit

        def handler(event, context):
            return os.path.getsize(RUNS)
        """,
        Timeout=10,
        Environment={"Variables": {"RUNS": str(runs)}},
    )
    r, body = deploy.invoke(fn)
    assert "FunctionError" not in r
    assert body == 2  # module-level code ran twice: the "suppressed init"
    lines = read_logs(fn, client=aws.client("logs"))
    assert any(
        line.startswith("INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout")
        for line in lines
    )
    report = next(line for line in lines if line.startswith("REPORT"))
    assert "Init Duration" not in report  # the retried init is counted in the invocation


def test_init_that_never_finishes_times_out_the_invocation(deploy):
    fn = deploy("import time\ntime.sleep(60)\ndef handler(e, c):\n    return 1\n", Timeout=2)
    r, body = deploy.invoke(fn)
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 2.00 seconds")
