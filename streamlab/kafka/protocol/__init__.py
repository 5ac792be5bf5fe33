"""Kafka wire protocol: framing, request decoding and response encoding (kio), record batches.

Nothing here holds broker state; the handlers in ``streamlab.kafka.apis`` translate between
protocol entities and the state classes (``log``, ``cluster``, ``coordinator``).
"""
