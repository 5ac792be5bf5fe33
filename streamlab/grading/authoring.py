"""Read a lab's authoring notebook (``solutions/NN_topic/NN_topic.ipynb``).

The markers follow otter-grader's assignment format (v1), so an author who knows otter knows
these; only the subset the workshop needs is supported:

* a raw cell ``# BEGIN QUESTION`` followed by ``name: 01-create-topic`` and ``points: 2``
  (``points: 0`` makes an ungraded "validate this step" check); a raw ``# END QUESTION`` closes it;
* inside a question, code cells holding solution markers are the answer cells: a line ending in
  ``# SOLUTION`` becomes ``name = ...  # YOUR CODE HERE``; a ``# BEGIN SOLUTION`` ...
  ``# END SOLUTION`` region becomes ``# YOUR CODE HERE`` and a ``raise NotImplementedError``
  that names the exercise;
* raw ``# BEGIN TESTS`` ... ``# END TESTS`` enclose the checks, one code cell per check. A check
  is plain Python with ``assert``s whose messages are the hints the learner reads. An optional
  header sets ``hidden: true`` (graded only, never shipped to learners) and ``failure_message``::

      \"\"\" # BEGIN TEST CONFIG
      hidden: true
      \"\"\" # END TEST CONFIG

* a question may set ``stub_feedback: <text>``: what its check must say on the untouched learner
  copy (CI asserts it, so every check is proven able to fail).

Unlike otter, checks are never doctests compared with stored outputs: the authoring notebook is
kept without outputs, and otter's output-based tests break exactly then (research/teaching.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

BEGIN_QUESTION, END_QUESTION = "# BEGIN QUESTION", "# END QUESTION"
BEGIN_TESTS, END_TESTS = "# BEGIN TESTS", "# END TESTS"
BEGIN_SOLUTION, END_SOLUTION, SOLUTION = "# BEGIN SOLUTION", "# END SOLUTION", "# SOLUTION"
_TEST_CONFIG = re.compile(
    r'^\s*"""\s*# BEGIN TEST CONFIG\s*\n(?P<body>.*?)"""\s*# END TEST CONFIG\s*\n?', re.S
)
_ASSIGN = re.compile(r"^(?P<indent>\s*)(?P<target>[\w.\[\]'\", ]+?)\s*(?P<op>=|\+=|:\s*[^=]+=)")


class AuthoringError(ValueError):
    """The authoring notebook breaks a marker rule; the message names the cell."""


@dataclass
class Check:
    """One check (test case) of an exercise."""

    code: str
    hidden: bool = False
    failure_message: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "hidden": self.hidden, "failure_message": self.failure_message}


@dataclass
class Question:
    name: str
    points: float
    checks: list[Check] = field(default_factory=list)
    stub_feedback: str = ""

    @property
    def graded(self) -> bool:
        return self.points > 0

    def public(self) -> list[Check]:
        return [c for c in self.checks if not c.hidden]

    def as_json(self, hidden: bool) -> dict[str, Any]:
        checks = self.checks if hidden else self.public()
        return {
            "points": self.points,
            "checks": [c.as_json() for c in checks],
            "hidden_checks": sum(c.hidden for c in self.checks),
        }


@dataclass
class Lab:
    """A parsed authoring notebook: its cells, questions and where each cell belongs."""

    lab_id: str
    path: Path
    notebook: Any
    questions: dict[str, Question]
    # per cell: ("plain"|"answer"|"marker"|"test", question name or None)
    roles: list[tuple[str, str | None]]

    def tests_json(self, hidden: bool) -> dict[str, Any]:
        return {
            "lab": self.lab_id,
            "questions": {n: q.as_json(hidden) for n, q in self.questions.items()},
        }


def find_labs(solutions: Path) -> list[Path]:
    """``solutions/NN_topic/NN_topic.ipynb`` for every lab folder, in order."""
    return sorted(p for p in Path(solutions).glob("*/*.ipynb") if p.stem == p.parent.name)


def parse_config(text: str) -> dict[str, Any]:
    """``key: value`` lines (a YAML subset: numbers, true/false, quoted or bare strings)."""
    out: dict[str, Any] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise AuthoringError(f"expected 'key: value', got {raw!r}")
        out[key.strip()] = _scalar(value.strip())
    return out


def _scalar(value: str) -> Any:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def _marker(cell) -> str | None:
    if cell.cell_type != "raw":
        return None
    first = cell.source.strip().splitlines()[0].strip() if cell.source.strip() else ""
    return first if first.startswith("# BEGIN") or first.startswith("# END") else None


