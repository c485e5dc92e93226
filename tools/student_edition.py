"""Write the student edition of the chapters (``make student``).

A thin entry point for :mod:`genmodels.exercises.student`, which documents what changes:
solution regions become stubs, ``{solution}`` cells are dropped, outputs are removed.

    python tools/student_edition.py --out student            # all book/ch*.ipynb
    python tools/student_edition.py --out DIR book/ch01_generative_models.ipynb
"""

from genmodels.exercises.student import main

if __name__ == "__main__":
    raise SystemExit(main())
