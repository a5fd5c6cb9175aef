"""Chapter 1's figures: each ingredient of the spectral condition for feature learning, measured.

Each function draws the records of one measurement of :mod:`gqa_mup_ref.feature_learning` beside its prediction:

* two matrices with the same entries ``±1/n`` (and Frobenius norm 1), one rank one, one i.i.d.: output entry
  sizes ``Θ(1)`` against ``1/√n`` (:func:`plot_same_entries`, from
  :func:`~gqa_mup_ref.feature_learning.same_entries_different_effect`);
* a random matrix's ``‖W‖₂`` against ``σ(√n_out + √n_in)`` (:func:`plot_random_norms`, from
  :func:`~gqa_mup_ref.feature_learning.random_norm_survey`);
* the alignment ``‖Ax‖₂ / (‖A‖₂‖x‖₂)`` at init and after an update (:func:`plot_alignment`, from
  :func:`~gqa_mup_ref.feature_learning.alignment_survey`);
* one Adam step of a hidden layer, ``‖ΔW‖₂ / (η√(n_out n_in))`` and its stable rank (:func:`plot_adam_update`),
  and the feature sizes ``‖h‖₂/√n_out``, ``‖Δh‖₂/√n_out`` per layer, SP against μP (:func:`plot_width_sweep`),
  both from :func:`~gqa_mup_ref.feature_learning.width_sweep`.

The chapter's widget view, :func:`gqa_mup_ref.feature_learning.layer_view`, stays beside the measurements it
shows; :mod:`gqa_mup_ref.feature_learning` re-exports these five functions.
"""

from __future__ import annotations

import math

from .plots import PARAM_COLORS, book_style

__all__ = [
    "plot_same_entries",
    "plot_random_norms",
    "plot_alignment",
    "plot_adam_update",
    "plot_width_sweep",
]


def plot_same_entries(records: list[dict]):
    """Output entry size of the rank-one and the i.i.d. ``±1/n`` matrices against ``n``."""
    import matplotlib.pyplot as plt

    n = [r["n"] for r in records]
    with plt.rc_context(book_style()):
        fig, ax = plt.subplots()
        ax.loglog(n, [r["output_rms_rank_one"] for r in records], "o-", label="rank one  $uv^T/n$")
        ax.loglog(n, [r["output_rms_iid"] for r in records], "s-", label="i.i.d. signs $/n$")
        ax.loglog(n, [1 / math.sqrt(v) for v in n], "k--", lw=1, label=r"$1/\sqrt{n}$")
        ax.set_xlabel("width $n$")
        ax.set_ylabel(r"output entry size  $\|Ax\|_2/\sqrt{n}$")
        ax.set_title("Same entries ($\\pm 1/n$), same Frobenius norm (1)")
        ax.legend()
    plt.close(fig)  # returned, not shown: the caller decides where it is displayed
    return fig


def plot_random_norms(records: list[dict]):
    """Measured against predicted ``‖W‖₂`` (log–log, with ``y = x``), and their ratio."""
    import matplotlib.pyplot as plt

    with plt.rc_context(book_style()):
        fig, (left, right) = plt.subplots(1, 2, figsize=(6.7, 3.2))
        aspect = [r["n_out"] / r["n_in"] for r in records]
        scatter = left.scatter([r["predicted"] for r in records], [r["measured"] for r in records],
                               c=[math.log2(a) for a in aspect], cmap="coolwarm", zorder=3)
        lims = [min(r["predicted"] for r in records) * 0.8, max(r["predicted"] for r in records) * 1.2]
        left.loglog(lims, lims, "k--", lw=1, label="$y = x$")
        left.set_xlabel(r"predicted  $\sigma(\sqrt{n_{out}} + \sqrt{n_{in}})$")
        left.set_ylabel(r"measured  $\|W\|_2$ (SVD)")
        left.legend(loc="upper left")
        fig.colorbar(scatter, ax=left, label=r"$\log_2(n_{out}/n_{in})$")
        small = [min(r["n_out"], r["n_in"]) for r in records]
        right.semilogx(small, [r["ratio"] for r in records], "o", zorder=3)
        right.axhline(1, color="k", lw=1, ls="--")
        right.set_xlabel(r"smaller side  $\min(n_{out}, n_{in})$")
        right.set_ylabel("measured / predicted")
        fig.tight_layout()
    plt.close(fig)  # returned, not shown: the caller decides where it is displayed
    return fig


