"""The course's benchmark, ``python -m genmodels.bench``: every headline number of the book.

* :mod:`.sections` — one function per section, all with one signature
  (``run(settings=None, *, quick, seed, device, log) -> dict``), registered in
  :data:`~genmodels.bench.sections.SECTIONS`;
* :mod:`.gan_runs` — the GAN section (chapter 10): the toy GANs over several seeds, with a
  resumable log of finished runs;
* :mod:`.cli` — the command line: builds each section's settings from its options, runs
  the sections, prints their tables and writes one JSON file per section (atomically), into
  the package (``genmodels/results/``) only for a full run with ``--publish``, otherwise into
  the checkout's ``_build/bench/`` (``_build/bench/quick/`` for ``--quick``);
* :mod:`.provenance` — the machine and the commit a result was measured on.

It only calls the experiments (:mod:`genmodels.experiments`); the tables it prints come
from :mod:`genmodels.results.tables`, the one place that formats results. No chapter
imports this package: the chapters read the shipped results with
:func:`genmodels.results.load_results`.
"""
