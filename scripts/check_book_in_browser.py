"""Open every page of the built book in headless Chromium with the network off, and check it as a reader would.

For each page, at a phone width (420 px) and a desktop width (1280 px):

* no console errors and no uncaught exceptions;
* no request leaves the machine (everything the page needs ships with the book);
* every formula is typeset by MathJax (no raw ``\\(`` left);
* every image has loaded;
* every widget view is rendered, and each slider switches the visible view and its readout;
* nothing sticks out of the page sideways, except inside a box that scrolls on purpose (code cells);
  at the desktop width, printed outputs and display equations fit without scrolling, except printed tables;
* no table hides columns without a cue: a table (or printed table) wider than its box scrolls in that box,
  with a shadow on the hidden side and a "scroll sideways" line under it; math in a table (a fraction's
  numerator, a subscript) is drawn at 11 px or more;
* no printed table wraps mid-row: a line of a printed output with a column gap (two or more spaces between
  words, a " | " separator, or a rule of dashes), in an output with at least two such lines, stays on one line;
* no number in a table breaks over two lines, at either width: a cell of a rendered table whose text is a
  number (``1.09 ± 0.08``, ``+0.37 [−0.62, +0.17]``, ``p = 0.045``) stays on one line;
* navigation works: below the desktop width each visible ☰ and ☷ button opens its drawer (and Escape closes
  it); at the desktop width the visible ☰ hides the sidebar and shows it again;
* the sidebar numbers the chapters: its entry for ``book/ch0n_*`` starts with "n." (the prose's "Chapter n"),
  and the entry for a chapter's part ``book/ch0n_k_*`` with "n.k.";
* the footer names the package version and the commit (or "unknown commit");
* every figure says in its alt text what it shows (not missing, not a file name or a hash);
* at the desktop width, every figure's smallest text is drawn at 9 CSS px or more: the PNG's record of its
  smallest text in image pixels (``gqa_mup_ref.page_figures``) times the width the page shows it at over its
  natural width; a PNG without that record (a figure not made by ``page_figures.page_png``) fails too;
* no figure is distorted: each is shown with its PNG's aspect ratio, at both widths;
* at the phone width, every chapter figure (not a slider's view) shows its phone version, its panels stacked
  in one column (``book/_ext/narrow_figures.py``), with its smallest text at 9 CSS px or more.

Used by ``tests/test_browser.py``; also a command for maintainers::

    jupyter-book build . && python scripts/check_book_in_browser.py [--html _build/html]
        [--chromium /usr/bin/chromium] [--screenshots /tmp/shots]

Needs the Python package ``playwright`` (in the ``test`` extra) and a Chromium binary (Debian:
``apt-get install chromium``); playwright's own browser download is not used. Exit status 0 when every page
passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (420, 1280)
DESKTOP = 1280
NARROWEST_DESKTOP = 992  # the themes' breakpoint: below it the sidebars are drawers
SMALLEST_TABLE_MATH_PX = 11
SMALLEST_FIGURE_TEXT_PX = 9
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--allow-file-access-from-files",
]

_WAIT_FOR_MATH = """() => {
  const math = document.querySelectorAll('span.math, div.math');
  if (!math.length) return true;
  return !!(window.MathJax && MathJax.startup && MathJax.startup.document
            && document.querySelector('mjx-container'));
}"""

_MATH_PROBLEMS = r"""async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const problems = [];
  const raw = [...document.querySelectorAll('span.math, div.math')].filter(el => !el.querySelector('mjx-container'));
  if (raw.length) problems.push(`${raw.length} formula(s) not typeset, e.g. ` + raw[0].textContent.trim().slice(0, 60));
  const clone = document.querySelector('main') ? document.querySelector('main').cloneNode(true) : null;
  if (clone) {
    clone.querySelectorAll('pre, code, script, mjx-container, .highlight').forEach(e => e.remove());
    // a TeX command left in the visible text: delimiters MathJax never saw (\( \[ or a $ broken by Markdown)
    const text = clone.textContent;
    const match = text.match(/\\[(\[]|\\[A-Za-z]{2,}/);
    if (match) problems.push('raw TeX in the text: ' + text.slice(Math.max(0, match.index - 20), match.index + 50).replace(/\s+/g, ' '));
  }
  return problems;
}"""

_IMAGE_PROBLEMS = """async () => {
  const images = [...document.images].filter(i => i.getAttribute('src'));
  await Promise.all(images.map(i => {
    i.loading = 'eager';
    return i.complete ? null : new Promise(done => { i.onload = i.onerror = done; setTimeout(done, 10000); });
  }));
  return images.filter(i => !(i.complete && i.naturalWidth > 0))
               .map(i => 'image not loaded: ' + i.getAttribute('src').slice(0, 80));
}"""

_UNRENDERED_WIDGETS = """() => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
  .filter(s => !s.parentElement.querySelector('.jupyter-widgets, .widget-box, .widget-hbox, .widget-vbox'))
  .length"""

_VISIBLE_VIEWS = """els => els.filter(e => e.offsetParent !== null).map(e => e.src || e.innerHTML)"""

_OVERFLOW = """desktop => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '')
      + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  if (document.documentElement.scrollWidth > width + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in a ${width} px window`);
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const reported = [];
  for (const el of article.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    if (reported.some(r => r.contains(el))) continue;
    let clipped = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX !== 'visible' && a.getBoundingClientRect().right <= width + 1) { clipped = true; break; }
    }
    if (!clipped) { reported.push(el); problems.push('sticks out of the page: ' + describe(el)); }
  }
  if (desktop) {
    const scrollers = article.querySelectorAll('.cell_output pre, .cell_output .output, div.math, mjx-container[display="true"], .widget-html-content');
    for (const el of scrollers) {
      if (el.closest('.scroll-cue')) continue;  // a printed table: checked by _HIDDEN_COLUMNS
      if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
        problems.push(`needs sideways scrolling (${el.scrollWidth} px in ${el.clientWidth} px): ` + describe(el));
    }
  }
  return problems.slice(0, 8);
}"""


# A row of a printed table, as the book's readers would call it (see the module docstring).
_TABLE_ROW = r"/\S {2,}\S|\s\|\s|^\s*-{2,}(\s+-{2,})+\s*$/"

# A table cell that shows a number: digits, signs, ±, brackets, a unit or an "x = " prefix, nothing else.
_NUMBER_CELL = r"/^[\s\d.,:;%+\-−–±×≈~<>≤≥=()\[\]ep]*\d[\s\d.,:;%+\-−–±×≈~<>≤≥=()\[\]ep]*$/"

_WRAPPED_NUMBERS = """() => {
  const NUMBER = %s;
  const problems = [];
  for (const cell of document.querySelectorAll('article table td, article table th')) {
    if (!cell.getClientRects().length || !NUMBER.test(cell.textContent.trim())) continue;
    const range = document.createRange();
    range.selectNodeContents(cell);
    // two pieces are on different lines when one starts below the other's bottom; a raised exponent
    // (2^{-6} typeset by MathJax) overlaps its base and is on the same line
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    if (rects.some(a => rects.some(b => b.top >= a.bottom - 1)))
      problems.push('a number breaks over two lines in a table cell: "' + cell.textContent.trim().slice(0, 40) + '"');
  }
  return problems.slice(0, 5);
}""" % _NUMBER_CELL

_WRAPPED_ROWS = """() => {
  const ROW = %s;
  const problems = [];
  for (const pre of document.querySelectorAll('article .cell_output pre')) {
    if (!pre.getClientRects().length) continue;
    const nodes = [];
    const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node);
    const lines = nodes.map(n => n.data).join('').split('\\n');
    if (lines.filter(line => ROW.test(line)).length < 2) continue;
    const at = index => {  // (text node, offset) of a character index in the output
      for (const node of nodes) { if (index <= node.data.length) return [node, index]; index -= node.data.length; }
      const last = nodes[nodes.length - 1]; return [last, last.data.length];
    };
    let start = 0;
    for (const line of lines) {
      if (ROW.test(line)) {
        const range = document.createRange();
        range.setStart(...at(start)); range.setEnd(...at(start + line.length));
        const tops = [...range.getClientRects()].filter(r => r.width > 0).map(r => r.top);
        if (tops.length && Math.max(...tops) - Math.min(...tops) > 4)
          problems.push('a printed table wraps mid-row: "' + line.trim().slice(0, 60) + '"');
      }
      start += line.length + 1;
    }
  }
  return problems.slice(0, 5);
}""" % _TABLE_ROW

_HIDDEN_COLUMNS = """() => {
  const problems = [];
  const describe = el => (el.tagName === 'PRE' ? 'printed table "' : 'table "')
      + (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50) + '"';
  for (const el of document.querySelectorAll('article table, article .cell_output pre')) {
    if (!el.getClientRects().length || el.getBoundingClientRect().width === 0) continue;
    let box = null;  // the nearest box (the element itself, for a printed output) that hides part of it
    for (let a = el.tagName === 'PRE' ? el : el.parentElement; a && a.tagName !== 'ARTICLE'; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible' && a.scrollWidth > a.clientWidth + 1) { box = a; break; }
    }
    if (!box) continue;
    if (!['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) {
      problems.push('hides its last columns, which cannot be scrolled to: ' + describe(el)); continue;
    }
    const cue = box.parentElement && box.parentElement.classList.contains('scroll-cue') ? box.parentElement : null;
    const hint = cue && cue.querySelector(':scope > .scroll-cue-hint');
    const hintBox = hint && hint.getBoundingClientRect();
    const shadow = cue && getComputedStyle(cue, '::after');
    const atEnd = box.scrollLeft + box.clientWidth >= box.scrollWidth - 1;
    const missing = !hint ? 'no cue' : hintBox.height === 0 || !/scroll/.test(hint.textContent) ? 'no "scroll" line'
        : hintBox.right > document.documentElement.clientWidth + 1 ? 'its "scroll" line off screen'
        : !atEnd && !(parseFloat(shadow.opacity) > 0.5) ? 'no shadow on the hidden side' : '';
    if (missing) problems.push(`hides its last columns without a cue (${missing}): ` + describe(el));
  }
  return [...new Set(problems)].slice(0, 8);
}"""

_SMALL_TABLE_MATH = """smallest => {
  const problems = [];
  for (const math of document.querySelectorAll('article table mjx-container')) {
    if (!math.getClientRects().length) continue;
    const sizes = [...math.querySelectorAll('mjx-c')].map(c => parseFloat(getComputedStyle(c).fontSize));
    const size = Math.min(...sizes);
    if (size < smallest) {
      const tex = math.querySelector('mjx-assistive-mml') ? math.querySelector('mjx-assistive-mml').textContent : '';
      problems.push(`math in a table drawn at ${size.toFixed(1)} px (< ${smallest} px): ${tex.slice(0, 40)}`);
    }
  }
  return [...new Set(problems)].slice(0, 5);
}"""

_SIDEBAR_NUMBERS = """() => {
  const links = [...document.querySelectorAll('.bd-sidebar-primary nav a.reference')];
  if (!links.length) return ['the sidebar lists no pages'];
  const problems = [];
  let chapters = 0;
  for (const link of links) {
    const match = (link.getAttribute('href') || '').match(/(?:^|\\/)ch0*(\\d+)_(?:(\\d+)_)?[^\\/#]*\\.html$/);
    if (!match) continue;
    chapters += 1;
    const text = link.textContent.trim();
    const number = match[2] ? `${match[1]}.${match[2]}.` : `${match[1]}.`;  // a chapter's part chNN_k_*: n.k.
    if (!text.startsWith(number + ' '))
      problems.push(`sidebar entry "${text.slice(0, 50)}" is not numbered ${number}`);
  }
  if (!chapters) problems.push('the sidebar lists no chapter (book/chNN_*.html)');
  return problems;
}"""

_FOOTER = """() => {
  const footer = document.querySelector('.build-info');
  const text = footer ? footer.textContent : '';
  return /gqa-mup-ref \\S+ · (commit [0-9a-f]{12}|unknown commit)/.test(text) ? []
      : ['the footer does not name the package version and commit: "' + text.slice(0, 80) + '"'];
}"""

_ALT_TEXT = """() => [...document.querySelectorAll('article img')].filter(img => {
    const alt = (img.getAttribute('alt') || '').trim();
    const file = (img.getAttribute('src') || '').split('/').pop();
    return !alt || alt.split('/').pop() === file || /\\.(png|jpe?g|svg|gif|webp)$/i.test(alt)
        || /^[0-9a-f]{16,}$/i.test(alt.split('/').pop().split('.')[0]);
  }).map(img => {
    let heading = null;  // the section the figure is in
    for (let el = img; el && !heading; el = el.parentElement) {
      for (let s = el.previousElementSibling; s && !heading; s = s.previousElementSibling)
        if (/^H[1-6]$/.test(s.tagName)) heading = s;
      if (el.tagName === 'SECTION') heading = heading || el.querySelector('h1, h2, h3, h4');
    }
    const caption = img.closest('figure') && img.closest('figure').querySelector('figcaption');
    const where = caption ? caption.textContent : heading ? heading.textContent : '';
    return `figure without a descriptive alt text (alt "${(img.getAttribute('alt') || '').slice(0, 50)}"): `
      + where.trim().replace(/[\\s¶#]+/g, ' ').slice(0, 70);
  })"""

_FIGURES = """() => [...document.querySelectorAll('article img')]
  .filter(i => i.getBoundingClientRect().width > 0 && /\\.png$|^data:image\\/png/i.test(i.getAttribute('src') || ''))
  .map(i => ({src: i.currentSrc || i.src, rendered: i.getBoundingClientRect().width, natural: i.naturalWidth,
              inWidget: !!i.closest('.widget-html-content, .jupyter-widgets'),
              narrow: /\\.narrow\\.png$/.test(i.currentSrc || ''),
              renderedHeight: i.getBoundingClientRect().height, naturalHeight: i.naturalHeight,
              alt: (i.getAttribute('alt') || '').slice(0, 60)}))"""

_DIALOG_SHOWN = """selector => {
  const dialog = document.querySelector(selector);
  if (!dialog || !dialog.open) return 'did not open';
  const box = dialog.getBoundingClientRect();
  const links = [...dialog.querySelectorAll('a[href]')].filter(a => a.getBoundingClientRect().width > 0);
  if (box.width < 150 || box.left < -1 || box.right > document.documentElement.clientWidth + 1)
    return `opened off screen (${Math.round(box.left)} to ${Math.round(box.right)} px)`;
  return links.length ? '' : 'opened empty';
}"""

_SIDEBAR_SHOWN = """() => { const s = document.getElementById('pst-primary-sidebar');
  return !!s && getComputedStyle(s).visibility !== 'hidden' && s.getBoundingClientRect().right > 0; }"""

DRAWERS = ((".primary-toggle", "#pst-primary-sidebar-modal", "☰ (site navigation)"),
           (".secondary-toggle", "#pst-secondary-sidebar-modal", "☷ (contents of this page)"))


def _png_bytes(src: str) -> bytes:
    """The PNG behind an image's ``src``: a data URL or a file of the built book."""
    import base64
    from urllib.parse import unquote, urlparse

    if src.startswith("data:"):
        return base64.b64decode(src.split(",", 1)[1])
    return Path(unquote(urlparse(src).path)).read_bytes()


def squashed_figures(figures: list[dict], tolerance: float = 0.02) -> list[str]:
    """Figures (``_FIGURES``' records) drawn with another aspect ratio than their PNG's (a fixed height
    in the image's style while the page narrows its width, say), beyond ``tolerance`` (relative)."""
    problems = []
    for figure in figures:
        if not (figure["naturalHeight"] and figure["renderedHeight"]):
            continue
        natural = figure["natural"] / figure["naturalHeight"]
        shown = figure["rendered"] / figure["renderedHeight"]
        if abs(shown / natural - 1) > tolerance:
            name = f'"{figure["alt"]}…"' if figure["alt"] else figure["src"].split("/")[-1][:40]
            problems.append(f"figure {name} is distorted: shown {figure['rendered']:.0f} x "
                            f"{figure['renderedHeight']:.0f} px, its PNG's aspect ratio is {natural:.2f}")
    return problems


def figure_text_problems(figures: list[dict], smallest_px: float = SMALLEST_FIGURE_TEXT_PX) -> list[str]:
    """Figures (``_FIGURES``' records) whose smallest text is drawn below ``smallest_px`` CSS px, or whose PNG
    has no record of its smallest text."""
    sys.path.insert(0, str(ROOT))
    from gqa_mup_ref.page_figures import smallest_text_px

    import io

    from PIL import Image

    problems = []
    for figure in figures:
        name = f'"{figure["alt"]}…"' if figure["alt"] else figure["src"].split("/")[-1][:40]
        png = _png_bytes(figure["src"])
        record = smallest_text_px(png)
        # The PNG's own width in image pixels, as its record is: the browser's naturalWidth of an image
        # chosen from a srcset at "2x" is already halved, which would double the text's size here.
        natural = Image.open(io.BytesIO(png)).width
        if record is None:
            problems.append(f"figure {name}: its PNG has no record of its smallest text (draw it through "
                            "gqa_mup_ref.page_figures: use_page_png() in the chapter's first cell)")
            continue
        shown = record * figure["rendered"] / max(natural, 1)
        if shown < smallest_px:
            problems.append(f"figure {name}: smallest text {shown:.1f} px at the width shown "
                            f"({figure['rendered']:.0f} CSS px for {natural} image px); needs {smallest_px} px")
    return problems


def phone_figure_problems(figures: list[dict], smallest_px: float = SMALLEST_FIGURE_TEXT_PX) -> list[str]:
    """At a phone width: every chapter figure (not a slider's view) shows its phone version, the PNG with its
    panels stacked in one column (``book/_ext/narrow_figures.py``), and that PNG's smallest text is drawn at
    ``smallest_px`` CSS px or more."""
    chapter = [f for f in figures if not f.get("inWidget")]
    problems = []
    for figure in chapter:
        if not figure.get("narrow"):
            name = f'"{figure["alt"]}…"' if figure["alt"] else figure["src"].split("/")[-1][:40]
            problems.append(f"figure {name} has no phone version (panels stacked in one column): draw it "
                            "through gqa_mup_ref.page_figures and build with book/_ext/narrow_figures.py")
    return problems + figure_text_problems([f for f in chapter if f.get("narrow")], smallest_px)


def find_chromium() -> str | None:
    """A Chromium binary: ``$CHROMIUM``, then ``chromium``/``chromium-browser`` on the PATH."""
    candidates = [os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                  "/usr/bin/chromium"]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def _check_sliders(page) -> list[str]:
    problems = []
    handles = page.query_selector_all(".widget-hslider .noUi-handle, .widget-hslider input[type=range]")
    for index, handle in enumerate(handles):
        before = page.eval_on_selector_all(".widget-image, .widget-html", _VISIBLE_VIEWS)
        readouts = page.eval_on_selector_all(".widget-readout", "els => els.map(e => e.textContent)")
        handle.focus()
        moved, after = readouts, before
        for key in ("ArrowRight", "ArrowLeft"):  # one of them moves, unless the slider has one value
            page.keyboard.press(key)
            page.wait_for_timeout(250)
            after = page.eval_on_selector_all(".widget-image, .widget-html", _VISIBLE_VIEWS)
            moved = page.eval_on_selector_all(".widget-readout", "els => els.map(e => e.textContent)")
            if moved != readouts:
                break
        if moved == readouts:
            problems.append(f"slider {index}: its readout did not move")
        elif after == before:
            problems.append(f"slider {index}: readout {readouts} -> {moved} but the view did not change")
    return problems


def _check_navigation(page, width: int) -> list[str]:
    """Below the desktop width, each visible ☰/☷ button opens its drawer and Escape closes it; at the desktop
    width, the visible ☰ hides the sidebar and brings it back."""
    problems = []
    if width >= NARROWEST_DESKTOP:
        for button in page.query_selector_all(".primary-toggle"):
            if not button.is_visible():
                continue
            for want in (False, True):
                button.click()
                try:
                    page.wait_for_function(f"() => ({_SIDEBAR_SHOWN})() === {str(want).lower()}", timeout=2_000)
                except Exception:  # noqa: BLE001 - reported
                    problems.append(f"the ☰ button did not {'show' if want else 'hide'} the sidebar")
                    break
        return problems
    for kind, dialog, name in DRAWERS:
        for button in page.query_selector_all(kind):
            if not button.is_visible():
                continue
            button.click()
            try:
                page.wait_for_function(f"() => document.querySelector('{dialog}').open", timeout=2_000)
            except Exception:  # noqa: BLE001 - reported below
                pass
            shown = page.evaluate(_DIALOG_SHOWN, dialog)
            if shown:
                problems.append(f"the {name} button: its drawer {shown}")
                continue
            page.keyboard.press("Escape")
            try:
                page.wait_for_function(f"() => !document.querySelector('{dialog}').open", timeout=2_000)
            except Exception:  # noqa: BLE001
                problems.append(f"the {name} drawer did not close on Escape")
    return problems


def check_page(context, path: Path, width: int, screenshots: Path | None = None,
               screenshot_all: bool = True) -> list[str]:
    """Problems a reader would meet on one page at one window width (empty when it reads well). A full-page
    screenshot goes into ``screenshots`` (when given) for every page, or with ``screenshot_all=False`` only
    for a page with problems (each screenshot of a long page takes seconds)."""
    problems: list[str] = []
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    page.on("console", lambda message: message.type == "error" and problems.append(
        f"console error: {message.text[:200]}"))
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {str(error)[:200]}"))
    page.goto(path.as_uri(), wait_until="load")
    try:
        page.wait_for_function(_WAIT_FOR_MATH, timeout=15_000)
    except Exception:  # noqa: BLE001 - reported below as untypeset formulas
        pass
    problems += page.evaluate(_MATH_PROBLEMS)
    views = page.eval_on_selector_all('script[type="application/vnd.jupyter.widget-view+json"]', "e => e.length")
    if views:
        try:
            page.wait_for_function(f"() => ({_UNRENDERED_WIDGETS})() === 0", timeout=20_000)
        except Exception:  # noqa: BLE001
            problems.append(f"{page.evaluate(_UNRENDERED_WIDGETS)} of {views} widget views did not render")
    problems += page.evaluate(_IMAGE_PROBLEMS)
    page.wait_for_timeout(200)  # let the layout settle after fonts and images
    problems += [f"at {width} px: {p}" for p in page.evaluate(_OVERFLOW, width >= DESKTOP)]
    problems += [f"at {width} px: {p}" for p in page.evaluate(_HIDDEN_COLUMNS)]
    problems += [f"at {width} px: {p}" for p in page.evaluate(_WRAPPED_ROWS)]
    problems += [f"at {width} px: {p}" for p in page.evaluate(_WRAPPED_NUMBERS)]
    problems += [f"at {width} px: {p}" for p in page.evaluate(_SMALL_TABLE_MATH, SMALLEST_TABLE_MATH_PX)]
    problems += [f"at {width} px: {p}" for p in squashed_figures(page.evaluate(_FIGURES))]
    if width < DESKTOP:
        problems += [f"at {width} px: {p}" for p in phone_figure_problems(page.evaluate(_FIGURES))]
    if width >= DESKTOP:
        problems += page.evaluate(_SIDEBAR_NUMBERS) + page.evaluate(_FOOTER) + page.evaluate(_ALT_TEXT)
        problems += figure_text_problems(page.evaluate(_FIGURES))
    if screenshots is not None and (screenshot_all or problems):
        screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshots / f"{path.stem}-{width}.png"), full_page=True)
    if views and width >= DESKTOP:
        problems += _check_sliders(page)
    problems += [f"at {width} px: {p}" for p in _check_navigation(page, width)]
    page.close()
    return problems


def _is_content_page(html: Path, page: Path) -> bool:
    """The book's own pages: not Sphinx's index/search pages, not the generated source listings
    (``_modules``, plain highlighted code), not a redirect page."""
    parts = page.relative_to(html).parts
    if parts[0] in ("_static", "_sources", "_modules", "_images") or page.name in ("search.html", "genindex.html",
                                                                                    "py-modindex.html"):
        return False
    return 'http-equiv="Refresh"' not in page.read_text(encoding="utf-8", errors="replace")[:2000]


def check_book(html: Path, chromium: str, widths=WIDTHS, screenshots: Path | None = None,
               screenshot_all: bool = True) -> dict[str, list[str]]:
    """``{page: problems}`` for every HTML page of the built book, with all network access refused."""
    from playwright.sync_api import sync_playwright

    pages = sorted(p for p in html.rglob("*.html") if _is_content_page(html, p))
    results: dict[str, list[str]] = {}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        blocked: list[str] = []

        def offline(route):
            if route.request.url.startswith(("file:", "data:", "blob:")):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", offline)
        for path in pages:
            name = path.relative_to(html).as_posix()
            problems = []
            for width in widths:
                blocked.clear()
                problems += check_page(context, path, width, screenshots, screenshot_all)
                problems += [f"at {width} px: requested the network: {url[:120]}" for url in blocked]
            results[name] = list(dict.fromkeys(problems))
        context.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="built book (default _build/html)")
    parser.add_argument("--chromium", default=find_chromium(), help="Chromium binary (default: chromium on the PATH)")
    parser.add_argument("--screenshots", type=Path, help="write a full-page PNG per page and width into this folder")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        parser.error(f"no book at {args.html}; build it first: jupyter-book build .")
    if not args.chromium:
        parser.error("no Chromium found; install one (Debian: apt-get install chromium) or pass --chromium")
    results = check_book(args.html, args.chromium, screenshots=args.screenshots)
    for name, problems in results.items():
        print(f"{name}: " + ("reads well offline at 420 and 1280 px" if not problems else ""))
        for problem in problems:
            print(f"    {problem}")
    return 1 if any(results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
