"""Write the student edition of the chapters with nbgrader's own preprocessors.

Usage (from the repository root; ``make student`` runs this)::

    python tools/student_edition.py                        # book/ch*.ipynb -> student/
    python tools/student_edition.py --out DIR a.ipynb b.ipynb

A thin call of nbgrader, the same steps ``nbgrader generate_assignment`` takes (its
``LockCells``, ``ClearSolutions``, ``ClearOutput``, ``ComputeChecksums``, ``ClearHiddenTests``,
``ClearMarkScheme`` and ``CheckCellMetadata``) on the chapter stamped by
``tools/nbgrader_cells.py``, less the gradebook and header steps: this edition is for
reading and running the whole chapter, and is what the site links for download. The graded
exercises notebooks of a class come from ``nbgrader generate_assignment`` itself
(``make release``, ``tools/release.py``). Before nbgrader runs, the cells students never get
are dropped: the written solutions of code exercises (``{solution}`` dropdowns) and cells
tagged ``solution`` or ``remove-in-student`` (the site's download links). Then

* every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes nbgrader's
  stub ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (the signature and docstring
  stay; the check cell then says "not attempted yet");
* the answer cell of a written exercise becomes nbgrader's "YOUR ANSWER HERE";
* outputs are cleared, and check cells and every other cell are made read-only.

The helpers that read the convention (``code_exercises``, ``is_solution_cell``, ...) stay
here for the tests; the convention itself is parsed by ``tools/nbgrader_cells.py``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader_cells import (
    BEGIN,
    END,
    ConventionError,
    _marker_problems,
    find_exercises,
    is_dropped_for_students,
    is_written_solution,
    stamp,
)

from genmodels.core.files import SourceFileError, write_text_atomically

__all__ = ["BEGIN", "END", "chapter_number", "code_exercises", "is_solution_cell", "main",
           "replace_solution_regions", "student_cells", "student_notebook", "write_student_edition"]

_CHAPTER = re.compile(r"^ch(\d+)")
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"   # nbgrader's default, stated once


def nbgrader_preprocessors() -> list:
    """nbgrader's preprocessors of ``generate_assignment`` that need no gradebook, in its order."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    return [LockCells(), ClearSolutions(code_stub={"python": CODE_STUB}), ClearOutput(),
            CheckCellMetadata(), ComputeChecksums(), ClearHiddenTests(), ClearMarkScheme(),
            ComputeChecksums(), CheckCellMetadata()]


def is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    """A ``{solution}`` markdown cell or a cell tagged ``solution``/``remove-in-student``."""
    return is_written_solution(cell) or is_dropped_for_students(cell)


def student_cells(nb: nbformat.NotebookNode, where: str = "notebook",
                  default_points: float | None = None) -> nbformat.NotebookNode:
    """``nb`` stamped, without the cells students never get (still with its solutions)."""
    stamped = stamp(nb, where, default_points)
    exercises = find_exercises(stamped, where, default_points)
    drop = {ex.written_solution for ex in exercises if ex.is_code}
    stamped.cells = [cell for index, cell in enumerate(stamped.cells)
                     if index not in drop and not is_dropped_for_students(cell)]
    return stamped


def run_nbgrader(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` (stamped) through nbgrader's release preprocessors."""
    resources: dict = {}
    for preprocessor in nbgrader_preprocessors():
        nb, resources = preprocessor.preprocess(nb, resources)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def student_notebook(nb: nbformat.NotebookNode, where: str = "notebook",
                     default_points: float | None = None) -> nbformat.NotebookNode:
    """A copy of ``nb`` as handed to students (see the module docstring)."""
    return run_nbgrader(student_cells(nb, where, default_points))


def replace_solution_regions(source: str, exercise: str | None = None, where: str = "cell") -> str:
    """``source`` with each BEGIN/END SOLUTION region replaced by nbgrader's stub.

    Raises ``ValueError`` (naming ``where``) for an unbalanced or nested marker, or a
    region that does not stand inside a function body. (``exercise`` is ignored: nbgrader's
    stub is the same for every exercise; the check names the exercise.)
    """
    problems = _marker_problems(source, where)
    if problems:
        raise ValueError("\n".join(problems))
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": "answer", "locked": False,
                                 "schema_version": 3, "solution": True, "task": False}
    from nbgrader.preprocessors import ClearSolutions

    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = ClearSolutions(code_stub={"python": CODE_STUB}).preprocess(nb, {})
    return nb.cells[0].source


def chapter_number(path: Path) -> str:
    """``"1"`` for ``ch01_generative_models.ipynb``; the file stem for other names."""
    match = _CHAPTER.match(path.name)
    return str(int(match.group(1))) if match else path.stem


@dataclass(frozen=True)
class CodeExercise:
    """A code exercise found in a notebook: its solution cell and the (first) check cell after it."""

    number: str
    solution: str
    check: str
    cell: int
    label: str = ""


def code_exercises(nb: nbformat.NotebookNode, chapter: str, where: str = "notebook") -> list[CodeExercise]:
    """The code exercises of ``nb``, numbered ``chapter.k`` by counting exercises.

    Raises ``ValueError`` (:class:`nbgrader_cells.ConventionError`) when the notebook breaks
    the convention, e.g. a solution cell not followed by a check cell. A missing difficulty
    line is not an error here (``nbgrader_cells.py --check`` reports it).
    """
    found = []
    for k, ex in enumerate(find_exercises(nb, where, default_points=1), start=1):
        if ex.is_code:
            found.append(CodeExercise(f"{chapter}.{k}", nb.cells[ex.solutions[0]].source,
                                      nb.cells[ex.checks[0]].source, ex.solutions[0], ex.label))
    return found


def write_student_edition(notebooks: Sequence[Path], out_dir: Path,
                          default_points: float | None = None) -> list[Path]:
    """Write the student edition of each notebook into ``out_dir``; return the new paths.

    Refuses (``SourceFileError``, before writing anything) an ``out_dir`` where a student
    notebook would replace one of the source notebooks (``--out book``); each file is written
    atomically (a temporary file, then a rename), so a symlink there is replaced, never
    written through.
    """
    sources = {Path(p).resolve() for p in notebooks}
    clashes = [str(out_dir / Path(p).name) for p in notebooks
               if (out_dir / Path(p).name).resolve() in sources]
    if clashes:
        raise SourceFileError(
            f"--out {out_dir}: the student edition would overwrite its own sources "
            f"({', '.join(clashes[:3])}{' …' if len(clashes) > 3 else ''}); choose another "
            "folder (the default is student/).")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        student = student_notebook(nbformat.read(path, as_version=4), str(path), default_points)
        target = out_dir / path.name
        text = nbformat.writes(student)
        write_text_atomically(target, text if text.endswith("\n") else text + "\n",
                              what="--out", allow_tracked=True)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/student_edition.py",
        description="Write the student edition of the chapters with nbgrader (solutions -> stubs, no outputs).",
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: book/ch*.ipynb")
    parser.add_argument("--out", type=Path, default=Path("student"), help="default: student/")
    parser.add_argument("--default-points", type=float, default=None,
                        help="points of an exercise without a difficulty line (default: an error)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(Path("book").glob("ch*.ipynb"))
    if not notebooks:
        parser.error("no notebooks given and none found as book/ch*.ipynb; run from the repository root.")
    try:
        written = write_student_edition(notebooks, args.out, args.default_points)
    except ConventionError as err:
        parser.exit(1, f"error: the exercise convention is broken:\n{err}\n")
    except SourceFileError as err:
        parser.exit(1, f"error: {err}\n")
    for target in written:
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
