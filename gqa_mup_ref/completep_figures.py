"""Chapter 3's figures: what :mod:`gqa_mup_ref.completep` measures, drawn.

Depth: the branch sums and their coherence against ``L`` (:func:`plot_branch_sums`), the depth
coordinate check (:func:`plot_depth_coord_check`) and the per-block view of the chapter's slider
(:func:`depth_view`). Weight decay: a hidden matrix's natural spectral norm, RMS entry and relative
update over decay timescales (:func:`plot_decay_trajectories`) and the loss over the (η, λ) grid
(:func:`plot_weight_decay_grid`). Each takes the records of its ``completep`` instrument and returns a
matplotlib figure (``depth_view``: a PNG widget with alt text).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .completep import equilibrium_rms

__all__ = [
    "plot_branch_sums",
    "plot_depth_coord_check",
    "plot_decay_trajectories",
    "plot_weight_decay_grid",
    "depth_view",
]


def _depth_axes(ax, depths, title: str) -> None:
    """Log-log axes over depth with a tick at every measured ``L``."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(depths, [str(L) for L in depths])
    ax.set_xlabel("depth L")
    ax.set_title(title)


def _two_by_two(plt, panels: int, height: float):
    """``(fig, axes, spare)``: ``panels`` (3 or 4) axes in rows of two at the column's width; ``spare`` is
    the unused fourth slot, switched off (a place for a legend), or ``None``."""
    from .plots import COLUMN_INCHES

    fig, grid = plt.subplots(2, 2, figsize=(COLUMN_INCHES, height), layout="constrained")
    spare = grid.flat[3] if panels == 3 else None
    if spare is not None:
        spare.set_axis_off()
    return fig, list(grid.flat[:panels]), spare


def _alpha_colors(alphas) -> dict:
    from .plots import PALETTE

    return {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(sorted(set(alphas)))}


def plot_branch_sums(probes: Sequence[dict]):
    """Left: RMS of the sum of the initial branch contributions; middle: of the sum of their
    one-step changes; right: coherence of each sum over its maximum ``√(2L)``. One line per α."""
    import matplotlib.pyplot as plt

    from .plots import book_style

    colors = _alpha_colors(p["alpha"] for p in probes)
    with plt.rc_context(book_style()):
        fig, axes, spare = _two_by_two(plt, 3, 5.4)
        for alpha, color in colors.items():
            group = sorted((p for p in probes if p["alpha"] == alpha), key=lambda p: p["depth"])
            depths = [p["depth"] for p in group]
            label = f"α = {alpha:g}"
            axes[0].plot(depths, [p["init_sum_rms"] for p in group], "o-", color=color, label=label)
            axes[1].plot(depths, [p["update_sum_rms"] for p in group], "o-", color=color, label=label)
            axes[2].plot(depths, [p["init_coherence"] / math.sqrt(2 * p["depth"]) for p in group],
                         "o--", color=color, mfc="white")
            axes[2].plot(depths, [p["update_coherence"] / math.sqrt(2 * p["depth"]) for p in group],
                         "o-", color=color)
        depths = sorted({p["depth"] for p in probes})
        axes[2].plot(depths, [1 / math.sqrt(2 * L) for L in depths], ":", color="grey",
                     label="orthogonal (1/√(2L))")
        titles = [r"init: RMS of $\Sigma_l\, a_L F_l$", r"one step: RMS of $\Sigma_l\, a_L\,\delta F_l$",
                  "coherence / √(2L):\nupdates (—), init (- -)"]
        for ax, title in zip(axes, titles):
            _depth_axes(ax, depths, title)
        axes[0].legend()
        spare.legend(*axes[2].get_legend_handles_labels(), loc="center")
    return fig


