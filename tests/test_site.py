"""The built website, in headless Chromium with every request outside the site blocked.

Needs `make book` first (``make test`` builds the book before running the tests). For every
page in ``_toc.yml``: it loads, logs no console error, renders its math with the vendored
MathJax, shows its figures, and makes zero requests outside the site.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from site_server import serve_directory

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/lib/chromium/chromium")


def toc_pages() -> list[str]:
    """Every document of ``_toc.yml``, as a path relative to the book root (no suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        walk(part.get("chapters", []))
    return pages


PAGES = toc_pages()


@pytest.fixture(scope="module")
def site_url():
    if not (HTML / "index.html").exists():
        pytest.fail("the website is not built: run `make book` (or `make test`, which builds it).")
    with serve_directory(HTML) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (make test does).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


def open_page(browser, site_url: str, page_path: str, **context_options):
    """Load a page with external requests blocked; return (context, page, console errors,
    external URLs). ``context_options`` go to ``browser.new_context`` (e.g. ``color_scheme``,
    ``viewport``).

    Returns once the page has fired ``load`` and its network has been quiet for half a
    second (no request in flight, none started or ended). Playwright's own ``networkidle``
    state does the same but now and then never fires on a finished page (it timed out
    after 90 s on a page whose requests had all ended); this wait names the requests still
    in flight when it gives up.
    """
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.set_default_timeout(90_000)  # a loaded CI machine renders long pages of math slowly
    errors: list[str] = []
    external: list[str] = []
    in_flight: dict = {}
    last_activity = [time.monotonic()]

    def route(r):
        url = r.request.url
        if url.startswith(site_url) or url.startswith("data:") or url.startswith("blob:"):
            r.continue_()
        else:
            external.append(url)
            r.abort()

    def started(request):
        in_flight[request] = request.url
        last_activity[0] = time.monotonic()

    def ended(request):
        in_flight.pop(request, None)
        last_activity[0] = time.monotonic()

    page.route("**/*", route)
    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{site_url}/{page_path}.html", wait_until="load")
    wait_for_quiet_network(page, in_flight, last_activity, page_path)
    return context, page, errors, external


def wait_for_quiet_network(page, in_flight: dict, last_activity: list[float], page_path: str,
                           quiet: float = 0.5, timeout: float = 90.0) -> None:
    """Poll (letting Playwright deliver events) until no request has been in flight for
    ``quiet`` seconds; fail after ``timeout`` seconds naming the requests still open."""
    deadline = time.monotonic() + timeout
    while in_flight or time.monotonic() - last_activity[0] < quiet:
        if time.monotonic() > deadline:
            pytest.fail(f"{page_path}: the network was still busy after {timeout:.0f} s; "
                        f"requests in flight: {sorted(in_flight.values())}")
        page.wait_for_timeout(100)


@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_offline(browser, site_url, page_path):
    html_file = HTML / f"{page_path}.html"
    assert html_file.exists(), f"{page_path} is in _toc.yml but was not built"
    source = html_file.read_text()
    context, page, errors, external = open_page(browser, site_url, page_path)
    try:
        # Math: every page whose HTML holds TeX must have it typeset by MathJax.
        if re.search(r'class="math|\\\(', source):
            page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
            page.evaluate("() => MathJax.startup.promise")  # the first typeset has finished
            assert page.locator("mjx-container").count() > 0
            assert page.locator("mjx-merror").count() == 0, f"MathJax errors on {page_path}"
        # Widgets: a page that embeds widget state renders the widgets (vendored manager).
        if "application/vnd.jupyter.widget-view+json" in source:
            page.wait_for_selector(".jupyter-widgets", state="attached")
            assert page.locator(".jupyter-widgets").count() > 0, f"widgets not rendered on {page_path}"
        # Figures: every image element has loaded and has a size.
        n_img = page.locator("article img").count()
        if re.search(r'<img[^>]+src="[^"]*_images/', source):
            assert n_img > 0
        broken = page.evaluate(
            "Array.from(document.querySelectorAll('article img'))"
            ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert broken == [], f"images that did not load on {page_path}: {broken}"
        # Checked last, so that errors and requests of the typesetting and widgets count too.
        assert external == [], f"{page_path} requested outside the site: {external}"
        assert errors == [], f"{page_path} logged console errors: {errors}"
    finally:
        context.close()


def test_notebook_chapters_have_figures():
    """Every executed chapter notebook contributes figures to its page."""
    for page_path in PAGES:
        if (ROOT / f"{page_path}.ipynb").exists() and Path(page_path).name.startswith("ch"):
            source = (HTML / f"{page_path}.html").read_text()
            assert re.search(r'<img[^>]+src="[^"]*_images/', source), f"no figure on {page_path}"


def test_generated_markdown_tables_render_as_tables():
    """A table a cell displays as Markdown must be an HTML table, not raw pipe text."""
    for page_path in PAGES:
        source = (HTML / f"{page_path}.html").read_text()
        raw = re.findall(r"\|\s*-{3,}\s*\|", source)
        assert raw == [], f"{page_path} shows a Markdown table as raw text: {raw[:2]}"


def test_external_request_would_be_caught(browser, site_url):
    """The blocking route really sees outside requests (a page that makes one is flagged)."""
    context = browser.new_context()
    page = context.new_page()
    seen: list[str] = []

    def route(r):
        if not r.request.url.startswith(site_url):
            seen.append(r.request.url)
            r.abort()
        else:
            r.continue_()

    page.route("**/*", route)
    page.goto(f"{site_url}/book/intro.html", wait_until="load")
    page.evaluate("fetch('https://cdn.jsdelivr.net/npm/mathjax@3').catch(() => null)")
    page.wait_for_timeout(300)
    context.close()
    assert any("cdn.jsdelivr.net" in u for u in seen)


def test_launch_and_download_buttons_configured(site_url):
    source = (HTML / "book" / "ch01_generative_models.html").read_text()
    assert "colab.research.google.com" in source, "Colab launch button missing"
    assert "mybinder.org" in source, "Binder launch button missing"
    assert "ch01_generative_models.ipynb" in source, "notebook download button missing"
    # Launch and download buttons hand out the student edition, never the source's solutions.
    assert "/student/ch01_generative_models.ipynb" in source, "launch buttons must open student/"
    served = HTML / "_sources" / "book" / "ch01_generative_models.ipynb"
    assert served.exists() and "### BEGIN SOLUTION" not in served.read_text()


def test_chapters_link_their_student_edition():
    """Every chapter with exercises links its student notebook, and the file is in the site."""
    for page_path in PAGES:
        nb = ROOT / f"{page_path}.ipynb"
        if not nb.exists() or "{exercise}" not in nb.read_text():
            continue
        source = (HTML / f"{page_path}.html").read_text()
        links = re.findall(r'href="([^"]*_downloads/[^"]*' + nb.name + ')"', source)
        assert links, f"{page_path} does not link its student edition"
        target = (HTML / page_path).parent / links[0]
        assert target.resolve().exists(), f"student edition missing from the site: {target}"
        assert "### BEGIN SOLUTION" not in target.read_text()


def test_a_page_with_math_and_a_widget_exists():
    """The offline check above covers a page holding both math and a live widget."""
    both = [p for p in PAGES if (HTML / f"{p}.html").exists()
            and "application/vnd.jupyter.widget-view+json" in (HTML / f"{p}.html").read_text()
            and 'class="math' in (HTML / f"{p}.html").read_text()]
    assert both, "no page has both math and a widget"


def test_widget_managers_mathjax2_typeset_call_works(browser, site_url):
    """The widget manager typesets labels with MathJax 2's ``MathJax.Hub.Queue``; the site's
    shim (book/_ext/course_site.py) must turn that into a MathJax 3 typeset, not an error."""
    widget_pages = [p for p in PAGES if (HTML / f"{p}.html").exists()
                    and "application/vnd.jupyter.widget-view+json" in (HTML / f"{p}.html").read_text()]
    assert widget_pages, "no page embeds a widget"
    context, page, errors, external = open_page(browser, site_url, widget_pages[0])
    try:
        page.wait_for_function("window.MathJax && window.MathJax.startup && window.MathJax.typesetPromise")
        page.evaluate(
            "() => { const s = document.createElement('span'); s.id = 'shim-probe';"
            " s.textContent = '\\\\(x^2\\\\)'; document.body.appendChild(s);"
            " MathJax.Hub.Queue(['Typeset', MathJax.Hub, s]); }"
        )
        page.wait_for_selector("#shim-probe mjx-container", state="attached")
        assert errors == [], f"console errors: {errors}"
        assert external == []
    finally:
        context.close()
