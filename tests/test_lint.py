"""The code (library, tests, tools and notebooks) is ruff-clean, as CONTRIBUTING.md asks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format", "concise",
         "lib", "tests", "tools", "book"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, f"ruff found problems (run `make lint`):\n{result.stdout}{result.stderr}"