def plot_decay_trajectories(trajectories: dict):
    """Three panels against the decay timescales elapsed ``Σ η_t·λ``, one line per run
    (``trajectories`` maps a label to rows of :func:`decay_trajectory`): the natural spectral norm of
    the weight; its RMS entry with the incoherent equilibrium ``rms(u)·√(η/2λ)`` dashed; and the
    per-step spectral relative update ``η‖u‖₂/‖W‖₂``."""
    import matplotlib.pyplot as plt

    from .plots import PALETTE, book_style

    with plt.rc_context(book_style()):
        fig, axes, spare = _two_by_two(plt, 3, 5.8)
        for (label, rows), color in zip(trajectories.items(), PALETTE):
            x = [r["decay_steps"] for r in rows]
            axes[0].plot(x, [r["w_natural"] for r in rows], "-", color=color, label=label)
            axes[1].plot(x, [r["w_rms"] for r in rows], "-", color=color)
            axes[1].plot(x, [equilibrium_rms(r["lr"], r["weight_decay"], r["u_rms"]) for r in rows],
                         "--", color=color, lw=1)
            axes[2].plot(x, [r["rel_update"] for r in rows], "-", color=color, lw=1)
        titles = [r"natural spectral norm of $W_{in}$", "RMS entry\n(dashed: √(η/2λ)·rms(u))",
                  "per-step relative update\nη‖u‖₂/‖W‖₂"]
        for ax, title in zip(axes, titles):
            ax.set_xlabel(r"decay timescales, $\Sigma_t\, \eta_t\lambda$")
            ax.set_yscale("log")
            ax.set_title(title)
        spare.legend(*axes[0].get_legend_handles_labels(), loc="center")
    return fig


def plot_weight_decay_grid(rows: Sequence[Mapping], settings: Sequence[tuple[str, int]],
                           names: Mapping[str, str] | None = None):
    """Validation loss (mean over seeds) over the (log₂ η, log₂ λ) grid, one heat map per
    ``(parameterization, width)`` in ``settings``; the best cell of each is framed. ``names`` titles each
    parameterization for the reader (e.g. ``{"mup-fixed-wd": "fixed decay"}``; default: its name)."""
    import matplotlib.pyplot as plt

    from .plots import book_style

    lrs = sorted({r["log2_lr"] for r in rows})
    wds = sorted({math.log2(r["weight_decay"]) for r in rows})
    grids = []
    for param, width in settings:
        grid = [[float("nan")] * len(lrs) for _ in wds]
        for i, wd in enumerate(wds):
            for j, lr in enumerate(lrs):
                vals = [r["val_loss"] for r in rows if r["parameterization"] == param
                        and r["width"] == width and r["log2_lr"] == lr
                        and math.log2(r["weight_decay"]) == wd and math.isfinite(r["val_loss"])]
                if vals:
                    grid[i][j] = sum(vals) / len(vals)
        grids.append(grid)
    finite = [v for g in grids for row in g for v in row if math.isfinite(v)]
    with plt.rc_context(book_style() | {"axes.grid": False}):
        from .plots import COLUMN_INCHES

        rows_ = math.ceil(len(settings) / 2)
        fig, axes = plt.subplots(rows_, 2, figsize=(COLUMN_INCHES, 3.0 * rows_ + 0.3),
                                 layout="constrained", squeeze=False)
        for spare in axes.flat[len(settings):]:
            spare.set_axis_off()
        for ax, (param, width), grid in zip(axes.flat, settings, grids):
            image = ax.imshow(grid, origin="lower", cmap="viridis_r", vmin=min(finite),
                              vmax=max(finite), aspect="auto")
            best = min(((v, i, j) for i, row in enumerate(grid) for j, v in enumerate(row)
                        if math.isfinite(v)))
            _, bi, bj = best
            ax.add_patch(plt.Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, ec="red", lw=2))
            for i, row in enumerate(grid):
                for j, v in enumerate(row):
                    ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=8,
                            color="white" if v > (min(finite) + max(finite)) / 2 else "black")
            ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs])
            ax.set_yticks(range(len(wds)), [f"{v:g}" for v in wds])
            ax.set_xlabel("log₂ η (base LR)")
            ax.set_ylabel("log₂ λ (base decay)")
            ax.set_title(f"{(names or {}).get(param, param)}, width {width}")
        fig.colorbar(image, ax=axes.flat[:len(settings)], shrink=0.8, label="val loss")
    return fig


