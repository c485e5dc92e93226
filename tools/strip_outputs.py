"""Strip outputs and execution counts from notebooks (they are stored without outputs)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def strip_notebook(path: Path) -> bool:
    """Remove outputs and execution counts in place; return True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.outputs or cell.execution_count is not None:
            cell.outputs, cell.execution_count = [], None
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def main(paths: list[str]) -> None:
    for root in paths or ["book"]:
        for path in sorted(Path(root).rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts or "_build" in path.parts:
                continue
            if strip_notebook(path):
                print(f"stripped {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
