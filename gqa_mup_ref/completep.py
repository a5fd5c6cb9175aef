"""CompleteP's depth and weight-decay rules, measured: the instruments of Chapter 3.

Depth. A pre-norm transformer of ``L`` blocks computes ``x_L = x_0 + Σ_l ρ·F_l(x_{l−1})`` with the
residual multiplier ``ρ = m_L^(−α)``, ``m_L = L / L_base`` (:mod:`gqa_mup_ref.parameterization`).
At initialisation the branch outputs ``F_l`` are independent random vectors of size ``Θ(1)`` per
coordinate, so their sum grows like a random walk,

    ‖Σ_l ρ·F_l‖ ≈ ρ·√L·‖F‖           (incoherent: ∝ √L·L^(−α)),

while after a step every block moves its output in a direction that lowers the same loss, so the
changes ``δF_l`` are aligned and add like a sum of equal vectors,

    ‖Σ_l ρ·δF_l‖ ≈ ρ·L·‖δF‖          (coherent: ∝ L·L^(−α)).

:func:`branch_sums` measures both sums in a real model, with the *coherence* ``‖Σ v_l‖ / √(Σ ‖v_l‖²)``
(1 for orthogonal summands, ``√L`` for parallel ones). :func:`depth_profile` records, per block,
the size of the residual stream and of the block's contribution and its change after a few steps.

Weight decay. Decoupled AdamW updates ``W ← (1 − ηλ)·W − η·u`` (``u`` the Adam direction, entries of
size ≲ 1). Without gradients the weight forgets its initialisation after ``≈ 1/(ηλ)`` steps (the
*timescale*, which the inverse-LR decay rule keeps fixed); if the ``u_t`` were uncorrelated, ``E W²``
would settle where shrinking and growing balance, ``(2ηλ)·W² ≈ η²·rms(u)²``, i.e. at the
*equilibrium* ``RMS(W) ≈ rms(u)·√(η / 2λ)``. :func:`decay_trajectory` records a hidden matrix's RMS
during training for comparison with both.

The two sweeps of the chapter are defined here (:func:`depth_lr_sweep`, :func:`weight_decay_sweep`)
and run by ``scripts/ch03_sweeps.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from .config import RunConfig
from .sweep import expand_grid

__all__ = [
    "DEPTH_LR_RESULTS",
    "WEIGHT_DECAY_RESULTS",
    "coherence",
    "depth_probe",
    "gradient_rms_by_role",
    "decay_trajectory",
    "equilibrium_rms",
    "depth_lr_sweep",
    "weight_decay_sweep",
]

DEPTH_LR_RESULTS = "results/ch03_depth_lr"
WEIGHT_DECAY_RESULTS = "results/ch03_weight_decay"


def depth_lr_sweep() -> list[RunConfig]:
    """LR transfer across depth: ``mup`` at width 64, ``L ∈ {2, 4, 8}`` on a proxy of depth 2,
    ``α ∈ {0, 1}``, ``log₂ η ∈ {−10, …, −4}``, seeds 0–2, 150 steps (126 runs).

    With ``base_depth = 2`` both values of ``α`` give the same model at ``L = 2``; hidden learning
    rates are the same for both at every depth (``m_L^(α−1) = 1`` at ``α = 1``), so the runs differ
    only in the residual multiplier ``(2/L)^α`` (and ε).
    """
    fixed = dict(parameterization="mup", width=64, base_width=64, base_depth=2, n_head=4,
                 n_kv_head=4, steps=150, batch_size=16, context_length=64)
    grid = dict(alpha=[0.0, 1.0], depth=[2, 4, 8], seed=[0, 1, 2], log2_lr=[-10, -9, -8, -7, -6, -5, -4])
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


# ----------------------------------------------------------------------------- depth


def coherence(summands) -> float:
    """``‖Σ_l v_l‖ / √(Σ_l ‖v_l‖²)`` for tensors ``v_l`` of one shape: 1 when they are orthogonal
    (a random walk, the sum grows like √L), ``√L`` when they are parallel and equal."""
    total = sum(v.double() for v in summands)
    return float(total.norm() / sum(v.double().square().sum() for v in summands).sqrt())


def _rms(tensor) -> float:
    return float(tensor.double().square().mean().sqrt())


def depth_probe(config: RunConfig, steps: int = 1, batch_seed: int = 1234) -> dict:
    """Residual stream and branch contributions of one model, at init and after ``steps`` steps.

    On a fixed probe batch, block ``l``'s two branch contributions are ``ρ·Attn(LN(x))`` and
    ``ρ·MLP(LN(x))`` (``ρ`` the residual multiplier): ``2L`` summands ``v_l`` with
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


# ----------------------------------------------------------------------------- weight decay


def equilibrium_rms(lr: float, weight_decay: float, update_rms: float = 1.0) -> float:
    """RMS entry at which decoupled decay balances uncorrelated updates: ``update_rms·√(η/2λ)``.

    From ``W ← (1−ηλ)W − η·u``: ``E W²`` is stationary when ``(1−ηλ)²·E W² + η²·E u² = E W²``,
    i.e. ``E W² = η²·E u² / (2ηλ − η²λ²) ≈ η·E u² / (2λ)`` for ``ηλ ≪ 1``.
    """
    if not (lr > 0 and weight_decay > 0):
        raise ValueError(f"lr={lr} and weight_decay={weight_decay} must be positive")
    return update_rms * math.sqrt(lr * lr / (2 * lr * weight_decay - (lr * weight_decay) ** 2))


def decay_trajectory(config: RunConfig, role: str = "mlp_in", every: int = 10) -> list[dict]:
    """RMS of one role's matrices during training with AdamW (the run's schedule, clipping, decay).

    Every ``every`` steps (and at the end) a row: ``step``, ``w_rms`` (RMS entry of the role's
    weights), ``u_rms`` (RMS of that step's Adam direction ``u = −(W_{t+1} − (1−η_tλ)W_t)/η_t``),
    ``lr`` and ``weight_decay`` (the role's effective ``η_t`` and ``λ``), ``decay_steps``
    (``Σ_t η_t·λ``, the number of decay timescales elapsed) and ``loss``.
    """
    import torch

    from .train import build, lr_multiplier, optimizer_step

    model, optimizer, corpus = build(config)
    params = model.parameters_by_role()[role]
    group = next(g for g in optimizer.param_groups if g["role"] == role)
    batches = torch.Generator().manual_seed(config.seed)

    def w_rms() -> float:
        return math.sqrt(sum(float(p.double().square().sum()) for p in params)
                         / sum(p.numel() for p in params))

    rows, elapsed = [], 0.0
    for step in range(config.steps):
        for g in optimizer.param_groups:
            g["lr"] = g["base_lr"] * lr_multiplier(step, config)
        x, y = corpus.get_batch("train", config.batch_size, config.context_length, batches)
        before = [p.detach().clone() for p in params]
        loss = model(x, y)[1]
        optimizer_step(model, optimizer, loss, config.grad_clip)
        eta, lam = group["lr"], group["weight_decay"]
        elapsed += eta * lam
        if step % every == 0 or step == config.steps - 1:
            u = [-(p.detach() - (1 - eta * lam) * b) / eta for p, b in zip(params, before)]
            u_rms = math.sqrt(sum(float(t.double().square().sum()) for t in u)
                              / sum(t.numel() for t in u))
            rows.append({"step": step + 1, "w_rms": w_rms(), "u_rms": u_rms, "lr": eta,
                         "weight_decay": lam, "decay_steps": elapsed, "loss": float(loss)})
    return rows
