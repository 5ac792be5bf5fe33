"""Runs one QTT case through the engine exactly as ksqlDB's ``TestExecutor`` does.

1. The statements are joined with newlines and parsed as one script; each is then prepared and
   executed in order (topics referenced by CREATE statements are created on demand).
2. Input records are serialized with the harness serdes of the source that reads their topic
   and written to the topics.
3. Each persistent query, in statement order, processes every input record of its source topics
   in list order (on partition 0), one at a time; a query reading a topic that is not an input
   processes whatever that topic holds when its turn comes (earlier queries' output, INSERT
   VALUES records).
4. For every topic with expected outputs, all records the topic holds are read back and compared
   in order, with an exact count (keys, values, headers; timestamps when given).
5. An ``expectedException`` case passes when execution fails with an exception of that Java
   type whose message contains the expected text; a case that fails otherwise, or crashes,
   is a failed case with the reason (and traceback) recorded.
6. ``post`` conditions (sources, topics) are checked last.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from typing import Any

from streamlab.ksql.catalog import DataSource
from streamlab.ksql.engine import KsqlEngine
from streamlab.ksql.errors import KsqlError
from streamlab.ksql.parser import parse, parse_table_elements
from streamlab.ksql.qtt.comparator import headers_match, matches
from streamlab.ksql.qtt.loader import QttCase
from streamlab.ksql.qtt.serdes import HarnessSerdeError, TopicSerde
from streamlab.ksql.runtime.records import Record
from streamlab.ksql.schema import schema_from_elements

#: Topics QTT's harness creates implicitly get this many partitions.
DEFAULT_PARTITIONS = 4


class CaseFailure(Exception):
    """The case ran but its expectations were not met."""


@dataclass
class CaseResult:
    case: QttCase
    passed: bool
    reason: str = ""
    crashed: bool = False
    details: str = ""
    processing_errors: list[str] = field(default_factory=list)


def _java_message(error: BaseException) -> tuple[list[str], str, str]:
    if isinstance(error, KsqlError):
        return error.java_classes(), error.message, error.unlogged_message
    return ["java.lang.RuntimeException"], str(error), str(error)


class CaseRunner:
    """Runs one case; create a new runner (and engine) per case."""

    def __init__(self, case: QttCase) -> None:
        self.case = case
        # TestExecutor's base config: the service id names internal topics
        config = {"ksql.service.id": "some.ksql.service.id", **case.properties}
        self.engine = KsqlEngine(
            config=config,
            run_mode="external",
            auto_create_topics=True,
            default_partitions=DEFAULT_PARTITIONS,
        )
        self.exact_numbers = str(case.properties.get("use.exact.numeric.comparison", True)).lower()
        self.exact_numbers_flag = self.exact_numbers != "false"

    # ---- topic info -----------------------------------------------------------------------------

    def _topic_serde(self, topic: str) -> TopicSerde:
        for source in self.engine.metastore.all_sources():
            if source.topic.name == topic:
                return TopicSerde(source, self.exact_numbers_flag)
        raise CaseFailure(f"No information found for topic '{topic}'")

    # ---- execution ------------------------------------------------------------------------------

    def run(self) -> CaseResult:
        case = self.case
        expected = case.expected_exception
        try:
            self._execute()
        except CaseFailure as failure:
            return CaseResult(case, False, str(failure), details=self._log_lines())
        except Exception as error:
            if expected is None:
                crashed = not isinstance(error, KsqlError | HarnessSerdeError)
                return CaseResult(
                    case,
                    False,
                    f"unexpected {type(error).__name__}: {error}",
                    crashed=crashed,
                    details=traceback.format_exc() if crashed else "",
                )
            return self._match_exception(error, expected)
        if expected is not None:
            return CaseResult(
                case,
                False,
                f"expected exception {expected.get('type')}: "
                f"{expected.get('message')!r}, but nothing was thrown",
            )
        return CaseResult(case, True)

    def _match_exception(self, error: BaseException, expected: dict[str, Any]) -> CaseResult:
        classes, message, unlogged = _java_message(error)
        crashed = not isinstance(error, KsqlError)
        wanted_type = expected.get("type")
        if (
            wanted_type
            and wanted_type not in classes
            and wanted_type not in ("java.lang.RuntimeException", "java.lang.Exception")
        ):
            return CaseResult(
                self.case,
                False,
                f"expected {wanted_type} but got {classes[0]}: {message}",
                crashed=crashed,
                details=traceback.format_exc() if crashed else "",
            )
        wanted_message = expected.get("message")
        if (
            wanted_message is not None
            and wanted_message not in message
            and (wanted_message not in unlogged)
        ):
            return CaseResult(
                self.case,
                False,
                f"message mismatch: expected to contain {wanted_message!r}, got {unlogged!r}",
            )
        return CaseResult(self.case, True)

    def _execute(self) -> None:
        case = self.case
        engine = self.engine
        for topic in case.topics:
            engine.topics.create_topic(
                topic["name"], topic.get("partitions") or 1, topic.get("replicas") or 1
            )
        sql = "\n".join(case.statements)
        for parsed in parse(sql):
            engine.execute_statement(parsed)

        inputs = case.inputs
        input_records: list[Record] = []
        for spec in inputs:
            serde = self._topic_serde(spec["topic"])
            record = Record(
                spec["topic"],
                serde.serialize_key(spec.get("key")),
                serde.serialize_value(spec.get("value")),
                int(spec.get("timestamp") or 0),
                headers=tuple((h["KEY"], _b64(h.get("VALUE"))) for h in spec.get("headers") or []),
            )
            input_records.append(record)
        for record in input_records:
            engine.topics.append(
                Record(
                    record.topic, record.key, record.value, record.timestamp, headers=record.headers
                ),
                partition=0,
            )
        input_topics = {r.topic for r in input_records}
        offsets: dict[str, int] = {}
        for record in input_records:
            record.partition = 0
            record.offset = offsets.get(record.topic, 0)
            offsets[record.topic] = record.offset + 1

        for query in list(engine.queries.values()):
            topology = query.topology
            sources = set(query.source_topics)
            if sources & input_topics:
                for record in input_records:
                    if record.topic in sources:
                        topology.process(record)
            for topic in sorted(sources - input_topics):
                for record in engine.topics.records(topic):
                    topology.process(record)

        self._verify_outputs(ran_with_inserts=not inputs)
        if case.expected_exception is None and case.post:
            self._verify_post(case.post)

    # ---- verification ---------------------------------------------------------------------------

    def _verify_outputs(self, ran_with_inserts: bool) -> None:
        by_topic: dict[str, list[dict[str, Any]]] = {}
        for spec in self.case.outputs:
            by_topic.setdefault(spec["topic"], []).append(spec)
        for topic, expected in by_topic.items():
            actual = self.engine.topics.records(topic)
            serde = self._topic_serde(topic)
            if len(actual) != len(expected):
                shown = "\n".join(self._show(serde, r) for r in actual)
                raise CaseFailure(
                    f"Topic {topic}. Expected <{len(expected)}> records but it was "
                    f"<{len(actual)}>\nActual records: \n{shown}"
                )
            for index, (spec, record) in enumerate(zip(expected, actual, strict=True)):
                self._compare(topic, index, spec, record, serde, ran_with_inserts)

    def _show(self, serde: TopicSerde, record: Record) -> str:
        try:
            key = serde.deserialize_key(record.key)
            value = serde.deserialize_value(record.value)
        except Exception:
            key, value = record.key, record.value
        return f"<{key}, {value}> with timestamp={record.timestamp}"

    def _compare(self, topic, index, spec, record: Record, serde: TopicSerde, inserts) -> None:
        window = None
        raw_key = record.key
        key_window = serde.source.topic.key_format.window
        if key_window is not None and raw_key is not None:
            from streamlab.ksql.runtime.windows import decode_session_key, decode_time_key

            if key_window.type.value == "SESSION":
                raw_key, window = decode_session_key(raw_key)
            else:
                raw_key, window = decode_time_key(raw_key, key_window.size_ms)
        try:
            key = serde.deserialize_key(raw_key)
        except Exception as error:
            raise CaseFailure(f"Failed to deserialize key: {error}") from error
        try:
            value = serde.deserialize_value(record.value)
        except Exception as error:
            raise CaseFailure(f"Failed to deserialize value: {error}") from error
        expected_ts = spec.get("timestamp")
        expected_ts = int(expected_ts) if expected_ts is not None else record.timestamp
        failure = CaseFailure(
            f"Topic '{topic}', message {index}: Expected <{spec.get('key')}, {spec.get('value')}> "
            f"with timestamp={expected_ts} but was <{key}, {value}> with "
            f"timestamp={record.timestamp}"
        )
        if "window" in spec:
            expected_window = spec["window"]
            if window is None:
                raise CaseFailure(
                    f"Topic '{topic}', message {index}: expected a windowed key {expected_window}"
                )
            wanted = (
                int(expected_window["start"]),
                int(expected_window["end"]),
                str(expected_window.get("type", "time")).lower() == "session",
            )
            if (window.start, window.end, window.session) != wanted:
                raise CaseFailure(
                    f"Topic '{topic}', message {index}: expected window {expected_window} but "
                    f"was {window}; {failure}"
                )
        if not matches(key, spec.get("key")):
            raise failure
        if not matches(value, spec.get("value")):
            raise failure
        if not headers_match(record.headers, spec.get("headers") or []):
            raise failure
        if record.timestamp != expected_ts and (not inserts or expected_ts != 0):
            raise failure

    def _verify_post(self, post: dict[str, Any]) -> None:
        for node in post.get("sources") or []:
            self._verify_source(node)
        topics = post.get("topics") or {}
        blacklist = topics.get("blacklist")
        if blacklist:
            pattern = re.compile(blacklist)
            bad = [t for t in self.engine.topics.list_topics() if pattern.search(t)]
            if bad:
                raise CaseFailure(f"blacklisted topics found: {bad}")
        for node in topics.get("topics") or []:
            self._verify_topic(node)

    def _verify_source(self, node: dict[str, Any]) -> None:
        name = node["name"]
        source = self.engine.metastore.get_source(name)
        if source is None:
            raise CaseFailure(f"post: source {name} not found in the metastore")
        if source.source_type.value != str(node["type"]).upper():
            raise CaseFailure(f"post: {name} is a {source.source_type.value}, not {node['type']}")
        if "schema" in node:
            expected = schema_from_elements(parse_table_elements(node["schema"]))
            if expected != source.schema:
                raise CaseFailure(f"post: {name} schema is {source.schema}, expected {expected}")
        key_format = node.get("keyFormat")
        if key_format is not None:
            self._verify_key_format(source, key_format)
        value_format = node.get("valueFormat")
        if value_format is not None and value_format != source.topic.value_format.format:
            raise CaseFailure(
                f"post: {name} value format is {source.topic.value_format.format}, "
                f"expected {value_format}"
            )
        for attr, fmt in (
            ("keyFeatures", source.topic.key_format),
            ("valueFeatures", source.topic.value_format),
        ):
            if attr in node:
                actual = sorted(f.value for f in fmt.features)
                if sorted(node[attr]) != actual:
                    raise CaseFailure(f"post: {name} {attr} are {actual}, expected {node[attr]}")
        if "isSource" in node and bool(node["isSource"]) != source.is_source:
            raise CaseFailure(f"post: {name} isSource is {source.is_source}")

    @staticmethod
    def _verify_key_format(source: DataSource, node: dict[str, Any]) -> None:
        fmt = source.topic.key_format
        if "format" in node and node["format"] != fmt.format:
            raise CaseFailure(
                f"post: {source.name} key format is {fmt.format}, expected {node['format']}"
            )
        window_type = node.get("windowType")
        actual_window = fmt.window.type.value if fmt.window else None
        if window_type != actual_window:
            raise CaseFailure(
                f"post: {source.name} key window type is {actual_window}, expected {window_type}"
            )

    def _verify_topic(self, node: dict[str, Any]) -> None:
        name = node["name"]
        if not self.engine.topics.exists(name):
            raise CaseFailure(f"post: topic {name} does not exist")
        topic = self.engine.topics.get(name)
        if "partitions" in node and int(node["partitions"]) != topic.partitions:
            raise CaseFailure(
                f"post: topic {name} has {topic.partitions} partitions, "
                f"expected {node['partitions']}"
            )
        sources = [s for s in self.engine.metastore.all_sources() if s.topic.name == name]
        if not sources:
            return
        source = sources[0]
        key_format = (node.get("keyFormat") or {}).get("format")
        if key_format is not None and key_format != source.topic.key_format.format:
            raise CaseFailure(f"post: topic {name} key format {source.topic.key_format.format}")
        value_format = (node.get("valueFormat") or {}).get("format")
        if value_format is not None and value_format != source.topic.value_format.format:
            raise CaseFailure(f"post: topic {name} value format {source.topic.value_format.format}")

    def _log_lines(self) -> str:
        return "\n".join(
            f"{e.query_id}: {e.type.name}: {e.message}" for e in self.engine.processing_log.entries
        )


def _b64(value: str | None) -> bytes | None:
    import base64

    return base64.b64decode(value) if value is not None else None


def run_case(case: QttCase) -> CaseResult:
    """Run one case, never raising: failures and crashes are part of the result."""
    try:
        return CaseRunner(case).run()
    except Exception as error:
        return CaseResult(
            case,
            False,
            f"harness crash: {type(error).__name__}: {error}",
            crashed=True,
            details=traceback.format_exc(),
        )
