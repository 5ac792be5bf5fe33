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
# # Lab 00 — Welcome and lab check
#
# **Estimated time:** 15 minutes · **Next:** [Lab 01 — Events, topics, partitions, consumer groups](01_events_topics_partitions.ipynb)
#
# Welcome to the workshop. Over ten labs you will build a small trading application the way
# Confluent's *Serverless Stream Processing with Apache Kafka, AWS Lambda and ksqlDB* describes it:
# events in Kafka topics, stateless and stateful processing in ksqlDB, and an AWS Lambda function
# that settles trades. Everything runs on your laptop, offline.
#
# ### Objectives
#
# By the end of this lab you will have:
#
# 1. checked that the lab stack (Kafka, Schema Registry, the AWS endpoint) is up and reachable;
# 2. sent your first event to a Kafka topic and read it back;
# 3. solved a first graded exercise and seen how checks and progress work.

# %% [markdown]
# ## 0.1 How the labs work
#
# Every lab follows the same rhythm:
#
# - **Explain** — a few paragraphs on one idea;
# - **Show** — small cells you run (`Shift+Enter`) that demonstrate it;
# - **Your turn** — an exercise cell marked `# YOUR CODE HERE`. Replace the placeholder
#   (`...` or the `raise NotImplementedError(...)` line) with your code and run the cell.
#
# Below each exercise, a cell runs `check("<exercise>")`. It runs the exercise's **public checks**
# against your variables and tells you, as a hint, what is still wrong. When your work is graded,
# **hidden checks** run as well (other cases, the same idea), so a public pass is a very good sign
# but not yet the final score. Each `check` is logged on your machine; `progress()` shows what is
# done.
#
# A few habits that save time:
#
# - run the cells **in order**, top to bottom; if something looks odd, use *Kernel → Restart
#   Kernel and Run All Cells*;
# - every topic and consumer group name in a lab ends with a short **run id**, new for each kernel
#   session, so re-running a lab never meets data from an earlier attempt;
# - the lab stack runs in the background; `streamlab status` in a terminal shows it.

# %% [markdown]
# ## 0.2 Pick the profile
#
# The workshop runs on several *profiles*: `emulated` (the default: everything offline, in Python)
# and `jvm` (real Apache Kafka from Maven jars). The same notebook runs on every profile; only this
# cell changes, and it must match the profile the lab was started with. Leave it as it is unless
# your instructor says otherwise. Expected output: `profile: emulated`.

# %%
import os

# os.environ["STREAMLAB_PROFILE"] = "jvm"  # uncomment for real Apache Kafka (needs `streamlab up --profile jvm`)

from streamlab.config import active_profile

print("profile:", active_profile().name)

# %% [markdown]
# The versions of the main packages, handy when you ask for help:

# %%
import importlib.metadata as md

for package in ("streamlab", "confluent-kafka", "boto3", "protobuf"):
    print(f"{package:16} {md.version(package)}")

# %% [markdown]
# ## 0.3 Lab check
#
# The next cell checks the same things as `streamlab doctor` in a terminal, then whether the lab
# stack runs and Kafka answers. Each line is `[OK]`, `[WARN]` or `[FAIL]`, and a `[FAIL]` line says
# what to do.
#
# **If you see `[FAIL] kafka is stopped`:** open a terminal in the project folder and run
# `.venv/bin/streamlab up` (or `make up`), wait for *streamlab is up*, then run the cell again.

# %%
from streamlab.notebook import lab_check

lab_ready = lab_check()

# %% [markdown]
# Expected output (ports and sizes differ on your machine):
#
# ```text
# [OK]   profile 'emulated': the offline emulators in streamlab (no JVM, no Docker)
# [OK]   Python 3.11.7
# ...
# [OK]   kafka is running
# [OK]   Kafka answers at 127.0.0.1:9092
# The lab is ready.
# ```

# %% [markdown]
# ## 0.4 A first event: produce and consume
#
# Kafka stores **events** in **topics**. A *producer* appends events to a topic; a *consumer* reads
# them back, in order, as often as it likes: reading does not remove anything.
#
# `streamlab.config` gives every client the settings of the active profile, so the code below is
# exactly what you would write against a real cluster. First, a topic of our own. Its name ends
# with this session's run id:

# %%
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from streamlab.config import kafka_config, producer_config
from streamlab.grading import check, progress
from streamlab.notebook import create_topic, read_topic, run_id

welcome_topic = f"welcome-{run_id()}"
create_topic(welcome_topic, partitions=1)
print("topic:", welcome_topic)

# %% [markdown]
# Now three events. `produce()` only puts an event in the producer's buffer; `flush()` waits until
# the broker has acknowledged everything buffered. Forgetting `flush()` is the most common reason
# an event "never arrives" — we come back to this in Lab 06, inside AWS Lambda.

