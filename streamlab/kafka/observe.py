"""What the cluster looks like right now, as plain dicts (served by ``webapi`` as JSON)."""

from __future__ import annotations

import time


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
        "uptime_s": round(time.time() - emulator.started_at, 1),
    }
