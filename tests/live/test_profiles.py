"""The `docker` and `cloud` profiles: every client setting comes from the profile file that
`python -m setup.cloud up` writes (or the environment), never from the repository."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from setup.cloud.state import PROFILE_NAME, profile_text, write_private
from streamlab import config, pipeline, stack
from streamlab.config import ConfigError
from streamlab.ksql.client import KsqlClient

ENDPOINTS = {
    "bootstrap": "pkc-9.eu-west-1.aws.confluent.cloud:9092",
    "registry_url": "https://psrc-9.eu-west-1.aws.confluent.cloud",
    "ksql_url": "https://pksqlc-9.eu-west-1.aws.confluent.cloud",
    "aws_region": "eu-west-1",
    "function_name": "wk-t-settlement",
    "secret_name": "wk-t/settlement",
}
CREDENTIALS = {
    "kafka_api_key": "KAFKAKEY", "kafka_api_secret": "kafka-s3cret",
    "registry_api_key": "SRKEY", "registry_api_secret": "sr-s3cret",
    "ksql_api_key": "KSQLKEY", "ksql_api_secret": "ksql-s3cret",
}  # fmt: skip


@pytest.fixture
def lab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("STREAMLAB_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user" / ".config"))
    home = tmp_path / "lab"
    monkeypatch.setenv(config.ENV_HOME, str(home))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def cloud(lab: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(config.ENV_PROFILE, "cloud")
    write_private(lab / PROFILE_NAME, profile_text(ENDPOINTS, CREDENTIALS))
    return lab


def test_cloud_profile_from_the_file_setup_writes(cloud: Path) -> None:
    assert config.kafka_config(**{"group.id": "g"}) == {
        "bootstrap.servers": ENDPOINTS["bootstrap"],
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "KAFKAKEY",
        "sasl.password": "kafka-s3cret",
        "group.id": "g",
    }
    assert config.registry_config() == {
        "url": ENDPOINTS["registry_url"],
        "basic.auth.user.info": "SRKEY:sr-s3cret",
    }
    assert config.ksql_url() == ENDPOINTS["ksql_url"]
    assert config.ksql_credentials() == ("KSQLKEY", "ksql-s3cret")
    assert config.aws_region() == "eu-west-1"
    assert config.aws_client_kwargs() == {"region_name": "eu-west-1"}  # boto3's own credentials
    assert pipeline.function_name() == "wk-t-settlement"


def test_cloud_has_no_aws_endpoint_and_says_what_to_use(cloud: Path) -> None:
    with pytest.raises(ConfigError, match=r"uses AWS itself.*aws_client_kwargs\(\)"):
        config.aws_endpoint()


def test_what_a_person_writes_beats_the_generated_file(cloud: Path, monkeypatch) -> None:
    (cloud / "credentials.toml").write_text('[cloud]\nkafka_api_key = "MINE"\n')
    (cloud / "config.toml").write_text('[profiles.cloud]\nbootstrap = "pkc-mine:9092"\n')
    conf = config.kafka_config()
    assert (conf["bootstrap.servers"], conf["sasl.username"]) == ("pkc-mine:9092", "MINE")
    assert conf["sasl.password"] == "kafka-s3cret"  # the rest still from the profile file
    monkeypatch.setenv(config.ENV_API_KEY, "ENV")
    monkeypatch.setenv(config.ENV_REGISTRY_KEY, "SRENV")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert config.kafka_config()["sasl.username"] == "ENV"
    assert config.registry_config()["basic.auth.user.info"] == "SRENV:sr-s3cret"
    assert config.aws_region() == "eu-west-1"  # the function's region, where its secret is


def test_cloud_without_the_profile_file_says_how_to_get_one(lab: Path, monkeypatch) -> None:
    monkeypatch.setenv(config.ENV_PROFILE, "cloud")
    with pytest.raises(ConfigError, match="no Kafka bootstrap address"):
        config.kafka_config()
    assert config.registry_credentials() is None  # optional: no auth without a key


def test_a_key_without_its_secret_is_an_error(lab: Path, monkeypatch) -> None:
    monkeypatch.setenv(config.ENV_PROFILE, "cloud")
    monkeypatch.setenv(config.ENV_KSQL_KEY, "K")
    with pytest.raises(
        ConfigError, match="needs a ksqlDB credential: set STREAMLAB_KSQL_API_SECRET"
    ):
        config.ksql_credentials()


class Recorder(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_POST(self) -> None:
        Recorder.seen.append(self.headers.get("Authorization"))
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps([{"@type": "streams", "streams": []}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_the_ksql_client_sends_the_profiles_key(cloud: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (cloud / "config.toml").write_text(
            f'[profiles.cloud]\nksql_url = "http://127.0.0.1:{server.server_port}"\n'
        )
        url = f"http://127.0.0.1:{server.server_port}"
        KsqlClient().execute("SHOW STREAMS;")
        KsqlClient(url + "/").execute("SHOW STREAMS;")  # what %%ksql does: the same server
        KsqlClient(url.replace("127.0.0.1", "localhost")).execute("SHOW STREAMS;")
    finally:
        server.shutdown()
        server.server_close()
    token = base64.b64encode(b"KSQLKEY:ksql-s3cret").decode()
    # The key goes to the profile's server only, never to another address.
    assert Recorder.seen[-3:] == [f"Basic {token}", f"Basic {token}", None]


def test_pipeline_clients_reach_aws_itself_on_cloud(cloud: Path) -> None:
    lam = pipeline.aws_client("lambda")
    assert lam.meta.region_name == "eu-west-1"
    assert lam.meta.endpoint_url == "https://lambda.eu-west-1.amazonaws.com"


def test_pipeline_up_on_cloud_points_to_setup_cloud(cloud: Path) -> None:
    with pytest.raises(pipeline.PipelineError, match=r"`python -m setup.cloud up` deploys"):
        pipeline.up(out=lambda line: None)


def test_docker_profile_uses_the_compose_ports(lab: Path, monkeypatch) -> None:
    monkeypatch.setenv(config.ENV_PROFILE, "docker")
    assert config.kafka_config() == {"bootstrap.servers": "127.0.0.1:9092"}
    assert config.registry_config() == {"url": "http://127.0.0.1:8081"}
    assert config.ksql_url() == "http://127.0.0.1:8088"
    assert config.ksql_credentials() is None
    assert config.aws_endpoint() == "http://127.0.0.1:4566"  # the Lambda emulator, on this host
    # `streamlab up --profile docker` runs only what Compose does not.
    assert {c.name for c in stack.components_for("docker")} == {"aws", "datagen"}
