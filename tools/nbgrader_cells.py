"""Stamp nbgrader's cell metadata on the chapters, from the authoring conventions.

Usage (from the repository root)::

    python tools/nbgrader_cells.py --check           # exit 1 and list what is out of date
    python tools/nbgrader_cells.py --write           # stamp book/ch*.ipynb in place
    python tools/nbgrader_cells.py --write a.ipynb   # or the notebooks named

Authors never edit nbgrader metadata by hand: this tool derives it from the exercise
convention of ``CONTRIBUTING.md`` ("Exercises"). An exercise is the cells from its
statement (a markdown cell with an ``{exercise}`` directive and a ``:label: ex-name``)
to its written solution (the markdown cell ``{solution} ex-name``). Inside it:

* a code cell with ``### BEGIN SOLUTION`` is an nbgrader **solution cell**, grade id
  ``ex-name-answer``;
* a code cell that calls ``genmodels.exercises`` is its **check**: an autograded test cell,
  locked, grade id ``ex-name``, worth the exercise's difficulty in points (the line
  ``**Difficulty:** ★★☆ (2 of 3)`` of the statement: 1, 2 or 3 points);
* the ``{solution}`` cell of a *written* exercise (one without a solution cell) is a
  **manually graded answer** (grade id ``ex-name``, the difficulty in points): the release
  replaces it by nbgrader's "YOUR ANSWER HERE"; the ``{solution}`` cell of a code exercise
  is locked like the statement (the editions drop it);
* every other cell of the notebook is **locked** (read-only, grade id ``cell-<cell id>``),
  so the autograder restores whatever a student changed in it.

Grade ids hold no chapter number: renumbering chapters never breaks a gradebook. Points
split evenly when one exercise has several check cells (rare).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SCHEMA_VERSION = 3
DROP_TAGS = frozenset({"solution", "remove-in-student", "shows-exercise-answer"})

_EXERCISE = re.compile(r"^\s*(`{3,}|:{3,})\s*\{exercise\}", re.MULTILINE)
_LABEL = re.compile(r"^\s*:label:\s*(\S+)\s*$", re.MULTILINE)
_SOLUTION = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution\}\s*(\S+)", re.MULTILINE)
_DIFFICULTY = re.compile(r"\*\*Difficulty:\*\*\s*([★☆]+)\s*\((\d+) of 3\)")
_GOOD_LABEL = re.compile(r"ex-[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


class ConventionError(ValueError):
    """A notebook breaks the exercise convention; the message lists every problem."""


@dataclass
class GradedExercise:
    """One exercise of a notebook, by cell indices."""

    label: str
    statement: int
    points: float | None = None
    solutions: list[int] = field(default_factory=list)   # code cells with BEGIN SOLUTION
    checks: list[int] = field(default_factory=list)      # code cells calling genmodels.exercises
    written_solution: int | None = None                  # the {solution} markdown cell

    @property
    def is_code(self) -> bool:
        return bool(self.solutions)

    @property
    def cells(self) -> range:
        end = self.written_solution if self.written_solution is not None else self.statement
        return range(self.statement, end + 1)


def has_solution_region(source: str) -> bool:
    """Whether a cell's source contains a BEGIN SOLUTION marker."""
    return any(line.strip().startswith(BEGIN) for line in source.splitlines())


def is_written_solution(cell: nbformat.NotebookNode) -> bool:
    """A markdown cell holding a ``{solution}`` directive."""
    return cell.cell_type == "markdown" and bool(_SOLUTION.search(cell.source))


def is_dropped_for_students(cell: nbformat.NotebookNode) -> bool:
    """Cells tagged ``solution`` or ``remove-in-student`` (e.g. the site's download links)."""
    return bool(set(cell.get("metadata", {}).get("tags", [])) & DROP_TAGS)


