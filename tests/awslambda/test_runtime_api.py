"""The Runtime API's answers to calls in the wrong state, seen from inside a running function."""

from __future__ import annotations

PROBE = """
import json, os, urllib.request, urllib.error

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"

def call(method, path, body=None):
    req = urllib.request.Request(API + path, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

def handler(event, context):
    return {
        "bad_id": call("POST", "/invocation/not-the-request-id/response", b"{}"),
        "bad_id_error": call("POST", "/invocation/not-the-request-id/error", b"{}"),
        "next_while_running": call("GET", "/invocation/next"),
        "init_error_late": call("POST", "/init/error", b"{}"),
        "deadline_ok": context.get_remaining_time_in_millis() > 0,
        "arn": context.invoked_function_arn,
        "trace": os.environ.get("_X_AMZN_TRACE_ID", ""),
    }
"""


def test_wrong_state_and_wrong_id_answers(deploy):
    fn = deploy(PROBE)
    r, body = deploy.invoke(fn)
    assert "FunctionError" not in r
    assert body["bad_id"] == [
        400,
        {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"},
    ]
    assert body["bad_id_error"][0] == 400
    status, err = body["next_while_running"]
    assert status == 403
    assert err == {
        "errorMessage": "State transition from Running to Ready failed for runtime. Error: State "
        "transition is not allowed",
        "errorType": "InvalidStateTransition",
    }
    status, err = body["init_error_late"]
    assert status == 403 and err["errorType"] == "InvalidStateTransition"
    assert body["deadline_ok"] is True
    assert body["arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{fn}"
    assert body["trace"].startswith("Root=1-")
