"""The grading framework without a lab stack: authoring markers, generation, check() feedback,
progress, and grade() on notebooks it cannot run."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from streamlab.config import StreamlabError
from streamlab.grading import check, grade, progress
from streamlab.grading.authoring import (
    AuthoringError,
    find_labs,
    load_lab,
    parse_config,
    stub,
    unmark,
)
from streamlab.grading.build import learner_notebook, main, public_checks_json, stale
from streamlab.grading.checks import ENV_CHECKS, ENV_GRADING

ROOT = Path(__file__).resolve().parents[2]
LABS = [load_lab(p) for p in find_labs(ROOT / "solutions")]


def test_committed_learner_notebooks_are_current() -> None:
    bad = stale(ROOT / "solutions", ROOT / "notebooks")
    assert bad == [], f"run `python -m streamlab.grading.build`; stale: {bad}"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.lab_id)
def test_authoring_notebook_is_stored_without_outputs_and_has_its_text_twin(lab) -> None:
    source = ROOT / "solutions" / lab.lab_id / f"{lab.lab_id}.ipynb"
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    twin = source.with_suffix(".py").read_text(encoding="utf-8")
    assert twin.startswith("# ---\n# jupyter:") and "# %% [markdown]" in twin


def test_build_check_flag_reports_stale_files(tmp_path: Path, capsys) -> None:
    assert (
        main(["--solutions", str(ROOT / "solutions"), "--notebooks", str(tmp_path), "--check"]) == 1
    )
    assert "stale:" in capsys.readouterr().out
    assert main(["--solutions", str(ROOT / "solutions"), "--notebooks", str(tmp_path)]) == 0
    assert (
        main(["--solutions", str(ROOT / "solutions"), "--notebooks", str(tmp_path), "--check"]) == 0
    )


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.lab_id)
def test_learner_copy_has_no_solutions_hidden_checks_or_outputs(lab) -> None:
    path = ROOT / "notebooks" / f"{lab.lab_id}.ipynb"
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    graded = sum(q.graded for q in lab.questions.values())
    if lab.lab_id == "00_welcome":
        assert graded == 1  # one tiny exercise
    else:
        assert 2 <= graded <= 4
    for cell in nb.cells:
        assert cell.cell_type != "raw", "otter markers must not reach learners"
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        assert "SOLUTION" not in cell.source
    shipped = ROOT / "notebooks" / "checks" / f"{lab.lab_id}.json"
    public = json.loads(shipped.read_text(encoding="utf-8"))["questions"]
    codes = {c["code"] for q in public.values() for c in q["checks"]}
    assert not any(c["hidden"] for q in public.values() for c in q["checks"])
    for q in lab.questions.values():
        for c in q.checks:
            if c.hidden:
                assert c.code not in codes and c.code.strip() not in text
            else:
                assert c.code in codes
        answers = [
            c
            for c in nb.cells
            if c.metadata.get("streamlab") == {"exercise": q.name, "role": "answer"}
        ]
        checks = [
            c
            for c in nb.cells
            if c.metadata.get("streamlab") == {"exercise": q.name, "role": "check"}
        ]
        assert [c.source for c in checks] == [f'check("{q.name}")']
        if q.graded:
            assert answers and all("# YOUR CODE HERE" in c.source for c in answers)
            assert any(c.hidden for c in q.checks), f"{q.name}: graded without hidden checks"
    for secret in ("sasl.password", "api_secret", "API_SECRET"):
        assert secret not in text


def test_stub_and_unmark() -> None:
    source = (
        "x = 3  # SOLUTION\n"
        "def f(a):\n"
        "    # BEGIN SOLUTION\n"
        "    return a + 1\n"
        "    # END SOLUTION\n"
        "print(f(x))"
    )
    assert stub(source, "ex-1") == (
        "x = ...  # YOUR CODE HERE\n"
        "def f(a):\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError(\"exercise 'ex-1' is not done yet: replace this line "
        'with your code")\n'
        "print(f(x))"
    )
    assert unmark(source) == "x = 3\ndef f(a):\n    return a + 1\nprint(f(x))"
    with pytest.raises(AuthoringError, match="BEGIN SOLUTION without END SOLUTION"):
        stub("# BEGIN SOLUTION\nx = 1", "ex-1")


def test_parse_config() -> None:
    assert parse_config('name: 01-lag\npoints: 2\nhidden: true\nmsg: "a: b"') == {
        "name": "01-lag",
        "points": 2,
        "hidden": True,
        "msg": "a: b",
    }
    with pytest.raises(AuthoringError, match="expected 'key: value'"):
        parse_config("just words")


def _notebook(tmp_path: Path, cells) -> Path:
    folder = tmp_path / "99_demo"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    path = folder / "99_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_authoring_errors_name_the_cell(tmp_path: Path) -> None:
    raw, code = nbformat.v4.new_raw_cell, nbformat.v4.new_code_cell
    path = _notebook(
        tmp_path, [raw("# BEGIN QUESTION\nname: q1\npoints: 1"), code("x = 1  # SOLUTION")]
    )
    with pytest.raises(AuthoringError, match="question 'q1' is never closed"):
        load_lab(path)


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A one-question lab whose public checks check() finds, and a private lab home."""
    raw, code = nbformat.v4.new_raw_cell, nbformat.v4.new_code_cell
    hidden = '""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\nassert answer > 0\n'
    path = _notebook(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell("# Demo"),
            raw("# BEGIN QUESTION\nname: 99-answer\npoints: 2"),
            code("answer = 42  # SOLUTION"),
            raw("# BEGIN TESTS"),
            code(
                'assert answer is not ..., "set answer"\n'
                'assert answer == 42, f"answer is {answer}; the exercise asks for 42"'
            ),
            code(hidden),
            raw("# END TESTS"),
            raw("# END QUESTION"),
        ],
    )
    lab = load_lab(path)
    checks = tmp_path / "checks"
    checks.mkdir()
    (checks / "99_demo.json").write_text(public_checks_json(lab))
    monkeypatch.setenv(ENV_CHECKS, str(checks))
    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(ENV_GRADING, raising=False)
    return lab