def depth_view(probe: dict):
    """One widget view of a :func:`depth_probe`: per-block residual-stream RMS and branch sizes
    (left) and per-block relative update of the MLP input matrix (right), as a PNG widget with alt text."""
    import matplotlib.pyplot as plt

    from .plots import PALETTE, book_style
    from .widgets import figure_widget

    blocks = probe["blocks"]
    index = [b["block"] + 1 for b in blocks]
    with plt.rc_context(book_style()):
        fig, axes = plt.subplots(1, 2, figsize=(6.7, 3.1), layout="constrained")
        axes[0].plot(index, [b["stream_rms"] for b in blocks], "o-", color=PALETTE[0],
                     label="stream $x_l$ at init")
        axes[0].plot(index, [b["branch_rms"] for b in blocks], "s-", color=PALETTE[1],
                     label="branch $a_L F_l$ at init")
        axes[0].plot(index, [b["dbranch_rms"] for b in blocks], "^-", color=PALETTE[2],
                     label="its one-step change")
        axes[0].set_yscale("log")
        axes[0].set_ylim(1e-3, 2.0)
        axes[0].set_xlabel("block l")
        axes[0].set_ylabel("RMS entry")
        axes[0].legend(fontsize=8, loc="upper left")
        axes[1].bar(index, [b["rel_update"] for b in blocks], color=PALETTE[3])
        axes[1].set_ylim(0, 4)
        axes[1].set_xlabel("block l")
        axes[1].set_ylabel(r"$\|\Delta W_{in}\|_2 / \|W_{in}\|_2$")
        fig.suptitle(f"$L$ = {probe['depth']}, α = {probe['alpha']:g}, $a_L$ = "
                     f"{probe['residual_multiplier']:.3g}: Σ init {probe['init_sum_rms']:.3f}, "
                     f"Σ update {probe['update_sum_rms']:.3f}")
    alt = (f"Depth L = {probe['depth']}, alpha = {probe['alpha']:g}: per block, the RMS of the residual "
           "stream and of the branch at initialisation and of the branch's one-step change (left, log "
           "scale), and the relative one-step update of the MLP input matrix (right, bars).")
    return figure_widget(fig, alt=alt)


def plot_depth_coord_check(summary: Sequence[dict], steps: Sequence[int] = (1,)):
    """The depth coordinate check: the four quantities of :func:`depth_coord_check` against L,
    solid after the first of ``steps``, dashed after the others."""
    import matplotlib.pyplot as plt

    from .plots import book_style

    colors = _alpha_colors(r["alpha"] for r in summary)
    names = [("stream_rms", "stream $x_L$ at init"), ("stream_update_rms", "change of $x_L$"),
             ("branch_update_rms", "change of a branch $F_l$ (before $a_L$)"),
             ("rel_update", "‖ΔW‖₂/‖W₀‖₂, hidden")]
    depths = sorted({r["depth"] for r in summary})
    with plt.rc_context(book_style()):
        fig, axes, _ = _two_by_two(plt, 4, 5.6)
        for ax, (key, title) in zip(axes, names):
            for alpha, color in colors.items():
                for k, step in enumerate(steps):
                    group = sorted((r for r in summary if r["alpha"] == alpha and r["step"] == step),
                                   key=lambda r: r["depth"])
                    ax.plot([r["depth"] for r in group], [r[key] for r in group],
                            "o-" if k == 0 else "o--", color=color, mfc=color if k == 0 else "white",
                            label=f"α = {alpha:g}, step {step}")
            _depth_axes(ax, depths, title)
        axes[0].legend()
    return fig
