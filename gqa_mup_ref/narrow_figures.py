"""A figure redrawn for a phone: its panels stacked in one column, at the width of a phone's text column.

A chapter's figures are drawn for the desktop text column (6.7 in, 672 CSS px). On a phone the page shows
them at about 0.55 of that, and their text at about 6 px. :func:`narrow_figure` makes a copy of a figure
whose panels sit one above the other at :data:`NARROW_WIDTH_IN` inches, the same font sizes, so that
drawn at ``CSS_PX_PER_INCH`` (:mod:`gqa_mup_ref.page_figures`) on a phone its text keeps its size:

.. math::

   h_\\text{phone} = s_\\text{pt} \\cdot \\frac{100}{72}\\ \\text{CSS px}
   \\quad\\text{(not } s_\\text{pt} \\cdot \\tfrac{100}{72} \\cdot \\tfrac{w_\\text{phone}}{672}\\text{)}.

The copy keeps everything drawn (data, labels, legends, colour bars); only the layout changes:

* each grid slot (a panel, with its twins) becomes one row, in reading order (row by row, left to right);
  an empty spare slot is dropped, and a slot that only holds a legend goes first, at the legend's height
  (a reader scrolling a phone meets the key before the panels);
* a panel keeps its shape as far as the narrower width allows (its height scaled by
  :math:`\\sqrt{w_\\text{new}/w_\\text{old}}`, between 1.5 and 3.2 inches);
* tick labels that shared axes had hidden are shown again, and a panel that shared its y axis with a
  labelled one gets that label (each panel now stands alone);
* a legend inside a panel moves to a row of its own just above the panel (on the narrower panel it would
  cover the data);
* figure legends go to the top too, outside the panels, in at most two columns (under matplotlib's
  constrained layout, which the copy switches to; a figure whose colour bar was made under another layout
  keeps that layout, re-run for the new shape).

:mod:`gqa_mup_ref.page_figures` stores the narrow PNG inside the page's PNG, and the book's build
(``book/_ext/narrow_figures.py``) serves it to screens narrower than :data:`NARROW_MEDIA_MAX_PX`.
"""

from __future__ import annotations

import math
import pickle

__all__ = ["NARROW_WIDTH_IN", "NARROW_MEDIA_MAX_PX", "narrow_figure"]

NARROW_WIDTH_IN = 3.6
"""Width of the narrow figure in inches: with the 0.1-in margins of the page PNG's tight crop, 380 CSS px,
about a 420-px phone's text column (372 px); narrower phones shrink it a little."""

NARROW_MEDIA_MAX_PX = 719
"""Screens up to this width (CSS px) get the narrow figure: below it the desktop figure would be shrunk."""

_MIN_PANEL_IN, _MAX_PANEL_IN = 1.5, 3.2


def _slots(fig):
    """The figure's grid slots in reading order (row by row, left to right): the axes in each top-level slot
    (a panel, its twins, and a colour bar that ``fig.colorbar`` nested in the slot)."""
    slots: dict[tuple, list] = {}
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        if spec is None:
            continue  # an inset or a colour bar of the constrained layout: it follows its parent
        top = spec.get_topmost_subplotspec()
        slots.setdefault((top.rowspan.start, top.colspan.start), []).append(ax)
    return [slots[key] for key in sorted(slots)]


def _move(ax, slot) -> None:
    """Put ``ax`` in the new ``slot``; an axes in a grid nested in its old slot keeps its place in that grid,
    which moves as a whole."""
    from matplotlib.gridspec import GridSpecFromSubplotSpec

    spec = ax.get_subplotspec()
    grid = spec.get_gridspec()
    if not isinstance(grid, GridSpecFromSubplotSpec):
        ax.set_subplotspec(slot)
        return
    while isinstance(grid.get_topmost_subplotspec().get_gridspec(), GridSpecFromSubplotSpec) and \
            isinstance(grid._subplot_spec.get_gridspec(), GridSpecFromSubplotSpec):
        grid = grid._subplot_spec.get_gridspec()
    grid._subplot_spec = slot  # matplotlib has no public setter for a nested grid's parent
    ax.set_subplotspec(spec)


def _empty(ax) -> bool:
    return not ax.axison and ax.get_legend() is None and not any(
        (ax.texts, ax.patches, ax.lines, ax.collections, ax.images))


def _legend_only(ax) -> bool:
    return not ax.axison and ax.get_legend() is not None and not any((ax.lines, ax.patches, ax.collections))


def _stand_alone(ax, axes) -> None:
    """Show the tick labels shared axes hid, and borrow a shared axis' label when this panel has none."""
    if not ax.axison:
        return
    ax.tick_params(labelbottom=True)
    if ax.yaxis.get_label_position() == "left":
        ax.tick_params(labelleft=True)
    for name in ("x", "y"):
        if getattr(ax, f"get_{name}label")():
            continue
        shared = getattr(ax, f"get_shared_{name}_axes")()
        for other in axes:
            if other is not ax and shared.joined(ax, other) and getattr(other, f"get_{name}label")():
                getattr(ax, f"set_{name}label")(getattr(other, f"get_{name}label")())
                break


