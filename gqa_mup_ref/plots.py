"""The book's figure style: one colour per parameterization, colour-blind-safe, readable at book width.

Every plotting function takes tidy rows (lists of dicts, from :func:`gqa_mup_ref.analysis.tidy_rows`,
:func:`gqa_mup_ref.analysis.optima` or :func:`gqa_mup_ref.coordcheck.coord_check`) and returns a
``matplotlib`` Figure drawn in :func:`book_style`. Layers point one way: this module may import
:mod:`gqa_mup_ref.analysis` (what to draw), never the reverse (analysis computes, plots draw).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

# Chapter 5's decisive figure lives in its own module; `plots.plot_decisive` keeps working.
from .coord_quantities import QUANTITY_NAMES  # noqa: F401  (a reader's name for each quantity, tables' too)
from .decisive_figures import plot_decisive  # noqa: F401  (it imports this module's style when called)

__all__ = [
    "PALETTE",
    "PARAM_COLORS",
    "ROLE_COLORS",
    "COLUMN_INCHES",
    "book_style",
    "param_color",
    "param_label",
    "READER_NAMES",
    "HOLLOW_LABEL",
    "reader_label",
    "log_width_axis",
    "plot_lr_curves",
    "plot_results",
    "plot_optima",
    "plot_coord_check",
    "INVARIANT_COLORS",
    "plot_multiplier_scans",
    "plot_shifts",
]

# Okabe–Ito palette (colour-blind safe).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

PARAM_COLORS = {"sp": "#7F7F7F", "mup": "#E69F00", "gqa-mup": "#0072B2", "dense": "#009E73"}
"""Fixed colours: every figure draws a parameterization in the same colour."""

ROLE_COLORS = {
    "token_embedding": "#BBBBBB", "position_embedding": "#BBBBBB", "query": "#0072B2",
    "key": "#56B4E9", "key⊕": "#56B4E9", "value": "#009E73", "value⊕": "#009E73",
    "attn_out": "#E69F00", "mlp_in": "#CC79A7", "mlp_out": "#D55E00", "block": "#7F7F7F",
    "final_norm": "#F0E442", "unembedding": "#000000",
}
"""Coordinate-check lines are coloured by the layer's role (Okabe–Ito), styled by block index."""

INVARIANT_COLORS = {"none": "#E69F00", "gqa": "#0072B2", "sqrt-r": "#CC79A7"}
"""Chapter 5's three key/value factors: ``none`` in μP's colour, ``gqa`` in GQA-μP's."""

_EXTRA = ["#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442"]


COLUMN_INCHES = 6.7
"""The width of the book's text column at 1280 px (672 CSS px) in inches of figure: a figure this wide or
narrower is shown at its own size, so its text keeps its point size (:mod:`gqa_mup_ref.page_figures`)."""


def book_style() -> dict:
    """``matplotlib.rcParams`` updates for figures at book width (use with ``plt.rc_context``): figures
    at most :data:`COLUMN_INCHES` wide, no text under 9 pt by default."""
    return {
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": __import__("cycler").cycler(color=PALETTE),
        "font.size": 10,
        "axes.titlesize": 10,
        "axes.labelsize": 10,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "legend.title_fontsize": 9,
        "figure.titlesize": 10,
        "legend.frameon": False,
    }


READER_NAMES = {"sp": "standard practice (SP)", "mup": "μP", "gqa-mup": "GQA-μP"}
"""Parameterizations as a figure's legend names them for a reader."""



HOLLOW_LABEL = "a seed's best at the grid's end"
"""What a hollow optimum marker means, as figures' legends say it: some seed's lowest loss is at the first or
last point of the grid, so its optimum may lie beyond (``at_edge``)."""


def reader_label(label: str) -> str:
    """A :func:`param_label` as a reader would say it (:data:`READER_NAMES`): ``"gqa-mup"`` → ``"GQA-μP"``,
    ``"mup (kv=gqa)"`` → ``"μP, K/V factor gqa"``."""
    base, _, factor = label.partition(" (kv=")
    name = READER_NAMES.get(base, base)
    return f"{name}, K/V factor {factor.rstrip(')')}" if factor else name


