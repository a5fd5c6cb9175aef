"""Sphinx extension: a chapter's figures with their panels stacked in one column on a phone.

Each figure of a chapter is a PNG made by ``gqa_mup_ref.page_figures.page_png``, which carries, in a private
chunk, the same figure redrawn for a phone (``gqa_mup_ref.narrow_figures``: panels one above the other,
3.6 in wide, the same font sizes). After the HTML is written (``build-finished``), this extension

1. splits every such PNG in ``_images/``: the desktop PNG without the chunk (so a desktop downloads no more
   than before) and ``<name>.narrow.png``;
2. wraps each ``<img>`` of those PNGs in a ``<picture>`` whose ``<source>`` serves the narrow PNG (at 2×
   density) to screens up to ``NARROW_MEDIA_MAX_PX`` wide::

       <picture><source media="(max-width: 719px)" srcset="../_images/<name>.narrow.png 2x"><img ...></picture>

   ``book.css`` lets the narrow image keep its own width there (the ``<img>``'s style holds the desktop
   width). A browser without ``<picture>`` shows the desktop PNG, as before.

Figures inside slider views (widget state, not files) keep one PNG. The browser check
(``scripts/check_book_in_browser.py``) requires, at the phone width, that every chapter figure shows its
narrow PNG with its smallest text at 9 CSS px or more.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
_IMG = re.compile(r'<img\b[^>]*?\bsrc="(?P<dir>[^"]*?_images/)(?P<name>[^"/]+)\.png"[^>]*>')


def split_images(images: Path) -> set[str]:
    """Split each PNG in ``images`` that carries a narrow figure; the names (without ``.png``) split."""
    sys.path.insert(0, str(_ROOT))
    from gqa_mup_ref.page_figures import split_narrow

    names = set()
    for path in sorted(images.glob("*.png")):
        if path.name.endswith(".narrow.png"):
            continue
        wide, narrow = split_narrow(path.read_bytes())
        if narrow is None:
            if path.with_suffix(".narrow.png").is_file():
                names.add(path.stem)  # split by an earlier build
            continue
        path.with_suffix(".narrow.png").write_bytes(narrow)
        path.write_bytes(wide)
        names.add(path.stem)
    return names


def wrap_images(html: str, names: set[str], media_max_px: int) -> tuple[str, int]:
    """``html`` with each ``<img>`` of a split PNG wrapped in a ``<picture>``; and how many were wrapped."""
    count = 0

    def wrap(match: re.Match) -> str:
        nonlocal count
        if match.group("name") not in names:
            return match.group(0)
        count += 1
        narrow = f'{match.group("dir")}{match.group("name")}.narrow.png'
        return (f'<picture class="narrow-figure"><source media="(max-width: {media_max_px}px)" '
                f'srcset="{narrow} 2x">{match.group(0)}</picture>')

    html = re.sub(r'<picture class="narrow-figure">(<source[^>]*>)(<img\b[^>]*>)</picture>', r"\2", html)  # idempotent
    return _IMG.sub(wrap, html), count


def _build_finished(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    sys.path.insert(0, str(_ROOT))
    from gqa_mup_ref.narrow_figures import NARROW_MEDIA_MAX_PX

    out = Path(app.outdir)
    names = split_images(out / "_images")
    if not names:
        return
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new, count = wrap_images(text, names, NARROW_MEDIA_MAX_PX)
        if count:
            page.write_text(new, encoding="utf-8")


def setup(app):
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
