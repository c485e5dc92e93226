"""The benchmark's results that ship with the package: one JSON file per section.

A chapter or the results appendix reads them with :func:`load_results` (``"gan"`` reads
``bench_gan.json`` in this folder), so a chapter run alone with only the package installed
(Colab, Binder) finds them; :mod:`genmodels.results.tables` turns them into tables. Only a
full run of the benchmark, asked for, replaces these files (``python -m genmodels.bench``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RESULTS_DIR = Path(__file__).resolve().parent

__all__ = ["RESULTS_DIR", "SCHEMA_VERSION", "load_results", "result_path"]


def result_path(name: str) -> Path:
    """The shipped result file of benchmark section ``name`` (e.g. ``"gan"``)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a section name such as 'gan' or 'vae', got {name!r}.")
    return RESULTS_DIR / f"bench_{name}.json"


def load_results(source: str | Path = "gan") -> dict[str, Any]:
    """Read a benchmark result: a section name (the file shipped here) or a path to a JSON file.

    Raises FileNotFoundError naming the file when it is missing, ValueError when its schema
    is not this package's.
    """
    if isinstance(source, str) and source.isidentifier():
        path = result_path(source)
    else:
        path = Path(source)
    if not path.exists():
        raise FileNotFoundError(
            f"no benchmark results at {path}; run `python -m genmodels.bench` to create them "
            "(a section name such as 'gan' reads the file shipped with the package)."
        )
    doc = json.loads(path.read_text())
    if doc.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"{path} has schema {doc.get('schema')!r}, expected {SCHEMA_VERSION}; "
                         "rerun the benchmark.")
    return doc