def load_lab(path: Path) -> Lab:
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    lab_id = path.stem
    questions: dict[str, Question] = {}
    roles: list[tuple[str, str | None]] = []
    current: Question | None = None
    in_tests = False
    for i, cell in enumerate(nb.cells):
        where = f"{path.name} cell {i}"
        marker = _marker(cell)
        if marker == BEGIN_QUESTION:
            if current is not None:
                raise AuthoringError(f"{where}: BEGIN QUESTION inside question {current.name!r}")
            conf = parse_config("\n".join(cell.source.splitlines()[1:]))
            if "name" not in conf:
                raise AuthoringError(f"{where}: a question needs 'name: ...'")
            name = str(conf["name"])
            if name in questions:
                raise AuthoringError(f"{where}: question {name!r} defined twice")
            current = Question(
                name, float(conf.get("points", 1)), stub_feedback=str(conf.get("stub_feedback", ""))
            )
            questions[name] = current
            roles.append(("marker", name))
        elif marker == END_QUESTION:
            if current is None or in_tests:
                raise AuthoringError(f"{where}: END QUESTION without an open question")
            if not current.checks:
                raise AuthoringError(f"{where}: question {current.name!r} has no checks")
            roles.append(("marker", current.name))
            current = None
        elif marker == BEGIN_TESTS:
            if current is None or in_tests:
                raise AuthoringError(f"{where}: BEGIN TESTS outside a question")
            in_tests = True
            roles.append(("marker", current.name))
        elif marker == END_TESTS:
            if not in_tests:
                raise AuthoringError(f"{where}: END TESTS without BEGIN TESTS")
            in_tests = False
            roles.append(("marker", current.name if current else None))
        elif marker is not None:
            raise AuthoringError(f"{where}: unknown marker {marker!r}")
        elif in_tests:
            if cell.cell_type != "code":
                raise AuthoringError(f"{where}: only code cells may sit between TESTS markers")
            current.checks.append(_check(cell.source, where))  # type: ignore[union-attr]
            roles.append(("test", current.name))  # type: ignore[union-attr]
        elif cell.cell_type == "code" and _has_solution(cell.source):
            if current is None:
                raise AuthoringError(f"{where}: solution markers outside a question")
            roles.append(("answer", current.name))
        else:
            roles.append(("plain", current.name if current else None))
    if current is not None:
        raise AuthoringError(f"{path.name}: question {current.name!r} is never closed")
    return Lab(lab_id, path, nb, questions, roles)


def _check(source: str, where: str) -> Check:
    m = _TEST_CONFIG.match(source)
    if not m:
        return Check(source.strip() + "\n")
    conf = parse_config(m.group("body"))
    unknown = set(conf) - {"hidden", "failure_message"}
    if unknown:
        raise AuthoringError(f"{where}: unknown test config {sorted(unknown)}")
    return Check(
        source[m.end() :].strip() + "\n",
        hidden=bool(conf.get("hidden", False)),
        failure_message=str(conf.get("failure_message", "")),
    )


def _has_solution(source: str) -> bool:
    return any(
        line.strip().startswith(BEGIN_SOLUTION) or line.rstrip().endswith(SOLUTION)
        for line in source.splitlines()
    )


def stub(source: str, exercise: str) -> str:
    """The learner's version of an answer cell: solutions replaced by placeholders."""
    out: list[str] = []
    skipping = False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(BEGIN_SOLUTION):
            if skipping:
                raise AuthoringError(f"{exercise}: nested BEGIN SOLUTION")
            skipping = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(
                f'{indent}raise NotImplementedError("exercise {exercise!r} is not done yet: '
                'replace this line with your code")'
            )
        elif stripped.startswith(END_SOLUTION):
            if not skipping:
                raise AuthoringError(f"{exercise}: END SOLUTION without BEGIN SOLUTION")
            skipping = False
        elif skipping:
            continue
        elif line.rstrip().endswith(SOLUTION):
            m = _ASSIGN.match(line)
            if m:
                target = line[: m.end()].rstrip()
                out.append(f"{target} ...  # YOUR CODE HERE")
            else:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}# YOUR CODE HERE")
        else:
            out.append(line)
    if skipping:
        raise AuthoringError(f"{exercise}: BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out)


def unmark(source: str) -> str:
    """The answer key's version of an answer cell: markers removed, solution kept."""
    out = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(BEGIN_SOLUTION) or stripped.startswith(END_SOLUTION):
            continue
        if line.rstrip().endswith(SOLUTION):
            line = line.rstrip()[: -len(SOLUTION)].rstrip()
        out.append(line)
    return "\n".join(out)
