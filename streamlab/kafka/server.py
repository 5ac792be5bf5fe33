"""The emulated cluster process: one listener per broker, one task per connection.

Kafka processes one request at a time per connection and answers in order; so do we, by awaiting
each handler before reading the next frame. A long-polling Fetch therefore only delays requests
queued behind it on the same socket, exactly as on a real broker. Anything malformed on a socket
closes that one connection with a log line; the broker keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from streamlab.kafka import apis
from streamlab.kafka.apis import PRE_AUTH, VERSIONS, ApiKey, RequestContext, sasl
from streamlab.kafka.apis.api_versions import unsupported_version_response
from streamlab.kafka.cluster import Broker, Cluster
from streamlab.kafka.protocol.codec import DecodeError, decode_request, encode_response, peek_header

log = logging.getLogger("streamlab.kafka")

MAX_REQUEST_BYTES = 100 * 1024 * 1024  # Kafka's socket.request.max.bytes


@dataclass(eq=False)
class Connection:
    id: int
    node_id: int
    peer: str
    connected_at: float = field(default_factory=time.time)
    client_id: str | None = None
    client_software: str | None = None
    principal: str | None = None  # SASL user once authenticated
    sasl_mechanism: str | None = None
    requests: Counter = field(default_factory=Counter)
    bytes_in: int = 0
    bytes_out: int = 0
    writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.close()


class BrokerListener:
    def __init__(self, emulator: Emulator, broker: Broker) -> None:
        self.emulator = emulator
        self.broker = broker
        self.server: asyncio.Server | None = None
        self.connections: set[Connection] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._serve, self.broker.host, self.broker.port, reuse_address=True
        )
        self.broker.port = self.server.sockets[0].getsockname()[1]
        self.broker.alive = True
        log.info(
            "broker %d listening on %s:%d", self.broker.node_id, self.broker.host, self.broker.port
        )

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for conn in list(self.connections):
                conn.close()
            await self.server.wait_closed()
            self.server = None
        self.broker.alive = False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        conn = Connection(
            next(self.emulator.conn_ids),
            self.broker.node_id,
            f"{peer[0]}:{peer[1]}" if peer else "?",
            writer=writer,
        )
        self.connections.add(conn)
        self.emulator.connections[conn.id] = conn
        try:
            await self._loop(conn, reader, writer)
        except asyncio.IncompleteReadError as e:
            if e.partial or e.expected != 4:  # not a clean close between two requests
                log.warning(
                    "connection %s (%s): closed mid-request after %d of %d bytes",
                    conn.peer,
                    conn.client_id,
                    len(e.partial),
                    e.expected,
                )
        except (ConnectionError, asyncio.CancelledError):
            pass  # the peer went away, or the broker is shutting down
        except Exception:
            log.exception(
                "connection %s (%s): internal error, closing it", conn.peer, conn.client_id
            )
        finally:
            self.connections.discard(conn)
            self.emulator.connections.pop(conn.id, None)
            self.emulator.on_disconnect(conn)
            conn.close()

    async def _loop(self, conn: Connection, reader, writer) -> None:
        em = self.emulator
        while True:
            size_bytes = await reader.readexactly(4)
            size = int.from_bytes(size_bytes, "big", signed=True)
            if size < 8 or size > MAX_REQUEST_BYTES:
                log.warning("connection %s: invalid request size %d; closing it", conn.peer, size)
                return
            frame = await reader.readexactly(size)
            conn.bytes_in += size + 4
            response = await self._handle(conn, frame)
            if response is False:
                return
            if response is not None:
                writer.write(response)
                conn.bytes_out += len(response)
                if writer.transport.get_write_buffer_size() > 1 << 20:
                    await writer.drain()
            em.requests_total += 1

    async def _handle(self, conn: Connection, frame: bytes) -> bytes | bool | None:
        """The encoded response, None for no response (acks=0), False to close the connection."""
        try:
            api_key, api_version, correlation_id = peek_header(frame)
        except DecodeError as e:
            log.warning("connection %s: %s; closing it", conn.peer, e)
            return False
        handler = apis.HANDLERS.get(api_key)
        if handler is None:
            log.warning(
                "connection %s (%s): unknown API key %d; closing it",
                conn.peer,
                conn.client_id,
                api_key,
            )
            return False
        lo, hi = VERSIONS[ApiKey(api_key)]
        if not lo <= api_version <= hi:
            if api_key == ApiKey.API_VERSIONS:
                return encode_response(correlation_id, unsupported_version_response(hi))
            log.warning(
                "connection %s (%s): %s v%d is not supported (%d-%d); closing it",
                conn.peer,
                conn.client_id,
                ApiKey(api_key).name,
                api_version,
                lo,
                hi,
            )
            return False
        if (
            self.emulator.sasl_users is not None
            and conn.principal is None
            and (api_key not in PRE_AUTH)
        ):
            sasl.log_unauthenticated(conn.peer, ApiKey(api_key).name)  # rate-limited
            return False
        try:
            request = decode_request(frame)
        except DecodeError as e:
            log.warning("connection %s (%s): %s; closing it", conn.peer, conn.client_id, e)
            return False
        if conn.client_id is None:
            conn.client_id = request.client_id
            self.emulator.connections_opened[request.client_id] += 1
        conn.requests[ApiKey(api_key).name] += 1
        ctx = RequestContext(
            self.emulator,
            conn,
            self.broker.node_id,
            api_key,
            api_version,
            correlation_id,
            request.client_id,
        )
        body = await handler(ctx, request.body)
        if ctx.extra.get("close"):
            # e.g. failed SASL authentication: answer, then close, as Kafka does
            if body is not None:
                conn.writer.write(encode_response(correlation_id, body))
            return False
        if body is None:
            return None
        return encode_response(correlation_id, body)


class Emulator:
    """The whole emulated cluster: state plus one listener per broker."""

    def __init__(
        self,
        data_dir: str,
        host: str = "127.0.0.1",
        ports: list[int] | None = None,
        sasl_users: dict[str, str] | None = None,
        auto_create: bool = True,
        num_partitions: int = 1,
        group_initial_rebalance_delay_ms: int = 0,
        offsets_topic_partitions: int = 50,
        transaction_topic_partitions: int = 50,
        transaction_abort_interval_ms: int = 10_000,
        log_cleaner_backoff_ms: int = 15_000,
        log_retention_check_interval_ms: int = 300_000,
        log_initial_task_delay_ms: int = 30_000,
    ) -> None:
        ports = ports or [9092]
        # Kafka's default is 3000 ms; 0 keeps a lesson's first consumer snappy.
        self.group_initial_rebalance_delay_ms = group_initial_rebalance_delay_ms
        brokers = [Broker(i + 1, host, port) for i, port in enumerate(ports)]
        self.cluster = Cluster(
            data_dir,
            brokers,
            auto_create=auto_create,
            num_partitions=num_partitions,
            offsets_topic_partitions=offsets_topic_partitions,
            transaction_topic_partitions=transaction_topic_partitions,
        )
        self.listeners = {b.node_id: BrokerListener(self, b) for b in brokers}
        self.sasl_users = sasl_users
        self.connections: dict[int, Connection] = {}
        self.conn_ids = itertools.count(1)
        # client.id -> connections ever opened with it (open ones are in ``connections``): a
        # client created per Lambda invocation shows here after its connections are gone
        self.connections_opened: Counter = Counter()
        self.requests_total = 0
        self.started_at = time.time()
        self.coordinator = None  # set by the group coordinator module when present
        self._disconnect_hooks: list = []
        apis.load_all()
        try:
            from streamlab.kafka.coordinator import GroupCoordinator
        except ModuleNotFoundError:
            pass
        else:
            self.coordinator = GroupCoordinator(self)
        from streamlab.kafka.coordinator.transactions import TransactionCoordinator

        # After the group coordinator: completing a transaction left half-done by a crash
        # writes markers to __consumer_offsets through it.
        self.transactions = TransactionCoordinator(
            self.cluster, self.coordinator, transaction_abort_interval_ms
        )
        from streamlab.kafka.cleaner import LogCleaner
        from streamlab.kafka.retention import LogRetention

        self.cleaner = LogCleaner(self.cluster, log_cleaner_backoff_ms)  # cleanup.policy=compact
        # cleanup.policy=delete; an interval of 0 turns it off (None)
        self.retention = (
            LogRetention(self.cluster, log_retention_check_interval_ms, log_initial_task_delay_ms)
            if log_retention_check_interval_ms > 0
            else None
        )

    async def start(self) -> None:
        for listener in self.listeners.values():
            await listener.start()
        self.cluster.elect_leaders()
        if self.coordinator is not None and hasattr(self.coordinator, "start"):
            await self.coordinator.start()
        await self.transactions.start()
        await self.cleaner.start()
        if self.retention is not None:
            await self.retention.start()

    async def stop(self) -> None:
        if self.retention is not None:
            await self.retention.stop()
        await self.cleaner.stop()
        await self.transactions.stop()
        if self.coordinator is not None and hasattr(self.coordinator, "stop"):
            await self.coordinator.stop()
        for listener in self.listeners.values():
            await listener.stop()
        self.cluster.close()

    async def stop_broker(self, node_id: int) -> None:
        """Take one broker down (a fault-tolerance lesson): its listener closes, its clients are
        disconnected, and its partitions get new leaders on the brokers still up."""
        listener = self.listeners[node_id]
        if len(self.cluster.live_brokers()) == 1 and listener.broker.alive:
            raise ValueError("cannot stop the last running broker; stop the cluster instead")
        await listener.stop()
        self.cluster.set_broker_alive(node_id, False)
        log.info("broker %d stopped", node_id)

    async def start_broker(self, node_id: int) -> None:
        listener = self.listeners[node_id]
        if listener.broker.alive:
            return
        await listener.start()
        self.cluster.set_broker_alive(node_id, True)
        log.info("broker %d started", node_id)

    def on_disconnect(self, conn: Connection) -> None:
        for hook in self._disconnect_hooks:
            hook(conn)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{b.host}:{b.port}" for b in self.cluster.live_brokers())
