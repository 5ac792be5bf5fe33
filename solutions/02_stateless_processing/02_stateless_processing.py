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
# # Lab 02 — Stateless processing
#
# **Estimated time:** 40 minutes · **Previous:** [Lab 01 — Events, topics, partitions](01_events_topics_partitions.ipynb) ·
# **Next:** Lab 03 — Stateful processing
#
# Stream processing comes in two kinds. A **stateless** operation looks at one event at a time and
# decides from that event alone: keep it or drop it, reshape it, compute a new field. A **stateful**
# operation remembers something across events — a count, a sum, the latest row of a table — and
# needs somewhere to keep it. This lab is about the first kind; Lab 03 is about the second.
#
# You will write a stateless filter twice: first by hand in Python (consume, test, produce), then as
# two lines of ksqlDB, on the same taxi-ride data. Then you will see why the stateless kind is the
# easy one to scale.
#
# ### Objectives
#
# 1. Say what makes an operation stateless, and name the stateless operations (filter, map,
#    compute a column).
# 2. Write a **predicate** in Python and use it in a consume → filter → produce loop.
# 3. Do the same in ksqlDB: `CREATE STREAM` over a topic, a derived stream with `GEO_DISTANCE`, a
#    filter with `WHERE`, and a push query with `LIMIT`.
# 4. Explain why stateless processing needs no state store and scales by partition.
#
# Three graded exercises (6 points) and one "validate this step" check.

# %% [markdown]
# ## 2.0 Setup
#
# The imports, a client for ksqlDB's REST API, and this session's run id. Every topic, stream and
# consumer group below carries the run id, so you can run the lab again after *Restart Kernel*
# without meeting the previous run's data.

# %%
import os

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # the same profile as in Lab 00

import json
import time

from confluent_kafka import Consumer, Producer

from streamlab import datagen
from streamlab.config import kafka_config, producer_config
from streamlab.datagen.datasets import geo_distance_km
from streamlab.grading import check, progress
from streamlab.notebook import (
    EARLIEST,
    create_topic,
    java_partition,
    ksql_client,
    ksql_show,
    plot_partitions,
    read_topic,
    run_id,
    topic_count,
    wait_for_count,
    watermarks,
)

ksql = ksql_client()
RUN = run_id().upper()  # ksqlDB names are upper case
print("run id:", run_id(), "- ksqlDB", ksql.info()["version"])

# %% [markdown]
# ## 2.1 The data: taxi rides
#
# The `rides` dataset follows taxi rides around the San Francisco Bay Area. Each event is a
# location update of one ride: where the car is (`latitude`, `longitude`) and where it is going
# (`dstLatitude`, `dstLongitude`). The key is the `rideId`. Five rides run at a time, each sends ten
# updates while it drives towards its destination, and the updates of the five interleave.
#
# The generator is deterministic: seed 7 gives everyone in the room the same 100 events. Produce
# them to a topic with 3 partitions, exactly as the Datagen connector would (string key, JSON value):

# %%
rides_topic = f"rides-{run_id()}"
RIDES = list(datagen.generate("rides", seed=7, count=100))

if create_topic(rides_topic, partitions=3):  # False when it exists: the cell can run twice
    producer = Producer(producer_config())
    for key, value in RIDES:
        key_bytes, value_bytes = datagen.encode(key, value)
        producer.produce(rides_topic, key=key_bytes, value=value_bytes)
    producer.flush(10)

print(rides_topic, "holds", topic_count(rides_topic), "events")
for key, value in RIDES[:3]:
    print(key, value)


# %% [markdown]
# Expected output (your topic name ends with your own run id):
#
# ```text
# rides-1a2b3c holds 100 events
# ride_1 {'rideId': 'ride_1', 'latitude': 37.719308, 'longitude': -122.294182, 'dstLatitude': 37.648506, 'dstLongitude': -122.12635}
# ride_2 {'rideId': 'ride_2', 'latitude': 37.540764, 'longitude': -121.932003, 'dstLatitude': 37.560014, 'dstLongitude': -121.722845}
# ride_3 {'rideId': 'ride_3', 'latitude': 37.524594, 'longitude': -121.963104, 'dstLatitude': 37.656286, 'dstLongitude': -122.055398}
# ```

# %% [markdown]
# ## 2.2 A stateless operation is a pure test of one event
#
# A **predicate** is a function from one event to `True` or `False`. The classic example is an
# equality test: "is this an update of ride 3?"

