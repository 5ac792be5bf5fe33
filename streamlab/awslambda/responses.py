"""The Lambda REST API's wire layer: read a request, call the backend once, shape the reply.

Replies are JSON with AWS's member names; errors carry ``x-amzn-ErrorType`` and a JSON body (see
:mod:`streamlab.awslambda.exceptions`). Status codes follow the API model: 201 for
CreateFunction, 202 for the mapping mutations and async invokes, 204 for deletes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from streamlab.awslambda import exceptions as exc
from streamlab.awslambda import urls
from streamlab.awslambda.models import LambdaBackend, LambdaFunction
from streamlab.awslambda.utils import request_id

log = logging.getLogger(__name__)


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    h = {"x-amzn-RequestId": request_id(), **(headers or {})}
    return web.Response(
        status=status, text=json.dumps(data), content_type="application/json", headers=h
    )


def listing_reply(key: str, items: list[Any], marker: str | None) -> web.Response:
    """A listing's page, ``{key: items}``, with ``NextMarker`` when more pages follow."""
    out: dict[str, Any] = {key: items}
    if marker:
        out["NextMarker"] = marker
    return json_reply(out)


def empty_reply(status: int = 204) -> web.Response:
    return web.Response(status=status, headers={"x-amzn-RequestId": request_id()})


def error_reply(e: exc.LambdaError) -> web.Response:
    headers = {"x-amzn-ErrorType": e.code, **e.headers}
    return json_reply(e.body(), status=e.status, headers=headers)


