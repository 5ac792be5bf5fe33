"""The ksqlDB REST API (research/ksqldb.md §4) over a :class:`KafkaKsqlEngine`.

Statements run in a worker thread under ``engine.lock`` (the engine is synchronous); query
results are streamed from the query's consumer thread through an asyncio queue. ``SET`` and
``UNSET`` last for one ``/ksql`` request, as in ksqlDB.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from streamlab.ksql.errors import KsqlError
from streamlab.ksql.kafka_runtime import KafkaKsqlEngine, TransientQuery
from streamlab.ksql.kafka_runtime.runner import check_guarantees
from streamlab.ksql.parser import parse
from streamlab.ksql.parser.ast import statements as st
from streamlab.ksql.server import errors, framing
from streamlab.ksql.server.inserts import insert_statement
from streamlab.ksql.server.printer import TopicPrinter

log = logging.getLogger(__name__)

VERSION = "7.6.0"
IDLE_PROBE = 0.5  # seconds between disconnect checks of an idle push query


class BadRequest(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


def json_response(body: Any, status: int = 200, content_type: str = framing.V1) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":"), default=str).encode(),
        content_type=content_type,
    )


def reply_type(request: web.Request) -> str:
    """``application/json`` only when asked for it alone; ksqlDB's v1 type otherwise."""
    accept = request.headers.get("Accept", "")
    if framing.JSON in accept and framing.V1 not in accept:
        return framing.JSON
    return framing.V1


async def read_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as error:
        message = f"Invalid JSON: {error}"
        raise BadRequest(400, errors.generic_error(errors.BAD_REQUEST, message)) from error
    if not isinstance(body, dict):
        raise BadRequest(400, errors.generic_error(errors.BAD_REQUEST, "Expected a JSON object"))
    return body


def _strings(properties: Any) -> dict[str, object]:
    return dict(properties) if isinstance(properties, dict) else {}


