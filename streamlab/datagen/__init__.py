"""Datagen-compatible generators: Confluent's STOCK_TRADES and USERS quickstarts plus the lesson
datasets (rides, logins), deterministic per seed, paced, and runnable three ways.

    >>> from streamlab import datagen
    >>> key, value = next(datagen.generate("stock_trades", seed=0))
    >>> datagen.run("stock_trades", "stocktrade", rate="10/s", count=100)  # doctest: +SKIP
    >>> datagen.start_background("users", rate="1/s")  # outlives the kernel  # doctest: +SKIP
    >>> datagen.seed_topics(users=9)  # twice is the same as once  # doctest: +SKIP

Shapes: :mod:`streamlab.datagen.datasets`. Command line: ``python -m streamlab.datagen --help``.
"""

from streamlab.datagen.background import (
    ensure_serving,
    list_background,
    serve_pid,
    start_background,
    stop_background,
    stop_serving,
)
from streamlab.datagen.cli import main
from streamlab.datagen.datasets import (
    DATASETS,
    DatagenError,
    Dataset,
    Field,
    encode,
    generate,
    get,
    users_table,
)
from streamlab.datagen.producer import run
from streamlab.datagen.rate import parse_rate
from streamlab.datagen.seed import APP_TOPICS, SeedResult, read_topic, seed_topics

__all__ = [
    "APP_TOPICS",
    "DATASETS",
    "DatagenError",
    "Dataset",
    "Field",
    "SeedResult",
    "encode",
    "ensure_serving",
    "generate",
    "get",
    "list_background",
    "main",
    "parse_rate",
    "read_topic",
    "run",
    "seed_topics",
    "serve_pid",
    "start_background",
    "stop_background",
    "stop_serving",
    "users_table",
]
