"""What the cluster looks like right now, as plain dicts: served by ``webapi`` as JSON and
callable in-process (``observe.topics(emulator)``). ``ObserveClient`` is the same view over HTTP,
for notebooks and the CLI.

Builders read state only; they run on the broker's event loop (webapi) or in the owning thread.
Lookups of things that do not exist raise ``NotFound``; bad parameters raise ``BadRequest``.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

from streamlab.kafka.protocol import batches

PEEK_DEFAULT, PEEK_MAX = 20, 500  # records per peek
_READ_CHUNK = 1 << 20  # bytes read from a log per step while peeking


class NotFound(LookupError):
    pass


class BadRequest(ValueError):
    pass


# --- cluster and topics -----------------------------------------------------------------------


def health(emulator) -> dict:
    return {"status": "ok", "brokers": len(emulator.cluster.live_brokers())}


def cluster(emulator) -> dict:
    c = emulator.cluster
    return {
        "cluster_id": c.cluster_id,
        "controller": c.controller_id,
        "brokers": [
            {"id": b.node_id, "host": b.host, "port": b.port, "alive": b.alive}
            for b in sorted(c.brokers.values(), key=lambda b: b.node_id)
        ],
        "topics": len(c.topics),
        "connections": len(emulator.connections),
        "requests": emulator.requests_total,
        "sasl": emulator.sasl_users is not None,
        "uptime_s": round(time.time() - emulator.started_at, 1),
    }


def topics(emulator) -> list[dict]:
    return [_topic(emulator, t) for _, t in sorted(emulator.cluster.topics.items())]


def topic(emulator, name: str) -> dict:
    t = emulator.cluster.topics.get(name)
    if t is None:
        raise NotFound(f"no topic {name!r}")
    return _topic(emulator, t)


def _topic(emulator, t) -> dict:
    c = emulator.cluster
    parts = []
    for p in t.partitions:
        plog = p.log
        parts.append(
            {
                "partition": p.index,
                "leader": p.leader if p.leader is not None else -1,
                "leader_epoch": p.leader_epoch,
                "replicas": c.replicas(t, p.index),
                "isr": c.in_sync(t, p.index),
                "log_start_offset": plog.log_start_offset,
                "high_watermark": plog.end_offset,
                "messages": plog.end_offset - plog.log_start_offset,  # offsets, incl. markers
                "records_in": plog.records_in,  # since the broker started
                "bytes_in": plog.bytes_in,
                "size_bytes": plog.size_bytes,
                "segments": len(plog.segments),
            }
        )
    return {
        "name": t.name,
        "id": str(t.topic_id),
        "internal": t.internal,
        "partitions": len(t.partitions),
        "replication_factor": t.replication_factor,
        "configs": dict(t.configs),  # only the values set explicitly; the rest are defaults
        "messages": sum(p["messages"] for p in parts),
        "size_bytes": sum(p["size_bytes"] for p in parts),
        "partition_details": parts,
    }


# --- peeking at records -----------------------------------------------------------------------


def records(
    emulator, name: str, partition: int, offset: int | None = None, limit: int = PEEK_DEFAULT
) -> dict:
    """Up to ``limit`` records of one partition from ``offset`` (default: the log start; a
    negative offset counts back from the high watermark, e.g. -10 = the last ten offsets).

    Key and value are shown as UTF-8 text when they decode, else as base64 (``*_encoding``
    says which). Transaction markers (control batches) are skipped."""
    p = emulator.cluster.partition(name, partition)
    if p is None:
        if name not in emulator.cluster.topics:
            raise NotFound(f"no topic {name!r}")
        raise NotFound(f"topic {name!r} has no partition {partition}")
    if not 1 <= limit <= PEEK_MAX:
        raise BadRequest(f"limit must be between 1 and {PEEK_MAX}")
    plog = p.log
    start, end = plog.log_start_offset, plog.end_offset
    if offset is None:
        offset = start
    elif offset < 0:
        offset = end + offset
    offset = max(offset, start)
    out: list[dict] = []
    pos = next_offset = offset
    while pos < end and len(out) < limit:
        data, before = plog.read(pos, _READ_CHUNK), pos
        for at, h in batches.iter_batches(data):
            pos = max(pos, h.next_offset)
            if len(out) >= limit:
                break
            if h.is_control:  # transaction markers are not records a consumer sees
                next_offset = h.next_offset
                continue
            try:
                recs = [r for r in batches.iter_records(data, at) if r.offset >= offset]
            except Exception as e:  # a batch we cannot decode is shown, not fatal
                out.append({"offset": h.base_offset, "error": f"cannot decode batch: {e}"})
                next_offset = h.next_offset
                continue
            taken = recs[: limit - len(out)]
            out.extend(_record(r) for r in taken)
            next_offset = taken[-1].offset + 1 if len(taken) < len(recs) else h.next_offset
        if pos == before:
            break  # nothing readable here (should not happen on a healthy log)
    return {
        "topic": name,
        "partition": partition,
        "log_start_offset": start,
        "high_watermark": end,
        "next_offset": max(next_offset, offset),
        "records": out,
    }


def _record(rec: batches.Record) -> dict:
    key, key_enc = _text(rec.key)
    value, value_enc = _text(rec.value)
    headers = []
    for hk, hv in rec.headers:
        text, enc = _text(hv)
        headers.append({"key": hk, "value": text, "encoding": enc})
    return {
        "offset": rec.offset,
        "timestamp": rec.timestamp,
        "time": _iso(rec.timestamp / 1000) if rec.timestamp >= 0 else None,
        "key": key,
        "key_encoding": key_enc,
        "value": value,
        "value_encoding": value_enc,
        "headers": headers,
    }


def _text(data: bytes | None) -> tuple[str | None, str | None]:
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


# --- clients and groups -----------------------------------------------------------------------


def clients(emulator) -> list[dict]:
    now = time.time()
    out = []
    for conn in sorted(emulator.connections.values(), key=lambda c: c.id):
        out.append(
            {
                "id": conn.id,
                "broker": conn.node_id,
                "peer": conn.peer,
                "client_id": conn.client_id,
                "client_software": conn.client_software,
                "principal": conn.principal,
                "sasl_mechanism": conn.sasl_mechanism,
                "connected_at": _iso(conn.connected_at),
                "connected_s": round(now - conn.connected_at, 1),
                "requests": dict(sorted(conn.requests.items())),
                "requests_total": sum(conn.requests.values()),
                "bytes_in": conn.bytes_in,
                "bytes_out": conn.bytes_out,
            }
        )
    return out


def client_ids(emulator) -> list[dict]:
    """Per client.id: connections open now and opened since the broker started. Connections
    close when their client does, so only the second number shows short-lived clients."""
    open_now = Counter(c.client_id for c in emulator.connections.values())
    opened = getattr(emulator, "connections_opened", Counter())
    return [
        {"client_id": cid, "connections_open": open_now.get(cid, 0), "connections_opened": n}
        for cid, n in sorted(opened.items(), key=lambda kv: str(kv[0]))
    ]


def groups(emulator) -> list[dict]:
    """The group coordinator's snapshot (state, members, offsets and lag) when it is loaded."""
    coordinator = getattr(emulator, "coordinator", None)
    if coordinator is None or not hasattr(coordinator, "snapshot"):
        return []
    return list(coordinator.snapshot())