def _marker_problems(source: str, where: str) -> list[str]:
    problems = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                problems.append(f"{where}, line {number}: nested '{BEGIN}'; close the first with '{END}'.")
            if not line[: len(line) - len(line.lstrip())]:
                problems.append(f"{where}, line {number}: '{BEGIN}' must stand inside a function body "
                                "(indented), so that the student keeps the signature.")
            inside = True
        elif stripped.startswith(END):
            if not inside:
                problems.append(f"{where}, line {number}: '{END}' without a '{BEGIN}' before it.")
            inside = False
    if inside:
        problems.append(f"{where}: '{BEGIN}' is never closed; add '{END}' after the solution.")
    return problems


def find_exercises(nb: nbformat.NotebookNode, where: str = "notebook",
                   default_points: float | None = None) -> list[GradedExercise]:
    """The exercises of ``nb`` in reading order; :class:`ConventionError` lists every problem.

    ``default_points``: the points of an exercise whose statement has no difficulty line
    (``None``: a missing difficulty line is a problem).
    """
    problems: list[str] = []
    exercises: list[GradedExercise] = []
    current: GradedExercise | None = None
    for index, cell in enumerate(nb.cells):
        here = f"{where}, cell {index}"
        source = cell.source
        if cell.cell_type == "markdown" and _EXERCISE.search(source) and not is_written_solution(cell):
            if current is not None:
                problems.append(f"{here}: a new exercise starts before exercise {current.label} "
                                f"has its {{solution}} cell.")
            labels = _LABEL.findall(source)
            if len(_EXERCISE.findall(source)) != 1 or len(labels) != 1:
                problems.append(f"{here}: one {{exercise}} directive with one :label: per cell.")
                current = None
                continue
            label = labels[0]
            if not _GOOD_LABEL.fullmatch(label) or re.search(r"(^|-)ch\d", label):
                problems.append(f"{here}: label {label!r} must read ex-<name> (lower case, hyphens, "
                                "no chapter number).")
            if any(e.label == label for e in exercises):
                problems.append(f"{here}: label {label} is used twice.")
            current = GradedExercise(label, index)
            difficulty = _DIFFICULTY.search(source)
            if difficulty:
                stars, points = difficulty.group(1), int(difficulty.group(2))
                if not 1 <= points <= 3 or stars.count("★") != points or len(stars) != 3:
                    problems.append(f"{here}: difficulty {difficulty.group(0)!r} of {label}: the stars "
                                    "and the number must agree (★☆☆ (1 of 3), ★★☆ (2 of 3), ★★★ (3 of 3)).")
                current.points = points
            elif default_points is not None:
                current.points = default_points
            else:
                problems.append(f"{here}: exercise {label} has no difficulty line "
                                "('**Difficulty:** ★★☆ (2 of 3)'), which is also its points.")
            exercises.append(current)
            continue
        if cell.cell_type == "markdown" and is_written_solution(cell):
            target = _SOLUTION.search(source).group(2)
            if current is None or target != current.label:
                expected = current.label if current else "no open exercise"
                problems.append(f"{here}: {{solution}} {target} does not close the exercise above "
                                f"it ({expected}).")
            else:
                current.written_solution = index
                current = None
            continue
        if has_solution_region(source):
            if cell.cell_type != "code":
                problems.append(f"{here}: '{BEGIN}' in a {cell.cell_type} cell; solutions are code.")
            elif current is None:
                problems.append(f"{here}: a solution cell outside every exercise (between a statement "
                                "and its {solution} cell).")
            else:
                if current.checks:
                    problems.append(f"{here}: a second solution cell after the check of {current.label}.")
                current.solutions.append(index)
                problems += _marker_problems(source, here)
            continue
        if cell.cell_type == "code" and current is not None and "genmodels.exercises" in source:
            if not current.solutions:
                problems.append(f"{here}: a check cell of {current.label} before any solution cell.")
            else:
                current.checks.append(index)
    if current is not None:
        problems.append(f"{where}: exercise {current.label} never gets its {{solution}} cell.")
    for exercise in exercises:
        if exercise.is_code and not exercise.checks:
            problems.append(f"{where}, cell {exercise.solutions[0]}: the solution of {exercise.label} "
                            "must be followed by a check cell (a code cell calling genmodels.exercises).")
    if problems:
        raise ConventionError("\n".join(problems))
    return exercises


