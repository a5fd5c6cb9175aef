"""Check that the book's sliders work on the static HTML pages, with no Python kernel.

A manual check for maintainers (not part of the test suite: it needs a browser). It serves the built
book's pages with the widget JavaScript taken from local npm packages instead of the public CDNs,
opens each page that has widgets in headless Chromium, moves every slider one step, and checks that
the visible view changes and that the slider's readout follows.

Needs: a built book (``jupyter-book build .``), Debian's ``chromium``, ``npm`` and the Python package
``playwright`` (no browser download: the script uses ``/usr/bin/chromium``)::

    python scripts/check_static_widgets.py [--chromium /usr/bin/chromium]

Exit status 0 when every slider switches its view, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML_MANAGER = "@jupyter-widgets/html-manager"
REQUIREJS = "requirejs@2.3.4"


@functools.lru_cache(maxsize=None)
def _npm_package(spec: str, into: Path) -> Path:
    """Unpack the npm package ``spec`` into ``into/<name>`` and return that folder."""
    into.mkdir(parents=True, exist_ok=True)
    tarball = subprocess.run(["npm", "pack", spec, "--silent"], cwd=into, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
    target = into / tarball.removesuffix(".tgz")
    with tarfile.open(into / tarball) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


def localise(html: str, assets: Path) -> tuple[str, bool]:
    """Point the page's widget scripts at local copies; ``(html, page has widgets)``."""
    match = re.search(re.escape(HTML_MANAGER) + r"@([\d.]+)/dist/embed-amd\.js", html)
    if match is None:
        return html, False
    manager = _npm_package(f"{HTML_MANAGER}@{match.group(1)}", assets / "manager")
    requirejs = _npm_package(REQUIREJS, assets / "requirejs")
    html = re.sub(r'src="https://[^"]*embed-amd\.js"', f'src="file://{manager}/dist/embed-amd.js"', html)
    html = re.sub(r'src="https://[^"]*require(\.min)?\.js"', f'src="file://{requirejs}/require.js"', html)
    return re.sub(r' integrity="[^"]*"', "", html), True


async def _check_page(browser, url: str) -> list[str]:
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    await page.goto(url)
    await page.wait_for_selector(".widget-hslider", timeout=30_000)
    visible_views = ("els => els.filter(e => e.offsetParent !== null)"
                     ".map(e => e.src || e.innerHTML.length)")
    problems = []
    handles = await page.query_selector_all(".widget-hslider .noUi-handle")
    for index, handle in enumerate(handles):
        before = await page.eval_on_selector_all(".widget-image, .widget-html", visible_views)
        readouts = await page.eval_on_selector_all(".widget-readout", "els => els.map(e => e.textContent)")
        await handle.focus()
        for key in ("ArrowRight", "ArrowLeft"):  # one of them moves, unless at the end
            await page.keyboard.press(key)
            await page.wait_for_timeout(300)
            after = await page.eval_on_selector_all(".widget-image, .widget-html", visible_views)
            moved = await page.eval_on_selector_all(".widget-readout", "els => els.map(e => e.textContent)")
            if moved != readouts:
                break
        if moved == readouts:
            problems.append(f"slider {index}: its readout did not move")
        elif after == before:
            problems.append(f"slider {index}: readout {readouts} -> {moved} but the view did not change")
    await page.close()
    return problems


async def _check(pages: list[Path], chromium: str) -> int:
    from playwright.async_api import async_playwright

    failures = 0
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                  "--disable-background-networking"],
        )
        for page in pages:
            problems = await _check_page(browser, page.as_uri())
            print(f"{page.name}: " + ("every slider switches its view" if not problems else "; ".join(problems)))
            failures += bool(problems)
        await browser.close()
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html",
                        help="built book (default _build/html)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    pages = sorted(args.html.glob("book/*.html"))
    if not pages:
        parser.error(f"no pages under {args.html}/book; build the book first: jupyter-book build .")
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(args.html, site)
        localised = []
        for page in sorted(site.glob("book/*.html")):
            html, has_widgets = localise(page.read_text(encoding="utf-8"), Path(tmp) / "assets")
            if has_widgets:
                page.write_text(html, encoding="utf-8")
                localised.append(page)
        print(f"{len(localised)} page(s) with widgets")
        return 1 if asyncio.run(_check(localised, args.chromium)) else 0


if __name__ == "__main__":
    sys.exit(main())
