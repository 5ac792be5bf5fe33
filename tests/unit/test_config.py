"""Profile and client-setting resolution: env, config files, defaults, credentials."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psutil
import pytest

from streamlab import config
from streamlab.config import ConfigError


@pytest.fixture
def lab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An isolated lab home; the user's real env, ~/.config and running lab are invisible."""
    for name in list(os.environ):
        if name.startswith("STREAMLAB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user" / ".config"))
    home = tmp_path / "lab"
    home.mkdir()
    monkeypatch.setenv(config.ENV_HOME, str(home))
    monkeypatch.chdir(tmp_path)
    return home


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def user_file(name: str) -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "streamlab" / name


# --- profile ------------------------------------------------------------------------------------


def test_defaults_are_the_emulated_endpoints(lab: Path) -> None:
    assert config.active_profile().name == "emulated"
    assert config.kafka_config() == {"bootstrap.servers": "127.0.0.1:9092"}
    assert config.registry_url() == "http://127.0.0.1:8081"
    assert config.ksql_url() == "http://127.0.0.1:8088"
    assert config.aws_endpoint() == "http://127.0.0.1:4566"


@pytest.mark.parametrize(
    ("env", "lab_file", "user_file_text", "expected"),
    [
        (None, None, None, "emulated"),
        ("jvm", 'profile = "emulated"', None, "jvm"),  # env beats files
        (None, 'profile = "jvm"', 'profile = "emulated"', "jvm"),  # lab file beats user file
        (None, None, 'profile = "jvm"', "jvm"),  # user file when the lab has none
        (None, "[ports]\nkafka = 9999", 'profile = "jvm"', "jvm"),  # files merge key by key
    ],
)
def test_profile_resolution_order(
    lab: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: str | None,
    lab_file: str | None,
    user_file_text: str | None,
    expected: str,
) -> None:
    if env:
        monkeypatch.setenv(config.ENV_PROFILE, env)
    if lab_file:
        write(lab / "config.toml", lab_file)
    if user_file_text:
        write(user_file("config.toml"), user_file_text)
    assert config.active_profile().name == expected


def test_explicit_profile_beats_env(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.ENV_PROFILE, "jvm")
    assert config.load(profile="emulated").profile.name == "emulated"


def test_unknown_profile_names_the_choices(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.ENV_PROFILE, "kraft")
    with pytest.raises(ConfigError) as err:
        config.active_profile()
    assert str(err.value).startswith("unknown profile 'kraft'; choose one of: emulated, jvm,")
    assert config.ENV_PROFILE in str(err.value)


def test_a_profile_not_built_yet_says_which_are(monkeypatch: pytest.MonkeyPatch) -> None:
    future = config.Profile("flink", "Flink SQL on Confluent Cloud", available=False)
    monkeypatch.setitem(config.PROFILES, "flink", future)
    with pytest.raises(ConfigError, match=r"profile 'flink' .* is not available yet; use one of"):
        future.require_available()


@pytest.mark.parametrize("name", ["docker", "cloud"])
def test_live_profiles_are_available(name: str) -> None:
    config.get_profile(name).require_available()


def test_configured_ports_move_every_endpoint(lab: Path) -> None:
    ports = "[ports]\nkafka = 19092\nregistry = 18081\nksql = 18088\naws = 14566"
    write(lab / "config.toml", ports)
    assert config.kafka_config()["bootstrap.servers"] == "127.0.0.1:19092"
    assert config.registry_url() == "http://127.0.0.1:18081"
    assert config.ksql_url() == "http://127.0.0.1:18088"
    assert config.aws_endpoint() == "http://127.0.0.1:14566"


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ("kafak = 1", "unknown port 'kafak' in \\[ports\\]; known: kafka, console,"),
        ("kafka = 70000", r"\[ports\] kafka must be a number from 0 to 65535, not 70000"),
        ('kafka = "9092"', r"\[ports\] kafka must be a number from 0 to 65535, not '9092'"),
    ],
)
def test_bad_ports_are_refused(lab: Path, ports: str, message: str) -> None:
    write(lab / "config.toml", f"[ports]\n{ports}\n")
    with pytest.raises(ConfigError, match=message):
        config.load()


def test_broken_config_file_is_named(lab: Path) -> None:
    path = write(lab / "config.toml", "profile = \n")
    with pytest.raises(ConfigError, match=f"cannot read {path}: .*; fix or delete the file"):
        config.load()


