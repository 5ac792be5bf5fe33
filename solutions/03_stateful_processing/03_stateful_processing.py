# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 03 — Stateful processing, state stores and changelog topics
#
# **Estimated time:** 45 minutes · **Previous:** [Lab 02 — Stateless processing](02_stateless_processing.ipynb) ·
# **Next:** [Lab 04 — The stream-table join](04_stream_table_join.ipynb)
#
# Lab 02's filter decided from one event alone. Many useful questions cannot be answered that way:
# *how many* failed logins has this user had? Has this ride been far from its destination *more
# than five times*? To answer, a processor has to **remember** something between events. That memory
# is **state**, and keeping it safe — when the process crashes, when it moves to another machine — is
# the hard part of stream processing, and the part ksqlDB does for you.
#
# ### Objectives
#
# 1. Keep state by hand: count failed logins per user in a Python `dict`, and act when a user
#    passes a threshold.
# 2. Do the same in ksqlDB: `SELECT userid, COUNT(*) ... GROUP BY userid` as a **table**; read it
#    with a pull query and watch it change with a push query.
# 3. Build the article's `RIDES_OVER_10K` table.
# 4. Find the **state store**'s **changelog topic**, read it, then kill the ksqlDB engine and watch
#    the state come back.
#
# Three graded exercises (6 points) and one "validate this step" check.

# %% [markdown]
# ## 3.0 Setup
#
# As in Lab 02: imports, the ksqlDB client, this session's run id.

# %%
import os

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # the same profile as in Lab 00

from confluent_kafka import Producer

from streamlab import datagen
from streamlab.config import producer_config
from streamlab.datagen.datasets import geo_distance_km
from streamlab.grading import check, progress
from streamlab.notebook import (
    EARLIEST,
    create_topic,
    ksql_client,
    ksql_show,
    read_topic,
    restart_ksql,
    run_id,
    topic_count,
    wait_for_count,
)


def produce_dataset(topic: str, records) -> None:
    """Produce (key, value) pairs as the Datagen connector would: string key, JSON value."""
    producer = Producer(producer_config())
    for key, value in records:
        key_bytes, value_bytes = datagen.encode(key, value)
        producer.produce(topic, key=key_bytes, value=value_bytes)
    producer.flush(10)


ksql = ksql_client()
RUN = run_id().upper()
print("run id:", run_id(), "- ksqlDB", ksql.info()["version"])

# %% [markdown]
# ## 3.1 The data: login attempts
#
# The `logins` dataset is a stream of login attempts by the nine users of the `USERS` table
# (`User_1` … `User_9`): who tried, from which address, and whether it worked. Most failures are
# typos. One user, though, is under attack — and a single event does not tell you which one.

# %%
logins_topic = f"logins-{run_id()}"
LOGINS = list(datagen.generate("logins", seed=3, count=200))
if create_topic(logins_topic, partitions=3):
    produce_dataset(logins_topic, LOGINS)
print(logins_topic, "holds", topic_count(logins_topic), "events")
for key, value in LOGINS[:4]:
    print(key, value)


# %% [markdown]
# ```text
# logins-1a2b3c holds 200 events
# User_5 {'userid': 'User_5', 'ip': '198.51.100.5', 'success': True}
# User_4 {'userid': 'User_4', 'ip': '198.51.100.4', 'success': True}
# User_9 {'userid': 'User_9', 'ip': '198.51.100.9', 'success': True}
# User_3 {'userid': 'User_3', 'ip': '198.51.100.3', 'success': True}
# ```
#
# ## 3.2 State, by hand: a dict
#
# "Is this attempt a failure?" is a stateless predicate. "How many failures has this user had so
# far?" is not: the answer depends on every earlier event of that user. The simplest state there is
# — a Python `dict` from user to count — is enough to answer it.
#
# ### Exercise `03-count-by-hand` (2 points)
#
# Write `count_failures(events)`: given a list of login events (dicts like the ones above), return a
# dict mapping each user id to the number of **failed** attempts (`success` is `False`). Users
# without a failure do not appear.
#
# Expected output of the cell:
#
# ```text
# {'User_1': 60, 'User_3': 4, 'User_8': 1, 'User_2': 1, 'User_7': 1, 'User_5': 1}
# ```
#
# (The order of the keys may differ.)

