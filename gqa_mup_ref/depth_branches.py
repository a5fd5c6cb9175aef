"""One matrix or two per residual branch: the cross term that separates Depth-μP from CompleteP.

A residual network of ``L`` blocks computes ``x_l = x_{l−1} + a_L·F_l(x_{l−1})`` with the branch multiplier
``a_L = m_L^(−α)`` and hidden Adam learning rate ``η·m_L^(α−1)``, both read from
:func:`gqa_mup_ref.parameterization.depth_rules`. Each rule asks every block's contribution to the change
of the residual stream to be ``Θ(1/L)``; the two exponents studied are α = ½ (Depth-μP) and α = 1
(CompleteP). The branch has ``k`` weight matrices:

* ``k = 1``: ``F(x) = W x`` — linear in its weights, so a change of ``W`` changes ``F`` by ``ΔW x`` exactly;
* ``k = 2``: ``F(x) = W₂ φ(W₁ x)`` with ``φ = relu`` — a product, whose change splits exactly into

      F′(h) − F(h) = ΔW₂ φ(W₁h)  +  W₂ [φ(W₁′h) − φ(W₁h)]  +  ΔW₂ [φ(W₁′h) − φ(W₁h)]
                     └────────── first-order terms ──────────┘   └──── cross term ≈ ΔW₂·φ′·ΔW₁ h ────┘

  (``W′ = W + ΔW``, ``h`` the block's input). The cross term is what a block with two layers can do and a
  linearised block cannot: the first layer's features change *and* the second layer reads them anew.

With Adam every ``ΔW`` has a natural spectral norm ``∝`` its learning rate, so relative to the first-order
terms the cross term is ``∝ ‖ΔW‖/‖W‖ ∝ m_L^(α−1)``: it vanishes like ``L^(−1/2)`` at α = ½ and stays
``Θ(1)`` at α = 1. This is the argument of *Spectral Condition for μP under Width-Depth Scaling*
(Zheng et al. 2026) for why ``k ≥ 2`` branches need α = 1; :func:`train_branches` measures it after a few Adam
steps and :func:`fit_slopes` fits the exponent.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from .parameterization import Shape, get_parameterization

__all__ = [
    "BASE_WIDTH",
    "branch_change",
    "train_branches",
    "cross_term_sweep",
    "fit_slopes",
    "plot_cross_terms",
]

BASE_WIDTH = 64
"""Width at which the base learning rate applies (μP's hidden LR is ``η/m``, ``m = width / BASE_WIDTH``)."""


def _depth_scaling(width: int, depth: int, alpha: float) -> tuple[float, float]:
    """``(a_L, hidden Adam LR factor)`` from the package's rules, for ``depth`` blocks on a base depth of 1."""
    rules = get_parameterization("mup", alpha=alpha).rules(
        Shape(width, depth, 1, 1, base_width=BASE_WIDTH, base_depth=1))
    return rules.residual_multiplier, rules.groups["mlp_in"].lr_factor


def branch_change(old: Sequence, new: Sequence, h):
    """``(first-order terms, cross term)`` of the change of a branch from weights ``old`` to ``new`` on inputs
    ``h`` (rows): for ``k = 1``, ``(ΔW h, 0)``; for ``k = 2``, with ``φ = relu`` and ``Δφ = φ(W₁′h) − φ(W₁h)``,

        first = ΔW₂ φ(W₁h) + W₂ Δφ,     cross = ΔW₂ Δφ,

    so that ``first + cross = F′(h) − F(h)`` exactly (``Δφ ≈ φ′(W₁h) ⊙ ΔW₁h`` for small steps).
    """
    import torch

    if len(old) == 1:
        return h @ (new[0] - old[0]).T, torch.zeros((), dtype=h.dtype)
    before, after = torch.relu(h @ old[0].T), torch.relu(h @ new[0].T)
    delta2 = new[1] - old[1]
    return before @ delta2.T + (after - before) @ old[1].T, (after - before) @ delta2.T


def train_branches(depth: int, k: int, alpha: float, *, width: int = 128, batch: int = 64,
                   steps: int = 8, base_lr: float = 2**-8, seed: int = 0) -> dict:
    """Train a ``depth``-block residual network with ``k`` matrices per branch for ``steps`` Adam steps and
    measure how each block's branch changed on its own input at initialisation.

    The network is ``x_l = x_{l−1} + a_L·F_l(x_{l−1})`` on ``batch`` Gaussian inputs ``x_0`` (entries of size 1),
    with a fixed μP readout ``f = ⟨w, x_L⟩ / width`` fitted by squared error to the target
    ``tanh(⟨u, x_0⟩/√width)``; only the branch matrices are trained (init ``N(0, 1/width)``, Adam with
    β = (0.9, 0.95), ε = 10⁻¹² so the step stays sign-like, LR ``base_lr · lr_factor``).

    Returns ``cross_ratio``, the mean over blocks of ``‖cross term‖ / ‖first-order terms‖`` (Frobenius norms
    over the batch; 0 for ``k = 1``, where there is no cross term), ``block_update``, the mean over blocks of
    ``L·a_L·‖ΔF_l(h_l)‖ / ‖h_l‖`` (a block's contribution to the change of the residual stream, times ``L``),
    ``weight_change``, the mean of ``‖ΔW₁‖₂ / ‖W₁‖₂``, and the loss at the first and the last step.
    """
    import torch

    if k not in (1, 2):
        raise ValueError(f"k={k}: branches have 1 matrix (W x) or 2 (W2 relu(W1 x))")
    if depth < 1 or steps < 1:
        raise ValueError(f"depth={depth} and steps={steps} must be positive")
    a_l, lr_factor = _depth_scaling(width, depth, alpha)
    gen = torch.Generator().manual_seed(seed)
    init = [[torch.randn(width, width, generator=gen) / math.sqrt(width) for _ in range(k)]
            for _ in range(depth)]
    x0 = torch.randn(batch, width, generator=gen)
    target = torch.tanh(x0 @ torch.randn(width, generator=gen) / math.sqrt(width))
    readout = torch.randn(width, generator=gen)
    params = [[w.clone().requires_grad_() for w in block] for block in init]

    def branch(block, h):
        return h @ block[0].T if k == 1 else torch.relu(h @ block[0].T) @ block[1].T

    def forward(blocks):
        x, inputs = x0, []
        for block in blocks:
            inputs.append(x)
            x = x + a_l * branch(block, x)
        return x, inputs

    with torch.no_grad():
        _, inputs = forward(init)
    optimizer = torch.optim.Adam([w for block in params for w in block], lr=base_lr * lr_factor,
                                 betas=(0.9, 0.95), eps=1e-12)
    losses = []
    for _ in range(steps):
        out, _ = forward(params)
        loss = (out @ readout / width - target).pow(2).mean()
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    ratios, updates, changes = [], [], []
    with torch.no_grad():
        for old, new, h in zip(init, params, inputs):
            new = [w.detach() for w in new]
            first, cross = branch_change(old, new, h)
            if k == 2:
                ratios.append((cross.norm() / first.norm()).item())
            updates.append((depth * a_l * (first + cross).norm() / h.norm()).item())
            changes.append((torch.linalg.matrix_norm(new[0] - old[0], 2)
                            / torch.linalg.matrix_norm(old[0], 2)).item())
    return {
        "depth": depth, "k": k, "alpha": alpha, "seed": seed, "width": width,
        "a_L": a_l, "lr": base_lr * lr_factor,
        "cross_ratio": statistics.fmean(ratios) if ratios else 0.0,
        "block_update": statistics.fmean(updates),
        "weight_change": statistics.fmean(changes),
        "loss_first": losses[0], "loss_last": losses[-1],
    }


def cross_term_sweep(depths: Sequence[int], alphas: Sequence[float] = (0.5, 1.0),
                     seeds: Sequence[int] = (0, 1, 2, 3, 4), ks: Sequence[int] = (2,), **kwargs) -> list[dict]:
    """:func:`train_branches` over every depth, α, seed and ``k``: one row per run (kwargs pass through)."""
    return [train_branches(depth, k, alpha, seed=seed, **kwargs)
            for k in ks for alpha in alphas for seed in seeds for depth in depths]


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` on ``xs``."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def fit_slopes(rows: Sequence[dict], key: str = "cross_ratio", k: int = 2) -> dict[float, dict]:
    """Per α: the exponent ``s`` of ``key ∝ L^s``, fitted by least squares on ``log key`` against ``log L``
    separately for each seed; returns the per-seed slopes, their mean, sample standard deviation (seed to
    seed) and standard error ``sd/√n_seeds``."""
    fits = {}
    for alpha in sorted({r["alpha"] for r in rows if r["k"] == k}):
        slopes = []
        for seed in sorted({r["seed"] for r in rows if r["alpha"] == alpha and r["k"] == k}):
            run = sorted((r for r in rows if (r["alpha"], r["seed"], r["k"]) == (alpha, seed, k)),
                         key=lambda r: r["depth"])
            slopes.append(_slope([math.log(r["depth"]) for r in run], [math.log(r[key]) for r in run]))
        sd = statistics.stdev(slopes) if len(slopes) > 1 else float("nan")
        fits[alpha] = {"slopes": slopes, "mean": statistics.fmean(slopes), "sd": sd,
                       "se": sd / math.sqrt(len(slopes))}
    return fits


def plot_cross_terms(rows: Sequence[dict], fits: dict[float, dict]):
    """Two panels over depth (log–log): the cross term relative to the first-order terms (``k = 2``), with the
    fitted exponents and an ``L^(−1/2)`` guide; and each block's contribution times ``L`` (``k = 1`` solid,
    ``k = 2`` dashed)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    from .plots import book_style

    colors = {0.5: "#0072B2", 1.0: "#D55E00"}
    names = {0.5: "α = ½", 1.0: "α = 1"}
    with plt.rc_context(book_style()):
        fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 4.4), layout="constrained")
        for alpha, fit in fits.items():
            runs = [r for r in rows if r["k"] == 2 and r["alpha"] == alpha]
            depths = sorted({r["depth"] for r in runs})
            for seed in sorted({r["seed"] for r in runs}):
                pts = sorted((r for r in runs if r["seed"] == seed), key=lambda r: r["depth"])
                left.plot([r["depth"] for r in pts], [r["cross_ratio"] for r in pts], color=colors[alpha],
                          alpha=0.25, lw=0.8)
            means = [statistics.fmean(r["cross_ratio"] for r in runs if r["depth"] == d) for d in depths]
            left.plot(depths, means, "o-", color=colors[alpha],
                      label=f"{names.get(alpha, alpha)}: exponent {fit['mean']:+.2f} ± {fit['se']:.2f}")
            if alpha == 0.5:
                left.plot(depths, [means[0] * (d / depths[0]) ** -0.5 for d in depths], ":", color="#555555",
                          label=r"$\propto L^{-1/2}$")
        left.set(xscale="log", yscale="log", xlabel="depth L (blocks)",
                 ylabel="cross term / first-order terms", title="two matrices per branch")
        left.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2))
        for alpha in fits:
            for k, style in ((1, "-"), (2, "--")):
                runs = [r for r in rows if r["k"] == k and r["alpha"] == alpha]
                depths = sorted({r["depth"] for r in runs})
                if depths:
                    right.plot(depths, [statistics.fmean(r["block_update"] for r in runs if r["depth"] == d)
                                        for d in depths], style, marker="o", color=colors[alpha],
                               label=f"{names.get(alpha, alpha)}, k = {k}")
        right.set(xscale="log", xlabel="depth L (blocks)", ylabel="L × one block's update / input",
                  title="each block's share")
        right.set_ylim(bottom=0)
        right.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        for ax in (left, right):
            ticks = sorted({r["depth"] for r in rows})
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
    return fig
