"""Spectral norms, and the corrected norm for matrices that are not full rank.

A layer ``W`` of shape ``(n_out, n_in)`` learns features when both ``W`` and its update ``ΔW``
have spectral norm ``Θ(√(n_out / n_in))`` (Yang, Simon & Bernstein 2023). This module holds the
norms that statement is made in, the random-matrix prediction they are compared with, and the
key/value repetition of grouped-query attention that makes a matrix rank-deficient.

Every function takes plain ``torch`` tensors of shape ``(n_out, n_in)``, as ``nn.Linear.weight``.
``torch`` is imported inside the functions that compute, so that the rules (which use
:func:`rank_correction`) and the command line load without it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import sympy

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "spectral_norm",
    "natural_spectral_norm",
    "random_spectral_norm",
    "repeat_kv_rows",
    "rank_correction",
    "kv_repetition_factor",
    "corrected_spectral_norm",
    "typical_gain",
    "relative_update",
    "stable_rank",
]


def spectral_norm(matrix: torch.Tensor) -> float:
    """Largest singular value ``‖A‖₂ = max_x ‖Ax‖ / ‖x‖``."""
    import torch

    _check_matrix(matrix)
    return float(torch.linalg.matrix_norm(matrix.detach().double(), ord=2))


def natural_spectral_norm(matrix: torch.Tensor) -> float:
    """Spectral norm in the units of the spectral condition: ``‖A‖₂ · √(n_in / n_out)``.

    It is ``Θ(1)`` exactly when ``A`` maps inputs with ``Θ(1)`` entries to outputs with ``Θ(1)``
    entries at most, whatever the shape; feature learning asks it to be ``Θ(1)`` for ``W`` and ``ΔW``.
    """
    n_out, n_in = matrix.shape
    return spectral_norm(matrix) * math.sqrt(n_in / n_out)


def random_spectral_norm(n_out: int, n_in: int, std: float) -> float:
    """Bai–Yin/Gordon prediction for a matrix of i.i.d. ``N(0, std²)`` entries.

    ``‖A‖₂ ≈ std · (√n_out + √n_in)``, sharp as both sizes grow.
    """
    for name, value in (("n_out", n_out), ("n_in", n_in)):
        if value <= 0:
            raise ValueError(f"{name}={value} must be a positive size")
    if std < 0:
        raise ValueError(f"std={std} must be non-negative")
    return std * (math.sqrt(n_out) + math.sqrt(n_in))


def repeat_kv_rows(kv_weight: torch.Tensor, r: int, head_dim: int) -> torch.Tensor:
    """The operator grouped-query attention actually applies: each KV head's rows repeated ``r`` times.

    ``W_K`` of shape ``(H_kv·d, n)`` becomes ``K⊕`` of shape ``(r·H_kv·d, n) = (H·d, n)``, with query
    head ``h`` reading key/value head ``h // r`` (the grouping of ``scaled_dot_product_attention``
    with ``enable_gqa=True``). ``rank(K⊕) = rank(W_K) ≤ n / r``.
    """
    _check_matrix(kv_weight)
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise ValueError(f"r={r!r} must be a positive integer (r = n_head / n_kv_head)")
    rows, n_in = kv_weight.shape
    if head_dim < 1 or rows % head_dim:
        raise ValueError(
            f"kv_weight has {rows} rows, not a multiple of head_dim={head_dim}; "
            "pass the head dimension d = width / n_head"
        )
    heads = kv_weight.reshape(rows // head_dim, head_dim, n_in)
    return heads.repeat_interleave(r, dim=0).reshape(r * rows, n_in)


def rank_correction(rho):
    """How much rank deficiency inflates a random matrix's spectral norm: ``c(ρ) = (1 + √ρ) / 2``.

    Repeat each row of a ``(n/ρ) × n`` Gaussian matrix ``ρ`` times: the result is ``n × n`` of rank
    ``n/ρ`` and its norm is ``√ρ · σ(√(n/ρ) + √n) = σ√n (1 + √ρ)``, against ``2σ√n`` for a dense
    ``n × n`` matrix of the same entries. ``c(1) = 1``. Accepts numbers or ``sympy`` symbols, so
    :mod:`gqa_mup_ref.parameterization` builds its key/value rule from this one definition.
    """
    if isinstance(rho, sympy.Basic):
        return (1 + sympy.sqrt(rho)) / 2
    if rho < 1:
        raise ValueError(f"rank deficiency rho={rho} must be >= 1 (rho = min(n_out, n_in) / rank)")
    return (1 + math.sqrt(rho)) / 2


def kv_repetition_factor(r, query_ratio=1):
    """Spectral norm of the repeated key/value operator over a dense one of its shape.

    ``K⊕`` repeats the rows of ``W_K`` (shape ``(n_q/r) × n``, i.i.d. ``N(0, σ²)``) ``r`` times, so
    ``‖K⊕‖ = √r·‖W_K‖ ≈ σ(√n_q + √(r·n))``, against ``σ(√n_q + √n)`` for a dense ``n_q × n`` matrix.
    With ``ρ = n_q / n = H·d / n`` (``query_ratio``) the factor is

        c(r, ρ) = (√ρ + √r) / (√ρ + 1),

    which is :func:`rank_correction` ``(1 + √r)/2`` when ``n_q = n`` (``d = n / H``). Accepts numbers or
    ``sympy`` symbols; :mod:`gqa_mup_ref.parameterization` builds the GQA-μP key/value rule from it.
    """
    if isinstance(r, sympy.Basic) or isinstance(query_ratio, sympy.Basic):
        return (sympy.sqrt(query_ratio) + sympy.sqrt(r)) / (sympy.sqrt(query_ratio) + 1)
    if r < 1:
        raise ValueError(f"r={r} must be >= 1 (r = n_head / n_kv_head)")
    if not query_ratio > 0:
        raise ValueError(f"query_ratio={query_ratio} must be positive (n_q / n = n_head * head_dim / width)")
    return (math.sqrt(query_ratio) + math.sqrt(r)) / (math.sqrt(query_ratio) + 1)


def corrected_spectral_norm(matrix: torch.Tensor, rank: int | None = None) -> float:
    """Spectral norm corrected for rank deficiency: ``‖A‖₂ / c(ρ)`` with ``ρ = min(n_out, n_in) / rank``.

    For full-rank matrices it is the spectral norm. For a random matrix of rank ``k`` built by
    repeating rows (the GQA key/value operator), it restores the dense law ``σ(√n_out + √n_in)``.
    ``rank`` defaults to the numerical rank; pass it when it is known (``n / r`` for ``K⊕``).
    """
    import torch

    _check_matrix(matrix)
    if rank is None:
        rank = int(torch.linalg.matrix_rank(matrix.detach().double()))
    if not 1 <= rank <= min(matrix.shape):
        raise ValueError(
            f"rank={rank} is impossible for a {tuple(matrix.shape)} matrix; pass a rank between 1 "
            f"and {min(matrix.shape)} (the corrected norm of a zero matrix is undefined)"
        )
    return spectral_norm(matrix) / rank_correction(min(matrix.shape) / rank)


def typical_gain(matrix: torch.Tensor, n_samples: int = 256, seed: int = 0) -> float:
    """Root-mean-square gain ``√E‖Ax‖² / ‖x‖`` on random Gaussian inputs ``x``.

    Equals ``‖A‖_F / √n_in``: it sees the matrix's average direction, not its largest one, and so
    does not notice rank deficiency.
    """
    import torch

    _check_matrix(matrix)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(matrix.shape[1], n_samples, generator=generator, dtype=torch.float64)
    y = matrix.detach().double() @ x
    return float((y.square().sum(0) / x.square().sum(0)).mean().sqrt())


def relative_update(weight: torch.Tensor, update: torch.Tensor) -> float:
    """``‖ΔW‖₂ / ‖W‖₂``: how far one update moves a layer, in the norm that bounds its output change."""
    if weight.shape != update.shape:
        raise ValueError(f"weight shape {tuple(weight.shape)} != update shape {tuple(update.shape)}")
    return spectral_norm(update) / spectral_norm(weight)


def stable_rank(matrix: torch.Tensor) -> float:
    """``‖A‖_F² / ‖A‖₂²``: between 1 (one dominant direction) and the rank."""
    norm = spectral_norm(matrix)
    return float(matrix.detach().double().square().sum()) / norm**2 if norm > 0 else 0.0


def _check_matrix(matrix: torch.Tensor) -> None:
    import torch

    if not isinstance(matrix, torch.Tensor) or matrix.dim() != 2:
        got = tuple(matrix.shape) if isinstance(matrix, torch.Tensor) else type(matrix).__name__
        raise ValueError(f"expected a 2-D tensor of shape (n_out, n_in), got {got}")
