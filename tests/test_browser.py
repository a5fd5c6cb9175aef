"""The built book as a reader sees it: headless Chromium, network off, every page at 420 and 1280 px.

Uses the book built by the publishing workflow's steps (the ``built_book`` fixture of conftest.py), and runs
``scripts/check_book_in_browser.py`` over it: no console errors, no request to the network, every formula
typeset, every image loaded, every slider switching its view, nothing sticking out of the page, no table
hiding columns without a cue, no printed table wrapping mid-row, the ☰/☷ drawers opening on a phone, the
chapters numbered in the sidebar, the version and commit in the footer, every figure with a descriptive
alt text and its smallest text at 9 px or more at the desktop width. Skipped only where no Chromium
binary exists (Debian: ``apt-get install chromium``; ``.ci/run`` installs it).
"""

import importlib.util
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
    results = checker.check_book(built_book, chromium, screenshots=tmp_path / "screenshots",
                                 screenshot_all=False)  # of the pages with problems only
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


def test_figure_text_is_measured_at_the_width_shown(tmp_path):
    """A figure's smallest text on the page is its PNG's record scaled by rendered / natural width; a PNG
    without a record fails, and one shown smaller than its natural width can fall below the limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gqa_mup_ref.page_figures import page_png

    checker = _checker()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([1, 2, 3])
    ax.set_xlabel("step", fontsize=7)
    png, size = page_png(fig)  # 7 pt at 200 dpi: 19.4 image px, 9.7 CSS px at the display size
    plt.close(fig)
    (tmp_path / "fig.png").write_bytes(png)
    figure = {"src": (tmp_path / "fig.png").as_uri(), "natural": 2 * size["width"], "alt": "a line",
              "naturalHeight": 600, "renderedHeight": 300}
    assert checker.figure_text_problems([figure | {"rendered": size["width"]}]) == []
    shrunk = checker.figure_text_problems([figure | {"rendered": 0.8 * size["width"]}])
    assert len(shrunk) == 1 and "7.8 px" in shrunk[0], shrunk
    (tmp_path / "plain.png").write_bytes(png[:33] + png[png.index(b"IDAT") - 4:])  # tEXt chunks dropped
    plain = figure | {"src": (tmp_path / "plain.png").as_uri(), "rendered": size["width"]}
    assert "no record" in checker.figure_text_problems([plain])[0]
    assert checker.squashed_figures([figure | {"rendered": size["width"]}]) == []
    squashed = figure | {"rendered": size["width"] / 2}  # narrowed, its height kept
    assert "distorted" in checker.squashed_figures([squashed])[0]



def test_the_sidebar_check_wants_a_part_numbered_with_its_chapter(tmp_path):
    """A chapter's entry ``chNN_*`` must start "n. ", its parts' ``chNN_k_*`` "n.k. ": a part left
    unnumbered, or numbered as another section, is reported."""
    checker = _checker()
    chromium = checker.find_chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (Debian: apt-get install chromium; or set $CHROMIUM)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")

    def sidebar(*entries):
        links = "".join(f'<a class="reference" href="{href}">{text}</a>' for href, text in entries)
        return f'<div class="bd-sidebar-primary"><nav>{links}</nav></div>'

    good = sidebar(("ch02_corrected_norm.html", "2. A corrected norm"), ("ch02_1_repeated.html", "2.1. The operator"),
                   ("ch02_2_which.html", "2.2. Which size counts"), ("glossary.html", "Glossary"))
    bad = sidebar(("ch02_corrected_norm.html", "2. A corrected norm"), ("ch02_1_repeated.html", "2.3. The operator"),
                  ("ch02_2_which.html", "Which size counts"))
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=checker.CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_content(good)
        assert page.evaluate(checker._SIDEBAR_NUMBERS) == []
        page.set_content(bad)
        problems = page.evaluate(checker._SIDEBAR_NUMBERS)
        browser.close()
    assert len(problems) == 2 and "numbered 2.1." in problems[0] and "numbered 2.2." in problems[1], problems


def test_the_wrapped_number_check_tells_a_broken_line_from_a_raised_exponent():
    """A number cell whose text runs onto a second line is reported; an exponent raised above its base (as
    MathJax sets 2^{-6}) is on the same line and is not."""
    checker = _checker()
    chromium = checker.find_chromium()
    if chromium is None:
        pytest.skip("no Chromium binary (Debian: apt-get install chromium; or set $CHROMIUM)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")

    def table(cell):
        return f'<article><table><tr><td style="width: 3em; max-width: 3em">{cell}</td></tr></table></article>'

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=checker.CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_content(table('2<span style="vertical-align: 9px; font-size: 70%">−6</span>'))
        raised = page.evaluate(checker._WRAPPED_NUMBERS)
        page.set_content(table("+0.37 [−0.62, +0.17]"))
        broken = page.evaluate(checker._WRAPPED_NUMBERS)
        browser.close()
    assert raised == [], raised
    assert len(broken) == 1 and "+0.37" in broken[0], broken