def test_check_gives_the_hint_and_says_only_public_checks_ran(demo) -> None:
    global answer
    answer = ...
    result = check("99-answer")
    assert not result.passed
    assert result.hints() == ["set answer"]
    text = repr(result)
    assert text.startswith("[FAIL] 99-answer: 1 of 1 public check(s) failed:")
    assert "Only public checks ran; 1 hidden check(s) run when your work is graded" in text
    answer = 41
    assert check("99-answer").hints() == ["answer is 41; the exercise asks for 42"]
    answer = 42
    assert repr(check("99-answer")).startswith("[PASS] 99-answer: all 1 public check(s) passed.")
    assert "<b>" in check("99-answer")._repr_html_()


def test_check_turns_errors_into_hints(demo) -> None:
    global answer
    if "answer" in globals():
        del answer
    hints = check("99-answer").hints()
    assert hints == [
        "name 'answer' is not defined: run the exercise cell (and the cells above "
        "it) before checking"
    ]
    with pytest.raises(KeyError, match=r"no exercise named 'nope'; known exercises: .*99-answer"):
        check("nope")


def test_progress_logs_attempts_and_shows_them(demo, tmp_path: Path) -> None:
    global answer
    answer = 1
    check("99-answer")
    answer = 42
    check("99-answer")
    log = json.loads((tmp_path / "home" / "progress.json").read_text())
    assert [a["passed"] for a in log["attempts"]] == [False, True]
    shown = repr(progress())
    assert "99_demo: 1/1 graded exercises pass (public checks)" in shown
    assert "[DONE] 99-answer: 2 attempt(s)" in shown


def test_grading_mode_logs_no_progress(demo, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_GRADING, "1")
    global answer
    answer = 42
    check("99-answer")
    assert not (tmp_path / "home" / "progress.json").exists()


def test_learner_notebook_keep_solutions_is_the_answer_key(demo) -> None:
    sources = [c.source for c in learner_notebook(demo, keep_solutions=True).cells]
    assert "answer = 42" in sources and 'check("99-answer")' in sources


def test_grade_reports_notebooks_it_cannot_grade(tmp_path: Path) -> None:
    subs = tmp_path / "subs" / "carol"
    subs.mkdir(parents=True)
    (subs / "garbage.ipynb").write_text("{not json")
    nbformat.write(nbformat.v4.new_notebook(), subs / "homework.ipynb")
    report = grade([tmp_path / "subs"], tmp_path / "out")
    statuses = {r.notebook: r.status for r in report.rows}
    assert statuses == {"garbage.ipynb": "notebook crashed", "homework.ipynb": "not graded"}
    assert (tmp_path / "out" / "grades.csv").read_text().count("\n") == 3
    assert "carol" in (tmp_path / "out" / "grades.html").read_text()


def test_grade_refuses_when_the_lab_is_down(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[ports]\nkafka = 0\n")  # not running: no address
    monkeypatch.setenv("STREAMLAB_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    monkeypatch.delenv("STREAMLAB_BOOTSTRAP", raising=False)
    subs = tmp_path / "dave"
    subs.mkdir()
    (subs / "00_welcome.ipynb").write_bytes((ROOT / "notebooks" / "00_welcome.ipynb").read_bytes())
    with pytest.raises(StreamlabError, match="start the lab with `streamlab up`"):
        grade([subs], tmp_path / "out")


def test_lab_check_says_what_to_do_when_the_lab_is_down(tmp_path: Path, monkeypatch, capsys):
    from streamlab.notebook import lab_check

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[ports]\nkafka = 0\nconsole = 0\nregistry = 0\naws = 0\n")
    monkeypatch.setenv("STREAMLAB_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    monkeypatch.delenv("STREAMLAB_BOOTSTRAP", raising=False)
    monkeypatch.delenv("STREAMLAB_PROFILE", raising=False)
    assert lab_check() is False
    out = capsys.readouterr().out
    assert "[FAIL] kafka is stopped - start the lab in a terminal: `streamlab up`" in out
    assert out.rstrip().endswith("Fix the [FAIL] lines above, then run this cell again.")
