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
- Accessibility (GitHub issue 20; tests/test_accessibility.py audits every page with axe-core):
  the bibliography's ARIA roles are corrected (:func:`fix_citation_roles`), the theme's colours
  and the layout of wide equations and tables are corrected by
  ``site_extra/_static/course_accessibility.css``, and :data:`WIDGET_A11Y_JS` names the widget
  manager's sliders and images and lets a keyboard reach equations that scroll.
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


# docutils 0.21.2's HTML writer (`HTMLTranslator.visit_citation`) wraps the citations that
# sphinxcontrib-bibtex 2.7.0 produces for a `{bibliography}` in `<div role="list">` and gives each
# `role="doc-biblioentry"`. That role is deprecated in DPub-ARIA 1.1 and is not a list item, so
# the list had no allowed children: axe-core's "aria-required-children" (critical) on every page
# with references, and "aria-deprecated-role" on every entry. Each entry becomes a list item.
_CITATION_ROLE = re.compile(r'(<div class="citation"[^>]*?) role="doc-biblioentry"')


def fix_citation_roles(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = _CITATION_ROLE.sub(r'\1 role="listitem"', body)


# The vendored widget manager (@jupyter-widgets/html-manager 1.x, ipywidgets 8 controls) draws a
# slider as a noUiSlider handle with role="slider" but leaves the widget's description in a
# separate <label> that names nothing ("aria-input-field-name", serious), and draws images (an
# Image widget, or a figure in an Output widget) as <img> without alt ("image-alt", critical).
# Widgets render after the page loads, so a MutationObserver names them as they appear: a slider
# handle by its description (or the widget's tooltip), an image by its tooltip or, failing that,
# by the sliders that set it. Display equations that scroll (course_accessibility.css) get a tab
# stop, as pydata-sphinx-theme 0.17.1 gives scrolling code and outputs.
WIDGET_A11Y_JS = """
(function () {
  function text(el) { return el ? (el.textContent || "").replace(/\\s+/g, " ").trim() : ""; }
  function sliderName(handle) {
    var widget = handle.closest(".widget-slider, .jupyter-widgets");
    if (!widget) return "";
    return text(widget.querySelector(".widget-label")) || widget.getAttribute("title") || "";
  }
  function sliderSettings(root) {
    var parts = [];
    root.querySelectorAll(".noUi-handle[role=slider]").forEach(function (h) {
      var name = h.getAttribute("aria-label") || sliderName(h);
      var value = h.getAttribute("aria-valuetext") || h.getAttribute("aria-valuenow");
      var widget = h.closest(".widget-slider, .jupyter-widgets");
      var readout = widget && widget.querySelector(".widget-readout");
      if (readout && text(readout)) value = text(readout);
      if (name) parts.push(name + " = " + value);
    });
    return parts.join(" and ");
  }
  function fix() {
    document.querySelectorAll(".noUi-handle[role=slider]:not([aria-label])").forEach(function (h) {
      var name = sliderName(h);
      if (name) h.setAttribute("aria-label", name);
    });
    document.querySelectorAll(".jupyter-widgets img:not([alt]), .widget-output img:not([alt])").forEach(function (img) {
      var title = img.getAttribute("title");
      if (title) { img.setAttribute("alt", title); return; }
      var box = img.closest(".widget-vbox, .widget-hbox, .widget-box") || img.closest(".cell_output") || document;
      var settings = sliderSettings(box);
      img.setAttribute("alt", "Image that the interactive widget drew" + (settings ? " for " + settings : "") +
        "; it changes with the sliders only in a notebook with a running kernel.");
    });
    document.querySelectorAll("div.math > mjx-container[display=true]").forEach(function (m) {
      if (m.scrollWidth > m.clientWidth + 1) { if (!m.hasAttribute("tabindex")) m.setAttribute("tabindex", "0"); }
    });
  }
  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; fix(); });
  }
  function start() {
    fix();
    new MutationObserver(schedule).observe(document.body, {subtree: true, childList: true});
    window.addEventListener("resize", schedule);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
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
    app.connect("html-page-context", fix_citation_roles)
    app.add_js_file(None, body=WIDGET_A11Y_JS)
    # site_extra/ is the site's html_extra_path: its _static/ lands in the site's _static/.
    app.add_css_file("course_accessibility.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
