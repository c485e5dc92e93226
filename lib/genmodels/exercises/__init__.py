"""Self-checking exercises: the framework and one check module per chapter.

Check modules are named after the chapter's topic, not its number
(``generative_models``, ``latent_variables``, ..., ``gan_remedies``, ``comparison``), so
that a renumbering of the chapters leaves them alone. In a chapter's check cell::

    from genmodels.exercises import generative_models
    generative_models.check_mixture_log_density(mixture_log_density)

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
