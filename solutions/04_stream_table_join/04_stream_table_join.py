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
# # Lab 04 — The stream-table join
#
# **Estimated time:** 40 minutes · **Previous:** [Lab 03 — Stateful processing](03_stateful_processing.ipynb) ·
# **Next:** [Lab 05 — The Lambda handler](05_lambda_handler.ipynb)
#
# A trade says *who* traded (`userid`) but not *where* that user is registered. The users' details
# live elsewhere: in a table that changes slowly. **Enrichment** — adding the table's columns to each
# event — is the second stateful example of the article, and the first step of its application:
# `USER_TRADES` is the `STOCKTRADE` stream joined with the `USERS` table. Everything the Lambda
# function of Lab 05 settles comes out of this join.
#
# ### Objectives
#
# 1. Join a stream with a table by hand, and say what "the table *as of* the event" means.
# 2. Build the application's `USER_TRADES` stream in ksqlDB: `STOCKTRADE LEFT JOIN USERS`.
# 3. Explain the `NULL`s of a left join, and what happens to the trades of a user who registers late.
# 4. Explain **co-partitioning**: why both sides of a join must be keyed and partitioned alike, what
#    ksqlDB does when the stream is keyed by something else, and what it refuses to do.
#
# Four graded exercises (8 points) and one "validate this step" check.

# %% [markdown]
# ## 4.0 Setup
#
# As in Labs 02 and 03: imports, the ksqlDB client, this session's run id (every topic, stream and
# table below carries it, so the lab can run again after *Restart Kernel*).

# %%
import os

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # the same profile as in Lab 00

import json
import time
import zlib

from confluent_kafka import Producer

from streamlab import datagen
from streamlab.datagen.datasets import users_table
from streamlab.config import producer_config
from streamlab.grading import check, progress
from streamlab.ksql.client import KsqlError
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
    topic_partitions,
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
# ## 4.1 The data: trades and users
#
# Two of Confluent's Datagen quickstarts, exactly as the article's application uses them:
#
# - `STOCK_TRADES`: `side`, `quantity`, `symbol`, `price` (in pennies), `account`, `userid`. The
#   connector **keys each trade by `symbol`**.
# - `USERS`: `registertime`, `userid`, `regionid`, `gender`, **keyed by `userid`**.
#
# Users first: eight of the nine users (`User_9` has not registered yet — remember that), then 100
# trades. Both topics get 3 partitions; a second users topic with **2** partitions (all nine users)
# is for 4.5.

# %%
users_topic, trades_topic = f"users-{run_id()}", f"stocktrade-{run_id()}"
users2_topic = f"users-2p-{run_id()}"
USERS = users_table(seed=4, users=8)  # User_1 .. User_8
TRADES = list(datagen.generate("stock_trades", seed=4, count=100))
if create_topic(users_topic, partitions=3):
    produce_dataset(users_topic, USERS)
if create_topic(users2_topic, partitions=2):
    produce_dataset(users2_topic, users_table(seed=4, users=9))
if create_topic(trades_topic, partitions=3):
    produce_dataset(trades_topic, TRADES)

print(users_topic, topic_count(users_topic), "users;",
      trades_topic, topic_count(trades_topic), "trades")
for key, value in USERS[:2] + TRADES[:2]:
    print(key, value)


# %% [markdown]
# Expected output (your topic names end with your own run id):
#
# ```text
# users-1a2b3c 8 users; stocktrade-1a2b3c 100 trades
# User_1 {'registertime': 1500321300007, 'userid': 'User_1', 'regionid': 'Region_5', 'gender': 'FEMALE'}
# User_2 {'registertime': 1514983578227, 'userid': 'User_2', 'regionid': 'Region_8', 'gender': 'MALE'}
# ZJZZT {'side': 'SELL', 'quantity': 3389, 'symbol': 'ZJZZT', 'price': 968, 'account': 'ABC123', 'userid': 'User_4'}
# ZXZZT {'side': 'SELL', 'quantity': 2579, 'symbol': 'ZXZZT', 'price': 593, 'account': 'ABC123', 'userid': 'User_9'}
# ```
#
# Note the keys: a trade's key is its symbol, not its user.
#
# ## 4.2 The join by hand
#
# A **stream-table join** reads the stream, and for each event looks up the table **at that
# moment**. The table is state (Lab 03): one row per key, the latest value, updated by every record
# of the table's topic. The join itself stores nothing about the stream side — an event is looked
# up once, when it passes, and never again.
#
# So the order of arrival matters. Here is a small history where the two topics interleave:

