"""A lab stack for the notebook tests: started once per module in a throwaway lab home on
OS-chosen ports (as tests/e2e/test_stack.py does), stopped at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamlab.testing import cli
from tests.notebooks._config import RETENTION_EVERY_SECOND

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")  # torn down after test_labs.py: env restored
def lab_home(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("notebook-lab")
    home = base / "lab"
    home.mkdir()
    (home / "config.toml").write_text(
        "[ports]\nkafka = 0\nconsole = 0\nregistry = 0\naws = 0\nksql = 0\n"
        + RETENTION_EVERY_SECOND
    )
    saved = {k: v for k, v in os.environ.items() if k.startswith("STREAMLAB_")}
    saved_xdg = os.environ.get("XDG_CONFIG_HOME")
    for name in saved:
        del os.environ[name]
    # the kernels nbclient starts inherit this environment
    os.environ["STREAMLAB_HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(base / "user-config")
    env = dict(os.environ)
    up = cli("up", env=env, timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield home
    finally:
        cli("down", env=env)
        del os.environ["STREAMLAB_HOME"]
        if saved_xdg is None:
            os.environ.pop("XDG_CONFIG_HOME", None)
        else:
            os.environ["XDG_CONFIG_HOME"] = saved_xdg
        os.environ.update(saved)
