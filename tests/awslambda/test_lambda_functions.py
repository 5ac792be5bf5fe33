"""The function control plane through boto3: shapes, status codes and AWS's errors."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError

from streamlab.awslambda.testing import make_zip

from .lambda_helpers import error_of

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
HELLO = "def handler(event, context):\n    return {'hello': event.get('who', 'world')}\n"


def create(lam, aws, name, **kwargs):
    args = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": aws.role,
        "Handler": "app.handler",
        "Code": {"ZipFile": make_zip({"app.py": HELLO})},
    }
    args.update(kwargs)
    return lam.create_function(**args)


def test_create_returns_the_configuration_pending_then_active(aws, lam):
    package = make_zip({"app.py": HELLO})
    r = create(
        lam,
        aws,
        "fn-create",
        Code={"ZipFile": package},
        Timeout=30,
        MemorySize=256,
        Description="demo",
        Environment={"Variables": {"COLOUR": "blue"}},
    )
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert r["FunctionName"] == "fn-create"
    assert r["FunctionArn"] == ARN.format("fn-create")
    assert r["Runtime"] == "python3.12"
    assert r["Handler"] == "app.handler"
    assert r["Role"] == aws.role
    assert (r["Timeout"], r["MemorySize"], r["Description"]) == (30, 256, "demo")
    assert r["Environment"] == {"Variables": {"COLOUR": "blue"}}
    assert r["CodeSize"] == len(package)
    assert r["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert r["Version"] == "$LATEST"
    assert r["PackageType"] == "Zip"
    assert r["State"] == "Pending"
    assert r["StateReasonCode"] == "Creating"
    assert r["LastUpdateStatus"] == "Successful"
    assert r["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn-create"}
    assert r["LastModified"].endswith("+0000")
    lam.get_waiter("function_active_v2").wait(FunctionName="fn-create")
    assert lam.get_function_configuration(FunctionName="fn-create")["State"] == "Active"


def test_get_function_has_configuration_code_location_and_tags(aws, lam):
    package = make_zip({"app.py": HELLO})
    create(lam, aws, "fn-get", Code={"ZipFile": package}, Tags={"team": "lab"})
    r = lam.get_function(FunctionName="fn-get")
    assert r["Configuration"]["FunctionName"] == "fn-get"
    assert r["Code"]["RepositoryType"] == "S3"
    assert r["Tags"] == {"team": "lab"}
    with urllib.request.urlopen(r["Code"]["Location"]) as resp:
        assert resp.read() == package
    # by ARN, and with $LATEST
    assert lam.get_function(FunctionName=ARN.format("fn-get"))["Configuration"]["Version"] == (
        "$LATEST"
    )
    assert lam.get_function(FunctionName="fn-get", Qualifier="$LATEST")
    assert lam.list_tags(Resource=ARN.format("fn-get"))["Tags"] == {"team": "lab"}


def test_list_functions_paginates(aws, lam):
    for i in range(3):
        create(lam, aws, f"fn-list-{i}")
    names = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}):
        names += [f["FunctionName"] for f in page["Functions"]]
    assert {"fn-list-0", "fn-list-1", "fn-list-2"} <= set(names)
    first = lam.list_functions(MaxItems=1)
    assert len(first["Functions"]) == 1 and first["NextMarker"]


def test_update_code_and_configuration(aws, lam):
    create(lam, aws, "fn-update")
    lam.get_waiter("function_active_v2").wait(FunctionName="fn-update")
    new = make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"})
    r = lam.update_function_code(FunctionName="fn-update", ZipFile=new)
    assert r["LastUpdateStatus"] == "InProgress"
    assert r["CodeSha256"] == base64.b64encode(hashlib.sha256(new).digest()).decode()
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn-update")
    r = lam.update_function_configuration(
        FunctionName="fn-update", Timeout=10, MemorySize=512, Environment={"Variables": {"AB": "1"}}
    )
    assert (r["Timeout"], r["MemorySize"], r["Environment"]) == (
        10,
        512,
        {"Variables": {"AB": "1"}},
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn-update")
    cfg = lam.get_function_configuration(FunctionName="fn-update")
    assert cfg["LastUpdateStatus"] == "Successful"
    assert lam.invoke(FunctionName="fn-update")["Payload"].read() == b'"v2"'


def test_update_with_a_stale_revision_id_fails(aws, lam):
    r = create(lam, aws, "fn-revision")
    lam.get_waiter("function_active_v2").wait(FunctionName="fn-revision")
    lam.update_function_configuration(FunctionName="fn-revision", Timeout=5)
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(
            FunctionName="fn-revision", Timeout=6, RevisionId=r["RevisionId"]
        )
    code, message, status = error_of(e)
    assert (code, status) == ("PreconditionFailedException", 412)
    assert message.startswith("The Revision Id provided does not match the latest Revision Id")


def test_delete_function(aws, lam):
    create(lam, aws, "fn-delete")
    r = lam.delete_function(FunctionName="fn-delete")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="fn-delete")
    assert error_of(e) == (
        "ResourceNotFoundException",
        "Function not found: " + ARN.format("fn-delete"),
        404,
    )


def test_unknown_function_errors(aws, lam):
    for call in (
        lambda: lam.get_function(FunctionName="nope"),
        lambda: lam.get_function_configuration(FunctionName="nope"),
        lambda: lam.delete_function(FunctionName="nope"),
        lambda: lam.update_function_configuration(FunctionName="nope", Timeout=5),
        lambda: lam.invoke(FunctionName="nope"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == (
            "ResourceNotFoundException",
            "Function not found: " + ARN.format("nope"),
            404,
        )
        headers = e.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"] == "ResourceNotFoundException"


def test_unknown_version_is_not_found(aws, lam):
    create(lam, aws, "fn-version")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="fn-version", Qualifier="7")
    assert error_of(e)[1] == "Function not found: " + ARN.format("fn-version") + ":7"


def test_create_twice_conflicts(aws, lam):
    create(lam, aws, "fn-twice")
    with pytest.raises(ClientError) as e:
        create(lam, aws, "fn-twice")
    assert error_of(e) == ("ResourceConflictException", "Function already exist: fn-twice", 409)


@pytest.mark.parametrize(
    ("package", "message"),
    [
        (
            b"this is not a zip",
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ),
        (make_zip({}), "Uploaded file must be a non-empty zip"),
    ],
)
def test_bad_packages_are_rejected(aws, lam, package, message):
    with pytest.raises(ClientError) as e:
        create(lam, aws, "fn-badzip", Code={"ZipFile": package})
    assert error_of(e) == ("InvalidParameterValueException", message, 400)


def test_runtime_and_handler_are_required(aws, lam):
    with pytest.raises(ClientError) as e:
        lam.create_function(
            FunctionName="fn-nohandler",
            Runtime="python3.12",
            Role=aws.role,
            Code={"ZipFile": make_zip({"app.py": HELLO})},
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        "Runtime and Handler are mandatory parameters for functions created with deployment "
        "packages.",
        400,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"Timeout": 901},
            "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
            "Member must have value less than or equal to 900",
        ),
        (
            {"MemorySize": 20000},
            "1 validation error detected: Value '20000' at 'memorySize' failed to satisfy "
            "constraint: Member must have value less than or equal to 10240",
        ),
        (
            {"Role": "not-a-role"},
            "1 validation error detected: Value 'not-a-role' at 'role' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
        ),
    ],
)
def test_constraint_violations_are_validation_exceptions(aws, lam, kwargs, message):
    with pytest.raises(ClientError) as e:
        create(lam, aws, "fn-invalid", **kwargs)
    assert error_of(e) == ("ValidationException", message, 400)


def test_unknown_runtime_lists_the_enum(aws, lam):
    with pytest.raises(ClientError) as e:
        create(lam, aws, "fn-runtime", Runtime="python9.9")
    code, message, _ = error_of(e)
    assert code == "ValidationException"
    assert message.startswith(
        "1 validation error detected: Value 'python9.9' at 'runtime' failed to satisfy "
        "constraint: Member must satisfy enum value set: ["
    )
    assert "python3.12" in message


def test_deprecated_runtime(aws, lam):
    with pytest.raises(ClientError) as e:
        create(lam, aws, "fn-old", Runtime="python3.7")
    code, message, _ = error_of(e)
    assert code == "InvalidParameterValueException"
    assert message.startswith(
        "The runtime parameter of python3.7 is no longer supported for creating or updating "
        "AWS Lambda functions."
    )


def test_reserved_environment_variables_are_rejected(aws, lam):
    with pytest.raises(ClientError) as e:
        create(lam, aws, "fn-reserved", Environment={"Variables": {"AWS_REGION": "x"}})
    assert error_of(e) == (
        "InvalidParameterValueException",
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        "for modification. Reserved keys used in this request: AWS_REGION",
        400,
    )


def test_environment_over_4kb_is_rejected(aws, lam):
    with pytest.raises(ClientError) as e:
        create(lam, aws, "fn-bigenv", Environment={"Variables": {"BIG": "x" * 5000}})
    code, message, _ = error_of(e)
    assert code == "InvalidParameterValueException"
    assert "exceeded the 4KB limit" in message


def test_code_from_s3_via_moto(aws, lam):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="code-bucket")
    s3.put_object(Bucket="code-bucket", Key="app.zip", Body=make_zip({"app.py": HELLO}))
    create(lam, aws, "fn-s3", Code={"S3Bucket": "code-bucket", "S3Key": "app.zip"})
    lam.get_waiter("function_active_v2").wait(FunctionName="fn-s3")
    assert lam.invoke(FunctionName="fn-s3")["Payload"].read() == b'{"hello": "world"}'
    with pytest.raises(ClientError) as e:
        create(lam, aws, "fn-s3-missing", Code={"S3Bucket": "code-bucket", "S3Key": "nope.zip"})
    code, message, _ = error_of(e)
    assert code == "InvalidParameterValueException"
    assert message.startswith("Error occurred while GetObject. S3 Error Code: NoSuchKey.")


def test_reserved_concurrency_and_account_settings(aws, lam):
    create(lam, aws, "fn-conc")
    r = lam.put_function_concurrency(FunctionName="fn-conc", ReservedConcurrentExecutions=5)
    assert r["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName="fn-conc")["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName="fn-conc")["Concurrency"] == {
        "ReservedConcurrentExecutions": 5
    }
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 995
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="fn-conc", ReservedConcurrentExecutions=950)
    assert error_of(e)[1] == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    lam.delete_function_concurrency(FunctionName="fn-conc")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName="fn-conc"
    )


def test_functions_survive_an_endpoint_restart(tmp_path):
    from streamlab.awslambda.testing import EndpointProcess

    with EndpointProcess(str(tmp_path)) as aws:
        lam = aws.client("lambda")
        create(lam, aws, "fn-persist")
    with EndpointProcess(str(tmp_path)) as aws:
        lam = aws.client("lambda")
        assert lam.get_function_configuration(FunctionName="fn-persist")["State"] == "Active"
        assert lam.invoke(FunctionName="fn-persist")["Payload"].read() == b'{"hello": "world"}'


def test_zip_entries_keep_their_paths(aws, lam):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/mod.py", "def handler(e, c):\n    return 'nested'\n")
    lam.create_function(
        FunctionName="fn-nested",
        Runtime="python3.12",
        Role=aws.role,
        Handler="pkg/mod.handler",
        Code={"ZipFile": buf.getvalue()},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="fn-nested")
    assert lam.invoke(FunctionName="fn-nested")["Payload"].read() == b'"nested"'
