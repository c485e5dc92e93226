"""Accessibility of the built website (GitHub issue 20), in headless Chromium, offline.

- axe-core (bundled by the ``axe-playwright-python`` package, nothing fetched) audits every page
  against the WCAG 2.0/2.1 A and AA rules, in light and dark mode: no serious or critical
  violation may remain.
- Every image of the book's content has a real alt text.
- Display equations and tables are never clipped, and equation numbers never overlap their
  formula, at a desktop (1280 px) and a phone (390 px) width.
- A widget page works with the keyboard alone.

Needs `make book` first, like tests/test_site.py (whose browser, server and page loader it uses).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from site_cache import PageCheckCache, digest_of
from test_site import HTML, PAGES, ROOT, browser, open_page, site_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.site

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The colour scheme changes colours only: in dark mode the audit runs the rules that read colours.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
BLOCKING = {"serious", "critical"}
WIDTHS = [1280, 390]
# Pages audited at once (each in its own browser context, so in its own renderer process): one
# page loads (waiting on its network) while the other is audited.
AT_ONCE = 2  # measured: 72 s at 2, 76 s at 6, 88 s at 1 on the 2-core machine
# Each page's audit and layout check are kept in _build/site_checks and reused while the page, the
# site's shared files, these checks and the browser are unchanged (tests/site_cache.py).
CACHE_DIR = ROOT / "_build" / "site_checks"
CHECK_SOURCES = [Path(__file__)] + [Path(__file__).with_name(n) for n in ("test_site.py", "site_server.py", "site_cache.py")]


def checks_digest(browser, *extra: str) -> str:  # noqa: F811 - the fixture of test_site
    """What decides a check's result besides the site: the checks' code and the browser."""
    return digest_of(browser.version, *(p.read_bytes() for p in CHECK_SOURCES), *extra)

# axe-core's colour-contrast rule takes most of the audit's time, checking every element with
# text. Two elements whose text has the same colour, size and weight, drawn opaque on the same
# solid background (no background image, no transparency on the way up, not positioned over
# something else), have the same contrast: in the article, only the first of each such kind is
# left to the rule; the others are marked and left out of that rule only (every other rule
# still sees them). MathJax's rendered formulas (`mjx-container` descendants) hold no text node
# (CHTML draws the glyphs with CSS), so the rule finds no text in them; their text is the
# visually hidden MathML for screen readers. The theme's frame around the article (navigation
# bar, sidebars, footer) is drawn from one template with one style sheet on every page: its
# contrast is checked on the first page audited, and on the others only the article is. The
# kinds are found again in dark mode, whose colours may pair differently.
MARK_SAME_CONTRAST = r"""(frameChecked) => {
  for (const el of document.querySelectorAll('[data-a11y-skip-contrast]')) el.removeAttribute('data-a11y-skip-contrast');
  const skip = el => el.setAttribute('data-a11y-skip-contrast', '');
  const article = document.querySelector('article.bd-article');
  function background(el) {  // the solid colour the text is drawn on, or null if unsure
    for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.backgroundImage !== 'none' || s.opacity !== '1' || s.position === 'absolute' || s.position === 'fixed'
          || s.mixBlendMode !== 'normal' || s.filter !== 'none') return null;
      const c = s.backgroundColor;
      if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return /rgba\(/.test(c) ? null : c;
    }
    return getComputedStyle(document.body).backgroundColor;
  }
  const seen = new Set();
  if (article) for (const el of article.querySelectorAll('*')) {
    if (el.closest('mjx-container')) { skip(el); continue; }
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const s = getComputedStyle(el), bg = background(el);
    if (bg === null || /rgba\(/.test(s.color) || s.textShadow !== 'none') continue;
    const key = [s.color, s.fontSize, s.fontWeight, bg].join('|');
    if (seen.has(key)) skip(el); else seen.add(key);
  }
  for (const el of document.querySelectorAll('mjx-container *')) skip(el);
  if (frameChecked) {
    for (const el of document.body.querySelectorAll('*')) {
      if (!el.closest('article.bd-article') && !el.querySelector('article.bd-article')) skip(el);
    }
  }
  axe.configure({rules: [{id: 'color-contrast', selector: '*:not([data-a11y-skip-contrast])'}]});
}"""


def settle(page) -> None:
    """Wait until MathJax has typeset the page (if it has math) and widgets are drawn."""
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    if page.evaluate("() => !!document.querySelector('script[type=\"application/vnd.jupyter.widget-view+json\"]')"):
        page.wait_for_timeout(200)  # the widget manager and our MutationObserver catch up


def start_audit(page, mode: str) -> None:
    """Start axe-core in ``page`` without waiting for it (the pages of a batch audit in parallel)."""
    run_only = ({"type": "tag", "values": WCAG_TAGS} if mode == "light"
                else {"type": "rule", "values": COLOUR_RULES})
    page.evaluate("opts => { window.__axe = axe.run(document, opts); }",
                  {"runOnly": run_only, "resultTypes": ["violations"]})


def audit_result(page) -> list[dict]:
    return page.evaluate(
        "() => window.__axe.then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.html.slice(0, 120))})))")


IMAGES = ("Array.from(document.querySelectorAll('article.bd-article img'))"
          ".map(i => ({src: i.getAttribute('src') || '', alt: i.getAttribute('alt')}))")
SHOWN_CODE = "Array.from(document.querySelectorAll('article pre')).map(p => p.textContent).join('\\n')"


@pytest.fixture(scope="module")
def page_images(audit):
    """{page: (its images' src and alt, the code it shows)}, read while the audit had it open."""
    return audit["images"]


@pytest.fixture(scope="module")
def axe_results(audit):
    """{(page, mode): axe-core's violations}, for every page in light and dark mode."""
    return audit["violations"]


def test_audit_sees_poor_contrast_in_text_and_code(browser, site_url):  # noqa: F811
    """The audit's shortcuts keep it seeing what it must: pale prose, a pale code token, and
    prose of an already checked kind on a background of its own."""
    from axe_playwright_python.sync_playwright import Axe

    context, page, _, _ = open_page(browser, site_url, "book/ch10_gan_remedies")
    try:
        settle(page)
        page.add_style_tag(content="article p { color: #bbb !important; } .highlight .kn { color: #ddd !important; }")
        page.evaluate("""() => { const box = document.createElement('div'); box.style.background = '#000';
          box.innerHTML = '<span id="same-kind-other-ground">' + document.querySelector('article p').textContent.slice(0, 40) + '</span>';
          const s = getComputedStyle(document.querySelector('article p'));
          box.firstChild.style.color = '#333'; box.firstChild.style.fontSize = s.fontSize;
          document.querySelector('article p').after(box);
          const twin = document.createElement('span'); twin.textContent = 'a twin on the page ground';
          twin.style.color = '#333'; twin.style.fontSize = s.fontSize;
          document.querySelector('article p').before(twin); }""")
        page.evaluate(Axe().axe_script)
        page.evaluate(MARK_SAME_CONTRAST, True)
        nodes = page.evaluate("() => axe.run(document, {runOnly: {type: 'rule', values: ['color-contrast']}})"
                              ".then(r => r.violations.flatMap(v => v.nodes.map(n => n.html)))")
    finally:
        context.close()
    assert any(n.startswith("<p") for n in nodes) and any('class="kn"' in n for n in nodes), nodes[:5]
    assert any('id="same-kind-other-ground"' in n for n in nodes), nodes[:5]


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("page_path", PAGES)
def test_no_serious_axe_violation(axe_results, page_path, mode):
    blocking = [f"{v['id']} ({v['impact']}): {v['nodes'][:3]}"
                for v in axe_results[(page_path, mode)] if v["impact"] in BLOCKING]
    assert blocking == [], f"{page_path} ({mode} mode): axe-core violations:\n" + "\n".join(blocking)


def test_axe_counts_every_rule(axe_results):
    """Report of the audit (pytest -rA shows it): violations per rule, serious or not."""
    counts = Counter((v["id"], v["impact"], mode) for (_, mode), vs in axe_results.items() for v in vs)
    for (rule, impact, mode), n in sorted(counts.items()):
        print(f"{rule} ({impact}, {mode}): {n} pages")
    assert len(axe_results) == 2 * len(PAGES)


# --- alt texts -----------------------------------------------------------------------------------

_FILE_PATH = re.compile(r"(^|[\s/])[\w.\-]*/[\w.\-/]*\.\w+|\.(png|jpe?g|svg|gif)\b|_images/", re.I)
_TITLE_CALL = re.compile(r"""(?:set_title|suptitle|title|set_xlabel|set_ylabel)\(\s*f?(["'])(.+?)\1""")


def _words(text: str) -> list[str]:
    return re.findall(r"\w[\w'’\-]*", text)


def _normal(text: str) -> str:
    return " ".join(_words(text.lower()))


def alt_text_problems(images: list[dict], code: str) -> list[str]:
    """What is wrong with the alt texts of a page's images (``src``, ``alt``, ``title``); ``code``
    is the page's code, whose plot titles an alt text must not merely repeat."""
    titles = {_normal(m.group(2)) for m in _TITLE_CALL.finditer(code)}
    titles = {t for t in titles if t}
    problems = []
    count = Counter(_normal(i["alt"]) for i in images if i["alt"])
    for image in images:
        alt, where = (image["alt"] or "").strip(), image["src"][:80]
        if not alt:
            problems.append(f"no alt text: {where}")
        elif _FILE_PATH.search(alt):
            problems.append(f"alt text is a file path: {alt!r}")
        elif len(_words(alt)) < 5:
            problems.append(f"alt text of fewer than five words: {alt!r} ({where})")
        elif any(_normal(alt) == t or _normal(alt) in t for t in titles):
            problems.append(f"alt text is only the figure's title: {alt!r}")
        elif count[_normal(alt)] > 1:
            problems.append(f"alt text used by {count[_normal(alt)]} images on the page: {alt!r}")
    return problems


def test_alt_text_checks_catch_bad_alt_texts():
    code = 'ax.set_title("Held-out log-likelihood per point")'
    bad = [{"src": "a", "alt": "../_images/482e9ba9.png"}, {"src": "b", "alt": "Samples"},
           {"src": "c", "alt": "held-out log-likelihood per point"}, {"src": "d", "alt": ""},
           {"src": "e", "alt": "Two rows of digits drawn by the model."},
           {"src": "f", "alt": "Two rows of digits drawn by the model."}]
    assert len(alt_text_problems(bad, code)) == 6
    good = [{"src": "a", "alt": "Held-out log-likelihood falls as the number of components grows past eight."}]
    assert alt_text_problems(good, code) == []


@pytest.mark.parametrize("page_path", PAGES)
def test_images_have_real_alt_texts(page_images, page_path):
    images, code = page_images[page_path]
    notebook = ROOT / f"{page_path}.ipynb"
    if notebook.exists():  # cells whose input the page hides draw figures too
        code += "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                          if c["cell_type"] == "code")
    problems = alt_text_problems(images, code)
    assert problems == [], f"{page_path}: {len(problems)} of {len(images)} images:\n" + "\n".join(problems)


# --- equations and tables -------------------------------------------------------------------------

# For each display equation and table: is any of it cut off? Walking up from the content to the
# article, a box that scrolls must let the content be scrolled into view (then that box becomes
# what must not be cut off), and a box that hides its overflow must hold the content. Also: does
# the equation number's box overlap the formula's visible box?
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const article = document.querySelector('article.bd-article');
  const scrolls = el => /(auto|scroll)/.test(getComputedStyle(el).overflowX);
  const clips = el => /(hidden|clip)/.test(getComputedStyle(el).overflowX);
  const name = el => (el.id || el.closest('[id]')?.id || el.tagName) + '';
  function checkClipping(content, label) {
    let box = content.getBoundingClientRect();
    let left = box.left, right = box.right;
    for (let el = content.parentElement; el && el !== article.parentElement; el = el.parentElement) {
      const r = el.getBoundingClientRect();
      if (scrolls(el) && el.scrollWidth > el.clientWidth) {
        if (right - left > el.scrollWidth + 1) problems.push(label + ': wider than its scroll area');
        left = r.left; right = r.right;
      } else if (clips(el) || el === article) {
        if (left < r.left - 1 || right > r.right + 1)
          problems.push(label + ': cut off by ' + el.tagName.toLowerCase() + '.' + el.className
                        + ' (' + Math.round(right - left) + ' px in ' + Math.round(r.width) + ' px)');
        if (clips(el)) { left = Math.max(left, r.left); right = Math.min(right, r.right); }
      }
    }
  }
  article.querySelectorAll('div.math').forEach(div => {
    const container = div.querySelector(':scope > mjx-container');
    const formula = container && container.querySelector(':scope > mjx-math');
    if (!formula) { problems.push(name(div) + ': not typeset'); return; }
    checkClipping(formula, 'equation ' + name(div));
    const eqno = div.querySelector(':scope > .eqno');
    if (eqno) {
      const a = eqno.getBoundingClientRect(), c = container.getBoundingClientRect();
      const f = formula.getBoundingClientRect();
      const visible = {left: Math.max(c.left, f.left), right: Math.min(c.right, f.right)};
      const overlapX = Math.min(a.right, visible.right) - Math.max(a.left, visible.left);
      const overlapY = Math.min(a.bottom, f.bottom) - Math.max(a.top, f.top);
      if (overlapX > 0.5 && overlapY > 0.5)
        problems.push('equation ' + name(div) + ': its number ' + eqno.textContent.trim()
                      + ' overlaps the formula by ' + Math.round(overlapX) + ' px');
    }
  });
  article.querySelectorAll('table').forEach(t => checkClipping(t, 'table ' + name(t)));
  return problems;
}"""

LAYOUT_PAGES = [p for p in PAGES if (HTML / f"{p}.html").exists()
                and re.search(r'<div class="math|<table', (HTML / f"{p}.html").read_text())]


@pytest.fixture(scope="module")
def layout_problems(audit):
    """{(page, width): the layout problems of its equations and tables}."""
    return audit["layout"]


@pytest.fixture(scope="module")
def audit(browser, site_url):  # noqa: F811 - the fixtures of test_site
    """``{"violations": {(page, mode): axe-core's violations}, "images": {page: (images, code)},
    "layout": {(page, width): layout problems}}``, every page visited once for all three.

    Each page is loaded once, at the widest width, in light mode: its images are read and the page
    audited, then switched to dark mode the way a reader's system does it (the theme's "auto" mode
    follows ``prefers-color-scheme``) and audited again; then, for a page with display math or
    tables, narrowed to each width for the layout check (the theme's layout follows the viewport
    through CSS media queries; MathJax's CHTML output does not depend on it, and the colour scheme
    changes colours only). A page unchanged since its last visit is read from the cache
    (tests/site_cache.py), each check on its own."""
    from axe_playwright_python.sync_playwright import Axe

    axe_script = Axe().axe_script
    axe_cache = PageCheckCache(HTML, CACHE_DIR, "axe", checks_digest(browser, axe_script))
    layout_cache = PageCheckCache(HTML, CACHE_DIR, "layout", checks_digest(browser, repr(WIDTHS)))
    results, images, layout, todo = {}, {}, {}, []
    for page_path in PAGES:
        cached = axe_cache.get(page_path)
        if cached is not None:
            results[(page_path, "light")], results[(page_path, "dark")] = cached["light"], cached["dark"]
            images[page_path] = tuple(cached["images"])
        cached_layout = layout_cache.get(page_path) if page_path in LAYOUT_PAGES else {}
        if cached_layout is not None:
            layout.update({(page_path, int(width)): problems for width, problems in cached_layout.items()})
        if cached is None or cached_layout is None:
            todo.append((page_path, cached is None, cached_layout is None))
    for start in range(0, len(todo), AT_ONCE):
        batch = []
        for page_path, audit_it, check_layout in todo[start:start + AT_ONCE]:
            context, page, _, _ = open_page(browser, site_url, page_path, color_scheme="light",
                                            viewport={"width": max(WIDTHS), "height": 900})
            settle(page)
            if audit_it:
                assert page.evaluate("document.documentElement.dataset.theme") == "light"
                images[page_path] = (page.evaluate(IMAGES), page.evaluate(SHOWN_CODE))
                page.evaluate(axe_script)
                page.evaluate(MARK_SAME_CONTRAST, page_path != PAGES[0])
                start_audit(page, "light")
            batch.append((page_path, audit_it, check_layout, context, page))
        for page_path, audit_it, _, _, page in batch:
            if not audit_it:
                continue
            results[(page_path, "light")] = audit_result(page)
            # The theme's colour transitions are switched off, so the new colours apply at once,
            # as on a page loaded in dark mode (the audit reads the colours, not their motion).
            page.add_style_tag(content="*, *::before, *::after { transition: none !important; }")
            page.emulate_media(color_scheme="dark")
            page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
                          ".then(() => Promise.all(document.getAnimations()"
                          ".filter(a => a instanceof CSSTransition).map(a => a.finished)))")
            page.evaluate(MARK_SAME_CONTRAST, page_path != PAGES[0])  # dark colours may pair differently
            start_audit(page, "dark")
        for page_path, audit_it, check_layout, context, page in batch:
            if audit_it:
                results[(page_path, "dark")] = audit_result(page)
                axe_cache.put(page_path, {"light": results[(page_path, "light")],
                                          "dark": results[(page_path, "dark")], "images": images[page_path]})
            if check_layout:
                for width in sorted(WIDTHS, reverse=True):
                    page.set_viewport_size({"width": width, "height": 900})
                    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                    layout[(page_path, width)] = page.evaluate(LAYOUT_PROBLEMS)
                layout_cache.put(page_path, {str(width): layout[(page_path, width)] for width in WIDTHS})
            context.close()
    print(axe_cache.report())
    print(layout_cache.report())
    return {"violations": results, "images": images, "layout": layout}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page_path", LAYOUT_PAGES)
def test_equations_and_tables_are_not_clipped(layout_problems, page_path, width):
    problems = layout_problems[(page_path, width)]
    assert problems == [], f"{page_path} at {width} px:\n" + "\n".join(problems)


def test_a_page_narrowed_after_loading_is_laid_out_as_one_loaded_narrow(browser, site_url):  # noqa: F811
    """The layout check of a narrowed page finds what it finds on the page loaded at that
    width (the results appendix: wide tables and equations)."""
    page_path, width = "book/appendix_results", min(WIDTHS)
    context, page, _, _ = open_page(browser, site_url, page_path, viewport={"width": width, "height": 900})
    try:
        settle(page)
        geometry = "() => [...document.querySelectorAll('div.math, table')].map(e => [e.clientWidth, e.scrollWidth])"
        loaded_narrow = page.evaluate(geometry)
        page.set_viewport_size({"width": max(WIDTHS), "height": 900})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        assert page.evaluate(geometry) == loaded_narrow
    finally:
        context.close()


@pytest.mark.parametrize(("broken_style", "expected"), [
    ("div.math > mjx-container { overflow: hidden !important; }", "cut off"),
    ("div.math { position: relative; } div.math > mjx-container { overflow: visible !important; }"
     " div.math > .eqno { position: absolute; right: 0; }", "overlaps"),
])
def test_layout_check_sees_broken_equations(browser, site_url, broken_style, expected):  # noqa: F811
    """The check above reports a clipped formula, and a number drawn over its formula
    (chapter 5's long reparameterization gradient at 390 px, with a broken style)."""
    context, page, _, _ = open_page(browser, site_url, "book/ch05_vae_objective", viewport={"width": 390, "height": 900})
    try:
        settle(page)
        page.add_style_tag(content=broken_style)
        page.wait_for_timeout(100)
        problems = page.evaluate(LAYOUT_PROBLEMS)
    finally:
        context.close()
    assert any(expected in p and "reparameterization" in p for p in problems), problems


# --- keyboard -----------------------------------------------------------------------------------

WIDGET_PAGE = "book/ch06_vae_practice"


def test_widget_page_works_with_the_keyboard(browser, site_url):  # noqa: F811
    """Tab reaches the latent explorer's slider, the arrow keys move it, and the image changes."""
    context, page, _, _ = open_page(browser, site_url, WIDGET_PAGE)
    try:
        settle(page)
        # The live widget's sliders (no kernel on the site) have a name and a tab stop too.
        handles = page.evaluate("Array.from(document.querySelectorAll('.noUi-handle[role=slider]'))"
                                ".map(h => [h.getAttribute('aria-label'), h.tabIndex])")
        assert handles and all(name and tab == 0 for name, tab in handles), handles
        slider = "document.activeElement.matches('.genmodels-latent-explorer input[type=range]')"
        for _ in range(1500):
            page.keyboard.press("Tab")
            if page.evaluate(slider):
                break
        else:
            pytest.fail("Tab never reached the latent explorer's slider")
        name = page.evaluate("document.activeElement.labels[0].textContent.trim()")
        assert name.startswith("z"), name
        read = ("() => { const box = document.activeElement.closest('.genmodels-latent-explorer');"
                " const img = box.querySelector('img'); return [document.activeElement.value, img.src]; }")
        before = page.evaluate(read)
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        after = page.evaluate(read)
        assert after[0] != before[0], "the arrow keys did not move the slider"
        assert after[1] != before[1], "the image did not change"
    finally:
        context.close()
