"""SASL/PLAIN on the emulated broker, as confluent-kafka clients use it (security.protocol
SASL_PLAINTEXT, sasl.mechanisms PLAIN): good credentials work for producer, consumer and admin;
bad ones get _AUTHENTICATION errors while the broker keeps serving everyone else; a client that
skips SASL is disconnected. Raw requests cover the handshake rules librdkafka never breaks.
"""

from __future__ import annotations

import io
import socket
import struct
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kio.index import load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.serial import entity_reader, entity_writer

from streamlab.kafka.protocol.entities import make
from streamlab.kafka.testing import ClusterProcess

pytestmark = pytest.mark.timeout(120)

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
WAIT = 30  # seconds a bounded wait may take before the test fails (never a speed assertion)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sasl(cluster: ClusterProcess, user: str, password: str, **extra) -> dict:
    return {
        "bootstrap.servers": cluster.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": user,
        "sasl.password": password,
        **extra,
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = ClusterProcess(tmp_path_factory.mktemp("sasl"), sasl_users=USERS).start()
    yield c
    c.stop()


def round_trip(cluster: ClusterProcess, user: str = "alice") -> None:
    """A good client produces and consumes: the broker is serving."""
    topic = unique()
    admin = AdminClient(sasl(cluster, user, USERS[user]))
    admin.create_topics([NewTopic(topic, 1)])[topic].result(timeout=WAIT)
    producer = Producer(sasl(cluster, user, USERS[user]))
    producer.produce(topic, b"hello", key=b"k")
    assert producer.flush(WAIT) == 0
    consumer = Consumer(
        sasl(
            cluster, user, USERS[user], **{"group.id": unique("g"), "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + WAIT
    msg = None
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            break
    consumer.close()
    assert msg is not None and msg.error() is None and msg.value() == b"hello"


def first_error(poll, errors: list) -> KafkaError:
    """Poll (serving callbacks) until error_cb has reported something."""
    deadline = time.monotonic() + WAIT
    while not errors and time.monotonic() < deadline:
        poll(0.2)
    assert errors, "no error reported"
    return errors[0]


# --- librdkafka clients -----------------------------------------------------------------------


def test_good_credentials(cluster):
    round_trip(cluster, "alice")
    round_trip(cluster, "bob")
    admin = AdminClient(sasl(cluster, "bob", USERS["bob"], **{"client.id": "bobs-admin"}))
    assert admin.list_topics(timeout=WAIT).brokers
    # librdkafka swaps its bootstrap connection for one per broker: wait for one to be listed
    deadline = time.monotonic() + WAIT
    while True:
        clients = [c for c in cluster.api("/api/clients") if c["client_id"] == "bobs-admin"]
        if clients or time.monotonic() > deadline:
            break
        admin.list_topics(timeout=WAIT)
        time.sleep(0.1)
    assert clients
    assert {(c["principal"], c["sasl_mechanism"]) for c in clients} == {("User:bob", "PLAIN")}
    assert all(c["requests"]["SASL_AUTHENTICATE"] == 1 for c in clients)


@pytest.mark.parametrize(
    ("user", "password"),
    [("alice", "wrong"), ("mallory", "alice-secret"), ("Alice", "alice-secret")],
)
def test_bad_credentials_fail_with_authentication_errors(cluster, user, password):
    errors: list[KafkaError] = []
    producer = Producer(sasl(cluster, user, password, error_cb=errors.append))
    producer.produce(unique(), b"never")
    err = first_error(producer.poll, errors)
    assert err.code() == KafkaError._AUTHENTICATION
    assert "Authentication failed: Invalid username or password" in err.str()
    producer.purge()

    errors.clear()
    consumer = Consumer(
        sasl(cluster, user, password, **{"group.id": unique("g")}, error_cb=errors.append)
    )
    consumer.subscribe([unique()])
    assert first_error(consumer.poll, errors).code() == KafkaError._AUTHENTICATION
    consumer.close()

    errors.clear()
    admin = AdminClient(sasl(cluster, user, password, error_cb=errors.append))
    assert first_error(admin.poll, errors).code() == KafkaError._AUTHENTICATION
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=2)

    round_trip(cluster)  # good clients are still served
    assert "authentication of" in cluster.tail(200)


def test_client_without_sasl_is_disconnected(cluster):
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=3)
    round_trip(cluster)
    assert "before SASL authentication; closing it" in cluster.tail(200)


# --- raw requests -----------------------------------------------------------------------------


class Wire:
    def __init__(self, cluster: ClusterProcess) -> None:
        host, port = cluster.bootstrap.split(",")[0].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)

    def call(self, key: int, version: int, **fields):
        req = make(load_request_schema(key, version), **fields)
        header_cls = req.__header_schema__
        buf = io.BytesIO()
        header = header_cls(
            request_api_key=key, request_api_version=version, correlation_id=5, client_id="raw"
        )
        entity_writer(header_cls)(buf, header)
        entity_writer(type(req))(buf, req)
        self.sock.sendall(struct.pack(">i", buf.tell()) + buf.getvalue())
        size = self._recv(4)
        if size is None:
            return None
        data = self._recv(struct.unpack(">i", size)[0])
        cls = load_response_schema(key, version)
        _, used = entity_reader(cls.__header_schema__)(data, 0)
        return entity_reader(cls)(data, used)[0]

    def _recv(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def closed(self) -> bool:
        return self._recv(1) is None

    def handshake(self, mechanism: str = "PLAIN"):
        return self.call(17, 1, mechanism=mechanism)

    def authenticate(self, token: bytes):
        return self.call(36, 1, auth_bytes=token)


def test_unsupported_mechanism_lists_plain_and_closes(cluster):
    wire = Wire(cluster)
    resp = wire.handshake("SCRAM-SHA-256")
    assert resp.error_code == ErrorCode.unsupported_sasl_mechanism
    assert list(resp.mechanisms) == ["PLAIN"]
    assert wire.closed()


def test_plain_handshake_and_authenticate(cluster):
    wire = Wire(cluster)
    resp = wire.handshake()
    assert (resp.error_code, list(resp.mechanisms)) == (ErrorCode.none, ["PLAIN"])
    resp = wire.authenticate(b"\0alice\0alice-secret")
    assert (resp.error_code, resp.error_message) == (ErrorCode.none, None)
    meta = wire.call(3, 12, topics=None, allow_auto_topic_creation=False)
    assert meta.brokers  # authenticated: other APIs are served now
    again = wire.authenticate(b"\0alice\0alice-secret")
    assert again.error_code == ErrorCode.illegal_sasl_state


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (b"\0alice\0nope", "Authentication failed: Invalid username or password"),
        (b"alice\0alice-secret", "invalid credentials with SASL mechanism PLAIN"),
        (b"\0\0alice-secret", "Authentication failed: username not specified"),
        (
            b"bob\0alice\0alice-secret",
            "Authentication failed: Client requested an authorization id that is different",
        ),
    ],
)
def test_failed_authentication_is_answered_then_closed(cluster, token, message):
    wire = Wire(cluster)
    assert wire.handshake().error_code == ErrorCode.none
    resp = wire.authenticate(token)
    assert resp.error_code == ErrorCode.sasl_authentication_failed
    assert message in resp.error_message
    assert wire.closed()


