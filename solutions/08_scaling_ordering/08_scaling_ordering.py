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
# # Lab 08 — Scaling, ordering and performance
#
# **Estimated time:** 40 minutes · **Previous:** [Lab 07 — Windowed aggregation](07_windowed_aggregation.ipynb) ·
# **Next:** [Lab 09 — End to end and going live](09_end_to_end.ipynb)
#
# Everything in this workshop scales the same way: **by partition**. A consumer group spreads a
# topic's partitions over its members; ksqlDB runs one task per input partition; a Lambda event
# source mapping adds pollers — each with its own function instance — up to one per partition.
# Partitions are also the unit of **ordering**: Kafka keeps records in order within a partition,
# and nowhere else. This lab makes both points concrete, then replays the article's experiment —
# 1,000 partitions, 50 million records, a handler that sleeps 5 seconds — in simulated time.
#
# ### Objectives
#
# 1. See that a consumer group cannot use more members than the topic has partitions, and predict
#    which member gets which partition.
# 2. Check that keyed records stay in order per key (per partition) but not across partitions,
#    and know the producer settings that keep that order under retries.
# 3. Work out the throughput of a Lambda event source mapping from its pollers, batch size and
#    handler time.
# 4. Replay and plot the article's 1,000-partition scaling experiment.
#
# Three graded exercises (6 points) and one "validate this step" check.

# %% [markdown]
# ## 8.0 Setup

# %%
import json

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # the same profile as in Lab 00

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from streamlab.awslambda.scaling import article_experiment, simulate
from streamlab.config import kafka_config, producer_config
from streamlab.grading import check, progress
from streamlab.notebook import create_topic, java_partition, read_topic, run_id, topic_count
from streamlab.notebook.windows import plot_scaling, settle_group

print("run id:", run_id())

# %% [markdown]
# ## 8.1 Consumers ≤ partitions
#
# Orders of six accounts on a topic with **three** partitions. The key is the account, so all
# orders of an account land on the same partition (Lab 01). Each order carries `seq`, its number
# within the account, and `n`, its number overall — the order in which we produced them.