class KsqlServer:
    def __init__(self, engine: KafkaKsqlEngine) -> None:
        self.engine = engine
        self.state = "READY"
        self.push_queries: dict[str, TransientQuery] = {}
        self.cluster_id = ""
        try:
            self.cluster_id = engine.topics.admin.list_topics(timeout=5).cluster_id or ""  # type: ignore[attr-defined]
        except Exception:  # pragma: no cover - informational only
            pass

    async def _in_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    # ---- /ksql ----------------------------------------------------------------------------------

    async def ksql(self, request: web.Request) -> web.Response:
        content_type = reply_type(request)
        try:
            body = await read_body(request)
        except BadRequest as error:
            return json_response(error.body, error.status, content_type)
        sql = body.get("ksql")
        if not isinstance(sql, str):
            return json_response(
                errors.generic_error(errors.BAD_REQUEST, "Request must contain a 'ksql' string"),
                400,
                content_type,
            )
        status, result = await self._in_thread(
            self._execute, sql, _strings(body.get("streamsProperties"))
        )
        return json_response(result, status, content_type)

    def _execute(self, sql: str, properties: dict[str, object]) -> tuple[int, Any]:
        try:  # request properties are checked before any statement, as ksqlDB does
            check_guarantees(properties)
        except KsqlError as error:
            return 400, errors.generic_error(errors.BAD_REQUEST, error.message)
        engine = self.engine
        with engine.lock:
            engine.session.properties.clear()
            entities: list[dict[str, Any]] = []
            try:
                try:
                    statements = parse(sql)
                except Exception as error:
                    return errors.from_exception(error, sql)
                for parsed in statements:
                    try:
                        result = engine.run(parsed, properties)
                    except Exception as error:
                        if not isinstance(error, KsqlError):
                            log.exception("statement failed: %s", parsed.text)
                        return errors.from_exception(error, parsed.text, entities)
                    if result.entity is not None:
                        entities.append(result.entity)
                return 200, entities
            finally:
                engine.session.properties.clear()

    # ---- queries --------------------------------------------------------------------------------

    def _plan(self, sql: str, properties: dict[str, object]) -> TransientQuery | TopicPrinter:
        engine = self.engine
        with engine.lock:
            try:
                statements = parse(sql)
                if len(statements) != 1:
                    raise BadRequest(
                        400,
                        errors.statement_error(
                            errors.BAD_STATEMENT,
                            f"Expected exactly one statement, got {len(statements)}",
                            sql,
                        ),
                    )
                parsed = statements[0]
                statement = engine._resolve_types(parsed.prepare())
                if isinstance(statement, st.PrintTopic):
                    return TopicPrinter(engine.bootstrap, engine.topics.list_topics(), statement)
                if not isinstance(statement, st.QueryStatement):
                    raise BadRequest(
                        400,
                        errors.statement_error(
                            errors.BAD_STATEMENT,
                            f"Statement type `{type(statement).__name__}' not supported for this "
                            "resource",
                            parsed.text,
                        ),
                    )
                return TransientQuery(engine, statement, properties)
            except BadRequest:
                raise
            except Exception as error:
                status, body = errors.from_exception(error, sql)
                if status == 500:
                    log.exception("query failed: %s", sql)
                body.pop("entities", None)
                raise BadRequest(status, body) from error

    async def query(self, request: web.Request) -> web.StreamResponse:
        """``/query``: the legacy chunked array (``application/json`` or v1 content type), or
        the new API's delimited form when asked for it."""
        accept = request.headers.get("Accept", "")
        kind = framing.DELIMITED if framing.DELIMITED in accept else framing.V1
        try:
            body = await read_body(request)
            sql = body.get("ksql")
            if not isinstance(sql, str):
                raise BadRequest(
                    400, errors.generic_error(errors.BAD_REQUEST, "Request must contain 'ksql'")
                )
            query = await self._in_thread(self._plan, sql, _strings(body.get("streamsProperties")))
        except BadRequest as error:
            return json_response(error.body, error.status, reply_type(request))
        if isinstance(query, TopicPrinter):
            return await self._print(request, query)
        content_type = reply_type(request) if kind == framing.V1 else kind
        return await self._stream(request, query, kind, content_type)

    async def query_stream(self, request: web.Request) -> web.StreamResponse:
        """``/query-stream``: delimited by default, JSON array or v1 on request."""
        kind = framing.choose(request.headers.get("Accept", ""), framing.DELIMITED)
        try:
            body = await read_body(request)
            sql = body.get("sql")
            if not isinstance(sql, str):
                raise BadRequest(
                    400, errors.generic_error(errors.BAD_REQUEST, "Request must contain 'sql'")
                )
            query = await self._in_thread(self._plan, sql, _strings(body.get("properties")))
        except BadRequest as error:
            return json_response(error.body, error.status, framing.JSON)
        return await self._stream(request, query, kind)

    async def _stream(
        self, request: web.Request, query: TransientQuery, kind: str, content_type: str = ""
    ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any, Any]] = asyncio.Queue()

        def put(item: tuple[str, Any, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # loop closed: the server is shutting down
                query.stop()

        response = web.StreamResponse(status=200)
        response.content_type = content_type or kind
        response.enable_chunked_encoding()
        await response.prepare(request)
        framer = framing.Framer(kind, query.push)

        async def write(text: str) -> None:
            if text:
                await response.write(text.encode())

        await write(
            framer.header(
                query.query_id, query.schema_string(), query.column_names, query.column_types
            )
        )
        self.push_queries[query.query_id] = query
        query.start(
            lambda key, value: put(("row", key, value)), lambda error: put(("done", error, None))
        )
        count = 0
        final: str | None = "Query Completed"
        try:
            while True:
                try:
                    what, first, second = await asyncio.wait_for(queue.get(), IDLE_PROBE)
                except TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        return response  # the client went away
                    continue
                if what == "done":
                    if first is not None:
                        await write(
                            framer.error(errors.generic_error(errors.SERVER_ERROR, str(first)))
                        )
                        return response
                    break
                if query.limit is not None and count >= query.limit:
                    continue
                tombstone = second is None
                values = second if second is not None else query.tombstone(first)
                text = framer.row(values, tombstone)
                if not text:
                    continue  # a tombstone this format drops does not count toward LIMIT
                await write(text)
                count += 1
                if query.push and query.limit is not None and count >= query.limit:
                    final = "Limit Reached"
                    break
            await write(framer.end(final if query.push else None))
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away mid-write
        finally:
            query.stop()
            self.push_queries.pop(query.query_id, None)
        return response

    async def _print(self, request: web.Request, printer: TopicPrinter) -> web.StreamResponse:
        """PRINT: one text line per record (ksqlDB streams them the same way)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:
                printer.stop()

        response = web.StreamResponse(status=200)
        response.content_type = "text/plain"
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.push_queries[printer.query_id] = printer  # type: ignore[assignment]
        printer.start(lambda line: put(("line", line)), lambda error: put(("done", error)))
        try:
            while True:
                try:
                    what, item = await asyncio.wait_for(queue.get(), IDLE_PROBE)
                except TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        return response
                    continue
                if what == "done":
                    if item is not None:
                        await response.write(f"{item}\n".encode())
                    break
                await response.write((item + "\n").encode())
            await response.write_eof()
        except ConnectionResetError:
            pass
        finally:
            printer.stop()
            self.push_queries.pop(printer.query_id, None)
        return response

    async def close_query(self, request: web.Request) -> web.Response:
        try:
            body = await read_body(request)
        except BadRequest as error:
            return json_response(error.body, error.status, framing.JSON)
        query_id = body.get("queryId")
        query = self.push_queries.get(query_id) if isinstance(query_id, str) else None
        if query is None:
            return json_response(
                errors.generic_error(errors.BAD_REQUEST, f"No query with id {query_id}"),
                400,
                framing.JSON,
            )
        query.stop()
        return web.Response(status=200)

    # ---- /inserts-stream -------------------------------------------------------------------------

    async def inserts_stream(self, request: web.Request) -> web.StreamResponse:
        first = await request.content.readline()
        try:
            header = json.loads(first or b"{}")
            target = header["target"]
            target, columns = await self._in_thread(self._insert_columns, str(target))
        except Exception as error:
            message = str(error) if isinstance(error, KsqlError) else f"Bad header: {error}"
            return json_response(
                errors.generic_error(errors.BAD_REQUEST, message), 400, framing.JSON
            )
        response = web.StreamResponse(status=200)
        response.content_type = framing.DELIMITED
        response.enable_chunked_encoding()
        await response.prepare(request)
        seq = 0
        async for line in request.content:
            if not line.strip():
                continue
            ack: dict[str, Any] = {"status": "ok", "seq": seq}
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise KsqlError("Each row must be a JSON object")
                sql = insert_statement(target, columns, row)
                await self._in_thread(self._insert, sql)
            except Exception as error:
                code = errors.BAD_REQUEST
                ack = {"status": "error", "seq": seq, "error_code": code, "message": str(error)}
            await response.write((framing.dumps(ack) + "\n").encode())
            seq += 1
        await response.write_eof()
        return response

    def _insert_columns(self, target: str) -> tuple[str, dict[str, Any]]:
        with self.engine.lock:
            source = self.engine.metastore.get_source(target) or self.engine.metastore.get_source(
                target.upper()
            )
            if source is None:
                raise KsqlError(f"Cannot insert values into an unknown stream/table: {target}")
            return source.name, {c.name: c.type for c in source.schema.columns}

    def _insert(self, sql: str) -> None:
        with self.engine.lock:
            for parsed in parse(sql):
                self.engine.run(parsed, {})

    # ---- server info ----------------------------------------------------------------------------

    async def info(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "KsqlServerInfo": {
                    "version": VERSION,
                    "kafkaClusterId": self.cluster_id,
                    "ksqlServiceId": self.engine.service_id,
                    "serverStatus": "RUNNING",
                }
            },
            content_type=reply_type(request),
        )

    def _kafka_healthy(self) -> bool:
        try:
            self.engine.topics.admin.list_topics(timeout=2)  # type: ignore[attr-defined]
            return True
        except Exception:
            return False

    async def healthcheck(self, request: web.Request) -> web.Response:
        """Always HTTP 200, as ksqlDB's ``HealthCheckResource``; the verdict is in the body."""
        ready = self.state == "READY"
        kafka = await self._in_thread(self._kafka_healthy)
        return json_response(
            {
                "isHealthy": ready and kafka,
                "details": {
                    "metastore": {"isHealthy": ready},
                    "kafka": {"isHealthy": kafka},
                    "commandRunner": {"isHealthy": ready},
                },
                "serverState": self.state,
            },
            content_type=reply_type(request),
        )

    async def status(self, request: web.Request) -> web.Response:
        statuses = {k: v["status"] for k, v in self.engine.command_statuses.items()}
        return json_response({"commandStatuses": statuses}, content_type=reply_type(request))

    async def status_of(self, request: web.Request) -> web.Response:
        info = request.match_info
        command_id = f"{info['type']}/{info['entity']}/{info['action']}"
        status = self.engine.command_statuses.get(command_id)
        if status is None:
            return json_response(
                errors.generic_error(errors.NOT_FOUND, "Command not found"),
                404,
                reply_type(request),
            )
        return json_response(status, content_type=reply_type(request))

    async def root(self, request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/info")

    def stop_queries(self) -> None:
        self.state = "TERMINATING"
        for query in list(self.push_queries.values()):
            query.stop()


def build_app(server: KsqlServer) -> web.Application:
    app = web.Application()
    app.router.add_post("/ksql", server.ksql)
    app.router.add_post("/query", server.query)
    app.router.add_post("/query-stream", server.query_stream)
    app.router.add_post("/close-query", server.close_query)
    app.router.add_post("/inserts-stream", server.inserts_stream)
    app.router.add_get("/info", server.info)
    app.router.add_get("/healthcheck", server.healthcheck)
    app.router.add_get("/status", server.status)
    app.router.add_get("/status/{type}/{entity}/{action}", server.status_of)
    app.router.add_get("/", server.root)
    return app
