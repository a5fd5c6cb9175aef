"""gqa_mup_ref.page_figures: the smallest text a figure draws, its PNG for the page, and the PNG's record."""

import io

import matplotlib
import numpy as np
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


# ----------------------------------------------------------------------------- the phone version


@pytest.fixture
def grid_figure():
    """Five panels in a 2 x 3 grid sharing y (inner tick labels hidden, one y label), the legend in the spare
    slot, and a figure legend below: the layout of the book's multi-panel figures."""
    fig, axes = plt.subplots(2, 3, figsize=(6.7, 4.5), sharey=True, layout="constrained")
    for i, ax in enumerate(axes.flat[:5]):
        ax.plot([1, 2, 3], [i, 2, 1], label=f"line {i}")
        ax.set_title(f"panel {i}")
        ax.set_xlabel("step")
    axes[0, 0].set_ylabel("loss")
    axes[1, 0].set_ylabel("loss")
    axes.flat[5].axis("off")
    axes.flat[5].legend(*axes[0, 0].get_legend_handles_labels(), loc="center")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=4)
    yield fig
    plt.close(fig)


def test_the_narrow_figure_stacks_every_panel_in_one_column_and_leaves_the_original(grid_figure):
    from gqa_mup_ref.narrow_figures import NARROW_WIDTH_IN, narrow_figure

    grid_figure.canvas.draw()  # constrained layout places the panels at the first draw
    before = [ax.get_position().bounds for ax in grid_figure.axes]
    narrow = narrow_figure(grid_figure)
    try:
        assert narrow.get_figwidth() == pytest.approx(NARROW_WIDTH_IN)
        narrow.canvas.draw()
        panels = [ax for ax in narrow.axes if ax.axison]
        places = ["top left", "top middle", "top right", "bottom left", "bottom middle"]
        assert [ax.get_title() for ax in panels] == [f"({p}) panel {i}" for i, p in enumerate(places)]
        lefts = {round(ax.get_position().x0, 2) for ax in panels}
        tops = [ax.get_position().y1 for ax in panels]
        assert len(lefts) == 1 and tops == sorted(tops, reverse=True), (lefts, tops)  # one column, top down
        legend_slot = [ax for ax in narrow.axes if not ax.axison]
        assert len(legend_slot) == 1 and legend_slot[0].get_position().y0 > tops[0]  # the key comes first
        assert all(ax.get_ylabel() == "loss" for ax in panels)  # each panel stands alone
        assert all(label.get_visible() for ax in panels for label in ax.get_yticklabels() if label.get_text())
        assert pf.smallest_text_pt(narrow) == pf.smallest_text_pt(grid_figure)  # same font sizes
    finally:
        plt.close(narrow)
    after = [ax.get_position().bounds for ax in grid_figure.axes]
    assert after == [pytest.approx(b, abs=1e-9) for b in before]  # the original is untouched


def test_a_figure_that_does_not_pickle_has_no_narrow_version(figure):
    from gqa_mup_ref.narrow_figures import narrow_figure

    figure.axes[0].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}"))
    assert narrow_figure(figure) is None
    png, _ = pf.page_png(figure)
    assert pf.split_narrow(png)[1] is None and pf.smallest_text_px(png) is not None


def test_the_page_png_carries_its_narrow_png_which_splits_off(grid_figure):
    png, size = pf.page_png(grid_figure)
    wide, narrow = pf.split_narrow(png)
    assert narrow is not None and pf.NARROW_CHUNK not in wide and len(wide) + len(narrow) + 12 == len(png)
    assert Image.open(io.BytesIO(wide)).size == Image.open(io.BytesIO(pf.page_png(grid_figure, narrow=False)[0])).size
    narrow_image = Image.open(io.BytesIO(narrow))
    assert 700 < narrow_image.size[0] <= 2 * 100 * (3.6 + 0.2) + 2  # 3.6 in at 200 dpi, 0.1-in crop margins
    assert narrow_image.size[1] > 2 * narrow_image.size[0]  # five panels, one above the other
    assert pf.smallest_text_px(narrow) == pytest.approx(pf.smallest_text_px(wide))  # both with their record
    assert pf.split_narrow(wide) == (wide, None)
    with pytest.raises(ValueError, match="not a PNG"):
        pf.split_narrow(b"GIF89a" + bytes(20))


def test_a_figure_with_a_colour_bar_under_another_layout_still_stacks():
    from gqa_mup_ref.narrow_figures import narrow_figure

    fig, (left, right) = plt.subplots(1, 2, figsize=(6.7, 3))
    image = left.imshow([[0, 1], [1, 0]])
    fig.colorbar(image, ax=left, label="value")
    right.plot([1, 2, 3])
    fig.tight_layout()
    narrow = narrow_figure(fig)
    try:
        narrow.canvas.draw()
        image_ax, line_ax, bar_ax = (ax.get_position() for ax in narrow.axes)
        assert image_ax.y0 > line_ax.y1  # the two panels stacked
        assert bar_ax.x0 > image_ax.x1 and bar_ax.y0 > line_ax.y1  # the colour bar still beside its image
    finally:
        plt.close(narrow)
        plt.close(fig)


def test_a_legend_inside_a_panel_moves_above_it(figure):
    from gqa_mup_ref.narrow_figures import narrow_figure

    narrow = narrow_figure(figure)
    try:
        narrow.canvas.draw()
        panel, holder = narrow.axes
        assert panel.get_legend() is None and not holder.axison
        assert [t.get_text() for t in holder.get_legend().get_texts()] == ["a line"]
        assert holder.get_position().y0 >= panel.get_position().y1 - 1e-6  # its own row, above the panel
    finally:
        plt.close(narrow)


