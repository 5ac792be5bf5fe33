"""Lambda layers through boto3: the layer APIs' shapes and errors, Layers on a function, and the
layers mounted in its environments (AWS's /opt order on sys.path)."""

from __future__ import annotations

import base64
import hashlib
import json
import sys

import pytest
from botocore.exceptions import ClientError

from streamlab.awslambda.testing import EndpointProcess, make_zip

from .lambda_helpers import error_of

LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:{}"
SITE = f"python/lib/python3.{sys.version_info.minor}/site-packages"

# A function whose zip has only its handler: what it imports must come from its layers.
IMPORTER = """
import importlib, sys

def handler(event, context):
    mod = importlib.import_module(event["module"])
    return {"value": mod.VALUE, "file": mod.__file__, "path": sys.path}
"""


def publish(lam, name, files, **kwargs):
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files)}, **kwargs)


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# --- the layer APIs ---------------------------------------------------------------------------


def test_publish_numbers_versions_and_answers_the_model_shape(lam):
    first_zip = make_zip({"python/shared.py": "VALUE = 1\n"})
    r1 = lam.publish_layer_version(
        LayerName="lyr-shape",
        Content={"ZipFile": first_zip},
        Description="first",
        CompatibleRuntimes=["python3.12", "python3.13"],
        CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT",
    )
    assert r1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert r1["LayerArn"] == LAYER_ARN.format("lyr-shape")
    assert r1["LayerVersionArn"] == LAYER_ARN.format("lyr-shape") + ":1"
    assert r1["Version"] == 1
    assert r1["Description"] == "first"
    assert r1["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert r1["CompatibleArchitectures"] == ["x86_64"]
    assert r1["LicenseInfo"] == "MIT"
    assert r1["CreatedDate"].endswith("+0000")
    assert r1["Content"]["CodeSize"] == len(first_zip)
    assert r1["Content"]["CodeSha256"] == sha(first_zip)
    assert r1["Content"]["Location"]

    r2 = publish(lam, "lyr-shape", {"python/shared.py": "VALUE = 2\n"})
    assert r2["Version"] == 2
    assert r2["LayerVersionArn"].endswith(":lyr-shape:2")
    assert "CompatibleRuntimes" not in r2 and r2["Description"] == ""

    got = lam.get_layer_version(LayerName="lyr-shape", VersionNumber=1)
    assert got["LayerVersionArn"] == r1["LayerVersionArn"]
    assert got["Content"]["CodeSha256"] == sha(first_zip)
    by_arn = lam.get_layer_version_by_arn(Arn=r2["LayerVersionArn"])
    assert (by_arn["Version"], by_arn["LayerArn"]) == (2, r1["LayerArn"])
    by_layer_arn = lam.get_layer_version(LayerName=r1["LayerArn"], VersionNumber=2)
    assert by_layer_arn["Version"] == 2

    versions = lam.list_layer_versions(LayerName="lyr-shape")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]  # newest first
    assert versions[1]["LicenseInfo"] == "MIT"
    assert "Content" not in versions[0]
    only_313 = lam.list_layer_versions(LayerName="lyr-shape", CompatibleRuntime="python3.13")
    assert [v["Version"] for v in only_313["LayerVersions"]] == [1]

    layers = {x["LayerName"]: x for x in lam.list_layers()["Layers"]}
    assert layers["lyr-shape"]["LayerArn"] == r1["LayerArn"]
    assert layers["lyr-shape"]["LatestMatchingVersion"]["Version"] == 2
    arm = {x["LayerName"] for x in lam.list_layers(CompatibleArchitecture="arm64")["Layers"]}
    assert "lyr-shape" not in arm


def test_deleted_versions_are_gone_and_their_numbers_never_reused(lam):
    publish(lam, "lyr-del", {"python/a.py": "VALUE = 1\n"})
    publish(lam, "lyr-del", {"python/a.py": "VALUE = 2\n"})
    r = lam.delete_layer_version(LayerName="lyr-del", VersionNumber=2)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="lyr-del", VersionNumber=2)
    assert error_of(e)[0] == "ResourceNotFoundException"
    assert error_of(e)[2] == 404
    # deleting again (or what never existed) succeeds, as on AWS
    lam.delete_layer_version(LayerName="lyr-del", VersionNumber=2)
    assert publish(lam, "lyr-del", {"python/a.py": "VALUE = 3\n"})["Version"] == 3
    listed = lam.list_layer_versions(LayerName="lyr-del")["LayerVersions"]
    assert [v["Version"] for v in listed] == [3, 1]


