"""Settings from the environment and the secret from Secrets Manager (lambda_fn/config.py)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from lambda_fn.config import ConfigError, Settings, producer_config, read_secret, registry_config


class FakeSecrets:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict:
        self.asked.append(SecretId)
        if SecretId not in self.secrets:
            error = {"Code": "ResourceNotFoundException", "Message": "not found"}
            raise ClientError({"Error": error}, "GetSecretValue")
        return {"SecretString": self.secrets[SecretId]}


GOOD = {"bootstrap.servers": "127.0.0.1:9092", "schema.registry.url": "http://127.0.0.1:8081"}


def test_settings_from_env_with_defaults():
    s = Settings.from_env({"SECRET_NAME": "Creds", "AWS_REGION": "eu-west-1"})
    assert (s.secret_name, s.region, s.output_topic, s.dead_letter_topic) == (
        "Creds", "eu-west-1", "trade-settlements", "user_trades-dlq",
    )  # fmt: skip
    assert s.rules.large_trade_cents == 2_500_000 and s.rules.review_share == 0.30


def test_settings_override():
    s = Settings.from_env(
        {
            "SECRET_NAME": "Creds",
            "AWS_REGION": "eu-west-1",
            "SECRET_REGION": "us-west-2",
            "LARGE_TRADE_DOLLARS": "1000.50",
            "REVIEW_SHARE": "0.1",
            "DEAD_LETTER_TOPIC": "",
            "OUTPUT_TOPIC": "out",
        }
    )
    assert s.region == "us-west-2" and s.output_topic == "out" and s.dead_letter_topic is None
    assert s.rules.large_trade_cents == 100_050 and s.rules.review_share == 0.1


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"AWS_REGION": "us-east-1"}, "SECRET_NAME is not set"),
        ({"SECRET_NAME": "Creds"}, "no region"),
        ({"SECRET_NAME": "C", "AWS_REGION": "r", "REVIEW_SHARE": "2"}, "review_share"),
        ({"SECRET_NAME": "C", "AWS_REGION": "r", "LARGE_TRADE_DOLLARS": "lots"}, "bad rule"),
    ],
)
def test_settings_errors(env, match):
    with pytest.raises(ConfigError, match=match):
        Settings.from_env(env)


def test_missing_secret_is_a_clear_error():
    with pytest.raises(ConfigError) as info:
        read_secret("Nope", "us-west-2", FakeSecrets({}))
    assert str(info.value).startswith("Secrets Manager has no secret 'Nope' in region 'us-west-2'")
    assert "SECRET_NAME" in str(info.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "is not JSON"),
        ("[1]", "must be a JSON object"),
        (json.dumps({"bootstrap.servers": "x"}), "lacks schema.registry.url"),
    ],
)
def test_bad_secret(text, match):
    with pytest.raises(ConfigError, match=match):
        read_secret("S", "r", FakeSecrets({"S": text}))


def test_secret_to_client_settings():
    secret = read_secret("S", "r", FakeSecrets({"S": json.dumps(GOOD)}))
    conf = producer_config(secret)
    assert conf["bootstrap.servers"] == "127.0.0.1:9092"
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True
    assert "sasl.username" not in conf
    assert registry_config(secret) == {"url": "http://127.0.0.1:8081"}
    cloud = {**GOOD, "username": "KEY", "password": "SECRET", "basic.auth.user.info": "k:s"}
    conf = producer_config(cloud)
    assert (conf["security.protocol"], conf["sasl.mechanism"]) == ("SASL_SSL", "PLAIN")
    assert (conf["sasl.username"], conf["sasl.password"]) == ("KEY", "SECRET")
    assert registry_config(cloud)["basic.auth.user.info"] == "k:s"


def test_secret_against_moto():
    """The same code against moto's Secrets Manager (what the lab's endpoint serves)."""
    import boto3
    import moto

    with moto.mock_aws():
        client = boto3.client("secretsmanager", region_name="us-west-2")
        client.create_secret(Name="Creds", SecretString=json.dumps(GOOD))
        assert read_secret("Creds", "us-west-2", client) == GOOD
        with pytest.raises(ConfigError, match="no secret 'Other'"):
            read_secret("Other", "us-west-2", client)


def test_handler_init_fails_clearly_without_secret_name():
    """Module-level init (once per environment) fails with the setting to fix, not a traceback
    from deep inside boto3."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "SECRET_NAME"}
    done = subprocess.run(
        [sys.executable, "-c", "import lambda_fn.handler"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ConfigError: SECRET_NAME is not set" in done.stderr
