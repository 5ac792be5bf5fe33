"""The state file (what `up` created, with the keys' secrets) and the `cloud` profile file.

Both live in the lab home (``.streamlab/``, git-ignored), are written atomically (a temporary
file, then ``os.replace``) with mode 0600, and are never printed: a key's secret is shown only
once, in the answer that creates it, so the state file is the only place it is kept.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from streamlab.config import ConfigError

STATE_NAME = "cloud/state.json"
PROFILE_NAME = "profiles/cloud.toml"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class State:
    """A dict saved after every change: a run that stops half-way leaves an exact record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path.is_file():
            try:
                self.data = json.loads(path.read_text())
            except ValueError as e:
                raise ConfigError(
                    f"the state file {path} is damaged ({e}); move it away and run "
                    "`python -m setup.cloud down --name <name>` to find the resources by name"
                ) from None

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def put(self, key: str, value: Any) -> Any:
        self.data[key] = value
        self.save()
        return value

    def drop(self, key: str) -> None:
        if self.data.pop(key, None) is not None:
            self.save()

    def save(self) -> None:
        write_private(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a TOML basic string accepts JSON's escapes


def profile_text(endpoints: dict[str, str], credentials: dict[str, str]) -> str:
    lines = [
        "# Written by `python -m setup.cloud up`; removed by `down`. Holds API secrets:",
        "# it lives in the git-ignored lab home and must never be committed or shared.",
        "[profiles.cloud]",
        *(f"{k} = {_toml_str(v)}" for k, v in endpoints.items()),
        "",
        "[credentials.cloud]",
        *(f"{k} = {_toml_str(v)}" for k, v in credentials.items()),
    ]
    return "\n".join(lines) + "\n"
