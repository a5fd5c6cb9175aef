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
* each panel stands alone: tick labels that shared axes had hidden are shown again,
  a panel takes its row's y label and its column's x label and heading where the desktop showed them once
  per row or column, and, where the desktop figure had several columns, its title starts with where it sat
  there, ``(top left)``, the words the captions use;
* a legend inside a panel moves to a row of its own just above the panel (on the narrower panel it would
  cover the data);
* a colour bar beside the panels goes under them, horizontal;
* figure legends go to the top too, outside the panels, in at most two columns (under matplotlib's
  constrained layout, which the copy switches to; a figure whose colour bar was made under another layout
  keeps that layout, re-run for the new shape).

:mod:`gqa_mup_ref.page_figures` stores the narrow PNG inside the page's PNG, and the book's build
(``book/_ext/narrow_figures.py``) serves it to screens narrower than :data:`NARROW_MEDIA_MAX_PX`.
"""

from __future__ import annotations

import math
import pickle
import warnings

__all__ = ["NARROW_WIDTH_IN", "NARROW_MEDIA_MAX_PX", "narrow_figure"]

NARROW_WIDTH_IN = 3.6
"""Width of the narrow figure in inches: with the 0.1-in margins of the page PNG's tight crop, 380 CSS px,
about a 420-px phone's text column (372 px); narrower phones shrink it a little."""

NARROW_MEDIA_MAX_PX = 719
"""Screens up to this width (CSS px) get the narrow figure: below it the desktop figure would be shrunk."""

_MIN_PANEL_IN, _MAX_PANEL_IN = 1.5, 3.2


def _is_bar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None


def _slots(fig):
    """The figure's grid slots in reading order (row by row, left to right): the axes in each top-level slot
    (a panel, its twins, and a colour bar that ``fig.colorbar`` nested in the slot), the panel first."""
    slots: dict[tuple, list] = {}
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        if spec is None:
            continue  # an inset or a colour bar of the constrained layout: it follows its parent
        top = spec.get_topmost_subplotspec()
        slots.setdefault((top.rowspan.start, top.colspan.start), []).append(ax)
    return [sorted(slots[key], key=_is_bar) for key in sorted(slots)]


def _move(ax, slot) -> None:
    """Put ``ax`` in the new ``slot``; an axes in a grid nested in its old slot keeps its place in that grid,
    which moves as a whole (the outermost nested grid is re-parented)."""
    from matplotlib.gridspec import GridSpecFromSubplotSpec

    spec = ax.get_subplotspec()
    grid = spec.get_gridspec()
    if not isinstance(grid, GridSpecFromSubplotSpec):
        ax.set_subplotspec(slot)
        return
    while isinstance(grid._subplot_spec.get_gridspec(), GridSpecFromSubplotSpec):
        grid = grid._subplot_spec.get_gridspec()
    grid._subplot_spec = slot  # matplotlib has no public setter for a nested grid's parent
    ax.set_subplotspec(spec)


def _has_content(ax) -> bool:
    """Whether an axes draws anything besides its legend (what an axis-off slot may hold)."""
    return any((ax.texts, ax.patches, ax.lines, ax.collections, ax.images, ax.tables, ax.artists,
                ax.child_axes))


def _empty(ax) -> bool:
    return not ax.axison and ax.get_legend() is None and not _has_content(ax)


def _legend_only(ax) -> bool:
    return not ax.axison and ax.get_legend() is not None and not _has_content(ax)


def _bars_in_own_slots(fig, slots) -> list:
    """Colour bars drawn in a grid slot of their own (``fig.colorbar(..., cax=axes)``), removed from the
    figure and from ``slots``: ``(mappable, label)`` of each, to draw again under the stacked panels."""
    bars = []
    for group in slots:
        if len(group) == 1 and _is_bar(group[0]) and not getattr(group[0], "_colorbar_info", None):
            bar = group[0]._colorbar
            bars.append((bar.mappable, group[0].get_ylabel() or group[0].get_xlabel()))
            bar.remove()
    slots[:] = [group for group in slots if not (len(group) == 1 and _is_bar(group[0]))]
    return bars


