"""The emulated Kafka cluster: a broker in Python speaking the Kafka wire protocol.

Layout: ``protocol/`` (frames, kio entities, record batches) · ``apis/`` (one module per API
family, thin) · ``log`` (partition logs on disk) · ``cluster`` (topics, brokers, leaders) ·
``coordinator`` (consumer groups) · ``server`` (listeners, connections) · ``webapi`` (observability
API) · ``__main__`` (the process).
"""