# --- lab home -----------------------------------------------------------------------------------


def test_lab_home_from_env(tmp_path: Path) -> None:
    env = {config.ENV_HOME: str(tmp_path / "elsewhere")}
    assert config.lab_home(env) == (tmp_path / "elsewhere").resolve()


def test_lab_home_is_beside_the_streamlab_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "streamlab"\n')
    write(tmp_path / "notebooks" / "pyproject.toml", '[project]\nname = "other"\n')
    nested = tmp_path / "notebooks" / "deep"
    nested.mkdir()
    assert config.lab_home({}, cwd=nested) == tmp_path.resolve() / ".streamlab"


def test_lab_home_falls_back_to_cwd(tmp_path: Path) -> None:
    assert config.lab_home({}, cwd=tmp_path) == tmp_path.resolve() / ".streamlab"


def test_lab_paths_layout(tmp_path: Path) -> None:
    paths = config.LabPaths(tmp_path)
    assert paths.state_file("kafka") == tmp_path / "run" / "kafka.json"
    assert paths.log_file("kafka") == tmp_path / "logs" / "kafka.log"
    assert paths.data_dir("kafka") == tmp_path / "data" / "kafka"


# --- bootstrap ----------------------------------------------------------------------------------


def running_state(lab: Path, profile: str = "emulated", pid: int | None = None) -> None:
    me = psutil.Process(pid or os.getpid())
    state = {
        "component": "kafka",
        "profile": profile,
        "pid": me.pid,
        "create_time": me.create_time(),
        "started_at": time.time(),
        "bootstrap": "127.0.0.1:40001,127.0.0.1:40002",
    }
    write(lab / "run" / "kafka.json", json.dumps(state))


def test_bootstrap_comes_from_the_running_stack(lab: Path) -> None:
    running_state(lab)
    assert config.kafka_config()["bootstrap.servers"] == "127.0.0.1:40001,127.0.0.1:40002"


