"""SASL/PLAIN on a SASL_PLAINTEXT listener: good and bad credentials."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from conformance_helpers import result, unique, wait_for


def _sasl(user: str, password: str) -> dict:
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": user,
        "sasl.password": password,
    }


@pytest.fixture
def sasl_bootstrap(kafka) -> str:
    if not kafka.sasl_bootstrap:
        pytest.skip("no SASL listener on this cluster")
    return kafka.sasl_bootstrap


def test_good_credentials(kafka, sasl_bootstrap):
    user, password = next(iter(kafka.sasl_users.items()))
    conf = _sasl(user, password)
    admin = AdminClient(kafka.conf(conf, bootstrap=sasl_bootstrap))
    topic = unique("sasl")
    result(admin.create_topics([NewTopic(topic, 1)])[topic])
    wait_for(lambda: topic in admin.list_topics(timeout=10).topics, what=f"{topic} created")
    kafka.produce(topic, [b"secret"], conf, bootstrap=sasl_bootstrap)
    [msg] = kafka.read(topic, 1, overrides=conf, bootstrap=sasl_bootstrap)
    assert msg.value() == b"secret"


@pytest.mark.parametrize("who", ["bad-password", "unknown-user"])
def test_bad_credentials(kafka, sasl_bootstrap, who):
    user, password = next(iter(kafka.sasl_users.items()))
    creds = (user, "wrong") if who == "bad-password" else ("mallory", password)
    errors: list[KafkaError] = []
    conf = {**_sasl(*creds), "error_cb": errors.append}
    p = kafka.producer(conf, bootstrap=sasl_bootstrap)

    def auth_error():
        p.poll(0.1)
        return [e for e in errors if e.code() == KafkaError._AUTHENTICATION]

    [err, *_] = wait_for(auth_error, what="an authentication error")
    assert "Authentication failed" in err.str(), err.str()
    with pytest.raises(KafkaException):
        AdminClient(kafka.conf(_sasl(*creds), bootstrap=sasl_bootstrap)).list_topics(timeout=2)


def test_plaintext_client_on_sasl_listener(kafka, sasl_bootstrap):
    with pytest.raises(KafkaException):
        AdminClient(kafka.conf(bootstrap=sasl_bootstrap)).list_topics(timeout=3)
