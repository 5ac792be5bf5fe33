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
# # Lab 01 — Events, topics, partitions and consumer groups
#
# **Estimated time:** 45 minutes · **Previous:** [Lab 00 — Welcome](00_welcome.ipynb) ·
# **Next:** Lab 02 — Stateless processing
#
# Everything in this workshop — ksqlDB's streams and tables, the Lambda function's input and
# output — is built on four Kafka ideas: **events**, **topics**, **partitions** and **consumer
# groups**. This lab shows each one on the running cluster, then lets you use it.
#
# ### Objectives
#
# 1. Name the four parts of an event: key, value, timestamp, headers.
# 2. Create a topic with a chosen number of partitions.
# 3. Produce keyed events and predict which partition each key lands on — and why this workshop's
#    producer hashes keys the way Java clients and ksqlDB do.
# 4. Read offsets, and watch two consumers of one group share a topic's partitions, commit, and
#    fall behind (lag).
#
# Three graded exercises (6 points) and one "validate this step" check.

# %% [markdown]
# ## 1.0 Setup
#
# The usual imports, one admin client, and this session's run id: every topic and group below ends
# with it, so you can run the lab again (after *Restart Kernel*) without meeting old data.

# %%
import os

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # the same profile as in Lab 00

import json
import time

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streamlab.config import kafka_config, producer_config
from streamlab.grading import check, progress
from streamlab.notebook import (
    committed_offsets,
    group_lag,
    java_partition,
    observe,
    plot_partitions,
    read_topic,
    run_id,
    topic_partitions,
    watermarks,
)

admin = AdminClient(kafka_config())
print("run id:", run_id())

# %% [markdown]
# ## 1.1 Topics and partitions
#
# A **topic** is a named, append-only log of events — `clicks`, `orders`, `stocktrade`. A topic is
# split into **partitions**: independent logs, each on one broker (and copied to others when the
# replication factor is above 1). Partitions are how Kafka scales: different partitions can be
# written and read by different machines at the same time.
#
# You choose the number of partitions when you create the topic. The admin client's
# `create_topics()` returns one *future* per topic; `.result()` waits for the broker's answer and
# raises if it refused.

# %%
clicks_topic = f"clicks-{run_id()}"
if topic_partitions(clicks_topic) is None:  # so this cell can run twice
    futures = admin.create_topics([NewTopic(clicks_topic, num_partitions=3, replication_factor=1)])
    futures[clicks_topic].result()
print(clicks_topic, "has", topic_partitions(clicks_topic), "partitions")

# %% [markdown]
# > **A trap worth knowing.** Kafka creates a topic automatically the first time a client produces
# > to (or asks for) a name that does not exist — with the broker's default settings: **one
# > partition**. A typo in a topic name therefore "works", and you end up with a second, smaller
# > topic. Create topics explicitly, as above.
#
# ### Exercise `01-create-topic` (2 points)
#
# Create the topic named in `orders_topic` with **3 partitions** and replication factor 1, and wait
# for the broker's answer.
#
# *Hint:* the cell above does the same for `clicks_topic`. If you created it with the wrong number
# of partitions, restart the kernel: the new run id gives a new name.
#
# Expected: `check("01-create-topic")` prints `[PASS] 01-create-topic: all 2 public check(s) passed.`

# %% [raw]
# # BEGIN QUESTION
# name: 01-create-topic
# points: 2
# stub_feedback: "does not exist yet"

# %%
orders_topic = f"orders-{run_id()}"
# BEGIN SOLUTION
futures = admin.create_topics([NewTopic(orders_topic, num_partitions=3, replication_factor=1)])
futures[orders_topic].result()
# END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
partitions = topic_partitions(orders_topic)
assert partitions is not None, (
    f"topic {orders_topic!r} does not exist yet: create it with "
    "admin.create_topics([NewTopic(orders_topic, num_partitions=3, replication_factor=1)]) "
    "and wait with .result()"
)

