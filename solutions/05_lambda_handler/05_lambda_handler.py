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
# # Lab 05 — The Lambda handler and its event
#
# **Estimated time:** 45 minutes · **Previous:** [Lab 04 — The stream-table join](04_stream_table_join.ipynb) ·
# **Next:** [Lab 06 — Producer lifecycle and flush semantics](06_producer_lifecycle.ipynb)
#
# ksqlDB did the stateful part: every trade now carries its user's region (`USER_TRADES`). The
# article hands the rest — per-trade business logic, the kind that calls other services — to an
# **AWS Lambda** function, fed by a Kafka **event source mapping**: AWS polls the topic with a
# consumer group, packs records into an event, and invokes the function with it. Here the function
# *settles* each trade: it decides a disposition and produces a `TradeSettlement` (Protobuf) to a
# topic of settlements.
#
# In this lab you take that function apart. Everything runs on the lab's Lambda emulator, which
# runs functions in real execution environments (AWS's own runtime client, `awslambdaric`) and
# builds AWS's exact event.
#
# ### Objectives
#
# 1. Read the Kafka event AWS sends a function: the `records` map, base64 keys and values, headers
#    as signed bytes, records without a key, tombstones.
# 2. Decode it into records you can work with.
# 3. Write the settlement rules as a **pure function**, and build the `TradeSettlement` message.
# 4. Invoke the application's handler locally, then on the emulator — by hand and through an event
#    source mapping — and read its logs and its output.
#
# Three graded exercises (6 points) and one "validate this step" check.

# %% [markdown]
# ## 5.0 Setup
#
# `lambda_lab()` is a client for the lab's AWS endpoint (boto3 underneath: the same calls work
# against AWS). `use_project_code()` makes the application's function, `lambda_fn/`, importable.

# %%
import os

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # the same profile as in Lab 00

import base64
import json
import time

from confluent_kafka import Producer

from streamlab import datagen
from streamlab.config import producer_config
from streamlab.datagen.datasets import users_table
from streamlab.grading import check, progress
from streamlab.notebook import create_topic, read_topic, run_id
from streamlab.notebook.lambda_lab import (
    ECHO_SOURCE,
    RecordingProducer,
    delete_functions,
    delivered_events,
    deploy_settlement_function,
    deploy_source,
    kafka_event,
    lambda_lab,
    read_settlements,
    streamlab_lambda,
    use_project_code,
)

use_project_code()
from lambda_fn import settlement  # noqa: E402  (the application's rules)
from lambda_fn.proto import TradeSettlement  # noqa: E402

lab = lambda_lab()
lab.check()  # the AWS endpoint answers
RUN = run_id()
print("run id:", RUN, "- AWS endpoint", lab.url)

# %% [markdown]
# ## 5.1 Anatomy of the Kafka event
#
# The quickest way to see the event is to ask Lambda for one. Three records go to a fresh topic: a
# trade keyed by its user with a header, a record without a key, and a **tombstone** (a key with no
# value — "delete this key" in a compacted topic). Then a function that only prints its event
# (`ECHO_SOURCE`) is deployed and **mapped** to the topic:

# %%
print(ECHO_SOURCE)

# %%
echo_topic, echo = f"echo-{RUN}", f"echo-{RUN}"
if create_topic(echo_topic, partitions=1):
    producer = Producer(producer_config())
    producer.produce(echo_topic, key=b"User_3", value=b'{"SYMBOL":"ZVV","QUANTITY":10}',
                     headers=[("source", "café".encode())])
    producer.produce(echo_topic, value=b'{"SYMBOL":"ZBZX","QUANTITY":5}')  # no key
    producer.produce(echo_topic, key=b"User_3", value=None)  # a tombstone
    producer.flush(10)

deploy_source(echo, ECHO_SOURCE)
if not lab.mappings(echo):
    lab.map(echo, echo_topic, batch_size=10)  # AWS: create_event_source_mapping
EVENT = delivered_events(echo)[0]
print(json.dumps(EVENT, indent=1))

