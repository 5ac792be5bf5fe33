"""``streamlab lambda ...`` (streamlab.lambda_cli) and the Python API behind it (awslambda.lab)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading

import pytest

from streamlab import lambda_cli
from streamlab.awslambda.lab import LambdaLab, LambdaLabError, format_event, parse_since

from .lambda_helpers import wait_until

CODE = """
import os
print("module loaded")
def handler(event, context):
    print("got", event.get("n"))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"n": event.get("n"), "region": os.environ["REGION"]}
"""


def run(aws, capsys, *argv):
    code = lambda_cli.main([*argv, "--endpoint", aws.url], prog="streamlab lambda")
    out = capsys.readouterr()
    return code, out.out, out.err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_parse_since_and_format():
    assert parse_since("5m") == 300
    assert parse_since("30s") == 30
    assert parse_since("2h") == 7200
    assert parse_since("10") == 10
    with pytest.raises(LambdaLabError):
        parse_since("five minutes")
    line = format_event({"timestamp": 0, "message": "START x\n", "logStreamName": "s"})
    assert line == "1970-01-01T00:00:00.000Z s START x"


def test_help_and_unknown_command(capsys):
    assert lambda_cli.main(["--help"], prog="streamlab lambda") == 0
    assert "streamlab lambda logs FUNCTION" in capsys.readouterr().out
    assert lambda_cli.main([], prog="streamlab lambda") == 2
    assert lambda_cli.main(["nope"], prog="streamlab lambda") == 2
    assert "unknown command" in capsys.readouterr().err


def test_stack_down_is_a_clear_error(capsys, monkeypatch):
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setattr("streamlab.config.aws_endpoint", lambda: url)
    for argv in (["functions"], ["logs", "f"], ["invoke", "f"], ["mappings"], ["metrics"]):
        assert lambda_cli.main(argv, prog="streamlab lambda") == 1
        err = capsys.readouterr().err
        assert f"no AWS endpoint answers at {url}" in err
        assert "streamlab up" in err


def test_functions_invoke_logs_metrics(aws, deploy, capsys, tmp_path):
    fn = deploy(CODE, Environment={"Variables": {"REGION": "lab", "OTHER": "x"}})

    code, out, _ = run(aws, capsys, "functions")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(fn))
    assert "Active" in row and "app.handler" in row
    assert row.split()[-2:] == ["2", "0"]  # 2 environment variables, no environment yet
    code, out, _ = run(aws, capsys, "functions", "--json")
    (info,) = [f for f in json.loads(out) if f["Name"] == fn]
    assert info["EnvironmentVariables"] == 2 and info["LastModified"]

    code, out, _ = run(aws, capsys, "invoke", fn, "--payload", '{"n": 7}')
    assert code == 0 and json.loads(out) == {"n": 7, "region": "lab"}
    event = tmp_path / "event.json"
    event.write_text('{"n": 8}')
    code, out, err = run(aws, capsys, "invoke", fn, "--payload", f"@{event}", "--log")
    assert code == 0 and json.loads(out)["n"] == 8
    assert "got 8" in err and "REPORT RequestId" in err
    code, out, err = run(aws, capsys, "invoke", fn, "--payload", '{"fail": true}')
    assert code == 1
    assert json.loads(out)["errorType"] == "ValueError"
    assert "FunctionError: Unhandled" in err
    code, _, err = run(aws, capsys, "invoke", fn, "--payload", "{not json")
    assert code == 1 and "not JSON" in err
    code, _, err = run(aws, capsys, "invoke", fn, "--payload", f"@{tmp_path / 'missing'}")
    assert code == 1 and "cannot read the payload file" in err

    def log_lines():
        _, out, _ = run(aws, capsys, "logs", fn)
        return out.splitlines() if out.count("REPORT RequestId") >= 3 else None

    lines = wait_until(log_lines)
    text = "\n".join(lines)
    for marker in ("INIT_START", "module loaded", "START RequestId", "END RequestId", "got 7"):
        assert marker in text
    assert "Init Duration" in text  # the cold start's REPORT
    assert lines[0][:4].isdigit() and lines[0][23] == "Z"  # 2026-...T...Z timestamps
    code, out, _ = run(aws, capsys, "logs", fn, "-n", "2")
    assert len(out.splitlines()) == 2 and "REPORT RequestId" in out.splitlines()[-1]
    code, out, _ = run(aws, capsys, "logs", fn, "--since", "1h")
    assert out.count("REPORT RequestId") == 3
    code, _, err = run(aws, capsys, "logs", fn, "--since", "soon")
    assert code == 1 and "cannot read the duration" in err

    code, out, _ = run(aws, capsys, "metrics", fn)
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(fn)).split()
    assert row[1:6] == ["3", "1", "0", "0", "1"]  # invocations errors throttles timeouts cold
    code, out, _ = run(aws, capsys, "metrics", "--json")
    assert json.loads(out)[fn]["ColdStarts"] == 1

    code, out, _ = run(aws, capsys, "environments", fn)
    assert code == 0 and fn in out and "3" in out

    # follow: prints what is there, then new lines as they come
    lab = LambdaLab(aws.url)
    seen: list[str] = []
    stop = threading.Event()

    def follow():
        for line in lab.follow(fn, limit=1, interval=0.2, stop=stop.is_set):
            seen.append(line)

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    wait_until(lambda: seen)
    lab.invoke(fn, {"n": 99})
    wait_until(lambda: any("got 99" in s for s in seen))
    wait_until(lambda: any("REPORT" in s for s in seen[1:]))
    stop.set()
    t.join(5)


def test_unknown_function_is_a_clear_error(aws, capsys):
    for command in ("logs", "invoke", "metrics", "mappings", "environments"):
        argv = (command, "ghost")
        code, _, err = run(aws, capsys, *argv)
        assert code == 1, argv
        assert "function 'ghost' not found" in err, argv


def test_mappings_and_scaling_commands(aws, deploy, lam, capsys):
    fn = deploy("def handler(e, c):\n    return None\n")
    code, out, _ = run(aws, capsys, "mappings", fn)
    assert code == 0 and "no event source mappings" in out
    m = lam.create_event_source_mapping(
        FunctionName=fn,
        Topics=["orders"],
        StartingPosition="LATEST",
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:1"]}},
        BatchSize=250,
    )
    try:
        code, out, _ = run(aws, capsys, "mappings")
        row = next(line for line in out.splitlines() if line.startswith(m["UUID"])).split()
        assert row[1:5] == [fn, "orders", row[3], "250"]
        assert row[3] in ("Creating", "Enabled")
        code, out, _ = run(aws, capsys, "mappings", "--json")
        (mine,) = [x for x in json.loads(out) if x["UUID"] == m["UUID"]]
        assert mine["BatchSize"] == 250 and mine["Topic"] == "orders"
        code, out, _ = run(
            aws, capsys, "scaling", m["UUID"], "--seconds", "0", "--time-scale", "30"
        )
        assert code == 0
        assert "pollers" in out.splitlines()[0]
        assert LambdaLab(aws.url).mapping_poller(m["UUID"])["TimeScale"] == 30
        code, _, err = run(aws, capsys, "scaling", "no-such-uuid", "--seconds", "0")
        assert code == 1 and "no-such-uuid" in err
    finally:
        lam.delete_event_source_mapping(UUID=m["UUID"])


def test_simulate_command(capsys):
    code = lambda_cli.main(
        ["simulate", "--partitions", "50", "--records", "100", "--handler", "1"], prog="x"
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "50 pollers after 6 simulated min" in out


def test_deploy_and_map(aws, lam, capsys, tmp_path):
    src = tmp_path / "fn"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "main.py").write_text(
        "import os\ndef handler(e, c):\n    return {'v': os.environ.get('VAL')}\n"
    )
    (src / "pkg" / "__pycache__").mkdir()
    (src / "pkg" / "__pycache__" / "junk.pyc").write_bytes(b"x")
    name = "cli-deployed"
    try:
        code, out, err = run(
            aws,
            capsys,
            "deploy",
            name,
            "--dir",
            str(src),
            "--handler",
            "pkg.main.handler",
            "--env",
            "VAL=one",
            "--timeout",
            "5",
        )
        assert code == 0, err
        assert out.startswith(f"{name}: Active, pkg.main.handler")
        code, out, _ = run(aws, capsys, "invoke", name)
        assert json.loads(out) == {"v": "one"}
        # again: an update of code and configuration
        code, out, _ = run(
            aws,
            capsys,
            "deploy",
            name,
            "--dir",
            str(src),
            "--handler",
            "pkg.main.handler",
            "--env",
            "VAL=two",
        )
        assert code == 0
        code, out, _ = run(aws, capsys, "invoke", name)
        assert json.loads(out) == {"v": "two"}
        code, _, err = run(aws, capsys, "deploy", name, "--dir", str(tmp_path / "nope"))
        assert code == 1 and "is not a folder" in err
        code, _, err = run(aws, capsys, "deploy", name, "--dir", str(src), "--env", "novalue")
        assert code == 2 and "KEY=VALUE" in err

        code, out, _ = run(
            aws,
            capsys,
            "map",
            name,
            "--topic",
            "t1",
            "--bootstrap",
            "127.0.0.1:1",
            "--batch-size",
            "10",
        )
        assert code == 0 and "t1 -> cli-deployed" in out
        uuid = out.split(":")[0]
        got = lam.get_event_source_mapping(UUID=uuid)
        assert got["BatchSize"] == 10 and got["Topics"] == ["t1"]
        code, _, err = run(aws, capsys, "map", "ghost", "--topic", "t1", "--bootstrap", "x:1")
        assert code == 1 and "function 'ghost' not found" in err
        lam.delete_event_source_mapping(UUID=uuid)
    finally:
        with contextlib.suppress(Exception):
            lam.delete_function(FunctionName=name)
