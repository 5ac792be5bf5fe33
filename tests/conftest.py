"""Options shared by every test folder (pytest only reads pytest_addoption from the root), a
cleanup every test gets, and how the suite is split across pytest-xdist workers."""

import sys

import pytest


@pytest.fixture(autouse=True)
def _no_query_runner_left_on_this_thread():
    """Runner tests set ``local.runner`` (the query runner of the current thread) on pytest's
    thread; a later test in the same worker whose stores write from this thread would send
    their changelog records to that stale runner instead of the cluster."""
    yield
    runner = sys.modules.get("streamlab.ksql.kafka_runtime.runner")
    if runner is not None:
        runner.local.__dict__.pop("runner", None)


def pytest_addoption(parser):
    group = parser.getgroup("kafka", "Kafka conformance suite (tests/conformance)")
    group.addoption(
        "--kafka-bootstrap",
        metavar="HOST:PORT",
        help="run tests/conformance against this external cluster instead of the emulator "
        "and real Kafka started locally",
    )
    group.addoption(
        "--kafka-config",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="extra librdkafka client setting for --kafka-bootstrap (repeatable), e.g. "
        "security.protocol=SASL_SSL",
    )


# --------------------------------------------------------------------------------------------
# Parallel runs: pytest-xdist with `-n 4 --dist loadscope --no-loadscope-reorder` (pyproject.toml)
#
# Most tests wait on child processes and sockets, so four workers fit on two cores (the whole
# suite: 25 min in one process, under 7 min on 4 workers). A test file is one work unit, so its
# module fixtures (a broker, a ksql server, a lab stack) start once, on one worker. Files
# parametrized over a session-scoped cluster are split per cluster kind: the emulator half and
# the real-Kafka half of a file run side by side. (xdist's own `loadgroup` marks do nothing on
# pytest 9.2: xdist renames `item._nodeid`, which pytest no longer reads.)

# Folders whose tests take a session-scoped `kafka`/`cluster` param with these ids.
_SPLIT_DIRS = ("tests/conformance/", "tests/ksql_faults/")
_KINDS = ("emulator", "realkafka")

# The longest work units (seconds each, from a parallel run's --durations) are handed out first,
# so none of them is left running alone at the end. Unlisted units take under 30 s.
_LONGEST: dict[str, int] = {
    "tests/notebooks/test_labs.py": 300,  # grades 22 notebooks, a fresh kernel each
    "tests/e2e/test_stack.py": 90,
    "tests/ksql_server/test_record_cache.py": 65,
    "tests/notebooks/test_jvm_profile.py": 65,
    "tests/registry/test_registry_integration.py": 55,
    "tests/app/test_flow_e2e.py": 40,
    "tests/ksql_server/test_store_cache.py": 35,
    "tests/awslambda/test_lambda_scaling_replay.py": 35,
    "tests/conformance/test_durability.py|realkafka": 33,
    "tests/ksql_server/test_restart.py": 32,
    "tests/ksql_faults/test_random_kills.py|realkafka": 32,
    "tests/integration/test_groups.py": 31,
    "tests/ksql_server/test_final_restore.py": 30,
}


def _work_unit(nodeid: str) -> str:
    """The file, plus the cluster kind for the split folders."""
    path, _, name = nodeid.partition("::")
    if path.startswith(_SPLIT_DIRS) and name.endswith("]"):
        ids = name[name.find("[") + 1 : -1].split("-")
        path = "|".join([path, *(kind for kind in _KINDS if kind in ids)])
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return WorkUnits(config, log)


@pytest.hookimpl(trylast=True)  # after pytest has grouped the items by their session params
def pytest_collection_modifyitems(config, items) -> None:
    if not hasattr(config, "workerinput"):  # only xdist workers: it is their order that
        return  # the scheduler hands out (with --no-loadscope-reorder)
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        first.setdefault(_work_unit(item.nodeid), i)

    def order(item) -> tuple[int, int]:
        unit = _work_unit(item.nodeid)
        return -_LONGEST.get(unit, 0), first[unit]

    items.sort(key=order)


_WORKER_SECTIONS: dict[str, list[str]] = {}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """Summary sections a worker computed (e.g. the QTT pass counts of tests/qtt/conftest.py):
    only the controller prints."""
    for title, lines in getattr(node, "workeroutput", {}).get("summary_sections", {}).items():
        _WORKER_SECTIONS.setdefault(title, []).extend(lines)


def pytest_terminal_summary(terminalreporter) -> None:
    for title, lines in _WORKER_SECTIONS.items():
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(line)