# %% [markdown]
# Expected (your bootstrap address, topic and timestamps differ):
#
# ```text
# {
#  "eventSource": "SelfManagedKafka",
#  "bootstrapServers": "127.0.0.1:9092",
#  "records": {
#   "echo-1a2b3c-0": [
#    {
#     "topic": "echo-1a2b3c",
#     "partition": 0,
#     "offset": 0,
#     "timestamp": 1767225600123,
#     "timestampType": "CREATE_TIME",
#     "key": "VXNlcl8z",
#     "value": "eyJTWU1CT0wiOiJaVlYiLCJRVUFOVElUWSI6MTB9",
#     "headers": [{"source": [99, 97, 102, -61, -87]}]
#    },
#    {"topic": "echo-1a2b3c", "partition": 0, "offset": 1, ..., "value": "eyJTWU1CT0wiOiJaQlpYIiwiUVVBTlRJVFkiOjV9", "headers": []},
#    {"topic": "echo-1a2b3c", "partition": 0, "offset": 2, ..., "key": "VXNlcl8z", "headers": []}
#   ]
#  }
# }
# ```
#
# What to notice, field by field:
#
# | field | what it is | trap |
# |---|---|---|
# | `eventSource` | `SelfManagedKafka` (MSK: `aws:kafka`, plus `eventSourceArn`) | old docs and libraries say `aws:SelfManagedKafka` |
# | `bootstrapServers` | one string, comma-separated | not a list |
# | `records` | a map from `"<topic>-<partition>"` to that partition's records, offsets ascending; one event can hold several partitions | topic names contain `-` too: read `topic` from the record, or split on the **last** `-` |
# | `key`, `value` | **base64** of the record's bytes | decode, then deserialise (JSON here) |
# | no `key` | a record produced without a key | `KeyError` if you index `record["key"]` |
# | no `value` | a tombstone | nothing to settle: skip it |
# | `headers` | a list of one-entry objects; each value is the header's bytes as **signed** numbers (the pollers are Java: bytes above 127 come out negative) | `bytes([-61])` raises: mask with `& 0xFF` |
# | `timestamp` | epoch **milliseconds** | |
#
# Decode the first record by hand:

# %%
first = EVENT["records"][f"{echo_topic}-0"][0]
print(base64.b64decode(first["key"]), json.loads(base64.b64decode(first["value"])))
print(bytes(v & 0xFF for v in first["headers"][0]["source"]).decode())

# %% [markdown]
# ```text
# b'User_3' {'SYMBOL': 'ZVV', 'QUANTITY': 10}
# café
# ```
#
# The mapping did what AWS does: a consumer group (named after the mapping's UUID) read the topic,
# and the offsets are committed only after the invocation succeeded. The echo function has done its
# job; stop its mapping so it stops polling:

# %%
for m in lab.mappings(echo):
    lab.client("lambda").delete_event_source_mapping(UUID=m["UUID"])
print(lab.mappings(echo))


# %% [markdown]
# ```text
# []
# ```
#
# ### Exercise `05-decode` (2 points)
#
# Write `decode_records(event)`: every record of the event, in the event's order (partition by
# partition, offsets ascending), as a dict
#
# ```python
# {"topic": str, "partition": int, "offset": int, "timestamp": int,
#  "key": str or None,        # the key's bytes decoded as UTF-8; None when there is no key
#  "value": dict or None,     # the value's bytes parsed as JSON; None for a tombstone
#  "headers": [(name, bytes), ...]}  # in order, duplicates kept
# ```
#
# Treat `"key": null` like a missing key, and `"value": null` like a missing value.
#
# Expected output of the cell:
#
# ```text
# ('User_3', {'SYMBOL': 'ZVV', 'QUANTITY': 10}, [('source', b'caf\xc3\xa9')])
# (None, {'SYMBOL': 'ZBZX', 'QUANTITY': 5}, [])
# ('User_3', None, [])
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 05-decode
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def decode_records(event: dict) -> list[dict]:
    # BEGIN SOLUTION
    out = []
    for batch in event["records"].values():
        for r in batch:
            key, value = r.get("key"), r.get("value")
            out.append(
                {
                    "topic": r["topic"],
                    "partition": r["partition"],
                    "offset": r["offset"],
                    "timestamp": r["timestamp"],
                    "key": base64.b64decode(key).decode() if key is not None else None,
                    "value": json.loads(base64.b64decode(value)) if value is not None else None,
                    "headers": [
                        (name, bytes(v & 0xFF for v in values))
                        for header in r.get("headers") or []
                        for name, values in header.items()
                    ],
                }
            )
    return out
    # END SOLUTION


for r in decode_records(EVENT):
    print((r["key"], r["value"], r["headers"]))

# %% [raw]
# # BEGIN TESTS

