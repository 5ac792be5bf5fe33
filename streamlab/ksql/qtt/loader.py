"""Loading ksqlDB query-validation tests (QTT): test files, manifest, case expansion.

Test files are JSON with comments (``//`` and ``/* */``), read with floats as decimals (as
ksqlDB's runner reads them). A test node expands into one case per ``format`` x ``config``
value, named ``<name>[ - <FORMAT>][ - <prop>=<value>]``, with ``{FORMAT}`` and ``{CONFIG}``
substituted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any


def strip_comments(text: str) -> str:
    """Remove ``//`` and ``/* */`` comments outside JSON strings."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def load_json(path: Path) -> Any:
    return json.loads(strip_comments(path.read_text()), parse_float=Decimal)


@dataclass
class QttCase:
    """One expanded test case."""

    file: str
    name: str
    node: dict[str, Any]
    statements: list[str]
    properties: dict[str, Any]
    features: list[str] = field(default_factory=list)

    @property
    def case_id(self) -> str:
        return f"{self.file} :: {self.name}"

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return list(self.node.get("inputs") or [])

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return list(self.node.get("outputs") or [])

    @property
    def expected_exception(self) -> dict[str, Any] | None:
        return self.node.get("expectedException")

    @property
    def post(self) -> dict[str, Any] | None:
        return self.node.get("post")

    @property
    def topics(self) -> list[dict[str, Any]]:
        return list(self.node.get("topics") or [])


def expand_node(file: str, node: dict[str, Any]) -> list[QttCase]:
    """The cases of one test node (format x config expansion)."""
    if node.get("enabled") is False:
        return []
    formats = node.get("format") or [None]
    configs = node.get("config") or [None]
    properties = dict(node.get("properties") or {})
    config_prop = next((k for k, v in properties.items() if v == "{CONFIG}"), None)
    cases = []
    for fmt in formats:
        for config in configs:
            name = node["name"]
            if fmt is not None:
                name += f" - {fmt}"
            props = dict(properties)
            if config is not None and config_prop is not None:
                name += f" - {config_prop}={config}"
                props[config_prop] = config
            statements = [
                s.replace("{FORMAT}", fmt) if fmt is not None else s for s in node["statements"]
            ]
            cases.append(QttCase(file, name, node, statements, props))
    return cases


def load_file(path: Path) -> list[QttCase]:
    document = load_json(path)
    cases: list[QttCase] = []
    for node in document.get("tests", []):
        cases.extend(expand_node(path.name, node))
    return cases


def load_suite(root: Path) -> list[QttCase]:
    """The manifest's cases (in manifest order) of a folder laid out like ``shared/qtt``.

    Without a ``manifest.json`` every case of every file in ``cases/`` is loaded.
    """
    root = Path(root)
    cases_dir = root / "cases" if (root / "cases").is_dir() else root
    manifest_path = root / "manifest.json"
    by_file: dict[str, dict[str, QttCase]] = {}

    def cases_of(file: str) -> dict[str, QttCase]:
        if file not in by_file:
            by_file[file] = {c.name: c for c in load_file(cases_dir / file)}
        return by_file[file]

    if not manifest_path.exists():
        return [
            c
            for f in sorted(p.name for p in cases_dir.glob("*.json"))
            for c in cases_of(f).values()
        ]
    selected = []
    for entry in json.loads(manifest_path.read_text()):
        case = cases_of(entry["file"]).get(entry["case"])
        if case is None:
            raise KeyError(f"manifest case not found: {entry['file']} :: {entry['case']}")
        case.features = list(entry.get("features") or [])
        selected.append(case)
    return selected
