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
"""

from __future__ import annotations

from typing import Any


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


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", drop_thebe_scripts, priority=900)
    # Before MathJax's configuration (priority 500 by default) and the widget manager.
    app.add_js_file(None, body=MATHJAX2_HUB_SHIM, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
