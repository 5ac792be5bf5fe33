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
# # Lab 09 — End to end, and going live
#
# **Estimated time:** 45 minutes · **Previous:** [Lab 08 — Scaling, ordering and performance](08_scaling_ordering.ipynb)
#
# Every piece of the article's application has had its lab: the `STOCKTRADE` stream and `USERS`
# table, the `USER_TRADES` join, the settlement function behind a Kafka event source mapping, the
# Protobuf `TRADE_SETTLEMENT` stream and the per-minute windowed counts. This lab starts the
# **whole pipeline** with one command and follows **one trade** through it, then shows how the same
# code runs against real systems — Apache Kafka, ksqlDB, Confluent Cloud and AWS Lambda — what that
# costs, and how to tear it down.
#
# ```
#  stocktrade ─┐
#              ├─ USER_TRADES (LEFT JOIN, ksqlDB) ─→ user_trades ─→ Lambda (settle) ─→ trade-settlements
#  users ──────┘                                        │                                   │
#                                              TRADES_PER_MINUTE              TRADE_SETTLEMENT (Protobuf)
#                                                                      COMPLETED_/PENDING_/FLAGGED_/REJECTED_PER_MINUTE
# ```
#
# ### Objectives
#
# 1. Start the application on the emulated stack with `streamlab pipeline up`.
# 2. Follow a trade from the `stocktrade` topic through the join, the Lambda function and the
#    windowed counts — and a second trade by an unknown user, which the function rejects.
# 3. Know the four **profiles** and what changes (and what does not) from one to the next.
# 4. Read the provisioning **plan** for Confluent Cloud and AWS, estimate its **cost**, and know
#    how to **tear it all down**.
#
# Two graded exercises (4 points) and one "validate this step" check. Everything here runs offline:
# nothing is created outside your laptop.

# %% [markdown]
# ## 9.0 Setup

# %%
import subprocess
import sys
import time

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # the same profile as in Lab 00

from streamlab.notebook.windows import repository_root

ROOT = repository_root()
sys.path.insert(0, str(ROOT))  # lambda_fn/ and setup/ live in the repository, not in the package

import json

from confluent_kafka import Producer

from streamlab import pipeline
from streamlab.config import producer_config
from streamlab.grading import check, progress
from streamlab.notebook import ksql_client, ksql_show, read_topic, run_id
from streamlab.notebook.windows import hhmmss, print_windows, window_rows