# %%
orders_topic = f"orders-{run_id()}"
ACCOUNTS = [f"account_{i}" for i in range(1, 7)]
if create_topic(orders_topic, partitions=3):
    producer = Producer(producer_config())
    for n in range(30):
        account = ACCOUNTS[n % 6]
        order = {"account": account, "seq": n // 6, "n": n}
        producer.produce(orders_topic, key=account, value=json.dumps(order))
    producer.flush(10)
print(orders_topic, "holds", topic_count(orders_topic), "orders")
print({a: java_partition(a, 3) for a in ACCOUNTS})

# %% [markdown]
# ```text
# orders-1a2b3c holds 30 orders
# {'account_1': 0, 'account_2': 1, 'account_3': 1, 'account_4': 0, 'account_5': 2, 'account_6': 0}
# ```
#
# Now a consumer group with **four** members for those three partitions. `settle_group` polls
# every member in turn until the group's rebalance is over and prints who owns what:

# %%
group = f"order-processors-{run_id()}"
members = {}
for name in ["worker-a", "worker-b", "worker-c", "worker-d"]:
    members[name] = Consumer(kafka_config(**{
        "group.id": group,
        "client.id": name,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }))
    members[name].subscribe([orders_topic])

assignment = settle_group(members, partitions=3)
for name, partitions in assignment.items():
    print(f"{name}: {partitions or 'nothing - idle'}")


# %% [markdown]
# ```text
# worker-a: [0]
# worker-b: [1]
# worker-c: [2]
# worker-d: nothing - idle
# ```
#
# (Which worker is idle may vary: the range assignor sorts members by their member id, which the
# broker generates.) A partition is consumed by **one** member of a
# group at a time — that is how the group keeps each partition's order and its committed offset
# simple. So a fourth member for three partitions has nothing to do: it sits idle, a hot spare
# that takes over if another member leaves. To process faster with more consumers, a topic needs
# **more partitions**; partitions are the ceiling of a group's parallelism — and of ksqlDB's, and
# of a Lambda event source mapping's.
#
# Who gets what is decided by the group's **assignor**, run by the group leader (a client, not the
# broker). The default of librdkafka and of the Java client is the **range** assignor: it sorts the
# members (by member id) and the partitions, gives each member `partitions // members` consecutive
# partitions, and the first `partitions % members` members one more.
#
# ### Exercise `08-range-assign` (2 points)
#
# Write `range_assign(partitions, members)`: the range assignor for one topic. Return a list with
# one entry per member (in sorted member order), each the list of partition numbers that member
# gets. Members beyond the number of partitions get `[]`.
#
# Expected output of the cell:
#
# ```text
# [[0], [1], [2], []]
# [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 08-range-assign
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def range_assign(partitions: int, members: int) -> list[list[int]]:
    # BEGIN SOLUTION
    share, extra = divmod(partitions, members)
    out, start = [], 0
    for i in range(members):
        count = share + (1 if i < extra else 0)
        out.append(list(range(start, start + count)))
        start += count
    return out
    # END SOLUTION


print(range_assign(3, 4))
print(range_assign(10, 3))

# %% [raw]
# # BEGIN TESTS

# %%
got = range_assign(3, 4)
assert got == [[0], [1], [2], []], (
    f"range_assign(3, 4) gives {got!r}; expected [[0], [1], [2], []]: one partition each for the "
    "first three members, nothing for the fourth"
)

# %%
got = range_assign(10, 3)
assert got == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]], (
    f"range_assign(10, 3) gives {got!r}; expected [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]: "
    "10 // 3 = 3 consecutive partitions each, and the first 10 % 3 = 1 member one more"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG


assert range_assign(5, 1) == [[0, 1, 2, 3, 4]], "one member gets every partition"
assert range_assign(1, 3) == [[0], [], []], "one partition, three members: two idle"
assert range_assign(4, 2) == [[0, 1], [2, 3]], f"range_assign(4, 2) gives {range_assign(4, 2)!r}"
mine = sorted(len(p) for p in range_assign(3, len(assignment)))
seen = sorted(len(p) for p in assignment.values())
assert mine == seen, f"the group of 8.1 shares its partitions as {seen}; your function says {mine}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 8.2 Ordering: per partition, not across
#
# Read what the group got, member by member, in the order each one received the orders. (The
# polls of `settle_group` already fetched some; `seek` sends each member back to the start of its
# partitions.)

# %%
for member in members.values():
    for tp in member.assignment():
        member.seek(TopicPartition(orders_topic, tp.partition, OFFSET_BEGINNING))

received = {name: [] for name in members}
for _ in range(200):
    for name, member in members.items():
        msg = member.poll(0.05)
        if msg is not None and not msg.error():
            received[name].append(msg)
    if sum(len(r) for r in received.values()) >= 30:
        break
for name, msgs in received.items():
    if msgs:
        print(name, "partition", msgs[0].partition(), "n:", [json.loads(m.value())["n"] for m in msgs])


# %% [markdown]
# ```text
# worker-a partition 0 n: [0, 3, 5, 6, 9, 11, 12, 15, 17, 18, 21, 23, 24, 27, 29]
# worker-b partition 1 n: [1, 2, 7, 8, 13, 14, 19, 20, 25, 26]
# worker-c partition 2 n: [4, 10, 16, 22, 28]
# ```
#
# Within each partition the orders come in the order they were produced (`n` increases). Across
# partitions there is no order at all: three members read at their own pace, so order 2 may be
# handled after order 29 — or before order 0. That is fine when the order that matters is **per key** — the
# orders of one account — because a key always goes to the same partition. It is the reason the
# application keys `user_trades` by user and `trade-settlements` by symbol.
#
# ### Exercise `08-order` (2 points)
#
# Write `out_of_order_keys(records)`: `records` are dicts with `key` (bytes) and `value` (JSON
# bytes with a `seq` field), in the order a consumer received them. Return the sorted list of keys
# (as `str`) whose `seq` values are **not strictly increasing** in that order. For the records
# each worker received, the answer is `[]`.
#
# Expected output of the cell:
#
# ```text
# []
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 08-order
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def out_of_order_keys(records: list[dict]) -> list[str]:
    # BEGIN SOLUTION
    last: dict[str, int] = {}
    bad = set()
    for r in records:
        key = r["key"].decode()
        seq = json.loads(r["value"])["seq"]
        if key in last and seq <= last[key]:
            bad.add(key)
        last[key] = seq
    return sorted(bad)
    # END SOLUTION


everything = [{"key": m.key(), "value": m.value()} for msgs in received.values() for m in msgs]
out_of_order_keys(everything)

# %% [raw]
# # BEGIN TESTS

# %%
got = out_of_order_keys(everything)
assert got == [], (
    f"for the orders the group received, out_of_order_keys gives {got!r}; expected []: every "
    "account's seq increases within its partition"
)


# %%
def rec(key, seq):
    return {"key": key.encode(), "value": json.dumps({"seq": seq}).encode()}

got = out_of_order_keys([rec("A", 0), rec("B", 0), rec("B", 2), rec("A", 1), rec("B", 1)])
assert got == ["B"], (
    f"A: 0, 1 and B: 0, 2, 1 give {got!r}; expected ['B']: compare each record with the last seq "
    "of the same key, not with the record before it"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG


def rec(key, seq):
    return {"key": key.encode(), "value": json.dumps({"seq": seq}).encode()}

assert out_of_order_keys([]) == [], "no records: []"
got = out_of_order_keys([rec("C", 1), rec("C", 1)])
assert got == ["C"], f"a repeated seq (a duplicate) is not strictly increasing: expected ['C'], got {got!r}"
got = out_of_order_keys([rec("Z", 2), rec("Y", 1), rec("Z", 1), rec("Y", 0)])
assert got == ["Y", "Z"], f"return the keys sorted, as str: expected ['Y', 'Z'], got {got!r}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
for member in members.values():
    member.close()  # leave the group


# %% [markdown]
# ### Ordering under retries: idempotence
#
# Per-partition order has one more condition, on the **producer**. A producer keeps several
# batches in flight to a partition at once (`max.in.flight.requests.per.connection`: 5 by
# default in the Java client, far more in librdkafka). If batch 1 fails with a retriable error and batch 2 succeeds, the retry of batch 1
# lands **after** batch 2: the partition now holds the records out of order (and a retry after a
# lost acknowledgement writes duplicates). Two fixes:
#
# - `enable.idempotence=True` (the Java client's default since Kafka 3.0; **not** librdkafka's, so
#   not confluent-kafka's): the broker numbers each producer's batches per partition and rejects
#   a batch that arrives out of sequence, so retries keep order and write no duplicates, with up
#   to 5 requests in flight. It implies `acks=all`.
# - `max.in.flight.requests.per.connection=1`: one batch at a time — ordered, but slower, and it
#   does not prevent duplicates.
#
# For a stream where per-key order matters (a settlement must not overtake the trade it settles),
# produce with `producer_config(**{"enable.idempotence": True})`.
#
# ## 8.3 How a Lambda event source mapping scales
#
# The Lambda side of the application is fed by an **event source mapping** (Lab 05): pollers run
# by AWS that consume `user_trades` in a consumer group and invoke the function with batches of
# records. Its scaling, in on-demand mode, follows the same rule as any consumer group:
#
# - it starts small (the article saw **one** poller for all 1,000 partitions);
# - every **minute** it checks the group's **offset lag**; if the pollers fall behind it adds
#   pollers (the change takes effect within about 3 minutes); when the lag is gone it removes them;
# - **at most one poller per partition**, and each poller invokes **one function instance** at a
#   time — so records of a partition are handled in order, one batch after the other, and the
#   number of partitions caps the concurrency.
#
# So throughput is a product of three numbers. A poller hands a batch of up to `batch_size`
# records to its function, which takes `handler_seconds`; then the next batch.
#
# ### Exercise `08-throughput` (2 points)
#
# Write `throughput(pollers, partitions, batch_size, handler_seconds)`: the records per second an
# event source mapping handles while there is a backlog, when each batch is full. Only
# `min(pollers, partitions)` pollers can be busy.
#
# Expected output of the cell (the article's set-up: batch size 1, 5 s per invocation):
#
# ```text
# 1 poller: 0.2 records/s
# 500 pollers: 100.0 records/s
# 1000 pollers: 200.0 records/s
# 50 million records at 1,000 pollers: 69.4 hours
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 08-throughput
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def throughput(pollers: int, partitions: int, batch_size: int, handler_seconds: float) -> float:
    # BEGIN SOLUTION
    return min(pollers, partitions) * batch_size / handler_seconds
    # END SOLUTION


for n in (1, 500, 1000):
    print(f"{n} poller{'s' if n > 1 else ''}: {throughput(n, 1000, 1, 5.0)} records/s")
hours = 50_000_000 / throughput(1000, 1000, 1, 5.0) / 3600
print(f"50 million records at 1,000 pollers: {hours:.1f} hours")

# %% [raw]
# # BEGIN TESTS

# %%
got = [throughput(n, 1000, 1, 5.0) for n in (1, 500, 1000)]
assert got == [0.2, 100.0, 200.0], (
    f"with batch size 1 and 5 s per invocation, 1, 500 and 1000 pollers give {got}; expected "
    "[0.2, 100.0, 200.0]: each busy poller handles batch_size records every handler_seconds"
)

# %%
got = throughput(4000, 1000, 1, 5.0)
assert got == 200.0, (
    f"4000 pollers on 1000 partitions give {got}; expected 200.0: at most one poller per "
    "partition is busy - use min(pollers, partitions)"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG


assert throughput(10, 100, 100, 2.0) == 500.0, "batch size 100: each invocation handles 100 records"
assert throughput(3, 3, 10, 0.5) == 60.0, "handler_seconds may be below 1 s"
sim = simulate(10, 100_000, batch_size=5, handler_seconds=1.0, duration=600)  # still draining
late, before = sim.samples[-1], sim.samples[-2]
assert late.pollers == before.pollers == 10, "the replay should have reached 10 pollers"
rate = (late.done - before.done) / (late.t - before.t)
assert abs(throughput(late.pollers, 10, 5, 1.0) - rate) < 1e-6, (
    f"the simulator handled {rate} records/s with {late.pollers} pollers; your function says "
    f"{throughput(late.pollers, 10, 5, 1.0)}"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# A real handler does not sleep 5 s: it takes milliseconds, and batches hold up to 100 records
# (the default) — or thousands, with a batching window. The article chose batch size 1 and a 5 s
# wait **on purpose**, to force scaling with a modest number of records.
#
# ## 8.4 The 1,000-partition experiment, replayed
#
# The article's set-up: 1,000 partitions, 50,000 records on each (50 million), batch size 1, a
# handler that waits 5 s, and the limit on consumers raised to 1,000 (the soft limit was 100
# consumers, so 100 concurrent instances, raised on request). What it observed:
#
# - at first **one** consumer and one Lambda handled all 1,000 partitions: one record every 5 s;
# - the first rebalance came about **15 minutes** in, bringing **500** consumer/Lambda pairs;
# - more were added every 5–10 minutes until **1,000** pairs handled 1,000 records every 5 s;
# - capacity shrank again on its own once the surge was over.
#
# Replaying that for real takes days and 1,000 function instances. `streamlab.awslambda.scaling`
# replays it in **simulated time** instead: the same scaling rule as the lab's real pollers (one
# lag check per simulated minute; while the lag exceeds a batch per poller, double the pollers, up
# to one per partition; after two idle checks, halve them), with the partitions and the handler's
# 5 s modelled rather than run:

# %%
run = article_experiment()
print(f"1,000 pollers after {run.time_to_reach(1000) / 60:.0f} simulated minutes")
print(f"backlog drained after {run.drained_at / 3600:.1f} simulated hours")
print("\n".join(run.table().splitlines()[:6]))

# %% [markdown]
# ```text
# 1,000 pollers after 10 simulated minutes
# backlog drained after 69.6 simulated hours
#   minute  pollers          lag         done
#      0.0        1     50000000            0
#      1.0        2     49999988           12
#      2.0        4     49999964           36
#      3.0        8     49999916           84
#      4.0       16     49999820          180
# ```
#
# Sixty-nine hours: at 200 records/s, 50 million records take that long however fast the pollers
# come — your `throughput` said so. What the scaling rule decides is how the first minutes look.
# The simulator doubles the pollers every minute, so it reaches 1,000 in 10 minutes; AWS, in the
# article, waited 15 minutes and then jumped to 500 at once. Check the lag every 5 minutes and let
# each decision take effect 3 minutes later (AWS: "within 3 minutes") and the flat start
# stretches, closer to what the article saw; the dots are the article's observations:

# %%
first_hour = article_experiment(duration=3600)
slower = article_experiment(duration=3600, check_interval=300, effect_delay=180)
observed = [(0, 1), (15, 500)]  # what the article reports (then 5-10 minute steps to 1,000)
plot_scaling(first_hour, "1,000 partitions: lag checked every minute", observed)

# %%
plot_scaling(slower, "checked every 5 minutes, effective 3 minutes later", observed)

# %% [markdown]
# Either way the shape is the article's: a flat start with one poller, then steps up to the
# ceiling of one poller per partition — and in the first hour the backlog (orange, right axis)
# has hardly moved. Two lessons from it:
#
# 1. **Partitions cap the parallelism.** With 100 partitions the same backlog would never get
#    more than 100 instances; with 1,000 it gets 1,000 — if the account's concurrency allows it.
# 2. **Scaling is reactive and slow** compared with a burst: minutes pass before capacity arrives.
#    A backlog that must be handled within seconds needs capacity in advance (provisioned
#    pollers, more partitions, bigger batches).
#
# And when the surge is over, capacity goes away again — the other half of "serverless". A smaller
# replay shows the whole cycle (100 partitions, a backlog of 600 records each):

# %%
cycle = simulate(100, 600, batch_size=1, handler_seconds=5.0)
print(f"peak {cycle.max_pollers} pollers; drained after {cycle.drained_at / 60:.0f} min; "
      f"back to 1 poller after {cycle.samples[-1].t / 60:.0f} min")
plot_scaling(cycle, "100 partitions: scale out, drain, scale in")

# %% [markdown]
# ```text
# peak 100 pollers; drained after 56 min; back to 1 poller after 67 min
# ```
#
# To watch the lab's **real** pollers scale (real consumers, real function environments), run a
# mapping against a topic with a backlog and speed up its clock:
# `LambdaLab().set_time_scale(mapping_uuid, 60)` makes a lag check every real second, and
# `LambdaLab().scaling(mapping_uuid)` samples pollers and lag — Lab 05's function on a
# many-partition topic is enough.
#
# ### Validate this step
#
# Not graded: the group of 8.1 shared its three partitions one each, with one member idle, and
# every order was received once.

# %% [raw]
# # BEGIN QUESTION
# name: 08-validate-group
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
owned = sorted(p for parts in assignment.values() for p in parts)
idle = [name for name, parts in assignment.items() if not parts]
assert owned == [0, 1, 2] and len(idle) == 1, (
    f"the group's assignment was {assignment}: expected partitions 0, 1, 2 owned once each and "
    "one idle member - run 8.1 again (restart the kernel first)"
)
got = sorted(json.loads(m.value())["n"] for msgs in received.values() for m in msgs)
assert got == list(range(30)), (
    f"the group received {len(got)} orders; expected the 30 of 8.1, once each: run 8.2 again"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Recap
#
# - A partition is consumed by one member of a group at a time: **members beyond the number of
#   partitions sit idle**. Partitions are the ceiling of parallelism for consumer groups, ksqlDB
#   and Lambda event source mappings alike. The range assignor hands out consecutive partitions.
# - Kafka keeps order **within a partition**, so per key; never across partitions. Key by what
#   must stay in order.
# - Under retries, order also needs the producer: `enable.idempotence=True` (or one request in
#   flight).
# - A Kafka event source mapping checks the lag every minute and adds pollers, each with one
#   function instance, up to **one per partition**; throughput = busy pollers × batch size ÷
#   handler time.
# - The article's 1,000-partition run, replayed: one poller for minutes, then steps up to 1,000;
#   capacity comes reactively and goes away once the backlog is gone.
#
# Run `progress()` to see where you stand. **Next:** Lab 09 — the whole pipeline end to end, and
# how to run it for real.

# %%
progress()