# %%
def is_ride_3(event: dict) -> bool:
    return event["rideId"] == "ride_3"


first = RIDES[2][1]
print(is_ride_3(first), is_ride_3(first), is_ride_3(RIDES[0][1]))

# %% [markdown]
# ```text
# True True False
# ```
#
# Ask twice, get the same answer twice: the predicate uses **nothing but the event in front of
# it** — no counter, no memory of earlier events, no lookup in a database. That is what *stateless*
# means, and it is why such a function can run anywhere, on any number of machines, in any order
# of partitions: no two runs ever need to agree on anything.
#
# The stateless operations of stream processing:
#
# | operation | one event in … | ksqlDB | Python |
# |---|---|---|---|
# | **filter** | … zero or one out | `WHERE` | `if predicate(event):` |
# | **map / project** | … one out, reshaped | `SELECT a, b` | `{"a": e["a"], "b": e["b"]}` |
# | **compute a column** | … one out, with a new field | `SELECT GEO_DISTANCE(...) AS d` | `e \| {"d": ...}` |
# | **flat map** | … zero or more out | `EXPLODE(array)` | `for x in e["items"]: yield x` |
#
# What a stateless operation **cannot** do is decide based on earlier events: "the third failed
# login of this user", "rides that were more than 10 km away *at some point*". That needs state:
# Lab 03.
#
# The rides carry their destination, so "how far is the car from where it is going?" is a
# stateless question too. `geo_distance_km(lat1, lon1, lat2, lon2)` computes the great-circle
# distance the way ksqlDB's `GEO_DISTANCE(..., 'km')` does (the haversine formula on a sphere of
# radius 6,371 km):

# %%
event = RIDES[0][1]
km = geo_distance_km(
    event["latitude"], event["longitude"], event["dstLatitude"], event["dstLongitude"]
)
print(f"{event['rideId']} is {km:.2f} km from its destination")


# %% [markdown]
# ```text
# ride_1 is 16.74 km from its destination
# ```
#
# ### Exercise `02-predicate` (2 points)
#
# Write the predicate `far_from_destination(event, km=10.0)`: `True` when the car is **more than**
# `km` kilometres from its destination (exactly `km` away is not "more than"), `False` otherwise. Use
# `geo_distance_km` on the event's four coordinates. The function must not change the event.
#
# Expected output of the cell, once your function is written:
#
# ```text
# (True, False)
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 02-predicate
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def far_from_destination(event: dict, km: float = 10.0) -> bool:
    # BEGIN SOLUTION
    distance = geo_distance_km(
        event["latitude"], event["longitude"], event["dstLatitude"], event["dstLongitude"]
    )
    return distance > km
    # END SOLUTION


far_from_destination(RIDES[0][1]), far_from_destination(RIDES[4][1])

# %% [raw]
# # BEGIN TESTS

# %%
got = (far_from_destination(RIDES[0][1]), far_from_destination(RIDES[4][1]))
assert got == (True, False), (
    f"far_from_destination gives {got} for ride_1 (16.7 km to go) and ride_5 (2.4 km to go); "
    "expected (True, False): compare geo_distance_km(latitude, longitude, dstLatitude, "
    "dstLongitude) with km"
)

