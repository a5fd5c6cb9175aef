"""Chapter 2's figures: the repeated key/value operator against a dense matrix, drawn from measurements.

Each function draws what :mod:`gqa_mup_ref.kv_repetition` measures, beside the predictions of its argument:

* which key/value head each query head reads (:func:`plot_gqa_diagram`: query head ``h`` reads head ``h // r``);
* ``‖K⊕‖₂ / ‖D‖₂`` against ``(1 + √r)/2``, and the relative update of ``K⊕`` over ``W_Q``'s after a rank-one
  Adam step under plain μP against ``2 / (1 + √r)`` (:func:`plot_norms`);
* the corrected norm ``‖K⊕‖₂ / c(r)`` against the dense law ``2σ√n`` (:func:`plot_corrected_norm`);
* the same relative update in a real transformer, under μP and GQA-μP (:func:`plot_training_ratios`).

The chapter's widget view, :func:`gqa_mup_ref.kv_repetition.kv_view`, stays beside the measurements it
calls; :mod:`gqa_mup_ref.kv_repetition` re-exports these four functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .plots import PALETTE, PARAM_COLORS, book_style

__all__ = [
    "plot_gqa_diagram",
    "plot_norms",
    "plot_corrected_norm",
    "plot_training_ratios",
]


def plot_gqa_diagram(n_head: int = 8, kv_heads: Sequence[int] = (8, 2, 1)):
    """Which key/value head each query head reads, for several ``H_kv`` (query head ``h`` → ``h // r``)."""
    import matplotlib.pyplot as plt

    with plt.rc_context(book_style()):
        fig, axes = plt.subplots(1, len(kv_heads), figsize=(6.7, 2.5))
        for ax, n_kv in zip(axes, kv_heads):
            r = n_head // n_kv
            for h in range(n_head):
                ax.add_patch(plt.Rectangle((h - 0.4, 1.6), 0.8, 0.5, color=PALETTE[(h // r) % 8]))
                centre = (h // r) * r + (r - 1) / 2
                ax.plot([h, centre], [1.6, 0.55], color=PALETTE[(h // r) % 8], lw=1)
            for k in range(n_kv):
                centre = k * r + (r - 1) / 2
                width = min(0.8 * r, r - 0.2) if r > 1 else 0.8
                ax.add_patch(plt.Rectangle((centre - width / 2, 0.05), width, 0.5,
                                           color=PALETTE[k % 8], alpha=0.6))
            name = "MHA" if r == 1 else "MQA" if n_kv == 1 else "GQA"
            ax.set_title(f"{name}\n$H = {n_head},\\ H_{{kv}} = {n_kv},\\ r = {r}$", fontsize=9)
            ax.text(-0.6, 1.85, "queries", ha="right", va="center", fontsize=8)
            ax.text(-0.6, 0.3, "keys,\nvalues", ha="right", va="center", fontsize=8)
            ax.set_xlim(-2.6, n_head - 0.4)
            ax.set_ylim(-0.05, 2.2)
            ax.axis("off")
        fig.tight_layout()
    return fig


def plot_norms(records: list[dict], update_records: list[dict]):
    """Left: ``‖K⊕‖₂/‖D‖₂`` and the typical-gain ratio against ``r``; right: the relative-update ratio."""
    import matplotlib.pyplot as plt

    rs = [rec["r"] for rec in records]
    grid = torch.linspace(1, max(rs), 200)
    with plt.rc_context(book_style()):
        fig, (left, right) = plt.subplots(1, 2, figsize=(6.7, 3.2))
        left.plot(grid, (1 + grid.sqrt()) / 2, color="0.5", lw=1, label=r"$(1+\sqrt{r})/2$")
        left.plot(rs, [rec["ratio"] for rec in records], "o", label=r"$\|K_\oplus\|_2 / \|D\|_2$ (SVD)")
        left.plot(rs, [rec["gain_rep"] / rec["gain_dense"] for rec in records], "s",
                  label="typical gain ratio")
        left.set_xscale("log", base=2)
        left.set_xlabel("repetition $r = H/H_{kv}$")
        left.set_ylabel("repeated / dense")
        left.set_title(f"norms, n = {records[0]['n']}", fontsize=9)
        left.legend(fontsize=8)
        ur = [rec["r"] for rec in update_records]
        right.plot(grid, 2 / (1 + grid.sqrt()), color="0.5", lw=1, label=r"$2/(1+\sqrt{r})$")
        right.plot(ur, [rec["ratio"] for rec in update_records], "o", color="C1",
                   label="rank-one Adam step")
        right.set_xscale("log", base=2)
        right.set_xlabel("repetition $r$")
        right.set_ylabel("relative update, $K_\\oplus$ / $W_Q$")
        right.set_title("one Adam step, plain μP", fontsize=9)
        right.legend(fontsize=8)
        fig.tight_layout()
    return fig


def plot_corrected_norm(records: list[dict]):
    """``‖K⊕‖₂`` and the corrected norm over the dense law ``2σ√n``, against ``r``, one line per ``n``."""
    import matplotlib.pyplot as plt

    ns = sorted({rec["n"] for rec in records})
    with plt.rc_context(book_style()):
        fig, axes = plt.subplots(1, 2, figsize=(6.7, 3.2), sharey=True)
        for key, ax, title in (("plain", axes[0], r"spectral norm $\|K_\oplus\|_2$"),
                               ("corrected", axes[1], r"corrected norm $\|K_\oplus\|_2 / c(r)$")):
            for i, n in enumerate(ns):
                rows = [rec for rec in records if rec["n"] == n]
                ax.plot([rec["r"] for rec in rows], [rec[key] for rec in rows], "o-", ms=4,
                        color=f"C{i}", label=f"n = {n}")
            ax.axhline(1, color="0.5", lw=1)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("repetition $r$")
            ax.set_title(title, fontsize=9)
        axes[0].set_ylabel(r"over the dense law $2\sigma\sqrt{n}$")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
    return fig


def plot_training_ratios(normalized: dict[tuple[str, int, int], float]):
    """:func:`~gqa_mup_ref.kv_repetition.normalized_ratios` against ``r``, one panel per step, with the two predictions."""
    import matplotlib.pyplot as plt

    steps = sorted({step for _, step, _ in normalized})
    rs = sorted({r for _, _, r in normalized})
    grid = torch.linspace(1, max(rs), 200)
    with plt.rc_context(book_style()):
        fig, axes = plt.subplots(1, len(steps), figsize=(min(6.7, 3.35 * len(steps)), 3.2), sharey=True)
        axes = [axes] if len(steps) == 1 else list(axes)
        for ax, step in zip(axes, steps):
            ax.plot(grid, 2 / (1 + grid.sqrt()), color=PARAM_COLORS["mup"], lw=1, ls="--",
                    label=r"$2/(1+\sqrt{r})$")
            ax.axhline(1, color=PARAM_COLORS["gqa-mup"], lw=1, ls="--", label="1")
            for param, marker in (("mup", "o"), ("gqa-mup", "s")):
                ax.plot(rs, [normalized[param, step, r] for r in rs], marker + "-",
                        color=PARAM_COLORS[param], label=param)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("repetition $r$")
            ax.set_title(f"after {step} Adam step{'s' if step > 1 else ''}", fontsize=9)
        axes[0].set_ylabel("K/V relative update over $W_Q$'s,\nrelative to $r = 1$")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
    return fig
