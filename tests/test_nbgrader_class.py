"""A class graded with real nbgrader, offline: release, autograde, feedback, grades.

One course folder (in a temporary directory) for the whole module:

* every chapter is released (``tools/release.py``: exercises notebook + ``nbgrader
  generate_assignment``) and the release holds no solution line and no written solution,
  while the statements (and their hints) stay word for word;
* a fake class for two quick chapters — ``ada`` hands in the reference solutions, ``bob``
  the untouched release, ``cyd`` the reference with exactly two wrong answers — is
  autograded; the scores come from nbgrader's own gradebook and its CSV export, and each
  student gets an HTML feedback file;
* ``eve`` tampers (inserts cells, deletes a check cell, edits a check to print "correct")
  and is still graded on the real checks;
* each submission's grading time is recorded (wall and CPU seconds; ``make grading-time``
  measures them against the budget on an idle machine: a test asserts no upper bound on time).

Written exercises are graded by hand in nbgrader's formgrader, so "full marks" here means
every autograded point.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from grade import autograde, feedback, scores
from grade import main as grade_main
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbgrader_cells import BEGIN, END, find_exercises
from release import assignment_id, release

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("ch*.ipynb"))
CLASS_CHAPTERS = ["latent-variables", "gan-failure-modes"]   # quick checks, two code exercises each


@pytest.fixture(scope="module")
def course():
    # In memory where possible: the gradebook (SQLite) commits every cell, and a disk's
    # fsync would double the release's time.
    shm = Path("/dev/shm")
    tmp = Path(tempfile.mkdtemp(prefix="nbgrader-", dir=shm if shm.is_dir() else None))
    course = tmp / "course"
    # A chapter without difficulty lines yet is worth 1 point per exercise here; the
    # difficulty lines themselves are required by tests/test_nbgrader_cells.py.
    release(NOTEBOOKS, course, default_points=1)
    yield course
    shutil.rmtree(tmp, ignore_errors=True)


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _source(course: Path, assignment: str) -> nbformat.NotebookNode:
    return _read(course / "source" / assignment / f"{assignment}.ipynb")


def _released(course: Path, assignment: str) -> nbformat.NotebookNode:
    return _read(course / "release" / assignment / f"{assignment}.ipynb")


def _graded_cells(nb: nbformat.NotebookNode) -> dict[str, dict]:
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def _auto_points(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Points of each autograded (check) cell, by grade id."""
    return {gid: m["points"] for gid, m in _graded_cells(nb).items() if not m["solution"]}


def _secret_lines(nb: nbformat.NotebookNode) -> set[str]:
    """Lines of the solution regions and of the written solutions, minus lines found elsewhere."""
    secret, public = set(), set()
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "{solution}" in cell.source:
            secret.update(ln.strip() for ln in cell.source.splitlines()
                          if not re.match(r"\s*(```|:::|:class:|:label:)", ln))
            continue
        inside = False
        for line in cell.source.splitlines():
            if BEGIN in line:
                inside = True
            elif END in line:
                inside = False
            else:
                (secret if inside else public).add(line.strip())
    return secret - public - {""}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_chapter_is_released_without_solutions(course, path):
    assignment = assignment_id(path)
    released = _released(course, assignment)
    chapter = _read(path)
    text = "\n".join(c.source for c in released.cells)
    assert BEGIN not in text and END not in text and "{solution}" not in text
    leaked = sorted(_secret_lines(chapter) & {ln.strip() for ln in text.splitlines()})
    assert not leaked, f"solution lines in the release of {path.name}: {leaked}"
    # Every statement (with its hints) is released word for word, and every exercise is graded.
    exercises = find_exercises(chapter, path.name, default_points=1)
    statements = [chapter.cells[ex.statement].source for ex in exercises]
    assert [s for s in statements if s not in {c.source for c in released.cells}] == []
    assert set(_graded_cells(released)) == {ex.label for ex in exercises}
    answers = [c.source for c in released.cells if c.metadata["nbgrader"].get("solution")]
    assert answers and all("YOUR CODE HERE" in a or a == "YOUR ANSWER HERE" for a in answers)
    assert all(c.get("outputs", []) == [] for c in released.cells)
    # Only what the exercises need: no training cell of the chapter is in the release.
    assert len(released.cells) < len(chapter.cells)


def _submit(course: Path, student: str, assignment: str, nb: nbformat.NotebookNode) -> None:
    target = course / "submitted" / student / assignment
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target / f"{assignment}.ipynb")


def _with_wrong_answers(nb: nbformat.NotebookNode, grade_ids: list[str]) -> nbformat.NotebookNode:
    """The reference, with the solution regions of ``grade_ids`` replaced by a wrong answer."""
    wrong = nbformat.from_dict(nb)
    for cell in wrong.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").removesuffix("-answer") in grade_ids \
                and cell.metadata["nbgrader"]["solution"]:
            lines, out, inside = cell.source.splitlines(), [], False
            for line in lines:
                if BEGIN in line:
                    inside = True
                    out.append(line[: len(line) - len(line.lstrip())] + 'return float("nan")')
                elif END in line:
                    inside = False
                elif not inside:
                    out.append(line)
            cell.source = "\n".join(out)
    return wrong


