"""Chapter 2's experiments: the repeated key/value operator of grouped-query attention.

With ``H`` query heads and ``H_kv`` key/value heads, each key/value head serves ``r = H / H_kv``
query heads. The key projection ``W_K`` has shape ``(n/r, n)``, but attention applies the
``r``-fold row repetition ``K⊕ = P W_K`` (:func:`gqa_mup_ref.spectral.repeat_kv_rows`), an
``n × n`` matrix of rank ``n/r``. The repetition matrix ``P`` (:func:`repetition_matrix`) has
``Pᵀ P = r I``, so ``P/√r`` is an isometry and

    ‖K⊕‖₂ = √r ‖W_K‖₂ ≈ √r · σ(√(n/r) + √n) = σ√n (1 + √r)   (Bai–Yin for W_K),

against ``2σ√n`` for a dense ``n × n`` matrix (the Bai–Yin edge of a Gaussian matrix: Yin, Bai &
Krishnaiah 1988; Bai & Yin 1993): ``(1 + √r)/2`` times larger. Its typical gain on
random inputs is ``‖K⊕‖_F / √n = σ√n``, the dense value, whatever ``r``. A first Adam step on
``W_K`` has entries ``±η`` and is low rank, so ``‖ΔW_K‖₂ ≈ η√(n·n/r) = ηn/√r`` and
``‖ΔK⊕‖₂ ≈ ηn``, the dense size. Hence under plain μP

    (‖ΔK⊕‖₂ / ‖K⊕‖₂) / (‖ΔW_Q‖₂ / ‖W_Q‖₂) ≈ 2 / (1 + √r),

and multiplying the key/value learning rate by ``c(r) = (1 + √r)/2`` (GQA-μP) restores 1.

The functions here measure each step of that argument (:func:`norm_survey`,
:func:`corrected_norm_survey`, :func:`rank_one_update_ratios`), in a real transformer
(:func:`training_update_ratios`), and give the chapter's widget view (:func:`kv_view`); its figures are
drawn by :mod:`gqa_mup_ref.kv_repetition_figures` (re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .parameterization import KV_FACTORS, kv_factor_value
from .spectral import (
    corrected_spectral_norm,
    kv_repetition_factor,
    random_spectral_norm,
    rank_correction,
    relative_update,
    repeat_kv_rows,
    spectral_norm,
    stable_rank,
    typical_gain,
)

# The chapter's figures live in gqa_mup_ref.kv_repetition_figures; `kv_repetition.plot_norms` etc. keep working.
from .kv_repetition_figures import (  # noqa: F401
    plot_corrected_norm,
    plot_gqa_diagram,
    plot_norms,
    plot_training_ratios,
)

__all__ = [
    "repetition_matrix",
    "gaussian",
    "sign_step",
    "predicted_ratio",
    "norm_survey",
    "corrected_norm_survey",
    "head_dim_survey",
    "semi_orthogonal",
    "orthogonal_norm_ratio",
    "block_repeated_norms",
    "rank_one_update_ratios",
    "kv_factor_table",
    "training_update_ratios",
    "normalized_ratios",
    "plot_gqa_diagram",
    "plot_norms",
    "plot_corrected_norm",
    "plot_training_ratios",
    "kv_view",
]


# ----------------------------------------------------------------------------- building blocks


def repetition_matrix(n_kv_rows: int, r: int, head_dim: int) -> torch.Tensor:
    """The ``(r·n_kv_rows) × n_kv_rows`` 0/1 matrix ``P`` with ``K⊕ = P W_K``.

    It is :func:`repeat_kv_rows` applied to the identity. Each column has ``r`` ones in distinct
    rows, so ``Pᵀ P = r I``: ``P / √r`` is an isometry and ``‖P A‖₂ = √r ‖A‖₂`` for every ``A``.
    """
    return repeat_kv_rows(torch.eye(n_kv_rows, dtype=torch.float64), r, head_dim)


def gaussian(n_out: int, n_in: int, std: float, generator: torch.Generator) -> torch.Tensor:
    """A ``(n_out, n_in)`` matrix of i.i.d. ``N(0, std²)`` entries (float64)."""
    return std * torch.randn(n_out, n_in, generator=generator, dtype=torch.float64)


def sign_step(gradient: torch.Tensor, lr: float) -> torch.Tensor:
    """Adam's first step: ``−η · g / (|g| + ε)``, i.e. ``−η · sign(g)`` (``ε`` = 1e-8, as AdamW)."""
    return -lr * gradient / (gradient.abs() + 1e-8)


