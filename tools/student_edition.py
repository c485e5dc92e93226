"""Write the student edition of the chapters: solutions replaced by stubs, outputs removed.

Usage (from the repository root; ``make student`` runs this)::

    python tools/student_edition.py                        # book/ch*.ipynb -> student/
    python tools/student_edition.py --out DIR a.ipynb b.ipynb

What changes, per the authoring convention in ``CONTRIBUTING.md`` ("Exercises"):

* in code cells, every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  (nbgrader's markers) becomes, at the marker's indentation::

      # YOUR CODE HERE
      raise NotImplementedError("Exercise 1.2: not attempted yet")

  so the function's signature and docstring stay; the regions must be inside a function
  body (the check cell calls the function);
* markdown cells holding a ``{solution}`` directive, and cells tagged ``solution`` or
  ``remove-in-student``, are dropped;
* outputs and execution counts are removed.

Written with nbformat rather than nbgrader: nbgrader's ``ClearSolutions`` covers only the
first step, cannot number the stub per exercise, and would add nbgrader, notebook 7,
alembic, Mako and RapidFuzz (plus Jupyter server extensions) to the course environment.
The markers are nbgrader's, so instructors can still use nbgrader on these notebooks.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
DROP_TAGS = frozenset({"solution", "remove-in-student"})
_EXERCISE_DIRECTIVE = re.compile(r"^\s*(```+|:::+)\s*\{exercise\}", re.MULTILINE)
_SOLUTION_DIRECTIVE = re.compile(r"^\s*(```+|:::+)\s*\{solution\}", re.MULTILINE)
_CHAPTER = re.compile(r"^ch(\d+)")


def stub_lines(indent: str, exercise: str) -> list[str]:
    """The lines that replace a solution region at indentation ``indent``."""
    return [
        f"{indent}# YOUR CODE HERE",
        f'{indent}raise NotImplementedError("Exercise {exercise}: not attempted yet")',
    ]


def replace_solution_regions(source: str, exercise: str, where: str = "cell") -> str:
    """``source`` with each BEGIN/END SOLUTION region replaced by :func:`stub_lines`.

    Raises ``ValueError`` (naming ``where``) for an unbalanced or nested marker, or a
    region that does not stand inside a function body.
    """
    out: list[str] = []
    in_solution = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if in_solution:
                raise ValueError(f"{where}, line {number}: nested '{BEGIN}'; close the first with '{END}'.")
            indent = line[: len(line) - len(line.lstrip())]
            if not indent:
                raise ValueError(
                    f"{where}, line {number}: '{BEGIN}' must stand inside a function body "
                    "(indented), so that the student edition keeps the signature and the "
                    "check can call the function."
                )
            out.extend(stub_lines(indent, exercise))
            in_solution = True
        elif stripped.startswith(END):
            if not in_solution:
                raise ValueError(f"{where}, line {number}: '{END}' without a '{BEGIN}' before it.")
            in_solution = False
        elif not in_solution:
            out.append(line)
    if in_solution:
        raise ValueError(f"{where}: '{BEGIN}' is never closed; add '{END}' after the solution.")
    return "\n".join(out)


def has_solution_region(source: str) -> bool:
    """Whether a cell's source contains a BEGIN SOLUTION marker."""
    return any(line.strip().startswith(BEGIN) for line in source.splitlines())


def is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    """Whether the whole cell is a solution: a ``{solution}`` directive or a drop tag."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    if tags & DROP_TAGS:
        return True
    return cell.cell_type == "markdown" and bool(_SOLUTION_DIRECTIVE.search(cell.source))


def chapter_number(path: Path) -> str:
    """``"1"`` for ``ch01_generative_models.ipynb``; the file stem for other names."""
    match = _CHAPTER.match(path.name)
    return str(int(match.group(1))) if match else path.stem


@dataclass(frozen=True)
class CodeExercise:
    """A code exercise found in a notebook: its solution cell and the check cell after it."""

    number: str
    solution: str
    check: str
    cell: int


def code_exercises(nb: nbformat.NotebookNode, chapter: str, where: str = "notebook") -> list[CodeExercise]:
    """The code exercises of ``nb``: each solution cell paired with the next code cell.

    Raises ``ValueError`` when a solution cell is not followed by a check cell (a code
    cell that uses ``genmodels.exercises``).
    """
    found = []
    n_exercises = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and not is_solution_cell(cell):
            n_exercises += len(_EXERCISE_DIRECTIVE.findall(cell.source))
        if cell.cell_type != "code" or not has_solution_region(cell.source):
            continue
        following = [c for c in nb.cells[index + 1 :] if c.cell_type == "code"]
        if not following or "genmodels.exercises" not in following[0].source:
            raise ValueError(
                f"{where}, cell {index}: a solution cell must be followed by a check cell "
                "(the next code cell) that calls genmodels.exercises."
            )
        found.append(CodeExercise(f"{chapter}.{max(n_exercises, 1)}", cell.source, following[0].source, index))
    return found


def student_notebook(nb: nbformat.NotebookNode, chapter: str, where: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` as handed to students (see the module docstring).

    Exercises are numbered ``chapter.k`` by counting ``{exercise}`` directives, so a stub
    says which exercise it belongs to.
    """
    student = nbformat.from_dict(nb)
    cells = []
    n_exercises = 0
    for index, cell in enumerate(student.cells):
        if is_solution_cell(cell):
            continue
        if cell.cell_type == "markdown":
            n_exercises += len(_EXERCISE_DIRECTIVE.findall(cell.source))
        if cell.cell_type == "code":
            if has_solution_region(cell.source):
                cell.source = replace_solution_regions(
                    cell.source, f"{chapter}.{max(n_exercises, 1)}", f"{where}, cell {index}"
                )
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    student.cells = cells
    return student


def write_student_edition(notebooks: Sequence[Path], out_dir: Path) -> list[Path]:
    """Write the student edition of each notebook into ``out_dir``; return the new paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        student = student_notebook(nb, chapter_number(path), where=str(path))
        target = out_dir / path.name
        nbformat.write(student, target)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m genmodels.exercises.student",
        description="Write the student edition of the chapters (solutions -> stubs, no outputs).",
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: book/ch*.ipynb")
    parser.add_argument("--out", type=Path, default=Path("student"), help="default: student/")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(Path("book").glob("ch*.ipynb"))
    if not notebooks:
        parser.error("no notebooks given and none found as book/ch*.ipynb; run from the repository root.")
    for target in write_student_edition(notebooks, args.out):
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
