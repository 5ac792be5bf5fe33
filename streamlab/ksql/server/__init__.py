"""The ksqlDB-compatible REST API (``app``) over the Kafka-backed engine."""

from streamlab.ksql.server.app import KsqlServer, build_app

__all__ = ["KsqlServer", "build_app"]
