"""Every lab notebook runs against a real lab stack, and every check is proven both ways.

One grading run over three submissions (the same path an instructor uses, ``grade()``):

* ``key``: the answer key of every lab (the learner notebook with the solutions kept) — every
  check passes, hidden ones included, and no cell raises;
* ``pristine``: the committed learner copies, untouched — every graded exercise fails, each
  check of it fails, with the feedback its question promises, and cells raise only where an
  exercise is unsolved;
* ``broken``: lab 00 with an exercise cell that raises, and lab 01 whose kernel dies — reported
  as "cell error" and "notebook crashed", while everything else is still graded.

Then the CSV and HTML report are read back.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest

from streamlab.grading import grade
from streamlab.grading.authoring import find_labs, load_lab
from streamlab.grading.build import learner_notebook, render
from streamlab.grading.grade import cell_errors

ROOT = Path(__file__).resolve().parents[2]
LABS = {p.stem: load_lab(p) for p in find_labs(ROOT / "solutions")}
WELCOME, EVENTS = "00_welcome", "01_events_topics_partitions"

# The first test's setup grades every lab twice (answer key and untouched copy) plus the broken
# submissions: about 5 minutes on 2 cores, more on a busy machine.
pytestmark = pytest.mark.timeout(1800)


def _broken_welcome() -> str:
    nb = learner_notebook(LABS[WELCOME], keep_solutions=True)
    for cell in nb.cells:
        if cell.metadata.get("streamlab", {}).get("role") == "answer":
            cell.source = 'MY_NAME = "Bob"\n1 / 0  # a learner bug\n'
    return render(nb)


def _crashing_events() -> str:
    nb = learner_notebook(LABS[EVENTS], keep_solutions=True)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import os\nos._exit(1)  # the kernel dies"))
    return render(nb)


@pytest.fixture(scope="module")
def graded(lab_home: Path, tmp_path_factory: pytest.TempPathFactory):
    subs = tmp_path_factory.mktemp("submissions")
    for lab_id, lab in LABS.items():
        (subs / "key").mkdir(exist_ok=True)
        (subs / "key" / f"{lab_id}.ipynb").write_text(render(learner_notebook(lab, True)))
        (subs / "pristine").mkdir(exist_ok=True)
        (subs / "pristine" / f"{lab_id}.ipynb").write_bytes(
            (ROOT / "notebooks" / f"{lab_id}.ipynb").read_bytes()
        )
    (subs / "broken").mkdir()
    (subs / "broken" / f"{WELCOME}.ipynb").write_text(_broken_welcome())
    (subs / "broken" / f"{EVENTS}.ipynb").write_text(_crashing_events())
    out = tmp_path_factory.mktemp("grades")
    report = grade([subs], out)
    rows = {(r.submission, r.exercise): r for r in report.rows}
    return report, rows, out


def _executed(out: Path, who: str, lab_id: str):
    return nbformat.read(out / "executed" / who / f"{lab_id}.ipynb", as_version=4)


def test_answer_keys_pass_every_check_and_raise_nowhere(graded) -> None:
    _, rows, out = graded
    for lab_id, lab in LABS.items():
        for name, q in lab.questions.items():
            r = rows[("key", name)]
            assert (r.status, r.checks_passed) == ("passed", len(q.checks)), r
            assert r.score == q.points
        errors = cell_errors(_executed(out, "key", lab_id))
        assert errors == [], f"{lab_id}: {errors}"


def test_untouched_learner_copies_fail_every_graded_exercise(graded) -> None:
    _, rows, out = graded
    for lab_id, lab in LABS.items():
        for name, q in lab.questions.items():
            if not q.graded:
                continue
            r = rows[("pristine", name)]
            assert r.checks_passed == 0 and r.score == 0, r  # every check of it can fail
            assert r.status == "cell error", r
            assert "NotImplementedError" in r.feedback, r
            assert q.stub_feedback and q.stub_feedback in r.feedback, (q.stub_feedback, r)
        # cells may raise only where an exercise is unsolved
        for index, meta, error in cell_errors(_executed(out, "pristine", lab_id)):
            assert meta.get("role") == "answer", (lab_id, index, error)
            assert "NotImplementedError" in error, (lab_id, index, error)


def test_learner_check_cells_give_hints_and_say_only_public_checks_ran(graded) -> None:
    _, _, out = graded
    nb = _executed(out, "pristine", EVENTS)
    shown = {}
    for cell in nb.cells:
        meta = cell.metadata.get("streamlab", {})
        if meta.get("role") == "check":
            shown[meta["exercise"]] = "".join(
                o.get("data", {}).get("text/plain", "") for o in cell.outputs
            )
    assert "[FAIL] 01-create-topic" in shown["01-create-topic"]
    assert "does not exist yet" in shown["01-create-topic"]
    assert "1 hidden check(s) run when your work is graded" in shown["01-create-topic"]
    key = _executed(out, "key", EVENTS)
    texts = [
        "".join(o.get("data", {}).get("text/plain", "") for o in c.outputs)
        for c in key.cells
        if c.metadata.get("streamlab", {}).get("role") == "check"
    ]
    assert any("[PASS] 01-lag: all 2 public check(s) passed." in t for t in texts), texts


def test_broken_cell_and_crashed_notebook_are_reported_others_graded(graded) -> None:
    _, rows, _ = graded
    hello = rows[("broken", "00-hello")]
    assert hello.status == "cell error" and hello.score == 0.67  # MY_NAME is set: 1 of 3
    assert "ZeroDivisionError" in hello.feedback
    assert rows[("broken", "00-validate-roundtrip")].status == "passed"  # the rest still ran
    for name in LABS[EVENTS].questions:
        r = rows[("broken", name)]
        assert r.status == "notebook crashed" and r.score == 0, r
        assert "DeadKernelError" in r.feedback or "result file" in r.feedback, r


def test_csv_and_html_report(graded) -> None:
    report, _, out = graded
    with (out / "grades.csv").open(encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    totals: dict[tuple[str, str], float] = {}
    for row in table:
        key = (row["submission"], row["lab"])
        totals[key] = round(totals.get(key, 0.0) + float(row["score"]), 2)
    # every lab: full marks for the answer key, nothing for the untouched copy
    expected = {("broken", WELCOME): 0.67, ("broken", EVENTS): 0.0}
    for lab_id, lab in LABS.items():
        expected[("key", lab_id)] = sum(q.points for q in lab.questions.values())
        expected[("pristine", lab_id)] = 0.0
    assert totals == expected
    assert (expected[("key", WELCOME)], expected[("key", EVENTS)]) == (2.0, 6.0)
    assert report.totals()[("key", EVENTS)] == (6.0, 6.0)
    page = (out / "grades.html").read_text(encoding="utf-8")
    assert "<td>key</td><td>01_events_topics_partitions</td><td>6 / 6</td>" in page
    assert "notebook crashed" in page and "cell error" in page


def test_progress_is_logged_by_learner_checks_but_not_while_grading(graded, lab_home) -> None:
    # grading sets STREAMLAB_GRADING, so the instructor's lab home gets no learner progress
    assert not (lab_home / "progress.json").exists()
    # a learner runs the committed copy where it lives: check() finds notebooks/checks from the
    # kernel's folder, and every attempt lands in the lab home
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / f"{WELCOME}.ipynb", as_version=4)
    NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(ROOT / "notebooks")}},
    ).execute()
    attempts = json.loads((lab_home / "progress.json").read_text())["attempts"]
    assert [(a["exercise"], a["passed"]) for a in attempts] == [
        ("00-validate-roundtrip", True),
        ("00-hello", False),
    ]
    shown = "".join(
        o.get("data", {}).get("text/plain", "")
        for c in nb.cells
        if c.cell_type == "code" and c.source == "progress()"
        for o in c.outputs
    )
    assert "00_welcome: 0/1 graded exercises pass (public checks)" in shown
    assert "[TODO] 00-hello: 1 attempt(s)" in shown