def test_env_bootstrap_beats_the_running_stack(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running_state(lab)
    monkeypatch.setenv(config.ENV_BOOTSTRAP, "broker:29092")
    assert config.kafka_config()["bootstrap.servers"] == "broker:29092"


def test_stack_of_another_profile_is_ignored(lab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running_state(lab, profile="jvm")
    assert config.kafka_config()["bootstrap.servers"] == "127.0.0.1:9092"


def test_state_of_a_dead_process_is_ignored(lab: Path) -> None:
    running_state(lab)
    state = json.loads((lab / "run" / "kafka.json").read_text())
    state["create_time"] -= 1000  # same pid, another process: the original is gone
    (lab / "run" / "kafka.json").write_text(json.dumps(state))
    assert config.kafka_config()["bootstrap.servers"] == "127.0.0.1:9092"


def test_port_zero_without_a_running_lab_says_to_start_it(lab: Path) -> None:
    write(lab / "config.toml", "[ports]\nkafka = 0\n")
    with pytest.raises(ConfigError, match="start it with `streamlab up`"):
        config.kafka_config()


def test_overrides_are_merged_last(lab: Path) -> None:
    conf = config.kafka_config(**{"group.id": "g1", "bootstrap.servers": "x:1"})
    assert conf == {"bootstrap.servers": "x:1", "group.id": "g1"}


def test_producer_config_hashes_keys_like_ksqldb(lab: Path) -> None:
    conf = config.producer_config(**{"bootstrap.servers": "x:1", "linger.ms": 5})
    assert conf == {
        "bootstrap.servers": "x:1",
        "partitioner": "murmur2_random",  # the Java client's partitioner, as ksqlDB uses
        "acks": "all",
        "linger.ms": 5,
    }
    assert config.producer_config(acks="1")["acks"] == "1"


# --- credentials (live profiles) ----------------------------------------------------------------


@pytest.fixture
def cloud(lab: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(config.ENV_PROFILE, "cloud")
    monkeypatch.setenv(config.ENV_BOOTSTRAP, "pkc-1.confluent.cloud:9092")
    return lab


def test_cloud_settings_from_env(cloud: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.ENV_API_KEY, "KEY1")
    monkeypatch.setenv(config.ENV_API_SECRET, "s3cret")
    assert config.kafka_config() == {
        "bootstrap.servers": "pkc-1.confluent.cloud:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "KEY1",
        "sasl.password": "s3cret",
    }


def test_cloud_credentials_from_the_lab_file(cloud: Path) -> None:
    write(cloud / "credentials.toml", '[cloud]\nkafka_api_key = "K"\nkafka_api_secret = "S"\n')
    conf = config.kafka_config()
    assert (conf["sasl.username"], conf["sasl.password"]) == ("K", "S")


def test_env_credentials_beat_files(cloud: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(user_file("credentials.toml"), '[cloud]\nkafka_api_key = "U"\nkafka_api_secret = "US"')
    write(cloud / "credentials.toml", '[cloud]\nkafka_api_secret = "LS"\n')
    monkeypatch.setenv(config.ENV_API_KEY, "E")
    conf = config.kafka_config()
    assert (conf["sasl.username"], conf["sasl.password"]) == ("E", "LS")


def test_missing_api_key_names_the_variable(cloud: Path) -> None:
    with pytest.raises(ConfigError) as err:
        config.kafka_config()
    assert str(err.value) == (
        "profile 'cloud' needs a Kafka credential: set STREAMLAB_KAFKA_API_KEY or put "
        f"kafka_api_key under [cloud] in {cloud / 'credentials.toml'} (never in the repository)"
    )


def test_missing_api_secret_names_the_variable(
    cloud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_API_KEY, "KEY1")
    with pytest.raises(ConfigError, match="set STREAMLAB_KAFKA_API_SECRET or put kafka_api_secret"):
        config.kafka_config()


def test_cloud_without_bootstrap_names_the_variable(
    lab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_PROFILE, "cloud")
    with pytest.raises(ConfigError, match="no Kafka bootstrap address: set STREAMLAB_BOOTSTRAP"):
        config.kafka_config()


def test_cloud_bootstrap_and_urls_from_the_config_file(
    lab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_PROFILE, "cloud")
    monkeypatch.setenv(config.ENV_API_KEY, "K")
    monkeypatch.setenv(config.ENV_API_SECRET, "S")
    write(
        lab / "config.toml",
        '[profiles.cloud]\nbootstrap = "pkc-2:9092"\nregistry_url = "https://psrc-1"\n',
    )
    assert config.kafka_config()["bootstrap.servers"] == "pkc-2:9092"
    assert config.registry_url() == "https://psrc-1"
    with pytest.raises(ConfigError, match=r"has no ksql_url: set \[profiles.cloud\] ksql_url"):
        config.ksql_url()


def _settings_with(tmp_path, monkeypatch, text: str):
    for name in list(os.environ):
        if name.startswith("STREAMLAB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    home = tmp_path / "lab"
    home.mkdir(parents=True)
    (home / "config.toml").write_text(text)
    monkeypatch.setenv(config.ENV_HOME, str(home))
    return config.load()


def test_broker_properties_reach_either_broker(tmp_path, monkeypatch):
    from streamlab import stack

    settings = _settings_with(
        tmp_path,
        monkeypatch,
        '[broker]\n"log.retention.check.interval.ms" = 1000\n"num.partitions" = 3\n',
    )
    assert config.broker_properties(settings) == {
        "log.retention.check.interval.ms": "1000",
        "num.partitions": "3",
    }
    ctx = stack.LaunchContext(settings, tmp_path / "d", tmp_path / "r.json", 1)
    emulated = stack.components_for("emulated")[0].command(ctx)
    at = emulated.index("--log-retention-check-interval-ms")
    assert emulated[at + 1] == "1000"
    assert emulated[emulated.index("--num-partitions") + 1] == "3"
    jvm = stack.components_for("jvm")[0].command(ctx)
    assert jvm[jvm.index("--override") :] == [
        "--override",
        "log.retention.check.interval.ms=1000",
        "--override",
        "num.partitions=3",
    ]


def test_a_broker_property_the_emulator_lacks_is_refused_by_name(tmp_path, monkeypatch):
    from streamlab import stack

    settings = _settings_with(tmp_path, monkeypatch, '[broker]\n"log.segment.bytes" = 1024\n')
    ctx = stack.LaunchContext(settings, tmp_path / "d", tmp_path / "r.json", 1)
    with pytest.raises(config.ConfigError, match=r"\[broker\] log.segment.bytes: the emulated"):
        stack.components_for("emulated")[0].command(ctx)
    # a nested table (an unquoted dotted name) is refused with how to write it
    settings = _settings_with(tmp_path / "b", monkeypatch, "[broker]\nlog.retention.ms = 1\n")
    with pytest.raises(config.ConfigError, match="quote dotted names"):
        config.broker_properties(settings)
