"""The labs run unchanged on the jvm profile: real Apache Kafka (from Maven Central jars) under
our registry, ksql engine and Lambda emulator.

nbval runs each lab's answer key in a fresh kernel (``--nbval-lax``: every cell must run without
raising; outputs are not compared, the notebooks are stored without them). Each ``check(...)``
cell becomes ``assert check(...).passed`` here, so a public check that fails on real Kafka fails
the run too. Hidden checks and the learner copies are graded on the emulated profile
(test_labs.py); this file proves the profile switch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from streamlab.grading.authoring import find_labs, load_lab
from streamlab.grading.build import learner_notebook, render
from streamlab.testing import cli
from tests.notebooks._config import RETENTION_EVERY_SECOND

ROOT = Path(__file__).resolve().parents[2]
# CI runs the minimum (welcome, events, producer lifecycle) and the windows lab, whose
# events carry their own timestamps (Kafka's retention deletes by them);
# STREAMLAB_JVM_LABS=all runs every lab on real Kafka (about 4 minutes more).
ON_JVM = ("",) if os.environ.get("STREAMLAB_JVM_LABS") == "all" else ("00_", "01_", "06_", "07_")
LABS = [load_lab(p) for p in find_labs(ROOT / "solutions") if p.stem.startswith(ON_JVM)]

pytestmark = pytest.mark.realkafka


@pytest.fixture(scope="module")
def jvm_env(tmp_path_factory: pytest.TempPathFactory):
    from streamlab import realkafka

    ok, reason = realkafka.available()
    if not ok:
        pytest.skip(f"real Kafka unavailable: {reason} (install Java 17+ and Maven; CI has both)")
    base = tmp_path_factory.mktemp("jvm-lab")
    home = base / "lab"
    home.mkdir()
    (home / "config.toml").write_text(
        'profile = "jvm"\n[ports]\nkafka = 0\nconsole = 0\nregistry = 0\naws = 0\nksql = 0\n'
        + RETENTION_EVERY_SECOND
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLAB_")}
    env.update(
        STREAMLAB_HOME=str(home),
        STREAMLAB_PROFILE="jvm",
        STREAMLAB_CHECKS_DIR=str(ROOT / "notebooks" / "checks"),
        XDG_CONFIG_HOME=str(base / "user-config"),
    )
    up = cli("up", "--profile", "jvm", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = cli("status", env=env, timeout=60)
        assert "jvm" in status.stdout, status.stdout + status.stderr
        yield env
    finally:
        cli("down", env=env, timeout=120)


def _strict_answer_key(lab) -> nbformat.NotebookNode:
    nb = learner_notebook(lab, keep_solutions=True)
    for cell in nb.cells:
        meta = cell.metadata.get("streamlab", {})
        if meta.get("role") == "check":
            cell.source = f"_result = {cell.source}\nassert _result.passed, repr(_result)\n_result"
    return nb


def test_the_labs_need_these_three_on_jvm() -> None:
    assert {lab.lab_id[:3] for lab in LABS} >= {"00_", "01_"}, [lab.lab_id for lab in LABS]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.lab_id)
def test_answer_key_runs_on_real_kafka_under_nbval(lab, jvm_env, tmp_path: Path) -> None:
    path = tmp_path / f"{lab.lab_id}.ipynb"
    path.write_text(render(_strict_answer_key(lab)), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), "-o", "addopts=", "--nbval-cell-timeout", "300", str(path)],
        cwd=tmp_path,
        env=jvm_env,
        capture_output=True,
        text=True,
        timeout=840,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout, run.stdout[-2000:]
