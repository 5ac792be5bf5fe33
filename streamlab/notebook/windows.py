"""Windows, groups and scaling for Labs 07-09: reading a windowed table from its topic, following
a consumer group until it settles, and the plots of per-minute counts and of the scaling replay.

A windowed table's topic is its changelog, the same bytes on this lab's engine and on ksqlDB
(Kafka Streams' windowed serdes, key format KAFKA):

* TUMBLING/HOPPING key: the key's bytes, then the window start (8 bytes, big-endian epoch ms);
* SESSION key: the key's bytes, then the window end, then the window start (8 bytes each).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import time
from pathlib import Path
from typing import Any

from streamlab.notebook.kafka import read_topic


def repository_root() -> Path:
    """The checkout the labs come from (``ksql/``, ``lambda_fn/``, ``setup/``), wherever the
    kernel runs: the project around the working directory, else the one this package is
    installed from (editable, as ``make setup`` does). A grader runs notebooks elsewhere."""
    import streamlab
    from streamlab.config import StreamlabError, project_root

    for root in (project_root(), Path(streamlab.__file__).resolve().parents[1]):
        if (root / "ksql").is_dir() and (root / "lambda_fn").is_dir():
            return root
    raise StreamlabError(
        "cannot find the streamlab repository (ksql/, lambda_fn/): start JupyterLab from the "
        "checkout, or install it with `pip install -e .`"
    )


DAY_MS = 86_400_000
_KERNEL_STARTED_MS = int(time.time() * 1000)  # once per kernel: re-running a cell keeps its day


def recent_morning(hour: int = 9, lead_ms: int = 10 * 60_000, now_ms: int | None = None) -> int:
    """``hour``:00:00 UTC of the latest day on which it lies at least ``lead_ms`` before ``now_ms``
    (default: when this kernel started), in epoch ms: a lab's historical events get the same
    times of day on every run, and stay younger than a day.

    Why not a fixed date: a broker deletes records by their *timestamp* (``retention.ms``, 7 days
    by default), so events dated months back would vanish from a real cluster's topics at its
    next retention check, in the middle of the lab. The lead keeps the last events of a lab in
    the past (Kafka refuses timestamps too far in the future).
    """
    latest = (_KERNEL_STARTED_MS if now_ms is None else now_ms) - lead_ms
    morning = latest - latest % DAY_MS + hour * 3_600_000
    return morning if morning <= latest else morning - DAY_MS


def hhmmss(epoch_ms: int) -> str:
    """``09:01:00`` for an epoch-millisecond time (UTC), as the labs print window bounds."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).strftime("%H:%M:%S")


def decode_window_key(key: bytes, session: bool = False) -> tuple[str, int, int | None]:
    """``(key, window start, window end)`` of a windowed table's record key. Time windows do not
    store their end (it is start + size): ``None`` then."""
    if key is None or len(key) < (16 if session else 8):
        raise ValueError(f"not a windowed key: {key!r} (too short for a window)")
    if session:
        end, start = struct.unpack(">qq", key[-16:])
        return key[:-16].decode(errors="replace"), start, end
    (start,) = struct.unpack(">q", key[-8:])
    return key[:-8].decode(errors="replace"), start, None


def window_updates(
    topic: str, size_ms: int | None = None, session: bool = False, timeout: float = 15
) -> list[dict[str, Any]]:
    """Every record of a windowed table's topic, in order per partition, as dicts:
    ``KEY``, ``WINDOWSTART``, ``WINDOWEND`` (start + ``size_ms`` for time windows), the value's
    columns, and ``DELETED`` (True for a tombstone: a session merged into a bigger one)."""
    out = []
    for r in read_topic(topic, timeout=timeout):
        key, start, end = decode_window_key(r["key"], session)
        if end is None and size_ms is not None:
            end = start + size_ms
        value = _decode_value(r["value"])
        row = {"KEY": key, "WINDOWSTART": start, "WINDOWEND": end, "DELETED": value is None}
        row.update(value or {})
        out.append(row)
    return out


def _decode_value(data: bytes | None) -> dict[str, Any] | None:
    """A table row's value: JSON, or Protobuf in the Schema Registry's wire format (magic byte
    0, schema id, message indexes), as the per-disposition tables over TRADE_SETTLEMENT hold."""
    if data is None:
        return None
    if data[:1] != b"\x00":
        return json.loads(data)
    from google.protobuf import message_factory

    from streamlab.config import registry_url
    from streamlab.ksql.formats import protobuf
    from streamlab.ksql.formats import schema_registry as sr

    if sr.url() != registry_url():
        sr.configure(registry_url())
    schema_id, rest = sr.split(data)
    indexes, payload = sr.read_message_indexes(rest)
    desc = protobuf.message_at(protobuf.file_for_id(schema_id), indexes or [0])
    message = message_factory.GetMessageClass(desc).FromString(payload)
    return {f.name: getattr(message, f.name) for f in desc.fields}  # flat rows: scalars


