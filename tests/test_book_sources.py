"""The book's sources: notebooks stored without outputs, the TOC complete, no pasted library code."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import nbformat
import pytest
import yaml

import genmodels

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapter notebooks found under book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; run `make strip`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_toc_and_imports_genmodels(path):
    assert f"book/{path.stem}" in toc_files(), f"{path.name} is not listed in _toc.yml"
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "genmodels" in code, f"{path.name} does not import genmodels"


def test_every_toc_entry_exists():
    for entry in toc_files():
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), entry


def imported_modules(source: str) -> set[str]:
    """The modules a cell imports (``from genmodels.bench import cli`` → genmodels.bench and
    genmodels.bench.cli)."""
    source = "\n".join(line for line in source.splitlines()
                       if not line.lstrip().startswith(("!", "%")))
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return modules


def test_imported_modules_sees_every_form():
    assert "genmodels.bench" in imported_modules("from genmodels import bench")
    assert "genmodels.bench.cli" in imported_modules("from genmodels.bench import cli")
    assert "genmodels.bench.cli" in imported_modules("import genmodels.bench.cli as b")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_imports_the_benchmark(path):
    """Chapters import models, measures and experiments; the benchmark only calls them."""
    nb = nbformat.read(path, as_version=4)
    bench = sorted(m for c in nb.cells if c.cell_type == "code"
                   for m in imported_modules(c.source)
                   if m == "genmodels.bench" or m.startswith("genmodels.bench."))
    assert not bench, f"{path.name} imports the benchmark ({bench}); import the experiment instead"


def library_function_names() -> set[str]:
    names: set[str] = set()
    for mod in pkgutil.walk_packages(genmodels.__path__, "genmodels."):
        if ".exercises" in mod.name or mod.name.startswith("genmodels.bench"):
            continue
        module = importlib.import_module(mod.name)
        for name, obj in vars(module).items():
            if callable(obj) and getattr(obj, "__module__", "") == mod.name and not name.startswith("_"):
                names.add(name)
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_does_not_paste_library_code(path):
    """A notebook never defines a function or class that the library already owns."""
    owned = library_function_names()
    nb = nbformat.read(path, as_version=4)
    pasted = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "### BEGIN SOLUTION" in cell.source:
            continue  # exercise cells define the student's own version on purpose
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("!", "%")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in owned:
                pasted.append(node.name)
    assert not pasted, f"{path.name} redefines library code: {pasted}; import it from genmodels"
