"""Execute the book's notebooks, two at a time, into Jupyter Book's execution cache.

    python tools/execute_notebooks.py                 # the notebooks of _toc.yml that are stale
    python tools/execute_notebooks.py --jobs 1        # one at a time
    python tools/execute_notebooks.py --force         # every notebook, stale or not
    python tools/execute_notebooks.py --check         # say which are stale; execute nothing

Jupyter Book 1 (myst-nb, ``execute_notebooks: cache``) executes outdated notebooks one after
another while it reads them, silently. This step fills the same cache
(``_build/.jupyter_cache``) first, one notebook per core with one math thread each (two
threads per notebook on two busy cores make PyTorch spin-wait and run several times slower),
printing each notebook as it starts and finishes and a summary, slowest first; then
``jupyter-book build`` finds every notebook cached and executes nothing.

**When a notebook is stale.** jupyter-cache keys a notebook on its code cells only. Here a
notebook is also stale when anything it depends on changed: the source of every
``genmodels`` module it imports, with everything those modules import in turn (the import
graph, from grimp), the result files it can read (``genmodels/results/*.json``, when it
imports ``genmodels.results``), the cached Fashion-MNIST classifier (when it imports the
module that loads it) and ``requirements.txt``. Their digest is stored beside the cache in
``dependencies.json``; a notebook whose digest differs loses its cache record and is
executed again, so ``make clean`` is never needed for correctness.

**Slowest first.** Two workers finish soonest when the longest notebooks start first (a short
one started last cannot leave a worker idle for long). The expected seconds of each notebook are
those of its last execution here (``_build/.jupyter_cache/notebook_seconds.json``) or, on a fresh
clone, the committed ``tools/notebook_seconds.json`` (measured on the course's 2-core machine; a
notebook in neither starts first). The order changes nothing but the wall time.

A notebook that fails is not cached: its error is printed and the command exits with 1.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as futures
import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by every kernel started below
os.environ.setdefault("MKL_NUM_THREADS", "1")

import nbformat  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
DEPENDENCIES = CACHE / "dependencies.json"
LAST_SECONDS = CACHE / "notebook_seconds.json"  # each notebook's last execution time here
EXPECTED_SECONDS = ROOT / "tools" / "notebook_seconds.json"  # committed: a fresh clone's estimate
LIB = ROOT / "lib"
TIMEOUT = 600  # seconds per cell, as execute.timeout in _config.yml
CLASSIFIER_MODULE = "genmodels.measure.classifier"


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The .ipynb documents of ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def imported_genmodels_modules(nb: nbformat.NotebookNode) -> set[str]:
    """Every ``genmodels`` module a notebook's code cells import (``from genmodels import vae``
    imports ``genmodels.vae``). Cells that do not parse (shell escapes) are skipped."""
    modules: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {a.name for a in node.names if a.name.split(".")[0] == "genmodels"}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] != "genmodels":
                    continue
                modules.add(node.module)
                modules |= {f"{node.module}.{a.name}" for a in node.names}
    return modules


def _module_file(module: str, lib: Path) -> Path | None:
    base = lib.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # a name imported from a module, not a module


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def classifier_cache_file() -> Path | None:
    """The cached classifier's checkpoint, if the package can say where it is."""
    try:
        from genmodels.measure.classifier import classifier_cache_path
    except ImportError:
        return None
    return Path(classifier_cache_path())


def dependency_files(nb: nbformat.NotebookNode, graph, lib: Path = LIB,
                     root: Path = ROOT) -> list[Path]:
    """The files whose content a notebook's outputs depend on, besides its own code cells."""
    modules = {m for m in imported_genmodels_modules(nb) if _module_file(m, lib)}
    closure = set(modules)
    for module in modules:
        closure |= {m for m in graph.find_upstream_modules(module) if m.startswith("genmodels")}
    # a module's package __init__ runs on import too
    closure |= {".".join(m.split(".")[:i]) for m in set(closure)
                for i in range(1, len(m.split(".")))}
    files = {f for m in closure if (f := _module_file(m, lib)) is not None}
    if any(m == "genmodels.results" or m.startswith("genmodels.results.") for m in closure):
        files |= set((lib / "genmodels" / "results").glob("*.json"))
    if CLASSIFIER_MODULE in closure and (cached := classifier_cache_file()) and cached.is_file():
        files.add(cached)
    requirements = root / "requirements.txt"
    if requirements.is_file():
        files.add(requirements)
    return sorted(files)


def dependency_digest(files: list[Path], root: Path = ROOT) -> str:
    """One digest of the files' names and contents."""
    h = hashlib.sha256()
    for f in files:
        name = str(f.relative_to(root)) if f.is_relative_to(root) else str(f)
        h.update(f"{name}\0{_file_digest(f)}\n".encode())
    return h.hexdigest()


def import_graph():
    import grimp

    if str(LIB) not in sys.path:
        sys.path.insert(0, str(LIB))
    return grimp.build_graph("genmodels", cache_dir=None)


