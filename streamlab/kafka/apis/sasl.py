"""SASL/PLAIN: SaslHandshake (17) and SaslAuthenticate (36), like Confluent Cloud's API keys.

Off unless the emulator has ``sasl_users``. A connection goes: ApiVersions -> SaslHandshake v1
("PLAIN") -> SaslAuthenticate v1 (``authzid\\0user\\0password``); until it succeeds the server
accepts nothing else. Failures are answered with Kafka's error and message, then the connection
is closed, as Kafka's SaslServerAuthenticator does. librdkafka retries about every 100 ms with
bad credentials, so the failure log line is rate-limited per client host and user.

State lives on the connection: ``sasl_mechanism`` once the handshake succeeded, ``principal``
("User:<name>", Kafka's KafkaPrincipal form) once authenticated.
"""

from __future__ import annotations

import hmac
import logging
import time

from kio.schema.errors import ErrorCode

from streamlab.kafka.apis import ApiKey, RequestContext, handles

log = logging.getLogger("streamlab.kafka")

MECHANISMS = ("PLAIN",)
FAILURE_LOG_INTERVAL = 10.0  # seconds between two log lines for the same host and user
INVALID_CREDENTIALS = "Authentication failed: Invalid username or password"


@handles(ApiKey.SASL_HANDSHAKE)
async def sasl_handshake(ctx: RequestContext, req) -> object:
    conn = ctx.conn
    if ctx.emulator.sasl_users is None or conn.principal is not None:
        # A PLAINTEXT listener, or a connection already authenticated: Kafka's KafkaApis answers
        # ILLEGAL_SASL_STATE and keeps the connection.
        return ctx.response(error_code=ErrorCode.illegal_sasl_state, mechanisms=())
    if conn.sasl_mechanism is not None:
        return _close(
            ctx,
            ErrorCode.illegal_sasl_state,
            "a second SaslHandshake before SaslAuthenticate",
            mechanisms=(),
        )
    if ctx.api_version == 0:
        # v0 is followed by raw, unframed SASL tokens (clients before Kafka 1.0); not supported.
        return _close(
            ctx,
            ErrorCode.illegal_sasl_state,
            "SaslHandshake v0 (unframed SASL tokens) is not supported; the client must use "
            "SaslAuthenticate (v1)",
            mechanisms=MECHANISMS,
        )
    if req.mechanism not in MECHANISMS:
        return _close(
            ctx,
            ErrorCode.unsupported_sasl_mechanism,
            f"SASL mechanism {req.mechanism!r} is not enabled; enabled: {', '.join(MECHANISMS)}",
            mechanisms=MECHANISMS,
        )
    conn.sasl_mechanism = req.mechanism
    return ctx.response(error_code=ErrorCode.none, mechanisms=MECHANISMS)


@handles(ApiKey.SASL_AUTHENTICATE)
async def sasl_authenticate(ctx: RequestContext, req) -> object:
    conn = ctx.conn
    if ctx.emulator.sasl_users is None or conn.principal is not None:
        return _answer(
            ctx,
            ErrorCode.illegal_sasl_state,
            "SaslAuthenticate request received after successful authentication",
        )
    if conn.sasl_mechanism is None:
        message = "Unexpected SaslAuthenticate request before SaslHandshake"
        return _close(ctx, ErrorCode.illegal_sasl_state, message, error_message=message)
    user, problem = _check_plain(bytes(req.auth_bytes), ctx.emulator.sasl_users)
    if problem is not None:
        _log_failure(conn.peer, user, problem)
        ctx.extra["close"] = True
        return _answer(ctx, ErrorCode.sasl_authentication_failed, problem)
    conn.principal = f"User:{user}"
    log.info(
        "connection %s (%s) authenticated as %s with SASL/%s",
        conn.peer,
        conn.client_id,
        user,
        conn.sasl_mechanism,
    )
    return _answer(ctx, ErrorCode.none, None)


def _check_plain(token: bytes, users: dict[str, str]) -> tuple[str, str | None]:
    """(user, None) when the PLAIN token (RFC 4616) matches a user; else (user, message) with
    the message Kafka's PlainSaslServer gives."""
    parts = token.split(b"\0")
    if len(parts) != 3:
        return "", (
            "Authentication failed during authentication due to invalid credentials with SASL "
            "mechanism PLAIN"
        )
    try:
        authzid, user, password = (p.decode("utf-8") for p in parts)
    except UnicodeDecodeError:
        return "", INVALID_CREDENTIALS
    if not user:
        return user, "Authentication failed: username not specified"
    if not password:
        return user, "Authentication failed: password not specified"
    if authzid and authzid != user:
        return user, (
            "Authentication failed: Client requested an authorization id that is different "
            "from username"
        )
    expected = users.get(user)
    # compare_digest: no timing hint about how much of a password matched
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        return user, INVALID_CREDENTIALS
    return user, None


def _answer(ctx: RequestContext, code: ErrorCode, message: str | None) -> object:
    return ctx.response(error_code=code, error_message=message, auth_bytes=b"")


def _close(ctx: RequestContext, code: ErrorCode, why: str, **fields) -> object:
    """Answer, then close the connection (Kafka fails the authentication and disconnects)."""
    host = ctx.conn.peer.rsplit(":", 1)[0]
    message = "connection from %s (%s): SASL: %s; closing it"
    _rate_limited((host, why), message, host, ctx.conn.client_id, why)
    ctx.extra["close"] = True
    return ctx.response(error_code=code, **fields)


def log_unauthenticated(peer: str, api_name: str) -> None:
    """The server's line for a client that skips SASL (e.g. security.protocol PLAINTEXT against
    a SASL broker): it reconnects every ~100 ms, so this is rate-limited too."""
    _rate_limited(
        (peer.rsplit(":", 1)[0], "<unauthenticated>"),
        f"connection from %s sent {api_name} before SASL authentication; closing it (is the "
        "client configured with security.protocol=SASL_PLAINTEXT and sasl.mechanisms=PLAIN?)",
        peer.rsplit(":", 1)[0],
    )


def _log_failure(peer: str, user: str, problem: str) -> None:
    host = peer.rsplit(":", 1)[0]
    _rate_limited(
        (host, user), "SASL/PLAIN authentication of %r from %s failed: %s", user, host, problem
    )


# (client host, user) -> [monotonic time of the last log line, lines not logged since]
_last_logged: dict[tuple[str, str], list] = {}


def _rate_limited(key: tuple[str, str], message: str, *args) -> None:
    now = time.monotonic()
    if len(_last_logged) > 1000:  # forget hosts that stopped trying
        for old in [k for k, v in _last_logged.items() if now - v[0] > 60]:
            del _last_logged[old]
    state = _last_logged.setdefault(key, [now - FAILURE_LOG_INTERVAL, 0])
    if now - state[0] < FAILURE_LOG_INTERVAL:
        state[1] += 1
        return
    if state[1]:
        message += f" ({state[1]} more since the last report)"
    log.warning(message, *args)
    state[0], state[1] = now, 0
