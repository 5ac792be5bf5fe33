"""Profiles, lab paths and client settings for the active profile.

Every client in the workshop (notebooks, ``lambda_fn``, tests) gets its settings here, so the same
code runs on every profile:

    >>> from confluent_kafka import Producer
    >>> from streamlab.config import kafka_config
    >>> producer = Producer(kafka_config(**{"client.id": "lesson-01"}))  # doctest: +SKIP

Resolution order, first match wins:

* profile: env ``STREAMLAB_PROFILE`` > ``profile`` in a config file > ``emulated``;
* bootstrap: env ``STREAMLAB_BOOTSTRAP`` > the running stack's state file (the ports it really
  got) > ``[profiles.<name>] bootstrap`` in a config file > ``127.0.0.1:<ports.kafka>``;
* config file: ``<lab home>/config.toml`` overrides the profile files
  ``<lab home>/profiles/*.toml`` (written by ``python -m setup.cloud up``), which override
  ``~/.config/streamlab/config.toml``;
* credentials: env ``STREAMLAB_KAFKA_API_KEY``/``STREAMLAB_KAFKA_API_SECRET`` >
  ``<lab home>/credentials.toml`` > ``~/.config/streamlab/credentials.toml`` >
  ``[credentials.<profile>]`` in a profile file. The same for the Schema Registry
  (``STREAMLAB_REGISTRY_API_KEY``/``_SECRET``, ``registry_api_key``/``registry_api_secret``) and
  ksqlDB (``STREAMLAB_KSQL_API_KEY``/``_SECRET``, ``ksql_api_key``/``ksql_api_secret``), which
  are optional: without them no auth is sent. The lab home is git-ignored, so credentials never
  land in the repository.

Profiles: ``emulated`` and ``jvm`` run everything here (``streamlab up``); ``docker`` uses real
Kafka, Schema Registry and ksqlDB from ``setup/docker/compose.yaml`` on the usual ports, and
``streamlab up`` runs the Lambda emulator and datagen; ``cloud`` is Confluent Cloud and AWS, from
the profile file ``python -m setup.cloud up`` writes (AWS credentials: boto3's own chain).

A config file looks like this (every key optional)::

    profile = "emulated"

    [ports]
    kafka = 9092      # 0 lets the OS choose (tests use this)
    console = 9021

    [profiles.cloud]
    bootstrap = "pkc-xxxxx.eu-west-1.aws.confluent.cloud:9092"
    registry_url = "https://psrc-xxxxx.eu-west-1.aws.confluent.cloud"
    ksql_url = "https://pksqlc-xxxxx.eu-west-1.aws.confluent.cloud"
    aws_region = "eu-west-1"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PROFILE = "STREAMLAB_PROFILE"
ENV_HOME = "STREAMLAB_HOME"
ENV_BOOTSTRAP = "STREAMLAB_BOOTSTRAP"
ENV_API_KEY = "STREAMLAB_KAFKA_API_KEY"
ENV_API_SECRET = "STREAMLAB_KAFKA_API_SECRET"
ENV_REGISTRY_KEY = "STREAMLAB_REGISTRY_API_KEY"
ENV_REGISTRY_SECRET = "STREAMLAB_REGISTRY_API_SECRET"
ENV_KSQL_KEY = "STREAMLAB_KSQL_API_KEY"
ENV_KSQL_SECRET = "STREAMLAB_KSQL_API_SECRET"
DEFAULT_REGION = "us-east-1"

DEFAULT_PROFILE = "emulated"
DEFAULT_PORTS = {"kafka": 9092, "console": 9021, "registry": 8081, "ksql": 8088, "aws": 4566}
LOCALHOST = "127.0.0.1"


class StreamlabError(Exception):
    """An expected failure with a message that says what went wrong and what to do.

    The CLI prints the message as one line (no traceback) and exits non-zero.
    """


class ConfigError(StreamlabError):
    """The configuration is missing something or is invalid."""


@dataclass(frozen=True)
class Profile:
    """Where the systems the workshop talks to come from.

    Attributes:
        name: what ``STREAMLAB_PROFILE`` and ``--profile`` accept.
        description: one line for help texts and errors.
        available: False for profiles that are recognised but not built yet.
        local: True when ``streamlab up`` runs the systems on this machine.
        security_protocol: Kafka ``security.protocol`` when the profile needs credentials.
    """

    name: str
    description: str
    available: bool = True
    local: bool = True
    security_protocol: str | None = None

    @property
    def needs_credentials(self) -> bool:
        return self.security_protocol is not None

    def require_available(self) -> None:
        if not self.available:
            ready = ", ".join(p.name for p in PROFILES.values() if p.available)
            raise ConfigError(
                f"profile {self.name!r} ({self.description}) is not available yet; "
                f"use one of: {ready}"
            )


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("emulated", "the offline emulators in streamlab (no JVM, no Docker)"),
        Profile("jvm", "real Apache Kafka started from Maven jars (needs Java 17+ and Maven)"),
        Profile(
            "docker",
            "real Kafka, Schema Registry and ksqlDB in Docker Compose (setup/docker); the "
            "Lambda emulator here",
        ),
        Profile(
            "cloud",
            "Confluent Cloud and AWS (python -m setup.cloud up)",
            local=False,
            security_protocol="SASL_SSL",
        ),
    )
}


@dataclass(frozen=True)
class LabPaths:
    """The lab home (``.streamlab/``) and where each component keeps its files."""

    home: Path

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def data(self) -> Path:
        return self.home / "data"

    def state_file(self, component: str) -> Path:
        return self.run / f"{component}.json"

    def log_file(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def data_dir(self, name: str) -> Path:
        return self.data / name


@dataclass(frozen=True)
class Settings:
    """Everything resolved from env and config files; build it with :func:`load`."""

    profile: Profile
    paths: LabPaths
    ports: dict[str, int]
    file: dict[str, Any]  # merged config files, for profile-specific keys
    env: dict[str, str]

    def profile_value(self, key: str) -> Any:
        return self.file.get("profiles", {}).get(self.profile.name, {}).get(key)


# --- resolution ---------------------------------------------------------------------------------


def project_root(start: Path | None = None) -> Path:
    """The nearest directory holding streamlab's pyproject.toml, else ``start`` (the cwd)."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _project_name(pyproject) == "streamlab":
            return folder
    return start