def predicted_ratio(kv_factor: str, r: int) -> float:
    """Predicted relative update of ``K⊕`` over that of a dense hidden matrix: ``factor(r) · 2/(1 + √r)``.

    ``kv_factor`` names an entry of ``KV_FACTORS``: ``"none"`` (plain μP) gives ``2/(1 + √r)``,
    ``"gqa"`` (GQA-μP) gives exactly 1.
    """
    if kv_factor not in KV_FACTORS:
        raise ValueError(f"unknown kv_factor={kv_factor!r}; choose one of {', '.join(KV_FACTORS)}")
    return kv_factor_value(kv_factor, r) / rank_correction(r)


def _check_divides(n: int, n_head: int, rs: Sequence[int]) -> None:
    if n % n_head:
        raise ValueError(f"n={n} is not divisible by n_head={n_head}; choose a multiple of {n_head}")
    bad = [r for r in rs if n_head % r]
    if bad:
        divisors = [k for k in range(1, n_head + 1) if n_head % k == 0]
        raise ValueError(f"r={bad} do not divide n_head={n_head}; choose r in {divisors}")


# ----------------------------------------------------------------------------- random matrices


def norm_survey(n: int, n_head: int, rs: Sequence[int], seed: int = 0, n_samples: int = 1024) -> list[dict]:
    """Norms of ``W_K``, of ``K⊕`` and of a dense ``n × n`` matrix, all with entries ``N(0, 1/n)``.

    One record per ``r``: spectral norms (SVD) beside their Bai–Yin predictions
    ``σ(√(n/r) + √n)``, ``√r · σ(√(n/r) + √n)`` and ``2σ√n``; the measured and predicted ratio
    ``‖K⊕‖₂ / ‖D‖₂`` (prediction ``(1 + √r)/2``); typical gains (:func:`typical_gain`) of
    ``K⊕`` and ``D``; and the corrected norm of ``K⊕`` (rank ``n/r``).
    """
    _check_divides(n, n_head, rs)
    head_dim, std = n // n_head, 1 / math.sqrt(n)
    generator = torch.Generator().manual_seed(seed)
    dense = gaussian(n, n, std, generator)
    dense_norm = spectral_norm(dense)
    dense_gain = typical_gain(dense, n_samples, seed)
    records = []
    for r in rs:
        w_k = gaussian(n // r, n, std, generator)
        k_rep = repeat_kv_rows(w_k, r, head_dim)
        norm_rep = spectral_norm(k_rep)
        predicted_wk = random_spectral_norm(n // r, n, std)
        records.append({
            "n": n, "r": r, "kv_heads": n_head // r, "kv_rows": n // r,
            "norm_wk": spectral_norm(w_k), "predicted_wk": predicted_wk,
            "norm_rep": norm_rep, "predicted_rep": math.sqrt(r) * predicted_wk,
            "norm_dense": dense_norm, "predicted_dense": random_spectral_norm(n, n, std),
            "ratio": norm_rep / dense_norm, "ratio_predicted": rank_correction(r),
            "gain_rep": typical_gain(k_rep, n_samples, seed), "gain_dense": dense_gain,
            "corrected_rep": corrected_spectral_norm(w_k, r),
        })
    return records


def corrected_norm_survey(ns: Sequence[int], rs: Sequence[int], n_head: int, seed: int = 0) -> list[dict]:
    """``‖K⊕‖₂`` and the corrected norm ``‖K⊕‖₂ / c(r)``, each over the dense law ``2σ√n``.

    ``K⊕`` repeats a ``(n/r) × n`` matrix of ``N(0, σ²)`` entries, ``σ = 1/√n``; the corrected norm
    is :func:`corrected_spectral_norm` of the stored ``(n/r) × n`` matrix with repetition ``r``.
    """
    generator = torch.Generator().manual_seed(seed)
    records = []
    for n in ns:
        _check_divides(n, n_head, rs)
        std = 1 / math.sqrt(n)
        dense_law = random_spectral_norm(n, n, std)
        for r in rs:
            w_k = gaussian(n // r, n, std, generator)
            records.append({
                "n": n, "r": r,
                "plain": spectral_norm(repeat_kv_rows(w_k, r, n // n_head)) / dense_law,
                "corrected": corrected_spectral_norm(w_k, r) / dense_law,
            })
    return records


def head_dim_survey(n: int, n_head: int, head_dims: Sequence[int], rs: Sequence[int], seed: int = 0) -> list[dict]:
    """``‖K⊕‖₂`` over a dense ``n_q × n`` matrix when the head dimension is set on its own (``n_q = H·d``).

    ``W_K`` is ``(n_q/r) × n`` with entries ``N(0, 1/n)``; ``K⊕`` repeats it ``r`` times. Each record
    has the SVD ratio ``‖K⊕‖₂ / ‖D‖₂`` beside the prediction ``(√n_q + √(r·n)) / (√n_q + √n)``
    (:func:`gqa_mup_ref.spectral.kv_repetition_factor` at ``ρ = n_q / n``).
    """
    bad = [r for r in rs if n_head % r]
    if bad:
        raise ValueError(f"r={bad} do not divide n_head={n_head}")
    generator = torch.Generator().manual_seed(seed)
    std = 1 / math.sqrt(n)
    records = []
    for d in head_dims:
        n_q = n_head * d
        dense = gaussian(n_q, n, std, generator)
        dense_norm = spectral_norm(dense)
        for r in rs:
            w_k = gaussian(n_q // r, n, std, generator)
            records.append({
                "n": n, "head_dim": d, "n_q": n_q, "r": r,
                "ratio": spectral_norm(repeat_kv_rows(w_k, r, d)) / dense_norm,
                "predicted": kv_repetition_factor(r, n_q / n),
            })
    return records


def semi_orthogonal(n_out: int, n_in: int, generator: torch.Generator) -> torch.Tensor:
    """A random ``(n_out, n_in)`` matrix with all singular values equal to ``√(max(n_out, n_in) / n_in)``.

    Orthonormal rows (``n_out ≤ n_in``) or scaled orthonormal columns, from the QR of a Gaussian
    matrix: entries have mean square ``1/n_in``, like the Gaussian init ``σ = 1/√n_in``.
    """
    q, r = torch.linalg.qr(torch.randn(max(n_out, n_in), min(n_out, n_in), generator=generator,
                                       dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))  # Haar-distributed
    q = q if n_out >= n_in else q.T
    return q * math.sqrt(max(n_out, n_in) / n_in)


def orthogonal_norm_ratio(n: int, n_head: int, r: int, seed: int = 0) -> dict:
    """``‖K⊕‖₂ / ‖D‖₂`` and the typical-gain ratio when ``W_K`` and ``D`` are semi-orthogonal, not Gaussian.

    Both have entries of mean square ``1/n`` and all singular values 1 (:func:`semi_orthogonal`), so
    ``‖K⊕‖₂ = √r`` and ``‖D‖₂ = 1``: the ratio is ``√r`` exactly, not ``(1 + √r)/2``, while the
    typical gains still agree.
    """
    _check_divides(n, n_head, [r])
    generator = torch.Generator().manual_seed(seed)
    w_k = semi_orthogonal(n // r, n, generator)
    dense = semi_orthogonal(n, n, generator)
    k_rep = repeat_kv_rows(w_k, r, n // n_head)
    return {
        "n": n, "r": r,
        "ratio": spectral_norm(k_rep) / spectral_norm(dense),
        "gain_ratio": typical_gain(k_rep) / typical_gain(dense),
        "sqrt_r": math.sqrt(r),
    }


def block_repeated_norms(n: int, tiles: int, seed: int = 0) -> dict:
    """A matrix repeated ``t = tiles`` times along *both* sides (``t × t`` copies of a ``(n/t)²`` block).

    Its rank is ``n/t`` like ``K⊕``'s, and it has the form ``P A`` with ``A = [B … B]`` (``t``
    copies side by side), but ``‖A‖₂ = t‖B‖₂ ≈ 2σ√(nt)``: ``√t`` times the dense law, not ``c(t)``,
    because ``A`` is not a dense Gaussian. Returns the measured ratio to ``2σ√n``, and the ratio of
    the corrected norm with repetition ``t``.
    """
    if tiles < 1 or n % tiles:
        raise ValueError(f"tiles={tiles} must be a positive divisor of n={n}")
    std = 1 / math.sqrt(n)
    block = gaussian(n // tiles, n // tiles, std, torch.Generator().manual_seed(seed))
    matrix = block.repeat(tiles, tiles)
    dense_law = random_spectral_norm(n, n, std)
    return {
        "n": n, "tiles": tiles,
        "plain": spectral_norm(matrix) / dense_law,
        "corrected": corrected_spectral_norm(block.repeat(1, tiles), tiles) / dense_law,
        "sqrt_tiles": math.sqrt(tiles),
    }


def rank_one_update_ratios(
    n: int, n_head: int, r: int, kv_factors: Sequence[str] = ("none", "gqa"), lr: float = 1e-3,
    seed: int = 0,
) -> list[dict]:
    """One Adam step on ``W_Q`` and ``W_K`` from a rank-one gradient, as in one attention layer.

    ``W_Q`` (``n × n``) and ``W_K`` (``(n/r) × n``) have entries ``N(0, 1/n)``. The loss gradient
    with respect to the queries' and the (repeated) keys' outputs is ``g xᵀ``; ``W_K`` receives
    the sum over its ``r`` copies, ``Pᵀ g xᵀ``. Each takes Adam's first step (:func:`sign_step`)
    with learning rate ``η`` for ``W_Q`` and ``η · factor(r)`` for ``W_K``, for each factor named
    in ``kv_factors`` (keys of ``KV_FACTORS``; the same matrices and gradient for all). Returns one
    record per factor: both relative updates and their ratio, predicted ``factor(r) · 2/(1 + √r)``,
    and ``‖ΔW_K‖₂ / η_K`` and ``‖ΔK⊕‖₂ / η_K`` (predicted ``n/√r`` and ``n``).
    """
    _check_divides(n, n_head, [r])
    unknown = [name for name in kv_factors if name not in KV_FACTORS]
    if unknown:
        raise ValueError(f"unknown kv_factors {unknown}; choose from {', '.join(KV_FACTORS)}")
    head_dim, std = n // n_head, 1 / math.sqrt(n)
    generator = torch.Generator().manual_seed(seed)
    w_q, w_k = gaussian(n, n, std, generator), gaussian(n // r, n, std, generator)
    g_q, g_k, x = (torch.randn(n, generator=generator, dtype=torch.float64) for _ in range(3))
    p = repetition_matrix(n // r, r, head_dim)
    d_q = sign_step(torch.outer(g_q, x), lr)
    d_k = sign_step(torch.outer(p.T @ g_k, x), lr)  # at learning rate η; scaled per factor below
    rel_q = spectral_norm(d_q) / spectral_norm(w_q)
    norm_dk, norm_drep = spectral_norm(d_k), spectral_norm(p @ d_k)
    rel_k_unit = norm_drep / spectral_norm(p @ w_k)
    records = []
    for name in kv_factors:
        factor = kv_factor_value(name, r)
        records.append({
            "n": n, "r": r, "kv_factor": name, "factor": factor,
            "rel_query": rel_q, "rel_key": factor * rel_k_unit, "ratio": factor * rel_k_unit / rel_q,
            "predicted": predicted_ratio(name, r),
            "update_wk": norm_dk / lr, "update_rep": norm_drep / lr,
        })
    return records


def kv_factor_table(rs: Sequence[int]) -> list[dict]:
    """Each candidate key/value LR factor of ``KV_FACTORS`` evaluated at every ``r``."""
    return [
        {"name": name, "description": description,
         "values": [kv_factor_value(name, r) for r in rs]}
        for name, (_, description) in KV_FACTORS.items()
    ]


# ----------------------------------------------------------------------------- a real training step


def reference_config(parameterization: str, r: int, width: int, n_head: int, depth: int, lr: float,
                     batch_size: int, context_length: int, seed: int, kv_factor: str | None = None):
    """The run of chapter 2's real-model measurements: base width = ``width`` (``m = 1``), ``H_kv = H / r``."""
    from .config import RunConfig

    _check_divides(width, n_head, [r])
    return RunConfig(
        parameterization=parameterization, kv_factor=kv_factor, width=width, base_width=width,
        depth=depth, n_head=n_head, n_kv_head=n_head // r, lr=lr, batch_size=batch_size,
        context_length=context_length, seed=seed,
    )


def training_update_ratios(
    parameterization: str,
    r: int,
    checkpoints: Sequence[int] = (1, 10),
    width: int = 256,
    n_head: int = 16,
    depth: int = 2,
    lr: float = 2**-5.5,
    batch_size: int = 16,
    context_length: int = 64,
    seed: int = 0,
) -> list[dict]:
    """Relative updates of the keys and values of a real GQA transformer, over those of ``W_Q``.

    Builds the model with :func:`gqa_mup_ref.train.build` (base width = ``width``, so ``η`` is the
    base LR), trains with AdamW at a constant learning rate (no warm-up, no weight decay, gradients
    clipped at 1) on character-level text, and after each checkpoint step reports, per block and
    for ``kind`` in keys and values, the ratio

        (‖ΔK⊕‖₂ / ‖K⊕‖₂) / (‖ΔW_Q‖₂ / ‖W_Q‖₂)      (Δ since init; prediction 2/(1 + √r) under
                                                   ``mup``, 1 under ``gqa-mup``)

    with the stable ranks of ``ΔW_Q`` and ``ΔW_K``/``ΔW_V``. Since ``‖ΔW‖₂ = ‖ΔW‖_F / √srank`` and a
    sign step has ``‖ΔW‖_F = η√(entries)``, unequal stable ranks move the ratio off the prediction;
    ``adjusted`` is the prediction times ``√(srank(ΔW_Q) / srank(ΔW_K))`` (meaningful after step 1).
    """
    from .train import build, optimizer_step

    config = reference_config(parameterization, r, width, n_head, depth, lr, batch_size,
                              context_length, seed)
    model, optimizer, corpus = build(config)
    head_dim = width // n_head
    predicted = predicted_ratio(model.parameterization.kv_factor, r)
    names = ("query", "key", "value")
    initial = {(i, name): getattr(block.attn, name).weight.detach().double().clone()
               for i, block in enumerate(model.blocks) for name in names}
    batches = torch.Generator().manual_seed(seed)
    records = []
    for step in range(1, max(checkpoints) + 1):
        x, y = corpus.get_batch("train", batch_size, context_length, batches)
        _, loss = model(x, y)
        optimizer_step(model, optimizer, loss, grad_clip=1.0)
        if step not in checkpoints:
            continue
        for i, block in enumerate(model.blocks):
            relative, srank = {}, {}
            for name in names:
                w0 = initial[i, name]
                delta = getattr(block.attn, name).weight.detach().double() - w0
                srank[name] = stable_rank(delta)
                if name != "query":  # the operator attention applies: r-fold repetition
                    w0, delta = repeat_kv_rows(w0, r, head_dim), repeat_kv_rows(delta, r, head_dim)
                relative[name] = relative_update(w0, delta)
            for kind in ("key", "value"):
                records.append({
                    "parameterization": parameterization, "r": r, "seed": seed, "step": step,
                    "block": i, "kind": kind, "ratio": relative[kind] / relative["query"],
                    "predicted": predicted,
                    "adjusted": predicted * math.sqrt(srank["query"] / srank[kind]),
                    "stable_rank": srank[kind],
                    "stable_rank_query": srank["query"], "loss": loss.item(),
                })
    return records


def normalized_ratios(records: list[dict]) -> dict[tuple[str, int, int], float]:
    """``(parameterization, step, r) -> ratio(r) / ratio(1)``, geometric mean over the rest.

    Even at ``r = 1`` a real network's keys and values do not move by exactly ``W_Q``'s relative
    amount (the spectral condition fixes scalings, not constants); dividing each ratio by the same
    layer's ratio at ``r = 1`` (same parameterization, step, seed, block, keys or values) keeps
    only what the repetition changes, which is what the prediction is about.
    """
    base = {(rec["parameterization"], rec["step"], rec["seed"], rec["block"], rec["kind"]): rec["ratio"]
            for rec in records if rec["r"] == 1}
    if not base:
        raise ValueError("normalized_ratios needs the r = 1 runs as reference")
    logs: dict[tuple[str, int, int], list[float]] = {}
    for rec in records:
        key = (rec["parameterization"], rec["step"], rec["seed"], rec["block"], rec["kind"])
        logs.setdefault((rec["parameterization"], rec["step"], rec["r"]), []).append(
            math.log(rec["ratio"] / base[key]))
    return {key: math.exp(sum(v) / len(v)) for key, v in sorted(logs.items())}


# ----------------------------------------------------------------------------- the widget's view


def kv_view(n: int, kv_heads: int, n_head: int = 16, seed: int = 0):
    """The widget's view for width ``n`` and ``H_kv`` key/value heads (``H = n_head``).

    The sorted singular values of ``W_K``, of ``K⊕`` and of a dense ``n × n`` matrix (entries
    ``N(0, 1/n)``), and a table of the three norms and of the relative update over ``W_Q``'s under
    ``mup`` and ``gqa-mup`` (a rank-one Adam step, :func:`rank_one_update_ratios`); the figure has alt text.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .plots import PARAM_COLORS, book_style
    from .widgets import figure_widget

    r = n_head // kv_heads
    _check_divides(n, n_head, [r])
    std = 1 / math.sqrt(n)
    generator = torch.Generator().manual_seed(seed)
    dense = gaussian(n, n, std, generator)
    w_k = gaussian(n // r, n, std, generator)
    k_rep = repeat_kv_rows(w_k, r, n // n_head)
    spectra = {name: torch.linalg.svdvals(a) for name, a in
               (("dense", dense), ("W_K", w_k), ("K⊕", k_rep))}
    with plt.rc_context(book_style()):
        fig, ax = plt.subplots(figsize=(3.9, 2.6))
        for name, color, label in (("dense", PARAM_COLORS["dense"], f"dense {n}×{n}"),
                                   ("W_K", "C4", f"$W_K$ {n // r}×{n}"),
                                   ("K⊕", "C0", rf"$K_\oplus$ {n}×{n}, rank {n // r}")):
            s = spectra[name]
            ax.plot((torch.arange(len(s)) + 0.5) / n, s, color=color, lw=1.5, label=label)
        ax.axhline(1 + math.sqrt(r), color="C0", ls="--", lw=0.8)
        ax.axhline(2, color=PARAM_COLORS["dense"], ls="--", lw=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1 + math.sqrt(n_head) + 0.3)
        ax.set_xlabel("index $i / n$")
        ax.set_ylabel("singular value $s_i$")
        ax.set_title(f"$n = {n},\\ H = {n_head},\\ H_{{kv}} = {kv_heads},\\ r = {r}$")
        ax.legend(fontsize=8, loc="upper right")
    mup, gqa = rank_one_update_ratios(n, n_head, r, ("none", "gqa"), seed=seed)
    cells = [
        ("‖K⊕‖₂ (prediction 1+√r)", f"{spectral_norm(k_rep):.2f}", f"{1 + math.sqrt(r):.2f}"),
        ("‖dense‖₂ (prediction 2)", f"{spectral_norm(dense):.2f}", "2.00"),
        ("corrected ‖K⊕‖₂ / c(r)", f"{corrected_spectral_norm(w_k, r):.2f}", "2.00"),
        ("typical gain K⊕ vs dense", f"{typical_gain(k_rep):.2f} vs {typical_gain(dense):.2f}", "1.00"),
        ("relative update K⊕ / W<sub>Q</sub>, μP", f"{mup['ratio']:.2f}", f"{mup['predicted']:.2f}"),
        ("relative update K⊕ / W<sub>Q</sub>, GQA-μP", f"{gqa['ratio']:.2f}", f"{gqa['predicted']:.2f}"),
    ]
    rows = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in cells)
    table = ("<table style='font-size:85%'><tr><th></th><th>measured</th><th>predicted</th></tr>"
             f"{rows}</table>")
    alt = (f"Sorted singular values against index over n for width {n}, {n_head} query heads and {kv_heads} "
           f"key/value heads (r = {r}): a dense {n} x {n} Gaussian matrix, the key projection W_K and the repeated "
           f"operator K-plus, whose top singular values reach the dashed line 1 + sqrt(r) while the dense "
           "matrix's reach 2, and whose spectrum ends at rank n/r.")
    return widgets.HBox([figure_widget(fig, alt=alt), widgets.HTML(table)])
