"""Topic/broker config definitions: validation with Kafka's messages, IncrementalAlterConfigs
semantics and how configs are described (sources, synonyms, types)."""

from __future__ import annotations

import pytest

from streamlab.kafka import configs
from streamlab.kafka.configs import (
    APPEND,
    DEFAULT_CONFIG,
    DELETE,
    DYNAMIC_TOPIC_CONFIG,
    SET,
    STATIC_BROKER_CONFIG,
    SUBTRACT,
    ConfigError,
    describe_broker,
    describe_topic,
    incremental_alter,
    validate_topic_configs,
)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("nope", "1", "Unknown topic config name: nope"),
        (
            "retention.ms",
            "abc",
            "Invalid value abc for configuration retention.ms: Not a number of type LONG",
        ),
        (
            "segment.bytes",
            "99999999999",
            "Invalid value 99999999999 for configuration segment.bytes: Not a number of type INT",
        ),
        (
            "min.insync.replicas",
            "0",
            "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1",
        ),
        (
            "retention.ms",
            "-2",
            "Invalid value -2 for configuration retention.ms: Value must be at least -1",
        ),
        (
            "min.cleanable.dirty.ratio",
            "1.5",
            "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more "
            "than 1",
        ),
        (
            "preallocate",
            "yes",
            "Invalid value yes for configuration preallocate: Expected value to be either true or "
            "false",
        ),
        (
            "cleanup.policy",
            "delete,purge",
            # ValidList checks item by item and names the offending item
            "Invalid value purge for configuration cleanup.policy: String must be one of: "
            "compact, delete",
        ),
        (
            "message.timestamp.type",
            "Now",
            "Invalid value Now for configuration message.timestamp.type: String must be one of: "
            "CreateTime, LogAppendTime",
        ),
    ],
)
def test_invalid_values_get_kafkas_messages(name, value, message):
    with pytest.raises(ConfigError) as err:
        validate_topic_configs({name: value})
    assert str(err.value) == message


def test_valid_values_are_kept_and_nulls_dropped():
    got = validate_topic_configs(
        {
            "cleanup.policy": "compact,delete",
            "retention.ms": "-1",
            "min.cleanable.dirty.ratio": "0.1",
            "preallocate": "TRUE",
            "segment.bytes": " 1048576 ",
            "max.message.bytes": None,
        }
    )
    assert got == {
        "cleanup.policy": "compact,delete",
        "retention.ms": "-1",
        "min.cleanable.dirty.ratio": "0.1",
        "preallocate": "TRUE",
        "segment.bytes": "1048576",
    }


def test_configs_of_features_the_emulator_lacks_are_still_accepted():
    # settings copied from a real cluster must not fail here
    assert validate_topic_configs({"remote.storage.enable": "false", "local.retention.ms": "-2"})


def test_incremental_set_and_delete():
    current = {"retention.ms": "1000", "cleanup.policy": "compact"}
    got = incremental_alter(
        current,
        [
            ("retention.ms", DELETE, None),
            ("max.message.bytes", SET, "2048"),
            ("nope", DELETE, None),
        ],
    )
    assert got == {"cleanup.policy": "compact", "max.message.bytes": "2048"}
    assert current == {"retention.ms": "1000", "cleanup.policy": "compact"}  # not modified


def test_incremental_append_and_subtract_start_from_the_default():
    got = incremental_alter({}, [("cleanup.policy", APPEND, "compact")])
    assert got == {"cleanup.policy": "delete,compact"}
    got = incremental_alter(got, [("cleanup.policy", SUBTRACT, "delete")])
    assert got == {"cleanup.policy": "compact"}
    # appending what is there already changes nothing; subtracting what is not there neither
    got = incremental_alter(got, [("cleanup.policy", APPEND, "compact")])
    assert got == {"cleanup.policy": "compact"}
    got = incremental_alter(got, [("cleanup.policy", SUBTRACT, "delete")])
    assert got == {"cleanup.policy": "compact"}


def test_incremental_list_ops_on_a_non_list_config_are_refused():
    with pytest.raises(ConfigError, match=r"^Can't APPEND to key retention.ms because its type"):
        incremental_alter({}, [("retention.ms", APPEND, "1")])
    with pytest.raises(ConfigError, match=r"^Can't SUBTRACT to key nope because its type is not"):
        incremental_alter({}, [("nope", SUBTRACT, "1")])


def test_incremental_result_is_validated():
    with pytest.raises(ConfigError, match="Unknown topic config name: nope"):
        incremental_alter({}, [("nope", SET, "1")])
    with pytest.raises(ConfigError, match="String must be one of: compact, delete"):
        incremental_alter({}, [("cleanup.policy", APPEND, "purge")])


def test_describe_topic_lists_every_config_with_its_source():
    entries = {e.name: e for e in describe_topic({"retention.ms": "1000"})}
    assert set(entries) == set(configs.TOPIC_CONFIGS)
    assert list(entries) == sorted(entries)

    set_one = entries["retention.ms"]
    assert (set_one.value, set_one.source, set_one.read_only) == (
        "1000",
        DYNAMIC_TOPIC_CONFIG,
        False,
    )
    # the topic override first, then the broker default it overrides
    assert set_one.synonyms == (
        ("retention.ms", "1000", DYNAMIC_TOPIC_CONFIG),
        ("log.retention.ms", "604800000", DEFAULT_CONFIG),
    )
    default = entries["cleanup.policy"]
    assert (default.value, default.source) == ("delete", DEFAULT_CONFIG)
    assert default.synonyms == (("log.cleanup.policy", "delete", DEFAULT_CONFIG),)
    assert default.type_id == 7  # LIST
    assert entries["segment.bytes"].type_id == 3  # INT
    assert entries["retention.ms"].type_id == 5  # LONG


def test_describe_topic_filters_by_name():
    names = [e.name for e in describe_topic({}, ["segment.bytes", "nope", "retention.ms"])]
    assert names == ["retention.ms", "segment.bytes"]


def test_broker_configs_reflect_how_the_emulator_was_started():
    values = configs.broker_values(2, "127.0.0.1", 9093, False, 3, sasl=True)
    assert values["node.id"] == values["broker.id"] == "2"
    assert values["listeners"] == "SASL_PLAINTEXT://127.0.0.1:9093"
    assert values["auto.create.topics.enable"] == "false"
    assert values["num.partitions"] == "3"
    assert values["sasl.enabled.mechanisms"] == "PLAIN"
    plain = configs.broker_values(1, "127.0.0.1", 9092, True, 1, sasl=False)
    assert "sasl.enabled.mechanisms" not in plain

    entries = {e.name: e for e in describe_broker(values)}
    node = entries["node.id"]
    assert (node.value, node.source, node.read_only, node.type_id) == (
        "2",
        STATIC_BROKER_CONFIG,
        True,
        3,
    )
    assert [e.name for e in describe_broker(values, ["num.partitions"])] == ["num.partitions"]
