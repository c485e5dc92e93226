"""Small Sphinx fixes for the course website (a local extension; see _config.yml).

- sphinx-thebe registers its configuration script once per `env-before-read-docs`, and
  Jupyter Book emits that event twice, so every page declared `const THEBE_JS_URL` twice and
  logged a console error. Thebe is off for this book (launch buttons go to Colab/Binder), so
  its scripts are dropped from every page.
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


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", drop_thebe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
