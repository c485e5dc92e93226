"""Small Sphinx fixes for the course website (a local extension; see _config.yml).

- sphinx-thebe registers its configuration script once per `env-before-read-docs`, and
  Jupyter Book emits that event twice, so every page declared `const THEBE_JS_URL` twice and
  logged a console error. Thebe is off for this book (launch buttons go to Colab/Binder), so
  its scripts are dropped from every page.
- The vendored widget manager (@jupyter-widgets/html-manager 1.x) typesets widget labels with
  the MathJax 2 call `MathJax.Hub.Queue([...])` whenever `window.MathJax` exists, but the site
  loads MathJax 3, which has no `Hub`: depending on which script finished first, a page with a
  widget logged "Cannot read properties of undefined (reading 'Queue')". A small shim gives
  every object assigned to `window.MathJax` (the configuration, then MathJax 3 itself) a `Hub`
  whose `Queue` typesets with MathJax 3 once it has started.
- A chapter's launch buttons (Binder, Colab) and its ".ipynb" download button would hand out the
  source notebook, solutions included. They get the chapter's student edition instead,
  `student/<chapter>.ipynb` (committed; `make student` writes it with nbgrader and
  tests/test_student_edition.py keeps it in sync): the launch URLs are rewritten from
  `book/<chapter>.ipynb` to `student/<chapter>.ipynb`, and the copy of the source the download
  button serves (`_sources/book/<chapter>.ipynb`) is replaced by the student edition.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

STUDENT_DIR = "student"
_CHAPTER_PAGE = re.compile(r"^book/(ch\d\d_[a-z0-9_]+)$")


def drop_thebe_scripts(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    kept = []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""
        body = (getattr(script, "attributes", {}) or {}).get("body", "")
        if "thebe" in str(filename) or "THEBE_JS_URL" in body:
            continue
        kept.append(script)
    context["script_files"] = kept


MATHJAX2_HUB_SHIM = """
(function () {
  var hub = {
    Queue: function (job) {
      var mj = window.MathJax;
      var element = job && job[2];
      if (mj && mj.startup && mj.startup.promise && mj.typesetPromise) {
        mj.startup.promise.then(function () {
          return mj.typesetPromise(element ? [element] : undefined);
        });
      }
    }
  };
  function withHub(value) {
    if (value && typeof value === "object" && !value.Hub) {
      try { value.Hub = hub; } catch (err) { /* a frozen object: leave it */ }
    }
    return value;
  }
  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); }
  });
})();
"""


def student_edition(app, pagename: str) -> str | None:
    """``student/<chapter>.ipynb`` (relative to the repository) if ``pagename`` is a chapter that has one."""
    match = _CHAPTER_PAGE.match(pagename)
    if not match:
        return None
    relative = f"{STUDENT_DIR}/{match.group(1)}.ipynb"
    return relative if (Path(app.confdir) / relative).exists() else None


def launch_student_edition(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    """Point a chapter's Binder and Colab buttons at its student edition."""
    edition = student_edition(app, pagename)
    if edition is None:
        return
    source = f"{pagename}.ipynb"
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if "url" in button:
                button["url"] = button["url"].replace(source, edition)


def serve_student_editions(app, exception) -> None:
    """The ".ipynb" download button serves `_sources/<page>.ipynb`: the student edition, not the source."""
    if exception is not None or app.builder.format != "html":
        return
    for pagename in app.env.found_docs:
        edition = student_edition(app, pagename)
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        if edition is not None and target.exists():
            shutil.copyfile(Path(app.confdir) / edition, target)


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", drop_thebe_scripts, priority=900)
    # After sphinx-book-theme adds the launch buttons (priority 501).
    app.connect("html-page-context", launch_student_edition, priority=600)
    app.connect("build-finished", serve_student_editions)
    # Before MathJax's configuration (priority 500 by default) and the widget manager.
    app.add_js_file(None, body=MATHJAX2_HUB_SHIM, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