# %%
producer = Producer(producer_config())
for n, word in enumerate(["stream", "all", "the things"]):
    producer.produce(welcome_topic, key=f"greeting-{n}", value=word)
print("still buffered before flush:", len(producer))
print("still buffered after flush: ", producer.flush(10))

# %% [markdown]
# And read them back. This consumer is *assigned* the topic's only partition, starting from the
# beginning; it stops once it has seen the three events.

# %%
consumer = Consumer(kafka_config(**{"group.id": f"welcome-reader-{run_id()}"}))
consumer.assign([TopicPartition(welcome_topic, 0, OFFSET_BEGINNING)])
received = []
while len(received) < 3:
    msg = consumer.poll(5)
    if msg is None:
        break  # nothing within 5 s: see the lab check above
    if msg.error():
        print("error:", msg.error())
        continue
    received.append((msg.offset(), msg.key().decode(), msg.value().decode()))
consumer.close()
for offset, key, value in received:
    print(f"offset {offset}: key={key!r} value={value!r}")

# %% [markdown]
# Expected output:
#
# ```text
# offset 0: key='greeting-0' value='stream'
# offset 1: key='greeting-1' value='all'
# offset 2: key='greeting-2' value='the things'
# ```
#
# Each event got an **offset**, its position in the partition: 0, 1, 2. Lab 01 is all about these.
#
# ### Validate this step
#
# The cell below is not graded; it confirms the round trip worked before you move on.

# %% [raw]
# # BEGIN QUESTION
# name: 00-validate-roundtrip
# points: 0

# %% [raw]
# # BEGIN TESTS

# %%
assert received, (
    f"no event came back from {welcome_topic!r}: run the produce cell and then the consume "
    "cell again; if it still fails, the lab check above says what is wrong"
)
assert [value for _, _, value in received] == ["stream", "all", "the things"], (
    f"expected the three words in order, got {received!r}: run the cells from 0.4 again"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 0.5 Your turn: say hello
#
# **Exercise `00-hello` (2 points).** Set `MY_NAME` to your name (a non-empty string), then produce
# **one** event to `welcome_topic` whose **key** is `MY_NAME` and whose **value** is exactly
# `hello, streamlab`. Do not forget to flush.
#
# *Hint:* the produce cell in 0.4 does almost the same thing.
#
# Expected: `check("00-hello")` prints `[PASS] 00-hello: all 2 public check(s) passed.`

# %% [raw]
# # BEGIN QUESTION
# name: 00-hello
# points: 2
# stub_feedback: "set MY_NAME to your name"

# %%
MY_NAME = "Ada"  # SOLUTION
hello_producer = Producer(producer_config())
# BEGIN SOLUTION
hello_producer.produce(welcome_topic, key=MY_NAME, value="hello, streamlab")
hello_producer.flush(10)
# END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
shown = "still ..." if MY_NAME is ... else repr(MY_NAME)
assert isinstance(MY_NAME, str) and MY_NAME.strip(), (
    f"set MY_NAME to your name as a non-empty string, e.g. MY_NAME = 'Ada' (it is {shown})"
)

# %%
mine = [r for r in read_topic(welcome_topic) if r["key"] == str(MY_NAME).encode()]
assert mine, (
    f"topic {welcome_topic!r} has no event with your name ({MY_NAME!r}) as key yet: produce one with "
    "hello_producer.produce(welcome_topic, key=MY_NAME, value=...) and then call flush()"
)

# %%
""" # BEGIN TEST CONFIG
hidden: true
""" # END TEST CONFIG
mine = [r for r in read_topic(welcome_topic) if r["key"] == str(MY_NAME).encode()]
assert mine, f"no event with key {MY_NAME!r} in {welcome_topic!r}"
values = [r["value"].decode() for r in mine]
assert "hello, streamlab" in values, (
    f"the event with key {MY_NAME!r} has value {values[-1]!r}; the exercise asks for "
    "'hello, streamlab' exactly"
)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 0.6 Your progress
#
# `progress()` lists every exercise of every lab and what your last `check` said. It reads a small
# file in the lab folder (`.streamlab/progress.json`); nothing leaves your machine.

# %%
progress()

# %% [markdown]
# ## Recap
#
# - The lab stack runs in the background; `lab_check()` (or `streamlab doctor` and
#   `streamlab status` in a terminal) tells you whether it is ready and what to do if not.
# - A **producer** appends events to a **topic**; `flush()` waits until they are stored.
# - A **consumer** reads them back in order; each event has an **offset** in its partition.
# - `check("…")` runs the public checks with hints; hidden checks run at grading time;
#   `progress()` shows what is done.
#
# **Next:** [Lab 01 — Events, topics, partitions and consumer groups](01_events_topics_partitions.ipynb).
