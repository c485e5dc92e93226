"""Build the nbgrader course folder: one graded exercises notebook per chapter, released.

Usage (from the repository root; ``make release`` runs this)::

    python tools/release.py                          # every chapter -> _build/nbgrader/
    python tools/release.py --course DIR book/ch01_generative_models.ipynb

For each chapter ``book/chNN_topic.ipynb`` it writes, under the course folder,
``source/<assignment>/<assignment>.ipynb`` — the chapter's **exercises notebook** — and runs
``nbgrader generate_assignment`` on it, which writes ``release/<assignment>/`` (what students
get) and records the assignment's cells and points in ``gradebook.db``. The assignment id
is the chapter's topic with hyphens (``ch01_generative_models`` -> ``generative-models``): no
chapter number, so renumbering chapters never breaks a gradebook.

Why a separate exercises notebook rather than the whole chapter: nbgrader executes a
submission from top to bottom, once per student; a chapter trains models for up to two
minutes, which 100 students would pay 100 times. The exercises notebook holds what the
exercises need and nothing else: the chapter's title, its set-up cell (imports, seeding,
the device: the first code cell of the "## Set-up" section), and its exercises (the
"## Exercises" section and any exercise outside it), without the written solutions of code
exercises and the cells tagged ``remove-in-student``. Every solution and check cell runs on
its own (``CONTRIBUTING.md``), so nothing else from the chapter is needed. The chapter is
stamped with ``tools/nbgrader_cells.py`` on the way (in memory), so the release never
depends on someone having run ``--write``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbgrader_cells import ConventionError, find_exercises, is_dropped_for_students, stamp
from student_edition import CODE_STUB

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "_build" / "nbgrader"
COURSE_ID = "genmodels"
CELL_TIMEOUT = 90
"""nbgrader's per-cell time limit (s): above the longest check (20 s on one thread, CONTRIBUTING)."""

CONFIG = f'''# nbgrader configuration of the course folder (written by tools/release.py; do not edit here).
import os

c = get_config()  # noqa: F821
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "{COURSE_ID}"
# The stub of a solution region (nbgrader's default, also used by tools/student_edition.py).
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
# Each check takes at most 20 s (CONTRIBUTING.md); a cell running longer than this is stopped.
c.Execute.timeout = {CELL_TIMEOUT}
# A check cell a student deleted is put back (from the gradebook) and run.
c.OverwriteCells.add_missing_cells = True
'''

_SECTION = re.compile(r"^##\s+(.*?)\s*$", re.MULTILINE)


def assignment_id(path: Path) -> str:
    """``generative-models`` for ``book/ch01_generative_models.ipynb``."""
    return re.sub(r"^ch\d+_", "", path.stem).replace("_", "-")


def _sections(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, title) of every ``## `` heading that opens a markdown cell."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            match = _SECTION.match(cell.source.lstrip())
            if match:
                found.append((index, match.group(1)))
    return found


def exercises_notebook(nb: nbformat.NotebookNode, where: str = "notebook",
                       default_points: float | None = None) -> nbformat.NotebookNode:
    """The graded exercises notebook of a chapter (see the module docstring), stamped."""
    stamped = stamp(nb, where, default_points)
    exercises = find_exercises(stamped, where, default_points)
    sections = _sections(stamped) + [(len(stamped.cells), "")]
    keep: set[int] = set()
    setup = exercises_section = None
    for (start, title), (end, _) in zip(sections, sections[1:], strict=False):
        if title.lower().startswith("set-up") and setup is None:
            setup = next((i for i in range(start, end) if stamped.cells[i].cell_type == "code"), None)
        if title.lower() == "exercises":
            exercises_section = range(start, end)
    if setup is None:
        raise ConventionError(f"{where}: no code cell in a '## Set-up' section (imports and seeding).")
    if exercises_section is None and not exercises:
        raise ConventionError(f"{where}: no '## Exercises' section and no exercise.")
    keep.add(setup)
    keep.update(exercises_section or ())
    for ex in exercises:
        keep.update(ex.cells)
    drop = {ex.written_solution for ex in exercises if ex.is_code}
    title = stamped.cells[0].source.strip().splitlines()[0].lstrip("# ").strip()
    intro = nbformat.v4.new_markdown_cell(
        f"# Exercises: {title}\n\n"
        "Run the set-up cell first, then each exercise: write the body of the function between "
        "its signature and the check, run the cell, then run the check cell below it. A check "
        "prints **✔ correct**, *not attempted yet*, or stops with a message saying what is "
        "wrong. Written exercises: answer in the cell that says YOUR ANSWER HERE. Do not change "
        "the other cells: they are restored before grading. Save before you submit.",
        id="exercises-title",
    )
    intro.metadata["nbgrader"] = {"grade": False, "grade_id": "cell-exercises-title", "locked": True,
                                  "schema_version": 3, "solution": False, "task": False}
    cells = [intro] + [stamped.cells[i] for i in sorted(keep)
                       if i not in drop and not is_dropped_for_students(stamped.cells[i])]
    if exercises_section is not None:
        # The section's prose is written for the site (solutions behind toggles); the title cell
        # above says how to work in this notebook.
        stamped.cells[exercises_section.start].source = "## Exercises"
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    out = nbformat.v4.new_notebook(cells=cells, metadata=stamped.metadata)
    nbformat.validate(out)
    return out


def write_config(course: Path) -> Path:
    course.mkdir(parents=True, exist_ok=True)
    target = course / "nbgrader_config.py"
    target.write_text(CONFIG)
    return target


def nbgrader_api(course: Path):
    """nbgrader's Python API on the course folder, configured by its ``nbgrader_config.py``."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    # nbgrader runs the `alembic` command of its environment to open the gradebook, which is
    # not on PATH when the virtual environment's python is called without activating it.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.resolve())).load_config()
    return NbGraderAPI(config=config)


def release(notebooks: Sequence[Path], course: Path = COURSE,
            default_points: float | None = None) -> dict[str, Path]:
    """Write the exercises notebooks into ``course/source`` and run ``generate_assignment``.

    Returns {assignment id: released notebook}. Raises ``RuntimeError`` with nbgrader's log
    when nbgrader refuses an assignment, ``ConventionError`` when a chapter breaks the convention.
    """
    write_config(course)
    api = nbgrader_api(course)
    released = {}
    for path in notebooks:
        assignment = assignment_id(path)
        source_dir = course / "source" / assignment
        shutil.rmtree(source_dir, ignore_errors=True)
        source_dir.mkdir(parents=True)
        nb = exercises_notebook(nbformat.read(path, as_version=4), str(path), default_points)
        nbformat.write(nb, source_dir / f"{assignment}.ipynb")
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} ({path}) failed:\n"
                               f"{result.get('log', '')}\n{result.get('error', '')}")
        released[assignment] = course / "release" / assignment / f"{assignment}.ipynb"
    return released


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/release.py",
        description="Build the nbgrader course folder and release every chapter's exercises.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: book/ch*.ipynb")
    parser.add_argument("--course", type=Path, default=COURSE, help=f"default: {COURSE.relative_to(ROOT)}/")
    parser.add_argument("--default-points", type=float, default=None,
                        help="points of an exercise without a difficulty line (default: an error)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "book").glob("ch*.ipynb"))
    try:
        released = release(notebooks, args.course.resolve(), args.default_points)
    except (ConventionError, RuntimeError) as err:
        parser.exit(1, f"error: {err}\n")
    for assignment, path in released.items():
        print(f"released {assignment}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