def _read_dependencies() -> dict[str, str]:
    try:
        return json.loads(DEPENDENCIES.read_text())
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half written)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def _write_dependencies(digests: dict[str, str]) -> None:
    _write_json(DEPENDENCIES, digests)


def _read_seconds(path: Path) -> dict[str, float]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def expected_seconds(last: Path = LAST_SECONDS, committed: Path = EXPECTED_SECONDS) -> dict[str, float]:
    """Each notebook's expected execution time: the committed estimate, overridden by the
    last execution on this machine."""
    return {**_read_seconds(committed), **_read_seconds(last)}


def slowest_first(paths: list[Path], seconds: dict[str, float], root: Path = ROOT) -> list[Path]:
    """``paths`` with the longest expected first; a notebook of unknown time before all of them
    (it may be the longest); ties keep their order."""
    def expected(path: Path) -> float:
        return seconds.get(str(path.relative_to(root)), float("inf"))

    return sorted(paths, key=lambda path: -expected(path))


def _record_seconds(times: dict[str, float]) -> None:
    recorded = _read_seconds(LAST_SECONDS)
    recorded.update({key: round(seconds, 1) for key, seconds in times.items()})
    _write_json(LAST_SECONDS, recorded)


def _execute(path: str) -> tuple[str, float, str | None, str]:
    """Run one notebook in its own folder (as Jupyter Book does); return it as JSON."""
    import tempfile

    from jupyter_cache.executors.utils import single_nb_execution
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="genmodels-kernel-") as sockets:
        # IPC sockets in a private folder: no TCP ports, and no kernel warning about them
        km = KernelManager(kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
                           transport="ipc", ip=str(Path(sockets) / "kernel"))
        try:
            result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=TIMEOUT,
                                         allow_errors=False, km=km)
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    error = result.exc_string if result.err is not None else None
    return path, result.time, error, nbformat.writes(result.nb)


def _say(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="notebooks at a time (default 2)")
    parser.add_argument("--force", action="store_true", help="execute every notebook")
    parser.add_argument("--check", action="store_true",
                        help="list the stale notebooks and exit (1 if any)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: those of _toc.yml")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}.")

    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(CACHE))
    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    graph = import_graph()
    stored = _read_dependencies()
    digests: dict[str, str] = {}
    stale: list[Path] = []
    for path in notebooks:
        key = str(path.relative_to(ROOT))
        digests[key] = dependency_digest(dependency_files(nbformat.read(path, as_version=4),
                                                          graph))
        try:
            record = cache.match_cache_file(str(path))
        except KeyError:
            record = None
        if record is None or args.force or stored.get(key) != digests[key]:
            why = ("forced" if args.force else "not executed yet" if record is None
                   else "its code or a dependency changed")
            stale.append(path)
            _say(f"stale: {key} ({why})")
            if record is not None and not args.check:
                cache.remove_cache(record.pk)
    if args.check:
        _say(f"{len(stale)} of {len(notebooks)} notebooks stale")
        return 1 if stale else 0
    if not stale:
        _say(f"all {len(notebooks)} notebooks are up to date in {CACHE.relative_to(ROOT)}")
        return 0

    stale = slowest_first(stale, expected_seconds())
    _say(f"executing {len(stale)} notebook(s), {args.jobs} at a time, one math thread each, "
         "the slowest first")
    times: dict[str, float] = {}
    failed: list[str] = []
    start = time.perf_counter()
    with futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        pending = {}
        for path in stale:
            pending[pool.submit(_execute, str(path))] = path
        started = set()
        for path in stale[: args.jobs]:
            started.add(path)
            _say(f"  ▶ {path.relative_to(ROOT)}")
        queue = [p for p in stale if p not in started]
        for done in futures.as_completed(pending):
            path = pending[done]
            key = str(path.relative_to(ROOT))
            uri, seconds, error, text = done.result()
            if error is not None:
                failed.append(key)
                _say(f"  ✘ {key} failed after {seconds:.1f} s:\n{error[-3000:]}")
            else:
                nb = nbformat.reads(text, as_version=4)
                cache.cache_notebook_bundle(
                    CacheBundleIn(nb, uri, data={"execution_seconds": seconds}),
                    check_validity=False, overwrite=True)
                stored[key] = digests[key]
                _write_dependencies(stored)
                times[key] = seconds
                _say(f"  ✔ {key} {seconds:.1f} s")
            if queue:
                _say(f"  ▶ {queue.pop(0).relative_to(ROOT)}")
    wall = time.perf_counter() - start
    _record_seconds(times)
    _say(f"executed {len(times)} notebook(s) in {wall:.0f} s wall "
         f"({sum(times.values()):.0f} s of notebook time); slowest first:")
    for key, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        _say(f"  {seconds:7.1f} s  {key}")
    if failed:
        _say("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
