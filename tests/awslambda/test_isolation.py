"""An environment imports what AWS's Python runtime would give it, not the lab's virtualenv: a zip
that forgot a dependency fails here as it would on AWS (research/lambda-kafka.md §4)."""

from __future__ import annotations

import base64
import sysconfig
from importlib import metadata

import boto3

from streamlab.awslambda.deployment_package import vendor
from streamlab.awslambda.runtime_dir import closure

from .lambda_helpers import source

PROBE = """
import importlib.util, os, sys
from importlib import metadata

def handler(event, context):
    def where(name):
        spec = importlib.util.find_spec(name)
        return spec.origin if spec else None

    return {
        "path": sys.path,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "runtime_dir": os.environ["LAMBDA_RUNTIME_DIR"],
        "found": {name: where(name) for name in event["modules"]},
        "boto3": metadata.version("boto3"),
    }
"""


def _tail(r: dict) -> list[str]:
    return base64.b64decode(r["LogResult"]).decode().splitlines()


def test_a_missing_dependency_fails_as_on_aws(deploy):
    code = source(
        """
        from confluent_kafka import Producer

        def handler(event, context):
            return "never"
        """
    )
    fn = deploy({"handler.py": code}, handler="handler.handler")
    r, body = deploy.invoke(fn, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == (
        "Unable to import module 'handler': No module named 'confluent_kafka'"
    )
    lines = _tail(r)
    assert [
        line.split(" ")[0] for line in lines if line.startswith(("START", "END", "REPORT"))
    ] == [
        "START",
        "END",
        "REPORT",
    ]
    assert "Error Type: Runtime.ImportModuleError" in lines[-1]


def test_the_runtime_has_the_sdk_and_nothing_else_of_the_lab(deploy):
    fn = deploy(PROBE)
    others = ["pytest", "jupyterlab", "rocksdict", "confluent_kafka", "cachetools", "streamlab"]
    sdk = ["boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"]
    r, out = deploy.invoke(fn, {"modules": others + sdk + ["json"]})
    assert "FunctionError" not in r, out
    assert {name: out["found"][name] for name in others} == dict.fromkeys(others)
    for name in sdk:
        assert out["found"][name].startswith(out["runtime_dir"] + "/"), (name, out["found"])
    assert out["boto3"] == boto3.__version__
    # the code first, then the runtime, then the standard library; never the lab's site-packages
    assert out["path"][:2] == [out["task_root"], out["runtime_dir"]]
    lab_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    assert not lab_site & set(out["path"])
    assert out["found"]["json"].startswith(sysconfig.get_paths()["stdlib"])


def test_a_vendored_pure_python_package_is_imported_from_the_zip(deploy):
    dist = metadata.distribution("cachetools")  # pure Python, not in the runtime
    files = {
        str(f): f.read_binary()
        for f in dist.files or []
        if f.parts[0] == "cachetools" and f.suffix == ".py"
    }
    files["app.py"] = source(
        """
        import cachetools

        def handler(event, context):
            cache = cachetools.LRUCache(maxsize=2)
            cache["a"] = 1
            return {"file": cachetools.__file__, "a": cache["a"]}
        """
    )
    fn = deploy(files)
    r, out = deploy.invoke(fn)
    assert "FunctionError" not in r, out
    assert out["a"] == 1
    assert "/site-packages/" not in out["file"]
    assert out["file"].endswith("/cachetools/__init__.py")


def test_the_function_pythonpath_is_kept(deploy):
    # PYTHONPATH is not reserved on AWS (e.g. /var/task/lib); relative here, to the task root
    files = {
        "app.py": "import extra\ndef handler(e, c):\n    return extra.VALUE\n",
        "lib/extra.py": "VALUE = 'from lib'\n",
    }
    fn = deploy(files, Environment={"Variables": {"PYTHONPATH": "lib"}})
    r, out = deploy.invoke(fn)
    assert "FunctionError" not in r, out
    assert out == "from lib"


def test_vendoring_follows_requirements_and_extras_but_not_the_runtime():
    names = {d.metadata["Name"] for d in closure(["confluent-kafka"])}
    assert "confluent-kafka" in names and "protobuf" not in names
    with_extra = {d.metadata["Name"] for d in closure(["confluent-kafka[protobuf]"])}
    assert {"confluent-kafka", "protobuf"} <= with_extra
    assert vendor("boto3") == {}  # the runtime has it: a zip need not carry it
    files = vendor("confluent-kafka")
    assert "confluent_kafka/__init__.py" in files
    assert not [f for f in files if f.endswith((".pyc", ".pth")) or f.startswith("..")]
