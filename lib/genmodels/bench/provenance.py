"""The machine and the code a benchmark result was measured with (recorded in every file)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

from genmodels.core.device import describe_device


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit(root: Path | str | None = None) -> dict[str, Any] | None:
    """The repository's commit and whether tracked files other than the benchmark's results
    (``lib/genmodels/results/bench_*``) differ from it (None outside git)."""
    import subprocess

    root = Path(root) if root is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=root, capture_output=True, text=True, timeout=30,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # The benchmark's own result files do not count: one section writes its JSON before the
    # next section records the commit.
    changed = [line for line in status.splitlines()
               if line.strip() and not line[3:].startswith("lib/genmodels/results/bench_")]
    return {"commit": head, "modified": bool(changed)}


def machine_info(device: torch.device) -> dict[str, Any]:
    """What the numbers ran on: CPU model and cores, versions, commit, device, threads, load."""
    import numpy

    import genmodels

    git = git_commit()
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "genmodels": genmodels.__version__,
        "git_commit": None if git is None else git["commit"],
        "git_modified": None if git is None else git["modified"],
        "platform": platform.platform(),
        "device": describe_device(device),
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    return info