def _restack_figure_legends(fig, width_px: float, renderer) -> float:
    """Figure legends above the panels, at most two columns (one if two are too wide); their height."""
    height = 0.0
    for legend in list(fig.legends):
        handles, texts = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        title = legend.get_title().get_text()
        size = legend.get_texts()[0].get_fontsize() if texts else None
        legend.remove()
        loc = "outside upper center"
        for ncols in (min(2, len(texts)), 1):
            new = fig.legend(handles, texts, loc=loc, ncols=max(ncols, 1), fontsize=size, title=title or None,
                             frameon=False)
            if new.get_window_extent(renderer).width <= width_px or ncols == 1:
                break
            new.remove()
        height += new.get_window_extent(renderer).height / fig.dpi + 0.1
    return height


def _lift_legend(legend, width_px: float, renderer, dpi: float) -> tuple[dict, float]:
    """Take a legend out of its panel (on a narrower panel it would cover the data): the arguments that draw
    it again in a row of its own above the panel, in one column if its columns are too wide; its height."""
    box = legend.get_window_extent(renderer)
    texts = legend.get_texts()
    ncols = legend._ncols if box.width <= width_px else 1
    rows_now = -(-len(texts) // max(legend._ncols, 1))
    rows_then = -(-len(texts) // ncols)
    arguments = {"handles": legend.legend_handles, "labels": [t.get_text() for t in texts], "ncols": ncols,
                 "title": legend.get_title().get_text() or None,
                 "fontsize": texts[0].get_fontsize() if texts else None}
    legend.remove()
    return arguments, box.height / dpi * rows_then / max(rows_now, 1) + 0.1


def narrow_figure(fig, width_in: float = NARROW_WIDTH_IN):
    """A copy of ``fig`` with its panels stacked in one column, ``width_in`` inches wide (see the module's
    docstring); ``None`` when the figure cannot be copied (an artist that does not pickle). ``fig`` itself
    is not changed. Close the copy when done (``plt.close``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.gridspec import GridSpec

    try:
        copy = pickle.loads(pickle.dumps(fig))
    except Exception:  # noqa: BLE001 - a figure that does not pickle simply has no narrow version
        return None
    FigureCanvasAgg(copy)
    renderer = copy.canvas.get_renderer()
    old_width = copy.get_figwidth()
    slots = []
    for group in _slots(copy):
        if all(_empty(ax) for ax in group):
            for ax in group:
                copy.delaxes(ax)
        else:
            slots.append(group)
    if not slots:
        return None
    slots.sort(key=lambda group: not _legend_only(group[0]))  # stable: the panels keep their order
    heights = []
    for group in slots:
        ax = group[0]
        if _legend_only(ax):
            heights.append(ax.get_legend().get_window_extent(renderer).height / copy.dpi + 0.2)
            continue
        box = ax.get_position()
        axes_w, axes_h = box.width * old_width, box.height * copy.get_figheight()
        new_w = width_in - (0.2 if not ax.axison else 0.9)
        scaled = axes_h * math.sqrt(max(new_w, 0.5) / max(axes_w, 0.5))
        heights.append(min(max(scaled, _MIN_PANEL_IN), _MAX_PANEL_IN) + (0.3 if not ax.axison else 0.75)
                       + (0.25 if ax.get_title() else 0.0))
    every_axes = [ax for group in slots for ax in group]
    for ax in every_axes:
        _stand_alone(ax, every_axes)
    rows = []  # (axes to move there, or a legend's arguments; height in inches)
    for group, height in zip(slots, heights):
        if not _legend_only(group[0]):
            for ax in group:
                if ax.axison and ax.get_legend() is not None:
                    rows.append(_lift_legend(ax.get_legend(), width_in * copy.dpi, renderer, copy.dpi))
        rows.append((group, height))
    engine = copy.get_layout_engine()
    constrained = engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine"
    if not constrained:
        try:
            copy.set_layout_engine("constrained")
            constrained = True
        except RuntimeError:  # a colour bar made under another layout: matplotlib keeps that layout
            pass
    legend_height = _restack_figure_legends(copy, width_in * copy.dpi, renderer) if constrained else 0.0
    title_height = 0.4 if copy._suptitle is not None else 0.0
    grid = GridSpec(len(rows), 1, figure=copy, height_ratios=[height for _, height in rows])
    for row, (content, _) in enumerate(rows):
        if isinstance(content, dict):  # a panel's legend, lifted out of it
            holder = copy.add_subplot(grid[row, 0])
            holder.axis("off")
            holder.legend(loc="center", frameon=False, **content)
            continue
        for ax in content:
            _move(ax, grid[row, 0])
    copy.set_size_inches(width_in, sum(height for _, height in rows) + legend_height + title_height)
    if not constrained:
        copy.tight_layout()
    return copy
