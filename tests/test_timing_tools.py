"""The timing tools used for the results appendix's GPU figures, run here on the CPU."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / name), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_time_notebooks_executes_a_copy_and_records_its_seconds(tmp_path):
    path = tmp_path / "tiny.ipynb"
    nb = new_notebook(cells=[new_code_cell("import time; time.sleep(0.3); print('ran')")])
    nbformat.write(nb, path)
    out = tmp_path / "out"
    done = run_tool("time_notebooks.py", str(path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "notebook_times.json").read_text())
    assert record["device"].startswith(("cpu", "cuda", "mps"))
    assert record["seconds"]["tiny"] >= 0.3  # a kernel start at least; no upper bound (a loaded machine)
    executed = nbformat.read(out / "tiny.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "ran\n"
    assert nbformat.read(path, as_version=4).cells[0].outputs == []  # the source is untouched


def test_time_notebooks_names_a_missing_notebook(tmp_path):
    done = run_tool("time_notebooks.py", str(tmp_path / "absent.ipynb"))
    assert done.returncode != 0 and "no such notebook" in done.stderr


def test_time_training_steps_reports_each_model_and_its_chapter_budget():
    done = run_tool("time_training_steps.py", "--device", "cpu", "--steps", "2")
    assert done.returncode == 0, done.stderr
    for name, budget in (("MLP GAN", "1000 steps"), ("DCGAN", "800 steps"),
                         ("VAE \\(chapter 6's vae16\\)", "3 epochs")):
        assert re.search(rf"{name}: [0-9.]+ (ms/step|s/epoch); chapter budget {budget}",
                         done.stdout), done.stdout


def test_time_training_steps_rejects_zero_steps():
    done = run_tool("time_training_steps.py", "--steps", "0")
    assert done.returncode != 0 and "--steps must be at least 1" in done.stderr