def test_layer_api_errors(lam):
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="lyr-never", VersionNumber=1)
    assert error_of(e)[:1] == ("ResourceNotFoundException",)
    with pytest.raises(ClientError) as e:
        lam.get_layer_version_by_arn(Arn=LAYER_ARN.format("lyr-never") + ":7")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.get_layer_version_by_arn(Arn="arn:aws:lambda:us-east-1:123456789012:layer:x")
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.publish_layer_version(LayerName="bad name!", Content={"ZipFile": b"PK"})
    code, message, status = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert "layerName" in message
    with pytest.raises(ClientError) as e:
        lam.publish_layer_version(LayerName="lyr-badzip", Content={"ZipFile": b"not a zip"})
    code, message, _ = error_of(e)
    assert code == "InvalidParameterValueException"
    assert message.startswith("Could not unzip uploaded file")
    assert lam.list_layer_versions(LayerName="lyr-badzip")["LayerVersions"] == []
    assert lam.list_layer_versions(LayerName="lyr-never")["LayerVersions"] == []


def test_publish_from_s3(aws, lam):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="lyr-bucket")
    data = make_zip({"python/froms3.py": "VALUE = 's3'\n"})
    s3.put_object(Bucket="lyr-bucket", Key="layer.zip", Body=data)
    r = lam.publish_layer_version(
        LayerName="lyr-s3", Content={"S3Bucket": "lyr-bucket", "S3Key": "layer.zip"}
    )
    assert (r["Content"]["CodeSize"], r["Content"]["CodeSha256"]) == (len(data), sha(data))


# --- functions with layers -------------------------------------------------------------------


def test_function_imports_from_its_layers_in_aws_path_order(deploy, lam):
    plain = publish(lam, "lyr-plain", {"python/mymod.py": "VALUE = 'from python/'\n"})
    site = publish(lam, "lyr-site", {f"{SITE}/sitemod.py": "VALUE = 'from site-packages'\n"})
    arns = [plain["LayerVersionArn"], site["LayerVersionArn"]]
    fn = deploy(IMPORTER, Layers=arns)

    cfg = lam.get_function_configuration(FunctionName=fn)
    assert cfg["Layers"] == [
        {"Arn": plain["LayerVersionArn"], "CodeSize": plain["Content"]["CodeSize"]},
        {"Arn": site["LayerVersionArn"], "CodeSize": site["Content"]["CodeSize"]},
    ]
    assert all(layer["CodeSize"] > 0 for layer in cfg["Layers"])

    _, out = deploy.invoke(fn, {"module": "mymod"})
    assert out["value"] == "from python/"
    _, out = deploy.invoke(fn, {"module": "sitemod"})
    assert out["value"] == "from site-packages"
    path = out["path"]
    site_dir = next(i for i, p in enumerate(path) if p.endswith(SITE))
    python_dir = next(i for i, p in enumerate(path) if p.endswith("/python"))
    runtime = next(i for i, p in enumerate(path) if "streamlab-lambda-runtime" in p)
    assert 0 < site_dir < python_dir < runtime  # task root first, then /opt, then the runtime
    assert path[site_dir] == path[python_dir] + SITE.removeprefix("python")


def test_a_later_layer_overrides_an_earlier_ones_file(deploy, lam):
    base = publish(lam, "lyr-base", {"python/shared.py": "VALUE = 'base'\n", "python/b.py": ""})
    patch = publish(lam, "lyr-patch", {"python/shared.py": "VALUE = 'patch'\n"})
    fn = deploy(IMPORTER, Layers=[base["LayerVersionArn"], patch["LayerVersionArn"]])
    _, out = deploy.invoke(fn, {"module": "shared"})
    assert out["value"] == "patch"

    other = deploy(
        IMPORTER, suffix="reversed", Layers=[patch["LayerVersionArn"], base["LayerVersionArn"]]
    )
    _, out = deploy.invoke(other, {"module": "shared"})
    assert out["value"] == "base"


def test_function_with_a_missing_layer_version_is_refused(deploy, lam, aws):
    real = publish(lam, "lyr-real", {"python/real.py": "VALUE = 1\n"})
    missing = LAYER_ARN.format("lyr-absent") + ":1"
    with pytest.raises(ClientError) as e:
        deploy(IMPORTER, Layers=[real["LayerVersionArn"], missing])
    code, message, status = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == f"Layer version {missing} does not exist."
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=deploy.name())

    with pytest.raises(ClientError) as e:
        deploy(IMPORTER, suffix="notarn", Layers=["lyr-real"])
    assert error_of(e)[0] == "ValidationException"

    many = [publish(lam, f"lyr-many{i}", {"python/x.py": ""})["LayerVersionArn"] for i in range(6)]
    with pytest.raises(ClientError) as e:
        deploy(IMPORTER, suffix="six", Layers=many)
    assert error_of(e)[0] == "InvalidParameterValueException"

    fn = deploy(IMPORTER, suffix="ok", Layers=[real["LayerVersionArn"]])
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName=fn, Layers=[missing])
    assert error_of(e)[0] == "InvalidParameterValueException"
    cfg = lam.get_function_configuration(FunctionName=fn)
    assert [x["Arn"] for x in cfg["Layers"]] == [real["LayerVersionArn"]]