# %%
got = [(r["key"], r["value"]) for r in decode_records(EVENT)]
want = [("User_3", {"SYMBOL": "ZVV", "QUANTITY": 10}), (None, {"SYMBOL": "ZBZX", "QUANTITY": 5}),
        ("User_3", None)]
assert got == want, (
    f"decode_records(EVENT) gives (key, value) pairs {got}; expected {want}: base64-decode the key "
    "and value, key as UTF-8 text, value as JSON; a missing key or value is None"
)

# %%
got = decode_records(EVENT)[0]["headers"]
assert got == [("source", "café".encode())], (
    f"the first record's headers decode to {got!r}; expected [('source', b'caf\\xc3\\xa9')]: "
    "each header is {name: [signed bytes]}; bytes(v & 0xFF for v in values) turns -61 into 0xC3"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

event = kafka_event([
    {"topic": "user_trades-dlq", "partition": 3, "offset": 7, "timestamp": 5, "key": b"k",
     "value": b'{"a": 1}', "headers": [("h", b"1"), ("h", b"\xff")]},
    {"topic": "user_trades-dlq", "partition": 1, "offset": 9, "timestamp": 6, "key": None,
     "value": b"[]", "headers": []},
])
event["records"]["user_trades-dlq-1"][0]["key"] = None  # "key": null, as some fixtures have it
got = decode_records(event)
assert [(r["topic"], r["partition"], r["offset"]) for r in got] == [
    ("user_trades-dlq", 3, 7), ("user_trades-dlq", 1, 9)
], f"topic/partition/offset wrong for a topic with '-' in its name: {got}"
assert got[0]["headers"] == [("h", b"1"), ("h", b"\xff")], "keep every header, duplicates too"
assert got[1]["key"] is None and got[1]["value"] == [], '"key": null is no key'
assert got[0]["timestamp"] == 5

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 5.2 Settling a trade: the rules, and the message
#
# The function reads `user_trades` (Lab 04): the **key** is the user (`USERID` became the key in the
# join), the JSON value holds `REGIONID`, `QUANTITY`, `SYMBOL`, `PRICE` (in pennies), `ACCOUNT` and
# `SIDE`. For each trade it decides a **disposition**. The rules, checked in order, first match wins
# (`lambda_fn/settlement.py`, after the article's reference application):
#
# | # | when | disposition | reason |
# |---|---|---|---|
# | 1 | no user (no key, or an empty one) | `Rejected` | `No user account specified` |
# | 1b | the user is unknown: `REGIONID` is `NULL` (the LEFT JOIN found no user) | `Rejected` | `Unknown user account` |
# | 2 | the amount, quantity × price in **pennies**, is more than **$25,000** | `Pending` | `Large trade` |
# | 3 | a review draw in [0, 1) is below **0.30** | `SEC Flagged` | `This trade looks sus` |
# | 4 | otherwise | `Completed` | `Within same day limit` |
#
# The reference application had three pitfalls, fixed here: it compared quantity × price with
# 100,000 as if the price were in dollars (so about 90 % of trades were Pending); it could never
# reject a trade (every record has a key, and it ignored the `NULL` region); and its review draw was
# random — so when Lambda **retried** a batch, the same trade could get another disposition. The
# draw here is a hash of the record's position, the same on every retry:

# %%
print(settlement.review_draw("user_trades", 0, 42), settlement.review_draw("user_trades", 0, 42))
print(settlement.review_draw("user_trades", 0, 43))


# %% [markdown]
# ```text
# 0.4558725022640321 0.4558725022640321
# 0.7141095136870013
# ```
#
# ### Exercise `05-rules` (2 points)
#
# Write `disposition(user, regionid, quantity, price, draw)`: the rules above as a **pure
# function** — no clock, no randomness, no I/O; the same arguments always give the same answer.
# Return `(disposition, reason)`. `price` is in pennies; a trade of exactly $25,000 is not large.
#
# Expected output of the cell:
#
# ```text
# ('Rejected', 'No user account specified')
# ('Rejected', 'Unknown user account')
# ('Pending', 'Large trade')
# ('SEC Flagged', 'This trade looks sus')
# ('Completed', 'Within same day limit')
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 05-rules
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def disposition(user, regionid, quantity: int, price: int, draw: float) -> tuple[str, str]:
    # BEGIN SOLUTION
    if not user:
        return "Rejected", "No user account specified"
    if regionid is None:
        return "Rejected", "Unknown user account"
    if quantity * price > 25_000_00:
        return "Pending", "Large trade"
    if draw < 0.30:
        return "SEC Flagged", "This trade looks sus"
    return "Completed", "Within same day limit"
    # END SOLUTION


for args in [(None, "Region_1", 10, 500, 0.9), ("User_9", None, 10, 500, 0.9),
             ("User_1", "Region_5", 4000, 900, 0.9), ("User_1", "Region_5", 10, 500, 0.1),
             ("User_1", "Region_5", 10, 500, 0.9)]:
    print(disposition(*args))

# %% [raw]
# # BEGIN TESTS

# %%
cases = {
    ("", "Region_1", 10, 500, 0.9): ("Rejected", "No user account specified"),
    ("User_9", None, 10, 500, 0.9): ("Rejected", "Unknown user account"),
    ("User_1", "Region_5", 2500, 1000, 0.9): ("Completed", "Within same day limit"),
    ("User_1", "Region_5", 2501, 1000, 0.9): ("Pending", "Large trade"),
    ("User_1", "Region_5", 10, 500, 0.2999): ("SEC Flagged", "This trade looks sus"),
    ("User_1", "Region_5", 10, 500, 0.30): ("Completed", "Within same day limit"),
}
for args, want in cases.items():
    got = disposition(*args)
    assert got == want, (
        f"disposition{args} gives {got!r}; expected {want!r} - price is in pennies, so "
        "$25,000 is 2,500,000 (quantity x price must be MORE than that), an empty user is no "
        "user, and the draw flags when it is below 0.30"
    )

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

from lambda_fn.records import Trade

for i, (key, v) in enumerate(datagen.generate("stock_trades", seed=11, count=400)):
    user = None if i % 37 == 0 else v["userid"]
    region = None if i % 11 == 0 else "Region_1"
    draw = settlement.review_draw("user_trades", i % 3, i)
    want = settlement.decide(
        Trade(user, region, v["quantity"], v["price"], v["symbol"], None, None), draw
    )
    got = disposition(user, region, v["quantity"], v["price"], draw)
    assert got == (want.disposition, want.reason), (
        f"for {v} (user {user}, region {region}, draw {draw:.3f}) you give {got}, the rules give "
        f"{(want.disposition, want.reason)}: check the order of the rules (first match wins)"
    )

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

args = ("User_1", "Region_5", 4999, 999, 0.01)
assert disposition(*args) == disposition(*args) == ("Pending", "Large trade"), (
    "a large trade is Pending even when the draw would flag it: the rules are checked in order"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The function writes each decision as a **`TradeSettlement`**, a Protobuf message
# (`lambda_fn/proto/trade_settlement.proto`; the reference application's six fields):

# %%
proto = open(os.path.join(use_project_code(), "lambda_fn/proto/trade_settlement.proto")).read()
print(proto[proto.index("message TradeSettlement"):])
msg = TradeSettlement(user="User_3", symbol="ZVV", amount=1234.5, disposition="Completed",
                      reason="Within same day limit", timestamp=1767225600123)
data = msg.SerializeToString()
as_json = json.dumps({"user": "User_3", "symbol": "ZVV", "amount": 1234.5,
                      "disposition": "Completed", "reason": "Within same day limit",
                      "timestamp": 1767225600123})
print(len(data), "bytes as Protobuf,", len(as_json), "as JSON")
print(TradeSettlement.FromString(data).disposition)

# %% [markdown]
# ```text
# message TradeSettlement {
#   string user = 1;
#   ...
#   int64 timestamp = 6;
# }
# 63 bytes as Protobuf, 144 as JSON
# Completed
# ```
#
# Protobuf writes field *numbers*, not names, and integers in a compact variable-length form: the
# message is less than half the size of the same JSON, and a reader needs the schema to make sense
# of it. On the topic, the registry's serializer puts a small header in front (a magic byte, the
# schema id, the message index), so ksqlDB's `TRADE_SETTLEMENT` stream can find the schema.
#
# ## 5.3 The handler, locally
#
# A Lambda handler is a function `handler(event, context)`. Before anything is deployed, call it
# like any function: give it an event, look at what comes out. Build an event from trades shaped as
# Lab 04's `USER_TRADES` wrote them (key = user, JSON value), with `kafka_event()` — the same shape
# as the emulator's:

# %%
user_trades_topic = f"user_trades-{RUN}"
regions = {k: v["regionid"] for k, v in users_table(seed=4, users=8)}  # User_9 is unknown
TRADES = []
for i, (_, v) in enumerate(datagen.generate("stock_trades", seed=4, count=50)):
    row = {"REGIONID": regions.get(v["userid"]), "QUANTITY": v["quantity"], "SYMBOL": v["symbol"],
           "PRICE": v["price"], "ACCOUNT": v["account"], "SIDE": v["side"]}
    TRADES.append((v["userid"].encode(), json.dumps(row, separators=(",", ":")).encode()))

if create_topic(user_trades_topic, partitions=2):
    producer = Producer(producer_config())
    for key, value in TRADES:
        producer.produce(user_trades_topic, key=key, value=value)
    producer.flush(10)
RECORDS = read_topic(user_trades_topic)
SAMPLE = kafka_event([{"topic": user_trades_topic, **r} for r in RECORDS[:5]])
print(len(RECORDS), "records;", "the sample event holds", list(SAMPLE["records"]))


# %% [markdown]
# ```text
# 50 records; the sample event holds ['user_trades-1a2b3c-0']
# ```
#
# ### Exercise `05-settle` (2 points)
#
# Write `settle(event)`: one `TradeSettlement` per record of the event that has a value (skip
# tombstones), in the event's order, using your `decode_records` and `disposition`:
#
# - `user` = the record key (or `""` when there is none), `symbol` = the trade's `SYMBOL`;
# - `amount` = quantity × price in **dollars** (price is in pennies);
# - `disposition` and `reason` from your rules, with the draw
#   `settlement.review_draw(topic, partition, offset)` of the record;
# - `timestamp` = the record's timestamp — the trade's time, not the time the function runs, so a
#   retried batch settles every trade exactly as the first time.
#
# Expected output of the cell (the first sample trades):
#
# ```text
# User_4 ZJZZT 32805.52 Pending
# User_9 ZXZZT 15293.47 Rejected
# User_4 ZVZZT 16863.0 Completed
# User_7 ZXZZT 6450.21 Completed
# User_2 ZJZZT 35047.02 Pending
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 05-settle
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def settle(event: dict) -> list:
    # BEGIN SOLUTION
    out = []
    for r in decode_records(event):
        if r["value"] is None:
            continue
        trade = r["value"]
        draw = settlement.review_draw(r["topic"], r["partition"], r["offset"])
        decided, reason = disposition(
            r["key"], trade.get("REGIONID"), trade["QUANTITY"], trade["PRICE"], draw
        )
        out.append(
            TradeSettlement(
                user=r["key"] or "",
                symbol=trade["SYMBOL"],
                amount=trade["QUANTITY"] * trade["PRICE"] / 100,
                disposition=decided,
                reason=reason,
                timestamp=r["timestamp"],
            )
        )
    return out
    # END SOLUTION


for s in settle(SAMPLE):
    print(s.user, s.symbol, s.amount, s.disposition)

# %% [markdown]
# The checks compare your settlements with what the application's own code does with the same
# event: `lambda_fn.app.SettlementApp`, given a `RecordingProducer` (a stand-in that records what
# would have been produced) instead of a Kafka producer.

# %% [raw]
# # BEGIN TESTS

# %%
from lambda_fn.app import SettlementApp
from lambda_fn.config import Settings

def reference(event):
    fake = RecordingProducer()
    app = SettlementApp(fake, lambda m: m.SerializeToString(), Settings("unused", "us-east-1"))
    app.handle(event)
    return [TradeSettlement.FromString(p["value"]) for p in fake.produced]

got, want = settle(SAMPLE), reference(SAMPLE)
assert [s.SerializeToString() for s in got] == [s.SerializeToString() for s in want], (
    f"settle(SAMPLE) gives {[(s.user, s.symbol, s.amount, s.disposition) for s in got]}; the "
    f"application gives {[(s.user, s.symbol, s.amount, s.disposition) for s in want]} - user from "
    "the key, amount in dollars (price / 100), the draw of each record's topic/partition/offset, "
    "timestamp = the record's timestamp"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

from lambda_fn.app import SettlementApp
from lambda_fn.config import Settings

event = kafka_event([{"topic": user_trades_topic, **r} for r in RECORDS])
event["records"][f"{user_trades_topic}-0"].append(
    {"topic": user_trades_topic, "partition": 0, "offset": 999, "timestamp": 1, "key": "VXNlcl8x",
     "timestampType": "CREATE_TIME", "headers": []}
)  # a tombstone
fake = RecordingProducer()
SettlementApp(fake, lambda m: m.SerializeToString(), Settings("unused", "us-east-1")).handle(event)
want = [p["value"] for p in fake.produced]
got = [s.SerializeToString() for s in settle(event)]
assert len(got) == 50, f"50 trades and a tombstone: expected 50 settlements, got {len(got)}"
assert got == want, "for all 50 records, your settlements differ from the application's"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The application's handler (`lambda_fn/handler.py` → `lambda_fn/app.py`) does what `settle` does,
# plus the parts that make it production code: it produces each settlement keyed by symbol with a
# `source` header (`topic-partition@offset`), flushes once at the end of the batch and fails the
# invocation if any delivery failed (Lab 06), and sends records it can never settle (not JSON, no
# `SYMBOL`) to a dead-letter topic instead of blocking the partition. Locally, with the recording
# producer, it returns a summary:

# %%
from lambda_fn.app import SettlementApp  # noqa: E402
from lambda_fn.config import Settings  # noqa: E402

fake = RecordingProducer()
app = SettlementApp(fake, lambda m: m.SerializeToString(), Settings("unused", "us-east-1"))
print(app.handle(SAMPLE))
print(fake.calls)

# %% [markdown]
# ```text
# {'records': 5, 'settled': 5, 'dead_lettered': 0, 'tombstones': 0, 'dispositions': {'Pending': 2, 'Rejected': 1, 'Completed': 2}}
# ['produce', 'poll', 'produce', 'poll', 'produce', 'poll', 'produce', 'poll', 'produce', 'poll', 'flush']
# ```
#
# ## 5.4 On the Lambda emulator
#
# Now the real thing. `deploy_settlement_function()` does what `aws-cli/aws-create-all.sh` did for
# the reference application, through the same AWS APIs: a Secrets Manager secret with the Kafka and
# Schema Registry addresses, then `create_function` with the code zip (`lambda_fn/`), handler
# `lambda_fn.handler.handler`, and environment variables naming the secret and the output topic.

# %%
settle_fn, settlements_topic = f"settle-{RUN}", f"settlements-{RUN}"
create_topic(settlements_topic, partitions=3)
config = deploy_settlement_function(settle_fn, settlements_topic)
print(config["FunctionName"], config["State"], config["Handler"], config["Runtime"])

# %% [markdown]
# ```text
# settle-1a2b3c Active lambda_fn.handler.handler python3.12
# ```
#
# Invoke it synchronously with the sample event, as `aws lambda invoke` would, and ask for the tail
# of its log:

# %%
answer = lab.invoke(settle_fn, SAMPLE, tail=True)
print(answer["StatusCode"], answer["FunctionError"], answer["Payload"])
print(answer["Log"])

# %% [markdown]
# ```text
# 200 None {'records': 5, 'settled': 5, 'dead_lettered': 0, 'tombstones': 0, 'dispositions': {'Pending': 2, 'Rejected': 1, 'Completed': 2}}
# INIT_START Runtime Version: python:3.12.v1 ...
# [INFO]  2026-...Z        producer ready: bootstrap=127.0.0.1:9092 topic=settlements-1a2b3c
# START RequestId: ... Version: $LATEST
# [INFO]  2026-...Z  ...   flushed in 0.008 s
# [INFO]  2026-...Z  ...   batch done: {...}
# END RequestId: ...
# REPORT RequestId: ...  Duration: 244.03 ms  Billed Duration: 1154 ms  Memory Size: 512 MB  Max Memory Used: 81 MB  Init Duration: 909.94 ms
# ```
#
# The first invocation was a **cold start**: `INIT_START` and `Init Duration` — the module-level
# code ran (the secret was read, the producer created: "producer ready"), then the handler. Invoke
# again and there is no init: the environment was kept, frozen, and thawed for the next event.
#
# Then the way the article runs it: an **event source mapping** on the topic. AWS (here, the
# emulator) polls `user_trades` in batches and invokes the function with each batch; the function
# never sees Kafka's consumer API.

# %%
if not lab.mappings(settle_fn):
    lab.map(settle_fn, user_trades_topic, batch_size=20)
deadline = time.monotonic() + 30
while time.monotonic() < deadline and len(read_settlements(settlements_topic)) < 5 + len(TRADES):
    time.sleep(0.5)
for m in lab.mappings(settle_fn):
    print(m["State"], "batch size", m["BatchSize"], "- invocations", m["Invocations"],
          "- records", m["RecordsDelivered"])
SETTLEMENTS = read_settlements(settlements_topic)
print(len(SETTLEMENTS), "settlements, e.g.", SETTLEMENTS[-1])

# %% [markdown]
# ```text
# Enabled batch size 20 - invocations 3 - records 50
# 55 settlements, e.g. {'user': 'User_4', 'symbol': 'ZVZZT', 'amount': 19504.59, 'disposition': 'Completed', 'reason': 'Within same day limit', 'timestamp': 1767225600456, 'source': 'user_trades-1a2b3c-0@30'}
# ```
#
# 55, not 50: the five sample trades were settled twice — once by your synchronous invocation,
# once through the mapping. That is **at-least-once** delivery in miniature (Lambda retries a
# failed batch the same way). The duplicates are identical — deterministic rules, the trade's own
# timestamp — and the `source` header says which trade each came from, so a consumer can drop them.
#
# The same views from a terminal are `streamlab lambda ...` (`functions`, `environments`,
# `mappings`, `logs`, `metrics`); in a notebook:

# %%
streamlab_lambda("environments", settle_fn)
streamlab_lambda("logs", settle_fn, "-n", "4");

# %% [markdown]
# Expected: one execution environment, frozen between invocations, and the last log lines — one
# `batch done` per invocation of the mapping:
#
# ```text
# ID        FUNCTION       STATE  FROZEN  PID   INVOCATIONS  INIT MS  MAX MB  IDLE S
# fdcd1207  settle-1a2b3c  idle   True    1716  4            909.9    81      1.588
# ... [INFO] ... batch done: {'records': 20, 'settled': 20, ...}
# ... END RequestId: ...
# ... REPORT RequestId: ... Duration: ... ms ...
# ```
#
# ### Validate this step
#
# Not graded: every trade of `user_trades` has a settlement, with the disposition the rules give.

# %% [raw]
# # BEGIN QUESTION
# name: 05-validate-emulator
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
by_source = {s["source"]: s for s in read_settlements(settlements_topic)}
def where(r):
    return f"{user_trades_topic}-{r['partition']}@{r['offset']}"


missing = [r for r in RECORDS if where(r) not in by_source]
assert not missing, (
    f"{len(missing)} of {len(RECORDS)} trades have no settlement in {settlements_topic}: run 5.4 "
    "(deploy, invoke, map) again; `streamlab lambda logs settle-<run>` shows errors"
)
for r in RECORDS:
    s, v = by_source[where(r)], json.loads(r["value"])
    trade = settlement.Trade(
        r["key"].decode(), v["REGIONID"], v["QUANTITY"], v["PRICE"], v["SYMBOL"], None, None
    )
    want = settlement.decide(
        trade,
        settlement.review_draw(user_trades_topic, r["partition"], r["offset"]),
    )
    assert s["disposition"] == want.disposition, f"{s} should be {want.disposition}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Clean up: delete this lab's functions (their mappings and environments go with them; the topics
# stay).

# %%
delete_functions(f"echo-{RUN}") + delete_functions(f"settle-{RUN}")

# %% [markdown]
# ## Recap
#
# - A Kafka **event source mapping** polls a topic with a consumer group and invokes the function
#   with batches; offsets are committed after the function succeeds.
# - The event: `records` maps `"topic-partition"` to records; **key and value are base64**; a
#   record may have **no key**, a tombstone **no value**; **header values are signed bytes**.
#   Decode defensively.
# - Keep business rules a **pure function** of the record: easy to test, and a retried batch gets
#   exactly the same answers (no `random`, no clock).
# - Test the handler **locally** first (an event and a stand-in producer); then deploy it and invoke
#   it, and read the **cold start** in the log: the module-level code runs once per environment.
# - Delivery is **at-least-once**: the same trade can be settled twice; make the output identical
#   and identifiable (the `source` header) so duplicates are harmless.
#
# Run `progress()` to see where you stand. **Next:** [Lab 06 — producer lifecycle and flush
# semantics](06_producer_lifecycle.ipynb): why the producer is created at module level, and why the
# handler flushes exactly once.

# %%
progress()
