"""Write the course's repository address, set once in ``_config.yml``, everywhere it is needed.

``repository.url`` in ``_config.yml`` is the one setting (set it to your fork). Jupyter Book derives
the launch buttons (Colab, Binder) and the repository button from it; this tool writes the same
address into what a reader runs without the book:

* the install block at the top of every chapter's set-up cell (``REPOSITORY = "..."``), which installs
  ``genmodels`` only when it is missing — a chapter opened alone in Colab — and never in the book's build,
  where the package is installed;
* the install lines of ``README.md`` and ``book/appendix_setup.md``.

Usage, from the repository root::

    python tools/set_repository.py            # rewrite the files from _config.yml
    python tools/set_repository.py --check    # exit 1 and name the files that disagree

``tests/test_standalone.py`` runs the check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTALL_MARKER = "# genmodels: install when missing"
_ASSIGNMENT = re.compile(r'^REPOSITORY = "[^"]*"', re.MULTILINE)
_GIT_URL = re.compile(r"git\+https://[^\s\"'`)]+")


def repository_url(root: Path = ROOT) -> str:
    """``repository.url`` of ``_config.yml``, without a trailing slash or ``.git``."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = str(config["repository"]["url"]).rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def install_block(url: str) -> str:
    """The lines that open every chapter's set-up cell."""
    return (
        f"{INSTALL_MARKER} (a chapter opened alone, e.g. in Colab; a no-op where it is installed)\n"
        "import importlib\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        f'REPOSITORY = "{url}"  # _config.yml: repository.url (tools/set_repository.py)\n'
        'if importlib.util.find_spec("genmodels") is None:\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"genmodels @ git+{REPOSITORY}"], check=True)\n'
        "    importlib.invalidate_caches()\n"
    )


def setup_cell_index(nb: dict) -> int:
    """Index of the chapter's set-up cell: the first code cell that imports ``genmodels``."""
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and (INSTALL_MARKER in source or re.search(
                r"^\s*(from|import) genmodels", source, re.MULTILINE)):
            return i
    raise ValueError("no code cell imports genmodels")


def _with_install_block(source: str, url: str) -> str:
    if INSTALL_MARKER in source:
        head, rest = source.split(INSTALL_MARKER, 1)
        end = rest.index("    importlib.invalidate_caches()\n") + len("    importlib.invalidate_caches()\n")
        return head + install_block(url) + rest[end:]
    return install_block(url) + "\n" + source


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book").glob("*.ipynb"))


def rewrite(root: Path = ROOT, check: bool = False) -> list[Path]:
    """Bring every derived place in line with ``_config.yml``; return the files that differed."""
    url = repository_url(root)
    changed = []
    for path in notebooks(root):
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        cell = nb["cells"][setup_cell_index(nb)]
        source = _with_install_block("".join(cell["source"]), url)
        lines = source.split("\n")
        cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
        new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    for path in (root / "README.md", root / "book" / "appendix_setup.md"):
        text = path.read_text(encoding="utf-8")
        new = _GIT_URL.sub(f"git+{url}", text)
        if new != text:
            changed.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that disagree")
    args = parser.parse_args(argv)
    changed = rewrite(check=args.check)
    for path in changed:
        print(f"{'differs' if args.check else 'rewrote'}: {path.relative_to(ROOT)}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
