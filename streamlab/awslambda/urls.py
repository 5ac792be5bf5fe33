"""Lambda REST paths (as in the API model botocore ships) -> operation names of
:class:`streamlab.awslambda.responses.LambdaResponses`.

Patterns match the raw, still percent-encoded path; captured groups are unquoted afterwards (a
function ARN arrives as ``arn%3Aaws%3Alambda%3A...``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_NAME = r"(?P<name>[^/]+)"
_UUID = r"(?P<uuid>[^/]+)"
_VERSION = r"(?P<version>[^/]+)"

URLS: list[tuple[str, str, str]] = [
    ("POST", r"/2015-03-31/functions/?", "create_function"),
    ("GET", r"/2015-03-31/functions/?", "list_functions"),
    ("GET", rf"/2015-03-31/functions/{_NAME}/?", "get_function"),
    ("DELETE", rf"/2015-03-31/functions/{_NAME}/?", "delete_function"),
    ("GET", rf"/2015-03-31/functions/{_NAME}/configuration/?", "get_function_configuration"),
    ("PUT", rf"/2015-03-31/functions/{_NAME}/configuration/?", "update_function_configuration"),
    ("PUT", rf"/2015-03-31/functions/{_NAME}/code/?", "update_function_code"),
    ("POST", rf"/2015-03-31/functions/{_NAME}/invocations/?", "invoke"),
    ("POST", rf"/2014-11-13/functions/{_NAME}/invoke-async/?", "invoke_async"),
    ("PUT", rf"/2017-10-31/functions/{_NAME}/concurrency/?", "put_function_concurrency"),
    ("GET", rf"/2019-09-30/functions/{_NAME}/concurrency/?", "get_function_concurrency"),
    ("DELETE", rf"/2017-10-31/functions/{_NAME}/concurrency/?", "delete_function_concurrency"),
    ("GET", r"/2016-08-19/account-settings/?", "get_account_settings"),
    ("POST", r"/2017-03-31/tags/(?P<arn>.+)", "tag_resource"),
    ("GET", r"/2017-03-31/tags/(?P<arn>.+)", "list_tags"),
    ("DELETE", r"/2017-03-31/tags/(?P<arn>.+)", "untag_resource"),
    ("POST", rf"/2018-10-31/layers/{_NAME}/versions/?", "publish_layer_version"),
    ("GET", rf"/2018-10-31/layers/{_NAME}/versions/?", "list_layer_versions"),
    ("GET", rf"/2018-10-31/layers/{_NAME}/versions/{_VERSION}/?", "get_layer_version"),
    ("DELETE", rf"/2018-10-31/layers/{_NAME}/versions/{_VERSION}/?", "delete_layer_version"),
    # ListLayers, or GetLayerVersionByArn with ?find=LayerVersion&Arn=...
    ("GET", r"/2018-10-31/layers/?", "list_layers"),
    ("POST", r"/2015-03-31/event-source-mappings/?", "create_event_source_mapping"),
    ("GET", r"/2015-03-31/event-source-mappings/?", "list_event_source_mappings"),
    ("GET", rf"/2015-03-31/event-source-mappings/{_UUID}/?", "get_event_source_mapping"),
    ("PUT", rf"/2015-03-31/event-source-mappings/{_UUID}/?", "update_event_source_mapping"),
    ("DELETE", rf"/2015-03-31/event-source-mappings/{_UUID}/?", "delete_event_source_mapping"),
]

_COMPILED = [(m, re.compile(p + "$"), op) for m, p, op in URLS]
PREFIXES = (
    "/2015-03-31/",
    "/2014-11-13/",
    "/2017-10-31/",
    "/2019-09-30/",
    "/2016-08-19/",
    "/2017-03-31/tags/",
    "/2018-10-31/layers",
)


def is_lambda_path(raw_path: str) -> bool:
    return raw_path.startswith(PREFIXES)


def resolve(method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
    """(operation, unquoted path parameters), or None for no Lambda operation."""
    for m, pattern, op in _COMPILED:
        if m != method:
            continue
        match = pattern.match(raw_path)
        if match:
            return op, {k: unquote(v) for k, v in match.groupdict().items()}
    return None