# %%
def user(userid: str, regionid: str) -> dict:
    return {"registertime": 1500000000000, "userid": userid, "regionid": regionid,
            "gender": "OTHER"}


def trade(symbol: str, userid: str, quantity: int = 100, price: int = 500) -> dict:
    return {"side": "BUY", "quantity": quantity, "symbol": symbol, "price": price,
            "account": "ABC123", "userid": userid}


ARRIVALS = [  # (which topic, key, value) in the order the join reads them
    ("users", "User_1", user("User_1", "Region_5")),
    ("trades", "ZVV", trade("ZVV", "User_1")),
    ("trades", "ZBZX", trade("ZBZX", "User_2")),  # User_2 is not in the table yet
    ("users", "User_2", user("User_2", "Region_8")),
    ("trades", "ZVV", trade("ZVV", "User_2", quantity=7)),
    ("users", "User_1", user("User_1", "Region_7")),  # User_1 moves
    ("trades", "ZJZZT", trade("ZJZZT", "User_1")),
]


# %% [markdown]
# ### Exercise `04-join-by-hand` (2 points)
#
# Write `join_by_hand(arrivals)`: go through the arrivals in order, keep the users table in a `dict`
# (the latest value per key; a `None` value — a *tombstone* — deletes the key), and for each trade
# return one joined row, as the application's `USER_TRADES` has them:
#
# ```python
# {"USERID": ..., "REGIONID": ..., "QUANTITY": ..., "SYMBOL": ..., "PRICE": ..., "ACCOUNT": ..., "SIDE": ...}
# ```
#
# `USERID` is the trade's `userid` **field** (its key is the symbol!); `REGIONID` is the user's
# `regionid` in the table at that moment, or `None` when the user is not in the table (a **left**
# join keeps such trades). Users records produce no rows.
#
# Expected output of the cell:
#
# ```text
# [('User_1', 'Region_5'), ('User_2', None), ('User_2', 'Region_8'), ('User_1', 'Region_7')]
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 04-join-by-hand
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def join_by_hand(arrivals: list[tuple]) -> list[dict]:
    # BEGIN SOLUTION
    table: dict[str, dict] = {}
    rows = []
    for source, key, value in arrivals:
        if source == "users":
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
            continue
        found = table.get(value["userid"])
        rows.append(
            {
                "USERID": value["userid"],
                "REGIONID": found["regionid"] if found else None,
                "QUANTITY": value["quantity"],
                "SYMBOL": value["symbol"],
                "PRICE": value["price"],
                "ACCOUNT": value["account"],
                "SIDE": value["side"],
            }
        )
    return rows
    # END SOLUTION


print([(row["USERID"], row["REGIONID"]) for row in join_by_hand(ARRIVALS)])

# %% [raw]
# # BEGIN TESTS

# %%
got = [(r["USERID"], r["REGIONID"]) for r in join_by_hand(ARRIVALS)]
want = [("User_1", "Region_5"), ("User_2", None), ("User_2", "Region_8"), ("User_1", "Region_7")]
assert got == want, (
    f"join_by_hand(ARRIVALS) gives {got}; expected User_1/Region_5, User_2/None, User_2/Region_8, "
    "User_1/Region_7: one row per trade, USERID from the trade's userid field, REGIONID from the "
    "users table as it is when the trade arrives (None when the user is not in it yet)"
)

# %%
row = join_by_hand(ARRIVALS)[2]
want = {"USERID": "User_2", "REGIONID": "Region_8", "QUANTITY": 7, "SYMBOL": "ZVV", "PRICE": 500,
        "ACCOUNT": "ABC123", "SIDE": "BUY"}
