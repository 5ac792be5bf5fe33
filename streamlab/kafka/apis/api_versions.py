"""ApiVersions (18): what this broker speaks. Clients choose min(their max, our max)."""

from __future__ import annotations

from kio.schema.api_versions.v0.response import ApiVersion as ApiVersionV0
from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0
from kio.schema.errors import ErrorCode

from streamlab.kafka.apis import ApiKey, RequestContext, advertised, handles


@handles(ApiKey.API_VERSIONS)
async def api_versions(ctx: RequestContext, request) -> object:
    name = getattr(request, "client_software_name", "")  # v3+: e.g. confluent-kafka-python
    if name:
        ctx.conn.client_software = f"{name}/{getattr(request, 'client_software_version', '')}"
    keys = tuple(
        ctx.new("ApiVersion", api_key=k, min_version=lo, max_version=hi)
        for k, lo, hi in advertised()
    )
    return ctx.response(error_code=ErrorCode.none, api_keys=keys)


def unsupported_version_response(max_version: int):
    """KIP-511: a client newer than us gets a v0-format answer listing only ApiVersions, and
    retries with a version we support."""
    return ApiVersionsResponseV0(
        error_code=ErrorCode.unsupported_version,
        api_keys=(
            ApiVersionV0(api_key=int(ApiKey.API_VERSIONS), min_version=0, max_version=max_version),
        ),
    )