# %%
partitions = topic_partitions(orders_topic)
assert partitions == 3, (
    f"topic {orders_topic!r} has {partitions} partition(s); the exercise asks for 3 - see "
    "create_topics(... num_partitions=...); restart the kernel to start over with a new name"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
assert topic_partitions(orders_topic) == 3, f"topic {orders_topic!r} with 3 partitions is missing"
assert orders_topic.startswith("orders-") and orders_topic.endswith(run_id()), (
    f"keep the given name f'orders-{{run_id()}}' (got {orders_topic!r})"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 1.2 What an event is
#
# An **event** records that something happened. In Kafka it has four parts:
#
# | part | what it is | example |
# |---|---|---|
# | **key** | bytes (or nothing) that identify *what the event is about*; decides the partition | `user-42` |
# | **value** | bytes: the payload, in a format both sides agree on (JSON here; Protobuf in Lab 05) | `{"page": "/pricing"}` |
# | **timestamp** | milliseconds since 1970: when it happened (or when it was produced) | `1700000000000` |
# | **headers** | optional key/value metadata that travels with the event | `source=web` |
#
# Kafka itself never looks inside keys and values: they are bytes. Here is one event with all four
# parts, produced and read back:

# %%
CLICKED_AT = int(time.time() * 1000) - 5 * 60_000  # five minutes ago, in epoch milliseconds
producer = Producer(producer_config())
producer.produce(
    clicks_topic,
    key="user-42",
    value=json.dumps({"page": "/pricing", "ms_on_page": 5300}),
    timestamp=CLICKED_AT,  # leave it out and the producer stamps "now"
    headers={"source": "web", "schema": "click-v1"},
)
producer.flush(10)

event = next(r for r in read_topic(clicks_topic) if r["key"] == b"user-42")
for part in ("partition", "offset", "key", "value", "timestamp", "headers"):
    print(f"{part:10} {event[part]!r}")

# %% [markdown]
# Expected output (the partition is always the same for `user-42`, section 1.3 says why; the
# timestamp is five minutes before you ran the cell, so yours differs):
#
# ```text
# partition  1
# offset     0
# key        b'user-42'
# value      b'{"page": "/pricing", "ms_on_page": 5300}'
# timestamp  1795670400000
# headers    [('source', b'web'), ('schema', b'click-v1')]
# ```
#
# The timestamp is also how the broker ages a record: a topic keeps records for `retention.ms`
# (7 days by default) **after their timestamp**, not after they arrived. An event stamped with a
# date from 2023 would be deleted at the broker's next retention check (every 5 minutes), which is
# why the labs stamp historical events close to now.

# %% [markdown]
# ## 1.3 Keys decide the partition
#
# When an event has a key, the producer hashes the key and takes the result modulo the number of
# partitions. So **all events with the same key land on the same partition**, in the order they
# were produced. That is what gives Kafka its ordering guarantee: *per key*, not per topic.
#
# Let's produce 60 clicks from six users and count where they land:

# %%
users = ["ada", "alan", "grace", "linus", "ken", "margaret"]
for n in range(60):
    producer.produce(clicks_topic, key=users[n % 6], value=json.dumps({"click": n}))
producer.flush(10)

placed: dict[str, set[int]] = {}
for r in read_topic(clicks_topic):
    placed.setdefault(r["key"].decode(), set()).add(r["partition"])
for user in users:
    print(f"{user} -> partition {sorted(placed[user])}, Java/ksqlDB would pick {java_partition(user, 3)}")

# %% [markdown]
# Every user sits on exactly one partition, and it is the partition a Java client would pick.
#
# **Why the workshop's producer uses `murmur2`.** `producer_config()` sets
# `partitioner=murmur2_random`: the hash Kafka's Java client uses, and therefore the one ksqlDB,
# Kafka Connect (the Datagen connector) and Kafka Streams use. librdkafka — the C library under
# `confluent-kafka` — defaults to a *different* hash (CRC32). Both are "correct", but when a
# Python producer and ksqlDB disagree about where `user-1` lives, a stream-table join (Lab 04)
# looks on the wrong partition and silently finds nothing. Watch the two disagree:

# %%
datagen_users = [f"User_{i}" for i in range(1, 10)]  # the keys of Datagen's USERS quickstart
default_topic = f"users-default-hash-{run_id()}"
if topic_partitions(default_topic) is None:
    admin.create_topics([NewTopic(default_topic, num_partitions=3, replication_factor=1)])[default_topic].result()
plain = Producer(kafka_config())  # librdkafka's default partitioner
for user in datagen_users:
    plain.produce(default_topic, key=user, value="{}")
plain.flush(10)

differ = 0
for r in read_topic(default_topic):
    key = r["key"].decode()
    same = r["partition"] == java_partition(key, 3)
    differ += not same
    print(f"{key}: librdkafka default -> {r['partition']}, murmur2 -> {java_partition(key, 3)}"
          + ("" if same else "   <- different"))
print(f"{differ} of {len(datagen_users)} keys land on a different partition than ksqlDB expects")

# %% [markdown]
# How many events did each partition of `clicks_topic` get? A picture says it faster than a table:

# %%
counts = {p: hi - lo for p, (lo, hi) in watermarks(clicks_topic).items()}
plot_partitions(counts, f"events per partition of {clicks_topic}", ylabel="events")

# %% [markdown]
# Here the six users happen to spread evenly (two per partition; partition 1 also holds `user-42`).
# That is luck: with a handful of keys some partitions often get more than others, or nothing at
# all. With many keys it evens out.
#
# ### Exercise `01-keyed-produce` (2 points)
#
# Produce every order in `orders` (defined below) to `orders_topic`: the **key** is the order's
# `customer`, the **value** is the order as JSON (`json.dumps(order)`). Use a producer made with
# `producer_config()`, and flush at the end.
#
# *Hint:* look at the 60-clicks cell in 1.3.
#
# Expected: `check("01-keyed-produce")` passes, and `read_topic(orders_topic)` returns 9 events,
# each customer's orders on one partition.

# %%
orders = [
    {"order_id": n, "customer": customer, "amount": amount}
    for n, (customer, amount) in enumerate(
        [("alice", 12), ("bob", 7), ("carol", 30), ("alice", 5), ("bob", 19),
         ("carol", 2), ("alice", 44), ("bob", 3), ("carol", 11)]
    )
]
print(len(orders), "orders, e.g.", orders[0])

# %% [raw]
# # BEGIN QUESTION
# name: 01-keyed-produce
# points: 2
# stub_feedback: "does not exist: solve 01-create-topic first"

# %%
# BEGIN SOLUTION
orders_producer = Producer(producer_config())
for order in orders:
    orders_producer.produce(orders_topic, key=order["customer"], value=json.dumps(order))
orders_producer.flush(10)
# END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
assert topic_partitions(orders_topic) is not None, (
    f"topic {orders_topic!r} does not exist: solve 01-create-topic first (producing to a "
    "missing topic would auto-create it with 1 partition)"
)
events = read_topic(orders_topic)
assert len(events) == len(orders), (
    f"topic {orders_topic!r} has {len(events)} events; the exercise asks for {len(orders)}, one "
    "per order - "
    + ("produce every order in `orders`, then call flush()" if len(events) < len(orders)
       else "some orders were produced twice: restart the kernel and run the lab again")
)

# %%
events = read_topic(orders_topic)
keys = sorted((r["key"] or b"").decode() for r in events)
wanted = sorted(o["customer"] for o in orders)
assert keys == wanted, (
    f"the events' keys are {sorted(set(keys))}; each key must be the order's customer - "
    "produce(orders_topic, key=order['customer'], value=json.dumps(order))"
)
values = sorted(json.loads(r["value"])["order_id"] for r in events)
assert values == [o["order_id"] for o in orders], (
    "each value must be the order as JSON: value=json.dumps(order)"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
events = read_topic(orders_topic)
assert events, f"topic {orders_topic!r} has no events"
for r in events:
    key = r["key"].decode()
    assert r["partition"] == java_partition(key, 3), (
        f"the event keyed {key!r} is on partition {r['partition']}, but ksqlDB would look for "
        f"it on partition {java_partition(key, 3)}: make the producer with "
        "Producer(producer_config()) (murmur2 partitioner), not Producer(kafka_config())"
    )

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 1.4 Offsets
#
# Inside a partition each event has an **offset**: 0, 1, 2, … in the order the events were
# written. Offsets are per partition — offset 5 of partition 0 and offset 5 of partition 1 are
# unrelated events — and they never change. Each partition has a *low watermark* (the first offset
# still stored) and a *high watermark* (the offset the next event will get):

# %%
for p, (low, high) in watermarks(clicks_topic).items():
    print(f"partition {p}: offsets {low}..{high - 1}  ({high - low} events; the next one gets {high})")

# %% [markdown]
# A consumer does not delete what it reads. It only remembers *how far it got*: the offset of the
# next event it wants. Storing that position in Kafka is called **committing** an offset.
#
# ## 1.5 Consumer groups
#
# Consumers that share a `group.id` form a **consumer group** and divide the topic's partitions
# among themselves: each partition is read by exactly one member of the group. Add a member and
# the group *rebalances*; a member leaves and its partitions move to the others. This is how Kafka
# scales reading — and, in Lab 08, how AWS Lambda scales: one consumer (and one function instance)
# per partition at most.
#
# Two members of one group, reading `clicks_topic`:

# %%
group = f"click-counters-{run_id()}"

def new_member(name: str) -> Consumer:
    member = Consumer(kafka_config(**{
        "group.id": group,
        "client.id": name,
        "auto.offset.reset": "earliest",  # a new group starts at the beginning
        "enable.auto.commit": False,      # we commit ourselves, below
    }))
    member.subscribe([clicks_topic])
    return member

members = {"laptop-a": new_member("laptop-a"), "laptop-b": new_member("laptop-b")}
ends = {p: hi for p, (lo, hi) in watermarks(clicks_topic).items()}
read: dict[str, int] = {name: 0 for name in members}

def caught_up() -> bool:
    # both members own partitions, and each partition's owner has read it to the end
    position = {}
    for member in members.values():
        owned = member.assignment()
        if not owned:
            return False
        position.update({tp.partition: tp.offset for tp in member.position(owned)})
    return all(position.get(p, 0) >= end for p, end in ends.items() if end > 0)

deadline = time.monotonic() + 30
while not caught_up() and time.monotonic() < deadline:
    for name, member in members.items():
        msg = member.poll(0.1)
        if msg is not None and not msg.error():
            read[name] += 1

for name, member in members.items():
    mine = sorted(tp.partition for tp in member.assignment())
    print(f"{name}: partitions {mine}, read {read[name]} events")

# %% [markdown]
# Expected (which member gets which partitions, and the counts, may differ): one member owns two
# partitions, the other one.
#
# ```text
# laptop-a: partitions [0, 1], read 69 events
# laptop-b: partitions [2], read 20 events
# ```
#
# The two counts usually add up to more than the 61 events in the topic. Until the second member
# joined, the first one owned all three partitions; at the rebalance, the partition it handed over
# was read again from the last committed offset — and nothing was committed yet. That is Kafka's
# *at-least-once* delivery, and why committing regularly matters.
#
# Now each member commits how far it got. A member that read nothing has nothing to commit.

# %%
for name, member in members.items():
    try:
        member.commit(asynchronous=False)
    except KafkaException as e:
        print(f"{name}: nothing to commit ({e.args[0].name()})")
print("committed:", committed_offsets(group, clicks_topic))

# %% [markdown]
# **Lag** is how far a group is behind: for each partition, the high watermark minus the committed
# offset. Produce 30 more clicks and the group falls behind. `group_lag` asks the cluster through
# the Kafka admin API — the group's state and members, its committed offsets, each partition's high
# watermark — so it works on every profile. (The emulated cluster also serves the same data at
# `http://127.0.0.1:9021/api/groups/<group>`, through `observe().group(group)`.)

# %%
for n in range(30):
    producer.produce(clicks_topic, key=users[n % 6], value=json.dumps({"click": 100 + n}))
producer.flush(10)

info = group_lag(group, clicks_topic)
print("group", info["group_id"], "is", info["state"], "with", len(info["members"]), "members")
lag = {o["partition"]: o["lag"] for o in info["offsets"]}
committed = {o["partition"]: o["committed"] for o in info["offsets"]}
for p in sorted(lag):
    print(f"partition {p}: committed {committed[p]}, lag {lag[p]}")
print("total lag:", info["lag"])

# %%
plot_partitions(committed, f"group {group}", ylabel="committed offset",
                second=lag, second_label="lag")

# %% [markdown]
# Both members are still in the group but stopped polling, so the lag stays until they read and
# commit again. Close them: a closed consumer leaves the group at once, and its partitions would
# go to the remaining members.

# %%
for member in members.values():
    member.close()

# %% [markdown]
# ### Validate this step
#
# Not graded: confirms the group committed offsets and that 30 events are waiting.

# %% [raw]
# # BEGIN QUESTION
# name: 01-validate-group
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
done = committed_offsets(group, clicks_topic)
assert done, (
    f"group {group!r} has no committed offsets on {clicks_topic!r}: run the consumer-group "
    "cells of 1.5 again, including the commit cell"
)
ends = {p: hi for p, (lo, hi) in watermarks(clicks_topic).items()}
behind = sum(ends[p] - done.get(p, 0) for p in ends)
assert behind == 30, (
    f"the group is {behind} events behind; expected 30 (the clicks produced after the commit) - "
    "restart the kernel and run the lab from the top"
)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### Exercise `01-lag` (2 points)
#
# Write `lag_per_partition(end_offsets, committed)`: given each partition's high watermark and the
# group's committed offsets, return each partition's lag. A partition the group never committed
# has read nothing yet: its lag is its whole high watermark (assume logs start at offset 0).
# Return a dict with one entry per partition in `end_offsets`.
#
# Expected output of the cell, once your function is written:
#
# ```text
# {0: 3, 1: 0}
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 01-lag
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def lag_per_partition(end_offsets: dict[int, int], committed: dict[int, int]) -> dict[int, int]:
    # BEGIN SOLUTION
    return {p: end - committed.get(p, 0) for p, end in end_offsets.items()}
    # END SOLUTION


lag_per_partition({0: 5, 1: 8}, {0: 2, 1: 8})

# %% [raw]
# # BEGIN TESTS

# %%
got = lag_per_partition({0: 5, 1: 8}, {0: 2, 1: 8})
assert got == {0: 3, 1: 0}, (
    f"lag_per_partition({{0: 5, 1: 8}}, {{0: 2, 1: 8}}) returned {got!r}, expected "
    "{0: 3, 1: 0}: lag = high watermark - committed offset, per partition"
)

# %%
got = lag_per_partition({0: 4, 1: 4, 2: 4}, {0: 1, 1: 2, 2: 3})
assert isinstance(got, dict) and sorted(got) == [0, 1, 2], (
    f"return one entry per partition of end_offsets (0, 1 and 2 here), got {got!r}"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
got = lag_per_partition({0: 10, 1: 4, 2: 7}, {0: 10, 1: 1})
assert got == {0: 0, 1: 3, 2: 7}, (
    f"a partition without a committed offset has read nothing: its lag is its high watermark "
    f"(got {got!r} for end offsets {{0: 10, 1: 4, 2: 7}} and commits {{0: 10, 1: 1}})"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
ends = {p: hi for p, (lo, hi) in watermarks(clicks_topic).items()}
mine = lag_per_partition(ends, committed_offsets(group, clicks_topic))
assert sum(mine.values()) == 30, f"for the group of 1.5 your function gives {mine}; 30 in total expected"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Recap
#
# - An **event** is a key, a value, a timestamp and headers; keys and values are bytes.
# - A **topic** is split into **partitions**; the key's hash picks the partition, so one key's
#   events stay in order on one partition. This workshop's producer hashes with **murmur2**, like
#   Java clients and ksqlDB, so Python and ksqlDB agree on where a key lives.
# - Each event has an **offset** in its partition; consumers **commit** the offset they reached.
# - A **consumer group** shares partitions among its members (one member per partition at most);
#   **lag** is how far the group is behind.
#
# Run `progress()` to see where you stand. **Next:** Lab 02 — stateless processing: filtering and
# transforming events one at a time, in Python and in ksqlDB.

# %%
progress()
