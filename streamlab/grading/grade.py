"""Grade learner notebooks into a CSV and an HTML report, for instructors.

    report = grade(["submissions/"], "grades/")   # a folder of learners, each a folder
    report = grade(["notebooks/"], "grades/")     # one learner's notebooks

Each notebook runs top to bottom in a fresh kernel (nbclient) against the running lab, errors
allowed, with a per-cell timeout. A last cell, added by the grader, runs every check of the lab
(public and hidden, taken from solutions/, never from the submission) and writes a result file;
scores come from that file only, never from exit codes. A crashed kernel or a timeout is
reported for that notebook and the others are still graded. An exercise cell that raised is
reported as such, with the error.
"""

from __future__ import annotations

import csv
import html
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from streamlab.config import project_root
from streamlab.grading.authoring import find_labs, load_lab

CELL_TIMEOUT = 90  # seconds per cell
STARTUP_TIMEOUT = 60
CSV_NAME, HTML_NAME = "grades.csv", "grades.html"
_SKIP_DIRS = {".ipynb_checkpoints", "checks"}

_PRELUDE = "import os\nos.environ['STREAMLAB_GRADING'] = '1'  # added by the grader"
_FINALE = (
    "from streamlab.grading.grade import _grade_in_kernel  # added by the grader\n"
    "_grade_in_kernel({tests!r}, {out!r}, globals())"
)


@dataclass
class ExerciseGrade:
    submission: str
    lab: str
    notebook: str
    exercise: str
    score: float
    points: float
    checks_passed: int
    checks_total: int
    status: str  # passed | failed | cell error | notebook crashed | not submitted
    feedback: str = ""


@dataclass
class GradeReport:
    rows: list[ExerciseGrade] = field(default_factory=list)
    csv_path: Path | None = None
    html_path: Path | None = None

    def totals(self) -> dict[tuple[str, str], tuple[float, float]]:
        out: dict[tuple[str, str], tuple[float, float]] = {}
        for r in self.rows:
            s, p = out.get((r.submission, r.lab), (0.0, 0.0))
            out[(r.submission, r.lab)] = (s + r.score, p + r.points)
        return out

    def __repr__(self) -> str:
        lines = [f"{sub} {lab}: {s:g}/{p:g}" for (sub, lab), (s, p) in self.totals().items()]
        lines.append(f"CSV: {self.csv_path}  HTML: {self.html_path}")
        return "\n".join(lines)


# --- in the kernel ----------------------------------------------------------------------------


def _grade_in_kernel(tests_path: str, out_path: str, namespace: dict[str, Any]) -> None:
    """Runs inside the learner's kernel: every check, hidden ones too, into a result file."""
    from streamlab.grading.checks import run_checks

    tests = json.loads(Path(tests_path).read_text(encoding="utf-8"))
    results = {}
    for name, question in tests["questions"].items():
        res = run_checks(name, question, namespace, include_hidden=True)
        results[name] = {
            "passed": res.n_passed,
            "total": len(res.outcomes),
            "hints": res.hints(),
        }
    Path(out_path).write_text(json.dumps({"lab": tests["lab"], "results": results}, indent=1))


# --- outside ----------------------------------------------------------------------------------


def collect(paths: list[Path | str]) -> list[tuple[str, Path]]:
    """(learner, notebook) pairs. A folder of folders is a class; a folder of notebooks is one
    learner named after the folder; a notebook is its folder's learner."""
    found: list[tuple[str, Path]] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append((p.resolve().parent.name, p))
            continue
        subdirs = sorted(d for d in p.iterdir() if d.is_dir() and d.name not in _SKIP_DIRS)
        direct = sorted(p.glob("*.ipynb"))
        if direct or not subdirs:
            found += [(p.resolve().name, nb) for nb in direct]
        for d in subdirs:
            found += [
                (d.name, nb)
                for nb in sorted(d.rglob("*.ipynb"))
                if not _SKIP_DIRS & set(nb.relative_to(d).parts)
            ]
    return found


def lab_of(nb: Any, path: Path, labs: dict[str, Any]) -> str | None:
    lab = nb.metadata.get("streamlab", {}).get("lab")
    if lab in labs:
        return lab
    return path.stem if path.stem in labs else None