@pytest.fixture(scope="module")
def graded_class(course):
    """ada: reference; bob: untouched release; cyd: two wrong answers; eve: tampered."""
    expected = {}
    for assignment in CLASS_CHAPTERS:
        reference = _source(course, assignment)
        points = _auto_points(reference)
        assert len(points) >= 2, f"{assignment} needs two code exercises for this test"
        wrong = sorted(points)[:2]
        _submit(course, "ada", assignment, reference)
        _submit(course, "bob", assignment, _released(course, assignment))
        _submit(course, "cyd", assignment, _with_wrong_answers(reference, wrong))
        total = sum(points.values())
        expected.update({("ada", assignment): total, ("bob", assignment): 0,
                         ("cyd", assignment): total - points[wrong[0]] - points[wrong[1]]})
    # eve: exercise A left as a stub but its check edited to print "correct", a code cell
    # inserted that prints "correct"; exercise B solved and its check cell deleted.
    assignment = CLASS_CHAPTERS[0]
    reference, released = _source(course, assignment), _released(course, assignment)
    checks = list(_auto_points(released))
    eve = nbformat.from_dict(released)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in eve.cells]
    eve.cells[ids.index(checks[0])].source = 'print("✔ Exercise: correct — all checks passed.")'
    solved = [c for c in reference.cells if c.metadata["nbgrader"]["grade_id"] == f"{checks[1]}-answer"]
    eve.cells[ids.index(f"{checks[1]}-answer")].source = solved[0].source
    del eve.cells[ids.index(checks[1])]
    eve.cells.insert(ids.index(checks[0]) + 1, new_code_cell('print("correct")'))
    eve.cells.insert(1, new_markdown_cell("My notes."))
    _submit(course, "eve", assignment, eve)
    expected[("eve", assignment)] = _auto_points(reference)[checks[1]]
    graded = autograde(course, log=False)
    return expected, graded


def test_class_scores_come_from_the_gradebook(course, graded_class):
    expected, graded = graded_class
    got = {(g.student, g.assignment): g.score for g in graded}
    assert got == expected
    for (student, assignment), total in expected.items():
        assert sum(s or 0 for s in scores(course, student, assignment).values()) == total


def test_tampered_submission_is_graded_on_the_real_checks(course, graded_class):
    assignment = CLASS_CHAPTERS[0]
    autograded = _read(course / "autograded" / "eve" / assignment / f"{assignment}.ipynb")
    source_checks = {c.metadata["nbgrader"]["grade_id"]: c.source for c in _source(course, assignment).cells
                     if c.metadata["nbgrader"]["grade"] and not c.metadata["nbgrader"]["solution"]}
    ran = {c.metadata["nbgrader"]["grade_id"]: c for c in autograded.cells
           if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in source_checks}
    assert set(ran) == set(source_checks), "a deleted check cell was not put back"
    for gid, cell in ran.items():
        assert source_checks[gid] in cell.source   # restored from the gradebook
        assert cell.outputs, f"check {gid} did not run"


def test_feedback_and_csv(course, graded_class):
    expected, _ = graded_class
    written = feedback(course)
    for student, assignment in expected:
        html = course / "feedback" / student / assignment / f"{assignment}.html"
        assert html in written and html.stat().st_size > 1000
    assert grade_main(["grades", "--course", str(course)]) == 0   # what `make grades` runs
    rows = list(csv.DictReader((course / "grades.csv").open()))
    got = {(r["student_id"], r["assignment"]): float(r["raw_score"]) for r in rows}
    assert {key: got[key] for key in expected} == expected
    assert all(score == 0 for key, score in got.items() if key not in expected)  # nothing submitted


def test_each_submission_records_its_grading_time(graded_class):
    """What `make grading-time` reports: the wall time of each submission's autograding and the
    CPU time of nbgrader and its kernels (lower bounds only: a loaded machine is slower)."""
    _, graded = graded_class
    assert all(g.seconds > 0 and g.cpu_seconds > 0 for g in graded), [
        (g.student, g.assignment, g.seconds, g.cpu_seconds) for g in graded]


def test_grading_without_a_course_folder_says_what_to_do(tmp_path, capsys):
    """`make autograde` with nothing to grade, or no course folder, says what to do."""
    with pytest.raises(SystemExit):
        grade_main(["autograde", "--course", str(tmp_path)])
    assert "make release" in capsys.readouterr().err


def test_course_folder_has_nbgrader_layout(course):
    assert (course / "nbgrader_config.py").exists() and (course / "gradebook.db").exists()
    assert {p.name for p in (course / "release").iterdir()} == {assignment_id(p) for p in NOTEBOOKS}


def test_a_stub_earns_no_points_under_the_autograder(monkeypatch, capsys):
    """In Jupyter a stub prints "not attempted yet"; under nbgrader it must fail the test cell."""
    from genmodels.exercises import Exercise, ExerciseError

    def stub(x):
        raise NotImplementedError()

    with Exercise("0.1", "f") as ex:
        ex.call(stub, 1.0)
    assert "not attempted yet" in capsys.readouterr().out
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(ExerciseError, match="not attempted, so no points"), Exercise("0.1", "f") as ex:
        ex.call(stub, 1.0)


def test_a_submission_nbgrader_cannot_read_names_the_student(course, graded_class):
    assignment = CLASS_CHAPTERS[1]
    broken = course / "submitted" / "zed" / assignment
    broken.mkdir(parents=True)
    (broken / f"{assignment}.ipynb").write_text("{ not a notebook")
    try:
        with pytest.raises(RuntimeError, match=f"autograding {assignment} of student zed failed"):
            autograde(course, [("zed", assignment)], log=False)
    finally:
        shutil.rmtree(broken.parent)
