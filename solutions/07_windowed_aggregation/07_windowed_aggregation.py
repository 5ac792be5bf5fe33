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
# # Lab 07 — Windowed aggregation
#
# **Estimated time:** 40 minutes · **Previous:** [Lab 06 — Producer lifecycle and flush semantics](06_producer_lifecycle.ipynb) ·
# **Next:** [Lab 08 — Scaling, ordering and performance](08_scaling_ordering.ipynb)
#
# Lab 03's counts grew forever: `User_1` has 60 failures *since the beginning of time*. Most
# questions a business asks about a stream are about a **period**: trades per symbol *in the last
# minute*, failed logins *in five minutes*. The application ends with four such tables — the
# settlements of each disposition, per symbol and minute (`ksql/05_windowed_counts.sql`). Counting
# per period is a **windowed aggregation**, and its subtle part is time: *which* minute does an
# event belong to, and what happens when it arrives late?
#
# ### Objectives
#
# 1. Put events in **tumbling** and **hopping** windows by hand, from their **event time**.
# 2. Build a per-minute table in ksqlDB (`WINDOW TUMBLING (SIZE 60 SECONDS)`), read its window
#    bounds (`WINDOWSTART`, `WINDOWEND`) and plot it.
# 3. See how **hopping** and **session** windows differ from tumbling ones.
# 4. Produce **late** events and predict which ones a `GRACE PERIOD` accepts and which are dropped.
# 5. Compare `EMIT CHANGES` (every update) with `EMIT FINAL` (one result per closed window).
#
# Three graded exercises (6 points) and one "validate this step" check.

# %% [markdown]
# ## 7.0 Setup

# %%
import json

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # the same profile as in Lab 00

from confluent_kafka import Producer

from streamlab import datagen
from streamlab.config import producer_config
from streamlab.grading import check, progress
from streamlab.notebook import (
    EARLIEST,
    create_topic,
    ksql_client,
    ksql_show,
    run_id,
    wait_for_count,
)
from streamlab.notebook.windows import (
    hhmmss,
    plot_window_counts,
    print_windows,
    recent_morning,
    repository_root,
    window_rows,
    window_updates,
)

ksql = ksql_client()
RUN = run_id().upper()
MINUTE = 60_000  # window sizes and timestamps are in milliseconds
print("run id:", run_id(), "- ksqlDB", ksql.info()["version"])

# %% [markdown]
# ## 7.1 Event time
#
# Every Kafka record carries a **timestamp**. The producer sets it (by default the time of the
# `produce()` call; here we set it ourselves), and ksqlDB uses it as the event's time unless a
# statement names a column with `TIMESTAMP='...'` — as `TRADE_SETTLEMENT` does with the trade's own
# time. Windows are cut along this **event time**, not along the moment the engine happens to
# read the record, so re-reading a topic a week later gives the same windows.
#
# Sixty stock trades, one every 5 seconds from 09:00:00 UTC this morning (yesterday's morning if
# it is not 09:10 UTC yet), on a topic with one partition. Why not a fixed date, which would print the
# same numbers for everyone? Because a broker deletes records by their **timestamp** too: a topic
# keeps a record for `retention.ms` (7 days by default) after its *event time*, not after it arrived.
# Trades dated months back would be deleted at the broker's next retention check (every 5 minutes)
# — in the middle of this lab, on a real cluster. So the times of day below are everyone's; the epoch
# milliseconds shown are 1 January 2026's, and yours are a whole number of days later.

# %%
BASE = recent_morning()  # 09:00:00 UTC, in epoch ms: the same for the whole kernel session
TRADES = [
    (key, value, BASE + i * 5_000)  # (symbol, trade, event time in epoch ms)
    for i, (key, value) in enumerate(datagen.generate("stock_trades", seed=7, count=60))
]
trades_topic = f"trades-{run_id()}"
if create_topic(trades_topic, partitions=1):
    producer = Producer(producer_config())
    for key, value, ts in TRADES:
        key_bytes, value_bytes = datagen.encode(key, value)
        producer.produce(trades_topic, key=key_bytes, value=value_bytes, timestamp=ts)
    producer.flush(10)