def plot_alignment(square: list[dict], wide: list[dict]):
    """Alignment against ``n_in`` for square and wide inits and for a rank-one update."""
    import matplotlib.pyplot as plt

    with plt.rc_context(book_style()):
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        for records, label, marker in ((square, "init, square", "o"), (wide, "init, wide ($n_{out}=16$)", "s")):
            n = [r["n_in"] for r in records]
            line, = ax.loglog(n, [r["init"] for r in records], marker, label=label)
            ax.loglog(n, [r["init_predicted"] for r in records], "--", color=line.get_color(), lw=1)
        n = [r["n_in"] for r in square]
        ax.loglog(n, [r["update_own_input"] for r in square], "^-", label="update, its own input")
        ax.loglog(n, [r["update_fresh_relu"] for r in square], "v-", label="update, fresh ReLU input")
        ax.loglog(n, [r["update_fresh_gaussian"] for r in square], "d-",
                  label="update, fresh Gaussian input")
        ax.axhline(1 / math.pi, color="k", lw=0.8, ls=":")
        ax.set_xlabel("fan-in $n_{in}$")
        ax.set_ylabel(r"alignment  $\|Ax\|/(\|A\|_2\|x\|)$")
        ax.legend(fontsize=8, loc="lower left")
    plt.close(fig)  # returned, not shown: the caller decides where it is displayed
    return fig


def plot_adam_update(by_batch: dict[int, list[dict]]):
    """Hidden-layer Adam step: ``‖ΔW‖₂ / (η√(n_out n_in))`` and stable rank against width, per batch size.

    ``by_batch`` maps a batch size to the records of :func:`~gqa_mup_ref.feature_learning.width_sweep` run with that batch.
    """
    import matplotlib.pyplot as plt

    with plt.rc_context(book_style()):
        fig, (left, right) = plt.subplots(1, 2, figsize=(6.7, 3.0))
        for batch, records in by_batch.items():
            hidden = [r for r in records if r["layer"] == "hidden"]
            widths = [r["width"] for r in hidden]
            left.semilogx(widths, [r["update_ratio"] for r in hidden], "o-", base=2, label=f"batch {batch}")
            right.loglog(widths, [r["update_stable_rank"] for r in hidden], "o-", base=2)
        right.loglog(widths, widths, "k--", lw=1, base=2, label="full rank $n$")
        left.axhline(1, color="k", lw=1, ls="--")
        left.set_ylim(0, 1.1)
        left.set_xlabel("width $n$")
        left.set_ylabel(r"$\|\Delta W\|_2 \,/\, \eta\sqrt{n_{out} n_{in}}$")
        left.legend(fontsize=8)
        right.set_xlabel("width $n$")
        right.set_ylabel(r"stable rank of $\Delta W$")
        right.legend(fontsize=8)
        fig.tight_layout()
    plt.close(fig)  # returned, not shown: the caller decides where it is displayed
    return fig


def plot_width_sweep(records: list[dict]):
    """Entry sizes of features at init and of their one-step change, per layer, SP against μP."""
    import matplotlib.pyplot as plt

    layers = ("input", "hidden", "output")
    with plt.rc_context(book_style()):
        fig, axes = plt.subplots(2, 3, figsize=(6.7, 4.8), sharex=True, sharey="row")
        for col, layer in enumerate(layers):
            for param in dict.fromkeys(r["parameterization"] for r in records):
                rows = [r for r in records if r["layer"] == layer and r["parameterization"] == param]
                widths = [r["width"] for r in rows]
                style = dict(color=PARAM_COLORS.get(param), marker="o", label=param)
                axes[0, col].loglog(widths, [r["h_rms"] for r in rows], base=2, **style)
                axes[1, col].loglog(widths, [r["dh_rms"] for r in rows], base=2, **style)
            axes[0, col].set_title(f"{layer} layer")
            axes[1, col].set_xlabel("width $n$")
        axes[0, 0].set_ylabel(r"$\|h\|/\sqrt{n_{out}}$ at init")
        axes[1, 0].set_ylabel(r"$\|\Delta h\|/\sqrt{n_{out}}$ after 1 step")
        axes[0, 0].legend()
        fig.tight_layout()
    plt.close(fig)  # returned, not shown: the caller decides where it is displayed
    return fig
