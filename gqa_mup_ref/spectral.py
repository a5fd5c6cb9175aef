"""Spectral norms, and the corrected norm of the repeated key/value operator.

A layer ``W`` of shape ``(n_out, n_in)`` learns features when both ``W`` and its update ``ΔW``
have spectral norm ``Θ(√(n_out / n_in))`` (Yang, Simon & Bernstein 2023). This module holds the
norms that statement is made in, the random-matrix prediction they are compared with, and the
key/value repetition of grouped-query attention, with the norm corrected for that structure.

Every function takes plain ``torch`` tensors of shape ``(n_out, n_in)``, as ``nn.Linear.weight``.
``torch`` is imported inside the functions that compute, so that the rules (which use
:func:`kv_repetition_factor`) and the command line load without it.
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

    ``‖A‖₂ ≈ std · (√n_out + √n_in)``, sharp as both sizes grow: the largest singular value of a
    rectangular Gaussian matrix (Yin, Bai & Krishnaiah 1988, *Probab. Theory Relat. Fields* 78;
    Bai & Yin 1993, *Ann. Probab.* 21 for the smallest, √n_out − √n_in).
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


def rank_correction(r):
    """The key/value norm excess when ``H·d = n``: ``c(r) = (1 + √r) / 2``.

    Repeat each head block of a ``(n/r) × n`` Gaussian matrix ``r`` times: the result ``K⊕`` is
    ``n × n`` and its norm is ``√r · σ(√(n/r) + √n) = σ√n (1 + √r)``, against ``2σ√n`` for a dense
    ``n × n`` matrix of the same entries. ``c(1) = 1``. It is :func:`kv_repetition_factor` at
    ``ρ = n_q / n = 1``. Accepts numbers or ``sympy`` symbols.
    """
    if isinstance(r, sympy.Basic):
        return kv_repetition_factor(r, 1)
    if r < 1:
        raise ValueError(f"r={r} must be >= 1 (r = n_head / n_kv_head)")
    return kv_repetition_factor(r, 1)


def kv_repetition_factor(r, query_ratio=1):
    """Spectral norm of the repeated key/value operator over a dense one of its shape.

    ``K⊕`` repeats the rows of ``W_K`` (shape ``(n_q/r) × n``, i.i.d. ``N(0, σ²)``) ``r`` times, so
    ``‖K⊕‖ = √r·‖W_K‖ ≈ σ(√n_q + √(r·n))``, against ``σ(√n_q + √n)`` for a dense ``n_q × n`` matrix.
    With ``ρ = n_q / n = H·d / n`` (``query_ratio``) the factor is

        c(r, ρ) = (√ρ + √r) / (√ρ + 1),

    which is :func:`rank_correction` ``(1 + √r)/2`` when ``n_q = n`` (``d = n / H``). Accepts numbers or
    ``sympy`` symbols; :mod:`gqa_mup_ref.parameterization` builds the GQA-μP key/value rule from it.
    Derived in Chapter 2, :doc:`A corrected norm for repeated keys and values <ch02_corrected_norm>`.
    """
    if isinstance(r, sympy.Basic) or isinstance(query_ratio, sympy.Basic):
        return (sympy.sqrt(query_ratio) + sympy.sqrt(r)) / (sympy.sqrt(query_ratio) + 1)
    if r < 1:
        raise ValueError(f"r={r} must be >= 1 (r = n_head / n_kv_head)")
    if not query_ratio > 0:
        raise ValueError(f"query_ratio={query_ratio} must be positive (n_q / n = n_head * head_dim / width)")
    return (math.sqrt(query_ratio) + math.sqrt(r)) / (math.sqrt(query_ratio) + 1)


def corrected_spectral_norm(kv_matrix: torch.Tensor, r: int) -> float:
    """Corrected norm of the operator attention applies: ``‖P A‖₂ / c(r, ρ)`` for a stored ``A``.

    ``A`` is a key/value weight ``W_K`` *or its update* ``ΔW_K``, shape ``(n_q / r, n)``, as stored;
    ``P`` repeats each head block ``r`` times (:func:`repeat_kv_rows`), so ``P A`` is the
    ``n_q × n`` operator attention applies, and ``‖P A‖₂ = √r ‖A‖₂`` exactly (``Pᵀ P = r I``,
    whatever the head dimension). The correction is the structure's, not the matrix's:

        ‖A‖_{2,c} = √r ‖A‖₂ / c(r, ρ),   c(r, ρ) = (√ρ + √r) / (√ρ + 1),   ρ = n_q / n,

    (:func:`kv_repetition_factor`), the same ``c`` for a weight and for its update, whatever their
    rank. With ``r = 1`` it is the spectral norm, for every matrix (a rank-one update of a dense
    layer included). For Gaussian ``A`` it restores the dense law ``σ(√n_q + √n)``.
    """
    _check_matrix(kv_matrix)
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise ValueError(f"r={r!r} must be a positive integer (r = n_head / n_kv_head; 1 for a dense layer)")
    rows, n_in = kv_matrix.shape
    query_ratio = r * rows / n_in  # ρ = n_q / n of the repeated operator
    return math.sqrt(r) * spectral_norm(kv_matrix) / kv_repetition_factor(r, query_ratio)


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