# %% [raw]
# # BEGIN QUESTION
# name: 03-count-by-hand
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def count_failures(events: list[dict]) -> dict[str, int]:
    # BEGIN SOLUTION
    counts: dict[str, int] = {}
    for event in events:
        if not event["success"]:
            counts[event["userid"]] = counts.get(event["userid"], 0) + 1
    return counts
    # END SOLUTION


count_failures([value for _, value in LOGINS])

# %% [raw]
# # BEGIN TESTS

# %%
sample = [
    {"userid": "User_1", "ip": "203.0.113.7", "success": False},
    {"userid": "User_2", "ip": "198.51.100.2", "success": True},
    {"userid": "User_1", "ip": "203.0.113.9", "success": False},
]
got = count_failures(sample)
assert got == {"User_1": 2}, (
    f"count_failures gives {got!r} for two failures of User_1 and one success of User_2; expected "
    "{'User_1': 2}: count only events whose success is False, per userid"
)

# %%
got = count_failures([value for _, value in LOGINS])
assert isinstance(got, dict) and got.get("User_1") == 60 and got.get("User_3") == 4, (
    f"for the 200 logins, count_failures gives User_1 {got.get('User_1')!r} and User_3 "
    f"{got.get('User_3')!r} (expected 60 and 4)"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

sample = [
    {"userid": "User_1", "ip": "203.0.113.7", "success": False},
    {"userid": "User_1", "ip": "203.0.113.9", "success": False},
]
assert count_failures([]) == {}, "no events, no failures: return an empty dict"
assert count_failures([{"userid": "User_4", "ip": "x", "success": True}]) == {}, (
    "a user without a failure must not appear (not even with 0)"
)
assert count_failures(sample) == {"User_1": 2}, (
    "calling count_failures twice must give the same answer: start from an empty dict every call"
)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Counting is half of the article's example; the other half is **acting** when a user passes a
# threshold — lock the account, alert someone. The decision needs the count *at that moment*, so a
# stream processor updates its state and checks it with every event.
#
# ### Exercise `03-threshold` (2 points)
#
# Write `threshold_alerts(events, threshold)`: process the events in order, keeping a count of
# failures per user, and return the list of user ids **in the order in which they reach**
# `threshold` failures. Each user appears at most once — at the event that brings their count to
# `threshold`.
#
# Expected output of the cell:
#
# ```text
# ['User_1', 'User_3']
# ```
#
# `User_1` is the attack. `User_3` mistyped a password four times: a threshold rule over a single
# count has false positives — counting failures per user *and address* would tell them apart.

# %% [raw]
# # BEGIN QUESTION
# name: 03-threshold
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def threshold_alerts(events: list[dict], threshold: int) -> list[str]:
    # BEGIN SOLUTION
    counts: dict[str, int] = {}
    alerts = []
    for event in events:
        if event["success"]:
            continue
        user = event["userid"]
        counts[user] = counts.get(user, 0) + 1
        if counts[user] == threshold:
            alerts.append(user)
    return alerts
    # END SOLUTION


threshold_alerts([value for _, value in LOGINS], threshold=3)

# %% [raw]
# # BEGIN TESTS

# %%
got = threshold_alerts([value for _, value in LOGINS], threshold=3)
assert got == ["User_1", "User_3"], (
    f"threshold_alerts(LOGINS, 3) gives {got!r}; expected ['User_1', 'User_3']: a user is "
    "alerted once, when their count of failures becomes 3"
)

# %%
fail = lambda user: {"userid": user, "ip": "203.0.113.1", "success": False}  # noqa: E731
got = threshold_alerts([fail("B"), fail("A"), fail("A"), fail("B"), fail("A")], threshold=2)
assert got == ["A", "B"], (
    f"with threshold 2, failures B, A, A, B, A give {got!r}; expected ['A', 'B']: A reaches 2 at "
    "the third event, B at the fourth - keep the order in which users reach the threshold"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

fail = lambda user: {"userid": user, "ip": "203.0.113.1", "success": False}  # noqa: E731
ok = {"userid": "C", "ip": "198.51.100.3", "success": True}
got = threshold_alerts([ok, ok, ok, fail("C")], threshold=2)
assert got == [], f"successful logins are not failures (got {got!r})"
got = threshold_alerts([fail("D")] * 5, threshold=2)
assert got == ["D"], f"alert a user once, not at every failure after the threshold (got {got!r})"
assert threshold_alerts([fail("E")], threshold=1) == ["E"], "threshold 1: the first failure alerts"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Our state is a `dict` in this kernel. Restart the kernel and it is gone: to rebuild it, the
# processor would have to read the whole topic again — fine for 200 events, not for two years of
# logins. A real stream processor needs its state to be:
#
# - **local**, next to the processor, so each event costs a memory or disk lookup, not a network
#   round trip to a database;
# - **partitioned like the input**, so each worker holds the state of *its* partitions' keys;
# - **recoverable**, quickly, when the worker dies or its partitions move elsewhere.
#
# ksqlDB (through Kafka Streams) does all three: a **state store** (RocksDB on local disk) per
# partition, and every write to it also written to a Kafka **changelog topic**.
#
# ## 3.3 The same in ksqlDB: a table
#
# The stream over the topic, as in Lab 02:

# %%
logins = f"LOGINS_{RUN}"
ksql.execute(f"""
    CREATE STREAM IF NOT EXISTS {logins} (userid STRING KEY, ip STRING, success BOOLEAN)
    WITH (KAFKA_TOPIC='{logins_topic}', VALUE_FORMAT='JSON');
""")
ksql_show(f"SELECT * FROM {logins} WHERE NOT success EMIT CHANGES LIMIT 3;")

# %% [markdown]
# Now the count. `GROUP BY` with an aggregate such as `COUNT(*)` turns a **stream** (every event, an
# append-only history) into a **table** (one row per key, the latest value): `CREATE TABLE ... AS
# SELECT` starts a persistent query that keeps the count of each user in a state store and writes
# every change of a row to the table's topic.

# %%
failed_logins = f"FAILED_LOGINS_{RUN}"
ksql.execute(f"""
    CREATE TABLE IF NOT EXISTS {failed_logins} AS
      SELECT userid, COUNT(*) AS failures
      FROM {logins}
      WHERE NOT success
      GROUP BY userid
      EMIT CHANGES;
""", EARLIEST)
wait_for_count(failed_logins, 68)  # one change per failed login
ksql_show(f"SELECT * FROM {failed_logins};")

# %% [markdown]
# Expected (the order of the rows may differ):
#
# ```text
# USERID | FAILURES
# User_1 | 60
# User_3 | 4
# User_2 | 1
# User_5 | 1
# User_7 | 1
# User_8 | 1
# ```
#
# The same numbers as your `count_failures`. That last query was a **pull query**: no
# `EMIT CHANGES`, so it asks the table for its *current* rows — read from the state store — and
# ends, like a query against a database. Ask for one key and it is a single lookup:

# %%
ksql_show(f"SELECT * FROM {failed_logins} WHERE userid = 'User_1';")

# %% [markdown]
# ```text
# USERID | FAILURES
# User_1 | 60
# ```
#
# A **push query** over the same table (`EMIT CHANGES`) shows something else: every *change* of
# every row, from the beginning. That sequence of changes is the table's changelog — remember it
# for 3.5:

# %%
ksql_show(f"SELECT * FROM {failed_logins} EMIT CHANGES LIMIT 5;")

# %% [markdown]
# Expected: five successive values, e.g. `User_1 | 1`, `User_1 | 2`, `User_1 | 3`, … (the users and
# the order depend on which partition is read first).
#
# | | stream | table |
# |---|---|---|
# | holds | every event, appended | the latest value per key |
# | a new event … | is one more row | replaces (updates) the key's row |
# | made by | `CREATE STREAM` (over a topic or `AS SELECT`) | `CREATE TABLE`, or `GROUP BY` + aggregate |
# | pull query | no | yes: the current rows |
#
# ## 3.4 The article's `RIDES_OVER_10K`
#
# The article's stateful example counts, per ride, the location updates that were more than 10 km
# from the destination. First Lab 02's `LOCATIONS` stream again, in this run's names:

# %%
rides_topic = f"rides-{run_id()}"
RIDES = list(datagen.generate("rides", seed=7, count=100))
if create_topic(rides_topic, partitions=3):
    produce_dataset(rides_topic, RIDES)

geo_events, locations = f"GEO_EVENTS_{RUN}", f"LOCATIONS_{RUN}"
ksql.execute(f"""
    CREATE STREAM IF NOT EXISTS {geo_events} (
        rideId STRING KEY, latitude DOUBLE, longitude DOUBLE,
        dstLatitude DOUBLE, dstLongitude DOUBLE
    ) WITH (KAFKA_TOPIC='{rides_topic}', VALUE_FORMAT='JSON');
    CREATE STREAM IF NOT EXISTS {locations} AS
      SELECT rideId, latitude, longitude,
             GEO_DISTANCE(latitude, longitude, dstLatitude, dstLongitude, 'km') AS kmToDst
      FROM {geo_events}
      EMIT CHANGES;
""", EARLIEST)
print(locations, "holds", wait_for_count(locations, 100), "events")

# %% [markdown]
# ### Exercise `03-rides-over-10k` (2 points)
#
# Create the table named in `rides_over_10k`: from `LOCATIONS` (its name is in `locations`), count
# per `rideId` the events with `kmToDst > 10`, and call the count column `updates`. Start it from
# the earliest event.
#
# *Hint:* the `FAILED_LOGINS` cell in 3.3 has the same shape: `CREATE TABLE ... AS SELECT rideId,
# COUNT(*) AS updates FROM ... WHERE ... GROUP BY rideId EMIT CHANGES;`, with `EARLIEST`. Made a
# mistake? `DROP TABLE {rides_over_10k} DELETE TOPIC;` and create it again, or restart the kernel.
#
# Expected: `check("03-rides-over-10k")` passes, and the pull query in the cell shows 7 rides:
#
# ```text
# RIDEID  | UPDATES
# ride_1  | 5
# ride_10 | 5
# ride_2  | 5
# ride_3  | 5
# ride_4  | 4
# ride_7  | 6
# ride_8  | 4
# ```
#
# Rides 5, 6 and 9 never were more than 10 km from their destination, so they have no row.

# %% [raw]
# # BEGIN QUESTION
# name: 03-rides-over-10k
# points: 2
# stub_feedback: "does not exist yet"

# %%
rides_over_10k = f"RIDES_OVER_10K_{RUN}"
# BEGIN SOLUTION
ksql.execute(f"""
    CREATE TABLE {rides_over_10k} AS
      SELECT rideId, COUNT(*) AS updates
      FROM {locations}
      WHERE kmToDst > 10
      GROUP BY rideId
      EMIT CHANGES;
""", EARLIEST)
# END SOLUTION
wait_for_count(rides_over_10k, 34)
ksql_show(f"SELECT * FROM {rides_over_10k};")

# %% [raw]
# # BEGIN TESTS

# %%
tables = {t["name"] for t in ksql.execute("SHOW TABLES;")[0]["tables"]}
assert rides_over_10k in tables, (
    f"the table {rides_over_10k} does not exist yet: CREATE TABLE {rides_over_10k} AS SELECT "
    f"rideId, COUNT(*) AS updates FROM {locations} WHERE ... GROUP BY rideId EMIT CHANGES; "
    "with ksql.execute(sql, EARLIEST)"
)

# %%
wanted = {}
for key, v in RIDES:
    if geo_distance_km(v["latitude"], v["longitude"], v["dstLatitude"], v["dstLongitude"]) > 10:
        wanted[key] = wanted.get(key, 0) + 1
tables = {t["name"] for t in ksql.execute("SHOW TABLES;")[0]["tables"]}
assert rides_over_10k in tables, f"the table {rides_over_10k} does not exist yet"
wait_for_count(rides_over_10k, sum(wanted.values()), timeout=15)
rows = list(ksql.query(f"SELECT * FROM {rides_over_10k};", timeout=10))
got = {r.get("RIDEID"): r.get("UPDATES") for r in rows}
assert got == wanted, (
    f"{rides_over_10k} has the rows {got}; expected {wanted} - count per rideId "
    "(GROUP BY rideId) the events WHERE kmToDst > 10, call the count `updates`, and run the "
    "statement with EARLIEST"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

tables = {t["name"] for t in ksql.execute("SHOW TABLES;")[0]["tables"]}
assert rides_over_10k in tables, f"the table {rides_over_10k} does not exist yet"
[described] = ksql.execute(f"DESCRIBE {rides_over_10k};")
fields = {f["name"]: f for f in described["sourceDescription"]["fields"]}
assert fields.get("RIDEID", {}).get("type") == "KEY", (
    f"{rides_over_10k} must be keyed by RIDEID (GROUP BY rideId); its columns: {sorted(fields)}"
)
assert described["sourceDescription"]["type"] == "TABLE", f"{rides_over_10k} must be a TABLE"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3.5 State stores and changelog topics
#
# Where is the state of `FAILED_LOGINS`? Two places:
#
# 1. **The state store**: a key-value store next to the query, one per partition of the input —
#    RocksDB on the engine's local disk, in ksqlDB and in this lab's engine alike. Every event reads the key's current count from it and writes the
#    new one. Pull queries read it too.
# 2. **The changelog topic**: every write to the store is also produced to an internal Kafka topic,
#    in the same batch as the query's output. In ksqlDB it is *compacted*: Kafka may drop older
#    values of a key and keep the latest, so its size follows the number of keys, not the number
#    of events.
#
# `SHOW TOPICS` hides internal topics; `SHOW ALL TOPICS` lists them. The changelog's name is made
# of the query id and the operator it backs up:

# %%
topics = [t["name"] for t in ksql.execute("SHOW ALL TOPICS;")[0]["topics"]]
changelogs = sorted(t for t in topics if RUN in t and t.endswith("-changelog"))
for name in changelogs:
    print(name)
failed_changelog = next(t for t in changelogs if f"CTAS_{failed_logins}_" in t)

# %% [markdown]
# Expected (query numbers vary; the `RIDES_OVER_10K` one appears once `03-rides-over-10k` is done):
#
# ```text
# _confluent-ksql-default_query_CTAS_FAILED_LOGINS_1A2B3C_3-Aggregate-Aggregate-Materialize-changelog
# _confluent-ksql-default_query_CTAS_RIDES_OVER_10K_1A2B3C_7-Aggregate-Aggregate-Materialize-changelog
# ```
#
# No `-repartition` topic: the input is already keyed by `userid` (and `rideId`), so every user's
# events are on one partition and can be counted there. Grouping by another column — say `ip` —
# would first move the events to a new key through a repartition topic.
#
# Read the changelog of `FAILED_LOGINS` with a plain consumer. Its keys and values are in the
# engine's internal format — Kafka Streams' own serialization in ksqlDB, readable key bytes and
# pickled values in this lab's engine — an implementation detail you never rely on. The user id is still visible inside
# each key, so you can count how many times each user's row was written:

# %%
import re

records = read_topic(failed_changelog)
writes = {}
for r in records:
    user = re.search(rb"User_[0-9]", r["key"]).group().decode()
    writes[user] = writes.get(user, 0) + 1
print(len(records), "changelog records; writes per user:", dict(sorted(writes.items())))
last = [r for r in records if b"User_1" in r["key"]][-1]
print("the last write of User_1:", last["key"], "->", last["value"])

# %% [markdown]
# Expected (the bytes depend on the engine):
#
# ```text
# 68 changelog records; writes per user: {'User_1': 60, 'User_2': 1, 'User_3': 4, 'User_5': 1, 'User_7': 1, 'User_8': 1}
# the last write of User_1: b'...User_1...' -> b'...'
# ```
#
# One write per failed login: the changelog records every update of the store, in order, on the
# same partition as the user's events. Replaying it from the start and keeping the last value of
# each key gives back exactly the store's contents — which is how a new engine rebuilds it.
#
# ## 3.6 Kill the engine and watch the state come back
#
# The claim: if the server that holds the state store dies, a new one rebuilds the store from the
# changelog and carries on where the old one stopped — no event counted twice, none lost. Test it.
# `restart_ksql(hard=True)` does `kill -9` to the ksqlDB engine (no chance to clean up or flush
# anything) and starts it again, as `streamlab up` would.

# %%
before = list(ksql.query(f"SELECT * FROM {failed_logins} WHERE userid = 'User_1';", timeout=10))
print("before:", before)

seconds = restart_ksql(hard=True)
ksql = ksql_client()  # the engine may answer on a new address
print(f"killed with SIGKILL and back in {seconds:.1f} s")

after = list(ksql.query(f"SELECT * FROM {failed_logins} WHERE userid = 'User_1';", timeout=10))
print("after: ", after)

# %% [markdown]
# Expected:
#
# ```text
# before: [{'USERID': 'User_1', 'FAILURES': 60}]
# killed with SIGKILL and back in 3.1 s
# after:  [{'USERID': 'User_1', 'FAILURES': 60}]
# ```
#
# (The seconds vary: the engine restarts every persistent query of the lab, so the more labs you
# have run, the longer it takes.)
#
# The new engine replayed its **command topic** (the list of `CREATE ...` statements it had run) to
# restart the persistent queries, and restored each query's state store: its RocksDB files survived
# the kill, so it replayed only the changelog's tail after its last **checkpoint** (the changelog
# offset the files are known to cover). A *replacement* server — or one whose state directory was
# deleted — has no files and replays the whole changelog; the result is the same, only slower.
# The persistent query also resumes from its **committed offset** in `logins_topic`: it does not
# read the 200 events again (which would double every count). Prove it: 20 more login attempts,
# and the count continues from where it was.

# %%
more = list(datagen.generate("logins", seed=3, start=200, count=20))
produce_dataset(logins_topic, more)
failures = sum(not v["success"] for _, v in LOGINS + more)
wait_for_count(failed_logins, failures)  # one changelog write per failure
ksql_show(f"SELECT * FROM {failed_logins} WHERE userid = 'User_1';")

# %% [markdown]
# ```text
# USERID | FAILURES
# User_1 | 65
# ```
#
# Five more failures for `User_1`: 60 restored + 5 new. Had the engine lost its state, it would say
# 5; had it re-read the topic on top of the restored state, 125.
#
# ### Validate this step
#
# Not graded: after the restart, every user's count in `FAILED_LOGINS` matches all 220 events.

# %% [raw]
# # BEGIN QUESTION
# name: 03-validate-restore
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
truth = {}
for _, v in LOGINS + more:
    if not v["success"]:
        truth[v["userid"]] = truth.get(v["userid"], 0) + 1
wait_for_count(failed_logins, sum(truth.values()), timeout=15)
rows = list(ksql_client().query(f"SELECT * FROM {failed_logins};", timeout=10))
got = {r["USERID"]: r["FAILURES"] for r in rows}
assert got == truth, (
    f"FAILED_LOGINS says {got}, the events say {truth}: run 3.3 and 3.6 again (restart the "
    "kernel and run the lab from the top if the counts doubled)"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Recap
#
# - **Stateful** processing remembers across events: counts, sums, the latest row of a table. A
#   `dict` is state — lost when its process dies.
# - In ksqlDB, `GROUP BY` + an aggregate turns a **stream** into a **table**: one row per key, kept
#   current. A **pull query** reads the current rows; a **push query** over a table shows every
#   change.
# - The state lives in a local **state store** (fast) and is backed up, write by write, to a
#   compacted **changelog topic** in Kafka (safe). A new engine restores the store from the changelog
#   and resumes the input from its committed offsets: nothing lost, nothing counted twice.
# - The article's split follows from this: stateful work (counts, joins, windows) belongs in ksqlDB,
#   which manages state; stateless per-event logic can run anywhere — even in a short-lived Lambda
#   function (Lab 05).
#
# Run `progress()` to see where you stand. **Next:** [Lab 04 — the stream-table join](04_stream_table_join.ipynb): enriching each
# trade with its user.

# %%
progress()
