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
    "depth_lr_sweep",
    "weight_decay_sweep",
]

DEPTH_LR_RESULTS = "results/ch03_depth_lr"
WEIGHT_DECAY_RESULTS = "results/ch03_weight_decay"


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