class Call:
    """One request, read once."""

    def __init__(self, request: web.Request, body: bytes, params: dict[str, str]) -> None:
        self.request = request
        self.body = body
        self.params = params

    @property
    def query(self) -> Any:
        return self.request.query

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as e:
            raise exc.InvalidRequestContentException(
                f"Could not parse request body into json: {e}"
            ) from None
        if not isinstance(data, dict):
            raise exc.InvalidRequestContentException(
                "Could not parse request body into json: expected an object"
            )
        return data

    def int_query(self, name: str) -> int | None:
        value = self.query.get(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise exc.ValidationException(value, name, "Member must be an integer") from None


class LambdaResponses:
    def __init__(self, backend_for: Callable[[str], LambdaBackend]) -> None:
        self.backend_for = backend_for

    async def dispatch(self, request: web.Request, body: bytes, region: str) -> web.Response:
        found = urls.resolve(request.method, request.rel_url.raw_path)
        try:
            if found is None:
                raise exc.UnknownOperation(request.method, request.rel_url.raw_path)
            op, params = found
            handler = getattr(self, op)
            return await handler(self.backend_for(region), Call(request, body, params))
        except exc.LambdaError as e:
            return error_reply(e)
        except Exception as e:  # a bug: answer as the service would, keep the traceback
            log.exception("lambda: %s %s failed", request.method, request.rel_url)
            return error_reply(exc.ServiceException(f"{type(e).__name__}: {e}"))

    # --- functions --------------------------------------------------------------------------

    async def create_function(self, b: LambdaBackend, c: Call) -> web.Response:
        fn = await b.create_function(c.json())
        return json_reply(fn.configuration(), 201)

    async def list_functions(self, b: LambdaBackend, c: Call) -> web.Response:
        fns, marker = b.list_functions(c.query.get("Marker"), c.int_query("MaxItems"))
        return listing_reply("Functions", [f.configuration() for f in fns], marker)

    def _function_reply(self, b: LambdaBackend, fn: LambdaFunction) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Configuration": fn.configuration(),
            "Code": {"RepositoryType": "S3", "Location": b.code_location(fn)},
        }
        if fn.tags:
            out["Tags"] = dict(fn.tags)
        if fn.reserved_concurrency is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
        return out

    async def get_function(self, b: LambdaBackend, c: Call) -> web.Response:
        fn = b.get_function(c.params["name"], c.query.get("Qualifier"))
        return json_reply(self._function_reply(b, fn))

    async def get_function_configuration(self, b: LambdaBackend, c: Call) -> web.Response:
        fn = b.get_function(c.params["name"], c.query.get("Qualifier"))
        return json_reply(fn.configuration())

    async def delete_function(self, b: LambdaBackend, c: Call) -> web.Response:
        await b.delete_function(c.params["name"], c.query.get("Qualifier"))
        return empty_reply(204)

    async def update_function_code(self, b: LambdaBackend, c: Call) -> web.Response:
        fn = await b.update_function_code(c.params["name"], c.json())
        return json_reply(fn.configuration())

    async def update_function_configuration(self, b: LambdaBackend, c: Call) -> web.Response:
        fn = await b.update_function_configuration(c.params["name"], c.json())
        return json_reply(fn.configuration())

    # --- layers -------------------------------------------------------------------------------

    async def publish_layer_version(self, b: LambdaBackend, c: Call) -> web.Response:
        lv = await b.publish_layer_version(c.params["name"], c.json())
        return json_reply(lv.describe(b.layer_location(lv)), 201)

    async def get_layer_version(self, b: LambdaBackend, c: Call) -> web.Response:
        lv = b.layers.get(c.params["name"], c.params["version"])
        return json_reply(lv.describe(b.layer_location(lv)))

    async def delete_layer_version(self, b: LambdaBackend, c: Call) -> web.Response:
        b.delete_layer_version(c.params["name"], c.params["version"])
        return empty_reply(204)

    async def list_layer_versions(self, b: LambdaBackend, c: Call) -> web.Response:
        items, marker = b.list_layer_versions(
            c.params["name"],
            c.query.get("CompatibleRuntime"),
            c.query.get("CompatibleArchitecture"),
            c.query.get("Marker"),
            c.int_query("MaxItems"),
        )
        return listing_reply("LayerVersions", [v.list_item() for v in items], marker)

    async def list_layers(self, b: LambdaBackend, c: Call) -> web.Response:
        if c.query.get("find") == "LayerVersion":  # GetLayerVersionByArn shares the path
            lv = b.layers.get_by_arn(c.query.get("Arn"))
            return json_reply(lv.describe(b.layer_location(lv)))
        items, marker = b.list_layers(
            c.query.get("CompatibleRuntime"),
            c.query.get("CompatibleArchitecture"),
            c.query.get("Marker"),
            c.int_query("MaxItems"),
        )
        layers = [
            {"LayerName": v.name, "LayerArn": v.layer_arn, "LatestMatchingVersion": v.list_item()}
            for v in items
        ]
        return listing_reply("Layers", layers, marker)

    # --- invoke -------------------------------------------------------------------------------

    async def invoke(self, b: LambdaBackend, c: Call) -> web.Response:
        h = c.request.headers
        r = await b.invoke(
            c.params["name"],
            c.query.get("Qualifier"),
            c.body,
            h.get("X-Amz-Invocation-Type", "RequestResponse"),
            h.get("X-Amz-Log-Type", "None"),
            h.get("X-Amz-Client-Context"),
        )
        headers = dict(r.headers)
        content_type = headers.pop("Content-Type", None)
        resp = web.Response(status=r.status, body=r.payload or None, headers=headers)
        if r.status == 200:
            resp.content_type = (content_type or "application/json").split(";")[0]
        return resp

    async def invoke_async(self, b: LambdaBackend, c: Call) -> web.Response:
        await b.invoke(c.params["name"], None, c.body, "Event")
        return json_reply({"Status": 202}, 202)

    # --- concurrency, account, tags -----------------------------------------------------------

    async def put_function_concurrency(self, b: LambdaBackend, c: Call) -> web.Response:
        n = b.put_function_concurrency(
            c.params["name"], c.json().get("ReservedConcurrentExecutions")
        )
        return json_reply({"ReservedConcurrentExecutions": n})

    async def get_function_concurrency(self, b: LambdaBackend, c: Call) -> web.Response:
        n = b.get_function_concurrency(c.params["name"])
        return json_reply({} if n is None else {"ReservedConcurrentExecutions": n})

    async def delete_function_concurrency(self, b: LambdaBackend, c: Call) -> web.Response:
        b.delete_function_concurrency(c.params["name"])
        return empty_reply(204)

    async def get_account_settings(self, b: LambdaBackend, c: Call) -> web.Response:
        return json_reply(b.account_settings())

    async def tag_resource(self, b: LambdaBackend, c: Call) -> web.Response:
        b.tag_resource(c.params["arn"], c.json().get("Tags") or {})
        return empty_reply(204)

    async def untag_resource(self, b: LambdaBackend, c: Call) -> web.Response:
        b.untag_resource(c.params["arn"], c.request.query.getall("tagKeys", []))
        return empty_reply(204)

    async def list_tags(self, b: LambdaBackend, c: Call) -> web.Response:
        return json_reply({"Tags": b.list_tags(c.params["arn"])})

    # --- event source mappings -------------------------------------------------------------------

    async def create_event_source_mapping(self, b: LambdaBackend, c: Call) -> web.Response:
        m = await b.create_event_source_mapping(c.json())
        return json_reply(m.configuration(), 202)

    async def get_event_source_mapping(self, b: LambdaBackend, c: Call) -> web.Response:
        return json_reply(b.get_event_source_mapping(c.params["uuid"]).configuration())

    async def list_event_source_mappings(self, b: LambdaBackend, c: Call) -> web.Response:
        items, marker = b.list_event_source_mappings(
            c.query.get("FunctionName"),
            c.query.get("EventSourceArn"),
            c.query.get("Marker"),
            c.int_query("MaxItems"),
        )
        return listing_reply("EventSourceMappings", [m.configuration() for m in items], marker)

    async def update_event_source_mapping(self, b: LambdaBackend, c: Call) -> web.Response:
        m = await b.update_event_source_mapping(c.params["uuid"], c.json())
        return json_reply(m.configuration(), 202)

    async def delete_event_source_mapping(self, b: LambdaBackend, c: Call) -> web.Response:
        m = await b.delete_event_source_mapping(c.params["uuid"])
        return json_reply(m.configuration(), 202)