_ROW_WORDS, _COLUMN_WORDS = ("top", "middle", "bottom"), ("left", "middle", "right")


def _place_word(index: int, count: int, words: tuple[str, str, str], name: str) -> str:
    if count == 1:
        return ""
    if count <= 3:
        return (words[0], words[2])[index] if count == 2 else words[index]
    return f"{name} {index + 1}"


def _position(row: int, column: int, rows: int, columns: int) -> str:
    """Where a panel sat in the desktop figure, in a caption's words: ``"top left"``, ``"right"``."""
    return " ".join(w for w in (_place_word(row, rows, _ROW_WORDS, "row"),
                                _place_word(column, columns, _COLUMN_WORDS, "column")) if w)


def _stand_alone(panels) -> None:
    """Make each panel readable alone, as its row and column made it on the desktop.

    ``panels`` are ``(axes, row, column, main)`` in the desktop grid (``main``: the slot's panel, not a twin
    or a colour bar). Tick labels that shared axes hid are shown; a panel without a y label takes its row's
    (when the two share the y axis), one without an x label its column's (when they share x); when only the
    top row has titles (column headings), each panel takes its column's; and in a figure of several columns
    of panels each title starts with the panel's place on the desktop, ``(top left)``, the words the captions
    use (counted among the rows and columns that hold panels, not a spare slot's legend).
    """
    def share(name, a, b):
        return getattr(a, f"get_shared_{name}_axes")().joined(a, b)

    shown = [(ax, r, c) for ax, r, c, main in panels if main and ax.axison and not _is_bar(ax)]
    rows, columns = sorted({r for _, r, _ in shown}), sorted({c for _, _, c in shown})
    headed = {c: ax.get_title() for ax, r, c in shown if r == rows[0] and ax.get_title()}
    headings = bool(headed) and all(not ax.get_title() for ax, r, _ in shown if r != rows[0])
    for ax, row, column, main in panels:
        if not ax.axison or _is_bar(ax):
            continue
        if ax.xaxis.get_ticks_position() != "top":
            ax.tick_params(labelbottom=True)
        if ax.yaxis.get_label_position() == "left":
            ax.tick_params(labelleft=True)
        if not main:
            continue  # a twin: its panel carries the labels and the title
        if not ax.get_ylabel():
            source = [o for o, r, _ in shown if r == row and o is not ax and o.get_ylabel() and share("y", ax, o)]
            if source:
                ax.set_ylabel(source[0].get_ylabel())
        if not ax.get_xlabel():
            source = [o for o, _, c in shown if c == column and o is not ax and o.get_xlabel() and share("x", ax, o)]
            if source:
                ax.set_xlabel(source[-1].get_xlabel())
        title = ax.get_title() or (headed.get(column, "") if headings else "")
        if len(columns) > 1:
            place = _position(rows.index(row), columns.index(column), len(rows), len(columns))
            title = f"({place}) {title}" if title else f"({place})"
        ax.set_title(title)


def _legend_arguments(legend, axes) -> dict:
    """What draws ``legend`` again elsewhere: its entries, title and font size. The handles are the artists
    it stands for (an error bar with its caps, not the legend's own drawn key), found by label in ``axes``,
    or its key where the artist is not in them (a hand-made proxy)."""
    by_label = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            by_label.setdefault(label, handle)
    texts = legend.get_texts()
    return {"handles": [by_label.get(t.get_text(), key) for t, key in zip(texts, legend.legend_handles)],
            "labels": [t.get_text() for t in texts], "title": legend.get_title().get_text() or None,
            "fontsize": texts[0].get_fontsize() if texts else None}


def _restack_figure_legends(fig, width_px: float, renderer) -> float:
    """Figure legends above the panels, at most two columns (one if two are too wide); their height."""
    height = 0.0
    for legend in list(fig.legends):
        arguments = _legend_arguments(legend, fig.axes)
        legend.remove()
        for ncols in (min(2, len(arguments["labels"])), 1):
            new = fig.legend(loc="outside upper center", ncols=max(ncols, 1), frameon=False, **arguments)
            if new.get_window_extent(renderer).width <= width_px or ncols == 1:
                break
            new.remove()
        height += new.get_window_extent(renderer).height / fig.dpi + 0.1
    return height


