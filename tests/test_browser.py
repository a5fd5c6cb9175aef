"""The built book as a reader sees it: headless Chromium, network off, every page at 420 and 1280 px.

Uses the book built by the publishing workflow's steps (the ``built_book`` fixture of conftest.py), and runs
``scripts/check_book_in_browser.py`` over it: no console errors, no request to the network, every formula
typeset, every image loaded, every slider switching its view, nothing sticking out of the page, no table
hiding columns without a cue, no printed table wrapping mid-row, the ☰/☷ drawers opening on a phone, the
chapters numbered in the sidebar, the version and commit in the footer. Figures without a descriptive alt
text are reported as warnings (pytest's warnings summary), not failures. Skipped only where no Chromium
binary exists (Debian: ``apt-get install chromium``; ``.ci/run`` installs it).
"""

import importlib.util
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("check_book_in_browser",
                                                  ROOT / "scripts" / "check_book_in_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_page_reads_well_offline_on_a_phone_and_a_desktop(built_book, tmp_path):
    checker = _checker()
    chromium = checker.find_chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (Debian: apt-get install chromium; or set $CHROMIUM)")
    pytest.importorskip("playwright", reason="playwright is in the test extra: pip install -e '.[test]'")
    figures: dict[str, list[str]] = {}
    results = checker.check_book(built_book, chromium, screenshots=tmp_path / "screenshots", warnings=figures,
                                 screenshot_all=False)  # of the pages with problems only
    for page, found in figures.items():
        warnings.warn(f"{page}: {len(found)} figure(s) without a descriptive alt text:\n  " + "\n  ".join(found),
                      UserWarning, stacklevel=1)
    pages = {"book/intro.html", "book/ch01_spectral_feature_learning.html", "book/api_reference.html"}
    assert pages <= set(results), sorted(results)
    problems = {page: found for page, found in results.items() if found}
    assert not problems, "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in problems.items())


def test_the_book_ships_its_javascript(built_book):
    """MathJax, require.js and the widget manager come with the book; no page names a CDN for them."""
    offline = built_book / "_static" / "offline"
    for asset in ("mathjax/tex-mml-chtml.js", "requirejs/require.js", "html-manager/embed-amd.js"):
        assert (offline / asset).is_file(), asset
    for page in built_book.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for cdn in ("cdn.jsdelivr.net/npm/mathjax", "require.min.js", "html-manager@"):
            assert cdn not in html, f"{page.name} loads {cdn} from the network"
        assert html.count("const THEBE_JS_URL") <= 1, f"{page.name} declares THEBE_JS_URL twice"