for key, value, ts in TRADES[:3] + TRADES[-1:]:
    print(hhmmss(ts), ts, key, value["side"], value["quantity"])


# %% [markdown]
# ```text
# 09:00:00 1767258000000 ZWZZT BUY 1913
# 09:00:05 1767258005000 ZWZZT BUY 767
# 09:00:10 1767258010000 ZJZZT BUY 3740
# 09:04:55 1767258295000 ZBZX SELL 1830
# ```
#
# ## 7.2 Windows by hand
#
# A **tumbling** window of size 60 s cuts time into back-to-back minutes: `[09:00:00, 09:01:00)`,
# `[09:01:00, 09:02:00)`, … Each event falls in exactly one, the one whose **start** is its
# timestamp rounded down to a multiple of the size (windows are aligned to the epoch, not to the
# first event). The start is included, the end is not: an event at exactly 09:01:00 belongs to the
# second minute.
#
# A **hopping** window has a size and an **advance**: `SIZE 60 SECONDS, ADVANCE BY 30 SECONDS`
# starts a new one-minute window every 30 s, so windows overlap and each event falls in
# `size / advance` of them (here 2). A tumbling window is a hopping window whose advance equals its
# size.
#
# ### Exercise `07-windows-for` (2 points)
#
# Write `windows_for(timestamp, size, advance)`: the **start** of every window (all in epoch
# milliseconds) that contains `timestamp`, in increasing order, for windows of `size` starting every
# `advance` (aligned to 0). A window `[start, start + size)` contains `t` when
# `start <= t < start + size`. Starts are never negative.
#
# Expected output of the cell:
#
# ```text
# tumbling: ['09:01:00']
# hopping:  ['09:00:30', '09:01:00']
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 07-windows-for
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def windows_for(timestamp: int, size: int, advance: int) -> list[int]:
    # BEGIN SOLUTION
    first = max(0, timestamp - size + advance) // advance * advance
    return list(range(first, timestamp + 1, advance))
    # END SOLUTION


t = BASE + 65_000  # 09:01:05
print("tumbling:", [hhmmss(s) for s in windows_for(t, MINUTE, MINUTE)])
print("hopping: ", [hhmmss(s) for s in windows_for(t, MINUTE, 30_000)])

# %% [raw]
# # BEGIN TESTS

# %%
got = windows_for(BASE + 65_000, MINUTE, MINUTE)
assert got == [BASE + MINUTE], (
    f"windows_for(09:01:05, 60 s, 60 s) gives {got!r}; expected the one window starting at "
    f"09:01:00 ({BASE + MINUTE}): round the timestamp down to a multiple of the size"
)

