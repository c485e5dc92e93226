"""Every chapter runs on its own, with only the package installed.

A reader opens one chapter in Colab or Binder: no repository around it, only ``genmodels``
installed from it. Three checks, none of which executes every notebook again:

* the repository address is one setting (``repository.url`` in ``_config.yml``), and every place
  derived from it — each chapter's install block, the README, the setup appendix — agrees with it
  (``tools/set_repository.py --check``); Binder's pins agree with ``requirements.txt`` and take the
  CPU build of PyTorch;
* statically, no code cell of any notebook names a path of the repository (``book/``, ``lib/``,
  ``../``, ``_build``, a data or results file...): what a chapter reads comes from the package;
* really, the cells that read shipped results run in an empty folder with ``genmodels`` installed
  from a wheel built from the repository (not the editable install): the wheel is built from a copy
  of ``pyproject.toml``, ``README.md`` and ``lib/``, installed with ``pip --target`` into a temporary
  folder that comes first on ``PYTHONPATH``, and a subprocess started in another empty folder runs each
  such notebook's set-up cell and its results cells, after checking that ``genmodels`` was imported
  from the wheel.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
import set_repository

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
_REPOSITORY_PATH = re.compile(
    r"^(\.\.?/|/work/|book/|lib/|tests/|tools/|_build|site_extra|student/|shared/|data/)"
    r"|\.(json|jsonl|csv|npz|npy|pt|pth|pkl|gz|ipynb|yml|yaml)$"
)
_READS_RESULTS = re.compile(r"load_results\(|\bshow\(\"|\bsection\[|\bsection\b|tables\.")


def _code_cells(path: Path) -> list[tuple[int, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(i, "".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def _string_literals(source: str) -> list[str]:
    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    literals = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING:
            try:
                value = ast.literal_eval(token.string)
            except ValueError:  # an f-string: check its text
                value = token.string
            if isinstance(value, str):
                literals.append(value)
    return literals


def repository_paths(source: str) -> list[str]:
    """String literals of a code cell that name a path of the repository (URLs excepted)."""
    return [s for s in _string_literals(source)
            if "://" not in s and _REPOSITORY_PATH.search(s.strip())]


def test_the_path_check_catches_repository_paths():
    assert repository_paths('doc = json.load(open("book/data/bench_gan.json"))')
    assert repository_paths('p = Path("../lib/genmodels/results/bench_gan.json")')
    assert repository_paths("x = torch.load('model.pt')")
    assert not repository_paths('doc = results.load_results("gan")')
    assert not repository_paths('REPOSITORY = "https://github.com/x/y"\nprint("D = 2: 0.5 %")')


def test_repository_address_is_one_setting():
    url = set_repository.repository_url()
    assert url.startswith("https://"), url
    assert set_repository.rewrite(check=True) == [], (
        "the repository address differs from _config.yml's repository.url: run "
        "`python tools/set_repository.py`")
    for path in NOTEBOOKS:
        cells = _code_cells(path)
        setup = dict(cells)[set_repository.setup_cell_index(json.loads(path.read_text(encoding="utf-8")))]
        assert setup.startswith(set_repository.install_block(url)), f"{path.name}: set-up cell lacks the install block"
        others = [s for _, s in cells if "REPOSITORY" in s or "pip install" in s]
        assert others == [setup], f"{path.name}: installs outside its set-up cell"


def test_binder_installs_the_cpu_build_with_the_pinned_versions():
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    binder = [line for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder
    for line in binder:
        if "==" in line:
            name, version = line.split("==")
            expected = pins[name] + ("+cpu" if name == "torch" else "")
            assert version == expected, f"binder pins {line}, requirements.txt {name}=={pins[name]}"
    assert "pip install --no-deps ." in (ROOT / "binder" / "postBuild").read_text()
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_notebook_touches_repository_paths(path):
    found = {i: repository_paths(source) for i, source in _code_cells(path)}
    found = {i: paths for i, paths in found.items() if paths}
    assert not found, f"{path.name} reads files of the repository (cell: paths): {found}"


def _results_program(path: Path) -> str:
    """The set-up cell and the cells that read shipped results, as one program."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    setup = set_repository.setup_cell_index(nb)
    cells = [(i, s) for i, s in _code_cells(path) if i == setup or (i > setup and _READS_RESULTS.search(s))]
    lines = ["import matplotlib", "matplotlib.use('Agg')",
             "import genmodels, pathlib, sys",
             "here = pathlib.Path(genmodels.__file__).resolve()",
             "assert pathlib.Path(sys.argv[1]).resolve() in here.parents, f'genmodels from {here}'"]
    for i, source in cells:
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
        lines.append(f"print('--- cell {i}', flush=True)")
        lines.append(f"exec(compile({source!r}, 'cell {i}', 'exec'))")
    return "\n".join(lines) + "\n"


def _results_notebooks() -> list[Path]:
    return [p for p in NOTEBOOKS if any("load_results(" in s for _, s in _code_cells(p))]


def test_some_notebooks_read_shipped_results():
    names = {p.stem for p in _results_notebooks()}
    assert {"appendix_results", "ch10_gan_remedies"} <= names, names


def test_results_cells_run_from_an_empty_folder_with_the_wheel(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "lib", source / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels, site, empty = tmp_path / "wheels", tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
                   check=True, cwd=source, capture_output=True)
    (wheel,) = wheels.glob("genmodels-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True,
                   capture_output=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GENMODELS_DATA_DIR")}
    env.update(PYTHONPATH=str(site), MPLBACKEND="Agg", OMP_NUM_THREADS="1", GENMODELS_DEVICE="cpu")
    for path in _results_notebooks():
        program = empty / f"{path.stem}.py"
        program.write_text(_results_program(path), encoding="utf-8")
        run = subprocess.run([sys.executable, str(program), str(site)], cwd=empty, env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, f"{path.name} alone, cells that read results:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        assert "--- cell" in run.stdout
