"""Run an exercise's checks in the learner's namespace and word the feedback as hints.

A check is Python code with ``assert``s; the assertion message is the hint. Other errors are
turned into hints too: a ``NameError`` means a cell above was not run, a ``NotImplementedError``
means the placeholder is still there.
"""

from __future__ import annotations

import html
import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlab.config import project_root
from streamlab.grading import progress as _progress

ENV_CHECKS = "STREAMLAB_CHECKS_DIR"  # where the public checks are (default: notebooks/checks)
ENV_GRADING = "STREAMLAB_GRADING"  # set while grading: check() logs no progress


@dataclass
class CheckOutcome:
    passed: bool
    hint: str = ""
    hidden: bool = False


@dataclass
class CheckResult:
    """What ``check("name")`` returns; shown as text (and HTML in JupyterLab)."""

    exercise: str
    outcomes: list[CheckOutcome] = field(default_factory=list)
    hidden_pending: int = 0  # hidden checks that did not run here

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def n_passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    def hints(self) -> list[str]:
        return [o.hint for o in self.outcomes if not o.passed]

    def __repr__(self) -> str:
        total = len(self.outcomes)
        if self.passed:
            lines = [f"[PASS] {self.exercise}: all {total} public check(s) passed."]
        else:
            failed = total - self.n_passed
            lines = [f"[FAIL] {self.exercise}: {failed} of {total} public check(s) failed:"]
            lines += [f"  - {h}" for h in self.hints()]
        if self.hidden_pending:
            lines.append(
                f"Only public checks ran; {self.hidden_pending} hidden check(s) run when your "
                "work is graded, so passing here is not yet your final score."
            )
        else:
            lines.append("Only public checks ran here; grading runs the same checks again.")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#cf222e"
        head, *rest = repr(self).splitlines()
        items = "".join(f"<li>{html.escape(r.strip().lstrip('- '))}</li>" for r in rest[:-1])
        body = f"<ul>{items}</ul>" if items else ""
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 10px">'
            f"<b>{html.escape(head)}</b>{body}<small>{html.escape(rest[-1])}</small></div>"
        )


# --- finding the checks ---------------------------------------------------------------------


def checks_dirs() -> list[Path]:
    dirs = []
    if os.environ.get(ENV_CHECKS):
        dirs.append(Path(os.environ[ENV_CHECKS]))
    dirs += [Path.cwd() / "checks", project_root() / "notebooks" / "checks"]
    return [d for d in dirs if d.is_dir()]


def load_public() -> dict[str, dict[str, Any]]:
    """Exercise name -> {"lab", "points", "checks", "hidden_checks"} from the public files."""
    found: dict[str, dict[str, Any]] = {}
    for folder in checks_dirs():
        for path in sorted(folder.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            for name, q in data.get("questions", {}).items():
                found.setdefault(name, {"lab": data["lab"], **q})
    return found


# --- running them -----------------------------------------------------------------------------


def run_checks(
    exercise: str, question: dict[str, Any], namespace: dict[str, Any], include_hidden: bool
) -> CheckResult:
    result = CheckResult(exercise)
    for check in question["checks"]:
        if check.get("hidden") and not include_hidden:
            continue
        result.outcomes.append(run_one(exercise, check, namespace))
    if not include_hidden:
        result.hidden_pending = int(question.get("hidden_checks", 0))
    return result


def run_one(exercise: str, check: dict[str, Any], namespace: dict[str, Any]) -> CheckOutcome:
    # A copy of the learner's globals: a check never leaves names behind in the notebook.
    env = dict(namespace)
    env.setdefault("__builtins__", __builtins__)
    hidden = bool(check.get("hidden"))
    try:
        exec(compile(check["code"], f"<check {exercise}>", "exec"), env)
    except AssertionError as e:
        hint = str(e) or check.get("failure_message") or "this check failed"
        return CheckOutcome(False, hint, hidden)
    except NotImplementedError:
        hint = (
            "the exercise cell still raises NotImplementedError: replace the "
            "`raise NotImplementedError(...)` line with your code, then run the cell"
        )
        return CheckOutcome(False, hint, hidden)
    except NameError as e:
        hint = f"{e}: run the exercise cell (and the cells above it) before checking"
        return CheckOutcome(False, hint, hidden)
    except Exception as e:  # learner code may raise anything; say what and where
        where = traceback.extract_tb(e.__traceback__)[-1]
        hint = f"{type(e).__name__}: {e} (in {where.name}, line {where.lineno})"
        if check.get("failure_message"):
            hint += f" - {check['failure_message']}"
        return CheckOutcome(False, hint, hidden)
    return CheckOutcome(True, "", hidden)


def _caller_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    return sys._getframe(2).f_globals


def check(exercise: str) -> CheckResult:
    """Run the public checks of ``exercise`` against the variables of this notebook.

    Each failed check says what is wrong and where to look. Hidden checks run only when the
    work is graded; the result says so. The attempt is logged to the lab's progress file.
    """
    questions = load_public()
    if exercise not in questions:
        known = ", ".join(sorted(questions)) or "none found"
        raise KeyError(
            f"no exercise named {exercise!r}; known exercises: {known} "
            f"(looked in {', '.join(map(str, checks_dirs())) or 'notebooks/checks'})"
        )
    question = questions[exercise]
    result = run_checks(exercise, question, _caller_namespace(), include_hidden=False)
    if not os.environ.get(ENV_GRADING):
        try:
            _progress.record(
                question["lab"], exercise, result.passed, result.n_passed, len(result.outcomes)
            )
        except OSError:
            pass  # a read-only lab home must not break the exercise
    return result
