"""Options shared by every test folder (pytest only reads pytest_addoption from the root)."""


def pytest_addoption(parser):
    group = parser.getgroup("kafka", "Kafka conformance suite (tests/conformance)")
    group.addoption(
        "--kafka-bootstrap",
        metavar="HOST:PORT",
        help="run tests/conformance against this external cluster instead of the emulator "
        "and real Kafka started locally",
    )
    group.addoption(
        "--kafka-config",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="extra librdkafka client setting for --kafka-bootstrap (repeatable), e.g. "
        "security.protocol=SASL_SSL",
    )
