"""The function's settings: environment variables for what may differ per deployment, and one
Secrets Manager secret for the connection details (as the reference app and the article do).

Environment variables (set on the function, e.g. ``create_function(Environment=...)``):

=======================  =====================================================================
``SECRET_NAME``          required: the secret with the Kafka and Schema Registry settings
``SECRET_REGION``        the secret's region; default the function's own ``AWS_REGION``
``OUTPUT_TOPIC``         default ``trade-settlements``
``DEAD_LETTER_TOPIC``    where records that can never be settled go; default ``user_trades-dlq``;
                         empty: such a record fails the invocation instead
``LARGE_TRADE_DOLLARS``  a trade worth more is Pending; default 25000
``REVIEW_SHARE``         share of the other trades flagged for review; default 0.30
=======================  =====================================================================

The secret is a JSON object. It needs ``bootstrap.servers`` and ``schema.registry.url``; optional
``username``/``password`` (the cluster API key: the same two keys the event source mapping's
BASIC_AUTH reads, so one secret serves both), ``security.protocol``, ``sasl.mechanism`` and
``basic.auth.user.info`` (the registry's key:secret). Nothing is hard-coded: not the region, not
the secret's name (both were in the reference app).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_fn.settlement import Rules


class ConfigError(RuntimeError):
    """The function is not configured correctly; the message says what to set or create."""


@dataclass(frozen=True)
class Settings:
    secret_name: str
    region: str
    output_topic: str = "trade-settlements"
    dead_letter_topic: str | None = "user_trades-dlq"
    rules: Rules = field(default_factory=Rules)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        name = env.get("SECRET_NAME", "").strip()
        if not name:
            raise ConfigError(
                "SECRET_NAME is not set: set it on the function to the name of the Secrets "
                "Manager secret holding bootstrap.servers and schema.registry.url"
            )
        region = env.get("SECRET_REGION") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not region:
            raise ConfigError("no region: set SECRET_REGION (or AWS_REGION)")
        try:
            rules = Rules(
                large_trade_cents=round(float(env.get("LARGE_TRADE_DOLLARS", "25000")) * 100),
                review_share=float(env.get("REVIEW_SHARE", "0.30")),
            )
        except ValueError as e:
            raise ConfigError(f"bad rule setting: {e}") from e
        dlq = env.get("DEAD_LETTER_TOPIC", "user_trades-dlq").strip()
        return cls(
            secret_name=name,
            region=region,
            output_topic=env.get("OUTPUT_TOPIC", "trade-settlements"),
            dead_letter_topic=dlq or None,
            rules=rules,
        )


def read_secret(name: str, region: str, client: Any = None) -> dict[str, str]:
    """The secret's JSON object. ``client``: a boto3 Secrets Manager client (default: a new one;
    boto3 honours ``AWS_ENDPOINT_URL``, which is how the same code reaches the lab's endpoint)."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager", region_name=region)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = client.get_secret_value(SecretId=name)
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise ConfigError(
                f"Secrets Manager has no secret {name!r} in region {region!r}: create it (a JSON "
                "object with bootstrap.servers and schema.registry.url) or fix SECRET_NAME / "
                "SECRET_REGION"
            ) from e
        raise ConfigError(f"cannot read secret {name!r} in {region!r}: {code}: {e}") from e
    except BotoCoreError as e:
        raise ConfigError(f"cannot reach Secrets Manager for secret {name!r}: {e}") from e
    text = answer.get("SecretString")
    if text is None:
        import base64

        text = base64.b64decode(answer["SecretBinary"]).decode()
    try:
        secret = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"secret {name!r} is not JSON: {e}") from e
    if not isinstance(secret, dict):
        raise ConfigError(f"secret {name!r} must be a JSON object, got {type(secret).__name__}")
    missing = [k for k in ("bootstrap.servers", "schema.registry.url") if not secret.get(k)]
    if missing:
        raise ConfigError(f"secret {name!r} lacks {', '.join(missing)}")
    return {k: str(v) for k, v in secret.items()}


def producer_config(secret: Mapping[str, str]) -> dict[str, Any]:
    """confluent-kafka settings for the settlement producer."""
    conf: dict[str, Any] = {
        "bootstrap.servers": secret["bootstrap.servers"],
        "client.id": "LambdaProducer",  # the reference's name, seen in lineage and /api/clients
        "acks": "all",
        # The idempotent producer: librdkafka's own retries cannot write a record twice. (A
        # Lambda retry of a whole batch still can: see app.py.)
        "enable.idempotence": True,
        # Java's key hashing, as ksqlDB and Kafka Connect use: the same symbol lands on the same
        # partition whoever writes it.
        "partitioner": "murmur2_random",
        "linger.ms": 5,
    }
    if secret.get("username"):
        conf["security.protocol"] = secret.get("security.protocol", "SASL_SSL")
        conf["sasl.mechanism"] = secret.get("sasl.mechanism", "PLAIN")
        conf["sasl.username"] = secret["username"]
        conf["sasl.password"] = secret.get("password", "")
    elif secret.get("security.protocol"):
        conf["security.protocol"] = secret["security.protocol"]
    return conf


def registry_config(secret: Mapping[str, str]) -> dict[str, Any]:
    conf: dict[str, Any] = {"url": secret["schema.registry.url"]}
    if secret.get("basic.auth.user.info"):
        conf["basic.auth.user.info"] = secret["basic.auth.user.info"]
    return conf
