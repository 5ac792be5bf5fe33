"""The learner's progress: every ``check()`` attempt, logged to ``<lab home>/progress.json``.

It stays on the learner's machine (the lab home is git-ignored). ``progress()`` shows, per lab,
which exercises pass, which failed at the last attempt and which were never tried.
"""

from __future__ import annotations

import datetime
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlab.config import lab_home

FILE_NAME = "progress.json"


def progress_file(home: Path | None = None) -> Path:
    return (home or lab_home()) / FILE_NAME


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"attempts": []}
    return data if isinstance(data, dict) and "attempts" in data else {"attempts": []}


def record(
    lab: str,
    exercise: str,
    passed: bool,
    checks_passed: int,
    checks_total: int,
    home: Path | None = None,
) -> None:
    path = progress_file(home)
    data = _read(path)
    data["attempts"].append(
        {
            "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "lab": lab,
            "exercise": exercise,
            "passed": passed,
            "checks_passed": checks_passed,
            "checks_total": checks_total,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


@dataclass
class ExerciseProgress:
    lab: str
    exercise: str
    points: float
    attempts: int
    passed: bool | None  # None: never checked; else the last attempt's outcome
    last: str | None

    @property
    def mark(self) -> str:
        return {None: "[    ]", True: "[DONE]", False: "[TODO]"}[self.passed]


@dataclass
class Progress:
    exercises: list[ExerciseProgress]
    path: Path

    def labs(self) -> dict[str, list[ExerciseProgress]]:
        out: dict[str, list[ExerciseProgress]] = {}
        for e in self.exercises:
            out.setdefault(e.lab, []).append(e)
        return out

    def __repr__(self) -> str:
        if not self.exercises:
            return f"No exercises found yet (progress file: {self.path})."
        lines = []
        for lab, items in self.labs().items():
            graded = [e for e in items if e.points > 0]
            done = sum(e.passed is True for e in graded)
            lines.append(f"{lab}: {done}/{len(graded)} graded exercises pass (public checks)")
            for e in items:
                tail = "never checked" if e.passed is None else f"{e.attempts} attempt(s)"
                kind = "" if e.points > 0 else " (validate step)"
                lines.append(f"  {e.mark} {e.exercise}{kind}: {tail}")
        lines.append(f"(logged in {self.path}; hidden checks count only when graded)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def progress(home: Path | None = None) -> Progress:
    """What the learner has done so far, lab by lab."""
    from streamlab.grading.checks import load_public

    path = progress_file(home)
    attempts = _read(path)["attempts"]
    known = load_public()
    by_name: dict[str, list[dict]] = {}
    for a in attempts:
        by_name.setdefault(a["exercise"], []).append(a)
    rows = []
    for name, q in sorted(known.items(), key=lambda kv: (kv[1]["lab"], kv[0])):
        tries = by_name.get(name, [])
        rows.append(
            ExerciseProgress(
                q["lab"],
                name,
                float(q["points"]),
                len(tries),
                tries[-1]["passed"] if tries else None,
                tries[-1]["at"] if tries else None,
            )
        )
    return Progress(rows, path)
