"""Results of the website's per-page browser checks (the axe-core audit, the layout check),
kept between test runs and reused only for a byte-identical page.

A check of one page depends on the page's HTML, on the files every page shares (style
sheets, scripts, MathJax, the widget manager, fonts), on the code of the checks and on the
browser. The key of a cached result is a SHA-256 of all of them, so any change to any of
them is a miss and the page is checked again; an unchanged book is not audited twice
(`make test` on an unchanged book). The builds are deterministic: an unchanged book
rebuilds to the same bytes. Not part of the key, because no check reads them: the
figures (``_images/``, checked through their ``alt`` in the HTML), the page sources
(``_sources/``), the downloads and the search index.

``GENMODELS_SITE_CACHE=0`` checks every page again. Results are written to
``_build/site_checks/`` (a temporary file, then a rename); ``make clean`` removes them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

NOT_READ_BY_THE_CHECKS = ("_images/", "_sources/", "_downloads/")
NOT_READ_FILES = {"searchindex.js", "objects.inv", ".buildinfo"}


def shared_files_digest(html_root: Path) -> str:
    """SHA-256 over the name and content of every file of the site that is not a page
    (``*.html``) and that a check reads (style sheets, scripts, fonts, vendored libraries)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in html_root.rglob("*") if p.is_file()):
        rel = path.relative_to(html_root).as_posix()
        if rel.endswith(".html") or rel.startswith(NOT_READ_BY_THE_CHECKS) or rel in NOT_READ_FILES:
            continue
        digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def digest_of(*parts: str | bytes) -> str:
    """SHA-256 of ``parts``, each length-prefixed (so no two different lists collide by concatenation)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


class PageCheckCache:
    """Results of the check ``name`` per page of the site at ``html_root``, keyed on the page's
    bytes, :func:`shared_files_digest` and ``checks`` (the checks' code, the browser's version:
    whatever else decides the result)."""

    def __init__(self, html_root: Path, cache_dir: Path, name: str, checks: str) -> None:
        self.html_root, self.cache_dir, self.name = html_root, cache_dir, name
        self.enabled = os.environ.get("GENMODELS_SITE_CACHE", "1") != "0"
        self.shared = digest_of(name, checks, shared_files_digest(html_root))
        self.hits: list[str] = []
        self.misses: list[str] = []

    def key(self, page_path: str) -> str:
        return digest_of(self.shared, page_path, (self.html_root / f"{page_path}.html").read_bytes())

    def _prefix(self, page_path: str) -> str:
        return f"{self.name}--{page_path.replace('/', '__')}--"

    def _file(self, page_path: str, key: str) -> Path:
        return self.cache_dir / f"{self._prefix(page_path)}{key}.json"

    def get(self, page_path: str) -> Any | None:
        """The cached result of ``page_path``, or None (not cached, or the cache is off)."""
        path = self._file(page_path, self.key(page_path))
        if not self.enabled or not path.exists():
            self.misses.append(page_path)
            return None
        self.hits.append(page_path)
        return json.loads(path.read_text())

    def put(self, page_path: str, result: Any) -> None:
        """Keep ``result`` (JSON-serialisable) for this version of ``page_path``; older
        results of the page are removed."""
        path = self._file(page_path, self.key(page_path))
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for old in self.cache_dir.glob(f"{self._prefix(page_path)}*.json"):
            old.unlink()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(path)

    def report(self) -> str:
        return (f"{self.name}: {len(self.misses)} page(s) checked in the browser, "
                f"{len(self.hits)} unchanged page(s) read from {self.cache_dir}")
