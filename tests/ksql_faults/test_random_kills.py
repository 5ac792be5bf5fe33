"""kill -9 the ksql server at seeded random points while a stream-table join feeds a tumbling
window COUNT; after the last restart each windowed table equals a Python oracle.

One server runs the pipeline three times over the same input:

* ``exactly_once_v2`` (set per query with ``SET``): exactly. Each batch of each query is one
  Kafka transaction (outputs, changelog, input offsets), so a kill loses the open transaction
  whole and the restarted query redoes it from the committed state: the join output holds every
  joined click once, and every window's latest count equals the oracle (read_committed).
* ``exactly_once_v2`` with ksqlDB's record cache (10 MB, commit every 2 s; the other two run
  without it, as the lab does): exactly too. The aggregates wait in the store cache and are
  forwarded, logged and stored only at each commit, inside its transaction, so a kill loses
  them with it.
* ``at_least_once`` (the default): no loss, bounded duplicates. A kill replays what a query
  processed after its last offset commit (at most one batch, :data:`BATCH` records, per query
  and kill) while the state it had already logged to its changelog is restored: each replayed
  join record is emitted again, and each record the COUNT replays is counted again. So per
  kill at most ``BATCH`` duplicate join records and ``2 * BATCH`` extra counts over all windows;
  no window ever counts less than the oracle. The test prints the duplicates it saw.

Three kills (seeded delays); the input arrives faster than the queries process it, so kills
land mid-batch. The server uses static membership (``group.instance.id``) so a restart takes
its partitions back at once instead of after the session timeout.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid

from streamlab.ksql.kafka_runtime.runner import BATCH, DEFAULT_CACHE_MAX_BYTES
from streamlab.ksql.testing import KsqlProcess
from tests.ksql_faults import _pipeline as pipe
from tests.ksql_server._helpers import ksql_ok

SEED = 20261126
KILLS = 3
CLICKS = 12_000
EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}


def test_windowed_join_counts_survive_random_kills(cluster, tmp_path):
    data = pipe.Dataset.generate(SEED, CLICKS)
    rng = random.Random(SEED)
    tag = uuid.uuid4().hex[:8].upper()
    service = f"faults_{tag.lower()}_"
    users, clicks = f"users_{tag.lower()}", f"clicks_{tag.lower()}"
    bootstrap = cluster.bootstrap
    args = ("--service-id", service, "--config", "ksql.streams.group.instance.id=faults")
    ksql = KsqlProcess(str(tmp_path / "ksql"), bootstrap, extra_args=args).start()
    try:
        ksql_ok(ksql.url, pipe.sources(tag))
        eos, cached, alos = f"EOS_{tag}", f"EOSC_{tag}", f"ALOS_{tag}"
        ksql_ok(ksql.url, "SET 'processing.guarantee'='exactly_once_v2';" + pipe.queries(tag, eos),
                EARLIEST)  # fmt: skip
        ksql_ok(ksql.url, "SET 'processing.guarantee'='exactly_once_v2';"
                f"SET 'cache.max.bytes.buffering'='{DEFAULT_CACHE_MAX_BYTES}';"
                + pipe.queries(tag, cached), EARLIEST)  # fmt: skip
        ksql_ok(ksql.url, pipe.queries(tag, alos), EARLIEST)
        [listing] = ksql_ok(ksql.url, "SHOW QUERIES;")
        group = {
            q["sinks"][0]: f"_confluent-ksql-{service}query_{q['id']}" for q in listing["queries"]
        }

        # The table side first, fully processed: the oracle joins every click against it.
        pipe.produce_users(bootstrap, users, data)
        for name in (eos, cached, alos):
            _wait_committed(bootstrap, group[f"J_{name}"], users, len(data.users))

        feeder = threading.Thread(
            target=pipe.produce_clicks, args=(bootstrap, clicks, data.clicks, 1000, 0.1)
        )
        feeder.start()
        lag_at_kill = []
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.2))
            done = pipe.committed(bootstrap, group[f"J_{alos}"], clicks)
            lag_at_kill.append(len(data.clicks) - done)
            ksql.kill()
            ksql.start()
        feeder.join()
        assert max(lag_at_kill) > 0, lag_at_kill  # the kills hit a running pipeline

        results, updates = {}, {}
        for name in (eos, cached, alos):
            _wait_committed(bootstrap, group[f"J_{name}"], clicks, len(data.clicks))
            joined, join_ends = pipe.read_all(bootstrap, f"J_{name}")
            last = {m.partition(): m.offset() + 1 for m in joined}
            for partition, offset in last.items():
                _wait_committed(bootstrap, group[f"W_{name}"], f"J_{name}", offset, partition)
            # the count reads J through its GROUP BY repartition topic: that is consumed after
            repartition = f"{group[f'W_{name}']}-Aggregate-GroupBy-repartition"
            rows, _ = pipe.read_all(bootstrap, repartition)
            for partition, offset in {m.partition(): m.offset() + 1 for m in rows}.items():
                _wait_committed(bootstrap, group[f"W_{name}"], repartition, offset, partition)
            windows, _ = pipe.read_all(bootstrap, f"W_{name}")
            results[name] = joined, join_ends, pipe.windowed_table(windows)
            updates[name] = len(windows)
    finally:
        ksql.stop()

    oracle = data.oracle()

    for name in (eos, cached):
        joined, join_ends, table = results[name]
        clicks_joined = [json.loads(m.value())["N"] for m in joined]
        assert len(clicks_joined) == len(set(clicks_joined)) == data.joined(), name
        assert table == oracle, name
        assert sum(join_ends) > len(joined)  # transactional: commit markers take offsets too
    assert updates[cached] < updates[eos]  # the cache forwarded each window once per commit

    joined, join_ends, table = results[alos]
    join_duplicates = len(joined) - data.joined()
    extra = {w: table[w] - oracle[w] for w in oracle}
    assert set(table) == set(oracle)
    assert all(n >= 0 for n in extra.values()), f"lost counts: {extra}"
    assert 0 <= join_duplicates <= KILLS * BATCH
    assert sum(extra.values()) <= KILLS * 2 * BATCH
    assert sum(join_ends) == len(joined)  # no transactions under at_least_once
    print(f"\n{cluster.kind} at_least_once after {KILLS} kills: {join_duplicates} duplicate "
          f"join outputs, {sum(extra.values())} extra counts")  # fmt: skip


def _wait_committed(
    bootstrap: str, group: str, topic: str, offset: int, partition: int | None = None
) -> None:
    """Until ``group`` has committed ``offset`` on ``partition`` (None: summed over both)."""

    def done() -> bool:
        if partition is None:
            return pipe.committed(bootstrap, group, topic) >= offset
        return pipe.committed_at(bootstrap, group, topic, partition) >= offset

    pipe.wait_for(done, f"{group} to commit {offset} on {topic}")
