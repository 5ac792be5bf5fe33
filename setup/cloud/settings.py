"""The run's settings: names, region, sizes; and the Confluent Cloud API key from the environment.

Every display name starts with the run's ``name`` (``wk-<random>`` unless given), so a lost state
file can be recovered by listing resources by name, and two learners sharing an organization do
not collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from streamlab.config import ConfigError

ENV_CLOUD_KEY = "CONFLUENT_CLOUD_API_KEY"
ENV_CLOUD_SECRET = "CONFLUENT_CLOUD_API_SECRET"
API_URL = "https://api.confluent.cloud"

# AWS regions Confluent Cloud runs Basic clusters and ksqlDB in (ksqlDB's docs: "available in
# all regions" of each provider). Checked offline by `plan`; the API has the last word.
REGIONS = (
    "us-east-1", "us-east-2", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
    "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2",
    "ap-east-1", "me-south-1", "af-south-1",
)  # fmt: skip
CSU_CHOICES = (1, 2, 4, 8, 12)
TOPICS = ("stocktrade", "users", "user_trades", "trade-settlements", "user_trades-dlq")
# Datagen quickstart (upper case on Confluent Cloud) -> the topic ksql/ reads it from.
DATAGEN = {"STOCK_TRADES": "stocktrade", "USERS": "users"}
SOURCE_TOPIC = "user_trades"  # what the Lambda function consumes


def new_name() -> str:
    return f"wk-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class CloudSettings:
    """What to create. Names derive from ``name``; change sizes here, not in the steps."""

    name: str = field(default_factory=new_name)
    region: str = "us-east-1"
    partitions: int = 1
    csu: int = 1  # ksqlDB is billed per CSU-hour; the CLI would default to 4
    datagen_interval_ms: int = 1000  # longest gap between Datagen records: less data, less cost
    runtime: str = "python3.12"
    arch: str = "x86_64"

    def validate(self) -> CloudSettings:
        if self.region not in REGIONS:
            raise ConfigError(
                f"region {self.region!r} has no Confluent Cloud ksqlDB on AWS (or is not an AWS "
                f"region); choose one of: {', '.join(REGIONS)}"
            )
        if self.csu not in CSU_CHOICES:
            raise ConfigError(f"csu must be one of {CSU_CHOICES}, not {self.csu}")
        if not 1 <= self.partitions <= 6:
            raise ConfigError(f"partitions must be 1 to 6 on this path, not {self.partitions}")
        if not self.name.replace("-", "").isalnum() or len(self.name) > 20:
            raise ConfigError(
                f"name {self.name!r}: use at most 20 letters, digits and dashes (e.g. wk-ab12cd)"
            )
        return self

    def with_name(self, name: str) -> CloudSettings:
        return replace(self, name=name)

    # --- derived names ------------------------------------------------------------------------
    @property
    def cluster_name(self) -> str:
        return f"{self.name}-kafka"

    @property
    def service_account_name(self) -> str:
        return f"{self.name}-app"

    @property
    def ksql_name(self) -> str:
        return f"{self.name}-ksql"

    def connector_name(self, quickstart: str) -> str:
        return f"{self.name}-datagen-{quickstart.lower().replace('_', '-')}"

    @property
    def role_name(self) -> str:
        return f"{self.name}-settlement-role"

    @property
    def secret_name(self) -> str:
        return f"{self.name}/settlement"

    @property
    def function_name(self) -> str:
        return f"{self.name}-settlement"

    @property
    def consumer_group(self) -> str:
        return f"{self.name}-{SOURCE_TOPIC}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"


def cloud_credentials(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The Cloud API key and secret; ConfigError naming the variables when one is missing."""
    env = os.environ if env is None else env
    key, secret = env.get(ENV_CLOUD_KEY, "").strip(), env.get(ENV_CLOUD_SECRET, "").strip()
    if not key or not secret:
        missing = [n for n, v in ((ENV_CLOUD_KEY, key), (ENV_CLOUD_SECRET, secret)) if not v]
        raise ConfigError(
            f"no Confluent Cloud API key: set {' and '.join(missing)} to a Cloud API key "
            "(Console: API keys > Add key > Cloud resource management, or `confluent api-key "
            "create --resource cloud`); never put it in a file of the repository"
        )
    return key, secret
