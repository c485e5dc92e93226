"""tools/nbgrader_cells.py: nbgrader cell metadata stamped from the exercise convention.

Synthetic notebooks show what each kind of cell becomes and that broken conventions are
named; copies of the real chapters are stamped and checked in a temporary folder; and the
real chapters themselves must be up to date (``--check``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader_cells import ConventionError, find_exercises, main, out_of_date, stamp

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("ch*.ipynb"))

STATEMENT = "```{{exercise}} {title}\n:label: {label}\n\n**Difficulty:** {stars} ({n} of 3)\n\nDo it.\n```"
SOLUTION = "def f(x):\n    '''Twice x.'''\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
CHECK = "from genmodels.exercises import generative_models\ngenerative_models.check_f(f)"


def statement(label: str, n: int = 2) -> str:
    return STATEMENT.format(title=label, label=label, stars="★" * n + "☆" * (3 - n), n=n)


def written(label: str) -> str:
    return f"```{{solution}} {label}\n:class: dropdown\n\nBecause.\n```"


def notebook(*cells) -> nbformat.NotebookNode:
    return new_notebook(cells=list(cells))


def toy() -> nbformat.NotebookNode:
    return notebook(
        new_markdown_cell("# A chapter"),
        new_code_cell("import torch"),
        new_markdown_cell("## Exercises"),
        new_markdown_cell(statement("ex-double", 2)),
        new_code_cell(SOLUTION),
        new_code_cell(CHECK),
        new_markdown_cell(written("ex-double")),
        new_markdown_cell(statement("ex-why", 3)),
        new_markdown_cell(written("ex-why")),
    )


def test_each_kind_of_cell_gets_its_metadata():
    nb = stamp(toy())
    meta = [c.metadata["nbgrader"] for c in nb.cells]
    solution, check, code_written, why = meta[4], meta[5], meta[6], meta[8]
    assert solution == {"grade": False, "grade_id": "ex-double-answer", "locked": False,
                        "schema_version": 3, "solution": True, "task": False}
    assert check == {"grade": True, "grade_id": "ex-double", "locked": True, "points": 2,
                     "schema_version": 3, "solution": False, "task": False}
    assert why == {"grade": True, "grade_id": "ex-why", "locked": False, "points": 3,
                   "schema_version": 3, "solution": True, "task": False}
    for index in (0, 1, 2, 3, 6, 7):
        assert meta[index]["locked"] and not meta[index]["grade"] and not meta[index]["solution"]
        assert meta[index]["grade_id"] == f"cell-{nb.cells[index].id}"
    assert code_written["grade_id"] != "ex-double"  # the code exercise's dropdown is not graded


def test_stamp_is_idempotent_and_check_agrees():
    nb = stamp(toy())
    assert out_of_date(nb) == []
    assert nbformat.writes(stamp(nb)) == nbformat.writes(nb)
    assert out_of_date(toy())  # unstamped: out of date


def test_grade_ids_hold_no_chapter_number():
    nb = toy()
    nb.cells[3].source = statement("ex-ch1-double")
    with pytest.raises(ConventionError, match="no chapter number"):
        stamp(nb)


def test_changed_points_make_the_stamp_out_of_date():
    nb = stamp(toy())
    nb.cells[3].source = statement("ex-double", 3)
    problems = out_of_date(nb)
    assert len(problems) == 1 and "cell 5" in problems[0] and "'points': 3" in problems[0]


def test_missing_difficulty_is_an_error_unless_a_default_is_given():
    nb = toy()
    nb.cells[3].source = "```{exercise} Double\n:label: ex-double\n\nDo it.\n```"
    with pytest.raises(ConventionError, match="ex-double has no difficulty line"):
        stamp(nb)
    assert stamp(nb, default_points=1).cells[5].metadata["nbgrader"]["points"] == 1


@pytest.mark.parametrize("edit, message", [
    (lambda cells: cells.pop(5), "must be followed by a check cell"),
    (lambda cells: cells.pop(6), "a new exercise starts before exercise ex-double"),
    (lambda cells: cells.insert(2, new_code_cell(SOLUTION)), "outside every exercise"),
    (lambda cells: cells.__setitem__(7, new_markdown_cell(statement("ex-double"))), "used twice"),
    (lambda cells: cells.__setitem__(3, new_markdown_cell(statement("ex-double").replace("2 of 3", "3 of 3"))),
     "the stars and the number must agree"),
    (lambda cells: cells.__setitem__(4, new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")),
     "inside a function body"),
    (lambda cells: cells.__setitem__(8, new_markdown_cell(written("ex-other"))), "does not close"),
], ids=["no check", "no solution dropdown", "solution outside", "duplicate label", "stars",
        "top-level marker", "wrong solution label"])
def test_broken_conventions_are_named(edit, message):
    nb = toy()
    edit(nb.cells)
    with pytest.raises(ConventionError, match=message):
        find_exercises(nb, "toy.ipynb")


def test_several_checks_share_the_points():
    nb = toy()
    nb.cells.insert(6, new_code_cell(CHECK))
    meta = [c.metadata["nbgrader"] for c in stamp(nb).cells]
    assert (meta[5]["grade_id"], meta[5]["points"]) == ("ex-double", 1)
    assert (meta[6]["grade_id"], meta[6]["points"]) == ("ex-double-2", 1)


def test_command_writes_then_checks(tmp_path, capsys):
    path = tmp_path / "ch01_toy.ipynb"
    nbformat.write(toy(), path)
    assert main(["--check", str(path)]) == 1
    assert "out of date" in capsys.readouterr().out
    assert main(["--write", str(path)]) == 0
    assert main(["--check", str(path)]) == 0
    before = path.read_text()
    assert main(["--write", str(path)]) == 0 and path.read_text() == before


def test_real_chapters_stamp_cleanly_in_a_copy(tmp_path):
    """Copies of the chapters: --write stamps them (only metadata changes), --check then passes."""
    copies = []
    for path in NOTEBOOKS:
        shutil.copy(path, tmp_path / path.name)
        copies.append(str(tmp_path / path.name))
    assert main(["--write", "--default-points", "1", *copies]) == 0
    assert main(["--check", "--default-points", "1", *copies]) == 0
    for path in NOTEBOOKS:
        original = nbformat.read(path, as_version=4)
        stamped = nbformat.read(tmp_path / path.name, as_version=4)
        assert [c.source for c in stamped.cells] == [c.source for c in original.cells]
        graded = [c.metadata["nbgrader"] for c in stamped.cells if c.metadata["nbgrader"]["grade"]]
        assert graded, f"{path.name}: no graded cell"
        assert all(m["grade_id"].startswith("ex-") for m in graded)


def test_book_notebooks_are_stamped():
    """The chapters carry up-to-date nbgrader metadata: run `python tools/nbgrader_cells.py --write`."""
    problems = [line for path in NOTEBOOKS
                for line in out_of_date(nbformat.read(path, as_version=4), path.name)]
    assert not problems, "nbgrader metadata out of date (python tools/nbgrader_cells.py --write):\n" + \
        "\n".join(problems[:20])
