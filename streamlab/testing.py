"""Helpers for tests and benchmarks that drive the ``streamlab`` command in a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streamlab.config import project_root

ROOT = project_root(Path(__file__).parent)  # the checkout (streamlab is installed editable)


def cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """``streamlab <args>`` with ``env`` (a lab home of its own, say), from the project root;
    output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "streamlab.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
