"""Controls that work twice: live in Jupyter, and in the static HTML book with no kernel.

Every view is computed in Python ahead of time and stacked (``ipywidgets.Stack``); a slider per axis
is linked to the stacks in the browser (``jslink``), so moving it needs no Python callback. The
notebook stores the widget state, the book embeds it, and the slider works on a static page.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Sequence

import ipywidgets as widgets

from .analysis import INLINE_MATH

__all__ = ["figure_widget", "precomputed_explorer", "math_html"]


def figure_widget(fig, alt: str | None = None) -> widgets.Image | widgets.HTML:
    """A matplotlib figure as a PNG widget (the figure is closed), drawn as the book's figures are.

    The PNG is :func:`gqa_mup_ref.page_figures.page_png`'s: twice the pixels of its display width (100 CSS px
    per inch of figure), with the record of its smallest text that the browser check reads; so the figure's
    size in inches sets its size on the page. ``alt`` says what the figure shows, for screen readers and for
    readers whose image does not load. ipywidgets' ``Image`` renders an ``<img>`` with no alt attribute, so
    with ``alt`` the PNG is an ``<img alt=...>`` (as a data URL) inside an ``HTML`` widget, which shows the
    same on a static page; without it, an ``Image`` widget.
    """
    import matplotlib.pyplot as plt

    from .page_figures import page_png

    png, size = page_png(fig, narrow=False)  # no phone version: a slider's views live in the page's widget
    plt.close(fig)                            # state, and a second PNG each would double the page's weight
    if alt is None:
        return widgets.Image(value=png, format="png", width=str(size["width"]))
    if not alt.strip():
        raise ValueError("alt is empty; say in a sentence what the figure shows, or leave alt=None")
    data = base64.b64encode(png).decode("ascii")
    return widgets.HTML(f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}" '
                        f'width="{size["width"]}" style="max-width: 100%; height: auto">')


def precomputed_explorer(
    axes: dict[str, Sequence], render: Callable[..., widgets.Widget], initial: dict | None = None
) -> widgets.VBox:
    """One slider per axis over every combination of ``axes`` values, showing ``render(**values)``.

    ``render`` is called once per combination (``∏ len(values)`` views), so keep grids small.
    Nested stacks make several sliders work without a kernel: the first axis picks an outer stack,
    the next axis is linked to every inner stack, and so on.
    """
    if not axes or any(len(values) == 0 for values in axes.values()):
        raise ValueError(f"every axis needs at least one value, got {dict(axes)}")
    names = list(axes)
    initial = initial or {}
    sliders = {
        name: widgets.SelectionSlider(
            options=[(str(v), v) for v in values],
            value=initial.get(name, values[0]),
            description=name,
            continuous_update=True,
            style={"description_width": "initial"},
        )
        for name, values in axes.items()
    }

    def stack(level: int, fixed: dict) -> widgets.Widget:
        name = names[level]
        if level == len(names) - 1:
            children = [render(**fixed, **{name: v}) for v in axes[name]]
        else:
            children = [stack(level + 1, fixed | {name: v}) for v in axes[name]]
        node = widgets.Stack(children=children, selected_index=sliders[name].index)
        widgets.jslink((sliders[name], "index"), (node, "selected_index"))
        return node

    views = stack(0, {})
    return widgets.VBox([widgets.HBox(list(sliders.values())), views])


_MATH_SYMBOLS = {
    "oplus": "⊕", "div": "÷", "|": "‖", "lVert": "‖", "rVert": "‖", "Delta": "Δ", "nabla": "∇",
    "langle": "⟨", "rangle": "⟩", "cdot": "·", "times": "×", "propto": "∝", "sqrt": "√", "log": "log",
    "sigma": "σ", "eta": "η", "mu": "μ", "rho": "ρ", ",": "\u2009", " ": " ",
}
"""The TeX commands :func:`math_html` knows, and the character each becomes."""


def math_html(text: str) -> str:
    """``text`` with its inline math (``$W_Q$``, ``$K_\\oplus$``, ``$H_{kv}$``, ``$2^{-6}$``) as HTML that needs no
    MathJax: ``"loss share, $W_K \\div W_Q$"`` becomes ``"loss share, W<sub>K</sub> ÷ W<sub>Q</sub>"``.

    For the HTML of widget views: the book's widgets are drawn after MathJax has typeset the page, so a
    ``$…$`` there would show as typed, while the same label in a matplotlib figure is mathtext. Inside math,
    ``_x`` and ``_{…}`` become ``<sub>``, ``^x`` and ``^{…}`` ``<sup>``, ``\\text{…}`` its text and the commands of
    ``_MATH_SYMBOLS`` their characters, ``-`` a minus sign; spaces are kept. Everything else is HTML-escaped.
    """
    parts = INLINE_MATH.split(text)  # math where MyST would see math (analysis.INLINE_MATH)
    return "".join(_tex_html(part[1:-1], text) if i % 2 else html.escape(part, quote=False)
                   for i, part in enumerate(parts))


def _tex_html(tex: str, text: str) -> str:
    out, i = [], 0
    while i < len(tex):
        char = tex[i]
        if char in "_^":
            group, i = _tex_group(tex, i + 1, text)
            tag = "sub" if char == "_" else "sup"
            out.append(f"<{tag}>{_tex_html(group, text)}</{tag}>")
        elif char == "\\":
            name = re.match(r"[A-Za-z]+|.", tex[i + 1:])[0]
            i += 1 + len(name)
            if name == "text":
                group, i = _tex_group(tex, i, text)
                out.append(html.escape(group, quote=False))
            elif name in _MATH_SYMBOLS:
                out.append(_MATH_SYMBOLS[name])
            else:
                raise ValueError(f"math_html does not know \\{name} (in {text!r}); write the character itself, "
                                 f"or add the command to _MATH_SYMBOLS")
        else:
            out.append("" if char in "{}" else "−" if char == "-" else html.escape(char, quote=False))
            i += 1
    return "".join(out)


def _tex_group(tex: str, i: int, text: str) -> tuple[str, int]:
    """The argument at ``tex[i]`` (a ``{…}`` group, a command or one character) and the index after it."""
    if i >= len(tex):
        raise ValueError(f"a _ or ^ without an argument in {text!r}")
    if tex[i] == "{":
        depth = 0
        for j in range(i, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return tex[i + 1:j], j + 1
        raise ValueError(f"unbalanced braces in {text!r}")
    if tex[i] == "\\":
        name = re.match(r"[A-Za-z]+|.", tex[i + 1:])[0]
        end = i + 1 + len(name)
        if name == "text":  # \text takes its {…} with it: H_\text{kv}
            end = _tex_group(tex, end, text)[1]
        return tex[i:end], end
    return tex[i], i + 1