def _meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = int(points) if float(points).is_integer() else points
    return meta


def expected_metadata(nb: nbformat.NotebookNode, where: str = "notebook",
                      default_points: float | None = None) -> list[dict | None]:
    """The nbgrader metadata each cell should carry (``None`` where a cell has no id yet)."""
    exercises = find_exercises(nb, where, default_points)
    wanted: list[dict | None] = [
        _meta(f"cell-{cell.get('id')}", locked=True) if cell.get("id") else None for cell in nb.cells
    ]
    for ex in exercises:
        for k, index in enumerate(ex.solutions):
            suffix = f"-{k + 1}" if k else ""
            wanted[index] = _meta(f"{ex.label}-answer{suffix}", solution=True)
        for k, index in enumerate(ex.checks):
            suffix = f"-{k + 1}" if k else ""
            wanted[index] = _meta(f"{ex.label}{suffix}", grade=True, locked=True,
                                  points=ex.points / len(ex.checks))
        if not ex.is_code and ex.written_solution is not None:
            wanted[ex.written_solution] = _meta(ex.label, grade=True, solution=True, points=ex.points)
    return wanted


def stamp(nb: nbformat.NotebookNode, where: str = "notebook",
          default_points: float | None = None) -> nbformat.NotebookNode:
    """A copy of ``nb`` carrying the nbgrader metadata of every cell (cells without an id get one)."""
    stamped = copy.deepcopy(nb)
    for index, cell in enumerate(stamped.cells):
        if not cell.get("id"):  # deterministic, so that an edition made twice is the same file
            cell["id"] = hashlib.sha1(f"{index}:{cell.source}".encode()).hexdigest()[:8]
    if (stamped.nbformat, stamped.nbformat_minor) < (4, 5):
        stamped.nbformat_minor = 5
    for cell, meta in zip(stamped.cells, expected_metadata(stamped, where, default_points), strict=True):
        cell.metadata["nbgrader"] = meta
    return stamped


def out_of_date(nb: nbformat.NotebookNode, where: str = "notebook",
                default_points: float | None = None) -> list[str]:
    """What differs between ``nb``'s nbgrader metadata and the stamp: one line per cell."""
    try:
        wanted = expected_metadata(nb, where, default_points)
    except ConventionError as err:
        return str(err).splitlines()
    found = []
    for index, (cell, meta) in enumerate(zip(nb.cells, wanted, strict=True)):
        if meta is None:
            found.append(f"{where}, cell {index}: no cell id (nbformat 4.5); --write adds one.")
            continue
        have = cell.metadata.get("nbgrader")
        if have != meta:
            state = "no nbgrader metadata" if have is None else f"nbgrader metadata {have}"
            found.append(f"{where}, cell {index}: {state}, should be {meta}.")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/nbgrader_cells.py",
        description="Stamp (--write) or check (--check) the nbgrader cell metadata of the chapters.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="stamp the notebooks in place")
    mode.add_argument("--check", action="store_true", help="exit 1 and list what is out of date")
    parser.add_argument("--default-points", type=float, default=None,
                        help="points of an exercise without a difficulty line (default: an error)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: book/ch*.ipynb")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(Path("book").glob("ch*.ipynb"))
    if not notebooks:
        parser.error("no notebooks given and none found as book/ch*.ipynb; run from the repository root.")
    failed = False
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if args.check:
            problems = out_of_date(nb, str(path), args.default_points)
            if problems:
                failed = True
                print(f"{path}: out of date ({len(problems)} problem(s)); fix the convention, then run "
                      "python tools/nbgrader_cells.py --write")
                for line in problems:
                    print(f"  {line}")
            continue
        try:
            stamped = stamp(nb, str(path), args.default_points)
        except ConventionError as err:
            failed = True
            print(f"{path}: not stamped, it breaks the exercise convention:\n  "
                  + str(err).replace("\n", "\n  "), file=sys.stderr)
            continue
        if nbformat.writes(stamped) != nbformat.writes(nb):
            nbformat.write(stamped, path)
            print(f"stamped {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
