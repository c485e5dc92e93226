"""The cache of the website's per-page checks (tests/site_cache.py): a result is reused only
for the same page bytes, shared files, checks and browser."""

from __future__ import annotations

import pytest
from site_cache import PageCheckCache, digest_of


@pytest.fixture(autouse=True)
def cache_switched_on(monkeypatch):
    monkeypatch.delenv("GENMODELS_SITE_CACHE", raising=False)  # as `make test` runs it


@pytest.fixture
def site(tmp_path):
    html = tmp_path / "html"
    for rel, text in {"book/ch01.html": "<p>one</p>", "book/ch02.html": "<p>two</p>",
                      "_static/theme.css": "p { color: #222 }", "_vendor/mathjax.js": "//",
                      "_images/fig.png": "png", "_sources/book/ch01.ipynb": "{}",
                      "searchindex.js": "x"}.items():
        (html / rel).parent.mkdir(parents=True, exist_ok=True)
        (html / rel).write_text(text)
    return html


def cache_of(site, tmp_path, checks="axe 4.10, chromium 156"):
    return PageCheckCache(site, tmp_path / "cache", "axe", checks)


def test_a_result_is_reused_for_the_same_site_and_checks(site, tmp_path):
    first = cache_of(site, tmp_path)
    assert first.get("book/ch01") is None
    first.put("book/ch01", {"light": [], "dark": [{"id": "color-contrast"}]})
    again = cache_of(site, tmp_path)
    assert again.get("book/ch01") == {"light": [], "dark": [{"id": "color-contrast"}]}
    assert again.get("book/ch02") is None
    assert again.hits == ["book/ch01"] and again.misses == ["book/ch02"]
    assert "1 page(s) checked in the browser, 1 unchanged page(s)" in again.report()


@pytest.mark.parametrize("change", ["the page", "a style sheet", "a vendored script", "the checks"])
def test_any_change_the_check_could_see_is_a_miss(site, tmp_path, change):
    cache_of(site, tmp_path).put("book/ch01", {"light": []})
    checks = "axe 4.10, chromium 156"
    if change == "the page":
        (site / "book/ch01.html").write_text("<p>one, edited</p>")
    elif change == "a style sheet":
        (site / "_static/theme.css").write_text("p { color: #bbb }")
    elif change == "a vendored script":
        (site / "_vendor/mathjax.js").write_text("// 4.0")
    else:
        checks = "axe 4.11, chromium 156"
    assert cache_of(site, tmp_path, checks).get("book/ch01") is None


def test_what_no_check_reads_leaves_the_result_valid(site, tmp_path):
    cache_of(site, tmp_path).put("book/ch01", {"light": []})
    (site / "book/ch02.html").write_text("<p>another page</p>")  # another page
    (site / "_images/fig.png").write_text("other png")  # a figure (its alt text is in the HTML)
    (site / "_sources/book/ch01.ipynb").write_text('{"cells": []}')
    (site / "searchindex.js").write_text("y")
    assert cache_of(site, tmp_path).get("book/ch01") == {"light": []}


def test_a_new_result_replaces_the_page_s_old_ones_and_the_cache_can_be_switched_off(site, tmp_path, monkeypatch):
    cache = cache_of(site, tmp_path)
    cache.put("book/ch01", {"light": ["old"]})
    (site / "book/ch01.html").write_text("<p>one, edited</p>")
    cache.put("book/ch01", {"light": ["new"]})
    assert len(list((tmp_path / "cache").glob("axe--book__ch01--*.json"))) == 1
    assert not list((tmp_path / "cache").glob("*.tmp"))
    assert cache_of(site, tmp_path).get("book/ch01") == {"light": ["new"]}
    monkeypatch.setenv("GENMODELS_SITE_CACHE", "0")
    assert cache_of(site, tmp_path).get("book/ch01") is None


def test_parts_are_length_prefixed():
    assert digest_of("ab", "c") != digest_of("a", "bc") and digest_of("ab", "c") == digest_of(b"ab", b"c")
