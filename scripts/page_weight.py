"""How much a reader downloads per page of the built book: the page, its figures, and the shared assets.

For each page of ``_build/html`` (the book's own pages, as the browser check counts them): the HTML (with the
widget state and any PNG embedded in it as a data URL) plus the images it references under ``_images/``, as
a desktop downloads them and as a phone does (a figure's phone version, ``<name>.narrow.png``, where the
build made one: ``book/_ext/narrow_figures.py``);
the shared assets (``_static``: theme, MathJax, the widget manager) are counted once, apart, since a reader's
browser caches them after the first page. Prints a Markdown table, the largest page and the total::

    jupyter-book build . && python scripts/page_weight.py [--html _build/html] [--json weights.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_IMG = re.compile(r'<img[^>]*\ssrc="([^"]+)"')


def page_weights(html: Path) -> dict[str, dict[str, int]]:
    """``{page: {"html": bytes, "images": bytes, "total": bytes, "phone_images": bytes, "phone_total": bytes}}``
    for every content page."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from check_book_in_browser import _is_content_page

    weights = {}
    for page in sorted(p for p in html.rglob("*.html") if _is_content_page(html, p)):
        text = page.read_text(encoding="utf-8", errors="replace")
        images = {(page.parent / src).resolve() for src in _IMG.findall(text) if not src.startswith("data:")}
        image_bytes = sum(p.stat().st_size for p in images if p.is_file())
        phone = {(p.with_suffix(".narrow.png") if p.with_suffix(".narrow.png").is_file() else p) for p in images}
        phone_bytes = sum(p.stat().st_size for p in phone if p.is_file())
        size = page.stat().st_size
        weights[page.relative_to(html).as_posix()] = {"html": size, "images": image_bytes,
                                                       "total": size + image_bytes, "phone_images": phone_bytes,
                                                       "phone_total": size + phone_bytes}
    return weights


def shared_assets(html: Path) -> int:
    """Bytes under ``_static`` (downloaded once, cached across pages)."""
    return sum(p.stat().st_size for p in (html / "_static").rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    weights = page_weights(args.html)
    if not weights:
        parser.error(f"no pages under {args.html}; build the book first: jupyter-book build .")
    mb = 1e6
    print("| page | HTML (MB) | images (MB) | total (MB) | phone images (MB) | phone total (MB) |\n"
          "|---|---|---|---|---|---|")
    for name, w in sorted(weights.items(), key=lambda item: -item[1]["total"]):
        print(f"| {name} | {w['html'] / mb:.2f} | {w['images'] / mb:.2f} | {w['total'] / mb:.2f} |"
              f" {w['phone_images'] / mb:.2f} | {w['phone_total'] / mb:.2f} |")
    largest = max(weights, key=lambda name: weights[name]["total"])
    total = sum(w["total"] for w in weights.values())
    phone_largest = max(weights, key=lambda name: weights[name]["phone_total"])
    phone_total = sum(w["phone_total"] for w in weights.values())
    static = shared_assets(args.html)
    print(f"\nlargest page: {largest}, {weights[largest]['total'] / mb:.2f} MB; all pages: {total / mb:.1f} MB; "
          f"shared assets (_static, cached after the first page): {static / mb:.1f} MB")
    print(f"on a phone: largest page {phone_largest}, {weights[phone_largest]['phone_total'] / mb:.2f} MB; "
          f"all pages: {phone_total / mb:.1f} MB")
    if args.json:
        args.json.write_text(json.dumps({"pages": weights, "shared_assets": static}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
