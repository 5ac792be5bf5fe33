"""Fixtures for the Lambda emulator tests: an endpoint process per test module, boto3 clients."""

from __future__ import annotations

import pytest

from streamlab.awslambda.testing import EndpointProcess

from .lambda_helpers import Deployer


@pytest.fixture(scope="module")
def aws(tmp_path_factory, request):
    extra = getattr(request.module, "ENDPOINT_ARGS", ())
    proc = EndpointProcess(str(tmp_path_factory.mktemp("aws")), extra_args=tuple(extra))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def lam(aws):
    return aws.client("lambda")


@pytest.fixture
def deploy(aws, lam, request):
    d = Deployer(aws, lam, request.node.name)
    yield d
    d.cleanup()
