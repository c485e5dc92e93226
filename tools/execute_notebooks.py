"""Execute the book's notebooks two at a time into Jupyter Book's execution cache.

Jupyter Book 1 (myst-nb, ``execute_notebooks: cache``) executes outdated notebooks one
after another while it reads them. This step fills the same cache (``_build/.jupyter_cache``)
first with jupyter-cache's own parallel executor — one notebook per core, one math thread
each (two threads per notebook on two busy cores make PyTorch spin-wait and run several
times slower) — so that ``jupyter-book build`` then finds every notebook cached. A notebook
that fails here is simply not cached: the build executes it again and reports the error.

    python tools/execute_notebooks.py            # the notebooks listed in _toc.yml
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by every kernel started below
os.environ.setdefault("MKL_NUM_THREADS", "1")

import yaml  # noqa: E402
from jupyter_cache import get_cache  # noqa: E402
from jupyter_cache.executors import load_executor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
TIMEOUT = 600  # seconds per cell, as execute.timeout in _config.yml


def toc_notebooks() -> list[Path]:
    """The .ipynb documents of ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def main() -> int:
    cache = get_cache(str(CACHE))
    notebooks = toc_notebooks()
    for path in notebooks:
        cache.add_nb_to_project(str(path))
    executor = load_executor("local-parallel", cache=cache)
    result = executor.run_and_cache(
        filter_uris=[str(p) for p in notebooks], timeout=TIMEOUT, allow_errors=False
    )
    for path in notebooks:
        try:
            record = cache.match_cache_file(str(path))
        except KeyError:
            continue  # not cached: it failed
        seconds = (record.data or {}).get("execution_seconds")
        print(f"{seconds:7.1f} s  {path.relative_to(ROOT)}  (executed {record.created:%Y-%m-%d %H:%M})")
    for uri in result.excepted + result.errored:
        print(f"failed: {uri} (the book build will execute it again and show the error)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
