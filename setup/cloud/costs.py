"""Hourly rates behind ``plan``'s estimate, in US dollars.

These are planning figures, not quotes: Confluent and AWS prices vary by region and change.
Check https://www.confluent.io/pricing/ and https://aws.amazon.com/lambda/pricing/ before a
workshop and edit here. Per-GB charges (Kafka ingress/egress, connector throughput) and Lambda
invocations depend on traffic and are left out; at the Datagen rates used here they are cents.
"""

from __future__ import annotations

# Basic cluster: billed per eCKU-hour, the first eCKU free (organizations since April 2024).
KAFKA_BASIC_PER_HOUR = 0.0
# ksqlDB: per CSU-hour from creation until deletion, busy or idle. The main cost.
KSQLDB_PER_CSU_HOUR = 0.23
# Managed connectors: per task-hour (plus throughput per GB).
CONNECTOR_PER_TASK_HOUR = 0.035
# Stream Governance ESSENTIALS with a handful of schemas.
SCHEMA_REGISTRY_PER_HOUR = 0.0
# Secrets Manager: $0.40 per secret-month, about 730 hours.
SECRET_PER_HOUR = 0.40 / 730
