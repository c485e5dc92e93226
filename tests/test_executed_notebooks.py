"""The notebooks as `make book` executed them, read from Jupyter Book's cache (executed once:
these tests never run a notebook again), and the rule that decides when one is stale."""

from __future__ import annotations

from pathlib import Path

import execute_notebooks as ex
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ex.toc_notebooks(ROOT)


@pytest.fixture(scope="module")
def graph():
    return ex.import_graph()


def _relative(files: list[Path]) -> set[str]:
    return {str(f.relative_to(ROOT)) for f in files if f.is_relative_to(ROOT)}


def test_dependencies_follow_the_import_graph(graph):
    nb = new_notebook(cells=[new_code_cell("import math\nfrom genmodels import vae")])
    files = _relative(ex.dependency_files(nb, graph))
    # vae imports nets, core.train and core.validation; every package __init__ runs too
    assert {"lib/genmodels/vae.py", "lib/genmodels/nets.py", "lib/genmodels/core/train.py",
            "lib/genmodels/core/__init__.py", "lib/genmodels/__init__.py",
            "requirements.txt"} <= files
    assert "lib/genmodels/gan.py" not in files  # not imported, directly or indirectly
    assert not any(f.endswith(".json") for f in files)  # reads no results


def test_results_and_classifier_are_dependencies_of_the_notebooks_that_read_them(graph):
    nb = new_notebook(cells=[new_code_cell("from genmodels.results import tables\n"
                                           "from genmodels.measure.classifier import "
                                           "load_fashion_classifier")])
    files = ex.dependency_files(nb, graph)
    assert "lib/genmodels/results/bench_gan.json" in _relative(files)
    cached = ex.classifier_cache_file()
    if cached is not None and cached.is_file():
        assert cached in files


def test_a_changed_dependency_changes_the_digest(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    before = ex.dependency_digest([a, b], tmp_path)
    assert ex.dependency_digest([a, b], tmp_path) == before
    b.write_text("y = 3\n")
    assert ex.dependency_digest([a, b], tmp_path) != before
    assert ex.dependency_digest([a], tmp_path) != ex.dependency_digest([b], tmp_path)


def test_imports_inside_functions_and_shell_escapes():
    nb = new_notebook(cells=[new_code_cell("!pip install genmodels"),
                             new_code_cell("def f():\n    import genmodels.gan as g\n    return g")])
    assert ex.imported_genmodels_modules(nb) == {"genmodels.gan"}


# ---------------------------------------------------------------------------------------------
# The execution of `make book` (needs the built book)
# ---------------------------------------------------------------------------------------------


def _cached(path: Path) -> nbformat.NotebookNode:
    from jupyter_cache import get_cache

    if not ex.CACHE.is_dir():
        pytest.fail("no execution cache: run `make book` first", pytrace=False)
    cache = get_cache(str(ex.CACHE))
    try:
        record = cache.match_cache_file(str(path))
    except KeyError:
        pytest.fail(f"{path.name} has no up-to-date execution in {ex.CACHE}: it failed in "
                    "`make book`, or changed since; run `make book`", pytrace=False)
    return cache.get_cache_bundle(record.pk).nb


@pytest.mark.book
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executed_with_its_current_code_and_dependencies(path, graph):
    nb = _cached(path)
    key = str(path.relative_to(ROOT))
    current = ex.dependency_digest(ex.dependency_files(nbformat.read(path, as_version=4), graph))
    assert ex._read_dependencies().get(key) == current, (
        f"{key} was executed against other library code, results or classifier; run `make book`")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{key}: cells were not executed"
    errors = [(i, o.get("ename")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{key}: cells raised {errors}"


@pytest.mark.book
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_check_passed_on_the_reference_solutions(path):
    nb = _cached(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "from genmodels.exercises import" not in cell.source:
            continue
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "correct" in printed, f"{path.name} cell {i}: the check printed {printed!r}"


def test_the_slowest_notebooks_start_first_and_an_unknown_one_before_them(tmp_path):
    paths = [ROOT / "book/a.ipynb", ROOT / "book/b.ipynb", ROOT / "book/c.ipynb", ROOT / "book/new.ipynb"]
    seconds = {"book/a.ipynb": 5.0, "book/b.ipynb": 40.0, "book/c.ipynb": 5.0}
    assert [p.name for p in ex.slowest_first(paths, seconds, ROOT)] == ["new.ipynb", "b.ipynb", "a.ipynb", "c.ipynb"]
    committed, last = tmp_path / "committed.json", tmp_path / "last.json"
    committed.write_text('{"book/a.ipynb": 5.0, "book/b.ipynb": 40.0}')
    assert ex.expected_seconds(last, committed) == {"book/a.ipynb": 5.0, "book/b.ipynb": 40.0}  # no last run
    last.write_text('{"book/a.ipynb": 60.0}')
    assert ex.expected_seconds(last, committed) == {"book/a.ipynb": 60.0, "book/b.ipynb": 40.0}  # this machine wins


def test_the_committed_estimate_names_every_notebook_of_the_book():
    """A chapter added without its time would start first, not wrong but unplanned: keep the file whole."""
    expected = ex.expected_seconds(last=ROOT / "no-last-run", committed=ex.EXPECTED_SECONDS)
    assert set(expected) == {str(p.relative_to(ROOT)) for p in NOTEBOOKS}
    assert all(s > 0 for s in expected.values())