def test_removing_layers_unmounts_them_on_the_next_cold_start(deploy, lam):
    layer = publish(lam, "lyr-unmount", {"python/gone.py": "VALUE = 'mounted'\n"})
    fn = deploy(IMPORTER, Layers=[layer["LayerVersionArn"]])
    _, out = deploy.invoke(fn, {"module": "gone"})
    assert out["value"] == "mounted"

    lam.update_function_configuration(FunctionName=fn, Layers=[])
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    assert "Layers" not in lam.get_function_configuration(FunctionName=fn)
    r, out = deploy.invoke(fn, {"module": "gone"})
    assert r.get("FunctionError") == "Unhandled"
    assert out["errorType"] == "ModuleNotFoundError"
    assert "'gone'" in out["errorMessage"]


def test_a_deleted_layer_version_keeps_working_for_functions_using_it(deploy, lam):
    layer = publish(lam, "lyr-kept", {"python/kept.py": "VALUE = 'kept'\n"})
    fn = deploy(IMPORTER, Layers=[layer["LayerVersionArn"]])
    lam.delete_layer_version(LayerName="lyr-kept", VersionNumber=1)
    # a new environment (the configuration changed) still mounts AWS's kept copy
    lam.update_function_configuration(FunctionName=fn, Timeout=10)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    _, out = deploy.invoke(fn, {"module": "kept"})
    assert out["value"] == "kept"
    cfg = lam.get_function_configuration(FunctionName=fn)
    assert cfg["Layers"][0]["CodeSize"] == layer["Content"]["CodeSize"]
    with pytest.raises(ClientError) as e:  # but no function can add it any more
        deploy(IMPORTER, suffix="late", Layers=[layer["LayerVersionArn"]])
    assert error_of(e)[0] == "InvalidParameterValueException"


def test_layers_survive_an_endpoint_restart(tmp_path):
    with EndpointProcess(str(tmp_path)) as aws:
        lam = aws.client("lambda")
        publish(lam, "lyr-durable", {"python/a.py": "VALUE = 1\n"})
        publish(lam, "lyr-durable", {"python/durable.py": "VALUE = 'durable'\n"})
        lam.delete_layer_version(LayerName="lyr-durable", VersionNumber=1)
        arn = LAYER_ARN.format("lyr-durable") + ":2"
        lam.create_function(
            FunctionName="lyr-durable-fn",
            Runtime="python3.12",
            Role=aws.role,
            Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": IMPORTER})},
            Layers=[arn],
        )
    with EndpointProcess(str(tmp_path)) as aws:
        lam = aws.client("lambda")
        assert lam.get_layer_version_by_arn(Arn=arn)["Version"] == 2
        assert publish(lam, "lyr-durable", {"python/a.py": ""})["Version"] == 3
        cfg = lam.get_function_configuration(FunctionName="lyr-durable-fn")
        assert cfg["Layers"][0]["Arn"] == arn and cfg["Layers"][0]["CodeSize"] > 0
        r = lam.invoke(FunctionName="lyr-durable-fn", Payload=b'{"module": "durable"}')
        assert json.loads(r["Payload"].read())["value"] == "durable"


def test_content_location_downloads_the_zip_and_reset_forgets_layers(tmp_path):
    import urllib.error
    import urllib.request

    with EndpointProcess(str(tmp_path)) as aws:
        lam = aws.client("lambda")
        data = make_zip({"python/dl.py": "VALUE = 'dl'\n"})
        r = lam.publish_layer_version(LayerName="lyr-dl", Content={"ZipFile": data})
        with urllib.request.urlopen(r["Content"]["Location"], timeout=10) as resp:
            assert resp.read() == data  # what AWS's presigned URL gives
        missing = r["Content"]["Location"].replace("/1.zip", "/7.zip")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(missing, timeout=10)
        assert e.value.code == 404
        reset = urllib.request.Request(aws.url + "/_streamlab/reset", method="POST")
        urllib.request.urlopen(reset, timeout=30).close()
        assert lam.list_layers()["Layers"] == []
        # the lab's reset starts the account over: numbering too
        assert publish(lam, "lyr-dl", {"python/dl.py": ""})["Version"] == 1
