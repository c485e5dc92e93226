"""Grade a class with nbgrader: autograde, feedback, grades as CSV, and the grading time.

Usage (from the repository root, after ``make release``; the make targets run these)::

    python tools/grade.py autograde   # every submitted/<student>/<assignment>/; then grades.csv
    python tools/grade.py feedback    # feedback/<student>/<assignment>/<assignment>.html
    python tools/grade.py grades      # grades.csv (one row per student and assignment)
    python tools/grade.py time        # grade the reference solutions of every chapter, timed

Everything happens in the course folder (``_build/nbgrader/`` unless ``--course``), through
nbgrader's own Python API and gradebook (``gradebook.db``), configured by the folder's
``nbgrader_config.py`` that ``tools/release.py`` wrote. Before running a submission,
nbgrader restores every locked cell (the checks, the set-up, the statements) from the
gradebook and puts back deleted check cells, so a student who edits or deletes a check is
still graded on the real one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from release import COURSE, COURSE_ID, assignment_id, nbgrader_api, release

# nbgrader's gradebook triggers SQLAlchemy warnings about its own session use; they say nothing
# to an instructor.
warnings.filterwarnings("ignore", message=".*not in session.*")


@dataclass(frozen=True)
class Graded:
    student: str
    assignment: str
    score: float
    max_score: float
    seconds: float
    max_code_score: float = 0.0   # what the autograder can give; written answers are graded by hand
    cpu_seconds: float = 0.0      # CPU time of nbgrader and the kernel: the wall time on an idle machine


def _cpu_time() -> float:
    """CPU seconds of this process and of its finished children (the kernels nbgrader ran)."""
    try:
        import resource
    except ImportError:  # Windows: this process only
        return time.process_time()
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def submissions(course: Path) -> list[tuple[str, str]]:
    """(student, assignment) of every ``submitted/<student>/<assignment>/`` folder."""
    root = course / "submitted"
    return sorted((s.name, a.name) for s in root.glob("*") if s.is_dir()
                  for a in s.glob("*") if a.is_dir() and (course / "source" / a.name).is_dir())


def gradebook(course: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{course.resolve() / 'gradebook.db'}", COURSE_ID)


def scores(course: Path, student: str, assignment: str) -> dict[str, float]:
    """Points of each graded cell (grade id -> score) of one autograded submission."""
    with gradebook(course) as gb:
        submission = gb.find_submission(assignment, student)
        return {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}


def autograde(course: Path = COURSE, which: Sequence[tuple[str, str]] | None = None,
              log: bool = True) -> list[Graded]:
    """Autograde the submissions (all by default).

    A submission nbgrader cannot grade (not a notebook, a wrong file name, a changed cell
    type it cannot repair) does not stop the others: at the end, ``RuntimeError`` names
    each one with nbgrader's log.
    """
    api = nbgrader_api(course)
    graded, failed = [], []
    for student, assignment in which if which is not None else submissions(course):
        start, cpu_start = time.perf_counter(), _cpu_time()
        result = api.autograde(assignment, student, force=True, create=True)
        seconds, cpu = time.perf_counter() - start, _cpu_time() - cpu_start
        if not result["success"]:
            failed.append(f"autograding {assignment} of student {student} failed:\n"
                          f"{result.get('log', '')}\n{result.get('error', '')}")
            if log:
                print(f"{student:20s} {assignment:20s} NOT GRADED (see below)")
            continue
        with gradebook(course) as gb:
            submission = gb.find_submission(assignment, student)
            item = Graded(student, assignment, submission.score, submission.max_score, seconds,
                          submission.max_code_score, cpu)
        graded.append(item)
        if log:
            print(f"{student:20s} {assignment:20s} {item.score:5g} / {item.max_score:g} "
                  f"(autograded part: {item.max_code_score:g})  {seconds:.1f} s ({cpu:.1f} s CPU)")
    if failed:
        raise RuntimeError("\n\n".join(failed))
    return graded


def feedback(course: Path = COURSE, which: Sequence[tuple[str, str]] | None = None) -> list[Path]:
    """Write the HTML feedback of the autograded submissions; return the files."""
    api = nbgrader_api(course)
    written = []
    for student, assignment in which if which is not None else submissions(course):
        if not (course / "autograded" / student / assignment).is_dir():
            continue
        result = api.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            raise RuntimeError(f"feedback for {assignment} of student {student} failed:\n"
                               f"{result.get('log', '')}\n{result.get('error', '')}")
        written += sorted((course / "feedback" / student / assignment).glob("*.html"))
    return written


def export_grades(course: Path = COURSE, to: Path | None = None) -> Path:
    """nbgrader's CSV export of the gradebook (one row per student and assignment)."""
    from nbgrader.plugins import CsvExportPlugin

    target = (to or course / "grades.csv").resolve()
    plugin = CsvExportPlugin()
    plugin.to = str(target)
    with gradebook(course) as gb:
        plugin.export(gb)
    return target


def time_reference(notebooks: Sequence[Path], default_points: float | None = None) -> list[Graded]:
    """Release the chapters into a temporary course and autograde their reference solutions."""
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        release(notebooks, course, default_points)
        which = []
        for path in notebooks:
            assignment = assignment_id(path)
            target = course / "submitted" / "reference" / assignment
            target.mkdir(parents=True)
            shutil.copy(course / "source" / assignment / f"{assignment}.ipynb", target)
            which.append(("reference", assignment))
        return autograde(course, which)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/grade.py", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["autograde", "feedback", "grades", "time"])
    parser.add_argument("--course", type=Path, default=COURSE, help="the course folder (make release)")
    parser.add_argument("--default-points", type=float, default=None,
                        help="time: points of an exercise without a difficulty line")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.command != "time" and not (course / "nbgrader_config.py").exists():
        parser.exit(1, f"error: no course folder at {course}; run `make release` first.\n")
    try:
        if args.command == "autograde":
            if not submissions(course):
                parser.exit(1, f"error: nothing to grade: put each submission into "
                               f"{course}/submitted/<student>/<assignment>/\n")
            try:
                autograde(course)
            finally:
                print(f"grades: {export_grades(course)}")
        elif args.command == "feedback":
            for path in feedback(course):
                print(f"wrote {path}")
        elif args.command == "grades":
            print(f"grades: {export_grades(course)}")
        else:
            root = Path(__file__).resolve().parents[1]
            graded = time_reference(sorted((root / "book").glob("ch*.ipynb")), args.default_points)
            slow = [g for g in graded if g.seconds > 45]
            full = [g for g in graded if g.score != g.max_code_score]
            print(f"longest: {max(g.seconds for g in graded):.1f} s per submission "
                  f"({max(g.cpu_seconds for g in graded):.1f} s CPU)")
            if slow or full:
                print(f"error: over 45 s: {[g.assignment for g in slow]}; "
                      f"reference not full marks: {[g.assignment for g in full]}", file=sys.stderr)
                return 1
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