def test_a_stacked_panel_takes_its_rows_label_and_its_columns_heading_and_nothing_else():
    """Fig. 2.6's pattern (a heading per column on the top row, a y label per row on the left column) and the
    bug it guards against: a label borrowed from another row, or from an axis the panel does not share."""
    from gqa_mup_ref.narrow_figures import narrow_figure

    fig, axes = plt.subplots(2, 2, figsize=(6.7, 4), sharey="row", layout="constrained")
    for (row, column), ax in np.ndenumerate(axes):
        ax.plot([1, 2], [row, column])
    axes[0, 0].set_title("d = 4")
    axes[0, 1].set_title("d = 32")
    axes[0, 0].set_ylabel("norm ratio")
    axes[1, 0].set_ylabel("alignment")
    lone, (left, right) = plt.subplots(1, 2, figsize=(6.7, 3))  # not shared: the right panel is another quantity
    left.set_ylabel("loss")
    narrow, narrow_lone = narrow_figure(fig), narrow_figure(lone)
    try:
        got = [(ax.get_title(), ax.get_ylabel()) for ax in narrow.axes]
        assert got == [("(top left) d = 4", "norm ratio"), ("(top right) d = 32", "norm ratio"),
                       ("(bottom left) d = 4", "alignment"), ("(bottom right) d = 32", "alignment")]
        assert [ax.get_ylabel() for ax in narrow_lone.axes] == ["loss", ""]
    finally:
        for f in (fig, lone, narrow, narrow_lone):
            plt.close(f)


def test_a_colour_bar_beside_its_panels_goes_under_them():
    from gqa_mup_ref.narrow_figures import narrow_figure

    fig, axes = plt.subplots(1, 2, figsize=(6.7, 3), layout="constrained")
    image = axes[0].imshow([[0, 1], [1, 0]])
    axes[1].imshow([[1, 0], [0, 1]])
    fig.colorbar(image, ax=list(axes), label="val loss")
    narrow = narrow_figure(fig)
    try:
        narrow.canvas.draw()
        bars = [ax for ax in narrow.axes if getattr(ax, "_colorbar", None) is not None]
        assert len(bars) == 1 and bars[0].get_xlabel() == "val loss"  # horizontal: its label on x
        panels = [ax.get_position() for ax in narrow.axes if ax not in bars]
        assert bars[0].get_position().y1 < min(p.y0 for p in panels)  # under the stacked panels
        assert bars[0].get_position().width > 0.5 * max(p.width for p in panels)
    finally:
        plt.close(narrow)
        plt.close(fig)


def test_twins_error_bars_own_slot_colour_bars_and_nested_grids_survive_the_stacking():
    """A twin axis gets no title of its own, a lifted legend keeps an error bar's key, a colour bar in a grid
    slot of its own goes under the panels instead of becoming a panel, and a grid nested two levels deep moves
    as a whole (the findings of a review of the first version)."""
    from matplotlib.gridspec import GridSpec

    from gqa_mup_ref.narrow_figures import narrow_figure

    fig = plt.figure(figsize=(6.7, 3), layout="constrained")
    grid = GridSpec(1, 3, figure=fig, width_ratios=[1, 1, 0.05])
    left, right, bar_slot = (fig.add_subplot(grid[0, i]) for i in range(3))
    image = left.imshow([[0, 1], [1, 0]])
    fig.colorbar(image, cax=bar_slot, label="val loss")
    right.errorbar([1, 2], [1, 2], yerr=[0.1, 0.2], fmt="s-", capsize=3, label="mean, 95 % interval")
    right.legend()
    twin = right.twinx()
    twin.plot([1, 2], [3, 4], color="grey")
    outer = plt.figure(figsize=(6.7, 3), layout="constrained")
    inner = GridSpec(1, 2, figure=outer)[0, 1].subgridspec(2, 1)
    deepest = inner[1, 0].subgridspec(1, 2)
    first = outer.add_subplot(GridSpec(1, 2, figure=outer)[0, 0])
    a, b = outer.add_subplot(deepest[0, 0]), outer.add_subplot(deepest[0, 1])
    top = outer.add_subplot(inner[0, 0])
    for ax in (first, a, b, top):
        ax.plot([1, 2])
    narrow, narrow_outer = narrow_figure(fig), narrow_figure(outer)
    try:
        narrow.canvas.draw()
        titles = [ax.get_title() for ax in narrow.axes if ax.get_title()]
        assert titles == ["(left)", "(right)"], titles  # none for the twin or the colour bar
        bars = [ax for ax in narrow.axes if getattr(ax, "_colorbar", None) is not None]
        assert len(bars) == 1 and bars[0].get_xlabel() == "val loss"  # horizontal, not a full-width panel
        (key,) = [ax.get_legend() for ax in narrow.axes if ax.get_legend() is not None]
        assert type(key.legend_handles[0]).__name__ == "LineCollection"  # drawn as an error bar, not a line
        narrow_outer.canvas.draw()
        positions = {id(ax): ax.get_position() for ax in narrow_outer.axes}
        pa, pb = positions[id(narrow_outer.axes[1])], positions[id(narrow_outer.axes[2])]
        assert pb.x0 > pa.x1 - 1e-6 and abs(pa.y0 - pb.y0) < 1e-6  # the deepest grid kept its two columns
        first_box = positions[id(narrow_outer.axes[0])]
        assert first_box.y0 > max(p.y1 for k, p in positions.items() if k != id(narrow_outer.axes[0])) - 1e-6
    finally:
        for f in (fig, outer, narrow, narrow_outer):
            plt.close(f)
