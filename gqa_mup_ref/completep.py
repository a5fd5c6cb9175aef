"""CompleteP's depth and weight-decay rules, measured: the instruments of Chapter 3.

Depth. A pre-norm transformer of ``L`` blocks computes ``x_L = x_0 + Σ_l a_L·F_l(x_{l−1})`` with the
residual multiplier ``a_L = m_L^(−α)``, ``m_L = L / L_base`` (:mod:`gqa_mup_ref.parameterization`).
At initialisation the branch outputs ``F_l`` are independent random vectors of size ``Θ(1)`` per
coordinate, so their sum grows like a random walk,

    ‖Σ_l a_L·F_l‖ ≈ a_L·√L·‖F‖           (incoherent: ∝ √L·L^(−α)),

while after a step every block moves its output in a direction that lowers the same loss, so the
changes ``δF_l`` are aligned and add like a sum of equal vectors,

    ‖Σ_l a_L·δF_l‖ ≈ a_L·L·‖δF‖          (coherent: ∝ L·L^(−α)).

:func:`depth_probe` measures both sums in a real model, with the *coherence* ``‖Σ v_l‖ / √(Σ ‖v_l‖²)``
(1 for orthogonal summands, ``√L`` for parallel ones), and records, per block, the size of the residual
stream and of the block's contribution and its change after a few steps. :func:`coherence_exponents`
fits how both coherences grow with ``L``, over seeds, on the chapter's probe model (:func:`probe_config`).

Weight decay. Decoupled AdamW updates ``W ← (1 − ηλ)·W − η·u`` (``u`` the Adam direction, entries of
size ≲ 1). Without gradients the weight forgets its initialisation after ``≈ 1/(ηλ)`` steps (the
*timescale*, which the inverse-LR decay rule keeps fixed). Where the weight settles depends on how the
``u_t`` add up: if they were uncorrelated, ``E W²`` would settle at ``(2ηλ)·W² ≈ η²·rms(u)²``, the
*incoherent* equilibrium ``RMS(W) ≈ rms(u)·√(η / 2λ)`` (:func:`equilibrium_rms`); if they kept one
direction, at the fixed point ``W = −u/λ``, the *coherent* equilibrium ``RMS(W) ≈ rms(u)/λ``
(:func:`aligned_equilibrium_rms`). :func:`decay_trajectory` records a hidden matrix during training in
both the RMS and the natural spectral norm, and splits it into the decayed initialisation and the
learned part the updates wrote.
The two sweeps of the chapter are defined here (:func:`depth_lr_sweep`, :func:`weight_decay_sweep`)
and run by ``scripts/ch03_sweeps.py``. Their figures are drawn by :mod:`gqa_mup_ref.completep_figures`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

from .analysis import _spread
from .config import RunConfig
from .sweep_config import expand_grid

__all__ = [
    "DEPTH_LR_RESULTS",
    "WEIGHT_DECAY_RESULTS",
    "DECAY_SEEDS_RESULTS",
    "decay_config",
    "results_path",
    "coherence",
    "probe_config",
    "depth_probe",
    "coherence_exponents",
    "mean_se",
    "gradient_rms_by_role",
    "decay_trajectory",
    "equilibrium_rms",
    "aligned_equilibrium_rms",
    "landscape_mismatch",
    "depth_lr_sweep",
    "weight_decay_sweep",
    "depth_coord_check",
]

DEPTH_LR_RESULTS = "ch03_depth_lr"
WEIGHT_DECAY_RESULTS = "ch03_weight_decay"
DECAY_SEEDS_RESULTS = "ch03_decay_seeds"
"""The folders, in the book's results folder, of the two sweeps and of the seed repeats of
:func:`decay_config` (:func:`results_path` finds them)."""


def results_path(name: str):
    """``name`` (e.g. ``DEPTH_LR_RESULTS``) in the book's results folder: :func:`gqa_mup_ref.results.results_path`,
    which looks in ``GQA_MUP_RESULTS``, the checkout that holds this package, or the copy installed with it, and
    raises :class:`FileNotFoundError` naming the places it looked in and the fix when there is none."""
    from .results import results_path as located

    return located(name)


def depth_lr_sweep() -> list[RunConfig]:
    """LR transfer across depth: ``mup`` at width 64, ``L ∈ {2, 4, 8}`` on a proxy of depth 2,
    ``α ∈ {0, 1}``, ``log₂ η ∈ {−9, …, −4}``, seeds 0–2, 150 steps (108 runs).

    With ``base_depth = 2`` both values of ``α`` give the same model at ``L = 2``; hidden learning
    rates are the same for both at every depth (``m_L^(α−1) = 1`` at ``α = 1``), so the runs differ
    only in the residual multiplier ``(2/L)^α`` (and ε).
    """
    fixed = dict(parameterization="mup", width=64, base_width=64, base_depth=2, n_head=4,
                 n_kv_head=4, steps=150, batch_size=16, context_length=64)
    grid = dict(alpha=[0.0, 1.0], depth=[2, 4, 8], seed=[0, 1, 2], log2_lr=[-9, -8, -7, -6, -5, -4])
    return expand_grid(fixed, grid)


def weight_decay_sweep() -> list[RunConfig]:
    """Weight-decay transfer across width: depth 2, widths 32 (the proxy, ``m = 1``) and 128
    (``m = 4``), ``log₂ η ∈ {−7, −6, −5}``, ``log₂ λ ∈ {−6, −4, −2, 0, 2}`` (steps of 4 = ``m``),
    seeds 0–1, 200 steps; ``mup`` (inverse-LR decay, ``λ·m``) and ``mup-fixed-wd`` (``λ``) at width
    128. At ``m = 1`` the two rules are the same model, so the proxy runs once, under ``mup`` (90 runs).
    """
    fixed = dict(base_width=32, depth=2, base_depth=2, n_head=4, n_kv_head=4, steps=200,
                 batch_size=16, context_length=64)
    grid = dict(seed=[0, 1], log2_lr=[-7, -6, -5], log2_weight_decay=[-6, -4, -2, 0, 2])
    proxy = expand_grid(fixed | dict(parameterization="mup", width=32), grid)
    target = expand_grid(fixed | dict(width=128), dict(parameterization=["mup", "mup-fixed-wd"]) | grid)
    return proxy + target


def decay_config(parameterization: str, width: int, seed: int = 0) -> RunConfig:
    """The weight-decay trajectory run: 2 blocks, proxy width 32, 300 steps at a constant base LR
    ``2⁻⁶`` and base decay ``λ = 1`` (``ηλ·300 ≈ 4.7`` timescales at the proxy), no warm-up."""
    return RunConfig(parameterization=parameterization, width=width, base_width=32, depth=2,
                     base_depth=2, n_head=4, n_kv_head=4, lr=2**-6, weight_decay=1.0, steps=300,
                     schedule="constant", warmup_fraction=0.0, seed=seed)


# ----------------------------------------------------------------------------- depth


def coherence(summands) -> float:
    """``‖Σ_l v_l‖ / √(Σ_l ‖v_l‖²)`` for tensors ``v_l`` of one shape: 1 when they are orthogonal
    (a random walk, the sum grows like √L), ``√L`` when they are parallel and equal."""
    total = sum(v.double() for v in summands)
    return float(total.norm() / sum(v.double().square().sum() for v in summands).sqrt())


def probe_config(depth: int, alpha: float, base_depth: int = 2, seed: int = 0,
                 lr: float = 2**-6) -> RunConfig:
    """The model Chapter 3 probes across depth: ``mup`` at width 64 (= its base width, so ``m = 1``),
    4 query and 4 key/value heads, ``depth`` blocks on a proxy of ``base_depth``, residual multiplier
    ``a_L = m_L^(−α)`` with ``m_L = depth/base_depth``, base learning rate ``lr`` (``2⁻⁶``)."""
    return RunConfig(parameterization="mup", alpha=alpha, width=64, base_width=64, depth=depth,
                     base_depth=base_depth, n_head=4, n_kv_head=4, lr=lr, seed=seed)


def _rms(tensor) -> float:
    return float(tensor.double().square().mean().sqrt())


def depth_probe(config: RunConfig, steps: int = 1, batch_seed: int = 1234) -> dict:
    """Residual stream and branch contributions of one model, at init and after ``steps`` steps.

    On a fixed probe batch, block ``l``'s two branch contributions are ``a_L·Attn(LN(x))`` and
    ``a_L·MLP(LN(x))`` (``a_L`` the residual multiplier): ``2L`` summands ``v_l`` with
    ``x_L = x_0 + Σ_l v_l``. Training is ``steps`` AdamW steps at the run's learning rates, full
    strength (no warm-up, no clipping), as in :mod:`gqa_mup_ref.coordcheck`. Returns

    * per block: ``stream_rms`` (RMS entry of ``x_l`` at init), ``branch_rms`` (RMS of the block's
      two contributions), ``dbranch_rms`` (RMS of their change after the steps), ``rel_update``
      (``‖ΔW‖₂/‖W₀‖₂`` of the block's MLP input matrix);
    * the sums: ``init_sum_rms = RMS(Σ v_l⁰)`` and ``update_sum_rms = RMS(Σ δv_l)`` with
      ``δv_l = v_l^t − v_l⁰``, their :func:`coherence` (``init_coherence``, ``update_coherence``),
      ``init_branch_rms`` and ``update_branch_rms`` (RMS of one summand, averaged in square over
      the ``2L`` of them), ``embed_rms`` (RMS of ``x_0``) and ``stream_update_rms`` (RMS of ``Δx_L``).
    """
    import torch

    from .spectral import spectral_norm
    from .train import build, optimizer_step

    model, optimizer, corpus = build(config)
    rho = model.rules.residual_multiplier
    probe_x, _ = corpus.get_batch("train", config.batch_size, config.context_length,
                                  torch.Generator().manual_seed(batch_seed))
    depth = config.depth

    def record():
        with torch.no_grad(), model.record_activations() as records:
            model(probe_x)
        branches = []
        for i in range(depth):
            branches += [rho * records[f"blocks.{i}.attn.out"].clone(),
                         rho * records[f"blocks.{i}.mlp.down"].clone()]
        embed = (records["token_embedding"] + records["position_embedding"]).clone()
        streams = [records[f"blocks.{i}"].clone() for i in range(depth)]
        return embed, branches, streams

    weights0 = [block.mlp.up.weight.detach().clone() for block in model.blocks]
    embed0, branches0, streams0 = record()
    batches = torch.Generator().manual_seed(config.seed)
    for _ in range(steps):
        x, y = corpus.get_batch("train", config.batch_size, config.context_length, batches)
        optimizer_step(model, optimizer, model(x, y)[1])
    _, branches1, streams1 = record()
    updates = [b1 - b0 for b0, b1 in zip(branches0, branches1)]

    def mean_square_rms(tensors) -> float:
        return math.sqrt(sum(_rms(t) ** 2 for t in tensors) / len(tensors))

    blocks = []
    for i, block in enumerate(model.blocks):
        delta = block.mlp.up.weight.detach() - weights0[i]
        blocks.append({
            "block": i,
            "stream_rms": _rms(streams0[i]),
            "branch_rms": mean_square_rms(branches0[2 * i:2 * i + 2]),
            "dbranch_rms": mean_square_rms(updates[2 * i:2 * i + 2]),
            "rel_update": spectral_norm(delta) / spectral_norm(weights0[i]),
        })
    return {
        "depth": depth,
        "alpha": model.parameterization.alpha,
        "residual_multiplier": rho,
        "lr": config.lr,
        "steps": steps,
        "blocks": blocks,
        "embed_rms": _rms(embed0),
        "init_sum_rms": _rms(sum(branches0)),
        "init_branch_rms": mean_square_rms(branches0),
        "init_coherence": coherence(branches0),
        "update_sum_rms": _rms(sum(updates)),
        "update_branch_rms": mean_square_rms(updates),
        "update_coherence": coherence(updates),
        "stream_update_rms": _rms(streams1[-1] - streams0[-1]),
    }


def mean_se(values: Iterable[float]) -> tuple[float, float]:
    """Mean and standard error ``s/√n`` of ``n ≥ 2`` values (seeds), ``s`` the sample standard
    deviation (``n − 1`` in its denominator). The 95 % margin is ``T_975[n − 1] · se``
    (:data:`gqa_mup_ref.kv_transfer.T_975`)."""
    spread = _spread(list(values))  # the package's one mean/sd/sem (analysis), as seed_summary uses
    if spread["n"] < 2:
        raise ValueError(f"{spread['n']} value(s): a standard error needs at least two; add seeds")
    return spread["mean"], spread["sem"]


def coherence_exponents(depths: Sequence[int], seeds: Iterable[int], alpha: float = 1.0,
                        probes: Mapping[tuple[int, int], Mapping] | None = None
                        ) -> dict[str, tuple[float, float]]:
    """How the :func:`coherence` of the ``2L`` summands grows with depth, over seeds.

    For each seed, the least-squares exponent ``s`` of ``coherence ∝ L^s`` over ``depths``
    (:func:`gqa_mup_ref.coordcheck.fit_slope`), for the initial contributions (``"init"``) and for
    their one-step changes (``"update"``) of :func:`depth_probe` on :func:`probe_config` ``(L, alpha,
    seed=seed)``; returns ``{kind: (mean, se)}`` of those exponents over the seeds (:func:`mean_se`).
    A random walk keeps the coherence at 1 (``s = 0``); a constant fraction of its maximum ``√(2L)``
    gives ``s = ½``. ``probes`` maps ``(depth, seed)`` to probes already run, which are used as they are.
    """
    from .coordcheck import fit_slope

    probes = dict(probes or {})
    slopes: dict[str, list[float]] = {"init": [], "update": []}
    for seed in seeds:
        run = [probes[depth, seed] if (depth, seed) in probes
               else depth_probe(probe_config(depth, alpha, seed=seed)) for depth in depths]
        for kind, values in slopes.items():
            values.append(fit_slope(list(depths), [p[f"{kind}_coherence"] for p in run]))
    return {kind: mean_se(values) for kind, values in slopes.items()}


def gradient_rms_by_role(config: RunConfig, batch_seed: int = 1234) -> dict[str, float]:
    """RMS gradient entry per parameter role at initialisation, on one fixed batch.

    Adam divides the gradient ``g`` by ``√v + ε`` with ``√v ≈ |g|``; ε only keeps its meaning
    (a floor far below ``|g|``) if it scales like ``|g|``. The ε rule predicts
    ``RMS(g_role) ∝ eps_factor(role)`` across widths and depths.
    """
    import torch

    from .train import build

    model, _, corpus = build(config)
    x, y = corpus.get_batch("train", config.batch_size, config.context_length,
                            torch.Generator().manual_seed(batch_seed))
    model(x, y)[1].backward()
    squares: dict[str, list[float]] = {}
    for _, role, param in model.named_parameters_with_role():
        squares.setdefault(role, []).extend([float(param.grad.double().square().sum()), param.numel()])
    return {role: math.sqrt(sum(v[0::2]) / sum(v[1::2])) for role, v in squares.items()}


def depth_coord_check(base: RunConfig, depths: Sequence[int], alphas: Sequence[float],
                      steps: int = 3) -> list[dict]:
    """:func:`gqa_mup_ref.coordcheck.coord_check` over ``depths`` for each ``alpha``, summarised
    per model (layers of one kind pooled by RMS over blocks), one row per (α, L, step), steps 1…``steps``:

    ``stream_rms`` (RMS entry of the last block's output at init), ``stream_update_rms`` (its change
    after ``step`` steps), ``branch_update_rms`` (change of the MLP output ``F``, before ``a_L``) and
    ``rel_update`` (``‖ΔW‖₂/‖W₀‖₂`` of the hidden matrices, query/attn_out/mlp_in/mlp_out).
    """
    from .coordcheck import coord_check

    out = []
    for alpha in alphas:
        rows = coord_check(dataclasses.replace(base, alpha=alpha), "depth", list(depths), steps)
        for depth, step in ((d, s) for d in depths for s in range(1, steps + 1)):
            def pooled(quantity: str, roles, step: int, layer: str | None = None) -> float:
                vals = [r["value"] for r in rows if r["x"] == depth and r["quantity"] == quantity
                        and r["step"] == step and r["role"] in roles
                        and (layer is None or r["layer"] == layer)]
                return math.sqrt(sum(v * v for v in vals) / len(vals))

            last = f"blocks.{depth - 1}"
            out.append({
                "alpha": alpha, "depth": depth, "step": step,
                "stream_rms": pooled("act_rms", ("block",), 0, last),
                "stream_update_rms": pooled("dact_rms", ("block",), step, last),
                "branch_update_rms": pooled("dact_rms", ("mlp_out",), step),
                "rel_update": pooled("rel_update", ("query", "attn_out", "mlp_in", "mlp_out"), step),
            })
    return out


# ----------------------------------------------------------------------------- weight decay


def equilibrium_rms(lr: float, weight_decay: float, update_rms: float = 1.0) -> float:
    """RMS entry at which decoupled decay balances uncorrelated updates: ``update_rms·√(η/2λ)``.

    From ``W ← (1−ηλ)W − η·u``: ``E W²`` is stationary when ``(1−ηλ)²·E W² + η²·E u² = E W²``,
    i.e. ``E W² = η²·E u² / (2ηλ − η²λ²) ≈ η·E u² / (2λ)`` for ``ηλ ≪ 1``.
    """
    if not (lr > 0 and weight_decay > 0):
        raise ValueError(f"lr={lr} and weight_decay={weight_decay} must be positive")
    return update_rms * math.sqrt(lr * lr / (2 * lr * weight_decay - (lr * weight_decay) ** 2))


def aligned_equilibrium_rms(weight_decay: float, update_rms: float = 1.0) -> float:
    """RMS entry at which decoupled decay balances an update that keeps its direction: ``rms(u)/λ``.

    With ``u_t = u`` for all ``t``, ``W ← (1−ηλ)W − η·u`` has the fixed point ``W = −u/λ``, whatever η.
    """
    if not weight_decay > 0:
        raise ValueError(f"weight_decay={weight_decay} must be positive")
    return update_rms / weight_decay


def _matrix_stats(matrices) -> dict[str, float]:
    """Mean over ``matrices`` of the RMS entry, the natural spectral norm ``‖A‖₂·√(n_in/n_out)`` and
    the stable rank ``‖A‖_F²/‖A‖₂²``."""
    from .spectral import natural_spectral_norm, stable_rank

    return {"rms": sum(_rms(a) for a in matrices) / len(matrices),
            "natural": sum(natural_spectral_norm(a) for a in matrices) / len(matrices),
            "stable_rank": sum(stable_rank(a) for a in matrices) / len(matrices)}


def decay_trajectory(config: RunConfig, role: str = "mlp_in", every: int = 10) -> list[dict]:
    """One role's matrices during training with AdamW (the run's schedule, clipping, decay).

    Decoupled decay makes ``W_t = D_t·W₀ + A_t`` exact, with ``D_t = Π_s (1 − η_s λ)`` the decayed
    initialisation and ``A_t = −Σ_s η_s·(Π_{s<s'≤t} (1 − η_{s'}λ))·u_s`` the *learned part*
    (``W_t − W₀`` without decay). Every ``every`` steps (and at the end) a row, each size a mean over
    the role's matrices: ``w_rms`` and ``w_natural`` (RMS entry and natural spectral norm of ``W_t``),
    ``learned_rms``, ``learned_natural`` and ``learned_stable_rank`` (the same for ``A_t``),
    ``learned_share`` (``‖A_t‖_F²/‖W_t‖_F²``), ``u_rms`` (RMS of that step's Adam direction
    ``u = −(W_{t+1} − (1−η_tλ)W_t)/η_t``), ``rel_update`` (the step's spectral relative update
    ``η_t‖u‖₂/‖W_t‖₂``), ``lr`` and ``weight_decay`` (the role's ``η_t`` and ``λ``), ``decay_steps``
    (``Σ_t η_t·λ``, decay timescales elapsed) and ``loss``.
    """
    import torch

    from .spectral import spectral_norm
    from .train import build, lr_multiplier, optimizer_step

    model, optimizer, corpus = build(config)
    params = model.parameters_by_role()[role]
    group = next(g for g in optimizer.param_groups if g["role"] == role)
    batches = torch.Generator().manual_seed(config.seed)
    inits = [p.detach().double().clone() for p in params]

    rows, elapsed, kept = [], 0.0, 1.0
    for step in range(config.steps):
        for g in optimizer.param_groups:
            g["lr"] = g["base_lr"] * lr_multiplier(step, config)
        x, y = corpus.get_batch("train", config.batch_size, config.context_length, batches)
        before = [p.detach().clone() for p in params]
        loss = model(x, y)[1]
        optimizer_step(model, optimizer, loss, config.grad_clip)
        eta, lam = group["lr"], group["weight_decay"]
        elapsed, kept = elapsed + eta * lam, kept * (1 - eta * lam)
        if step % every == 0 or step == config.steps - 1:
            weights = [p.detach().double() for p in params]
            learned = [w - kept * w0 for w, w0 in zip(weights, inits)]
            u = [-(p.detach() - (1 - eta * lam) * b) / eta for p, b in zip(params, before)]
            w, a = _matrix_stats(weights), _matrix_stats(learned)
            share = (sum(float(t.square().sum()) for t in learned)
                     / sum(float(t.square().sum()) for t in weights))
            rel = sum(eta * spectral_norm(d) / spectral_norm(w) for d, w in zip(u, weights)) / len(u)
            rows.append({"step": step + 1, "w_rms": w["rms"], "w_natural": w["natural"],
                         "learned_rms": a["rms"], "learned_natural": a["natural"],
                         "learned_stable_rank": a["stable_rank"], "learned_share": share,
                         "u_rms": math.sqrt(sum(_rms(t) ** 2 for t in u) / len(u)), "rel_update": rel,
                         "lr": eta, "weight_decay": lam, "decay_steps": elapsed,
                         "loss": float(loss.detach())})
    return rows


def landscape_mismatch(rows: Sequence[Mapping], target: tuple[str, int], proxy: tuple[str, int],
                       quantile: float = 0.95, draws: int = 20000) -> dict[str, float]:
    """How much a (LR × decay) landscape changes shape between ``proxy`` and ``target``
    (``(parameterization, width)`` each), against its own seed noise.

    Per cell ``c`` and seed ``s``, ``d_{s,c} = loss_target − loss_proxy``. The statistic is the RMS over
    cells of the seed-mean ``(d_{0,c} + d_{1,c})/2`` around its mean over cells (0: same landscape,
    shifted). Its seed-split twin, built from ``(d_{0,c} − d_{1,c})/2``, has the same noise and no
    signal: that is ``noise``. Under Gaussian noise of equal variance their ratio has the null
    distribution of ``√(χ²_k / χ²_k)`` with ``k`` = cells − 1. The noise is not equal across cells (runs at
    a large learning rate scatter more), so ``k`` is the Satterthwaite effective number,
    ``(Σ v_c)² / Σ v_c² − 1``, with ``v_c`` the seed-split variance pooled over the cells of ``c``'s learning
    rate; ``threshold = noise ×`` the ratio's ``quantile`` (seeded draws). Correlation between cells beyond
    the common offset is not modelled.
    """
    import numpy as np

    def losses(setting, seed):
        out = {}
        for r in rows:
            if (r["parameterization"], r["width"], r["seed"]) == (*setting, seed):
                out[r["log2_lr"], r["weight_decay"]] = r["val_loss"]
        return out

    t, p = [losses(target, s) for s in (0, 1)], [losses(proxy, s) for s in (0, 1)]
    cells = sorted(set(t[0]) & set(t[1]) & set(p[0]) & set(p[1]))
    d = np.array([[t[s][c] - p[s][c] for c in cells] for s in (0, 1)])

    def spread(x):
        return float(np.sqrt(np.mean((x - x.mean()) ** 2)))

    half = (d[0] - d[1]) / 2
    pooled = {lr: float(np.mean([h ** 2 for h, c in zip(half, cells) if c[0] == lr])) for lr in {c[0] for c in cells}}
    v = np.array([pooled[c[0]] for c in cells])
    k = float(v.sum() ** 2 / (v ** 2).sum()) - 1 if v.any() else len(cells) - 1.0
    chi = np.random.default_rng(0).chisquare(k, size=(2, draws))
    ratio = float(np.quantile(np.sqrt(chi[0] / chi[1]), quantile))
    noise = spread(half)
    return {"mismatch": spread(d.mean(axis=0)), "noise": noise, "null_ratio": ratio,
            "threshold": noise * ratio, "cells": len(cells), "effective_dof": k}
