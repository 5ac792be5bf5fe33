"""URL functions: parts of a URL as ``java.net.URI`` gives them, and form-parameter escaping."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote, unquote_plus, urlsplit

from streamlab.ksql.errors import KsqlFunctionException
from streamlab.ksql.functions.registry import INTEGER, STRING, udf

_CAT = "URL"
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.*")
_INVALID = re.compile(r"[\s<>\"{}|\\^`]")


def _parse(url: str) -> SplitResult:
    if _INVALID.search(url):
        raise KsqlFunctionException(f"URL input has invalid syntax: {url}")
    try:
        return urlsplit(url)
    except ValueError as error:
        raise KsqlFunctionException(f"URL input has invalid syntax: {url}") from error


def _decoded(part: str, present: bool) -> str | None:
    return unquote(part) if present else None


@udf("url_encode_param", STRING, returns=STRING, category=_CAT)
def url_encode_param(text: str) -> str:
    """Escapes a value for a URL query (Guava's form-parameter escaper)."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


@udf("url_decode_param", STRING, returns=STRING, category=_CAT)
def url_decode_param(text: str) -> str:
    """Unescapes a URL query value (``+`` is a space)."""
    return unquote_plus(text)


@udf("url_extract_fragment", STRING, returns=STRING, category=_CAT)
def url_extract_fragment(url: str) -> str | None:
    """The fragment of a URL (after ``#``), or NULL."""
    return _decoded(_parse(url).fragment, "#" in url)


@udf("url_extract_host", STRING, returns=STRING, category=_CAT)
def url_extract_host(url: str) -> str | None:
    """The host of a URL, or NULL."""
    netloc = _parse(url).netloc
    if not netloc:
        return None
    host = netloc.rpartition("@")[2]
    if host.startswith("["):  # IPv6 literal: java.net.URI keeps the brackets
        return host[: host.find("]") + 1] or None
    return host.partition(":")[0] or None


@udf("url_extract_parameter", STRING, STRING, returns=STRING, category=_CAT)
def url_extract_parameter(url: str, name: str) -> str | None:
    """The (decoded) value of a query parameter; ``''`` if it has no value, NULL if absent."""
    query = _decoded(_parse(url).query, "?" in url.split("#", 1)[0])
    if query is None:
        return None
    for param in query.split("&"):
        key, sep, value = param.partition("=")
        if key == name:
            return value if sep else ""
    return None


@udf("url_extract_path", STRING, returns=STRING, category=_CAT)
def url_extract_path(url: str) -> str | None:
    """The (decoded) path of a URL."""
    return unquote(_parse(url).path)


@udf("url_extract_port", STRING, returns=INTEGER, category=_CAT)
def url_extract_port(url: str) -> int | None:
    """The port of a URL, or NULL."""
    try:
        return _parse(url).port
    except ValueError as error:
        raise KsqlFunctionException(f"URL input has invalid syntax: {url}") from error


@udf("url_extract_protocol", STRING, returns=STRING, category=_CAT)
def url_extract_protocol(url: str) -> str | None:
    """The scheme of a URL, or NULL."""
    return _parse(url).scheme or None


@udf("url_extract_query", STRING, returns=STRING, category=_CAT)
def url_extract_query(url: str) -> str | None:
    """The (decoded) query of a URL (after ``?``), or NULL."""
    return _decoded(_parse(url).query, "?" in url.split("#", 1)[0])