assert row == want, (
    f"the third row is {row}; expected {want}: the seven columns of USER_TRADES, copied from the "
    "trade, plus REGIONID from the table"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

gone = [("users", "User_3", user("User_3", "Region_1")), ("users", "User_3", None),
        ("trades", "ZVV", trade("ZVV", "User_3"))]
got = [r["REGIONID"] for r in join_by_hand(gone)]
assert got == [None], f"a tombstone (value None) deletes the user from the table; got {got}"

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

assert join_by_hand([("users", "User_1", user("User_1", "Region_1"))]) == [], (
    "a users record updates the table and produces no row"
)
first = join_by_hand(ARRIVALS)
assert join_by_hand(ARRIVALS) == first, "start from an empty table on every call"
got = join_by_hand([("trades", "ZVV", trade("ZVV", "User_4"))])
assert got and got[0]["USERID"] == "User_4", (
    "USERID comes from the trade's userid field, not from its key (the symbol)"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Four trades in, four rows out: a left join never drops a trade. The second row has no region —
# `User_2` registered *after* that trade — and that row is never corrected: the join does not go
# back to earlier events when the table changes. The last row shows the other side of the same
# rule: `User_1`'s earlier trade keeps `Region_5`, the later one gets `Region_7`. Each trade is
# enriched with the table **as of the moment it was processed**.
#
# ## 4.3 The same join in ksqlDB
#
# The application's SQL is in `ksql/01_stocktrade.sql`, `ksql/02_users.sql` and
# `ksql/03_user_trades.sql`. The first two, in this run's names: a stream over the trades (no key
# column: the symbol key is not needed) and a **table** over the users, whose `PRIMARY KEY` is the
# record key.

# %%
stocktrade, users = f"STOCKTRADE_{RUN}", f"USERS_{RUN}"
ksql.execute(f"""
    CREATE STREAM IF NOT EXISTS {stocktrade} (
        SIDE VARCHAR, QUANTITY INT, SYMBOL VARCHAR, PRICE INT, ACCOUNT VARCHAR, USERID VARCHAR
    ) WITH (KAFKA_TOPIC='{trades_topic}', VALUE_FORMAT='JSON');
    CREATE TABLE IF NOT EXISTS {users} (
        USERID VARCHAR PRIMARY KEY, REGISTERTIME BIGINT, REGIONID VARCHAR
    ) WITH (KAFKA_TOPIC='{users_topic}', VALUE_FORMAT='JSON');
""")
ksql_show(f"SELECT USERID, REGIONID FROM {users} EMIT CHANGES LIMIT 8;")

# %% [markdown]
# Expected: the eight users and their regions (in the order the partitions are read):
#
# ```text
# USERID | REGIONID
# User_6 | Region_2
# User_8 | Region_9
# User_1 | Region_5
# ...
# ```
#
# ### Exercise `04-user-trades` (2 points)
#
# Create the stream named in `user_trades`, writing to the topic named in `user_trades_topic` with
# `VALUE_FORMAT='JSON'`: each trade of `stocktrade` (alias `S`) **LEFT JOIN**ed with `users` (alias
# `U`) on the user id, selecting `S.USERID AS USERID`, `U.REGIONID AS REGIONID`, then `QUANTITY`,
# `SYMBOL`, `PRICE`, `ACCOUNT` and `SIDE` from the trade. Start it from the earliest records.
#
# *Hint:* `ksql/03_user_trades.sql` is the statement; change the names and the topic, and pass
# `EARLIEST`. Made a mistake? `DROP STREAM {user_trades} DELETE TOPIC;` and run the cell again.
#
# Expected: `check("04-user-trades")` passes, and the push query shows joined rows such as
#
# ```text
# USERID | REGIONID | QUANTITY | SYMBOL | PRICE | ACCOUNT | SIDE
# User_6 | Region_2 | 148      | ZJZZT  | 550   | LMN456  | BUY
# User_6 | Region_2 | 2405     | ZBZX   | 631   | ABC123  | SELL
# User_6 | Region_2 | 1306     | ZVV    | 588   | XYZ789  | BUY
# User_8 | Region_9 | 1621     | ZWZZT  | 338   | ABC123  | SELL
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 04-user-trades
# points: 2
# stub_feedback: "does not exist yet"

# %%
user_trades, user_trades_topic = f"USER_TRADES_{RUN}", f"user_trades-{run_id()}"
# BEGIN SOLUTION
ksql.execute(f"""
    CREATE STREAM {user_trades}
        WITH (KAFKA_TOPIC='{user_trades_topic}', VALUE_FORMAT='JSON') AS
        SELECT
            S.USERID AS USERID,
            U.REGIONID AS REGIONID,
            S.QUANTITY AS QUANTITY,
            S.SYMBOL AS SYMBOL,
            S.PRICE AS PRICE,
            S.ACCOUNT AS ACCOUNT,
            S.SIDE AS SIDE
        FROM {stocktrade} S
        LEFT JOIN {users} U ON S.USERID = U.USERID
        EMIT CHANGES;
""", EARLIEST)
# END SOLUTION
wait_for_count(user_trades_topic, len(TRADES))
ksql_show(f"SELECT * FROM {user_trades} EMIT CHANGES LIMIT 4;")

# %% [raw]
# # BEGIN TESTS

# %%
streams = {s["name"] for s in ksql.execute("SHOW STREAMS;")[0]["streams"]}
assert user_trades in streams, (
    f"the stream {user_trades} does not exist yet: CREATE STREAM {user_trades} WITH "
    f"(KAFKA_TOPIC='{user_trades_topic}', VALUE_FORMAT='JSON') AS SELECT ... FROM {stocktrade} S "
    f"LEFT JOIN {users} U ON S.USERID = U.USERID EMIT CHANGES; run with ksql.execute(sql, EARLIEST)"
)

# %%
streams = {s["name"] for s in ksql.execute("SHOW STREAMS;")[0]["streams"]}
assert user_trades in streams, f"the stream {user_trades} does not exist yet"
more = MORE_TRADES if "MORE_TRADES" in globals() else []
total = wait_for_count(user_trades_topic, len(TRADES) + len(more), timeout=15)
assert total == len(TRADES) + len(more), (
    f"{user_trades_topic} holds {total} records, there are {len(TRADES) + len(more)} trades: a "
    "LEFT JOIN keeps every trade (an inner JOIN drops those without a user); run it with EARLIEST, "
    f"and check that it writes to KAFKA_TOPIC='{user_trades_topic}'"
)
rows = read_topic(user_trades_topic)
nulls = sorted({r["key"] for r in rows if json.loads(r["value"]).get("REGIONID") is None})
assert nulls == [b"User_9"], (
    f"REGIONID is NULL for the keys {nulls}; expected only User_9's trades (not registered): "
    "select U.REGIONID AS REGIONID, join ON S.USERID = U.USERID"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

[described] = ksql.execute(f"DESCRIBE {user_trades};")
fields = [(f["name"], f.get("type")) for f in described["sourceDescription"]["fields"]]
assert fields[0] == ("USERID", "KEY"), f"USERID must be the key of {user_trades}: {fields}"
names = [n for n, _ in fields]
assert names == ["USERID", "REGIONID", "QUANTITY", "SYMBOL", "PRICE", "ACCOUNT", "SIDE"], (
    f"{user_trades} has the columns {names}; select USERID, REGIONID, QUANTITY, SYMBOL, PRICE, "
    "ACCOUNT, SIDE in that order"
)
regions = dict((k, v["regionid"]) for k, v in USERS)
for r in read_topic(user_trades_topic):
    v = json.loads(r["value"])
    if r["key"].decode() in regions:
        assert v["REGIONID"] == regions[r["key"].decode()], f"wrong REGIONID in {r}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Look at the keys of `user_trades`: the trades went in keyed by **symbol** and came out keyed by
# **user**. To look a trade up in `USERS`, ksqlDB needs the trade on the partition where that user's
# row lives — so it first **re-keys** (repartitions) the stream by `USERID` through an internal
# topic, and the join's result keeps that key. `SHOW ALL TOPICS` lists the internal topics of the
# query: the repartition topic, and the changelog topic of its state store (Lab 03).

# %%
for t in ksql.execute("SHOW ALL TOPICS;")[0]["topics"]:
    if f"USER_TRADES_{RUN}" in t["name"]:
        print(t["name"])

by_symbol = {p: 0 for p in range(3)}
for r in read_topic(trades_topic):
    by_symbol[r["partition"]] += 1
by_user = {p: 0 for p in range(3)}
for r in read_topic(user_trades_topic):
    by_user[r["partition"]] += 1
plot_partitions(by_symbol, "the same trades, keyed by symbol and by user", "by symbol",
                second=by_user, second_label="by user")

# %% [markdown]
# Expected (query numbers vary; with the exercise done):
#
# ```text
# _confluent-ksql-default_query_CSAS_USER_TRADES_1A2B3C_5-Join-repartition
# _confluent-ksql-default_query_CSAS_USER_TRADES_1A2B3C_5-KafkaTopic_Right-Reduce-changelog
# ```
#
# and a bar chart: the 100 trades spread over the partitions one way by symbol, another way by user.
# The stream side has no state store: only the table is materialized (`KafkaTopic_Right-Reduce`).
#
# ## 4.4 Left-join nulls, and a user who arrives late
#
# Seventeen trades have no region: `User_9` is not in `USERS`. That is what the article's `LEFT`
# is for — an inner `JOIN` would silently drop those trades, and the Lambda function downstream
# would never hear of them. With a left join they arrive with `REGIONID = NULL`, and the function
# can decide what to do (Lab 05: reject them as an unknown account).
#
# Now `User_9` registers, and 20 more trades come in:

# %%
LATE_USER = ("User_9", user("User_9", "Region_3"))
MORE_TRADES = list(datagen.generate("stock_trades", seed=4, start=100, count=20))
if topic_count(users_topic) == len(USERS):  # not yet (the cell may run twice)
    produce_dataset(users_topic, [LATE_USER])
    produce_dataset(trades_topic, MORE_TRADES)
ksql_show(f"SELECT * FROM {users} EMIT CHANGES LIMIT 9;")

# %% [markdown]
# ```text
# USERID | REGISTERTIME  | REGIONID
# User_6 | 1511850892709 | Region_2
# ...
# User_9 | 1500000000000 | Region_3
# ```
#
# The table has the new user. That was a push query over the table: `USERS` is declared straight
# over a topic, and ksqlDB answers *pull* queries (the current row, and done) only on materialised
# tables — made by `CREATE TABLE ... AS SELECT`, or declared with `CREATE SOURCE TABLE`:

# %%
ksql_show(f"SELECT * FROM {users} WHERE USERID = 'User_9';")

# %% [markdown]
# ```text
# ksqlDB error 40001: The `USERS_1A2B3C` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE QUERYABLE_USERS_1A2B3C AS SELECT * FROM USERS_1A2B3C'. See https://cnfl.io/queries for more info.
# Add EMIT CHANGES if you intended to issue a push query.
# ```
#
# The join does not need that: its own copy of the table lives in the query's state store. What
# does `USER_TRADES` say about `User_9` now?

# %%
if topic_partitions(user_trades_topic):  # USER_TRADES exists (exercise 04-user-trades)
    wait_for_count(user_trades_topic, len(TRADES) + len(MORE_TRADES))
rows = read_topic(user_trades_topic)
print(len(rows), "rows in", user_trades_topic)


# %% [markdown]
# ```text
# 120 rows in user_trades-1a2b3c
# ```
#
# ### Exercise `04-late-user` (2 points)
#
# Write `regions_of(rows, user)`: from the records of `user_trades` (what `read_topic` returns:
# dicts with `key` and `value` bytes, sorted by partition and offset), return the `REGIONID` of each
# trade of `user`, in order (`None` where it is `NULL`). A user's records are all on one partition —
# the key decides — so offset order is the order in which they were joined.
#
# Expected output of the cell: seventeen `None`, then `'Region_3'` for each later trade of `User_9`:
#
# ```text
# [None, None, None, None, None, None, None, None, None, None, None, None, None, None, None, None, None, 'Region_3', 'Region_3', 'Region_3', 'Region_3', 'Region_3']
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 04-late-user
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def regions_of(rows: list[dict], user: str) -> list:
    # BEGIN SOLUTION
    return [
        json.loads(r["value"]).get("REGIONID")
        for r in rows
        if r["key"] is not None and r["key"].decode() == user
    ]
    # END SOLUTION


print(regions_of(rows, "User_9"))

# %% [raw]
# # BEGIN TESTS

# %%
sample = [
    {"partition": 0, "offset": 0, "key": b"User_9", "value": b'{"REGIONID":null,"SYMBOL":"ZVV"}'},
    {"partition": 0, "offset": 1, "key": b"User_2", "value": b'{"REGIONID":"Region_8"}'},
    {"partition": 0, "offset": 2, "key": b"User_9", "value": b'{"REGIONID":"Region_3"}'},
]
got = regions_of(sample, "User_9")
assert got == [None, "Region_3"], (
    f"regions_of(sample, 'User_9') gives {got!r}; expected [None, 'Region_3']: the key (bytes) "
    "says whose trade it is, the JSON value holds REGIONID (null -> None)"
)

# %%
rows = read_topic(user_trades_topic)
got = regions_of(rows, "User_9")
early = sum(v["userid"] == "User_9" for _, v in TRADES)
late = sum(v["userid"] == "User_9" for _, v in MORE_TRADES)
assert got == [None] * early + ["Region_3"] * late, (
    f"for User_9, regions_of gives {got}; expected {early} x None (trades before User_9 "
    f"registered) then {late} x 'Region_3' (run 4.4 and exercise 04-user-trades first)"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

assert regions_of([], "User_1") == [], "no rows, no regions"
rows = read_topic(user_trades_topic)
assert regions_of(rows, "User_42") == [], "a user without trades has no regions"
got = set(regions_of(rows, "User_1"))
assert got == {"Region_5"}, f"User_1 is in Region_5 from the start; got {got}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The seventeen early trades keep their `NULL` for good: a stream-table join is evaluated once, when
# the trade passes, against the table *as of processing time*. Nothing re-runs it when the table
# changes. If late users matter, you have choices, each with a cost:
#
# - make sure the table is loaded before the trades flow. Of the records it has fetched from both
#   inputs, ksqlDB processes the oldest first, so a user record older than a trade is normally seen
#   first — but with `max.task.idle.ms=0` (its default) it does not wait for an input it has
#   fetched nothing from yet, so a query started over two full topics may join its first trades
#   against a still-empty table;
# - treat `NULL` downstream (the Lab 05 function rejects "unknown user account" trades; they can be
#   retried or reviewed);
# - use a **table-table** join (both sides tables: the result is updated when either side changes),
#   or a stream-stream join with a window, if the late side is itself an event.
#
# ### Validate this step
#
# Not graded: `USERS` now has nine users and `USER_TRADES` one row per trade, 120 in all.

# %% [raw]
# # BEGIN QUESTION
# name: 04-validate-join
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
assert topic_partitions(user_trades_topic), f"{user_trades_topic} does not exist: do 04-user-trades"
keys = {r["key"] for r in read_topic(users_topic)}
assert len(keys) == 9, f"{users} has {len(keys)} users; expected 9 (run 4.1 and 4.4)"
count = wait_for_count(user_trades_topic, len(TRADES) + len(MORE_TRADES), timeout=15)
assert count == 120, (
    f"{user_trades_topic} holds {count} records, expected 120 (100 + 20 trades): do exercise "
    "04-user-trades, then run 4.4"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 4.5 Co-partitioning
#
# A join looks up a key in a table. ksqlDB runs it **partition by partition**: the task for
# partition 2 of the stream reads partition 2 of the table's topic into its local state store, and
# nothing else. That only works if a key is on the **same partition number** on both sides, which
# needs three things — the inputs are **co-partitioned**:
#
# 1. both are keyed by the join column (`USERID`);
# 2. both have the **same number of partitions**;
# 3. both put a key on a partition the same way (the same serialised key bytes and the same hash).
#
# What ksqlDB does about each:
#
# 1. **Keys differ** (our trades are keyed by symbol): it repartitions the stream by the join
#    column through an internal topic — you saw `-Join-repartition`. A **table** cannot be
#    re-keyed that way: its key is its identity.
# 2. **Partition counts differ**: when ksqlDB repartitions a side itself, it sizes the internal
#    topic to match the other side. But when both sides are already keyed by the join column, it
#    reads them as they are — and refuses the statement if their partition counts differ. Here the
#    same trades, produced keyed by **user** to a topic with 3 partitions, meet the second users
#    table, whose topic has 2:

# %%
keyed_topic, trades_keyed = f"trades-keyed-{run_id()}", f"TRADES_KEYED_{RUN}"
create_topic(keyed_topic, partitions=3)  # the trades arrive once the join runs (exercise)
users_2p = f"USERS_2P_{RUN}"
ksql.execute(f"""
    CREATE STREAM IF NOT EXISTS {trades_keyed} (
        USERID VARCHAR KEY, SIDE VARCHAR, QUANTITY INT, SYMBOL VARCHAR, PRICE INT, ACCOUNT VARCHAR
    ) WITH (KAFKA_TOPIC='{keyed_topic}', VALUE_FORMAT='JSON');
    CREATE TABLE IF NOT EXISTS {users_2p} (USERID VARCHAR PRIMARY KEY, REGIONID VARCHAR)
    WITH (KAFKA_TOPIC='{users2_topic}', VALUE_FORMAT='JSON');
""")
try:
    ksql.execute(f"""
        CREATE STREAM WONT_WORK_{RUN} AS
        SELECT T.USERID AS USERID, U.REGIONID AS REGIONID
        FROM {trades_keyed} T LEFT JOIN {users_2p} U ON T.USERID = U.USERID EMIT CHANGES;
    """)
except KsqlError as e:
    print(e.message.splitlines()[0])

# %% [markdown]
# ```text
# Can't join `TRADES_KEYED_1A2B3C` with `USERS_2P_1A2B3C` since the number of partitions don't match. `TRADES_KEYED_1A2B3C` partitions = 3; `USERS_2P_1A2B3C` partitions = 2. Please repartition either one so that the number of partitions match.
# ```
#
# 3. **Hashes differ**: ksqlDB **cannot see this one**. Kafka's Java client (and ksqlDB, and Kafka
#    Connect) place a key with murmur2; librdkafka — so confluent-kafka's default — uses CRC32.
#    Produce a users topic with the default Python producer and the partition counts match, the
#    statement is accepted, and some users are simply never found: their rows sit on another
#    partition than their trades. That is why `streamlab.config.producer_config()` sets
#    `partitioner=murmur2_random`:

# %%
for n in range(1, 10):
    key = f"User_{n}"
    java, crc = java_partition(key, 3), zlib.crc32(key.encode()) % 3
    lost = "" if java == crc else "  <- lost in a join"
    print(f"{key}: murmur2 -> partition {java}, CRC32 -> partition {crc}", lost)

# %% [markdown]
# ```text
# User_1: murmur2 -> partition 1, CRC32 -> partition 0   <- lost in a join
# User_2: murmur2 -> partition 0, CRC32 -> partition 0
# User_3: murmur2 -> partition 1, CRC32 -> partition 2   <- lost in a join
# ...
# ```
#
# Five of nine users would be lost. The fix for a partition-count mismatch is to repartition the
# stream yourself: `PARTITION BY` re-keys it, `PARTITIONS` sets the new topic's partition count.
#
# ### Exercise `04-copartition` (2 points)
#
# Make the user-keyed trades (`trades_keyed`, 3 partitions) joinable with `users_2p` (2
# partitions):
#
# 1. create the stream named in `trades_by_user`, writing to the topic `trades_by_user_topic` with
#    **2 partitions**: every column of `trades_keyed`, **partitioned by `USERID`**;
# 2. create the stream named in `user_trades_2p`: `trades_by_user` (alias `T`) LEFT JOIN `users_2p`
#    (alias `U`) on the user id, selecting `T.USERID AS USERID`, `U.REGIONID AS REGIONID` and
#    `T.SYMBOL AS SYMBOL`.
#
# Both from the earliest records.
#
# *Hint:* `CREATE STREAM ... WITH (KAFKA_TOPIC='...', PARTITIONS=2) AS SELECT * FROM ... PARTITION BY
# USERID EMIT CHANGES;` Then the join, as in `04-user-trades`.
#
# Expected: the check passes; all 100 trades are joined, and — since the trades are produced only
# once the join runs and has read the users — none has a `NULL` region.

# %% [raw]
# # BEGIN QUESTION
# name: 04-copartition
# points: 2
# stub_feedback: "does not exist yet"

# %%
trades_by_user, trades_by_user_topic = f"TRADES_BY_USER_{RUN}", f"trades-by-user-{run_id()}"
user_trades_2p = f"USER_TRADES_2P_{RUN}"
# BEGIN SOLUTION
ksql.execute(f"""
    CREATE STREAM {trades_by_user} WITH (KAFKA_TOPIC='{trades_by_user_topic}', PARTITIONS=2) AS
        SELECT * FROM {trades_keyed} PARTITION BY USERID EMIT CHANGES;
    CREATE STREAM {user_trades_2p} AS
        SELECT T.USERID AS USERID, U.REGIONID AS REGIONID, T.SYMBOL AS SYMBOL
        FROM {trades_by_user} T LEFT JOIN {users_2p} U ON T.USERID = U.USERID
        EMIT CHANGES;
""", EARLIEST)
# END SOLUTION
if topic_count(keyed_topic) == 0:  # now that the join runs (and has read the users), the trades
    time.sleep(1)
    produce_dataset(keyed_topic, [(v["userid"], v) for _, v in TRADES])
print(user_trades_2p, "holds", wait_for_count(user_trades_2p, len(TRADES)), "rows")

# %% [raw]
# # BEGIN TESTS

# %%
streams = {s["name"] for s in ksql.execute("SHOW STREAMS;")[0]["streams"]}
for name in (trades_by_user, user_trades_2p):
    assert name in streams, (
        f"the stream {name} does not exist yet: first {trades_by_user} (WITH (KAFKA_TOPIC="
        f"'{trades_by_user_topic}', PARTITIONS=2) ... PARTITION BY USERID), then {user_trades_2p} "
        "(the join), both with ksql.execute(sql, EARLIEST)"
    )
assert topic_partitions(trades_by_user_topic) == 2, (
    f"{trades_by_user_topic} has {topic_partitions(trades_by_user_topic)} partitions: set "
    "PARTITIONS=2 in the WITH clause so it matches the users topic"
)

# %%
streams = {s["name"] for s in ksql.execute("SHOW STREAMS;")[0]["streams"]}
assert user_trades_2p in streams, f"the stream {user_trades_2p} does not exist yet"
total = len(TRADES)
count = wait_for_count(user_trades_2p, total, timeout=15)
last = {}  # the region of each user's latest joined trade
for r in read_topic(user_trades_2p):
    last[r["key"]] = json.loads(r["value"]).get("REGIONID")
unfound = sorted(k.decode() for k, region in last.items() if region is None)
assert count == total and len(last) == 9 and not unfound, (
    f"{user_trades_2p} holds {count} rows; expected {total}, and the latest trade of every user "
    f"joined with a region (not found: {unfound}): join on T.USERID = U.USERID, select "
    "U.REGIONID AS REGIONID, and run with EARLIEST"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG

[described] = ksql.execute(f"DESCRIBE {trades_by_user};")
key = [f["name"] for f in described["sourceDescription"]["fields"] if f.get("type") == "KEY"]
assert key == ["USERID"], f"{trades_by_user} must be keyed by USERID (PARTITION BY USERID): {key}"
keys = {r["key"] for r in read_topic(trades_by_user_topic)}
assert keys <= {f"User_{n}".encode() for n in range(1, 10)}, (
    f"the records of {trades_by_user_topic} must be keyed by user id, found {sorted(keys)[:3]}"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Recap
#
# - A **stream-table join** enriches each event with the table's current row for its key. The
#   table is state (a store, backed by a changelog); the stream is not stored.
# - It is evaluated **once per event, as of processing time**: a trade processed before its user
#   registered keeps `NULL` for good, and later changes of the user do not touch earlier rows.
# - **LEFT JOIN** keeps events without a match (columns `NULL`); an inner join drops them. The
#   application uses `LEFT` so that no trade disappears before the Lambda function sees it.
# - Joins need **co-partitioned** inputs: same key, same partition count, same partitioner. ksqlDB
#   repartitions a stream keyed by something else, refuses mismatched partition counts (repartition
#   yourself: `PARTITION BY` + `PARTITIONS`), and cannot detect a different hash function — produce
#   with murmur2 (`producer_config()`).
# - The join's output is keyed by the join column: `user_trades` is keyed by `USERID`, which is how
#   the Lambda function of Lab 05 finds the user — in the record **key**, not in the value.
#
# Run `progress()` to see where you stand. **Next:** [Lab 05 — the Lambda handler](05_lambda_handler.ipynb): the
# function that settles each of these trades.

# %%
progress()