# %%
ride = RIDES[0][1]
got = (far_from_destination(ride, km=20.0), far_from_destination(ride, km=16.0))
assert got == (False, True), (
    f"with km=20 and km=16, ride_1 (16.7 km to go) gives {got}; expected (False, True): use the "
    "km parameter instead of a fixed 10"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

ride = dict(RIDES[0][1])
exact = geo_distance_km(
    ride["latitude"], ride["longitude"], ride["dstLatitude"], ride["dstLongitude"]
)
assert far_from_destination(ride, km=exact) is False, (
    "a car exactly km away is not *more* than km away: use >, not >="
)
assert ride == RIDES[0][1], "far_from_destination changed the event it was given"
wanted = [geo_distance_km(v["latitude"], v["longitude"], v["dstLatitude"], v["dstLongitude"]) > 10
          for _, v in RIDES]
assert [far_from_destination(v) for _, v in RIDES] == wanted, (
    "far_from_destination disagrees with geo_distance_km(...) > 10 on some of the 100 rides"
)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2.3 Consume, filter, produce — by hand
#
# A stream processor is a loop: **consume** an event, **apply** the operation, **produce** the
# result to another topic. Here is the consume half, as a generator: it joins a consumer group,
# yields every event of the topic once, and stops when it has caught up with the end of each
# partition. Leaving the group commits how far it got, so running it again with the same group
# yields nothing new.

# %%
def consume_all(topic: str, group: str, timeout: float = 20.0):
    """Yield each event of `topic` that `group` has not read yet; stop when caught up."""
    consumer = Consumer(kafka_config(**{"group.id": group, "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    ends = {p: hi for p, (lo, hi) in watermarks(topic).items() if hi > lo}
    reached: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            owned = consumer.assignment()
            positions = consumer.position(owned) if owned else []
            if owned and all(tp.offset >= ends.get(tp.partition, 0) for tp in positions):
                break  # every partition read to its end
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            reached[msg.partition()] = msg.offset() + 1
            yield msg
    finally:
        consumer.close()  # leaves the group and commits the offsets reached


ride_3_updates = []
for msg in consume_all(rides_topic, f"ride-3-{run_id()}"):
    event = json.loads(msg.value())
    if is_ride_3(event):
        ride_3_updates.append(event)
print(len(ride_3_updates), "updates of ride_3, e.g.", ride_3_updates[0])

# %% [markdown]
# ```text
# 10 updates of ride_3, e.g. {'rideId': 'ride_3', 'latitude': 37.524594, 'longitude': -121.963104, 'dstLatitude': 37.656286, 'dstLongitude': -122.055398}
# ```
#
# The filter kept 10 of the 100 events and looked at each event exactly once. Nothing was kept
# between events except the consumer's *position* — and that position is stored in Kafka (the
# committed offset), not in our program.
#
# ### Exercise `02-filter-by-hand` (2 points)
#
# Complete the stream processor: consume every event of `rides_topic` (use `consume_all` with the
# group given below), keep the events for which `far_from_destination(event)` is true, and produce
# each kept event to `far_topic` **unchanged**: the same key, the same value bytes. Flush at the end.
#
# *Hint:* `msg.key()` and `msg.value()` are the bytes to pass on; `json.loads(msg.value())` is the
# event for the predicate. Solve `02-predicate` first.
#
# Expected: `check("02-filter-by-hand")` passes and `far_topic` holds **34 events** — the updates
# that were still more than 10 km from their destination.

# %% [raw]
# # BEGIN QUESTION
# name: 02-filter-by-hand
# points: 2
# stub_feedback: "is empty"

# %%
far_topic = f"far-rides-{run_id()}"
far_group = f"far-filter-{run_id()}"
create_topic(far_topic, partitions=3)
far_producer = Producer(producer_config())
# BEGIN SOLUTION
for msg in consume_all(rides_topic, far_group):
    if far_from_destination(json.loads(msg.value())):
        far_producer.produce(far_topic, key=msg.key(), value=msg.value())
far_producer.flush(10)
# END SOLUTION
print(far_topic, "holds", topic_count(far_topic), "events")

# %% [raw]
# # BEGIN TESTS

# %%
wanted = sum(
    geo_distance_km(v["latitude"], v["longitude"], v["dstLatitude"], v["dstLongitude"]) > 10
    for _, v in RIDES
)
have = topic_count(far_topic)
assert have > 0, (
    f"topic {far_topic!r} is empty: consume rides_topic with consume_all(rides_topic, far_group), "
    "produce the events far_from_destination() keeps to far_topic, then flush()"
)
assert have == wanted, (
    f"topic {far_topic!r} holds {have} events; expected {wanted}, one per ride update more than "
    "10 km from its destination - "
    + ("did you call flush()?" if have < wanted else
       "some events were produced twice: restart the kernel and run the lab again")
)

# %%
events = read_topic(far_topic)
assert events, f"topic {far_topic!r} is empty"
for r in events:
    value = json.loads(r["value"])
    assert r["key"] == value["rideId"].encode(), (
        f"an event of {value['rideId']} has the key {r['key']!r}: pass the key on unchanged, "
        "produce(far_topic, key=msg.key(), value=msg.value())"
    )

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

events = read_topic(far_topic)
assert events, f"topic {far_topic!r} is empty"
source = {(r["key"], r["value"]) for r in read_topic(rides_topic)}
for r in events:
    assert (r["key"], r["value"]) in source, (
        f"the event {r['value'][:60]!r} is not byte for byte an event of {rides_topic!r}: pass "
        "msg.value() on unchanged instead of re-encoding it"
    )
    assert r["partition"] == java_partition(r["key"], 3), (
        f"{r['key']!r} is on partition {r['partition']}, not where ksqlDB would look for it: "
        "use a producer made with Producer(producer_config())"
    )

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2.4 The same in ksqlDB
#
# ksqlDB runs that loop for you. You describe *what* to compute in SQL; it runs a **persistent
# query**: a consumer, your operation and a producer, inside the ksqlDB server, running until you
# stop it.
#
# ### A stream over the topic
#
# First tell ksqlDB what the topic's events look like. `CREATE STREAM` over an existing topic stores
# only this description — no data is copied, and nothing runs yet. `KEY` marks the column that comes
# from the Kafka key; the others come from the JSON value. ksqlDB matches JSON fields to columns
# without regard to case, and shows every unquoted name in upper case.

# %%
geo_events = f"GEO_EVENTS_{RUN}"
ksql.execute(f"""
    CREATE STREAM IF NOT EXISTS {geo_events} (
        rideId STRING KEY,
        latitude DOUBLE,
        longitude DOUBLE,
        dstLatitude DOUBLE,
        dstLongitude DOUBLE
    ) WITH (KAFKA_TOPIC='{rides_topic}', VALUE_FORMAT='JSON');
""")
ksql_show(f"DESCRIBE {geo_events};")

# %% [markdown]
# Expected: a table of the five columns, `RIDEID` marked `STRING KEY`, the others `DOUBLE`.
#
# ### A push query with `LIMIT`
#
# A **push query** (`SELECT ... EMIT CHANGES`) does not end when it has answered: it keeps pushing
# new rows as events arrive, for as long as you listen. `LIMIT 3` ends it after three rows. By
# default a query starts at the *end* of the topic and waits for new events; `ksql_show` (like
# `%%ksql --earliest`) sets `auto.offset.reset=earliest`, so it starts from the beginning:

# %%
ksql_show(f"SELECT * FROM {geo_events} EMIT CHANGES LIMIT 3;")

# %% [markdown]
# Expected: three rows (which three depends on the partition the engine reads first), e.g.
#
# ```text
# RIDEID | LATITUDE  | LONGITUDE   | DSTLATITUDE | DSTLONGITUDE
# ride_5 | 37.378435 | -122.009916 | 37.375812   | -122.037406
# ride_5 | 37.378172 | -122.012665 | 37.375812   | -122.037406
# ride_5 | 37.37791  | -122.015414 | 37.375812   | -122.037406
# ```
#
# > **Try it.** Change `LIMIT 3` to `LIMIT 200` and run the cell: the query shows the 100 events
# > and then waits for more, until `ksql_show` gives up after 10 idle seconds. A push query over a
# > stream never "finishes" — streams have no end.
#
# In a notebook you can also type ksqlDB directly: run `%load_ext streamlab.ksql.magic` once, then
# start a cell with `%%ksql --earliest`. We use `ksql_show(...)` here because the names carry your
# run id, which a `%%ksql` cell cannot fill in.
#
# ### A derived stream: distance to the destination
#
# `CREATE STREAM ... AS SELECT` (CSAS) starts a **persistent query**. Its result is a new stream
# backed by a new topic of the same name, with as many partitions as the source. For each event of
# `GEO_EVENTS`, it writes one event to `LOCATIONS` with three columns and one computed column:

# %%
locations = f"LOCATIONS_{RUN}"
ksql.execute(f"""
    CREATE STREAM IF NOT EXISTS {locations} AS
      SELECT rideId, latitude, longitude,
             GEO_DISTANCE(latitude, longitude, dstLatitude, dstLongitude, 'km') AS kmToDst
      FROM {geo_events}
      EMIT CHANGES;
""", EARLIEST)  # start from the topic's first event, not from its end

print(locations, "holds", wait_for_count(locations, 100), "events")
ksql_show(f"SELECT * FROM {locations} EMIT CHANGES LIMIT 5;")

# %% [markdown]
# Expected: `LOCATIONS_... holds 100 events`, then five rows with a `KMTODST` column, e.g.
#
# ```text
# RIDEID | LATITUDE  | LONGITUDE   | KMTODST
# ride_5 | 37.378435 | -122.009916 | 2.4465145843153895
# ride_5 | 37.378172 | -122.012665 | 2.2018576550777187
# ```
#
# Two things to notice. `EARLIEST` (`{"auto.offset.reset": "earliest"}`) matters: without it the
# persistent query would start at the end of `rides_topic` and process only events produced from
# now on. And `LOCATIONS` is an ordinary Kafka topic: any consumer — a Python script, a Lambda
# function (Lab 05) — can read it.

# %% [markdown]
# ### Validate this step
#
# Not graded: confirms `LOCATIONS` holds one event per ride update, with the distance computed.

# %% [raw]
# # BEGIN QUESTION
# name: 02-validate-locations
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
rows = read_topic(locations)
assert len(rows) == len(RIDES), (
    f"{locations} holds {len(rows)} events, expected {len(RIDES)}: run the CREATE STREAM cells of "
    "2.4 again (with EARLIEST), or restart the kernel and run the lab from the top"
)
by_ride = {}
for key, v in RIDES:
    by_ride.setdefault(key, []).append(
        geo_distance_km(v["latitude"], v["longitude"], v["dstLatitude"], v["dstLongitude"])
    )
got = {}
for r in rows:
    got.setdefault(r["key"].decode(), []).append(json.loads(r["value"])["KMTODST"])
assert all(
    abs(a - b) < 1e-6 for k in by_ride for a, b in zip(by_ride[k], got.get(k, []), strict=False)
), "the KMTODST column does not match GEO_DISTANCE(latitude, longitude, dstLatitude, ..., 'km')"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### Exercise `02-ksql-filter` (2 points)
#
# Now the filter, in ksqlDB. Create the stream named in `far_stream` from `LOCATIONS` (the Python
# variable `locations` holds its name), keeping every column and only the events more than 10 km
# from their destination. Start it from the earliest event.
#
# *Hint:* `CREATE STREAM ... AS SELECT * FROM ... WHERE ... EMIT CHANGES;`, run with
# `ksql.execute(sql, EARLIEST)` — like the `LOCATIONS` cell above. If you created it wrong, restart
# the kernel (a new run id gives new names), or `DROP STREAM {far_stream} DELETE TOPIC;` and create
# it again.
#
# Expected: `check("02-ksql-filter")` passes and the stream's topic holds the same **34 events**
# your Python filter produced.

# %% [raw]
# # BEGIN QUESTION
# name: 02-ksql-filter
# points: 2
# stub_feedback: "does not exist yet"

# %%
far_stream = f"FAR_RIDES_{RUN}"
# BEGIN SOLUTION
ksql.execute(f"""
    CREATE STREAM {far_stream} AS
      SELECT * FROM {locations}
      WHERE kmToDst > 10
      EMIT CHANGES;
""", EARLIEST)
# END SOLUTION
print(far_stream, "holds", wait_for_count(far_stream, 34), "events")

# %% [raw]
# # BEGIN TESTS

# %%
streams = {s["name"] for s in ksql.execute("SHOW STREAMS;")[0]["streams"]}
assert far_stream in streams, (
    f"the stream {far_stream} does not exist yet: CREATE STREAM {far_stream} AS SELECT * FROM "
    f"{locations} WHERE ... EMIT CHANGES; with ksql.execute(sql, EARLIEST)"
)

# %%
wanted = sum(
    geo_distance_km(v["latitude"], v["longitude"], v["dstLatitude"], v["dstLongitude"]) > 10
    for _, v in RIDES
)
exists = far_stream in {s["name"] for s in ksql.execute("SHOW STREAMS;")[0]["streams"]}
assert exists, f"the stream {far_stream} does not exist yet"
have = wait_for_count(far_stream, wanted, timeout=15)
assert have == wanted, (
    f"the stream {far_stream} holds {have} events; expected {wanted}: keep the events "
    "WHERE kmToDst > 10, and run the statement with EARLIEST so it starts at the first event"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

exists = far_stream in {s["name"] for s in ksql.execute("SHOW STREAMS;")[0]["streams"]}
rows = read_topic(far_stream) if exists else []
assert rows, f"the stream {far_stream} does not exist yet or is empty"
columns = set(json.loads(rows[0]["value"]))
assert {"LATITUDE", "LONGITUDE", "KMTODST"} <= columns, (
    f"{far_stream} has the value columns {sorted(columns)}; keep every column: SELECT *"
)
assert all(json.loads(r["value"])["KMTODST"] > 10 for r in rows), (
    f"{far_stream} holds events 10 km or less from their destination: WHERE kmToDst > 10"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2.5 Why stateless processing scales by partition
#
# Compare the input and the output of the filter, partition by partition:

# %%
source = {p: hi - lo for p, (lo, hi) in watermarks(locations).items()}
kept = {p: hi - lo for p, (lo, hi) in watermarks(far_stream).items()}  # {} before 02-ksql-filter
plot_partitions(source, f"{locations} and {far_stream}", ylabel="LOCATIONS events",
                second=kept, second_label="kept by the filter")

# %% [markdown]
# Every kept event sits on the **same partition number** as the event it came from: the filter never
# changes the key, so murmur2 sends each ride to the same partition of the output. (The partitions are
# uneven — 30, 60 and 10 events — because 10 ride keys are too few to spread evenly; Lab 01 showed
# why.)
#
# That is the whole scaling story of stateless processing:
#
# - **Each partition can be processed on its own.** The filter of partition 0 never needs to know
#   anything about partition 1. Give each partition to a different machine — a different ksqlDB
#   server, a different consumer in a group, a different Lambda instance (Lab 08) — and they never
#   talk to each other.
# - **Nothing to store, nothing to move.** A machine that dies loses nothing but its position, and
#   the position is the committed offset in Kafka. Its replacement starts at that offset. No state
#   to rebuild.
# - **The limit is the partition count.** One consumer per partition at most (Lab 01), so three
#   partitions means at most three machines working in parallel.
#
# ksqlDB confirms it: a stateless persistent query creates **no internal topics** — only its output
# topic. `SHOW ALL TOPICS` lists every topic, the internal ones too (`SHOW TOPICS` hides them); here
# are the ones this run created:

# %%
topics = [t["name"] for t in ksql.execute("SHOW ALL TOPICS;")[0]["topics"]]
mine = sorted(t for t in topics if run_id() in t.lower())
print("\n".join(mine))
print("internal topics (changelog, repartition):", [t for t in mine if t.startswith("_")] or "none")

# %% [markdown]
# Expected (with your run id, and `FAR_RIDES_...` once `02-ksql-filter` is done):
#
# ```text
# FAR_RIDES_1A2B3C
# LOCATIONS_1A2B3C
# far-rides-1a2b3c
# rides-1a2b3c
# internal topics (changelog, repartition): none
# ```
#
# In Lab 03 a `COUNT(*) ... GROUP BY` adds topics whose names end in `-changelog` (the backup of the
# state store) and `-repartition` (events moved to a new key): the signs of state.
#
# And the persistent queries that run on your behalf, one per derived stream:

# %%
queries = ksql.execute("SHOW QUERIES;")[0]["queries"]
for q in queries:
    if RUN in q["id"]:
        print(q["id"], q["state"], "->", q["sinkKafkaTopics"])

# %% [markdown]
# ```text
# CSAS_LOCATIONS_1A2B3C_4 RUNNING -> ['LOCATIONS_1A2B3C']
# CSAS_FAR_RIDES_1A2B3C_5 RUNNING -> ['FAR_RIDES_1A2B3C']
# ```
#
# (The number at the end of a query id is the position of its statement in ksqlDB's command log,
# so yours may differ.) They keep running after you close the notebook: produce more rides to `rides_topic` and both
# streams grow. `DROP STREAM <name>;` stops the query that fills the stream along with it
# (`TERMINATE <query id>;` stops a query and keeps its stream); a DROP is refused while
# another query reads the stream.

# %% [markdown]
# ## Recap
#
# - A **stateless** operation decides from one event alone: same event, same answer, no memory.
#   Filters (`WHERE`), projections and computed columns (`GEO_DISTANCE(...) AS kmToDst`) are
#   stateless.
# - By hand, a stream processor is a loop: **consume, apply, produce**, with the position kept as a
#   committed offset in Kafka.
# - In ksqlDB, `CREATE STREAM` over a topic only *describes* it; `CREATE STREAM ... AS SELECT` starts
#   a **persistent query** that writes a new topic; `SELECT ... EMIT CHANGES` is a **push query**,
#   ended by `LIMIT` or by you. Use `auto.offset.reset=earliest` to start from the first event.
# - Stateless processing keeps keys, needs **no state store and no internal topics**, and scales
#   out up to **one worker per partition** with no coordination.
#
# Run `progress()` to see where you stand. **Next:** Lab 03 — stateful processing: counting failed
# logins by hand and in ksqlDB, state stores, and changelog topics.

# %%
progress()
