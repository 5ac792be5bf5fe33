"""The Schema Registry REST API over aiohttp: read the request, call the model, shape the reply.

Paths, query parameters and JSON shapes are Confluent's (``SubjectsResource``,
``SubjectVersionsResource``, ``SchemasResource``, ``ConfigResource``, ``ModeResource``,
``CompatibilityResource``); bodies use ``application/vnd.schemaregistry.v1+json`` and errors are
``{"error_code": int, "message": str}``. Model calls run in worker threads (a Kafka write or a
protoc run must not stall other requests). Paths this registry does not serve, such as the
``/associations`` API older registries lack too, answer Jersey's plain 404, which is what
confluent-kafka's subject-name strategy expects before it falls back to ``<topic>-value``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from streamlab.registry import errors
from streamlab.registry.models import SchemaRegistry, SchemaVersion, parse_version
from streamlab.registry.schemas import AVRO, SCHEMA_TYPES, Reference

log = logging.getLogger("streamlab.registry")

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MAX_BODY = 16 * 1024 * 1024


def reply(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body), status=status, content_type=CONTENT_TYPE, charset="utf-8"
    )


def error_reply(e: errors.RegistryError) -> web.Response:
    response = reply(e.to_dict(), status=e.status)
    if e.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="SchemaRegistry"'
    return response


# --- request helpers ---------------------------------------------------------------------------


def flag(request: web.Request, name: str) -> bool:
    """Booleans as the clients send them: ``true``, ``True`` (Python's str(bool)), ``1``."""
    return request.query.get(name, "false").strip().lower() in ("true", "1")


def number(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.unprocessable(f"{name} must be an integer, not '{raw}'") from None


def page(request: web.Request, items: list) -> list:
    offset = max(number(request, "offset", 0), 0)
    limit = number(request, "limit", -1)
    return items[offset:] if limit < 0 else items[offset : offset + limit]


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    try:
        return int(raw)
    except ValueError:
        raise errors.http_not_found() from None  # Jersey cannot bind the path either


async def json_body(request: web.Request) -> Any:
    text = await request.text()
    if not text.strip():
        raise errors.unprocessable("Request body is empty")
    try:
        return json.loads(text)
    except ValueError as e:
        raise errors.bad_request(f"Unexpected character in the JSON body: {e}") from None


def schema_request(body: Any) -> dict:
    """A RegisterSchemaRequest: schema, schemaType (AVRO when absent), references, id, version."""
    if not isinstance(body, dict):
        raise errors.unprocessable(
            "Cannot deserialize value of type RegisterSchemaRequest from "
            f"{type(body).__name__} (expected a JSON object)"
        )
    refs = body.get("references") or []
    if not isinstance(refs, list):
        raise errors.invalid_schema("references must be an array")
    references = []
    for ref in refs:
        if (
            not isinstance(ref, dict)
            or not isinstance(ref.get("name"), str)
            or not isinstance(ref.get("subject"), str)
            or not isinstance(ref.get("version"), int)
        ):
            raise errors.invalid_schema(
                f"Invalid reference {json.dumps(ref)}: expected name, subject and version"
            )
        references.append(Reference(ref["name"], ref["subject"], ref["version"]))
    schema_type = body.get("schemaType") or AVRO
    if not isinstance(schema_type, str):
        raise errors.invalid_schema("schemaType must be a string")
    out = {
        "schema": body.get("schema"),
        "schema_type": schema_type.upper(),
        "references": tuple(references),
    }
    for key in ("id", "version"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise errors.unprocessable(f"{key} must be an integer")
        out[key] = value if value not in (None, 0, -1) else None
    return out


# --- reply shapes ------------------------------------------------------------------------------


def schema_entity(registry: SchemaRegistry, sv: SchemaVersion, fmt: str | None) -> dict:
    """Confluent's Schema entity (empty fields left out, schemaType too for Avro)."""
    body: dict[str, Any] = {"subject": sv.subject, "version": sv.version, "id": sv.id}
    guid = registry.guid(sv)
    if guid:
        body["guid"] = guid
    if sv.schema_type != AVRO:
        body["schemaType"] = sv.schema_type
    if sv.references:
        body["references"] = [r.to_dict() for r in sv.references]
    body["schema"] = registry.formatted(sv, fmt)
    if sv.deleted:
        body["deleted"] = True
    return body


class RegistryApi:
    """The routes, bound to one registry (and optional basic-auth credentials)."""

    def __init__(self, registry: SchemaRegistry, users: dict[str, str] | None = None) -> None:
        self.registry = registry
        self.users = users

    async def run(self, fn: Callable, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors, self._auth], client_max_size=MAX_BODY)
        r = app.router
        r.add_get("/", self.root)
        r.add_get("/schemas", self.list_schemas)
        r.add_get("/schemas/types", self.schema_types)
        r.add_get("/schemas/ids/{id}", self.get_schema)
        r.add_get("/schemas/ids/{id}/schema", self.get_schema_only)
        r.add_get("/schemas/ids/{id}/subjects", self.get_subjects_by_id)
        r.add_get("/schemas/ids/{id}/versions", self.get_versions_by_id)
        r.add_get("/schemas/guids/{guid}", self.get_schema_by_guid)
        r.add_get("/subjects", self.list_subjects)
        r.add_post("/subjects/{subject}", self.lookup_schema)
        r.add_delete("/subjects/{subject}", self.delete_subject)
        r.add_get("/subjects/{subject}/versions", self.list_versions)
        r.add_post("/subjects/{subject}/versions", self.register)
        r.add_get("/subjects/{subject}/versions/{version}", self.get_version)
        r.add_get("/subjects/{subject}/versions/{version}/schema", self.get_version_schema)
        r.add_get("/subjects/{subject}/versions/{version}/referencedby", self.referenced_by)
        r.add_delete("/subjects/{subject}/versions/{version}", self.delete_version)
        r.add_get("/subjects/{subject}/metadata", self.latest_with_metadata)
        r.add_post("/compatibility/subjects/{subject}/versions", self.test_compatibility)
        r.add_post("/compatibility/subjects/{subject}/versions/{version}", self.test_compatibility)
        for path in ("/config", "/config/{subject}"):
            r.add_get(path, self.get_config)
            r.add_put(path, self.update_config)
            r.add_delete(path, self.delete_config)
        for path in ("/mode", "/mode/{subject}"):
            r.add_get(path, self.get_mode)
            r.add_put(path, self.update_mode)
        r.add_delete("/mode/{subject}", self.delete_mode)
        r.add_get("/contexts", self.contexts)
        return app

    # --- middleware ----------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.RegistryError as e:
            if e.status >= 500:
                log.error("%s %s: %s", request.method, request.path, e.message)
            return error_reply(e)
        except web.HTTPNotFound:
            return error_reply(errors.http_not_found())
        except web.HTTPMethodNotAllowed:
            return error_reply(errors.method_not_allowed())
        except web.HTTPRequestEntityTooLarge:
            return error_reply(errors.RegistryError(413, 413, "Request body is too large"))
        except web.HTTPException as e:
            return error_reply(errors.RegistryError(e.status, e.status, e.reason))
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return error_reply(errors.internal_error("Internal Server Error; see the registry log"))

    @web.middleware
    async def _auth(self, request: web.Request, handler) -> web.StreamResponse:
        if self.users is not None and not self._authorized(request.headers.get("Authorization")):
            raise errors.unauthorized()
        return await handler(request)

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        key, _, secret = decoded.partition(":")
        expected = self.users.get(key)
        return expected is not None and hmac.compare_digest(expected.encode(), secret.encode())

    # --- schemas -------------------------------------------------------------------------------

    async def root(self, _request: web.Request) -> web.Response:
        return reply({})

    async def schema_types(self, _request: web.Request) -> web.Response:
        return reply(list(SCHEMA_TYPES))

    async def list_schemas(self, request: web.Request) -> web.Response:
        def work() -> list:
            found = self.registry.list_schemas(
                request.query.get("subjectPrefix", ""),
                flag(request, "deleted"),
                flag(request, "latestOnly"),
            )
            return [schema_entity(self.registry, sv, None) for sv in page(request, found)]

        return reply(await self.run(work))

    def _schema_string(self, sv: SchemaVersion, fmt: str | None) -> dict:
        body: dict[str, Any] = {}
        if sv.schema_type != AVRO:
            body["schemaType"] = sv.schema_type
        body["schema"] = self.registry.formatted(sv, fmt)
        if sv.references:
            body["references"] = [r.to_dict() for r in sv.references]
        guid = self.registry.guid(sv)
        if guid:
            body["guid"] = guid
        return body

    async def get_schema(self, request: web.Request) -> web.Response:
        schema_id = path_int(request, "id")

        def work() -> dict:
            sv = self.registry.get_schema_by_id(schema_id)
            return self._schema_string(sv, request.query.get("format"))

        return reply(await self.run(work))

    async def get_schema_only(self, request: web.Request) -> web.Response:
        schema_id = path_int(request, "id")

        def work() -> str:
            sv = self.registry.get_schema_by_id(schema_id)
            return self.registry.formatted(sv, request.query.get("format"))

        return reply(await self.run(work))

    async def get_schema_by_guid(self, request: web.Request) -> web.Response:
        def work() -> dict:
            sv = self.registry.get_schema_by_guid(request.match_info["guid"])
            body = self._schema_string(sv, request.query.get("format"))
            return {"id": sv.id, **body}

        return reply(await self.run(work))

    async def get_subjects_by_id(self, request: web.Request) -> web.Response:
        schema_id = path_int(request, "id")
        pairs = self.registry.subject_versions_by_id(schema_id, flag(request, "deleted"))
        wanted = request.query.get("subject")
        subjects = sorted({s for s, _v in pairs if wanted is None or s == wanted})
        return reply(page(request, subjects))

    async def get_versions_by_id(self, request: web.Request) -> web.Response:
        schema_id = path_int(request, "id")
        pairs = self.registry.subject_versions_by_id(schema_id, flag(request, "deleted"))
        wanted = request.query.get("subject")
        body = [{"subject": s, "version": v} for s, v in pairs if wanted is None or s == wanted]
        return reply(page(request, body))

    # --- subjects ------------------------------------------------------------------------------

    async def list_subjects(self, request: web.Request) -> web.Response:
        subjects = self.registry.list_subjects(
            request.query.get("subjectPrefix", ""),
            flag(request, "deleted"),
            flag(request, "deleted_only"),
        )
        return reply(page(request, subjects))

    async def list_versions(self, request: web.Request) -> web.Response:
        versions = self.registry.list_versions(
            request.match_info["subject"], flag(request, "deleted"), flag(request, "deleted_only")
        )
        return reply(page(request, versions))

    async def register(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        body = schema_request(await json_body(request))

        def work() -> dict:
            sv = self.registry.register(
                subject,
                body["schema"],
                body["schema_type"],
                body["references"],
                normalize=flag(request, "normalize"),
                schema_id=body["id"],
                version=body["version"],
            )
            # RegisterSchemaResponse. The schema echoes the request: a client caches it as the
            # schema of this id, so it must stay in the form the client sent.
            out: dict[str, Any] = {"id": sv.id, "version": sv.version}
            guid = self.registry.guid(sv)
            if guid:
                out["guid"] = guid
            if sv.schema_type != AVRO:
                out["schemaType"] = sv.schema_type
            if sv.references:
                out["references"] = [r.to_dict() for r in sv.references]
            out["schema"] = body["schema"]
            return out

        return reply(await self.run(work))

    async def lookup_schema(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        body = schema_request(await json_body(request))

        def work() -> dict:
            sv = self.registry.lookup_schema(
                subject,
                body["schema"],
                body["schema_type"],
                body["references"],
                normalize=flag(request, "normalize"),
                deleted=flag(request, "deleted"),
            )
            return schema_entity(self.registry, sv, request.query.get("format"))

        return reply(await self.run(work))

    async def get_version(self, request: web.Request) -> web.Response:
        return await self._version(request, parse_version(request.match_info["version"]))

    async def _version(self, request: web.Request, version: int) -> web.Response:
        def work() -> dict:
            sv = self.registry.get_version(
                request.match_info["subject"], version, flag(request, "deleted")
            )
            return schema_entity(self.registry, sv, request.query.get("format"))

        return reply(await self.run(work))

    async def get_version_schema(self, request: web.Request) -> web.Response:
        version = parse_version(request.match_info["version"])

        def work() -> str:
            sv = self.registry.get_version(
                request.match_info["subject"], version, flag(request, "deleted")
            )
            return self.registry.formatted(sv, request.query.get("format"))

        # The bare schema string, not a JSON value (Confluent returns it unescaped).
        text = await self.run(work)
        return web.Response(text=text, content_type=CONTENT_TYPE, charset="utf-8")

    async def referenced_by(self, request: web.Request) -> web.Response:
        version = parse_version(request.match_info["version"])
        ids = self.registry.referenced_by(request.match_info["subject"], version)
        return reply(page(request, ids))

    async def latest_with_metadata(self, request: web.Request) -> web.Response:
        # Schemas here carry no metadata: only "no filter" can match.
        if request.query.getall("key", []):
            subject = request.match_info["subject"]
            self.registry.list_versions(subject, flag(request, "deleted"))  # 40401 first
            raise errors.schema_not_found()
        return await self._version(request, parse_version("latest"))

    async def delete_subject(self, request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        versions = await self.run(self.registry.delete_subject, subject, flag(request, "permanent"))
        return reply(versions)

    async def delete_version(self, request: web.Request) -> web.Response:
        version = parse_version(request.match_info["version"])
        deleted = await self.run(
            self.registry.delete_version,
            request.match_info["subject"],
            version,
            flag(request, "permanent"),
        )
        return reply(deleted)

    async def test_compatibility(self, request: web.Request) -> web.Response:
        raw_version = request.match_info.get("version")
        version = parse_version(raw_version) if raw_version is not None else None
        body = schema_request(await json_body(request))
        verbose = flag(request, "verbose")
        problems = await self.run(
            self.registry.test_compatibility,
            request.match_info["subject"],
            version,
            body["schema"],
            body["schema_type"],
            body["references"],
            verbose,
        )
        out: dict[str, Any] = {"is_compatible": not problems}
        if verbose:
            out["messages"] = problems
        return reply(out)

    # --- config, mode, contexts ----------------------------------------------------------------

    async def get_config(self, request: web.Request) -> web.Response:
        level = self.registry.get_config(
            request.match_info.get("subject"), flag(request, "defaultToGlobal")
        )
        return reply({"compatibilityLevel": level})

    async def update_config(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise errors.unprocessable('expected a JSON object such as {"compatibility": ...}')
        level = body.get("compatibility", body.get("compatibilityLevel"))
        level = await self.run(
            self.registry.update_config, request.match_info.get("subject"), level
        )
        return reply({"compatibility": level})

    async def delete_config(self, request: web.Request) -> web.Response:
        old = await self.run(self.registry.delete_config, request.match_info.get("subject"))
        return reply({"compatibilityLevel": old})

    async def get_mode(self, request: web.Request) -> web.Response:
        mode = self.registry.get_mode(
            request.match_info.get("subject"), flag(request, "defaultToGlobal")
        )
        return reply({"mode": mode})

    async def update_mode(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise errors.unprocessable('expected a JSON object such as {"mode": ...}')
        mode = await self.run(
            self.registry.update_mode,
            request.match_info.get("subject"),
            body.get("mode"),
            flag(request, "force"),
        )
        return reply({"mode": mode})

    async def delete_mode(self, request: web.Request) -> web.Response:
        old = await self.run(self.registry.delete_mode, request.match_info["subject"])
        return reply({"mode": old})

    async def contexts(self, request: web.Request) -> web.Response:
        return reply(page(request, ["."]))