# %%
got = windows_for(BASE + 65_000, MINUTE, 30_000)
assert got == [BASE + 30_000, BASE + MINUTE], (
    f"windows_for(09:01:05, 60 s, 30 s) gives {[hhmmss(s) for s in got]}; expected the windows "
    "starting at 09:00:30 and 09:01:00, in that order: every start that is a multiple of the "
    "advance with start <= t < start + size"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG


assert windows_for(BASE + MINUTE, MINUTE, MINUTE) == [BASE + MINUTE], (
    "an event exactly at a window's end belongs to the next window: the end is exclusive"
)
assert windows_for(BASE + 30_000, MINUTE, 30_000) == [BASE, BASE + 30_000], (
    "with a 30 s advance, an event at 09:00:30 is in the windows starting 09:00:00 and 09:00:30"
)
assert windows_for(10, 100, 20) == [0], (
    f"windows_for(10, 100, 20) gives {windows_for(10, 100, 20)!r}: start times are never negative"
)
assert windows_for(7 * MINUTE + 1, 5 * MINUTE, MINUTE) == [3 * MINUTE + i * MINUTE for i in range(5)], (
    "a 5-minute window advancing by 1 minute: each event is in 5 windows"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# For tumbling windows the start is one line, `ts - ts % size`, and the per-minute count is a
# dictionary away — the same state as Lab 03, with the window start added to the key:

# %%
by_hand: dict[tuple[str, int], int] = {}
for key, value, ts in TRADES:
    start = ts - ts % MINUTE  # the one tumbling window of ts
    by_hand[(key, start)] = by_hand.get((key, start), 0) + 1
print(len(by_hand), "(symbol, minute) windows;", sum(by_hand.values()), "trades")
print({hhmmss(s): n for (k, s), n in sorted(by_hand.items()) if k == "ZJZZT"})

# %% [markdown]
# ```text
# 28 (symbol, minute) windows; 60 trades
# {'09:00:00': 3, '09:01:00': 2, '09:03:00': 3, '09:04:00': 5}
#
# `ZJZZT` had no trade between 09:02:00 and 09:03:00, so it has no window there: a window exists
# only once an event falls in it.
# ```
#
# ## 7.3 A per-minute table in ksqlDB
#
# The application's last step (`ksql/05_windowed_counts.sql`) counts settlements per symbol and
# minute. One of its four tables:

# %%
sql = (repository_root() / "ksql" / "05_windowed_counts.sql").read_text()
print(sql[sql.index("CREATE TABLE IF NOT EXISTS COMPLETED") :].split(";")[0] + ";")

# %% [markdown]
# ```text
# CREATE TABLE IF NOT EXISTS COMPLETED_PER_MINUTE AS
#     SELECT SYMBOL, COUNT(*) AS NUM_COMPLETED
#     FROM TRADE_SETTLEMENT
#     WINDOW TUMBLING (SIZE 60 SECONDS)
#     WHERE DISPOSITION = 'Completed'
#     GROUP BY SYMBOL
#     EMIT CHANGES;
# ```
#
# It is Lab 03's `GROUP BY` with one more clause, `WINDOW TUMBLING (SIZE 60 SECONDS)`: the key of
# the table becomes *(symbol, window)*, so every symbol has one row per minute. Lab 09 runs it over
# the Lambda's settlements; here the same shape over our trades. First the stream:

# %%
trades = f"TRADES_{RUN}"
ksql.execute(f"""
    CREATE STREAM IF NOT EXISTS {trades} (
        symbol STRING KEY, side STRING, quantity INT, price INT, account STRING, userid STRING
    ) WITH (KAFKA_TOPIC='{trades_topic}', VALUE_FORMAT='JSON');
""")
ksql_show(f"SELECT symbol, side, quantity, ROWTIME FROM {trades} EMIT CHANGES LIMIT 3;")

# %% [markdown]
# ```text
# SYMBOL | SIDE | QUANTITY | ROWTIME
# ZWZZT  | BUY  | 1913     | 1767258000000
# ZWZZT  | BUY  | 767      | 1767258005000
# ZJZZT  | BUY  | 3740     | 1767258010000
# ```
#
# `ROWTIME` is the record's timestamp: the event time windows use.
#
# ### Exercise `07-per-minute` (2 points)
#
# Create the table named in `trades_per_minute`: from the stream named in `trades`, count the trades
# per `symbol` in **60-second tumbling windows**; call the count column `trades`; start from the
# earliest event (`EARLIEST`).
#
# *Hint:* `COMPLETED_PER_MINUTE` above without the `WHERE`, and `CREATE TABLE {trades_per_minute}
# AS ...` instead of `IF NOT EXISTS`. Made a mistake? `DROP TABLE {trades_per_minute} DELETE
# TOPIC;` and create it again.
#
# Expected: `check("07-per-minute")` passes and the cell prints the first rows, one per symbol and
# minute, the same counts as `by_hand`:
#
# ```text
# ZBZX   [09:00:00, 09:01:00)  TRADES=1
# ZJZZT  [09:00:00, 09:01:00)  TRADES=3
# ZTEST  [09:00:00, 09:01:00)  TRADES=2
# ZVZZT  [09:00:00, 09:01:00)  TRADES=3
# ZWZZT  [09:00:00, 09:01:00)  TRADES=3
# ZBZX   [09:01:00, 09:02:00)  TRADES=3
# ```

# %% [raw]
# # BEGIN QUESTION
# name: 07-per-minute
# points: 2
# stub_feedback: "does not exist yet"

# %%
trades_per_minute = f"TRADES_PER_MINUTE_{RUN}"
# BEGIN SOLUTION
ksql.execute(f"""
    CREATE TABLE {trades_per_minute} AS
      SELECT symbol, COUNT(*) AS trades
      FROM {trades}
      WINDOW TUMBLING (SIZE 60 SECONDS)
      GROUP BY symbol
      EMIT CHANGES;
""", EARLIEST)
# END SOLUTION
wait_for_count(trades_per_minute, len(TRADES))  # one update per trade
print_windows(window_rows(trades_per_minute, MINUTE)[:6])

# %% [raw]
# # BEGIN TESTS

# %%
tables = {t["name"] for t in ksql.execute("SHOW TABLES;")[0]["tables"]}
assert trades_per_minute in tables, (
    f"the table {trades_per_minute} does not exist yet: CREATE TABLE {trades_per_minute} AS "
    f"SELECT symbol, COUNT(*) AS trades FROM {trades} WINDOW TUMBLING (SIZE 60 SECONDS) "
    "GROUP BY symbol EMIT CHANGES; with ksql.execute(sql, EARLIEST)"
)

# %%
tables = {t["name"]: t for t in ksql.execute("SHOW TABLES;")[0]["tables"]}
assert trades_per_minute in tables, f"the table {trades_per_minute} does not exist yet"
assert tables[trades_per_minute].get("isWindowed"), (
    f"{trades_per_minute} is not windowed: add WINDOW TUMBLING (SIZE 60 SECONDS) after FROM"
)
wait_for_count(trades_per_minute, len(TRADES), timeout=15)
got = {(r["KEY"], r["WINDOWSTART"]): r.get("TRADES") for r in window_rows(trades_per_minute)}
assert got == by_hand, (
    f"{trades_per_minute} has {len(got)} (symbol, window) rows and {sum(v or 0 for v in got.values())} "
    f"trades; expected {len(by_hand)} rows and 60 trades as in by_hand - 60-second tumbling windows, "
    "GROUP BY symbol, the count named `trades`, and EARLIEST"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG


[described] = ksql.execute(f"DESCRIBE {trades_per_minute};")
fields = {f["name"]: f for f in described["sourceDescription"]["fields"]}
assert fields.get("SYMBOL", {}).get("type") == "KEY", (
    f"{trades_per_minute} must be keyed by SYMBOL (GROUP BY symbol); its columns: {sorted(fields)}"
)
assert "TRADES" in fields, f"call the count column `trades` (columns: {sorted(fields)})"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### Window bounds: `WINDOWSTART` and `WINDOWEND`
#
# A windowed table's key is the symbol *and* the window. ksqlDB exposes the window as two pseudo
# columns, `WINDOWSTART` and `WINDOWEND` (epoch ms), which a query can select and filter on. A
# **pull query** reads the current rows of one symbol — and, with bounds on `WINDOWSTART`, of a
# range of minutes:

# %%
ksql_show(f"""
    SELECT symbol, WINDOWSTART, WINDOWEND, trades FROM {trades_per_minute}
    WHERE symbol = 'ZVZZT' AND WINDOWSTART >= {BASE + MINUTE} AND WINDOWSTART < {BASE + 3 * MINUTE};
""")

# %% [markdown]
# Expected:
#
# ```text
# SYMBOL | WINDOWSTART   | WINDOWEND     | TRADES
# ZVZZT  | 1767258060000 | 1767258120000 | 2
# ZVZZT  | 1767258120000 | 1767258180000 | 3
# ```
#
# 09:01 and 09:02: two rows for one symbol, one per window. The same rows can also be read
# without ksqlDB, from the table's topic. The table's topic is its changelog: one record per update, the key being the symbol's bytes
# followed by the window start (8 bytes) — Kafka Streams' *windowed* key format. The helper
# `window_rows` reads it back and keeps each window's latest value; `window_updates` keeps every
# update:

# %%
updates = [u for u in window_updates(trades_per_minute, MINUTE) if u["KEY"] == "ZJZZT"]
print(len(updates), "updates of ZJZZT's rows:")
print_windows(updates[:4])

# %% [markdown]
# ```text
# 13 updates of ZJZZT's rows:
# ZJZZT  [09:00:00, 09:01:00)  TRADES=1
# ZJZZT  [09:00:00, 09:01:00)  TRADES=2
# ZJZZT  [09:00:00, 09:01:00)  TRADES=3
# ZJZZT  [09:01:00, 09:02:00)  TRADES=1
# ```
#
# A new minute starts a new row at 1; the old minute's row stays (until the store's retention
# drops it). The whole table at a glance:

# %%
plot_window_counts(window_rows(trades_per_minute, MINUTE), "TRADES", "trades per symbol and minute")

# %% [markdown]
# A stacked bar per minute: twelve trades in every minute (one every 5 s), split by symbol.
#
# ## 7.4 Hopping and session windows, briefly
#
# Three window types, the same `GROUP BY`:
#
# | window | clause | an event is in … | typical question |
# |---|---|---|---|
# | tumbling | `WINDOW TUMBLING (SIZE 60 SECONDS)` | exactly one window | trades per minute |
# | hopping | `WINDOW HOPPING (SIZE 60 SECONDS, ADVANCE BY 30 SECONDS)` | `size / advance` windows | a moving count: the last minute, every 30 s |
# | session | `WINDOW SESSION (30 SECONDS)` | one session per key, that grows while events come less than the gap apart | activity bursts, user sessions |
#
# A hopping table over the same trades:

# %%
hopping = f"TRADES_HOPPING_{RUN}"
ksql.execute(f"""
    CREATE TABLE IF NOT EXISTS {hopping} AS
      SELECT symbol, COUNT(*) AS trades FROM {trades}
      WINDOW HOPPING (SIZE 60 SECONDS, ADVANCE BY 30 SECONDS)
      GROUP BY symbol EMIT CHANGES;
""", EARLIEST)
wait_for_count(hopping, 2 * len(TRADES))  # every trade updates two windows
print_windows([r for r in window_rows(hopping, MINUTE) if r["KEY"] == "ZJZZT"][:4])

# %% [markdown]
# ```text
# ZJZZT  [08:59:30, 09:00:30)  TRADES=3
# ZJZZT  [09:00:00, 09:01:00)  TRADES=3
# ZJZZT  [09:01:00, 09:02:00)  TRADES=2
# ZJZZT  [09:01:30, 09:02:30)  TRADES=2
# ```
#
# The windows overlap: each trade counts in two of them — hence 120 updates for 60 trades. The
# first window starts at 08:59:30, before the first trade: windows are aligned to the epoch, and
# `[08:59:30, 09:00:30)` contains the trades of 09:00:00 to 09:00:25. (`ZJZZT` traded only in the
# first half of 09:00, so `[09:00:30, 09:01:30)` has no trade of it and no row.) And a session table, where a
# symbol's session lasts as long as its trades come less than 30 s apart:

# %%
sessions = f"TRADES_SESSIONS_{RUN}"
ksql.execute(f"""
    CREATE TABLE IF NOT EXISTS {sessions} AS
      SELECT symbol, COUNT(*) AS trades FROM {trades}
      WINDOW SESSION (30 SECONDS)
      GROUP BY symbol EMIT CHANGES;
""", EARLIEST)
wait_for_count(sessions, len(TRADES))
rows = [r for r in window_rows(sessions, session=True) if r["KEY"] == "ZJZZT"]
print_windows(rows)

# %% [markdown]
# ```text
# ZJZZT  [09:00:10, 09:00:25)  TRADES=3
# ZJZZT  [09:01:35, 09:01:55)  TRADES=2
# ZJZZT  [09:03:05, 09:04:40)  TRADES=8
# ```
#
# A session's bounds are its first and last event, so its length varies (a lone trade makes a
# session of length 0); the last one lasts 95 s because `ZJZZT` never paused 30 s in it. When an
# event bridges two sessions they **merge**: the table's topic then gets a *tombstone* (a `null`
# value) for each old session and the merged one replaces them, which is why a session key carries
# both the start and the end.
#
# ## 7.5 Late events and the grace period
#
# Events do not always arrive in time order: a phone was offline, a producer retried, a partition
# was replayed. A windowed aggregation tracks **stream time** — the largest timestamp it has seen
# so far (per partition of the input) — and treats an event older than that as **late**. A late
# event still updates its window as long as the window is **open**; a window closes once stream
# time passes its end plus the **grace period**:
#
# > an event with timestamp *t* is accepted if `window_end(t) > stream_time − grace`, where stream
# > time includes the event itself; otherwise it is **dropped** (skipped, counted in a metric, and
# > in ksqlDB not written anywhere).
#
# Without a `GRACE PERIOD` clause, ksqlDB keeps windows open for about 24 hours (Kafka Streams'
# old default, which Kafka itself deprecated in KIP-633) — generous for late events, but an
# `EMIT FINAL` table (7.6) would then wait a day to say anything. Write the clause every time.
#
# The experiment: tumbling minutes with `GRACE PERIOD 10 SECONDS`, and nine events sent **in this
# order** (time = seconds after 09:00:00), some of them late:

# %%
LATE_EVENTS = [  # (event id, event time) in the order they are produced
    ("e1", BASE + 5_000),
    ("e2", BASE + 20_000),
    ("e3", BASE + 65_000),   # stream time 65 s: the first minute is still open (until 70 s)
    ("e4", BASE + 50_000),   # 15 s late, first minute
    ("e5", BASE + 75_000),   # stream time 75 s: the first minute has closed
    ("e6", BASE + 55_000),   # late, first minute
    ("e7", BASE + 130_000),  # stream time 130 s
    ("e8", BASE + 119_000),  # late, second minute
    ("e9", BASE + 121_000),  # late? third minute
]
late_topic = f"late-{run_id()}"
if create_topic(late_topic, partitions=1):  # one partition: one stream time
    producer = Producer(producer_config())
    for event_id, ts in LATE_EVENTS:
        producer.produce(late_topic, key=b"sensor", value=json.dumps({"id": event_id}), timestamp=ts)
    producer.flush(10)

late, late_counts = f"LATE_{RUN}", f"LATE_COUNTS_{RUN}"
ksql.execute(f"""
    CREATE STREAM IF NOT EXISTS {late} (source STRING KEY, id STRING)
      WITH (KAFKA_TOPIC='{late_topic}', VALUE_FORMAT='JSON');
    CREATE TABLE IF NOT EXISTS {late_counts} AS
      SELECT source, COUNT(*) AS events, COLLECT_LIST(id) AS ids FROM {late}
      WINDOW TUMBLING (SIZE 60 SECONDS, GRACE PERIOD 10 SECONDS)
      GROUP BY source EMIT CHANGES;
""", EARLIEST)
print("produced", len(LATE_EVENTS), "events;", late_counts, "got", wait_for_count(late_counts, 5), "updates")


# %% [markdown]
# Before looking at the table: which events did it accept?
#
# ### Exercise `07-late` (2 points)
#
# Write `accepted(events, size, grace)`: replay `events` — `(id, timestamp)` pairs in the order they
# arrive, one partition — through a tumbling window of `size` with a grace period of `grace` (all in
# ms), and return the ids of the events that were **accepted**, in arrival order. Keep the stream
# time (the largest timestamp so far, *including* the current event); an event is accepted when
# its window's end is greater than `stream time − grace`.
#
# Expected output of the cell:
#
# ```text
# ['e1', 'e2', 'e3', 'e4', 'e5', 'e7', 'e9']
# ```
#
# Then the next cell shows what ksqlDB did with the same events.

# %% [raw]
# # BEGIN QUESTION
# name: 07-late
# points: 2
# stub_feedback: "still raises NotImplementedError"

# %%
def accepted(events: list[tuple[str, int]], size: int, grace: int) -> list[str]:
    # BEGIN SOLUTION
    stream_time = None
    kept = []
    for event_id, ts in events:
        stream_time = ts if stream_time is None else max(stream_time, ts)
        window_end = ts // size * size + size
        if window_end > stream_time - grace:
            kept.append(event_id)
    return kept
    # END SOLUTION


accepted(LATE_EVENTS, MINUTE, 10_000)

# %% [raw]
# # BEGIN TESTS

# %%
got = accepted(LATE_EVENTS, MINUTE, 10_000)
assert got == ["e1", "e2", "e3", "e4", "e5", "e7", "e9"], (
    f"accepted(LATE_EVENTS, 60 s, 10 s) gives {got!r}; e6 and e8 are the ones dropped: e6 "
    "(55 s) arrives when stream time is 75 s, and its window [0, 60) closed at 60 + 10 = 70 s"
)

# %%
in_order = [("a", 1_000), ("b", 61_000), ("c", 121_000)]
got = accepted(in_order, MINUTE, 0)
assert got == ["a", "b", "c"], (
    f"events in time order are never late, even with no grace (got {got!r})"
)
got = accepted([("a", 100_000), ("b", 10_000)], MINUTE, 0)
assert got == ["a"], (
    f"with grace 0, b (10 s) arriving after a (100 s) is dropped: got {got!r}"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG


assert accepted([], MINUTE, 0) == [], "no events: an empty list"
got = accepted([("a", 100_000), ("b", 10_000)], MINUTE, 60_000)
assert got == ["a", "b"], f"a grace of 60 s keeps b's window [0, 60) open until 120 s (got {got!r})"
got = accepted([("a", 70_000), ("b", 59_999), ("c", 60_000)], MINUTE, 10_000)
assert got == ["a", "c"], (
    f"at stream time 70 s with 10 s grace, [0, 60) has just closed (60 > 70 - 10 is false): "
    f"expected ['a', 'c'], got {got!r}"
)
got = accepted([("a", 200_000), ("b", 10_000), ("c", 150_000)], 2 * MINUTE, 30_000)
assert got == ["a", "c"], f"the window size is a parameter: 2-minute windows give ['a', 'c'], got {got!r}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
for row in window_rows(late_counts, MINUTE):
    print_windows([row], ["EVENTS", "IDS"])

# %% [markdown]
# ```text
# sensor [09:00:00, 09:01:00)  EVENTS=3  IDS=['e1', 'e2', 'e4']
# sensor [09:01:00, 09:02:00)  EVENTS=2  IDS=['e3', 'e5']
# sensor [09:02:00, 09:03:00)  EVENTS=2  IDS=['e7', 'e9']
# ```
#
# `e4` was 15 s late and still counted — its minute was open until 70 s. `e6` and `e8` were
# dropped: no row mentions them, and nothing in the output says they ever existed (ksqlDB logs
# "Skipping record for expired window" and counts them in the `dropped-records` metric). `e9` was
# late too (stream time 130 s), but its minute `[120, 180)` was still open.
#
# Choosing the grace period is a trade-off: longer means fewer dropped events, but a window's
# count is final only later, and the store keeps more windows. Measure how late your events
# really are (event time vs the time you see them) and pick a grace above that.
#
# ## 7.6 `EMIT CHANGES` or `EMIT FINAL`
#
# Every table so far was `EMIT CHANGES`: each accepted event produced an updated row, so a
# consumer of `LATE_COUNTS` saw 1, 2, 3 for the first minute. That is what a live dashboard wants
# (the application's per-minute tables use it), but not what an alert wants: "more than 3 this
# minute" must not fire on a partial count, nor twice. `EMIT FINAL` waits until a window closes
# (end + grace) and emits **one** row per window, its final value.

# %%
late_final = f"LATE_FINAL_{RUN}"
ksql.execute(f"""
    CREATE TABLE IF NOT EXISTS {late_final} AS
      SELECT source, COUNT(*) AS events, COLLECT_LIST(id) AS ids FROM {late}
      WINDOW TUMBLING (SIZE 60 SECONDS, GRACE PERIOD 10 SECONDS)
      GROUP BY source EMIT FINAL;
""", EARLIEST)
wait_for_count(late_final, 2)
print("EMIT CHANGES:", len(window_updates(late_counts)), "records")
print("EMIT FINAL:  ", len(window_updates(late_final)), "records")
print_windows(window_updates(late_final, MINUTE), ["EVENTS", "IDS"])

# %% [markdown]
# ```text
# EMIT CHANGES: 7 records
# EMIT FINAL:   2 records
# sensor [09:00:00, 09:01:00)  EVENTS=3  IDS=['e1', 'e2', 'e4']
# sensor [09:01:00, 09:02:00)  EVENTS=2  IDS=['e3', 'e5']
# ```
#
# Seven updates (one per accepted event) against two final rows. The third minute is missing from
# the `EMIT FINAL` table: it closes at 190 s of stream time, and no event has pushed stream time
# that far. That is the catch of `EMIT FINAL` — results come only when *newer events arrive*; on a
# quiet partition the last window waits. (Stream time is per partition, so a topic with many
# partitions and little traffic shows it more.)
#
# ### Validate this step
#
# Not graded: the `EMIT FINAL` table holds exactly the first two minutes with 3 and 2 events, and
# the `EMIT CHANGES` table all three.

# %% [raw]
# # BEGIN QUESTION
# name: 07-validate-windows
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
wait_for_count(late_final, 2, timeout=15)
final = {r["WINDOWSTART"] - BASE: r["EVENTS"] for r in window_rows(late_final)}
changes = {r["WINDOWSTART"] - BASE: r["EVENTS"] for r in window_rows(late_counts)}
assert changes == {0: 3, MINUTE: 2, 2 * MINUTE: 2}, (
    f"{late_counts} has {changes} (ms after 09:00 -> events); expected 3, 2 and 2: run 7.5 again "
    "(restart the kernel if the late events were produced twice)"
)
assert final == {0: 3, MINUTE: 2}, (
    f"{late_final} has {final}; expected only the two closed minutes, with 3 and 2 events: run 7.6"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Recap
#
# - Windows are cut along **event time** (the record timestamp, or a `TIMESTAMP=` column), so a
#   replay gives the same windows.
# - **Tumbling**: back-to-back, one window per event. **Hopping**: overlapping, `size / advance`
#   windows per event. **Session**: per key, as long as events come within the gap; sessions merge.
# - A windowed table's key is *(key, window)*; `WINDOWSTART` and `WINDOWEND` expose the bounds,
#   and a pull query can filter on them. The topic holds the windowed key (key bytes + start).
# - **Stream time** is the largest timestamp seen; an event older than that is late, and is still
#   counted while its window is open: `window end > stream time − grace`. Later than that, it is
#   silently dropped. Without `GRACE PERIOD`, ksqlDB keeps windows open 24 hours.
# - `EMIT CHANGES` sends every update (dashboards); `EMIT FINAL` one row per window once it
#   closes (alerts), and only when newer events move stream time on.
#
# Run `progress()` to see where you stand. **Next:** Lab 08 — how all this scales: partitions,
# consumer groups, ordering, and the article's 1,000-partition experiment.

# %%
progress()