def test_authenticate_before_handshake_or_other_apis_close_the_connection(cluster):
    wire = Wire(cluster)
    resp = wire.authenticate(b"\0alice\0alice-secret")
    assert resp.error_code == ErrorCode.illegal_sasl_state
    assert wire.closed()

    wire = Wire(cluster)
    assert wire.call(18, 3, client_software_name="raw", client_software_version="1").api_keys
    assert wire.call(3, 12, topics=None, allow_auto_topic_creation=False) is None  # closed


def test_sasl_requests_on_a_plaintext_broker(tmp_path):
    with ClusterProcess(tmp_path) as cluster:
        wire = Wire(cluster)
        assert wire.handshake().error_code == ErrorCode.illegal_sasl_state
        assert wire.authenticate(b"\0a\0b").error_code == ErrorCode.illegal_sasl_state
        meta = wire.call(3, 12, topics=None, allow_auto_topic_creation=False)
        assert meta.brokers  # still connected and served


def test_failures_are_logged_rate_limited(cluster):
    # librdkafka retries a failed login about every 100 ms; the broker must not log each one
    user = unique("user")
    for _ in range(5):
        wire = Wire(cluster)
        assert wire.handshake().error_code == ErrorCode.none
        resp = wire.authenticate(b"\0" + user.encode() + b"\0wrong")
        assert resp.error_code == ErrorCode.sasl_authentication_failed
    lines = [ln for ln in cluster.tail(2000).splitlines() if repr(user) in ln]
    assert 1 <= len(lines) < 5
