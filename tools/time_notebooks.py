"""Execute chapters one after another and time each: how long a student waits on this machine.

    python tools/time_notebooks.py book/ch06_vae_practice.ipynb [more.ipynb ...] \
        [--out DIR] [--kernel python3] [--timeout 600]

Each notebook runs in a fresh kernel started in its own folder (as Jupyter does), from a
copy: the stored notebook is not touched. Prints one line per notebook and, with
``--out``, writes ``DIR/notebook_times.json`` (device, versions, seconds per notebook) and
the executed copies. The chapters pick their device and budget themselves
(``genmodels.core.device.pick_device`` and ``budget_for``), so on a GPU machine this times the
GPU budget. A notebook that raises stops the timing with the cell's error.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

from genmodels.core.device import describe_device, pick_device


def time_notebook(path: Path, kernel: str, timeout: int) -> tuple[float, nbformat.NotebookNode]:
    """Execute ``path`` in a fresh ``kernel``; return (wall seconds, executed notebook)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start, nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for notebook_times.json and the executed copies.")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name.")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell.")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    record = {"device": describe_device(pick_device()), "torch": torch.__version__,
              "python": platform.python_version(), "seconds": {}}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        seconds, executed = time_notebook(path, args.kernel, args.timeout)
        record["seconds"][path.stem] = round(seconds, 1)
        print(f"{path.stem}: {seconds:.1f} s on {record['device']}", flush=True)
        if args.out:
            nbformat.write(executed, args.out / path.name)
            (args.out / "notebook_times.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
