"""The package's architecture: dependencies point one way (CONTRIBUTING.md, "Architecture").

core ← models ← measure ← experiments ← bench, with ``results`` beside ``core``, ``show``
beside ``measure`` and ``exercises`` beside ``experiments``. import-linter checks the contract written in
``pyproject.toml``; the second test shows that the check fails when a module imports a
higher layer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(project: Path, lib: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the package under ``lib`` with ``project``'s pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(lib)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def test_dependencies_point_one_way():
    result = lint_imports(ROOT, ROOT / "lib")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, bad_import", [
    ("core/device.py", "from genmodels.bench import cli"),            # infrastructure → benchmark
    ("vae.py", "from genmodels.experiments import vae_fashion"),      # a model → its experiment
    ("measure/sample_quality.py", "from genmodels.experiments import toy_gan"),
    ("experiments/toy_gan.py", "from genmodels.bench import gan_runs"),
    ("show/plot.py", "from genmodels.measure import sample_quality"),   # siblings stay apart
    ("core/train.py", "from genmodels.results import tables"),
])
def test_an_import_of_a_higher_layer_breaks_the_contract(tmp_path, module, bad_import):
    shutil.copytree(ROOT / "lib" / "genmodels", tmp_path / "lib" / "genmodels",
                    ignore=shutil.ignore_patterns("*.json", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "lib" / "genmodels" / module
    target.write_text(target.read_text() + f"\n{bad_import}  # noqa: E402\n")
    result = lint_imports(tmp_path, tmp_path / "lib")
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and bad_import.split()[1] in result.stdout
