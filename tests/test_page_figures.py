"""gqa_mup_ref.page_figures: the smallest text a figure draws, its PNG for the page, and the PNG's record."""

import io

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from gqa_mup_ref import page_figures as pf  # noqa: E402


@pytest.fixture
def figure():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([1, 2, 3], label="a line")
    ax.set_xlabel("step", fontsize=11)
    ax.tick_params(labelsize=8.5)
    ax.legend(fontsize=9)
    yield fig
    plt.close(fig)


def test_smallest_text_is_the_smallest_size_drawn(figure):
    assert pf.smallest_text_pt(figure) == 8.5
    figure.axes[0].set_title("tiny", fontsize=6)
    assert pf.smallest_text_pt(figure) == 6


def test_text_that_is_not_drawn_does_not_count(figure):
    figure.axes[0].text(0.5, 0.5, "hidden", fontsize=3, visible=False)
    figure.axes[0].text(0.5, 0.5, "   ", fontsize=4)
    assert pf.smallest_text_pt(figure) == 8.5
    empty, _ = plt.subplots()
    empty.axes[0].set_axis_off()
    assert pf.smallest_text_pt(empty) == float("inf")
    plt.close(empty)


def test_page_png_is_twice_the_display_size_and_records_its_smallest_text(figure):
    png, size = pf.page_png(figure)
    image = Image.open(io.BytesIO(png))
    assert abs(image.size[0] - 2 * size["width"]) <= 1 and set(size) == {"width"}  # no height: see page_png
    assert 300 < size["width"] <= 400  # a 4-inch figure, tight-cropped, at 100 CSS px per inch
    assert float(image.text[pf.SMALLEST_TEXT_KEY]) == pytest.approx(8.5 * 200 / 72, abs=0.01)
    assert pf.smallest_text_px(png) == pytest.approx(8.5 * 200 / 72, abs=0.01)
    with pytest.raises(ValueError, match="scale"):
        pf.page_png(figure, scale=0)


def test_a_png_without_the_record_reads_none(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert pf.smallest_text_px(buffer.getvalue()) is None
    with pytest.raises(ValueError, match="not a PNG"):
        pf.smallest_text_px(b"GIF89a" + bytes(20))


def test_use_page_png_registers_the_formatter_for_figures(figure):
    class Formatter:
        def __init__(self):
            self.registered = {}

        def for_type(self, kind, function):
            self.registered[kind] = function

    class Shell:
        class display_formatter:  # noqa: N801 - IPython's attribute name
            formatters = {"image/png": Formatter()}

    shell = Shell()
    assert pf.use_page_png(shell)
    (function,) = shell.display_formatter.formatters["image/png"].registered.values()
    png, size = function(figure)
    assert pf.smallest_text_px(png) > 0 and set(size) == {"width"}
    assert pf.use_page_png() is False  # not in IPython: nothing to do
