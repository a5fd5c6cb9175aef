"""Precomputed explorers: one view per combination, every stack linked to its slider in the browser."""

import base64
import struct
from html.parser import HTMLParser

import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from gqa_mup_ref.page_figures import smallest_text_px, split_narrow  # noqa: E402
from gqa_mup_ref.widgets import figure_widget, precomputed_explorer  # noqa: E402


def test_one_view_per_combination_in_nested_stacks():
    calls = []

    def render(width, r):
        calls.append((width, r))
        return widgets.HTML(f"{width}/{r}")

    explorer = precomputed_explorer({"width": [64, 128], "r": [1, 2, 4]}, render, initial={"r": 2})
    sliders, outer = explorer.children
    assert sorted(calls) == [(w, r) for w in (64, 128) for r in (1, 2, 4)]
    assert len(outer.children) == 2 and all(len(inner.children) == 3 for inner in outer.children)
    assert outer.children[1].children[2].value == "128/4"
    width_slider, r_slider = sliders.children
    assert r_slider.value == 2 and all(inner.selected_index == 1 for inner in outer.children)


def test_sliders_are_linked_in_the_browser_not_by_python_callbacks(monkeypatch):
    links = []
    original = widgets.jslink
    monkeypatch.setattr(widgets, "jslink", lambda a, b: links.append((a, b)) or original(a, b))
    explorer = precomputed_explorer({"a": [1, 2], "b": [3, 4]}, lambda a, b: widgets.HTML(f"{a}{b}"))
    (slider_a, slider_b), outer = explorer.children[0].children, explorer.children[1]
    linked = {(id(src), name, id(dst), trait) for (src, name), (dst, trait) in links}
    assert (id(slider_a), "index", id(outer), "selected_index") in linked
    for inner in outer.children:
        assert (id(slider_b), "index", id(inner), "selected_index") in linked


def test_empty_axis_is_refused():
    with pytest.raises(ValueError, match="every axis needs at least one value"):
        precomputed_explorer({"a": []}, lambda a: widgets.HTML())


def test_figure_becomes_a_png_image_widget():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    image = figure_widget(fig)
    assert image.format == "png" and image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.number not in plt.get_fignums()  # the figure was closed
    assert smallest_text_px(image.value) > 0  # the browser check's record
    assert split_narrow(image.value)[1] is None  # no phone version inside a slider's state (page weight)
    assert int(image.width) == pytest.approx(fig.get_figwidth() * 100, rel=0.15)  # 100 CSS px per inch


def _img_attributes(markup):
    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                found.append(dict(attrs))

    Parser().feed(markup)
    return found


def test_alt_text_is_the_img_alt_attribute_of_the_same_png():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    alt = 'Loss falls with width; the "best" rate stays flat & <unchanged>.'
    view = figure_widget(fig, alt=alt)
    (img,) = _img_attributes(view.value)
    assert img["alt"] == alt  # quotes and angle brackets survive escaping
    header, data = img["src"].split(",", 1)
    assert header == "data:image/png;base64"
    png = base64.b64decode(data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and smallest_text_px(png) > 0
    (image_width,) = struct.unpack(">I", png[16:20])  # IHDR: image pixels, twice the display width
    assert abs(2 * int(img["width"]) - image_width) <= 1
    assert fig.number not in plt.get_fignums()


def test_empty_alt_text_is_refused():
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="alt is empty"):
        figure_widget(fig, alt="  ")


def test_math_html_writes_inline_math_as_html_subscripts_and_characters():
    from gqa_mup_ref.widgets import math_html

    assert math_html(r"loss share, $W_K \div W_Q$") == "loss share, W<sub>K</sub> ÷ W<sub>Q</sub>"
    assert math_html(r"$\|K_\oplus\|$ & $H_{kv}$") == "‖K<sub>⊕</sub>‖ &amp; H<sub>kv</sub>"
    assert math_html(r"at $2^{-6}$, $f_{\text{sqrt-r}}(r)$") == "at 2<sup>−6</sup>, f<sub>sqrt-r</sub>(r)"
    assert math_html("no math, a<b") == "no math, a&lt;b"
    with pytest.raises(ValueError, match=r"\\frac"):
        math_html(r"$\frac{1}{2}$")


def test_math_html_reads_math_where_myst_would():
    """``\\text`` right after ``_`` keeps its argument; dollar amounts are not math (analysis.INLINE_MATH)."""
    from gqa_mup_ref.widgets import math_html

    assert math_html(r"$H_\text{kv}$ heads") == "H<sub>kv</sub> heads"
    assert math_html("costs $5 and $10") == "costs $5 and $10"