def _colour_bars_below(fig) -> float:
    """Each colour bar beside its panels (constrained layout) redrawn under them, horizontal: beside a column of
    stacked panels it would squeeze them to half the width. Returns the height added, in inches."""
    added = 0.0
    for cax in list(fig.axes):
        bar, info = getattr(cax, "_colorbar", None), getattr(cax, "_colorbar_info", None)
        if bar is None or not info or info.get("location") in ("top", "bottom"):
            continue
        label = cax.get_ylabel() or cax.get_xlabel()
        parents, mappable = info["parents"], bar.mappable
        bar.remove()
        fig.colorbar(mappable, ax=parents, location="bottom", label=label, shrink=0.9, aspect=30)
        added += 0.8
    return added


def _lift_legend(legend, ax, width_px: float, renderer, dpi: float) -> tuple[dict, float]:
    """Take a legend out of its panel (on a narrower panel it would cover the data): the arguments that draw
    it again in a row of its own above the panel, in one column if its columns are too wide; its height."""
    box = legend.get_window_extent(renderer)
    texts = legend.get_texts()
    ncols = legend._ncols if box.width <= width_px else 1
    rows_now = -(-len(texts) // max(legend._ncols, 1))
    rows_then = -(-len(texts) // ncols)
    arguments = _legend_arguments(legend, [ax]) | {"ncols": ncols}
    legend.remove()
    return arguments, box.height / dpi * rows_then / max(rows_now, 1) + 0.1


def narrow_figure(fig, width_in: float = NARROW_WIDTH_IN):
    """A copy of ``fig`` with its panels stacked in one column, ``width_in`` inches wide (see the module's
    docstring); ``None`` when the figure cannot be copied (an artist that does not pickle), has no panel, or
    cannot be laid out again (with a warning saying why). ``fig`` itself is not changed. Close the copy when
    done (``plt.close``)."""
    import matplotlib.pyplot as plt

    try:
        copy = pickle.loads(pickle.dumps(fig))
    except Exception:  # noqa: BLE001 - a figure that does not pickle simply has no narrow version
        return None
    try:
        narrow = _restack(copy, width_in)
        if narrow is None:
            plt.close(copy)
        return narrow
    except Exception as error:  # noqa: BLE001 - the desktop figure stands; the browser check flags the phone
        plt.close(copy)
        warnings.warn(f"no phone version of this figure: {error!r}", stacklevel=2)
        return None


def _restack(copy, width_in: float):
    """:func:`narrow_figure` on the copy it made (changed in place and returned; ``None`` when empty)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.gridspec import GridSpec

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
    own_bars = _bars_in_own_slots(copy, slots)
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
    placed = []
    for group in slots:
        top = group[0].get_subplotspec().get_topmost_subplotspec()
        placed += [(ax, top.rowspan.start, top.colspan.start, i == 0) for i, ax in enumerate(group)]
    _stand_alone(placed)
    rows = []  # (axes to move there, or a legend's arguments; height in inches)
    for group, height in zip(slots, heights):
        if not _legend_only(group[0]):
            for ax in group:
                if ax.axison and ax.get_legend() is not None:
                    rows.append(_lift_legend(ax.get_legend(), ax, width_in * copy.dpi, renderer, copy.dpi))
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
    bar_height = _colour_bars_below(copy) if constrained else 0.0
    panels = [group[0] for group in slots if not _legend_only(group[0])]
    for mappable, label in own_bars:
        copy.colorbar(mappable, ax=panels, location="bottom", label=label, shrink=0.9, aspect=30)
        bar_height += 0.8
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
    copy.set_size_inches(width_in, sum(height for _, height in rows) + legend_height + title_height + bar_height)
    if not constrained:
        copy.tight_layout()
    return copy