def streamlab_cli(*args: str) -> str:
    """Run `streamlab ...` as you would in a terminal (with this kernel's Python)."""
    done = subprocess.run(
        [sys.executable, "-m", "streamlab.cli", *args], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"streamlab {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


ksql = ksql_client()
RUN = run_id().upper()
print("run id:", run_id())

# %% [markdown]
# ## 9.1 The whole pipeline in one command
#
# `streamlab pipeline up` does, in order, what Labs 04–07 did by hand (it is idempotent: run it
# twice and the second run finds everything there):
#
# 1. creates the application's topics and seeds the `USERS` table (nine users, `User_1`…`User_9`);
# 2. applies the `ksql/` files in order — `STOCKTRADE`, `USERS`, `USER_TRADES`, `TRADE_SETTLEMENT`,
#    the four per-disposition tables and `TRADES_PER_MINUTE`;
# 3. optionally starts a background Datagen task producing trades (`--rate`; here `0`: we produce
#    our own trades, so every number below is predictable);
# 4. stores the function's configuration in **Secrets Manager** (the emulated AWS endpoint);
# 5. builds `lambda_fn` into a zip, creates the function `TradeSettlementFunction` and its Kafka
#    **event source mapping** on `user_trades`.

# %%
print(streamlab_cli("pipeline", "up", "--rate", "0"))

# %% [markdown]
# Expected (the first time; later runs say `exists` and `updated`):
#
# ```text
# 1. topics and the USERS table
#    created ['stocktrade', 'users', 'user_trades', 'trade-settlements', 'user_trades-dlq']; wrote {'users': 9}
# 2. ksql/
#   created     01_stocktrade.sql: STOCKTRADE
#   created     02_users.sql: USERS
#   created     03_user_trades.sql: USER_TRADES
#   created     04_trade_settlement.sql: TRADE_SETTLEMENT
#   created     05_windowed_counts.sql: COMPLETED_PER_MINUTE
#   ...
#   created     06_trades_per_minute.sql: TRADES_PER_MINUTE
# 3. datagen: no background trades (--rate 0)
# 4. secret TradeSettlementCredentials (arn:aws:secretsmanager:us-east-1:123456789012:secret:TradeSettlementCredentials-...)
# 5. function TradeSettlementFunction created, mapping 519f5eba-...
# 6. watch it:
#    settlements:  python -m streamlab.pipeline watch
#    ...
# ```
#
# `streamlab pipeline status` lists what exists:

# %%
print(streamlab_cli("pipeline", "status"))

# %% [markdown]
# ```text
# ksql: COMPLETED_PER_MINUTE, FLAGGED_PER_MINUTE, PENDING_PER_MINUTE, REJECTED_PER_MINUTE, STOCKTRADE, TRADES_PER_MINUTE, TRADE_SETTLEMENT, USERS, USER_TRADES
# function TradeSettlementFunction: Active
# mapping 519f5eba-...: Enabled on ['user_trades']
# ```
#
# (Your list may hold more: the streams and tables of earlier labs.)
#
# ## 9.2 Follow one trade
#
# Two trades, produced to `stocktrade` exactly as the Datagen connector would (JSON, keyed by
# symbol), with a symbol of this run so that no other trade is counted with them:
#
# - `User_2` buys 10 shares at 1234 pennies: a known user, a small amount;
# - `User_42` — not in `USERS` — sells 5 shares at 2000 pennies.

# %%
SYMBOL = f"LAB{RUN}"
NOW = int(time.time() * 1000)
OUR_TRADES = [
    {"side": "BUY", "quantity": 10, "symbol": SYMBOL, "price": 1234, "account": "LAB09", "userid": "User_2"},
    {"side": "SELL", "quantity": 5, "symbol": SYMBOL, "price": 2000, "account": "LAB09", "userid": "User_42"},
]
producer = Producer(producer_config())
for trade in OUR_TRADES:
    producer.produce("stocktrade", key=SYMBOL, value=json.dumps(trade), timestamp=NOW)
producer.flush(10)
print(f"produced 2 trades of {SYMBOL} at {hhmmss(NOW)} UTC")


# %% [markdown]
# **Step 1, the join.** The persistent query behind `USER_TRADES` reads `stocktrade`, looks up
# each trade's user in the `USERS` table (its state store), and writes the enriched trade to
# `user_trades` — re-keyed by `USERID`, with the user's `REGIONID`, and the trade's own timestamp:

# %%
def wait_for(find, timeout: float = 30.0):
    """Call find() until it returns something truthy (a pipeline step catching up)."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def ours_in_user_trades():
    mine = [r for r in read_topic("user_trades") if json.loads(r["value"])["SYMBOL"] == SYMBOL]
    return mine if len(mine) == 2 else None


joined = wait_for(ours_in_user_trades)
for r in joined:
    print(f"key={r['key'].decode()} partition={r['partition']} offset={r['offset']} "
          f"timestamp={r['timestamp'] == NOW and 'NOW' or r['timestamp']} value={r['value'].decode()}")


# %% [markdown]
# ```text
# key=User_2 partition=0 offset=1 timestamp=NOW value={"REGIONID":"Region_2","QUANTITY":10,"SYMBOL":"LAB1A2B3C","PRICE":1234,"ACCOUNT":"LAB09","SIDE":"BUY"}
# key=User_42 partition=0 offset=2 timestamp=NOW value={"REGIONID":null,"QUANTITY":5,"SYMBOL":"LAB1A2B3C","PRICE":2000,"ACCOUNT":"LAB09","SIDE":"SELL"}
# ```
#
# (Partitions and offsets vary.) `User_42`'s trade was **kept** with `REGIONID` null: that is the
# `LEFT` in `LEFT JOIN` (Lab 04) — an inner join would have dropped it silently.
#
# **Step 2, the Lambda function.** The event source mapping's poller consumes `user_trades`,
# invokes `TradeSettlementFunction` with a batch, and the function produces one `TradeSettlement`
# (Protobuf, through the Schema Registry) per trade to `trade-settlements`, with the trade's
# timestamp as its `timestamp`. `pipeline.settlements()` reads and decodes that topic from the
# start:

# %%
def our_settlements():
    mine = [v for v, _ in pipeline.settlements(timeout=2) if v["symbol"] == SYMBOL]
    return mine if len(mine) >= 2 else None


SETTLEMENTS = wait_for(our_settlements, timeout=45) or []
for s in SETTLEMENTS:
    print(s)


# %% [markdown]
# Expected (the disposition of `User_2`'s trade depends on its position in `user_trades`: about
# 30 % of ordinary trades are drawn for review, `SEC Flagged`, the rest `Completed`):
#
# ```text
# {'user': 'User_2', 'symbol': 'LAB1A2B3C', 'amount': 123.4, 'disposition': 'Completed', 'reason': 'Within same day limit', 'timestamp': '1795…'}
# {'user': 'User_42', 'symbol': 'LAB1A2B3C', 'amount': 100.0, 'disposition': 'Rejected', 'reason': 'Unknown user account', 'timestamp': '1795…'}
# ```
#
# The amount is in **dollars**: `quantity × price`, the price being in pennies (10 × 1234 ¢ =
# $123.40). `User_42` is `Rejected` because the join found no user. The `timestamp` (a Protobuf
# `int64`, shown as a string by the JSON mapping) is the trade's own event time — what lets the
# windows downstream count trades by when they happened.
#
# ### Exercise `09-find-settlement` (2 points)
#
# In a real system you would not filter by a made-up symbol: you would find *the* settlement of a
# given trade. Write `find_settlement(settlements, trade, timestamp)`: among `settlements` (dicts as
# printed above), return the one for `trade` (a dict as in `OUR_TRADES`) made at `timestamp`
# (epoch ms): same user (`userid` → `user`), same symbol, same timestamp (note its type), and an
# amount equal to quantity × price in dollars (compare with a tolerance of a cent). Return `None`
# when there is none.
#
# Expected output of the cell: `User_2`'s settlement, as above.

# %% [raw]
# # BEGIN QUESTION
# name: 09-find-settlement
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def find_settlement(settlements: list[dict], trade: dict, timestamp: int) -> dict | None:
    # BEGIN SOLUTION
    amount = trade["quantity"] * trade["price"] / 100
    for s in settlements:
        if (
            s["user"] == trade["userid"]
            and s["symbol"] == trade["symbol"]
            and int(s["timestamp"]) == timestamp
            and abs(s["amount"] - amount) < 0.01
        ):
            return s
    return None
    # END SOLUTION


find_settlement(SETTLEMENTS, OUR_TRADES[0], NOW)

# %% [raw]
# # BEGIN TESTS

# %%
got = find_settlement(SETTLEMENTS, OUR_TRADES[0], NOW)
assert got is not None and got["user"] == "User_2" and got["symbol"] == SYMBOL, (
    f"find_settlement(SETTLEMENTS, OUR_TRADES[0], NOW) gives {got!r}; expected User_2's "
    "settlement of this run's symbol - the settlement's `timestamp` is a string: compare "
    "int(s['timestamp']) with the trade's timestamp"
)
assert got["disposition"] in ("Completed", "SEC Flagged"), (
    f"User_2's settlement says {got['disposition']!r}: expected Completed or SEC Flagged"
)

# %%
decoy = {"user": "User_2", "symbol": SYMBOL, "amount": 123.4, "disposition": "Completed",
         "reason": "", "timestamp": str(NOW - 60_000)}
real = {**decoy, "timestamp": str(NOW)}
got = find_settlement([decoy, real], OUR_TRADES[0], NOW)
assert got is real, (
    f"with two settlements of User_2 for {SYMBOL}, a minute apart, find_settlement gives "
    f"{got!r}; expected the one whose timestamp is the trade's"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG


assert find_settlement([], OUR_TRADES[0], NOW) is None, "no settlements: None"
other = {"user": "User_3", "symbol": SYMBOL, "amount": 123.4, "disposition": "Completed",
         "reason": "", "timestamp": str(NOW)}
assert find_settlement([other], OUR_TRADES[0], NOW) is None, "another user's settlement is not it"
wrong_amount = {**other, "user": "User_2", "amount": 1234.0}
assert find_settlement([wrong_amount], OUR_TRADES[0], NOW) is None, (
    "an amount of $1234.00 is not 10 x 1234 pennies ($123.40): the price is in pennies"
)
close = {**wrong_amount, "amount": 123.40000001}
assert find_settlement([close], OUR_TRADES[0], NOW) is close, "compare amounts with a tolerance"
got = find_settlement(SETTLEMENTS, OUR_TRADES[1], NOW)
assert got is not None and got["disposition"] == "Rejected", (
    f"User_42's trade must be found too, Rejected (got {got!r})"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **Step 3, the windowed counts.** Two tables count our trades per minute: `TRADES_PER_MINUTE`
# counts what the function was *given* (from `USER_TRADES`), and one of the four per-disposition
# tables counts what it *decided* (from `TRADE_SETTLEMENT`). Both use the trade's event time, so
# both put our trades in the minute of `NOW`. The pull query, as you would ask ksqlDB:

# %%
ksql_show(f"SELECT * FROM TRADES_PER_MINUTE WHERE SYMBOL = '{SYMBOL}';")

# %% [markdown]
# Expected (times vary):
#
# ```text
# SYMBOL    | WINDOWSTART   | WINDOWEND     | NUM_TRADES
# LAB1A2B3C | 1795690200000 | 1795690260000 | 2
# ```
#
# The same rows read from the tables' topics (Lab 07's `window_rows`; the per-disposition tables
# hold Protobuf values, decoded through the Schema Registry):

# %%
TABLE_OF = {"Completed": "COMPLETED_PER_MINUTE", "Pending": "PENDING_PER_MINUTE",
            "SEC Flagged": "FLAGGED_PER_MINUTE", "Rejected": "REJECTED_PER_MINUTE"}


def counted_in(table: str):
    return [r for r in window_rows(table, 60_000) if r["KEY"] == SYMBOL] or None


print("TRADES_PER_MINUTE")
print_windows(wait_for(lambda: counted_in("TRADES_PER_MINUTE")) or [])
for disposition in sorted({s["disposition"] for s in SETTLEMENTS}):
    print(TABLE_OF[disposition])
    print_windows(wait_for(lambda: counted_in(TABLE_OF[disposition])) or [])

# %% [markdown]
# ```text
# TRADES_PER_MINUTE
# LAB1A2B3C [10:42:00, 10:43:00)  NUM_TRADES=2
# COMPLETED_PER_MINUTE
# LAB1A2B3C [10:42:00, 10:43:00)  NUM_COMPLETED=1
# REJECTED_PER_MINUTE
# LAB1A2B3C [10:42:00, 10:43:00)  NUM_REJECTED=1
# ```
#
# (`FLAGGED_PER_MINUTE` instead of `COMPLETED_PER_MINUTE` if `User_2`'s trade was drawn for
# review.) One trade went: `stocktrade` → ksqlDB join → `user_trades` → Lambda → `trade-settlements`
# → ksqlDB windowed count. Four systems, each doing what it is good at: ksqlDB the stateful work
# (the join's table, the windows), Lambda the stateless per-event decision.
#
# ## 9.3 Going live: profiles
#
# Nothing in the cells above named a host: the clients got their settings from
# `streamlab.config` — `producer_config()`, `ksql_client()`, the AWS endpoint. A **profile** decides
# what those settings point at:

# %%
from streamlab.config import PROFILES, active_profile

for profile in PROFILES.values():
    print(f"{profile.name:<9} {'(active) ' if profile is active_profile() else ''}{profile.description}")


# %% [markdown]
# ```text
# emulated  (active) the offline emulators in streamlab (no JVM, no Docker)
# jvm       real Apache Kafka started from Maven jars (needs Java 17+ and Maven)
# docker    real Kafka, Schema Registry and ksqlDB in Docker Compose (setup/docker); the Lambda emulator here
# cloud     Confluent Cloud and AWS (python -m setup.cloud up)
# ```
#
# Choose one with `STREAMLAB_PROFILE=<name>` (before starting JupyterLab or at the top of a
# notebook, the commented line of each setup cell) or `streamlab up --profile <name>`:
#
# | profile | Kafka | ksqlDB | Lambda | you need |
# |---|---|---|---|---|
# | `emulated` | the Python broker in `streamlab` | `streamlab`'s engine | `streamlab`'s emulator (real `awslambdaric`) | nothing |
# | `jvm` | Apache Kafka 4.x (KRaft) from Maven jars | `streamlab`'s engine | emulator | Java 17+, Maven |
# | `docker` | `apache/kafka`, Confluent Schema Registry and ksqlDB server in Docker Compose | real ksqlDB | emulator | Docker |
# | `cloud` | Confluent Cloud (SASL_SSL, API key) | Confluent Cloud ksqlDB | AWS Lambda, Secrets Manager | accounts on both, money |
#
# What does **not** change from one profile to the next: the notebooks, `lambda_fn`, the `ksql/`
# files (`streamlab pipeline apply --url https://<ksqldb-endpoint>` runs them on any ksqlDB). What
# does: addresses, credentials (from the environment or the git-ignored
# `.streamlab/credentials.toml`, never from the repository), and time — a Confluent ksqlDB cluster
# takes many minutes to provision, and a real event source mapping several minutes to start
# polling.
#
# ## 9.4 The provisioning plan and its cost
#
# `python -m setup.cloud up` provisions the whole application on Confluent Cloud and AWS from
# Python (REST and boto3), in order, waiting for each resource, and writes the `cloud` profile. Its
# **dry run**, `plan`, prints the same steps and an hourly cost estimate — offline, with no account
# and no credentials:

# %%
def setup_cloud(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "setup.cloud", *args], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"setup.cloud {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


print(setup_cloud("plan", "--name", "wk-lab09"))

# %% [markdown]
# ```text
# plan for run 'wk-lab09' in AWS region us-east-1 (nothing is created by `plan`):
#
#  1. [Confluent Cloud] environment 'wk-lab09' (Stream Governance ESSENTIALS: turns on Schema Registry)
#  2. [Confluent Cloud] Basic Kafka cluster 'wk-lab09-kafka', single zone, AWS us-east-1
#  ...
#  8. [Confluent Cloud] Datagen source connectors STOCK_TRADES -> stocktrade, USERS -> users (JSON, max.interval 1000 ms)  ~$0.070/h
#  9. [Confluent Cloud] ksqlDB cluster 'wk-lab09-ksql', 1 CSU, KsqlAdmin binding, ksqlDB API key  ~$0.230/h
#  ...
# 13. [AWS] Lambda function 'wk-lab09-settlement' from lambda_fn (python3.12, x86_64), log retention 1 day
# 14. [AWS] event source mapping: self-managed Kafka topic user_trades -> wk-lab09-settlement, BASIC_AUTH with the secret, group 'wk-lab09-user_trades'
# 15. [local] the `cloud` profile in .streamlab/profiles/cloud.toml (git-ignored, mode 0600)
#
# estimated cost while it exists: ~$0.30 per hour (~$7.21 per day), plus
# per-GB data transfer and Lambda invocations ...
# ```
#
# The same steps as Labs 01–07 built locally, plus what a real cloud needs: accounts, API keys,
# role bindings, an IAM role. The rates are **estimates** in `setup/cloud/costs.py` (check
# confluent.io/pricing and aws.amazon.com/lambda/pricing before a workshop). The plan is also data,
# in Python:

# %%
from setup.cloud.plan import steps
from setup.cloud.settings import CloudSettings

RATES = {s.key: s.per_hour for s in steps(CloudSettings(name="wk-lab09")) if s.per_hour}
print({k: round(v, 4) for k, v in RATES.items()})


# %% [markdown]
# ```text
# {'connectors': 0.07, 'ksql_cluster': 0.23, 'secret': 0.0005}
# ```
#
# Resources with no hourly charge are left out (the Basic cluster's first eCKU is free; Lambda is
# billed per request and per GB-second, cents at these rates). Everything else is billed **by the
# hour it exists, busy or idle**.
#
# ### Exercise `09-bill` (2 points)
#
# Write `bill(rates, hours)`: given hourly rates (name → dollars per hour) and how many hours the
# resources exist, return `(total, biggest)`: the total in dollars **rounded to cents**, and the
# name of the resource that costs the most (`None` when there are no rates).
#
# Expected output of the cell — a 3-hour workshop, then the same stack forgotten for a week:
#
# ```text
# (0.9, 'ksql_cluster')
# (50.49, 'ksql_cluster')
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 09-bill
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def bill(rates: dict[str, float], hours: float) -> tuple[float, str | None]:
    # BEGIN SOLUTION
    total = round(sum(rates.values()) * hours, 2)
    biggest = max(rates, key=rates.get) if rates else None
    return total, biggest
    # END SOLUTION


print(bill(RATES, 3))
print(bill(RATES, 7 * 24))

# %% [raw]
# # BEGIN TESTS

# %%
got = bill({"ksql_cluster": 0.23, "connectors": 0.07}, 3)
assert got == (0.9, "ksql_cluster"), (
    f"bill({{'ksql_cluster': 0.23, 'connectors': 0.07}}, 3) gives {got!r}; expected (0.9, "
    "'ksql_cluster'): (0.23 + 0.07) x 3 hours, rounded to cents, and the biggest hourly rate"
)

# %%
got = bill({"ksql_cluster": 4 * 0.23, "connectors": 0.07}, 7 * 24)
assert got == (166.32, "ksql_cluster"), (
    f"a 4-CSU ksqlDB cluster and the connectors, forgotten for a week (168 h), give {got!r}; "
    "expected (166.32, 'ksql_cluster') - round the total with round(x, 2)"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG


assert bill({}, 10) == (0.0, None), f"no rates: (0.0, None), got {bill({}, 10)!r}"
assert bill({"a": 0.01, "b": 0.5, "c": 0.2}, 1)[1] == "b", "biggest: the name with the highest rate"
assert bill({"secret": 0.40 / 730}, 730) == (0.4, "secret"), "a secret-month is $0.40"
assert bill({"x": 1.0}, 0.5) == (0.5, "x"), "hours may be fractional"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The lesson of the numbers: **ksqlDB dominates**, billed per CSU-hour from creation until
# deletion whether it processes anything or not (the plan uses 1 CSU; the CLI's default is 4).
# Lambda, the part people worry about, costs almost nothing at workshop volumes. A forgotten
# stack, not a busy one, is what makes a surprising bill.
#
# ## 9.5 Up, use, and tear down
#
# Going live is four commands; `up` asks before it creates anything. (Do not run these in a
# classroom without an account of your own: they create billed resources.)
#
# ```bash
# # first: a Confluent Cloud API key in two environment variables (setup/cloud/README.md names
# # them; never in a file of the repository), and AWS credentials (`aws configure`)
# python -m setup.cloud up             # the plan above, then creates it (resumable)
# STREAMLAB_PROFILE=cloud jupyter lab  # the same notebooks, live
# streamlab pipeline status            # now: Confluent Cloud's ksqlDB and AWS Lambda
# streamlab pipeline watch             # settlements as the Datagen connector's trades arrive
# ```
#
# and, **the same day**:
#
# ```bash
# python -m setup.cloud down           # deletes everything, billing-heavy first, and verifies
# python -m setup.cloud status         # what is left: nothing
# ```
#
# `down` deletes the event source mapping and the function, the connectors, the ksqlDB cluster
# (the main cost), the Kafka cluster with its topics, the service account with its keys, the
# environment, then the log group, the secret and the IAM role; it checks each is really gone and
# says exactly what remains if something could not be deleted. Set a **billing alert** on both
# accounts anyway.
#
# Locally, tearing down is free but still tidy:
#
# ```bash
# streamlab pipeline down    # the function, mapping, secret, streams and tables (topics stay)
# streamlab reset            # topics, groups, queries, functions: a clean lab
# streamlab down             # stop the lab stack
# ```
#
# (Not run here: the validation below needs the pipeline you started.)
#
# ### Validate this step
#
# Not graded: the function and its mapping exist, both trades were settled, and both are counted
# in `TRADES_PER_MINUTE`.

# %% [raw]
# # BEGIN QUESTION
# name: 09-validate-pipeline
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
status = streamlab_cli("pipeline", "status")
assert "TradeSettlementFunction: Active" in status, (
    f"the function is not deployed ({status.strip()}): run 9.1 again (`streamlab pipeline up`)"
)
got = {s["user"]: s["disposition"] for s in SETTLEMENTS}
assert got.get("User_42") == "Rejected" and got.get("User_2") in ("Completed", "SEC Flagged"), (
    f"the settlements of {SYMBOL} are {got}: run 9.2 again (the function may still have been "
    "starting: `streamlab logs aws` shows its invocations)"
)
rows = wait_for(lambda: counted_in("TRADES_PER_MINUTE"), timeout=15) or []
assert sum(r["NUM_TRADES"] for r in rows) == 2, (
    f"TRADES_PER_MINUTE counts {rows} for {SYMBOL}; expected 2 trades in one minute"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Recap
#
# - `streamlab pipeline up` builds the whole application: topics and users, the `ksql/` statements,
#   the secret, the function and its event source mapping. It is idempotent; `status` and `down`
#   go with it.
# - A trade's journey: `stocktrade` → `USER_TRADES` (LEFT JOIN: unknown users kept, `REGIONID`
#   null) → the Lambda function (one `TradeSettlement` per trade, the trade's timestamp, Protobuf)
#   → `TRADE_SETTLEMENT` → the per-minute tables, counted in the minute the trade happened.
# - One set of notebooks, four **profiles**: `emulated`, `jvm`, `docker`, `cloud`. Only addresses,
#   credentials and waiting times change.
# - `python -m setup.cloud plan` is the offline dry run: the ordered steps and an hourly cost.
#   ksqlDB's CSU-hours dominate; Lambda is cents. `down` the same day, and set a billing alert.
#
# That is the workshop. Run `progress()` for your whole record, and `streamlab progress` in a
# terminal any time.

# %%
progress()