def window_rows(
    topic: str, size_ms: int | None = None, session: bool = False, timeout: float = 15
) -> list[dict[str, Any]]:
    """The current rows of a windowed table, read from its topic: the last value of each
    (key, window), tombstones removed, sorted by window start then key. What a pull query
    over the whole table answers."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for row in window_updates(topic, size_ms, session, timeout):
        ident = (row["KEY"], row["WINDOWSTART"])
        if row["DELETED"]:
            latest.pop(ident, None)
        else:
            latest[ident] = {k: v for k, v in row.items() if k != "DELETED"}
    return sorted(latest.values(), key=lambda r: (r["WINDOWSTART"], r["KEY"]))


def print_windows(rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """One line per row: ``KEY  [start, end)  columns...`` with the bounds as UTC times."""
    for row in rows:
        end = row.get("WINDOWEND")
        bounds = f"[{hhmmss(row['WINDOWSTART'])}, {hhmmss(end) if end is not None else '?'})"
        rest = (
            columns
            if columns is not None
            else [k for k in row if k not in ("KEY", "WINDOWSTART", "WINDOWEND", "DELETED")]
        )
        print(f"{row['KEY']:<6} {bounds}  " + "  ".join(f"{c}={row.get(c)}" for c in rest))


def plot_window_counts(rows: list[dict[str, Any]], column: str, title: str):
    """Bars per window (x: window start, UTC), one colour per key, stacked."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{title} (install matplotlib for a plot)")
        print_windows(rows, [column])
        return None
    starts = sorted({r["WINDOWSTART"] for r in rows})
    keys = sorted({r["KEY"] for r in rows})
    fig, ax = plt.subplots(figsize=(7, 2.8))
    bottom = [0] * len(starts)
    for key in keys:
        heights = [
            next((r[column] for r in rows if r["KEY"] == key and r["WINDOWSTART"] == s), 0)
            for s in starts
        ]
        ax.bar(range(len(starts)), heights, bottom=bottom, label=key)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xticks(range(len(starts)), [hhmmss(s)[:5] for s in starts])
    ax.set_xlabel("window start (UTC)")
    ax.set_ylabel(column)
    ax.set_title(title)
    ax.legend(fontsize="small", bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value
    return fig


#: how long a group's assignment must stay unchanged to count as settled: longer than
#: librdkafka's ``heartbeat.interval.ms`` (3 s), since members that own partitions learn of a
#: rebalance a newcomer started only at their next heartbeat
SETTLED_FOR = 4.0


def settle_group(consumers: dict[str, Any], partitions: int, timeout: float = 60) -> dict:
    """Poll every member of a consumer group in turn until every member has joined and the
    rebalance is over: each partition owned once, ``min(members, partitions)`` members busy, and
    no change for ``SETTLED_FOR`` seconds. Returns member name -> sorted partitions ([] for an
    idle member). The polls consume records: seek the members back (``seek`` to
    ``OFFSET_BEGINNING``) to read from the start afterwards."""
    deadline = time.monotonic() + timeout
    busy = min(len(consumers), partitions)
    last, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        for consumer in consumers.values():
            consumer.poll(0.05)
        now = {n: sorted(tp.partition for tp in c.assignment()) for n, c in consumers.items()}
        owned = sorted(p for parts in now.values() for p in parts)
        joined = all(c.memberid() for c in consumers.values())  # idle members too
        settled = (
            joined
            and owned == list(range(partitions))
            and sum(1 for p in now.values() if p) == busy
        )
        if now != last or not settled:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since > SETTLED_FOR:
            return now
    raise TimeoutError(
        f"the group did not settle within {timeout:.0f} s (last seen: {last}); is the broker "
        "up? Close these consumers and run the cell again"
    )


def plot_scaling(sim, title: str, observed: list[tuple[float, int]] | None = None):
    """Pollers (left axis) and offset lag (right axis) of a scaling replay over simulated
    minutes; ``observed``: (minute, pollers) points to mark, e.g. what the article reports."""
    minutes = [s.t / 60 for s in sim.samples]
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{title} (install matplotlib for a plot)")
        print(sim.table(every=max(1, len(sim.samples) // 20)))
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3))
    ax.step(minutes, [s.pollers for s in sim.samples], where="post", label="pollers (= Lambdas)")
    if observed:
        ax.plot(*zip(*observed, strict=True), "o", color="C3", label="the article (observed)")
    ax.set_xlabel("simulated minutes")
    ax.set_ylabel("pollers")
    lag_ax = ax.twinx()
    lag_ax.plot(minutes, [s.lag for s in sim.samples], color="C1", alpha=0.6, label="offset lag")
    lag_ax.set_ylabel("offset lag (records)")
    lag_ax.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = lag_ax.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize="small", loc="center right")
    ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig
