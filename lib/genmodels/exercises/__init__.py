"""Self-checking exercises: the framework and one check module per chapter.

In a chapter's check cell::

    from genmodels.exercises import ch01
    ch01.check_mixture_log_density(mixture_log_density)

A right answer prints one line ``✔ ... correct``; a stub prints ``... not attempted
yet.``; a wrong answer raises :class:`ExerciseError` whose message says what is wrong
(a shape, a missing factor ½, a sign, a sum where a mean was expected, ...).
The authoring convention is in ``CONTRIBUTING.md`` (section "Exercises"); the student
edition is written by ``tools/student_edition.py`` (a build tool, outside the package).
"""

from genmodels.exercises._core import (
    Exercise,
    ExerciseError,
    Mistake,
    NotAttempted,
    devices_to_check,
    with_accelerator_copies,
)

__all__ = [
    "Exercise",
    "ExerciseError",
    "Mistake",
    "NotAttempted",
    "devices_to_check",
    "with_accelerator_copies",
]