def grade(
    paths: list[Path | str] | Path | str,
    out_dir: Path | str,
    solutions: Path | None = None,
    cell_timeout: int = CELL_TIMEOUT,
) -> GradeReport:
    """Grade every notebook under ``paths``; write ``grades.csv`` and ``grades.html`` to
    ``out_dir`` and return the report. Needs the lab stack running (``streamlab up``)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labs = {p.stem: load_lab(p) for p in find_labs(solutions or project_root() / "solutions")}
    report = GradeReport()
    found = collect(paths)
    if any(p.stem in labs for _, p in found):
        require_lab()
    for learner, path in found:
        report.rows += grade_notebook(learner, path, labs, out, cell_timeout)
    report.csv_path = write_csv(report, out / CSV_NAME)
    report.html_path = write_html(report, out / HTML_NAME)
    return report


def require_lab(timeout: float = 5) -> None:
    """Grading runs the notebooks against the lab: refuse early, with the fix, if it is down."""
    from confluent_kafka.admin import AdminClient

    from streamlab.config import StreamlabError, kafka_config

    try:
        AdminClient(kafka_config()).list_topics(timeout=timeout)
    except Exception as e:
        raise StreamlabError(
            f"the lab's Kafka does not answer ({e}); start the lab with `streamlab up` and "
            "grade again"
        ) from None


def grade_notebook(
    learner: str, path: Path, labs: dict[str, Any], out: Path, cell_timeout: int = CELL_TIMEOUT
) -> list[ExerciseGrade]:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        return [
            ExerciseGrade(
                learner,
                "?",
                path.name,
                "-",
                0,
                0,
                0,
                0,
                "notebook crashed",
                f"cannot read the notebook: {e}",
            )
        ]
    lab_id = lab_of(nb, path, labs)
    if lab_id is None:
        return [
            ExerciseGrade(
                learner,
                "?",
                path.name,
                "-",
                0,
                0,
                0,
                0,
                "not graded",
                "not a notebook of any lab in solutions/",
            )
        ]
    lab = labs[lab_id]
    with tempfile.TemporaryDirectory(prefix="streamlab-grade-") as tmp:
        tests = Path(tmp) / "tests.json"
        tests.write_text(json.dumps(lab.tests_json(hidden=True)), encoding="utf-8")
        # the learner's own check() cells find the public checks in ./checks (cwd is tmp)
        (Path(tmp) / "checks").mkdir()
        public = Path(tmp) / "checks" / f"{lab_id}.json"
        public.write_text(json.dumps(lab.tests_json(hidden=False)), encoding="utf-8")
        result_file = Path(tmp) / "results.json"
        crash = execute(nb, tests, result_file, Path(tmp), cell_timeout)
        results = _read_results(result_file)
        executed_dir = out / "executed" / learner
        executed_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_dir / path.name)
    cell_errors = _answer_cell_errors(nb)
    rows = []
    for name, q in lab.questions.items():  # points 0: a "validate this step" check, listed
        r = (results or {}).get(name)
        if r is None:
            why = crash or "the grader's result file is missing"
            rows.append(
                ExerciseGrade(
                    learner,
                    lab_id,
                    path.name,
                    name,
                    0,
                    q.points,
                    0,
                    len(q.checks),
                    "notebook crashed",
                    why,
                )
            )
            continue
        score = round(q.points * r["passed"] / r["total"], 2) if r["total"] else 0.0
        hints = "; ".join(r["hints"])
        if name in cell_errors:
            status, feedback = "cell error", f"the exercise cell raised {cell_errors[name]}"
            feedback += f"; {hints}" if hints else ""
        else:
            status = "passed" if r["passed"] == r["total"] else "failed"
            feedback = hints
        rows.append(
            ExerciseGrade(
                learner,
                lab_id,
                path.name,
                name,
                score,
                q.points,
                r["passed"],
                r["total"],
                status,
                feedback,
            )
        )
    return rows


def execute(nb: Any, tests: Path, result_file: Path, cwd: Path, cell_timeout: int) -> str:
    """Run the notebook with the grader's first and last cells; '' or why it crashed."""
    from nbclient import NotebookClient

    nb.cells.insert(0, nbformat.v4.new_code_cell(_PRELUDE))
    nb.cells.append(
        nbformat.v4.new_code_cell(_FINALE.format(tests=str(tests), out=str(result_file)))
    )
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        startup_timeout=STARTUP_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    except Exception as e:  # a dead kernel, a timeout: this notebook only
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    return ""


def _read_results(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError):
        return None


def _answer_cell_errors(nb: Any) -> dict[str, str]:
    errors = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("streamlab", {})
        if meta.get("role") != "answer":
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                errors.setdefault(meta["exercise"], f"{o['ename']}: {o['evalue']}")
    return errors


def cell_errors(nb: Any) -> list[tuple[int, dict, str]]:
    """(index, streamlab metadata, 'Ename: value') of every cell that raised."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                meta = cell.get("metadata", {}).get("streamlab", {})
                out.append((i, meta, f"{o['ename']}: {o['evalue']}"))
    return out


# --- reports ----------------------------------------------------------------------------------

_FIELDS = [
    "submission",
    "lab",
    "notebook",
    "exercise",
    "score",
    "points",
    "checks_passed",
    "checks_total",
    "status",
    "feedback",
]


def write_csv(report: GradeReport, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(_FIELDS)
        for r in report.rows:
            w.writerow([getattr(r, k) for k in _FIELDS])
    return path


def write_html(report: GradeReport, path: Path) -> Path:
    e = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>streamlab grades</title>",
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:3px 6px}"
        "table{border-collapse:collapse}.passed{color:#1a7f37}.failed,.cell.error{color:#cf222e}"
        "</style><h1>streamlab grades</h1><h2>Totals</h2><table>"
        "<tr><th>submission</th><th>lab</th><th>score</th></tr>",
    ]
    for (sub, lab), (s, p) in report.totals().items():
        parts.append(f"<tr><td>{e(sub)}</td><td>{e(lab)}</td><td>{s:g} / {p:g}</td></tr>")
    parts.append("</table><h2>Exercises</h2><table><tr>")
    parts += [f"<th>{e(k)}</th>" for k in _FIELDS]
    parts.append("</tr>")
    for r in report.rows:
        parts.append(f"<tr class='{e(r.status)}'>")
        parts += [f"<td>{e(str(getattr(r, k)))}</td>" for k in _FIELDS]
        parts.append("</tr>")
    parts.append("</table>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