def group(emulator, group_id: str) -> dict:
    for g in groups(emulator):
        if g.get("group_id") == group_id:
            return g
    raise NotFound(f"no group {group_id!r}")


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds")


# --- the HTTP client --------------------------------------------------------------------------


class ObserveError(Exception):
    """The API answered with an error: ``status`` is the HTTP status, the message its text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ObserveClient:
    """The observability API over HTTP, one method per endpoint::

    obs = ObserveClient("http://127.0.0.1:9021")
    obs.topics(); obs.records("orders", 0, offset=-5); obs.clients(); obs.groups()
    """

    def __init__(self, url: str = "http://127.0.0.1:9021", timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def health(self) -> dict:
        return self._call("GET", "/health")

    def cluster(self) -> dict:
        return self._call("GET", "/api/cluster")

    def topics(self) -> list[dict]:
        return self._call("GET", "/api/topics")

    def topic(self, name: str) -> dict:
        return self._call("GET", f"/api/topics/{_q(name)}")

    def records(
        self, topic: str, partition: int = 0, offset: int | None = None, limit: int = PEEK_DEFAULT
    ) -> dict:
        query = {"limit": limit} if offset is None else {"offset": offset, "limit": limit}
        path = f"/api/topics/{_q(topic)}/partitions/{int(partition)}/records"
        return self._call("GET", f"{path}?{urllib.parse.urlencode(query)}")

    def clients(self) -> list[dict]:
        return self._call("GET", "/api/clients")

    def client_ids(self) -> list[dict]:
        return self._call("GET", "/api/client-ids")

    def groups(self) -> list[dict]:
        return self._call("GET", "/api/groups")

    def group(self, group_id: str) -> dict:
        return self._call("GET", f"/api/groups/{_q(group_id)}")

    def stop_broker(self, node_id: int) -> dict:
        return self._call("POST", f"/api/brokers/{int(node_id)}/stop")

    def start_broker(self, node_id: int) -> dict:
        return self._call("POST", f"/api/brokers/{int(node_id)}/start")

    def _call(self, method: str, path: str):
        req = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as e:
            try:
                message = json.load(e).get("error", e.reason)
            except ValueError:
                message = e.reason
            raise ObserveError(e.code, message) from None


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")
