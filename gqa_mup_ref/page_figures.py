"""Figures as the book's pages show them: PNGs at twice the pixels, with their display size and smallest text.

A figure on a page is a PNG drawn at ``scale × CSS_PX_PER_INCH`` dots per inch and displayed at
``CSS_PX_PER_INCH`` CSS pixels per inch of figure (its ``width``/``height`` metadata), so it is sharp on
high-density screens and its text has the size the figure asks for. Each PNG records the height of its
smallest text in image pixels, in a text chunk named :data:`SMALLEST_TEXT_KEY`:

.. math::

   h_\\text{image} = s_\\text{pt} \\cdot \\frac{\\text{dpi}}{72},
   \\qquad
   h_\\text{page} = h_\\text{image} \\cdot \\frac{w_\\text{rendered}}{w_\\text{natural}},

where :math:`s_\\text{pt}` is the smallest font size drawn (tick labels, legends, titles, annotations; the
base size of a formula, not its superscripts). The browser check reads :math:`h_\\text{image}` from the PNG
and the two widths from the page, and requires :math:`h_\\text{page}` of at least 9 CSS px at the desktop
width. A figure wider than the text column (672 CSS px at 1280 px, about 6.7 in) is scaled down, and its
text with it.

In a chapter, :func:`use_page_png` makes every displayed or glued matplotlib figure such a PNG.

For phones, the PNG also carries the figure redrawn with its panels stacked in one column
(:func:`gqa_mup_ref.narrow_figures.narrow_figure`), as a PNG of its own (with its own record) inside a private
chunk named :data:`NARROW_CHUNK`. The notebook thus keeps one image per figure; the book's build
(``book/_ext/narrow_figures.py``) takes the narrow PNG out of the chunk (:func:`split_narrow`) into a file
of its own, which the page shows on narrow screens.
"""

from __future__ import annotations

import io
import struct
import zlib

__all__ = [
    "CSS_PX_PER_INCH",
    "SMALLEST_TEXT_KEY",
    "smallest_text_pt",
    "page_png",
    "smallest_text_px",
    "use_page_png",
    "NARROW_CHUNK",
    "split_narrow",
]

CSS_PX_PER_INCH = 100
"""CSS pixels per inch of figure on the page (matplotlib's default 100 dpi, as figures were shown before)."""

SMALLEST_TEXT_KEY = "gqa-mup smallest text px"
"""The PNG text chunk holding the height of the figure's smallest text, in image pixels."""

NARROW_CHUNK = b"naRw"
"""The private PNG chunk (ancillary, private, safe to copy) that holds the figure's narrow PNG for phones."""


def smallest_text_pt(fig) -> float:
    """The smallest font size, in points, of the text the figure draws (``inf`` if it draws none).

    The figure is drawn once into a fresh Agg renderer whose ``draw_text`` records each font size, so only
    text that is drawn counts (not a tick label outside the axes' view, not an empty string).
    """
    from matplotlib.backends.backend_agg import RendererAgg

    renderer = RendererAgg(max(int(fig.bbox.width), 1), max(int(fig.bbox.height), 1), fig.dpi)
    sizes: list[float] = []
    draw_text = renderer.draw_text

    def recording_draw_text(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if str(s).strip():
            sizes.append(prop.get_size_in_points())
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = recording_draw_text
    fig.draw(renderer)
    return min(sizes, default=float("inf"))


def page_png(fig, scale: int = 2, narrow: bool = True) -> tuple[bytes, dict]:
    """The figure as a PNG at ``scale × CSS_PX_PER_INCH`` dpi (tight bounding box) and its display size.

    The PNG has a 256-colour palette (median cut, no dithering): a third of the bytes of matplotlib's RGBA
    PNG for the book's line plots, with no visible difference, which keeps pages light on a phone.

    Returns ``(png, {"width": w})`` with ``w`` in CSS pixels (the image's pixels / ``scale``), the pair
    IPython's display machinery accepts from a formatter. No height: the book writes the metadata into the
    image's style, and a fixed height would squash the figure where the page narrows it (on a phone). The
    PNG's :data:`SMALLEST_TEXT_KEY` chunk holds ``smallest_text_pt(fig) · dpi / 72``. With ``narrow``, the
    :data:`NARROW_CHUNK` chunk holds the same for :func:`~gqa_mup_ref.narrow_figures.narrow_figure`'s copy
    (none when the figure cannot be copied).
    """
    from PIL import Image, PngImagePlugin

    if scale < 1:
        raise ValueError(f"scale={scale!r}: the PNG needs at least one image pixel per CSS pixel (scale >= 1)")
    dpi = CSS_PX_PER_INCH * scale
    smallest = smallest_text_pt(fig)
    record = "none" if smallest == float("inf") else f"{smallest * dpi / 72:.2f}"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    info = PngImagePlugin.PngInfo()
    info.add_text(SMALLEST_TEXT_KEY, record)
    out = io.BytesIO()
    palette.save(out, format="PNG", pnginfo=info, optimize=True)
    png = out.getvalue()
    if narrow:
        png = _with_narrow(png, fig, scale)
    return png, {"width": round(image.width / scale)}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _chunks(png: bytes):
    """``(kind, body, start, end)`` of each chunk of a PNG, in order; ``ValueError`` if it is not a PNG."""
    png = bytes(png)  # an ipywidgets Image holds a memoryview
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG: the first 8 bytes are not the PNG signature")
    position = 8
    while position + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        end = position + 12 + length
        yield kind, png[position + 8:position + 8 + length], position, end
        position = end
        if kind == b"IEND":
            break


def _with_narrow(png: bytes, fig, scale: int) -> bytes:
    import matplotlib.pyplot as plt

    from .narrow_figures import narrow_figure

    narrow = narrow_figure(fig)
    if narrow is None:
        return png
    try:
        narrow_bytes, _ = page_png(narrow, scale, narrow=False)
    finally:
        plt.close(narrow)
    end = next(start for kind, _, start, _ in _chunks(png) if kind == b"IEND")
    return png[:end] + _chunk(NARROW_CHUNK, narrow_bytes) + png[end:]


def split_narrow(png: bytes) -> tuple[bytes, bytes | None]:
    """``(the PNG without its narrow chunk, the narrow PNG or None)``: what the book's build serves to a
    desktop and to a phone."""
    png = bytes(png)
    for kind, body, start, end in _chunks(png):
        if kind == NARROW_CHUNK:
            return png[:start] + png[end:], body
    return png, None


def smallest_text_px(png: bytes) -> float | None:
    """The :data:`SMALLEST_TEXT_KEY` record of a PNG (image pixels), ``inf`` for a figure without text,
    ``None`` if the PNG has no record (it was not made by :func:`page_png`)."""
    for kind, body, _, _ in _chunks(png):
        if kind == b"tEXt":
            key, _, value = body.partition(b"\x00")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\x00")
            value = zlib.decompress(rest[1:])
        else:
            continue
        if key.decode("latin-1") == SMALLEST_TEXT_KEY:
            text = value.decode("latin-1")
            return float("inf") if text == "none" else float(text)
    return None


def use_page_png(shell=None) -> bool:
    """Make the IPython shell show (and ``myst_nb.glue``) every matplotlib figure as :func:`page_png`'s PNG.

    Returns ``False``, doing nothing, outside IPython. The inline backend registers its own PNG formatter when
    matplotlib first resolves its backend, which can be after this call; so the backend is resolved first
    (a figure is made and closed, nothing is shown) and this formatter replaces the inline one.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close(plt.figure())
    shell.display_formatter.formatters["image/png"].for_type(Figure, page_png)
    return True