def log_width_axis(ax, widths: Sequence[int], label: str = "width n") -> None:
    """A log₂ x axis with one tick per measured width, labelled by its value (no minor tick labels, which
    matplotlib would print over the widths as 6×10¹, 2×10², …)."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(widths), [str(w) for w in widths])
    ax.minorticks_off()
    ax.set_xlabel(label)


def param_label(parameterization: str, kv_factor: str | None = None) -> str:
    """``"gqa-mup"`` or, for an ablation that overrides the key/value factor, ``"mup (kv=alt)"``."""
    return parameterization if kv_factor in (None, "") else f"{parameterization} (kv={kv_factor})"


def param_color(label: str, order: Sequence[str] = ()) -> str:
    """The colour of a parameterization (``PARAM_COLORS``); ablation labels get the remaining colours.

    ``order`` is the list of labels in the figure, so that extra labels get distinct colours. An
    ablation label of one of chapter 5's key/value factors, ``"mup (kv=gqa)"``, gets that factor's
    :data:`INVARIANT_COLORS` entry.
    """
    if label in PARAM_COLORS:
        return PARAM_COLORS[label]
    kv = re.fullmatch(r".* \(kv=(.+)\)", label)
    if kv and kv.group(1) in INVARIANT_COLORS:  # chapter 5's factors keep their colours
        return INVARIANT_COLORS[kv.group(1)]
    extras = [lab for lab in order if lab not in PARAM_COLORS]
    index = extras.index(label) if label in extras else abs(hash(label))
    return _EXTRA[index % len(_EXTRA)]


def _row_label(row: Mapping) -> str:
    return param_label(row.get("parameterization", "?"), row.get("kv_factor"))


def _setting_colors(values: Sequence) -> dict:
    """Ordered settings (r, width, depth…) on the colour-blind-safe ``viridis`` map, dark to light."""
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    n = len(values)
    return {v: cmap(0.85 * i / max(1, n - 1)) for i, v in enumerate(values)}


def _sorted_unique(values) -> list:
    unique = list(dict.fromkeys(values))
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=str)


def plot_lr_curves(
    rows: Sequence[Mapping],
    by: str = "n_kv_head",
    metric: str = "val_loss",
    optima_rows: Sequence[Mapping] | None = None,
    window: int = 2,
):
    """Loss against ``log₂ lr``: one panel per parameterization, one line per value of ``by``.

    Lines are the mean over seeds (dots are single seeds); each line's fitted optimum is a star,
    hollow when some seed's lowest loss is at the first or last learning rate of the grid (its optimum
    may lie beyond; :attr:`gqa_mup_ref.analysis.Optimum.at_edge`), a legend entry only when one is. Diverged runs are crosses along the top. Optima
    are computed with :func:`gqa_mup_ref.analysis.optima` unless ``optima_rows`` are given.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from .analysis import optima as find_optima

    labelled = [dict(r, _label=_row_label(r)) for r in rows]
    panels = _sorted_unique(r["_label"] for r in labelled)
    settings = _sorted_unique(r[by] for r in labelled)
    colors = _setting_colors(settings)
    if optima_rows is None:
        optima_rows = find_optima(labelled, by=("_label", by), metric=metric, window=window)
    best = {(o.get("_label", _row_label(o)), o[by]): o for o in optima_rows}
    columns = min(len(panels), 2)
    n_rows = -(-len(panels) // columns)
    with plt.rc_context(book_style()):
        fig, grid = plt.subplots(n_rows, columns, figsize=(COLUMN_INCHES, 3.0 * n_rows + 0.4),
                                 sharey=True, squeeze=False, layout="constrained")
        for ax, panel in zip(grid.flat, panels):
            for setting in settings:
                group = [r for r in labelled if r["_label"] == panel and r[by] == setting]
                if not group:
                    continue
                color = colors[setting]
                means = _mean_by_lr(group, metric)
                ax.plot([x for x, _ in means], [y for _, y in means], "-", color=color, lw=1.5)
                ok = [r for r in group if _finite(r[metric])]
                ax.plot([math.log2(r["lr"]) for r in ok], [r[metric] for r in ok], ".",
                        color=color, alpha=0.5, ms=4)
                bad = [math.log2(r["lr"]) for r in group if not _finite(r[metric])]
                if bad:
                    ax.plot(bad, [0.97] * len(bad), "x", color=color,
                            transform=ax.get_xaxis_transform(), clip_on=False)
                star = best.get((panel, setting))
                if star and _finite(star.get("log2_lr_star")):
                    ax.plot(star["log2_lr_star"], star["loss_star"], "*", ms=13, mec="black",
                            mew=0.8, color="none" if star["at_edge"] else color, zorder=5)
            ax.set_title(reader_label(panel), color=param_color(panel, panels))
            ax.set_xlabel("log₂ learning rate")
        for row in grid:
            row[0].set_ylabel(metric.replace("_", " ") + " (nats/token)")
        handles = [Line2D([], [], color=colors[s], lw=1.5, label=f"{by}={s}") for s in settings]
        handles += [Line2D([], [], ls="", marker="*", ms=10, mfc="grey", mec="black",
                           label="fitted optimum"),
                    ] + ([Line2D([], [], ls="", marker="*", ms=10, mfc="none", mec="black",
                                 label=HOLLOW_LABEL)] if any(o.get("at_edge") for o in best.values()) else [])
        if any(not _finite(r[metric]) for r in labelled):
            handles.append(Line2D([], [], ls="", marker="x", color="black", label="diverged"))
        spare = list(grid.flat[len(panels):])
        for ax in spare:
            ax.set_axis_off()
        if spare:
            spare[0].legend(handles=handles, loc="center")
        else:
            fig.legend(handles=handles, loc="outside lower center", ncol=3)
    return fig


def plot_results(rows: Sequence[Mapping], metric: str = "val_loss"):
    """Loss-vs-lr figure of a sweep's rows: one panel per parameterization, one line per setting."""
    from .analysis import _NOT_SETTINGS, varied_columns

    varied = [c for c in varied_columns(rows)
              if c not in _NOT_SETTINGS and c not in ("parameterization", "kv_factor", "alpha")]
    if len(varied) == 1:
        return plot_lr_curves(rows, by=varied[0], metric=metric)
    labelled = [dict(r, setting=", ".join(f"{c}={r[c]}" for c in varied) or "all") for r in rows]
    return plot_lr_curves(labelled, by="setting", metric=metric)


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def _mean_by_lr(group: Sequence[Mapping], metric: str) -> list[tuple[float, float]]:
    """``(log₂ lr, mean over seeds)`` at each lr where every seed is finite."""
    by_lr: dict[float, list] = {}
    for r in group:
        by_lr.setdefault(math.log2(r["lr"]), []).append(r[metric])
    return [(x, sum(v) / len(v)) for x, v in sorted(by_lr.items())
            if all(_finite(u) for u in v)]


def plot_optima(
    optima_rows: Sequence[Mapping],
    x: str = "r",
    hue: str = "parameterization",
    log2_x: bool = True,
):
    """Fitted ``log₂ lr*`` (± its std over seeds or bootstrap) against a setting, one line per ``hue``.

    Points where some seed's lowest loss is at the end of the grid are drawn hollow: they bound lr*, not
    locate it.
    Transfer means a flat line.
    """
    import matplotlib.pyplot as plt

    labels = _sorted_unique(
        _row_label(o) if hue == "parameterization" else o[hue] for o in optima_rows)
    with plt.rc_context(book_style()):
        fig, ax = plt.subplots(figsize=(5.6, 3.4), layout="constrained")
        for label in labels:
            group = sorted(
                (o for o in optima_rows if (_row_label(o) if hue == "parameterization"
                                            else o[hue]) == label and _finite(o["log2_lr_star"])),
                key=lambda o: o[x])
            if not group:
                continue
            color = param_color(str(label), [str(v) for v in labels]) \
                if hue == "parameterization" else None
            xs = [o[x] for o in group]
            ys = [o["log2_lr_star"] for o in group]
            errs = [o["log2_lr_std"] if _finite(o["log2_lr_std"]) else 0.0 for o in group]
            line = ax.errorbar(xs, ys, yerr=errs, fmt="-", color=color, capsize=3, lw=1.5,
                               label=str(label))
            color = line[0].get_color()
            for o, xv, yv in zip(group, xs, ys):
                ax.plot(xv, yv, "o", ms=6, color=color, mfc="white" if o["at_edge"] else color)
        if log2_x:
            ax.set_xscale("log", base=2)
            ax.set_xticks(_sorted_unique(o[x] for o in optima_rows))
            ax.get_xaxis().set_major_formatter(__import__("matplotlib").ticker.ScalarFormatter())
        ax.set_xlabel(x)
        ax.set_ylabel("fitted log₂ lr*")
        hollow = any(o["at_edge"] for o in optima_rows if _finite(o["log2_lr_star"]))
        ax.legend(fontsize=8, title=f"hollow: {HOLLOW_LABEL}" if hollow else None, title_fontsize=8)
    return fig


def plot_coord_check(
    rows: Sequence[Mapping],
    quantity: str = "act_rms",
    steps: Sequence[int] | None = None,
    roles: Sequence[str] | None = None,
    x_label: str | None = None,
):
    """The classic coordinate-check panels: ``quantity`` against the varied size, log-log.

    One column per training step, one row of panels per parameterization, one line per layer
    (colour = role, line style = block index). Flat lines mean the parameterization transfers.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows = [r for r in rows if r["quantity"] == quantity and (roles is None or r["role"] in roles)]
    if not rows:
        raise ValueError(f"no rows with quantity={quantity!r}"
                         + (f" and roles in {list(roles)}" if roles else ""))
    steps = list(steps) if steps is not None else _sorted_unique(r["step"] for r in rows)
    labels = _sorted_unique(_row_label(r) for r in rows)
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    styles = ["-", "--", ":", "-."]
    with plt.rc_context(book_style()):
        fig, axes = plt.subplots(len(labels), len(steps),
                                 figsize=(min(COLUMN_INCHES, 1.9 * len(steps) + 1.0), 2.3 * len(labels) + 0.9),
                                 sharex=True, sharey=True, squeeze=False, layout="constrained")
        for i, label in enumerate(labels):
            for j, step in enumerate(steps):
                ax = axes[i][j]
                for layer in layers:
                    pts = {}
                    for r in rows:
                        if r["layer"] == layer and r["step"] == step and _row_label(r) == label:
                            pts.setdefault(r["x"], []).append(r["value"])
                    if not pts:
                        continue
                    role = next(r["role"] for r in rows if r["layer"] == layer)
                    xs = sorted(pts)
                    ys = [sum(pts[v]) / len(pts[v]) for v in xs]
                    ax.plot(xs, ys, styles[_block_index(layer) % len(styles)], marker=".",
                            color=ROLE_COLORS.get(role, "#7F7F7F"), lw=1.2, ms=4)
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                if i == 0:
                    ax.set_title(f"step {step}")
                if j == 0:
                    ax.set_ylabel(f"{reader_label(label)}\n{QUANTITY_NAMES.get(quantity, quantity)}",
                                  color=param_color(label, labels))
                if i == len(labels) - 1:
                    ax.set_xlabel(x_label or str(rows[0].get("vary", "x")))
        present = list(dict.fromkeys(r["role"] for r in rows))
        handles = [Line2D([], [], color=ROLE_COLORS.get(role, "#7F7F7F"), label=role)
                   for role in present]
        fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)),
                   title="role (line style: block)")
    return fig


def _block_index(layer: str) -> int:
    match = re.match(r"blocks\.(\d+)", layer)
    return int(match.group(1)) if match else 0


def plot_multiplier_scans(rows: Sequence[Mapping], scan: str = "key+value", metric: str = "val_loss",
                          predictions: Sequence[str] = ("none", "gqa", "sqrt-r"), window: int = 2):
    """Loss against ``log₂ μ`` of a key/value multiplier scan, one panel per ``r``.

    Lines are the mean over seeds, dots single seeds, the dashed grey line the loss with the scanned
    roles frozen (``μ = 0``) where it was run. Vertical lines mark where each invariant in
    ``predictions`` puts the best ``μ`` at this ``r``: the measured ``r = 1`` optimum (mean over
    seeds) moved by :func:`gqa_mup_ref.kv_transfer.predicted_shift`. ``window`` is the fit's, as in
    :func:`gqa_mup_ref.kv_transfer.best_multiplier`.
    """
    import matplotlib.pyplot as plt

    from .kv_transfer import best_multiplier, predicted_shift, scan_rows

    scanned = scan_rows(rows, scan)
    frozen = [row for row in scan_rows(rows, scan, frozen=True) if row["mu"] == 0]
    rs = _sorted_unique(row["r"] for row in scanned)
    best = {b["r"]: b for b in best_multiplier(scanned, scan, metric=metric, window=window)}
    anchor = best.get(1, {}).get("log2_mu_star", math.nan)
    columns = min(len(rs), 3)
    n_rows = -(-len(rs) // columns)
    with plt.rc_context(book_style()):
        fig, grid = plt.subplots(n_rows, columns, figsize=(COLUMN_INCHES, 2.6 * n_rows + 0.7), squeeze=False,
                                 sharey=True, layout="constrained")
        for ax in grid.flat[len(rs):]:
            ax.set_axis_off()
        axes = [list(grid.flat)]
        for ax, r in zip(axes[0], rs):
            group = [row for row in scanned if row["r"] == r]
            by_mu: dict[float, list[float]] = {}
            for row in group:
                if _finite(row[metric]):
                    by_mu.setdefault(row["log2_mu"], []).append(row[metric])
            xs = sorted(by_mu)
            ax.plot(xs, [sum(by_mu[x]) / len(by_mu[x]) for x in xs], "-", color="black", lw=1.5)
            ax.plot([row["log2_mu"] for row in group if _finite(row[metric])],
                    [row[metric] for row in group if _finite(row[metric])], ".", color="black",
                    alpha=0.45, ms=4)
            cold = [row[metric] for row in frozen if row["r"] == r and _finite(row[metric])]
            if cold:
                ax.axhline(sum(cold) / len(cold), color="grey", ls="--", lw=1,
                           label=f"{scan} frozen (μ = 0)")
            if math.isfinite(anchor):
                for name in predictions:
                    ax.axvline(anchor + predicted_shift(name, r) - predicted_shift(name, 1),
                               color=INVARIANT_COLORS.get(name, "grey"), lw=1.2, alpha=0.85,
                               label=f"{name} predicts μ* here")
            b = best.get(r)
            if b and _finite(b["log2_mu_star"]):
                ax.plot(b["log2_mu_star"], b["loss_star"], "*", ms=13, mec="black", mew=0.8,
                        color="none" if b["at_edge"] else "black", zorder=5)
            ax.set_title(f"r = {r:g}")
            ax.set_xlabel(f"log₂ μ ({scan} LR)")
        for row in grid:
            row[0].set_ylabel(metric.replace("_", " ") + " (nats/token)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncol=min(2, len(handles)))
    return fig


def plot_shifts(rows: Sequence[Mapping], hue: str | None = None, value: str = "shift",
                predictions: Sequence[str] = ("none", "gqa", "sqrt-r"), ylabel: str = "shift (octaves)"):
    """Same-seed shifts against ``r`` (log₂ axis) with 95 % intervals, beside predicted curves.

    ``rows`` are those of :func:`gqa_mup_ref.kv_transfer.multiplier_shifts` or
    :func:`~gqa_mup_ref.kv_transfer.lr_shifts` (columns ``r``, ``value``, ``sd``, ``n_pairs``,
    ``at_edge``), one series per ``hue`` value; points where some seed's best is at the grid's end are hollow. Each invariant in
    ``predictions`` is drawn as its curve ``log₂ f(r)/f(1)``; with no predictions, a line at 0 (what
    transfer means for an LR shift).
    """
    import matplotlib.pyplot as plt

    from .kv_transfer import confidence_interval, predicted_shift

    series = _sorted_unique(row[hue] for row in rows) if hue else [None]
    r_max = max((row["r"] for row in rows), default=16)
    with plt.rc_context(book_style()):
        fig, ax = plt.subplots(figsize=(5.8, 3.5), layout="constrained")
        grid = [2 ** (k / 8) for k in range(0, int(8 * math.log2(max(r_max, 2))) + 1)]
        for name in predictions:
            ax.plot(grid, [predicted_shift(name, r) for r in grid], "-", lw=1.2, alpha=0.7,
                    color=INVARIANT_COLORS.get(name, "grey"), label=f"{name} predicts")
        if not predictions:
            ax.axhline(0, color="black", lw=1, label="transfer (no shift)")
        offsets = {s: 2 ** (0.06 * (i - (len(series) - 1) / 2)) for i, s in enumerate(series)}
        for s in series:
            group = sorted((row for row in rows if (hue is None or row[hue] == s)
                            and _finite(row[value])), key=lambda row: row["r"])
            if not group:
                continue
            color = (INVARIANT_COLORS.get(str(s)) or ["black", "#009E73", "#7F7F7F", "#8C564B"]
                                                     [series.index(s) % 4]) if hue else "black"
            xs = [row["r"] * offsets[s] for row in group]
            ys = [row[value] for row in group]
            cis = [confidence_interval(row[value], row["sd"], row["n_pairs"]) for row in group]
            err = [[y - lo if _finite(lo) else 0 for y, (lo, _) in zip(ys, cis)],
                   [hi - y if _finite(hi) else 0 for y, (_, hi) in zip(ys, cis)]]
            label = f"measured ({s})" if hue else "measured"
            ax.errorbar(xs, ys, yerr=err, fmt="--", lw=0.8, color=color, capsize=3, label=label)
            for row, x, y in zip(group, xs, ys):
                ax.plot(x, y, "o", ms=6, color=color, mfc="white" if row["at_edge"] else color)
        ax.set_xscale("log", base=2)
        ax.set_xticks(_sorted_unique([1] + [row["r"] for row in rows]))
        ax.get_xaxis().set_major_formatter(__import__("matplotlib").ticker.ScalarFormatter())
        ax.set_xlabel("$r = H / H_{kv}$")
        ax.set_ylabel(ylabel)
        hollow = any(row["at_edge"] for row in rows if _finite(row[value]))
        ax.legend(fontsize=8, title="bars: 95 % interval" + (f"; hollow: {HOLLOW_LABEL}" if hollow else ""),
                  title_fontsize=8)
    return fig