def lab_home(env: dict[str, str] | None = None, cwd: Path | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(ENV_HOME):
        return Path(env[ENV_HOME]).expanduser().resolve()
    return project_root(cwd) / ".streamlab"


def user_config_dir(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "streamlab"


def load(
    env: dict[str, str] | None = None, cwd: Path | None = None, profile: str | None = None
) -> Settings:
    """Resolve the active settings. ``profile`` (e.g. from ``--profile``) beats everything."""
    env = dict(os.environ if env is None else env)
    home = lab_home(env, cwd)
    profile_files = sorted((home / "profiles").glob("*.toml"))
    file = _merge(
        _read_toml(user_config_dir(env) / "config.toml"),
        *(_read_toml(f) for f in profile_files),
        _read_toml(home / "config.toml"),
    )
    name = profile or env.get(ENV_PROFILE) or file.get("profile") or DEFAULT_PROFILE
    return Settings(
        profile=get_profile(name),
        paths=LabPaths(home),
        ports=_ports(file.get("ports", {})),
        file=file,
        env=env,
    )


def broker_properties(settings: Settings) -> dict[str, str]:
    """``[broker]`` of config.toml: server.properties for the lab's own broker (the emulated
    cluster or the jvm profile's Kafka), e.g. ``"log.retention.check.interval.ms" = 1000``."""
    table = settings.file.get("broker", {})
    if not isinstance(table, dict):
        raise ConfigError("[broker] in config.toml must be a table of Kafka broker properties")
    out = {}
    for name, value in table.items():
        if isinstance(value, dict | list):
            raise ConfigError(
                f"[broker] {name}: a broker property is one value; quote dotted names, as in "
                f'"{name}.<...>" = 1000'
            )
        out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ConfigError(
            f"unknown profile {name!r}; choose one of: {known} "
            f"(set by --profile, {ENV_PROFILE} or 'profile' in config.toml)"
        ) from None


def active_profile() -> Profile:
    return load().profile


# --- client settings ----------------------------------------------------------------------------


def kafka_config(**overrides: Any) -> dict[str, Any]:
    """confluent-kafka settings for the active profile, plus ``overrides``.

    Args:
        overrides: librdkafka keys contain dots, so pass them as a dict:
            ``kafka_config(**{"group.id": "lesson-01", "auto.offset.reset": "earliest"})``.

    Raises:
        ConfigError: a live profile lacks its bootstrap address or a credential.
    """
    settings = load()
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap_servers(settings)}
    if settings.profile.needs_credentials:
        key, secret = kafka_credentials(settings)
        conf.update(
            {
                "security.protocol": settings.profile.security_protocol,
                "sasl.mechanisms": "PLAIN",
                "sasl.username": key,
                "sasl.password": secret,
            }
        )
    conf.update(overrides)
    return conf


def producer_config(**overrides: Any) -> dict[str, Any]:
    """``kafka_config()`` for a Producer, with the settings this workshop teaches.

    - ``partitioner=murmur2_random``: the Java client's key hashing, which ksqlDB, Kafka Connect
      (Datagen) and Kafka Streams use. librdkafka's default (CRC32) would put the same key on a
      different partition than ksqlDB does, and a stream-table join would then miss rows.
    - ``acks=all``: a record counts as written once every in-sync replica has it.
    Consumers and admin clients warn about these producer-only keys, hence a separate helper.
    """
    return kafka_config(**{"partitioner": "murmur2_random", "acks": "all", **overrides})


def bootstrap_servers(settings: Settings) -> str:
    if settings.env.get(ENV_BOOTSTRAP):
        return settings.env[ENV_BOOTSTRAP]
    if settings.profile.local:
        # Imported here: stack builds on this module, and only this lookup needs it.
        from streamlab import stack

        running = stack.running_state(settings, "kafka")
        if running and running.get("bootstrap"):
            return running["bootstrap"]
    configured = settings.profile_value("bootstrap")
    if configured:
        return configured
    if not settings.profile.local:
        raise ConfigError(
            f"profile {settings.profile.name!r} has no Kafka bootstrap address: set "
            f"{ENV_BOOTSTRAP} or [profiles.{settings.profile.name}] bootstrap in "
            f"{settings.paths.home / 'config.toml'}"
        )
    port = settings.ports["kafka"]
    if port == 0:
        raise ConfigError(
            "the Kafka port is set to 0 (chosen at start) and the lab is not running; "
            "start it with `streamlab up`"
        )
    return f"{LOCALHOST}:{port}"


def _stored_credentials(settings: Settings) -> tuple[Path, dict[str, Any]]:
    """The lab's credentials file (named in errors) and the profile's merged credentials."""
    files = [
        settings.paths.home / "credentials.toml",
        user_config_dir(settings.env) / "credentials.toml",
    ]
    written = _merge(*(_read_toml(f) for f in reversed(files))).get(settings.profile.name, {})
    generated = settings.file.get("credentials", {}).get(settings.profile.name, {})
    return files[0], _merge(generated, written)  # what a person wrote beats what setup wrote


def _key_pair(
    settings: Settings, what: str, names: tuple[tuple[str, str], tuple[str, str]], required: bool
) -> tuple[str, str] | None:
    lab_file, stored = _stored_credentials(settings)
    values = []
    for env_name, file_key in names:
        value = settings.env.get(env_name) or stored.get(file_key)
        if not value:
            if not required and not values:
                return None
            raise ConfigError(
                f"profile {settings.profile.name!r} needs a {what} credential: set {env_name} "
                f"or put {file_key} under [{settings.profile.name}] in {lab_file} "
                "(never in the repository)"
            )
        values.append(str(value))
    return values[0], values[1]


def kafka_credentials(settings: Settings) -> tuple[str, str]:
    """The Kafka API key and secret for a live profile, from env or a git-ignored file."""
    names = ((ENV_API_KEY, "kafka_api_key"), (ENV_API_SECRET, "kafka_api_secret"))
    pair = _key_pair(settings, "Kafka", names, required=True)
    assert pair is not None
    return pair


def registry_credentials(settings: Settings | None = None) -> tuple[str, str] | None:
    """The Schema Registry API key and secret if the profile has them (None: no auth)."""
    names = ((ENV_REGISTRY_KEY, "registry_api_key"), (ENV_REGISTRY_SECRET, "registry_api_secret"))
    return _key_pair(settings or load(), "Schema Registry", names, required=False)


def ksql_credentials(settings: Settings | None = None) -> tuple[str, str] | None:
    """The ksqlDB API key and secret if the profile has them (None: no auth)."""
    names = ((ENV_KSQL_KEY, "ksql_api_key"), (ENV_KSQL_SECRET, "ksql_api_secret"))
    return _key_pair(settings or load(), "ksqlDB", names, required=False)


def registry_url() -> str:
    return _endpoint("registry_url", "registry", component="registry")


def registry_config(**overrides: Any) -> dict[str, Any]:
    """``SchemaRegistryClient`` settings for the active profile: the URL, and basic auth when
    the profile has a registry key (Confluent Cloud)."""
    conf: dict[str, Any] = {"url": registry_url()}
    pair = registry_credentials()
    if pair:
        conf["basic.auth.user.info"] = f"{pair[0]}:{pair[1]}"
    conf.update(overrides)
    return conf


def ksql_url() -> str:
    return _endpoint("ksql_url", "ksql", component="ksql")


def aws_region(settings: Settings | None = None) -> str:
    """The profile's ``aws_region``, else ``AWS_REGION``/``AWS_DEFAULT_REGION``, else us-east-1."""
    settings = settings or load()
    return (
        settings.profile_value("aws_region")
        or settings.env.get("AWS_REGION")
        or settings.env.get("AWS_DEFAULT_REGION")
        or DEFAULT_REGION
    )


def aws_endpoint() -> str:
    settings = load()
    if not settings.profile.local and not settings.profile_value("aws_endpoint"):
        raise ConfigError(
            f"profile {settings.profile.name!r} uses AWS itself, which has no single endpoint "
            "URL: create clients with boto3.client(service, **streamlab.config.aws_client_kwargs())"
        )
    return _endpoint("aws_endpoint", "aws", component="aws")


def aws_client_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``boto3.client(service, ...)`` on the active profile: the lab's
    endpoint with dummy credentials locally; only the region on a live profile (the
    credentials then come from boto3's own chain: env, ~/.aws, AWS_PROFILE)."""
    settings = load()
    region = aws_region(settings)
    if not settings.profile.local and not settings.profile_value("aws_endpoint"):
        return {"region_name": region}
    return {
        "region_name": region,
        "endpoint_url": aws_endpoint(),
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def _endpoint(key: str, port_name: str, component: str | None = None) -> str:
    """What a config file says for the profile, else the running component's real address,
    else the emulated default."""
    settings = load()
    configured = settings.profile_value(key)
    if configured:
        return configured
    if component and settings.profile.local:
        from streamlab import stack

        running = stack.running_state(settings, component)
        url = (running or {}).get("ready", {}).get("url")
        if url:
            return url
    if not settings.profile.local:
        raise ConfigError(
            f"profile {settings.profile.name!r} has no {key}: set [profiles."
            f"{settings.profile.name}] {key} in {settings.paths.home / 'config.toml'}"
        )
    return f"http://{LOCALHOST}:{settings.ports[port_name]}"


# --- helpers ------------------------------------------------------------------------------------


def _ports(configured: dict[str, Any]) -> dict[str, int]:
    ports = dict(DEFAULT_PORTS)
    for name, value in configured.items():
        if name not in ports:
            raise ConfigError(f"unknown port {name!r} in [ports]; known: {', '.join(ports)}")
        if not isinstance(value, int) or not 0 <= value <= 65535:
            raise ConfigError(f"[ports] {name} must be a number from 0 to 65535, not {value!r}")
        ports[name] = value
    return ports


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}; fix or delete the file") from None


def _merge(*layers: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge dicts; later layers win."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
    return merged


def _project_name(pyproject: Path) -> str | None:
    try:
        with pyproject.open("rb") as f:
            return tomllib.load(f).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return None
