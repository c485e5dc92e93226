"""The course's benchmark, ``python -m genmodels.bench``: the command line (:mod:`.cli`),
one function per section (:mod:`.sections`, :mod:`.gan_runs` for the GANs on the 2-D
mixtures with their resumable runs log), and the machine's provenance (:mod:`.provenance`).

It only calls the experiments (:mod:`genmodels.experiments`); the tables it prints come
from :mod:`genmodels.results.tables`, the one place that formats results. No chapter
imports this package.
"""
