"""The engine: executes statements against a metastore and a topic store.

:meth:`KsqlEngine.execute` parses a script (a syntax error fails it before anything runs), then
prepares and executes each statement in turn through a dispatch table keyed by statement type.
Persistent queries (CSAS, CTAS, INSERT INTO ... SELECT) become :class:`PersistentQuery` objects
holding a built topology; something must feed them records:

* ``run_mode="local"`` (the default) runs them synchronously in-process: every record written to
  a topic through :meth:`KsqlEngine.produce` (or by INSERT VALUES, or by another query) is
  processed at once by the queries reading that topic;
* ``run_mode="external"`` leaves them to a driver (the QTT runner; later the Kafka runtime).

>>> engine = KsqlEngine()
>>> _ = engine.execute(
...     "CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON',"
...     " PARTITIONS=1);"
...     "CREATE STREAM U AS SELECT ID, UCASE(V) AS V FROM S;"
...     "INSERT INTO S (ID, V) VALUES (1, 'hello');")
>>> [r.value for r in engine.topics.records("U")]
[b'{"V":"HELLO"}']
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamlab.ksql.catalog import DataSource, DataSourceType, MetaStore
from streamlab.ksql.engine import results
from streamlab.ksql.engine.insert_values import build_record
from streamlab.ksql.engine.results import StatementResult, current_status
from streamlab.ksql.errors import KsqlError, KsqlException, KsqlStatementException
from streamlab.ksql.formats import schema_registry
from streamlab.ksql.functions import FUNCTIONS, FunctionRegistry
from streamlab.ksql.parser import ParsedStatement, parse
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.planner import LogicalPlanner, QueryAnalyzer, QueryPlan, Sink
from streamlab.ksql.planner.ddl import build_source, sink_topic_config
from streamlab.ksql.planner.properties import SourceProperties
from streamlab.ksql.runtime.operators import Topology, build_topology
from streamlab.ksql.runtime.processing_log import ProcessingLog
from streamlab.ksql.runtime.records import Record
from streamlab.ksql.runtime.topics import TopicStore
from streamlab.ksql.schema import Column, LogicalSchema

log = logging.getLogger(__name__)

#: ksqlDB server defaults that matter to the language core.
DEFAULT_CONFIG: dict[str, object] = {
    "ksql.service.id": "default_",
    "ksql.persistence.default.format.key": "KAFKA",
    "ksql.persistence.default.format.value": None,
    "ksql.persistence.wrap.single.values": None,
    "ksql.new.query.planner.enabled": "false",
    "ksql.output.topic.name.prefix": "",
    "auto.offset.reset": "latest",
}


@dataclass
class PersistentQuery:
    """A running persistent query: where it reads and writes and its built operators."""

    query_id: str
    statement_text: str
    plan: QueryPlan
    topology: Topology
    sink_name: str
    sink_topic: str
    source_names: list[str]
    source_topics: list[str]
    state: str = "RUNNING"

    def summary(self) -> dict[str, Any]:
        return {
            "queryString": self.statement_text,
            "sinks": [self.sink_name],
            "sinkKafkaTopics": [self.sink_topic],
            "id": self.query_id,
            "statusCount": {self.state: 1},
            "queryType": "PERSISTENT",
            "state": self.state,
        }


@dataclass
class _Session:
    properties: dict[str, object] = field(default_factory=dict)


class KsqlEngine:
    """A ksqlDB-compatible engine over an in-process topic store."""

    def __init__(
        self,
        topics: TopicStore | None = None,
        config: dict[str, object] | None = None,
        functions: FunctionRegistry = FUNCTIONS,
        run_mode: str = "local",
        auto_create_topics: bool = False,
        default_partitions: int = 1,
    ) -> None:
        self.topics = topics if topics is not None else TopicStore(default_partitions)
        self.config: dict[str, object] = {**DEFAULT_CONFIG, **(config or {})}
        schema_registry.configure(self.config.get(schema_registry.REGISTRY_URL_PROPERTY))
        self.functions = functions
        self.metastore = MetaStore()
        self.processing_log = ProcessingLog()
        self.queries: dict[str, PersistentQuery] = {}
        self.run_mode = run_mode
        self.auto_create_topics = auto_create_topics
        self.default_partitions = default_partitions
        self._query_counter = 0
        self._sequence = 0
        self.session = _Session()
        self._handlers: dict[type, Callable[[Any, dict[str, object]], StatementResult]] = {
            st.CreateStream: self._create_source,
            st.CreateTable: self._create_source,
            st.CreateStreamAsSelect: self._create_as_select,
            st.CreateTableAsSelect: self._create_as_select,
            st.InsertInto: self._insert_into,
            st.InsertValues: self._insert_values,
            st.AlterSource: self._alter_source,
            st.DropStream: self._drop_source,
            st.DropTable: self._drop_source,
            st.TerminateQuery: self._terminate,
            st.ListStreams: self._list_sources,
            st.ListTables: self._list_sources,
            st.ListTopics: self._list_topics,
            st.ListQueries: self._list_queries,
            st.ListProperties: self._list_properties,
            st.ListFunctions: self._list_functions,
            st.ShowColumns: self._describe,
            st.DescribeFunction: self._describe_function,
            st.SetProperty: self._set_property,
            st.UnsetProperty: self._unset_property,
            st.RegisterType: self._register_type,
            st.DropType: self._drop_type,
            st.QueryStatement: self._query,
        }

    # ---- entry points ---------------------------------------------------------------------------

    def execute(
        self, sql: str, properties: dict[str, object] | None = None
    ) -> list[StatementResult]:
        """Execute every statement of a script; raises on the first failure."""
        parsed = parse(sql)
        overrides = dict(properties or {})
        return [self.execute_statement(p, overrides) for p in parsed]

    def execute_statement(
        self, parsed: ParsedStatement, overrides: dict[str, object] | None = None
    ) -> StatementResult:
        statement = self._resolve_types(parsed.prepare())
        handler = self._handlers.get(type(statement))
        if handler is None:
            raise KsqlStatementException(
                f"Statement not supported yet by this engine: {type(statement).__name__}",
                statement=parsed.text,
            )
        config = {**self.config, **self.session.properties, **(overrides or {})}
        try:
            return handler(statement, config)
        except KsqlStatementException as error:
            if not error.statement:
                error.statement = parsed.text
            raise
        except KsqlError as error:
            raise KsqlStatementException(
                error.message, statement=parsed.text, unlogged_details=error.unlogged_message
            ) from error

    def _resolve_types(self, statement: st.Statement) -> st.Statement:
        """Custom types (``CREATE TYPE``) in column definitions, CASTs and types."""
        if not self.metastore.types and not isinstance(statement, st.RegisterType):
            return statement
        from dataclasses import replace

        from streamlab.ksql.parser.ast import Node, transform
        from streamlab.ksql.parser.ast import expressions as ex

        def rewrite(node: Node) -> Node | None:
            if isinstance(node, st.TableElement):
                return replace(node, type=self.metastore.resolve_type(node.type))
            if isinstance(node, ex.Cast):
                inner = transform(node.expression, rewrite)
                return replace(node, expression=inner, type=self.metastore.resolve_type(node.type))
            return None

        if isinstance(statement, st.RegisterType):
            return replace(statement, type=self.metastore.resolve_type(statement.type))
        text = statement.text
        resolved = transform(statement, rewrite)
        object.__setattr__(resolved, "text", text)
        return resolved  # type: ignore[return-value]

    def produce(self, record: Record) -> Record:
        """Write a record to a topic; in local mode queries reading it process it at once."""
        stored = self.topics.append(record)
        if self.run_mode == "local":
            for query in list(self.queries.values()):
                if stored.topic in query.source_topics and query.state == "RUNNING":
                    query.topology.process(stored)
        return stored

    def reset(self) -> None:
        """Back to a clean engine (no sources, queries or topics)."""
        self.metastore = MetaStore()
        self.queries.clear()
        self.topics.reset()
        self.processing_log = ProcessingLog()
        self._query_counter = 0

    # ---- helpers --------------------------------------------------------------------------------

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _ensure_topic(
        self,
        name: str,
        partitions: int | None,
        replicas: int | None,
        config: dict[str, str] | None = None,
    ) -> None:
        if self.topics.exists(name):
            topic = self.topics.get(name)
            if partitions is not None and partitions != topic.partitions:
                raise KsqlException(
                    f"A Kafka topic with the name '{name}' already exists, with different "
                    f"partition/replica configuration than required. KSQL expects {partitions} "
                    f"partitions (topic has {topic.partitions}), and {replicas or topic.replicas} "
                    f"replication factor (topic has {topic.replicas})."
                )
            return
        if partitions is None and not self.auto_create_topics:
            raise KsqlException(
                f"Topic '{name}' does not exist. If you want to create a new topic for the "
                "stream/table please re-run the statement providing the required 'PARTITIONS' "
                "configuration in the WITH clause (and optionally 'REPLICAS'). For example: "
                f"CREATE STREAM S (ID INT) WITH (KAFKA_TOPIC='{name}', PARTITIONS=2, "
                "REPLICAS=1);"
            )
        self.topics.create_topic(name, partitions or self.default_partitions, replicas, config)

    def _next_query_id(self, prefix: str) -> str:
        query_id = f"{prefix}_{self._query_counter}"
        self._query_counter += 1
        return query_id

    def _emit(self, record: Record) -> None:
        self.produce(record)

    # ---- DDL ------------------------------------------------------------------------------------

    def _create_source(self, statement: st.CreateSource, config) -> StatementResult:
        kind = "stream" if isinstance(statement, st.CreateStream) else "table"
        existing = self.metastore.get_source(statement.name)
        if existing is not None and statement.not_exists:
            return current_status(
                statement.text,
                f"{kind}/`{statement.name}`/create",
                f"Cannot add {kind} `{statement.name}`: A {existing.source_type.lower} with the "
                "same name already exists.",
                sequence=self._next_sequence(),
            )
        source = build_source(statement, self.metastore, config, self._ensure_topic)
        self.metastore.put_source(source, allow_replace=statement.or_replace)
        return current_status(
            statement.text,
            f"{kind}/`{statement.name}`/create",
            "Stream created" if kind == "stream" else "Table created",
            sequence=self._next_sequence(),
        )

    def _drop_source(self, statement: st.DropSource, config) -> StatementResult:
        expected = (
            DataSourceType.STREAM if isinstance(statement, st.DropStream) else DataSourceType.TABLE
        )
        kind = expected.lower
        source = self.metastore.get_source(statement.name)
        if source is None:
            if statement.if_exists:
                return current_status(
                    statement.text,
                    f"{kind}/{statement.name}/drop",
                    f"Source {statement.name} does not exist.",
                    sequence=self._next_sequence(),
                )
            hint = self.metastore.check_alternatives(statement.name, expected)
            raise KsqlException(f"{kind.capitalize()} {statement.name} does not exist.{hint}")
        if source.source_type is not expected:
            raise KsqlException(
                f"Incompatible data source type is {source.source_type.lower}, but statement was "
                f"DROP {kind}"
            )
        if source.is_source and statement.delete_topic:
            raise KsqlException(f"Cannot delete topic for read-only source: {statement.name}")
        # ksqlDB (since 0.14) terminates the query a CREATE … AS SELECT started for the source;
        # other queries reading or INSERTing into it still stop the DROP
        creator = next(
            (
                q
                for q in sorted(self.metastore.writers_of(statement.name))
                if q in self.queries and q.startswith(("CSAS_", "CTAS_"))
            ),
            None,
        )
        self.metastore.delete_source(statement.name, terminated=creator)
        if creator is not None:
            self._stop_queries([creator])
        if statement.delete_topic:
            self.topics.delete_topic(source.topic.name)
        return current_status(
            statement.text,
            f"{kind}/{statement.name}/drop",
            f"Source `{statement.name}` (topic: {source.topic.name}) was dropped.",
            sequence=self._next_sequence(),
        )

    def _alter_source(self, statement: st.AlterSource, config) -> StatementResult:
        """``ALTER STREAM|TABLE x ADD COLUMN c type``: value columns appended to the schema."""
        kind = "stream" if statement.is_stream else "table"
        source = self.metastore.get_source(statement.name)
        if source is not None and source.is_source:
            raise KsqlException(
                f"Cannot alter {kind} '{statement.name}': ALTER operations are not supported on "
                f"source {kind}s."
            )
        if source is None:
            raise KsqlException(f"Source {statement.name} does not exist.")
        if source.source_type.lower != kind:
            raise KsqlException(
                f"Incompatible data source type is {source.source_type.value}, but statement "
                f"was ALTER {kind.upper()}"
            )
        if source.casted:
            raise KsqlException("ALTER command is not supported for CREATE ... AS statements.")
        columns = list(source.schema.columns)
        for element in statement.columns:
            if any(c.name == element.name for c in columns):
                raise KsqlException(
                    f"Cannot add column `{element.name}` to schema. A column with the same name "
                    "already exists."
                )
            columns.append(Column(element.name, element.type))
        altered = dataclasses.replace(source, schema=LogicalSchema(columns))
        self.metastore.put_source(altered, allow_replace=True)
        return current_status(
            statement.text,
            f"{kind}/`{statement.name}`/alter",
            f"{kind.capitalize()} {statement.name} altered.",
            sequence=self._next_sequence(),
        )

    def _register_type(self, statement: st.RegisterType, config) -> StatementResult:
        if statement.name in self.metastore.types and not statement.if_not_exists:
            raise KsqlException(
                f"Cannot register custom type '{statement.name}' since it is already registered "
                f"with type: {self.metastore.types[statement.name]}"
            )
        self.metastore.types.setdefault(statement.name.upper(), statement.type)
        return current_status(
            statement.text,
            f"type/{statement.name}/create",
            f"Registered custom type with name '{statement.name}' and SQL type {statement.type}",
            sequence=self._next_sequence(),
        )

    def _drop_type(self, statement: st.DropType, config) -> StatementResult:
        if statement.name not in self.metastore.types and not statement.if_exists:
            raise KsqlException(f"Type {statement.name} does not exist.")
        self.metastore.types.pop(statement.name, None)
        return current_status(
            statement.text,
            f"type/{statement.name}/drop",
            f"Dropped type '{statement.name}'",
            sequence=self._next_sequence(),
        )

    # ---- queries --------------------------------------------------------------------------------

    def _create_as_select(self, statement: st.CreateAsSelect, config) -> StatementResult:
        is_table = isinstance(statement, st.CreateTableAsSelect)
        kind = "table" if is_table else "stream"
        existing = self.metastore.get_source(statement.name)
        if existing is not None:
            if statement.not_exists:
                return current_status(
                    statement.text,
                    f"{kind}/`{statement.name}`/create",
                    f"Cannot add {kind} `{statement.name}`: A {existing.source_type.lower} with "
                    "the same name already exists.",
                    sequence=self._next_sequence(),
                )
            if not statement.or_replace:
                raise KsqlException(
                    f"Cannot add {kind} '{statement.name}': A {existing.source_type.lower} with "
                    "the same name already exists"
                )
        properties = SourceProperties.parse(
            {p.name: p.value.value for p in statement.properties}, create_as=True
        )
        analysis = QueryAnalyzer(self.metastore, self.functions).analyze(
            statement.query, persistent=True
        )
        planner = LogicalPlanner(self.functions, config)
        plan = planner.plan_persistent(
            analysis, Sink(statement.name, properties, create=True, table=is_table)
        )
        self._check_copartitioning(plan)
        source_topic = (
            self.topics.get(analysis.source.topic.name)
            if self.topics.exists(analysis.source.topic.name)
            else None
        )
        self._ensure_topic(
            plan.sink_source.topic.name,
            plan.partitions or (source_topic.partitions if source_topic else None),
            plan.replicas or (source_topic.replicas if source_topic else None),
            sink_topic_config(is_table, statement.query.window),
        )
        sink = plan.sink_source
        sink.sql = statement.text
        self.metastore.put_source(sink, allow_replace=statement.or_replace)
        prefix = "CTAS" if is_table else "CSAS"
        query = self._start_query(f"{prefix}_{statement.name}", statement.text, plan)
        return current_status(
            statement.text,
            f"{kind}/`{statement.name}`/create",
            f"Created query with ID {query.query_id}",
            query.query_id,
            sequence=self._next_sequence(),
        )

    def _insert_into(self, statement: st.InsertInto, config) -> StatementResult:
        target = self.metastore.get_source(statement.target)
        if target is None:
            prefix = statement.location_prefix()
            if statement.location is not None:
                prefix = (
                    f"Line: {statement.location.line}, "
                    f"Col: {statement.location.column + len('INSERT INTO') + 1}: "
                )
            raise KsqlException(f"{prefix}Source `{statement.target}` does not exist.")
        if not target.is_stream:
            raise KsqlException(
                f"INSERT INTO can only be used to insert into a stream. {target.name} is a table."
            )
        if target.schema.headers:
            raise KsqlException(f"Cannot insert into {target.name} because it has header columns")
        if target.is_source:
            raise KsqlException(f"Cannot insert into read-only stream: {target.name}")
        properties = SourceProperties.parse(
            {p.name: p.value.value for p in statement.properties}, create_as=True
        )
        analysis = QueryAnalyzer(self.metastore, self.functions).analyze(
            statement.query, persistent=True
        )
        plan = LogicalPlanner(self.functions, config).plan_persistent(
            analysis, Sink(statement.target, properties, create=False, existing=target)
        )
        self._check_copartitioning(plan)
        query = self._start_query("INSERTQUERY", statement.text, plan)
        return current_status(
            statement.text,
            f"stream/`{statement.target}`/create",
            f"Created query with ID {query.query_id}",
            query.query_id,
            sequence=self._next_sequence(),
        )

    def _start_query(self, prefix: str, text: str, plan: QueryPlan) -> PersistentQuery:
        query_id = self._next_query_id(prefix)
        topology = self._topology(query_id, plan)
        query = PersistentQuery(
            query_id=query_id,
            statement_text=text,
            plan=plan,
            topology=topology,
            sink_name=plan.sink_source.name,
            sink_topic=plan.sink_source.topic.name,
            source_names=[s.name for s in getattr(plan, "sources", [plan.source])],
            source_topics=list(topology.source_topics),
        )
        self.queries[query_id] = query
        self._create_internal_topics(query_id, plan)
        self.metastore.link_query(query_id, [plan.source.name], [plan.sink_source.name])
        log.debug("query %s started: %s", query_id, text)
        return query

    def _topology(self, query_id: str, plan: QueryPlan) -> Topology:
        """The operators of a persistent query (the Kafka runtime splits them at repartitions)."""
        return build_topology(
            plan.physical,
            query_id,
            self._emit,
            self.processing_log,
            self.functions,
            store_factory=self._store_factory(query_id),
        )

    def _store_factory(self, query_id: str) -> Callable[[str], Any] | None:
        """State stores of a query's operators; None: in memory (the Kafka runtime persists)."""
        return None

    def _check_copartitioning(self, plan: QueryPlan) -> None:
        join = getattr(plan, "join", None)
        if join is not None:
            from streamlab.ksql.planner.join import check_copartitioning

            check_copartitioning(
                join, lambda t: self.topics.get(t).partitions if self.topics.exists(t) else None
            )

    def _create_internal_topics(self, query_id: str, plan: QueryPlan) -> None:
        """Repartition/changelog topics of stateful queries, named as ksqlDB names them."""
        suffixes = getattr(plan, "internal_topics", ())
        if not suffixes:
            return
        prefix = f"_confluent-ksql-{self.config.get('ksql.service.id')}query_{query_id}-"
        source = plan.source.topic.name
        partitions = self.topics.get(source).partitions if self.topics.exists(source) else 1
        for suffix in suffixes:
            if not self.topics.exists(prefix + suffix):
                self.topics.create_topic(prefix + suffix, partitions, 1)

    def _insert_values(self, statement: st.InsertValues, config) -> StatementResult:
        record = build_record(statement, self.metastore, self.functions)
        self.produce(record)
        return StatementResult(statement.text, None)

    def _terminate(self, statement: st.TerminateQuery, config) -> StatementResult:
        ids = [statement.query_id] if statement.query_id else list(self.queries)
        for query_id in ids:
            if query_id not in self.queries:
                raise KsqlException(f"Unknown queryId: {query_id}")
        self._stop_queries(ids)
        target = statement.query_id or "ALL"
        return current_status(
            statement.text,
            f"terminate/{target}/execute",
            "Query terminated.",
            sequence=self._next_sequence(),
        )

    def _stop_queries(self, ids: list[str]) -> None:
        for query_id in ids:
            self.queries.pop(query_id).state = "TERMINATED"
            self.metastore.unlink_query(query_id)

    def _query(self, statement: st.QueryStatement, config) -> StatementResult:
        raise KsqlStatementException(
            "The following statement types should be issued to the websocket endpoint '/query':"
            "\n\t* PRINT\n\t* SELECT",
            statement=statement.text,
        )

    # ---- SHOW / DESCRIBE / SET ------------------------------------------------------------------

    def _list_sources(self, statement: st.ListStreams | st.ListTables, config) -> StatementResult:
        wanted = (
            DataSourceType.STREAM if isinstance(statement, st.ListStreams) else DataSourceType.TABLE
        )
        sources = sorted(
            (s for s in self.metastore.all_sources() if s.source_type is wanted),
            key=lambda s: s.name,
        )
        key = "streams" if wanted is DataSourceType.STREAM else "tables"
        if statement.extended:
            return StatementResult(
                statement.text,
                {
                    "@type": "source_descriptions",
                    "statementText": statement.text,
                    "sourceDescriptions": [self._description(s, True) for s in sources],
                    "warnings": [],
                },
            )
        return StatementResult(
            statement.text,
            {
                "@type": key,
                "statementText": statement.text,
                key: [results.source_summary(s) for s in sources],
                "warnings": [],
            },
        )

    def _list_topics(self, statement: st.ListTopics, config) -> StatementResult:
        names = [
            n for n in self.topics.list_topics() if statement.show_all or not n.startswith("_")
        ]
        return StatementResult(
            statement.text,
            {
                "@type": "kafka_topics",
                "statementText": statement.text,
                "topics": [
                    {"name": n, "replicaInfo": [1] * self.topics.get(n).partitions} for n in names
                ],
                "warnings": [],
            },
        )

    def _list_queries(self, statement: st.ListQueries, config) -> StatementResult:
        return StatementResult(
            statement.text,
            {
                "@type": "queries",
                "statementText": statement.text,
                "queries": [q.summary() for q in self.queries.values()],
                "warnings": [],
            },
        )

    def _list_properties(self, statement: st.ListProperties, config) -> StatementResult:
        props = [
            {"name": k, "scope": "KSQL", "value": None if v is None else str(v)}
            for k, v in sorted(config.items())
        ]
        return StatementResult(
            statement.text,
            {
                "@type": "properties",
                "statementText": statement.text,
                "properties": props,
                "overwrittenProperties": sorted(self.session.properties),
                "defaultProperties": sorted(
                    k for k in DEFAULT_CONFIG if k not in self.session.properties
                ),
                "warnings": [],
            },
        )

    def _list_functions(self, statement: st.ListFunctions, config) -> StatementResult:
        functions = [
            {"name": name, "type": "SCALAR", "category": self.functions.get(name).category}
            for name in self.functions.names()
        ] + [
            {"name": name, "type": "AGGREGATE", "category": "AGGREGATE"}
            for name in sorted(self.functions.aggregate_names)
        ]
        return StatementResult(
            statement.text,
            {
                "@type": "function_names",
                "statementText": statement.text,
                "functions": sorted(functions, key=lambda f: f["name"]),
                "warnings": [],
            },
        )

    def _description(self, source: DataSource, extended: bool) -> dict[str, Any]:
        readers = [
            self.queries[q].summary()
            for q in sorted(self.metastore.readers_of(source.name))
            if q in self.queries
        ]
        writers = [
            self.queries[q].summary()
            for q in sorted(self.metastore.writers_of(source.name))
            if q in self.queries
        ]
        topic = self.topics.topics.get(source.topic.name)
        return results.source_description(
            source,
            extended,
            readers,
            writers,
            topic.partitions if topic else 0,
            topic.replicas if topic else 0,
        )

    def _describe(self, statement: st.ShowColumns, config) -> StatementResult:
        source = self.metastore.get_source(statement.name)
        if source is None:
            raise KsqlException(f"Could not find STREAM/TABLE '{statement.name}' in the Metastore")
        return StatementResult(
            statement.text,
            {
                "@type": "sourceDescription",
                "statementText": statement.text,
                "sourceDescription": self._description(source, statement.extended),
                "warnings": [],
            },
        )

    def _describe_function(self, statement: st.DescribeFunction, config) -> StatementResult:
        entry = self.functions.get(statement.name)
        if entry is None:
            raise KsqlException(f"Can't find any functions with the name '{statement.name}'")
        return StatementResult(
            statement.text,
            {
                "@type": "describe_function",
                "statementText": statement.text,
                "name": statement.name,
                "description": entry.description,
                "author": "Confluent",
                "version": "",
                "path": "internal",
                "functions": [
                    {
                        "arguments": [
                            {
                                "name": f"arg{i}",
                                "type": str(p),
                                "description": "",
                                "isVariadic": o.variadic and i == len(o.params) - 1,
                            }
                            for i, p in enumerate(o.params)
                        ],
                        "returnType": str(o.returns) if not callable(o.returns) else "ANY",
                        "description": o.description,
                        "argumentTypes": [str(p) for p in o.params],
                    }
                    for o in entry.overloads
                ],
                "type": "SCALAR",
                "warnings": [],
            },
        )

    def _set_property(self, statement: st.SetProperty, config) -> StatementResult:
        self.session.properties[statement.name] = statement.value
        return StatementResult(statement.text, None)

    def _unset_property(self, statement: st.UnsetProperty, config) -> StatementResult:
        self.session.properties.pop(statement.name, None)
        return StatementResult(statement.text, None)
