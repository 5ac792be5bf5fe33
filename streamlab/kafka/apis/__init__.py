"""One module per Kafka API family; each handler turns a kio request into state calls and a
kio response. ``VERSIONS`` is the single table of what the broker advertises in ApiVersions:
from kio's lowest decodable version up to the highest librdkafka 2.16 sends
(research/kafka-emulator.md §2.2).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from streamlab.kafka.protocol.codec import response_schema
from streamlab.kafka.protocol.entities import make

if TYPE_CHECKING:
    from streamlab.kafka.server import Connection, Emulator

log = logging.getLogger("streamlab.kafka")


class ApiKey(IntEnum):
    PRODUCE = 0
    FETCH = 1
    LIST_OFFSETS = 2
    METADATA = 3
    OFFSET_COMMIT = 8
    OFFSET_FETCH = 9
    FIND_COORDINATOR = 10
    JOIN_GROUP = 11
    HEARTBEAT = 12
    LEAVE_GROUP = 13
    SYNC_GROUP = 14
    DESCRIBE_GROUPS = 15
    LIST_GROUPS = 16
    SASL_HANDSHAKE = 17
    API_VERSIONS = 18
    CREATE_TOPICS = 19
    DELETE_TOPICS = 20
    DELETE_RECORDS = 21
    INIT_PRODUCER_ID = 22
    ADD_PARTITIONS_TO_TXN = 24
    ADD_OFFSETS_TO_TXN = 25
    END_TXN = 26
    TXN_OFFSET_COMMIT = 28
    DESCRIBE_CONFIGS = 32
    ALTER_CONFIGS = 33
    CREATE_PARTITIONS = 37
    SASL_AUTHENTICATE = 36
    DELETE_GROUPS = 42
    INCREMENTAL_ALTER_CONFIGS = 44
    OFFSET_DELETE = 47
    DESCRIBE_CLUSTER = 60


# (min, max) advertised per API.
VERSIONS: dict[ApiKey, tuple[int, int]] = {
    ApiKey.PRODUCE: (3, 10),
    ApiKey.FETCH: (4, 16),
    ApiKey.LIST_OFFSETS: (1, 7),
    ApiKey.METADATA: (0, 13),
    ApiKey.OFFSET_COMMIT: (2, 9),
    ApiKey.OFFSET_FETCH: (1, 9),
    ApiKey.FIND_COORDINATOR: (0, 4),
    ApiKey.JOIN_GROUP: (0, 9),
    ApiKey.HEARTBEAT: (0, 4),
    ApiKey.LEAVE_GROUP: (0, 5),
    ApiKey.SYNC_GROUP: (0, 5),
    ApiKey.DESCRIBE_GROUPS: (0, 5),
    ApiKey.LIST_GROUPS: (0, 5),
    ApiKey.SASL_HANDSHAKE: (0, 1),
    ApiKey.API_VERSIONS: (0, 3),
    ApiKey.CREATE_TOPICS: (2, 7),
    ApiKey.DELETE_TOPICS: (1, 6),
    ApiKey.DELETE_RECORDS: (0, 2),
    ApiKey.INIT_PRODUCER_ID: (0, 4),
    # Transactions, classic protocol ("V1"): AddPartitionsToTxn v4+ is broker-to-broker,
    # EndTxn v5 / TxnOffsetCommit v5 / Produce v12 are KIP-890 part 2, not implemented.
    ApiKey.ADD_PARTITIONS_TO_TXN: (0, 3),
    ApiKey.ADD_OFFSETS_TO_TXN: (0, 4),
    ApiKey.END_TXN: (0, 4),
    ApiKey.TXN_OFFSET_COMMIT: (0, 4),
    ApiKey.DESCRIBE_CONFIGS: (1, 4),
    ApiKey.ALTER_CONFIGS: (0, 2),
    ApiKey.SASL_AUTHENTICATE: (0, 2),
    ApiKey.CREATE_PARTITIONS: (0, 3),
    ApiKey.DELETE_GROUPS: (0, 2),
    ApiKey.INCREMENTAL_ALTER_CONFIGS: (0, 1),
    ApiKey.OFFSET_DELETE: (0, 0),
    ApiKey.DESCRIBE_CLUSTER: (0, 1),
}

# APIs a client may use before SASL authentication completes.
PRE_AUTH = frozenset({ApiKey.API_VERSIONS, ApiKey.SASL_HANDSHAKE, ApiKey.SASL_AUTHENTICATE})


@dataclass
class RequestContext:
    emulator: Emulator
    conn: Connection
    node_id: int
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cluster(self):
        return self.emulator.cluster

    def new(self, entity: str, /, **values: Any) -> Any:
        """An entity of this request's response module, e.g. ``ctx.new("FetchResponse", ...)``."""
        module = _response_module(self.api_key, self.api_version)
        return make(getattr(module, entity), **values)

    def response(self, **values: Any) -> Any:
        return make(response_schema(self.api_key, self.api_version), **values)


def _response_module(api_key: int, api_version: int):
    import sys

    return sys.modules[response_schema(api_key, api_version).__module__]


Handler = Callable[[RequestContext, Any], Awaitable[Any]]
HANDLERS: dict[int, Handler] = {}


def handles(key: ApiKey) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[key] = fn
        return fn

    return register


def error(name: str) -> ErrorCode:
    return ErrorCode[name]


# Handler modules register themselves on import. A module that is not there yet simply leaves
# its APIs unadvertised.
_MODULES = (
    "api_versions",
    "metadata",
    "produce",
    "fetch",
    "list_offsets",
    "groups",
    "offsets",
    "admin",
    "configs",
    "sasl",
    "transactions",
)


def load_all() -> None:
    for name in _MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise


def advertised() -> list[tuple[int, int, int]]:
    return sorted((int(k), lo, hi) for k, (lo, hi) in VERSIONS.items() if k in HANDLERS)
